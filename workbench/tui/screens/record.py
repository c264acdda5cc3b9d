"""One invocation record in full: what ran, the event, the response, the log, the lifecycle.

The record comes from the log's rows or, failing that, from the engine's store (in a thread);
the environment's lifecycle from the live model or, once its events are gone, rebuilt from the
stored records of that environment.

``r`` asks for a replay by dismissing with a ``Replay``: whoever opened the screen runs it (a
record opened from another record hands it on), so the screen needs no way to invoke.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from ...engine import Engine, InvocationRecord
from ...engine.model import (
    AsyncEventChanged,
    extensions_text,
    init_retry_text,
    paused_text,
    start_wait_text,
)
from .. import log_lines
from ..breakpoints import classes_for_size
from ..content_fields import ContentFieldStatic
from ..copy_keys import COPY_BINDINGS, CopyActions, CopyWhat, copy_part
from ..fields import FIELD_SPACE, together
from ..function_logs import log_view
from ..lifecycle import EnvironmentLife, Lifecycle, from_records
from ..log_lines import FILTER_STEPS, Level
from ..widgets.key_bar import KeyBar
from ..widgets.timeline import INVOKE_STYLES, exact_ms, phase_list, strip
from ..zoom import ZOOM_BINDING

if TYPE_CHECKING:
    from ...engine.storage import AsyncEvent

# the parts ctrl+g shows full screen
ZOOMABLE = ("record-payloads", "record-log-box", "record-life-box")
ENV_HISTORY = 5_000  # stored records of the function searched for the environment's others


def clock(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def header(r: InvocationRecord, queued: AsyncEvent | None = None) -> Content:
    """The record's facts, a few per line; an Event invocation's attempt, dwell and queue row.

    A fact's words are ``together``: at 80 columns a line wraps between facts
    (``ContentFieldStatic``), never as "Max Memory 48/512" / "MB".
    """
    status_style = f"bold {INVOKE_STYLES.get(r.status, '')}"
    init = exact_ms(r.init_duration_ms) if r.init_duration_ms is not None else "—"
    lines = [
        Content.assemble(
            (together(f"{r.function}:{r.version}"), "bold"),
            "  ",
            (r.status, status_style),
            *(("  ", (r.error_type, "$error")) if r.error_type else ()),
            "  ",
            (
                together("cold", "start") if r.cold else "warm",
                "bold $secondary" if r.cold else "$success",
            ),
        ),
        Content.assemble(("Request id  ", "dim"), r.request_id),
        Content("   ").join(
            [
                fact("Duration", f"{r.duration_ms:.2f} ms"),
                fact("Billed", f"{r.billed_ms} ms"),
                fact("Init Duration", init),
                fact("Max Memory", f"{r.max_memory_mb}/{r.memory_size} MB"),
                fact("Cost", f"${r.cost:.10f}"),
            ]
        ),
        Content("   ").join(
            [
                fact("Started", clock(r.started_at)),
                fact("Type", r.invocation_type),
                fact("Trigger", r.trigger or "—"),
                fact("Environment", r.env_id or "—"),
            ]
        ),
    ]
    if r.start_wait_ms:
        lines.append(Content.styled(start_wait_text(r.start_wait_ms), "$warning"))
    if r.init_retry_ms is not None:
        lines.append(Content.styled(init_retry_text(r.init_retry_ms), "$warning"))
    if r.extensions_ms is not None:
        lines.append(Content.styled(extensions_text(r.extensions_ms), "$secondary"))
    if r.paused_ms:
        lines.append(Content.styled(paused_text(r.paused_ms), "$warning"))
    if r.replay_of:
        lines.append(replay_line(r.replay_of))
    if r.invocation_type == "Event":
        lines.append(attempt_line(r))
    if queued is not None:
        lines.append(queue_line(queued))
    return Content("\n").join(lines)


def fact(name: str, value: object, style: str = "") -> Content:
    """One of the header's facts, ``name value``, its words kept together (``together``)."""
    return Content.assemble(
        (together(*name.split()), "dim"), FIELD_SPACE, (together(*str(value).split()), style)
    )


