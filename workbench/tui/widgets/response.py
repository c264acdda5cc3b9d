"""The response pane: the payload, or Lambda's error, what the invocation cost, and the
function's own log lines under it, as the Lambda console's test tab shows them ("Function
Logs": START, what the handler wrote, END, REPORT), with keys to copy each part."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Static

from ...engine import InvokeResult, InvokeStart, LogLine, ResponseChunk
from ..copy_keys import COPY_BINDINGS, CopyActions, CopyWhat, copy_part
from ..fields import FieldStatic, together
from ..function_logs import tail_view
from ..registry_view import version_label
from .function_rows import debug_wait_text
from .response_diff import ResponseDiff, ResponseDiffView


def metrics_line(result: InvokeResult) -> Text:
    """Lambda's REPORT line, as fields (``FieldStatic`` wraps it between them)."""
    r = result.record
    parts: list[str | tuple[str, str]] = [
        ("cold" if r.cold else "warm", "bold cyan" if r.cold else "bold green"),
        f"  {together('Duration', f'{r.duration_ms:.2f}', 'ms')}"
        f"  {together('Billed', r.billed_ms, 'ms')}  ",
        together("Max", "Memory", f"{r.max_memory_mb}/{r.memory_size}", "MB"),
    ]
    if r.init_duration_ms is not None:
        parts.append("  " + together("Init", "Duration", f"{r.init_duration_ms:.2f}", "ms"))
    if r.start_wait_ms:
        waited = together("Waited", f"{r.start_wait_ms / 1000:.2f}", "s", "to", "start")
        parts.append((f"  {waited}", "bold yellow"))
    if r.paused_ms:
        paused = together("Paused", f"{r.paused_ms / 1000:.2f}", "s", "(not", "billed)")
        parts.append((f"  {paused}", "bold yellow"))
    parts.append((f"  {version_label(r.version)}", "dim"))  # v3, or $LATEST
    return Text.assemble(*parts)


def payload_text(result: InvokeResult) -> Text:
    """Pretty-printed JSON; an error as type, message and stack trace."""
    try:
        value = json.loads(result.payload)
    except (ValueError, UnicodeDecodeError):
        return Text(result.payload.decode("utf-8", "replace"))
    if result.function_error and isinstance(value, dict) and "errorType" in value:
        text = Text.assemble(
            (str(value.get("errorType")), "bold red"), ": ", str(value.get("errorMessage", ""))
        )
        for frame in value.get("stackTrace") or []:
            text.append("\n" + str(frame).rstrip("\n"), style="dim")
        return text
    return Text(json.dumps(value, indent=2, ensure_ascii=False))


