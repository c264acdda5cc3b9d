"""The lifecycle timeline: per execution environment, INIT, each INVOKE and SHUTDOWN in time.

Made to show Lambda's lifecycle to someone who has never seen it: one row per environment
(newest first) on a shared time axis, a legend that names every mark, and a line per row that
says it in words. The drawing functions are shared with the record screen.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from ..lifecycle import EnvironmentLife, Lifecycle, Segment

LABEL_WIDTH = 24  # function:version and the environment's short id
SUMMARY_WIDTH = 34
MIN_SPAN_S = 1.0
MAX_SPAN_S = 600.0  # older history is clipped at the left edge
TICK_S = 1.0  # while environments live, idle gaps grow: redraw this often (when visible)

INVOKE_STYLES = {
    "success": "$success",
    "error": "$error",
    "timeout": "$warning",
    "crash": "bold $error",
    None: "bold $primary",  # still running
}
SEVERITY = {None: 1, "success": 2, "timeout": 3, "error": 4, "crash": 5}
INIT_GLYPHS = {
    "extension_init": ("░", "$secondary"),
    "runtime_init": ("▒", "$secondary"),
    "function_init": ("▓", "$secondary"),
    "init": ("▓", "$secondary"),
    "init_error": ("▓", "$error"),
}
IDLE = ("─", "dim")
MARKS = ("◆", "●")  # where an invoke starts: cold, warm
POST = "┄"  # an invoke's post-invocation time: the runtime answered, extensions still run
SHUTDOWN_STYLE = "bold $error"
QUIET_SHUTDOWN_STYLE = "bold $foreground"  # idle, reload, exit: nothing went wrong


def fmt_ms(ms: float) -> str:
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return fmt_s(ms / 1000)


def exact_ms(ms: float) -> str:
    """As Lambda's REPORT line prints durations: two decimals."""
    return f"{ms:.2f} ms"