def replay_line(original: str) -> Content:
    """A replay names the invocation it ran again; a click (or o) opens that record."""
    return Content.from_markup(
        "[dim]Replay of[/dim]  [@click=screen.open_original]$original[/]  [dim](o: open it)[/dim]",
        original=original,
    ).stylize("underline", 11, 11 + len(original))


def attempt_line(r: InvocationRecord) -> Content:
    """Which of Lambda's (up to) three attempts this was, and how long it waited to start."""
    dwell = exact_ms(r.dwell_ms) if r.dwell_ms is not None else "—"
    return Content.assemble(
        fact("Attempt", r.attempt, "bold $warning" if r.attempt > 1 else ""),
        "   ",
        fact("Dwell", dwell),
        FIELD_SPACE,
        (together("(queued", "→", "started)"), "dim"),
    )


QUEUE_STYLES = {"succeeded": "$success", "failed": "$error", "expired": "$error"}


def queue_line(e: AsyncEvent) -> Content:
    """The event as the async queue keeps it: status, attempts, when next due, where it went."""
    facts = [
        fact("Event queue", e.status, f"bold {QUEUE_STYLES.get(e.status, '$warning')}"),
        fact("Attempts", e.attempts),
    ]
    if e.status == "queued":
        facts.append(fact("Next attempt due", clock(e.due_at)))
    if e.condition:
        facts.append(fact("Condition", e.condition))
    if e.destination:
        facts.append(fact("Destination", e.destination, "bold"))
    elif e.finished_at is not None:
        facts.append(fact("Destination", "none", "dim"))
    if e.last_error and e.status != "succeeded":  # prose: wraps as words
        facts.append(
            Content.assemble((together("Last", "error"), "dim"), " ", (e.last_error, "$error"))
        )
    return Content("   ").join(facts)


def pretty_json(text: str, what: str) -> Content:
    """Indented, highlighted JSON; text that does not parse (a cut excerpt) as it is."""
    if not text:
        return Content.styled(f"(no {what})", "dim")
    try:
        value = json.loads(text)
    except ValueError:
        note = Content.styled(
            f"\n(not JSON, or cut at the stored excerpt's {len(text)} chars)", "dim"
        )
        return Content(text) + note
    from textual.highlight import highlight  # Pygments: ~50 ms, not on the TUI's start

    return highlight(json.dumps(value, indent=2, ensure_ascii=False), language="json")


def response_view(r: InvocationRecord) -> Content:
    """A failure as Lambda reports it (type, message, stack trace); a success as JSON."""
    if r.status != "success":
        try:
            value = json.loads(r.response)
        except ValueError:
            value = None
        if isinstance(value, dict) and "errorType" in value:
            parts = [
                Content.assemble(
                    (str(value.get("errorType")), "bold $error"),
                    ": ",
                    str(value.get("errorMessage", "")),
                )
            ]
            trace = value.get("stackTrace") or []
            if trace:
                parts.append(Content.styled("Stack trace:", "bold"))
            for frame in trace:
                for line in str(frame).rstrip("\n").split("\n"):
                    parts.append(Content.styled(line, "dim"))
            return Content("\n").join(parts)
    return pretty_json(r.response, "response")


@dataclass(frozen=True)
class Replay:
    """What ``r`` on a record screen asks for: run this invocation again."""

    request_id: str
    record: InvocationRecord | None = None