class ResponsePane(CopyActions, Vertical):
    """Shows the latest result and its log; while an invocation runs, says so and for how long
    (esc cancels). ``c``, ``i`` and ``l`` copy the result's payload, request id and log lines
    (``App.copy_to_clipboard``: OSC 52, so the terminal's clipboard, over ssh too)."""

    DEFAULT_CSS = """
    ResponsePane #response-log {
        display: none;
        height: 1fr;
        min-height: 1;
        padding: 0 1;
        border-top: hkey $primary 50%;
        border-title-color: $primary;
        border-title-align: left;
    }
    ResponsePane.-with-log #response-log { display: block; }
    /* a short pane whose log has the focus: the status keeps its first line (name, outcome;
       the log's REPORT line has the figures), the result two rows, the log the rest */
    ResponsePane.-reading-log #response-status { max-height: 1; overflow: hidden; }
    """  # the result's own height beside its log: app.tcss (#response.-with-log), and _fit
    LOG_LEAST = 1  # the log's least share: its title (at 80x24 that is what is left)
    RESULT_READING = 2  # the result's share while the log has the focus
    SHORT = 16  # rows: a pane this short gives a focused log the status line's room too

    BINDINGS = COPY_BINDINGS

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        # (function, monotonic start); not ``_running``, which is Textual's own message-loop flag
        self._invoking: tuple[str, float] | None = None
        self._ticker: Timer | None = None
        self._debug_waits: dict[str, int] = {}  # function -> port its environment waits on
        self._pdb_paused: set[str] = set()
        self._chunks = Text()  # a streamed response's chunks so far, while it runs
        self.result: InvokeResult | None = None  # the one shown, what the copy keys copy
        # the running invocation's request (once it started) and what it printed so far
        self._live_request: str | None = None
        self._live_lines: list[str] = []
        self._result_rows: int | None = None  # the result's max height _fit set (None: CSS's)

    def compose(self) -> ComposeResult:
        yield FieldStatic(Text("Invoke a function with ctrl+r."), id="response-status")
        with VerticalScroll(id="response-scroll"):
            yield Static(id="response-body")
        compare = ResponseDiffView(id="response-diff")
        compare.display = False  # until a re-run on save
        yield compare
        with VerticalScroll(id="response-log") as logs:
            logs.border_title = "Function Logs"
            yield Static(id="response-log-body")

    def _show_head(self, name: str, outcome: Text, result: InvokeResult) -> None:
        """``name outcome`` and the metrics (the status line)."""
        head = Text.assemble((f"{name} ", "bold"), outcome, "  ")
        head.append_text(metrics_line(result))
        self.query_one("#response-status", Static).update(head)

    def _show_log(self, result: InvokeResult | None) -> None:
        """The result's own log lines under it (none while one runs, or for a refusal)."""
        self.result = result
        lines = result.record.log_lines if result is not None else []
        self.set_class(bool(lines), "-with-log")
        self.query_one("#response-log-body", Static).update(tail_view(lines) if lines else "")
        self.query_one("#response-log", VerticalScroll).scroll_home(animate=False)
        self.call_after_refresh(self._fit)  # once the status line has its height

    def _fit(self) -> None:
        """The result as tall as it is, up to half the pane, with at least the log's title left
        under it; while the log has the focus (tab) the result keeps ``RESULT_READING`` rows and
        the log takes the rest, in a short pane the status line's too. (At 80x24 the status
        line's fields alone take most of the pane: CSS cannot say "what the status leaves", so
        it is measured here.)"""
        inner = self.content_region.height
        if inner <= 0:  # not shown (another pane zoomed): nothing to fit
            return
        log = self.query_one("#response-log", VerticalScroll)
        self.set_class(log.has_focus and inner < self.SHORT, "-reading-log")
        rows: int | None = None  # app.tcss's 50 %
        if self.has_class("-with-log"):
            status = self.query_one("#response-status").outer_size.height
            room = self.RESULT_READING if log.has_focus else inner - status - self.LOG_LEAST
            rows = max(1, min(room, inner // 2))
        if rows != self._result_rows:  # a style set (even to its value) lays the pane out again
            self._result_rows = rows
            self.query_one("#response-scroll").styles.max_height = rows

    def on_resize(self) -> None:
        self._fit()

    def on_descendant_focus(self) -> None:
        self._fit()

    def on_descendant_blur(self) -> None:
        self._fit()

    def copy(self, what: CopyWhat) -> None:
        """Copy a part of the result shown, and say what was copied (or why nothing was)."""
        result = self.result
        copy_part(self, result.record if result else None, what, result.payload if result else None)

    def _comparing(self, on: bool) -> None:
        """The compare view instead of the response (a re-run on save), or back."""
        self.query_one("#response-scroll").display = not on
        self.query_one(ResponseDiffView).display = on

    def running(self, name: str) -> None:
        """An invocation of ``name`` started: show it, with a clock, until its result arrives."""
        self.set_class(True, "running")
        self.set_class(False, "failed")
        self._comparing(False)
        self._invoking = (name, time.monotonic())
        self._live_request, self._live_lines = None, []
        if self._ticker is None:
            self._ticker = self.set_interval(0.2, self._show_running)
        self._show_running()
        self._chunks = Text()
        self.query_one("#response-body", Static).update("")
        self._show_log(None)

    def take_chunks(self, events: Sequence[object]) -> None:
        """A streamed response of the running invocation: each chunk as it arrives, stamped
        with the time since the invocation started (the result replaces them at its end)."""
        if self._invoking is None:
            return
        name, started = self._invoking
        function, since = name.partition(":")[0], time.time() - (time.monotonic() - started)
        chunks = [e for e in events if isinstance(e, ResponseChunk) and e.function == function]
        for chunk in chunks:
            if chunk.at < since:
                continue
            self._chunks.append(f"+{chunk.at - since:7.3f} s  #{chunk.index}  ", style="dim")
            text = chunk.excerpt.decode("utf-8", "replace")
            self._chunks.append(text + (" …" if chunk.size > len(chunk.excerpt) else "") + "\n")
        if chunks:
            self.query_one("#response-body", Static).update(self._chunks)
        self._take_live_lines(events, function, since)

    def _take_live_lines(self, events: Sequence[object], function: str, since: float) -> None:
        """What the running invocation prints, under it as it prints it (the record's whole log,
        START to REPORT, replaces it at the end). Its request is the first of ``function`` to
        start after ours did: the engine does not say which invocation is the pane's (a caller
        of the API starting the same function in the same instant could be taken for it)."""
        printed = False
        for e in events:
            if self._live_request is None and isinstance(e, InvokeStart):
                if e.function == function and e.at >= since:
                    self._live_request = e.request_id
            elif isinstance(e, LogLine) and self._live_request is not None:
                if e.request_id == self._live_request:
                    self._live_lines.append(e.line)
                    printed = True
        if printed:
            if not self.has_class("-with-log"):
                self.set_class(True, "-with-log")
                self.call_after_refresh(self._fit)
            self.query_one("#response-log-body", Static).update(tail_view(self._live_lines))
            self.query_one("#response-log", VerticalScroll).scroll_end(animate=False)

    def pdb_paused(self, functions: set[str]) -> None:
        """Which functions have an invocation paused at a pdb prompt (the debugger pane's)."""
        if functions != self._pdb_paused:
            self._pdb_paused = functions
            self._show_running()

    def debugger_waits(self, waits: dict[str, int]) -> None:
        """Which functions' environments wait for an IDE's debugger (``debug_waits``)."""
        if waits != self._debug_waits:
            self._debug_waits = waits
            self._show_running()

    def _show_running(self) -> None:
        if self._invoking is None:
            return
        name, started = self._invoking
        status = Text.assemble(
            ("⏳ invoking ", "bold yellow"),
            name,
            f"  {time.monotonic() - started:.1f} s",
        )
        if name.partition(":")[0] in self._pdb_paused:
            status.append("  ⏸ paused at the debugger (f6 shows it)", style="bold magenta")
        port = self._debug_waits.get(name.partition(":")[0])
        if port is not None:
            status.append("  " + debug_wait_text(port), style="bold magenta")
        status.append("  (esc cancels)", style="dim")
        self.query_one("#response-status", Static).update(status)

    def _stop_running(self) -> None:
        self._invoking = None
        self._comparing(False)
        self.set_class(False, "running")
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def show_result(self, name: str, result: InvokeResult) -> None:
        self._stop_running()
        failed = result.function_error is not None
        self.set_class(failed, "failed")
        status = Text(result.record.status, style="bold red" if failed else "bold green")
        self._show_head(name, status, result)
        self.query_one("#response-body", Static).update(payload_text(result))
        self._show_log(result)

    def show_compare(self, name: str, result: InvokeResult, diff: ResponseDiff, note: str) -> None:
        """A re-run on save: ``result`` beside the previous response, the differences marked
        (``note`` says what was saved). The next ordinary result shows as usual."""
        self.show_result(name, result)
        self._comparing(True)
        self.query_one(ResponseDiffView).show(diff, note)

    def show_cancelled(self, name: str, result: InvokeResult) -> None:
        """The user stopped the invocation (escape): it ran, for so long, and is recorded."""
        self._stop_running()
        self.set_class(True, "failed")
        r = result.record
        self._show_head(name, Text("cancelled", style="bold magenta"), result)
        ran = f"after {r.duration_ms / 1000:.2f} s" if r.duration_ms else "during its INIT"
        self.query_one("#response-body", Static).update(
            Text(
                f"Cancelled {ran}: the invocation was stopped and its environment shut down. "
                f"The log keeps it as request {r.request_id}."
            )
        )
        self._show_log(result)  # what it wrote before it was stopped

    def show_refusal(self, name: str, message: str) -> None:
        """The invocation never ran: bad input, unknown function, throttled, cancelled."""
        self._stop_running()
        self.set_class(True, "failed")
        self.query_one("#response-status", Static).update(
            Text.assemble((f"{name} ", "bold"), ("not invoked", "bold red"))
        )
        self.query_one("#response-body", Static).update(Text(message))
        self._show_log(None)