def fmt_s(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def shutdown_style(reason: str | None) -> str:
    return SHUTDOWN_STYLE if reason in ("timeout", "crash", "error") else QUIET_SHUTDOWN_STYLE


def strip(
    env: EnvironmentLife,
    t0: float,
    t1: float,
    width: int,
    now: float,
    highlight: str | None = None,
) -> Content:
    """The environment's life drawn across ``width`` cells for the time span ``t0``..``t1``.

    Every phase gets at least one cell, in order, so a 100 ms INIT is still seen next to
    minutes of idle time. ``highlight`` (a request id) is drawn reversed.
    """
    width = max(width, 4)
    scale = (width - 1) / max(t1 - t0, 1e-9)
    glyphs = [" "] * width
    styles = [""] * width
    severity = [0] * width

    def col(t: float) -> int:
        return min(width - 1, max(0, int((t - t0) * scale)))

    segments = [s for s in env.segments(now) if s.end >= t0 or s.kind == "shutdown"]
    for s in segments:
        if s.kind == "idle":
            for c in range(col(s.start), col(s.end) + 1):
                glyphs[c], styles[c] = IDLE
    last = -1  # the last cell a phase or an invoke took
    init_last = -1  # the last cell INIT took: invokes come after it
    for s in segments:
        if s.kind in INIT_GLYPHS:
            a = min(max(col(s.start), last + 1), width - 1)
            b = max(a, col(s.end))
            for c in range(a, b + 1):
                glyphs[c], styles[c] = INIT_GLYPHS[s.kind]
            last = init_last = b
        elif s.kind == "invoke" and s.invoke is not None:
            inv = s.invoke
            rank = SEVERITY.get(inv.status, 2)
            a = min(max(col(s.start), init_last + 1), width - 1)
            if glyphs[a] in MARKS and a + 1 < width and glyphs[a + 1] in (" ", IDLE[0]):
                a += 1  # two invokes in one cell: show the second beside the first
            b = max(a, col(s.end))
            post = b + 1  # the first cell of its post-invocation time (none: past the end)
            if inv.extensions_ms and inv.duration_ms is not None:
                post = max(a + 1, col(s.end - inv.extensions_ms / 1000))
            style = INVOKE_STYLES.get(inv.status, "$success")
            if inv.request_id == highlight:
                style += " reverse"
                rank = 99
            for c in range(a, b + 1):
                if rank > severity[c] or glyphs[c] in (" ", IDLE[0]):  # ties: the first stays
                    mark = ("◆" if inv.cold else "●") if c == a else "━" if c < post else POST
                    glyphs[c], styles[c], severity[c] = mark, style, max(rank, severity[c])
            last = max(last, b)
        elif s.kind == "shutdown":
            c = min(max(col(s.start), last + 1), width - 1)
            glyphs[c], styles[c] = "✕", shutdown_style(s.label)
            last = c
    if env.start is not None and env.start < t0:
        glyphs[0], styles[0] = "◂", "dim"
    return Content.assemble(*zip(glyphs, styles, strict=True))


def summary(env: EnvironmentLife) -> Content:
    """What the row shows, in words: INIT, how many invokes, how it is now."""
    parts: list[tuple[str, str] | str] = []
    init = "INIT retry" if env.init_phase == "invoke" else "INIT"  # Lambda's Phase: invoke
    if env.init_error is not None:
        parts.append((f"{init} failed: {env.init_error}", "$error"))
    elif env.state == "initializing":
        parts.append((f"{init}…", "bold $secondary"))
    elif env.init_duration_ms is not None:
        parts.append((f"{init} {fmt_ms(env.init_duration_ms)}", "$secondary"))
    if env.invoke_count and env.init_error is None:
        if parts:
            parts.append(" · ")
        n = env.invoke_count
        parts.append(f"{n} invoke{'s' if n != 1 else ''}")
    parts.append(" · " if parts else "")
    state = env.state
    if state == "dead":
        parts.append(
            (f"✕ {env.shutdown_reason or 'shut down'}", shutdown_style(env.shutdown_reason))
        )
    elif state == "busy":
        parts.append(("busy", "bold $primary"))
    elif state == "idle":
        parts.append(("warm", "$success"))
    else:
        parts.append(("starting", "$secondary"))
    return Content.assemble(*parts)


def label(env: EnvironmentLife) -> Content:
    name = f"{env.function}:{env.version}"
    room = LABEL_WIDTH - 8
    if len(name) > room - 1:
        name = name[: room - 2] + "…"
    return Content.assemble((name.ljust(room), "bold"), (env.short_id[:6], "dim"), "  ")


def axis(t0: float, t1: float, width: int, live: bool) -> Content:
    """Tick labels: seconds before the right edge ("now" while environments live)."""
    width = max(width, 4)
    chars = [" "] * width
    end_label = "now" if live else time.strftime("%H:%M:%S", time.localtime(t1))
    ticks = 4 if width >= 40 else 2
    starts = [int(i * (width - 1) / ticks) for i in range(ticks)]
    limit = width - len(end_label) - 2  # the end label's room
    for i, c in enumerate(starts):
        text = "┬-" + fmt_s(t1 - (t0 + (t1 - t0) * i / ticks))
        room = min(limit, starts[i + 1] - 1 if i + 1 < ticks else limit) - c
        if len(text) > room:  # a label is whole or not there: its tick alone
            text = "┬" if room >= 1 else ""
        for j, ch in enumerate(text):
            chars[c + j] = ch
    tail = end_label + "┬"
    for j, ch in enumerate(tail):
        chars[width - len(tail) + j] = ch
    return Content("".join(chars))


LEGEND_ITEMS = (
    Content.assemble(
        ("INIT ", "bold"),
        ("▒", "$secondary"),
        " runtime starts ",
        ("▓", "$secondary"),
        " your code loads = Init Duration",
    ),
    Content.assemble(
        ("INVOKE ", "bold"),
        ("◆", "$success"),
        " cold (right after INIT) ",
        ("●", "$success"),
        " warm (reused) ",
        ("━", "$success"),
        " running",
    ),
    Content.assemble(
        ("●", "$success"),
        " ok ",
        ("●", "$error"),
        " error ",
        ("●", "$warning"),
        " timeout",
    ),
    Content.assemble(("─", "dim"), " idle: kept warm, frozen between calls"),
    Content.assemble(
        ("SHUTDOWN ", "bold"),
        ("✕", SHUTDOWN_STYLE),
        " + reason: idle (keep-alive over), reload (code changed), removed (function deleted), "
        "timeout, crash",
    ),
)


EXTENSIONS_ITEM = Content.assemble(
    ("EXTENSIONS ", "bold"),
    ("░", "$secondary"),
    " start before the runtime ",
    (POST, "$success"),
    " run after the response (in Duration)",
)


def legend(width: int, extensions: bool = False) -> Content:
    """The legend's items, flowed into as few lines of ``width`` as they fit; the extensions'
    marks only when an environment shown has extensions."""
    lines: list[Content] = []
    line = Content("")
    items = (*LEGEND_ITEMS[:2], EXTENSIONS_ITEM, *LEGEND_ITEMS[2:]) if extensions else LEGEND_ITEMS
    for item in items:
        if line.cell_length and line.cell_length + 3 + item.cell_length > width:
            lines.append(line)
            line = Content("")
        line = line + "   " + item if line.cell_length else item
    lines.append(line)
    return Content("\n").join(lines)


EMPTY = Content.assemble(
    ("No execution environments yet.", "bold"),
    " Invoke a function (ctrl+r): a cold start creates an environment, which runs INIT"
    " (start the runtime, load your code) and then the INVOKE. Invoke again and the same"
    " environment serves it warm, without INIT. Each environment is one row here.",
)


def span(envs: list[EnvironmentLife], now: float) -> tuple[float, float, bool]:
    """The shared time axis: from the oldest shown start to now (or the last event)."""
    live = any(e.alive for e in envs)
    t1 = now if live else max(e.end(now) for e in envs)
    starts = [s for s in (e.start for e in envs) if s is not None]
    t0 = min(starts) if starts else t1 - MIN_SPAN_S
    t0 = max(t0, t1 - MAX_SPAN_S)
    if t1 - t0 < MIN_SPAN_S:
        t1 = t0 + MIN_SPAN_S if not live else t1
        t0 = t1 - MIN_SPAN_S
    pad = (t1 - t0) * 0.02  # room for the last mark
    return t0, t1 + pad, live


class LifecycleTimeline(Vertical):
    """Feed it engine events with ``take``; it redraws at most once per batch, when visible."""

    DEFAULT_CSS = """
    LifecycleTimeline { height: 1fr; }
    LifecycleTimeline #lifecycle-legend { height: auto; padding: 0 1; color: $text-muted; }
    LifecycleTimeline #lifecycle-axis { height: 1; padding: 0 1; color: $text-muted; }
    LifecycleTimeline #lifecycle-scroll { height: 1fr; }
    LifecycleTimeline #lifecycle-rows { padding: 0 1; text-wrap: nowrap; }
    LifecycleTimeline #lifecycle-rows.-empty { text-wrap: wrap; }
    """

    def __init__(self, lifecycle: Lifecycle | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model = lifecycle or Lifecycle()
        self._drawn = -1  # the model's change count last drawn

    def compose(self) -> ComposeResult:
        yield Static(legend(200), id="lifecycle-legend")
        yield Static(id="lifecycle-axis")
        with VerticalScroll(id="lifecycle-scroll"):
            yield Static(EMPTY, id="lifecycle-rows", classes="-empty")

    def on_mount(self) -> None:
        self.set_interval(TICK_S, self._tick)

    def take(self, events: Sequence[object]) -> None:
        """A batch of engine events (the app calls this on its batch timer)."""
        if self.model.take(events) and self.is_on_screen:
            self.redraw()

    def _tick(self) -> None:
        if self.is_on_screen and any(e.alive for e in self.model.newest()):
            self.redraw()

    def _on_show(self, _: events.Show) -> None:
        self.redraw()

    def on_resize(self, _: events.Resize) -> None:
        self.redraw()

    def redraw(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._drawn = self.model.changes
        envs = self.model.newest()
        rows = self.query_one("#lifecycle-rows", Static)
        axis_line = self.query_one("#lifecycle-axis", Static)
        rows.set_class(not envs, "-empty")
        if not envs:
            rows.update(EMPTY)
            axis_line.update("")
            return
        inner = self.query_one("#lifecycle-scroll").scrollable_content_region.width - 2
        extensions = any(e.extension_init_ms is not None for e in envs) or any(
            i.extensions_ms is not None for e in envs for i in e.invokes
        )
        self.query_one("#lifecycle-legend", Static).update(legend(max(20, inner), extensions))
        width = max(10, inner - LABEL_WIDTH - SUMMARY_WIDTH - 1)
        t0, t1, live = span(envs, now)
        head = Content.assemble(
            ("environment".ljust(LABEL_WIDTH), "bold"), axis(t0, t1, width, live)
        )
        axis_line.update(head)
        lines = [
            Content.assemble(
                label(e),
                strip(e, t0, t1, width, now),
                " ",
                summary(e).truncate(SUMMARY_WIDTH, ellipsis=True),
            )
            for e in envs
        ]
        rows.update(Content("\n").join(lines))


def phase_list(env: EnvironmentLife, now: float, highlight: str | None = None) -> Content:
    """The environment's life in words, one line per phase (the record screen shows it)."""

    def clock(t: float) -> str:
        return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"

    lines: list[Content] = []
    segments: list[Segment] = env.segments(now)
    if env.rebuilt:
        note = "(rebuilt from the stored records: INIT phases and idle shutdowns are not stored)"
        lines.append(Content.styled(note, "dim"))
    if env.start is not None and env.init_duration_ms is None and env.init_start is None:
        lines.append(Content.styled("(INIT not seen: the environment was already warm)", "dim"))
    for s in segments:
        when = clock(s.start)
        if s.kind == "extension_init":
            took = exact_ms(s.duration_ms)
            text = f"{when}  INIT  extension init {took}  (extensions start → all registered)"
            lines.append(Content.styled(text, "$secondary"))
        elif s.kind == "runtime_init":
            took = exact_ms(s.duration_ms)
            text = f"{when}  INIT  runtime init   {took}  (process start → Runtime API)"
            lines.append(Content.styled(text, "$secondary"))
        elif s.kind in ("function_init", "init"):
            what = "function init  " if s.kind == "function_init" else "Init Duration  "
            extra = "  (running)" if s.label == "running" else ""
            lines.append(
                Content.styled(
                    f"{when}  INIT  {what}{exact_ms(s.duration_ms)}{extra}", "$secondary"
                )
            )
        elif s.kind == "init_error":
            lines.append(
                Content.styled(
                    f"{when}  INIT  failed: {s.label} after {exact_ms(s.duration_ms)}", "$error"
                )
            )
        elif s.kind == "invoke" and s.invoke is not None:
            inv = s.invoke
            status = inv.status or "running"
            kind = "cold" if inv.cold else "warm"
            dur = exact_ms(inv.duration_ms) if inv.duration_ms is not None else "…"
            text = f"{when}  INVOKE {inv.request_id}  {status}  {dur}  {kind}"
            if inv.error_type:
                text += f"  {inv.error_type}"
            if inv.extensions_ms is not None:
                text += f"  (extensions {exact_ms(inv.extensions_ms)} after the response)"
            style = INVOKE_STYLES.get(inv.status, "$success")
            if inv.request_id == highlight:
                lines.append(Content.assemble((text, f"bold {style}"), ("  ◀ this record", "bold")))
            else:
                lines.append(Content.styled(text, style))
        elif s.kind == "idle" and s.duration_ms >= 1:
            lines.append(Content.styled(f"{when}  idle  {fmt_ms(s.duration_ms)}", "dim"))
        elif s.kind == "shutdown":
            lines.append(
                Content.styled(
                    f"{when}  SHUTDOWN  reason: {s.label or 'unknown'}", shutdown_style(s.label)
                )
            )
    if env.init_duration_ms is not None and env.init_error is None:
        lines.append(Content.styled(f"Init Duration {exact_ms(env.init_duration_ms)}", "bold"))
    if env.invoke_count > len(env.invokes):
        lines.append(
            Content.styled(
                f"(showing the last {len(env.invokes)} of {env.invoke_count} invokes)", "dim"
            )
        )
    return Content("\n").join(lines)