class RecordScreen(CopyActions, Screen[Replay | None]):
    """The full record of one invocation; escape goes back."""

    DEFAULT_CSS = """
    RecordScreen { layout: vertical; }
    RecordScreen #record-header {
        height: auto; padding: 0 1; border: round $primary 50%; border-title-color: $primary;
    }
    RecordScreen #record-main { height: 1fr; }
    RecordScreen #record-payloads, RecordScreen #record-log-box, RecordScreen #record-life-box {
        border: round $primary 50%; padding: 0 1; border-title-color: $primary;
    }
    RecordScreen #record-payloads { width: 1fr; }
    RecordScreen #record-log-box { width: 1fr; }
    RecordScreen VerticalScroll:focus-within { border: round $accent; }
    RecordScreen #record-life-box { height: 12; }
    RecordScreen .section { text-style: bold; color: $primary; }
    RecordScreen #record-response-title { margin-top: 1; }
    /* Under 100 columns the event and the log are stacked, each the full width (a log line
       wraps less), the one with the focus the taller; under 30 rows the header loses its
       border and the lifecycle shows its strip and first phase until it has the focus. Each
       part scrolls; ctrl+g shows the focused one full screen. */
    RecordScreen.-narrow #record-main { layout: vertical; }
    RecordScreen.-narrow #record-payloads, RecordScreen.-narrow #record-log-box {
        height: 1fr; min-height: 5;
    }
    RecordScreen.-narrow #record-main > VerticalScroll:focus-within { height: 2fr; }
    RecordScreen.-short #record-header {
        border: none; max-height: 6; overflow-y: auto; background: $boost;
    }
    RecordScreen.-short #record-life-box { height: 4; }
    RecordScreen.-short #record-life-box:focus-within { height: 1fr; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    # the app's own escape (cancel, a priority binding) hides this one from the footer: q shows
    BINDINGS = [
        ZOOM_BINDING,
        Binding("escape", "close", "Back", id="record-close", tooltip="Back to the workbench"),
        Binding("q", "close", "Back", id="record-back", tooltip="Back to the workbench"),
        Binding(
            "r",
            "replay",
            "Replay",
            id="record-replay",
            tooltip="Run this invocation again (same event, qualifier, client context)",
        ),
        *COPY_BINDINGS,  # c, i, l: as in the response pane
        Binding(
            "L",
            "log_level",
            "Log level",
            id="record-log-level",
            tooltip="Show only log lines at this level or above (cycles: all, DEBUG … ERROR)",
            show=False,  # named in the log box's subtitle when the log holds JSON lines
        ),
        Binding(
            "o",
            "open_original",
            "Open original",
            id="record-original",
            tooltip="Open the record of the invocation this one replayed",
        ),
    ]

    def __init__(
        self,
        request_id: str,
        record: InvocationRecord | None = None,
        *,
        engine: Engine | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        super().__init__()
        self.request_id = request_id
        self.record = record
        self.engine = engine
        self.lifecycle = lifecycle
        self.environment: EnvironmentLife | None = None
        self.queued: AsyncEvent | None = None  # its row in the async queue (Event invocations)
        self.log_level: Level | None = None  # the log's level filter (None: every line)

    def compose(self) -> ComposeResult:
        classes_for_size(self)  # (before any widget here is styled: breakpoints.py)
        header_box = ContentFieldStatic("Loading the record…", id="record-header")
        header_box.border_title = f"Invocation {self.request_id}"
        header_box.border_subtitle = "esc / q: back"
        yield header_box
        with Horizontal(id="record-main"):
            with VerticalScroll(id="record-payloads") as payloads:
                payloads.border_title = "Event and response"
                yield Static("Event", classes="section")
                yield Static(id="record-event")
                yield Static("Response", classes="section", id="record-response-title")
                yield Static(id="record-response")
            with VerticalScroll(id="record-log-box") as log_box:
                log_box.border_title = "Log"
                yield Static(id="record-log")
        with VerticalScroll(id="record-life-box") as life:
            life.border_title = "Lifecycle of its execution environment"
            yield Static(id="record-strip")
            yield Static(id="record-lifecycle")
        yield KeyBar(lead=())  # its own keys first: ^r invokes on the workbench

    def on_mount(self) -> None:
        if self.record is not None:
            self.show(self.record)
        self.run_worker(self._load(), group="record", exit_on_error=False)

    async def _load(self) -> None:
        """The record (if the log had no copy) and its environment's life, from the store."""
        store = self.engine.store if self.engine is not None else None
        record = self.record
        if record is None and store is not None:
            record = await asyncio.to_thread(store.get, self.request_id)
            if record is None:
                self.query_one("#record-header", Static).update(
                    Content.styled(f"No record with request id {self.request_id}.", "$error")
                )
                return
            self.show(record)
        if record is not None:
            self.show_queued()
        if record is None or not record.env_id:
            self.show_lifecycle(None)
            return
        env = self.lifecycle.environment(record.env_id) if self.lifecycle else None
        if env is None and store is not None:
            history = await asyncio.to_thread(store.recent, record.function, ENV_HISTORY)
            env = from_records(record.env_id, [*history, record])
        self.show_lifecycle(env)

    def show_queued(self) -> None:
        """An Event invocation's row in the async queue: status, retries, destination.

        One indexed read on the loop (the queue's connection lives there); it is kept for
        history, so a row is there for any Event invocation this state dir accepted recently.
        """
        r = self.record
        if r is None or r.invocation_type != "Event" or self.engine is None:
            return
        if self.engine.async_queue is None:  # not started (or closed)
            return
        self.queued = self.engine.async_event(r.request_id)
        self.query_one("#record-header", Static).update(header(r, self.queued))

    def take(self, events: Sequence[object]) -> None:
        """The app's engine batch: re-read the queue row when this event moved on."""
        if self.record is None or self.record.invocation_type != "Event":
            return
        rid = self.record.request_id
        if any(isinstance(e, AsyncEventChanged) and e.request_id == rid for e in events):
            self.show_queued()

    def show(self, r: InvocationRecord) -> None:
        self.record = r
        self.refresh_bindings()  # "Open original" once the record says it is a replay
        self.query_one("#record-header", Static).update(header(r, self.queued))
        self.query_one("#record-event", Static).update(pretty_json(r.request, "event"))
        self.query_one("#record-response", Static).update(response_view(r))
        self.show_log()

    def show_log(self) -> None:
        lines = self.record.log_lines if self.record is not None else []
        self.query_one("#record-log", Static).update(log_view(lines, self.log_level))
        box = self.query_one("#record-log-box", VerticalScroll)
        if self.log_level is not None:
            box.border_subtitle = f"L: level ≥ {self.log_level}"
        elif log_lines.has_json([log_lines.parse(x) for x in lines]):
            box.border_subtitle = "L: filter by level"
        else:
            box.border_subtitle = ""

    def action_log_level(self) -> None:
        steps = FILTER_STEPS
        self.log_level = steps[(steps.index(self.log_level) + 1) % len(steps)]
        self.show_log()

    def show_lifecycle(self, env: EnvironmentLife | None) -> None:
        self.environment = env
        strip_box = self.query_one("#record-strip", Static)
        body = self.query_one("#record-lifecycle", Static)
        if env is None:
            strip_box.update("")
            body.update(Content.styled("No lifecycle is known for this environment.", "dim"))
            return
        now = time.time()
        t0 = env.start if env.start is not None else now
        t1 = max(env.end(now), t0 + 0.001)  # now, while it lives
        pad = (t1 - t0) * 0.02
        width = max(20, self.size.width - 8)
        rid = self.record.request_id if self.record else None
        strip_box.update(strip(env, t0, t1 + pad, width, now, highlight=rid))
        body.update(phase_list(env, now, highlight=rid))

    def action_zoom(self) -> None:
        """ctrl+g: the focused part (event and response, log, lifecycle) full screen, or back."""
        if self.maximized is not None:
            self.minimize()
            return
        part = self.focused
        while part is not None and part.id not in ZOOMABLE:
            part = part.parent if isinstance(part.parent, Widget) else None
        if part is None:
            self.notify("Focus a part (tab) to zoom it.", severity="warning")
            return
        self.maximized = part  # a container: Screen.maximize() would refuse it

    def action_close(self) -> None:
        self.dismiss()

    def copy(self, what: CopyWhat) -> None:
        """As the response pane's keys do; the response as the store keeps it (its excerpt)."""
        nothing = f"the record of {self.request_id} is not loaded (or there is none)"
        copy_part(self, self.record, what, nothing=nothing)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_original":  # only a replay has an original
            return self.record is not None and self.record.replay_of is not None
        return True

    def action_replay(self) -> None:
        """Back to the workbench, where the response pane shows the replay."""
        self.dismiss(Replay(self.request_id, self.record))

    def action_open_original(self) -> None:
        original = self.record.replay_of if self.record is not None else None
        if original is not None:
            self.app.push_screen(
                RecordScreen(original, engine=self.engine, lifecycle=self.lifecycle),
                self._hand_on,
            )

    def _hand_on(self, replay: Replay | None) -> None:
        """A replay asked for on the original's screen leaves this one too, on its way back."""
        if replay is not None and self.is_active:
            self.dismiss(replay)
