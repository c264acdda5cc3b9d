"""The concurrency gauge: invocations in flight against the limits, throttles, environments.

It is fed only engine events (``take``), in the bridge's batches. Between two batches many short
invocations can start and end, so the history records the *peak* in flight seen in each sample
period rather than whatever the count happened to be when the timer fired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Digits, ProgressBar, Sparkline, Static

from ...engine import ConcurrencyChanged, FunctionReloaded, Throttled

SAMPLE_INTERVAL_S = 0.25
HISTORY = 120  # samples: 30 s of history
MAX_BLOCKS = 12  # environment blocks drawn per function before "+N"
BAR_WIDTH = 10


@dataclass
class FunctionGauge:
    """What the gauge knows about one function, from its latest events."""

    in_flight: int = 0
    busy: int = 0
    idle: int = 0
    provisioned: int = 0  # of its environments, those kept initialised ahead of calls
    provisioned_busy: int = 0
    reserved: int | None = None
    throttles: int = 0
    last_reason: str | None = None


def blocks(busy: int, idle: int) -> Content:
    """One block per environment: ■ busy, □ idle warm (capped, with a count beyond)."""
    shown_busy = min(busy, MAX_BLOCKS)
    shown_idle = min(idle, MAX_BLOCKS - shown_busy)
    hidden = busy + idle - shown_busy - shown_idle
    return Content.assemble(
        ("■" * shown_busy, "bold $warning"),
        ("□" * shown_idle, "$success"),
        (f" +{hidden}" if hidden else "", "dim"),
    )


def bar(value: int, limit: int, width: int = BAR_WIDTH) -> Content:
    """A small bar of ``value`` against ``limit``; full (and red) at the limit."""
    full = limit <= 0 or value >= limit
    filled = width if full else round(width * value / limit)
    return Content.assemble(
        ("█" * filled, "bold $error" if full else "$accent"), ("░" * (width - filled), "dim")
    )


def function_lines(name: str, g: FunctionGauge) -> Content:
    """Two or three lines for one function: in flight (vs reserved), environments, throttles."""
    if g.reserved is not None:
        head = Content.assemble(
            (name, "bold"), " ", bar(g.in_flight, g.reserved), f" {g.in_flight}/{g.reserved}"
        )
    else:
        head = Content.assemble((name, "bold"), f"  {g.in_flight} in flight")
    if g.busy or g.idle:
        detail = f" {g.busy} busy · {g.idle} idle"
        if g.provisioned:  # busy split: provisioned vs on-demand (spill-over)
            on_demand = g.busy - g.provisioned_busy
            detail = (
                f" {g.busy} busy ({g.provisioned_busy} provisioned, {on_demand} on-demand)"
                f" · {g.idle} idle · {g.provisioned} provisioned"
            )
        envs = Content.assemble("  ", blocks(g.busy, g.idle), (detail, "dim"))
    else:
        envs = Content.styled("  no warm environment", "dim")
    parts = [head, envs]
    if g.throttles:
        parts.append(
            Content.assemble(
                "  ", (f"{g.throttles} throttled", "bold $error"), (f" {g.last_reason}", "dim")
            )
        )
    return Content("\n").join(parts)


def line_lengths(content: Content) -> list[int]:
    return [len(line) for line in content.plain.split("\n")]


class ConcurrencyGauge(Vertical):
    """In flight in total (digits, bar against the account limit, history), then per function."""

    DEFAULT_CSS = """
    ConcurrencyGauge {
        height: 1fr;
        padding: 0 1;
    }
    ConcurrencyGauge #gauge-head {
        height: 3;
    }
    ConcurrencyGauge #gauge-digits {
        width: auto;
        min-width: 3;
        color: $accent;
    }
    ConcurrencyGauge #gauge-label {
        width: 1fr;
        padding: 0 1;
        color: $text-muted;
    }
    ConcurrencyGauge #gauge-bar {
        height: 1;
    }
    ConcurrencyGauge #gauge-bar Bar {
        width: 1fr;
    }
    ConcurrencyGauge #gauge-history {
        height: 2;
    }
    ConcurrencyGauge #gauge-throttles {
        height: 1;
    }
    ConcurrencyGauge #gauge-functions {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self, account_limit: int = 1000, *, scaling: str | None = None, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.account_limit = account_limit
        self.scaling = scaling  # Lambda's scaling rate, if the engine plays it (--scaling-rate)
        self.total = 0  # in flight now, across all functions
        self.peak = 0  # the most in flight since the last history sample
        self._sampler: Timer | None = None  # paused while nothing changes
        self.history: list[int] = [0] * HISTORY
        self.throttles = 0
        self.last_throttle: Throttled | None = None
        self.functions: dict[str, FunctionGauge] = {}
        self.removed: set[str] = set()  # deleted functions: gone from the gauge once idle
        self._drawn: dict[str, object] = {}  # what each part shows now

    def compose(self) -> ComposeResult:
        with Horizontal(id="gauge-head"):
            yield Digits("0", id="gauge-digits")
            yield Static(id="gauge-label")
        yield ProgressBar(total=self.account_limit, show_eta=False, id="gauge-bar")
        yield Sparkline(list(self.history), id="gauge-history")
        yield Static(id="gauge-throttles")
        with VerticalScroll(id="gauge-functions", can_focus=False):
            yield Static(id="gauge-function-lines")

    def on_mount(self) -> None:
        self.query_one("#gauge-bar", ProgressBar).tooltip = (
            f"in flight across all functions / account limit {self.account_limit}"
            + (f"; scaling: {self.scaling}" if self.scaling else "")
        )
        self.query_one(
            "#gauge-history", Sparkline
        ).tooltip = (
            f"peak in flight every {SAMPLE_INTERVAL_S:g} s, last {HISTORY * SAMPLE_INTERVAL_S:g} s"
        )
        self._sampler = self.set_interval(SAMPLE_INTERVAL_S, self.sample)
        self._draw()

    # ----------------------------------------------------------------- state

    def take(self, events: Sequence[object]) -> None:
        """Fold a batch of engine events in, then redraw once."""
        for event in events:
            if isinstance(event, ConcurrencyChanged):
                g = self.functions.get(event.function)
                if g is None:
                    if event.function in self.removed:  # its last environments going away
                        g = FunctionGauge()
                    else:
                        g = self.functions[event.function] = FunctionGauge()
                g.in_flight, g.busy, g.idle = event.in_flight, event.busy, event.idle
                g.provisioned, g.provisioned_busy = event.provisioned, event.provisioned_busy
                g.reserved = event.reserved
                if event.function in self.removed and not (g.in_flight or g.busy or g.idle):
                    self.functions.pop(event.function, None)
                self.total = event.total_in_flight
                self.peak = max(self.peak, self.total)
                if self._sampler is not None:
                    self._sampler.resume()
                if event.account_limit != self.account_limit:
                    self.account_limit = event.account_limit
            elif isinstance(event, FunctionReloaded):
                self._reloaded(event)
            elif isinstance(event, Throttled):
                g = self.functions.get(event.function)
                if g is None:
                    g = self.functions[event.function] = FunctionGauge()
                g.throttles += 1
                g.last_reason = event.reason
                self.throttles += 1
                self.last_throttle = event
        self._draw()

    def _reloaded(self, event: FunctionReloaded) -> None:
        """A deleted function leaves the gauge once nothing of it runs (a busy environment
        finishes its invocation first); one that comes back is shown again."""
        if event.change == "removed":
            self.removed.add(event.function)
            g = self.functions.get(event.function)
            if g is not None and not (g.in_flight or g.busy or g.idle):
                del self.functions[event.function]
        else:
            self.removed.discard(event.function)

    def sample(self) -> None:
        """Push this period's peak onto the history (a fresh list: the Sparkline redraws),
        unless that changes nothing: then sampling waits for the next change (idle, all zeros:
        an idle TUI neither redraws nor wakes for it)."""
        history = [*self.history[1:], max(self.peak, self.total)]
        self.peak = self.total
        if history == self.history:
            if self._sampler is not None:
                self._sampler.pause()
            return
        self.history = history
        self.query_one("#gauge-history", Sparkline).data = self.history

    # ----------------------------------------------------------------- drawing

    def _draw(self) -> None:
        """Update only the parts that changed, and ask for a layout pass only when a part's
        height can change: at hundreds of invocations a second this runs ten times a second,
        and a layout pass re-arranges the whole screen."""
        drawn = self._drawn
        if drawn.get("total") != self.total:
            drawn["total"] = self.total
            self.query_one("#gauge-digits", Digits).update(str(self.total))
        if drawn.get("limit") != (self.total, self.account_limit):
            drawn["limit"] = (self.total, self.account_limit)
            progress = self.query_one("#gauge-bar", ProgressBar)
            progress.update(total=self.account_limit, progress=min(self.total, self.account_limit))
        if drawn.get("label") != self.account_limit:
            drawn["label"] = self.account_limit
            self.query_one("#gauge-label", Static).update(
                Content.assemble(
                    ("in flight\n", "bold"),
                    f"of {self.account_limit:,}\n",
                    ("account limit", "dim"),
                ),
                layout=False,
            )
        last = self.last_throttle.function if self.last_throttle is not None else None
        if drawn.get("throttles") != (self.throttles, last):
            drawn["throttles"] = (self.throttles, last)
            throttles = Content.assemble(("throttles ", "bold"), str(self.throttles))
            if last is not None:
                throttles = throttles.append_text(f"  last: {last}", "dim")
            self.query_one("#gauge-throttles", Static).update(throttles, layout=False)
        if self.functions:
            lines = Content("\n").join(
                function_lines(n, g) for n, g in sorted(self.functions.items())
            )
        else:
            lines = Content.styled("no invocations yet", "dim")
        previous = drawn.get("functions")
        if previous != lines:
            drawn["functions"] = lines
            # the wrapped height can change only if a line's length does
            height_changed = not isinstance(previous, Content) or line_lengths(
                previous
            ) != line_lengths(lines)
            self.query_one("#gauge-function-lines", Static).update(lines, layout=height_changed)

    def summary(self) -> str:
        """The gauge as plain text (for tests and the headless benchmark)."""
        head = f"in flight {self.total}/{self.account_limit} throttles {self.throttles}"
        body = [function_lines(n, g).plain for n, g in sorted(self.functions.items())]
        return "\n".join([head, *body])
