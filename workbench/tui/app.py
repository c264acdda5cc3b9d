"""The Textual workbench: the app, its layout, its actions. Panes live in ``widgets/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker

from ..engine import Engine, EngineSettings, InvokeEnd, InvokeResult, LambdaError
from .bridge import EngineBridge, EngineEvents
from .widgets.editor import EventEditor
from .widgets.functions import FunctionsPane, function_rows
from .widgets.gauge import ConcurrencyGauge
from .widgets.invocation_log import InvocationLog
from .widgets.response import ResponsePane
from .widgets.timeline import LifecycleTimeline


@dataclass
class InvocationFinished(Message):
    name: str
    result: InvokeResult


@dataclass
class InvocationRefused(Message):
    name: str
    message: str


class WorkbenchApp(App[int]):
    """Runs the engine in-process and shows it: functions, event, response, log, gauge."""

    CSS_PATH = "app.tcss"
    TITLE = "Workbench"
    SUB_TITLE = "Lambda, locally"

    BINDINGS = [
        Binding("ctrl+r", "invoke", "Invoke", id="invoke", tooltip="Invoke the selected function"),
        Binding("escape", "cancel", "Cancel", id="cancel", show=False),
        Binding("f1", "help", "Help", id="help", tooltip="Every key"),
        Binding("question_mark", "help", "Help", id="help-question", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(
        self,
        roots: list[Path],
        *,
        state_dir: Path | None = None,
        settings: EngineSettings | None = None,
    ) -> None:
        super().__init__()
        self.roots = roots
        self.settings = settings or EngineSettings(state_dir=state_dir)
        self.engine = Engine(roots, self.settings)
        self.bridge = EngineBridge(self.engine, self)
        self._invocations: dict[Worker[None], str] = {}

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            yield FunctionsPane(id="functions")
            yield EventEditor(id="editor")
            yield ResponsePane(id="response")
        with Horizontal(id="bottom"):
            with TabbedContent(id="bottom-tabs"):
                with TabPane("Invocations", id="tab-log"):
                    yield InvocationLog(id="log")
                with TabPane("Lifecycle", id="tab-lifecycle"):
                    yield LifecycleTimeline(id="timeline")
            with Vertical(id="gauge-box"):
                yield ConcurrencyGauge(self.settings.account_limit, id="gauge")
        yield Footer()

    async def on_mount(self) -> None:
        await self.engine.start()
        self.bridge.start()
        self.refresh_functions()
        self.query_one("#functions-table").focus()

    async def on_unmount(self) -> None:
        self.bridge.stop()
        await self.engine.close()

    def refresh_functions(self) -> None:
        self.query_one(FunctionsPane).show(function_rows(self.engine))

    # ----------------------------------------------------------------- engine events

    def on_engine_events(self, message: EngineEvents) -> None:
        events = message.events
        records = [e.record for e in events if isinstance(e, InvokeEnd)]
        if records:
            self.query_one(InvocationLog).add_records(records)
        self.query_one(ConcurrencyGauge).take(events)
        self.query_one(LifecycleTimeline).take(events)
        self.refresh_functions()

    # ----------------------------------------------------------------- invoke

    def on_event_editor_invoke_requested(self, _: EventEditor.InvokeRequested) -> None:
        self.action_invoke()

    def action_invoke(self) -> None:
        """Invoke the selected function with the editor's event, in a worker."""
        name = self.query_one(FunctionsPane).selected
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
        response.running(name)
        worker = self.run_worker(self._invoke(name, payload), group="invoke", exit_on_error=False)
        self._invocations[worker] = name

    async def _invoke(self, name: str, payload: bytes) -> None:
        try:
            result = await self.engine.invoke(name, payload, trigger="tui")
        except LambdaError as e:
            self.post_message(InvocationRefused(name, f"{e.code}: {e.message}"))
            return
        self.post_message(InvocationFinished(name, result))

    def on_invocation_finished(self, message: InvocationFinished) -> None:
        self.query_one(ResponsePane).show_result(message.name, message.result)

    def on_invocation_refused(self, message: InvocationRefused) -> None:
        self.query_one(ResponsePane).show_refusal(message.name, message.message)

    def action_cancel(self) -> None:
        """Cancel the running invocations (their environments are shut down)."""
        running = [w for w in self._invocations if w.is_running]
        for worker in running:
            worker.cancel()
            self.query_one(ResponsePane).show_refusal(
                self._invocations[worker], "Cancelled: the invocation was stopped."
            )
        self._invocations = {w: n for w, n in self._invocations.items() if w.is_running}

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if not event.worker.is_running:
            self._invocations.pop(event.worker, None)

    def action_help(self) -> None:
        self.notify("ctrl+r invoke · esc cancel · ctrl+p commands · ctrl+q quit", title="Keys")
