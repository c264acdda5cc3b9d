"""The workbench screen: the panes, and the workflow that needs more than one of them.

Each pane owns its keys and does alone what it can (the functions pane publishes and edits
aliases, the sources pane sends to queues, the editor saves events). What spans panes happens
here: an invocation reads the functions pane's selection and the editor's event and shows in
the response pane; a replay asked for in the log or on a record screen goes the same way, as
does a re-run on save; the engine's batches are handed to each pane. The app gives this screen
the engine and forwards its global keys (ctrl+r, escape, ...) here; nothing here knows the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from textual import events
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, TabPane
from textual.worker import Worker

from ...engine import (
    Engine,
    FunctionReloaded,
    InvocationCancelled,
    InvocationRecord,
    InvokeEnd,
    InvokeResult,
    LambdaError,
)
from ...engine.invoke import (
    BROKEN,
    FINISHED,
    REFUSED,
    STARTED,
    RerunReport,
    diff_responses,
    relative_files,
)
from ...engine.storage import SavedEvents
from ..breakpoints import classes_for_size
from ..navigation import NAVIGATION_BINDINGS, focus_pane, move_table_cursor
from ..pane_focus import PaneHighlight
from ..pane_sizes import PaneSizes
from ..registry_view import RegistryView
from ..reruns import FIRST_RUN_TRIGGER, Reruns
from ..widgets.arrow_tabs import ArrowTabs
from ..widgets.editor import EventEditor
from ..widgets.function_rows import debug_waits
from ..widgets.functions import FunctionsPane
from ..widgets.gauge import ConcurrencyGauge
from ..widgets.invocation_log import InvocationLog
from ..widgets.key_bar import KeyBar
from ..widgets.response import ResponsePane
from ..widgets.sources import SourcesPane
from ..widgets.timeline import LifecycleTimeline
from ..zoom import ZOOM_BINDING, toggle_zoom
from .record import RecordScreen, Replay

# The header's mark: Lambda's own letter, not Textual's default ⭘ (any screen of ours that has a
# header shows it; a click on it opens the command palette, as Textual's does)
ICON = "λ"


def replay_label(request_id: str, record: InvocationRecord | None) -> str:
    """What the response pane calls a replay: ``echo:live replay of 1a2b3c4d``."""
    short = request_id[:8]
    if record is None:
        return f"replay of {short}"
    target = f"{record.function}:{record.qualifier}" if record.qualifier else record.function
    return f"{target} replay of {short}"


class MainScreen(Screen[None]):
    """Functions (with their versions and aliases), event, response, log, gauge."""

    BINDINGS = [ZOOM_BINDING, *NAVIGATION_BINDINGS]
    # Textual's Screen.focused repaints the whole screen on every focus change (~65 widgets
    # rendered again, most of a pane key's frame); the widgets whose look changes (the blurred
    # and the focused one, the pane borders, the key bar) refresh themselves.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    # The layout answers the terminal's size (app.tcss: Screen.-narrow, .-short, .-wide): at 80
    # columns the functions pane narrows and the gauge gives the log its width.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (180, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    @dataclass
    class InvocationFinished(Message):
        name: str
        result: InvokeResult

    @dataclass
    class InvocationStopped(Message):
        """Cancelled (escape) while it ran: what the engine recorded of it."""

        name: str
        result: InvokeResult

    @dataclass
    class InvocationRefused(Message):
        name: str
        message: str

    @dataclass
    class RerunReported(Message):
        """A re-run on save started, finished, or did not run (posted from the engine's side)."""

        report: RerunReport

    def __init__(self, engine: Engine, *, account_limit: int) -> None:
        super().__init__()
        self.engine = engine
        self.account_limit = account_limit
        self.registry_view = RegistryView(engine)
        self.saved_events = SavedEvents(engine.state_dir)
        self.reruns = Reruns(engine, self._post_rerun)
        self._reported: dict[str, str] = {}  # function -> the reload problem last toasted
        self._invocations: dict[Worker[None], str] = {}
        self.pane_highlight = PaneHighlight(self)
        self.pane_sizes = PaneSizes(self)
        self._resumed = False

    def post_message(self, message: Message) -> bool:
        # Its first ScreenResume, the app's start: every widget here was styled as it mounted
        # (with its size's classes: breakpoints.py); Textual would style the whole screen again
        # (~20 ms of the first frame). Later resumes (back from a dialog, a theme changed
        # meanwhile) restyle as Textual does.
        if isinstance(message, events.ScreenResume) and not self._resumed:
            self._resumed = True
            message.refresh_styles = False
        return super().post_message(message)

    def compose(self) -> ComposeResult:
        classes_for_size(self)  # (before any widget here is styled: breakpoints.py)
        yield Header(icon=ICON)
        with Horizontal(id="top"):
            yield FunctionsPane(self.engine, self.registry_view, id="functions")
            with Horizontal(id="work"):  # side by side; stacked under 100 columns (app.tcss)
                yield EventEditor(self.saved_events, id="editor")
                yield ResponsePane(id="response")
        with Horizontal(id="bottom"):
            with ArrowTabs(id="bottom-tabs"):  # left/right switch from the content too
                with TabPane("Invocations", id="tab-log"):
                    yield InvocationLog(self.engine, id="log")
                with TabPane("Lifecycle", id="tab-lifecycle"):
                    yield LifecycleTimeline(id="timeline")
                with TabPane("Sources", id="tab-sources"):
                    yield SourcesPane(self.engine, id="sources")
            with Vertical(id="gauge-box"):
                scaling = self.engine.concurrency.scaling
                yield ConcurrencyGauge(
                    self.account_limit,
                    scaling=scaling.describe() if scaling is not None else None,
                    id="gauge",
                )
        yield KeyBar()

    def on_mount(self) -> None:
        self.pane_highlight.follow()
        self.pane_sizes.follow()

    def on_resize(self) -> None:
        self.pane_sizes.update()  # the size classes (breakpoints) may have changed

    def action_zoom(self) -> None:
        """ctrl+g: the focused pane full screen, or the layout back."""
        if toggle_zoom(self) is None and self.maximized is None and self.focused is None:
            self.notify("Focus a pane to zoom it.", severity="warning")

    def action_focus_pane(self, key: str) -> None:
        """1-5: the focus to a pane (navigation.PANE_KEYS)."""
        focus_pane(self, key)

    def action_table_cursor(self, step: int) -> None:
        move_table_cursor(self, step)

    def show_history(self) -> None:
        """The engine runs: the log, the traffic through each alias and the rows, from the store."""
        self.query_one(InvocationLog).requery()
        self.registry_view.seed_from_store()
        self.refresh_functions()
        self.query_one("#functions-table").focus()

    def refresh_functions(self) -> None:
        pane = self.query_one(FunctionsPane)
        pane.rerun_names = self.reruns.names()
        pane.refresh_rows()

    def _selected_function(self) -> str | None:
        """The selected row's function, if no dialog is open (else None, said if unselected)."""
        if not self.is_active:
            return None
        function = self.query_one(FunctionsPane).selected
        if function is None:
            self.notify("No function selected.", severity="warning")
        return function

    # ----------------------------------------------------------------- engine events

    def take(self, events: Sequence[object]) -> None:
        """A batch of engine events (the bridge's): each pane takes what it shows."""
        records = [e.record for e in events if isinstance(e, InvokeEnd)]
        if records:
            self.query_one(InvocationLog).add_records(records)
        self.query_one(ConcurrencyGauge).take(events)
        self.query_one(LifecycleTimeline).take(events)
        self.query_one(SourcesPane).take(events)
        self.registry_view.take(events)
        if isinstance(self.app.screen, RecordScreen):
            self.app.screen.take(events)  # an Event record's queue row: retried, sent on
        self.refresh_functions()
        self.query_one(ResponsePane).debugger_waits(debug_waits(self.engine))
        self.query_one(ResponsePane).take_chunks(events)
        self._report_reloads(e for e in events if isinstance(e, FunctionReloaded))

    def pdb_paused(self, functions: set[str]) -> None:
        """Which functions have an invocation paused at the debugger (the response pane says)."""
        self.query_one(ResponsePane).pdb_paused(functions)

    def _report_reloads(self, reloads: Iterable[FunctionReloaded]) -> None:
        """Toast a save that broke a function, once per new problem (the row keeps showing it)."""
        for event in reloads:
            problem = event.problem
            if problem is None:
                self._reported.pop(event.function, None)
                continue
            text = str(problem)
            if self._reported.get(event.function) != text:
                self._reported[event.function] = text
                kind = "syntax error" if problem.kind == "syntax" else "config error"
                self.notify(text, title=f"{event.function}: {kind}", severity="error", markup=False)

    # ----------------------------------------------------------------- invoke

    def on_functions_pane_selected(self, message: FunctionsPane.Selected) -> None:
        """Another function selected (its versions and aliases share its event): its event."""
        self.query_one(EventEditor).hold(message.name)

    def on_event_editor_invoke_requested(self, _: EventEditor.InvokeRequested) -> None:
        self.action_invoke()

    def action_invoke(self) -> None:
        """Invoke the selected function, version or alias with the editor's event, in a worker."""
        name = self.query_one(FunctionsPane).selected_key  # name, name:3 or name:live
        response = self.query_one(ResponsePane)
        if name is None:
            self.notify("No function selected.", severity="warning")
            return
        error = self.query_one(EventEditor).error()
        if error is not None:
            message = f"The event is not valid JSON ({error}); fix it to invoke."
            response.show_refusal(name, message)
            self.notify(message, title="Not invoked", severity="error")
            return
        payload = self.query_one(EventEditor).payload()
        self.start_invocation(name, lambda: self.engine.invoke(name, payload, trigger="tui"))

    def start_invocation(self, name: str, call: Callable[[], Awaitable[InvokeResult]]) -> None:
        """Run ``call`` in a worker: the response pane shows ``name`` running, then the result
        (or the refusal); escape cancels it. The one path for every invocation the user starts."""
        self.query_one(ResponsePane).running(name)
        worker = self.run_worker(self._invoke(name, call), group="invoke", exit_on_error=False)
        self._invocations[worker] = name

    async def _invoke(self, name: str, call: Callable[[], Awaitable[InvokeResult]]) -> None:
        try:
            result = await call()
        except LambdaError as e:
            self.post_message(self.InvocationRefused(name, f"{e.code}: {e.message}"))
            return
        except InvocationCancelled as e:  # escape: it ran, and is recorded cancelled
            self.post_message(self.InvocationStopped(name, e.result))
            raise
        except asyncio.CancelledError:  # before the engine had it
            self.post_message(self.InvocationRefused(name, "Cancelled before it started."))
            raise
        self.post_message(self.InvocationFinished(name, result))

    def on_main_screen_invocation_finished(self, message: InvocationFinished) -> None:
        self.query_one(ResponsePane).show_result(message.name, message.result)
        self.reruns.saw(message.result)

    def on_main_screen_invocation_stopped(self, message: InvocationStopped) -> None:
        self.query_one(ResponsePane).show_cancelled(message.name, message.result)

    def on_main_screen_invocation_refused(self, message: InvocationRefused) -> None:
        self.query_one(ResponsePane).show_refusal(message.name, message.message)

    def action_cancel(self) -> None:
        """Cancel the running invocations (the engine shuts their environments down).

        Declines when nothing runs or another screen is on top, so escape then does what the
        focused widget or that screen makes of it (leave the editor, close a dialog).
        """
        running = [w for w in self._invocations if not (w.is_finished or w.is_cancelled)]
        if not (running or self.reruns.invoking()) or not self.is_active:
            raise SkipAction()
        self.reruns.cancel()
        for worker in running:
            worker.cancel()  # the pane shows what the engine recorded of it (InvocationStopped)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.is_finished:
            self._invocations.pop(event.worker, None)

    # ----------------------------------------------------------------- records and replays

    def on_invocation_log_record_selected(self, message: InvocationLog.RecordSelected) -> None:
        """Open the full record (looked up in the store when the log has no copy)."""
        lifecycle = self.query_one(LifecycleTimeline).model
        record = RecordScreen(
            message.request_id, message.record, engine=self.engine, lifecycle=lifecycle
        )
        self.app.push_screen(record, self._replay_asked)

    def _replay_asked(self, replay: Replay | None) -> None:
        """``r`` on a record screen: it is closed; the response pane here shows the replay."""
        if replay is not None:
            self.replay(replay.request_id, replay.record)

    def on_invocation_log_replay_requested(self, message: InvocationLog.ReplayRequested) -> None:
        self.replay(message.request_id, message.record)

    def replay(self, request_id: str, record: InvocationRecord | None = None) -> None:
        """Run the invocation ``request_id`` again, with its own event, qualifier and client
        context; the new record reaches the log through the engine's events as any other."""
        self.start_invocation(
            replay_label(request_id, record), lambda: self.engine.replay(request_id)
        )

    # ----------------------------------------------------------------- re-run on save

    def on_functions_pane_rerun_toggled(self, message: FunctionsPane.RerunToggled) -> None:
        self.notify(self.reruns.toggle(message.function), title="Re-run on save")
        self.refresh_functions()

    def _post_rerun(self, report: RerunReport) -> None:
        self.post_message(self.RerunReported(report))

    def on_main_screen_rerun_reported(self, message: RerunReported) -> None:
        report = message.report
        name = report.function
        if name not in self.reruns.running or not self.app.is_running:  # turned off meanwhile
            return
        pane = self.query_one(ResponsePane)
        fn = self.engine.functions.get(name)
        saved = ", ".join(relative_files(report.files, fn.folder)) if fn else ""
        if report.kind == STARTED:
            pane.running(name)
        elif report.kind == FINISHED:
            assert report.result is not None
            if report.result.record.status == "cancelled":  # escape stopped it
                pane.show_cancelled(name, report.result)
                return
            previous, now = self.reruns.compare(name, report.result)
            if previous is None or report.trigger == FIRST_RUN_TRIGGER:  # w's run: no save yet
                pane.show_result(name, report.result)
            else:
                note = "↻ re-run on save" + (f" after {saved}" if saved else "")
                pane.show_compare(name, report.result, diff_responses(previous, now), note)
        elif report.kind == BROKEN:
            assert report.problem is not None
            pane.show_refusal(
                name, f"Not re-run: the save broke it.\n{report.problem}\nSave a fix to re-run."
            )
        elif report.kind == REFUSED:
            pane.show_refusal(name, f"Not re-run: {report.message}")

    # ----------------------------------------------------------------- the app's other keys

    def action_save_event(self) -> None:
        """ctrl+s: the editor saves its event for the selected function."""
        function = self._selected_function()
        if function is not None:
            self.query_one(EventEditor).save_event(function)

    def action_load_event(self) -> None:
        """ctrl+o: the editor loads one of the selected function's saved events."""
        function = self._selected_function()
        if function is not None:
            self.query_one(EventEditor).load_event(function)

    def action_queue_send(self) -> None:
        self.query_one(SourcesPane).action_queue_send()

    def action_topic_publish(self) -> None:
        self.query_one(SourcesPane).action_topic_publish()
