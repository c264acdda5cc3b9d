"""The Textual workbench: the app, its layout, its actions. Panes live in ``widgets/``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker

from ..engine import (
    DatabaseIncident,
    Engine,
    EngineSettings,
    FunctionReloaded,
    InvokeEnd,
    InvokeResult,
    LambdaError,
)
from ..engine.storage import SavedEvents, check_event_json
from .bridge import EngineBridge, EngineEvents
from .commands import WorkbenchCommands
from .debug_actions import DebugActions
from .registry_view import RegistryView
from .replay_actions import ReplayActions
from .rerun_actions import RerunActions
from .screens.help import HelpScreen
from .screens.record import RecordScreen
from .screens.saved_events import EventNamePrompt, SavedEventsScreen
from .source_actions import SourceActions
from .themes import Preferences, load_themes, ordered_names, resolve_theme, themes_dir
from .version_actions import VersionActions
from .widgets.editor import EventEditor
from .widgets.function_rows import debug_waits
from .widgets.functions import FunctionsPane, function_rows
from .widgets.gauge import ConcurrencyGauge
from .widgets.invocation_log import InvocationLog
from .widgets.response import ResponsePane
from .widgets.sources import SourcesPane
from .widgets.timeline import LifecycleTimeline


@dataclass
class InvocationFinished(Message):
    name: str
    result: InvokeResult


@dataclass
class InvocationRefused(Message):
    name: str
    message: str


class Served(Protocol):
    """A server started beside the TUI (the Lambda API, the HTTP routes)."""

    url: str

    async def close(self) -> None: ...


ServeFactory = Callable[[Engine], Awaitable[Served]]


class WorkbenchApp(
    DebugActions, ReplayActions, RerunActions, SourceActions, VersionActions, App[int]
):
    """Runs the engine in-process and shows it: functions (with their versions and aliases),
    event, response, log, gauge."""

    CSS_PATH = "app.tcss"
    TITLE = "Workbench"
    SUB_TITLE = "Lambda, locally"

    BINDINGS = [
        Binding(
            "ctrl+r",
            "invoke",
            "Invoke",
            id="invoke",
            tooltip="Invoke the selected function, version or alias",
        ),
        Binding(
            "ctrl+s",
            "save_event",
            "Save event",
            id="save-event",
            tooltip="Save the editor's event under a name, for the selected function",
        ),
        Binding(
            "ctrl+o",
            "load_event",
            "Saved events",
            id="load-event",
            tooltip="Load, rename or delete the selected function's saved events",
        ),
        Binding(
            "ctrl+n",
            "queue_send",
            "Send to queue",
            id="queue-send",
            tooltip="Put a message on a local queue",
        ),
        Binding(
            "ctrl+b",
            "topic_publish",
            "Publish to topic",
            id="topic-publish",
            tooltip="Publish a message to a topic: each subscribed function gets it",
        ),
        # priority: escape cancels from any pane (the editor would take it to leave the editor);
        # action_cancel declines (SkipAction) when nothing runs, so escape then works as usual
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="cancel",
            show=False,
            priority=True,
            tooltip="Stop the running invocations (their environments are shut down)",
        ),
        Binding(
            "f6",
            "debugger",
            "Debugger",
            id="debugger",
            show=False,
            tooltip="Show the invocation paused at a breakpoint (the debugger pane)",
        ),
        Binding("f1", "help", "Help", id="help", tooltip="Every key"),
        Binding(
            "question_mark", "help", "Help", id="help-question", show=False, tooltip="Every key"
        ),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            id="quit",
            priority=True,
            tooltip="Quit; every environment is shut down",
        ),
    ]
    COMMANDS = App.COMMANDS | {WorkbenchCommands}

    def __init__(
        self,
        roots: list[Path],
        *,
        state_dir: Path | None = None,
        settings: EngineSettings | None = None,
        theme: str | None = None,
        prewarm: bool = False,
        time_scale: float = 1.0,
        debug_port: int | None = None,
        serve: ServeFactory | None = None,
        serve_address: str = "",
        serve_http: ServeFactory | None = None,
        serve_http_address: str = "",
    ) -> None:
        super().__init__()
        # Starts the Lambda API on our loop (the CLI composes it: the TUI does not import the
        # API layer); serve_address names it in a failure.
        self._serve = serve
        self._serve_address = serve_address
        self.api_server: Served | None = None
        # and the functions' http triggers as API Gateway routes, the same way
        self._serve_http = serve_http
        self._serve_http_address = serve_http_address
        self.http_server: Served | None = None
        self.preferences = Preferences()
        self._use_themes(theme)  # first: an unknown or broken theme stops us before the engine
        self.roots = roots
        # hot reload on: a save shows in the next invocation
        self.settings = settings or EngineSettings(
            state_dir=state_dir,
            watch=True,
            prewarm=prewarm,
            background=True,
            time_scale=time_scale,
            debug_port=debug_port,
        )
        self.engine = Engine(roots, self.settings)
        self.bridge = EngineBridge(self.engine, self)
        self.registry_view = RegistryView(self.engine)
        self._reported: dict[str, str] = {}  # function -> the reload problem last toasted
        self._invocations: dict[Worker[None], str] = {}
        self.saved_events = SavedEvents(self.engine.state_dir)
        self._event_names: dict[str, str] = {}  # function -> the saved event in the editor
        self._init_rerun()

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
                    yield InvocationLog(self.engine, id="log")
                with TabPane("Lifecycle", id="tab-lifecycle"):
                    yield LifecycleTimeline(id="timeline")
                with TabPane("Sources", id="tab-sources"):
                    yield SourcesPane(self.engine, id="sources")
            with Vertical(id="gauge-box"):
                yield ConcurrencyGauge(self.settings.account_limit, id="gauge")
        yield Footer()

    async def on_mount(self) -> None:
        await self.engine.start()
        self.debug_start()  # breakpoint() stops, in the debugger pane
        await self._start_api()
        await self._start_http()
        self.bridge.start()
        self.query_one(InvocationLog).requery()  # history from the store
        self.registry_view.seed_from_store()  # the recent traffic through each alias
        self.refresh_functions()
        self.query_one("#functions-table").focus()

    async def _start_api(self) -> None:
        """Serve the Lambda API beside the TUI; a taken port is a warning, not a failure."""
        if self._serve is None:
            return
        try:
            self.api_server = await self._serve(self.engine)
        except OSError as e:
            self.notify(
                f"cannot listen on {self._serve_address}: {e.strerror or e}. The workbench runs "
                "without "
                "its API; restart with --port to choose another port.",
                title="Lambda API not started",
                severity="warning",
                timeout=10,
            )
            return
        self.sub_title = f"Lambda API {self.api_server.url}"

    async def _start_http(self) -> None:
        """Serve the http triggers beside the TUI; a taken port is a warning, not a failure."""
        if self._serve_http is None:
            return
        try:
            self.http_server = await self._serve_http(self.engine)
        except OSError as e:
            self.notify(
                f"cannot listen on {self._serve_http_address}: {e.strerror or e}. The workbench "
                "runs without its HTTP routes; restart with --http-port to choose another port.",
                title="HTTP routes not served",
                severity="warning",
                timeout=10,
            )
            return
        routes = f"HTTP routes {self.http_server.url}"
        self.sub_title = f"{self.sub_title} · {routes}" if self.api_server else routes

    async def on_unmount(self) -> None:
        self.debug_stop()
        self.bridge.stop()
        if self.api_server is not None:
            await self.api_server.close()
        if self.http_server is not None:
            await self.http_server.close()
        await self.engine.close()

    def refresh_functions(self) -> None:
        rows = function_rows(self.engine, self.registry_view, self.rerun_names())
        self.query_one(FunctionsPane).show(rows)

    # ----------------------------------------------------------------- engine events

    def on_engine_events(self, message: EngineEvents) -> None:
        if not self.is_running:  # shutting down: a batch posted before the bridge stopped
            return  # may arrive after the panes are gone
        events = message.events
        records = [e.record for e in events if isinstance(e, InvokeEnd)]
        if records:
            self.query_one(InvocationLog).add_records(records)
        self.query_one(ConcurrencyGauge).take(events)
        self.query_one(LifecycleTimeline).take(events)
        self.query_one(SourcesPane).take(events)
        self.registry_view.take(events)
        if isinstance(self.screen, RecordScreen):
            self.screen.take(events)  # an Event record's queue row: retried, sent on
        self.take_debug_events(events)
        self.refresh_functions()
        self.query_one(ResponsePane).debugger_waits(debug_waits(self.engine))
        self._report_reloads(e for e in events if isinstance(e, FunctionReloaded))
        for incident in (e for e in events if isinstance(e, DatabaseIncident)):
            severity = "warning" if incident.kind == "recreated" else "error"
            self.notify(incident.message, title="state database", severity=severity, timeout=30)

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

    def on_invocation_log_record_selected(self, message: InvocationLog.RecordSelected) -> None:
        """Open the full record (looked up in the store when the log has no copy)."""
        lifecycle = self.query_one(LifecycleTimeline).model
        self.push_screen(
            RecordScreen(
                message.request_id, message.record, engine=self.engine, lifecycle=lifecycle
            )
        )

    # ----------------------------------------------------------------- invoke

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
            self.post_message(InvocationRefused(name, f"{e.code}: {e.message}"))
            return
        self.post_message(InvocationFinished(name, result))

    def on_invocation_finished(self, message: InvocationFinished) -> None:
        self.query_one(ResponsePane).show_result(message.name, message.result)
        self.rerun_saw(message.result)

    def on_invocation_refused(self, message: InvocationRefused) -> None:
        self.query_one(ResponsePane).show_refusal(message.name, message.message)

    def action_cancel(self) -> None:
        """Cancel the running invocations (the engine shuts their environments down).

        Declines when nothing runs or another screen is on top, so escape then does what the
        focused widget or that screen makes of it (leave the editor, close a dialog).
        """
        running = [w for w in self._invocations if not (w.is_finished or w.is_cancelled)]
        if not (running or self.reruns_invoking()) or self.screen is not self.screen_stack[0]:
            raise SkipAction()
        self.cancel_reruns()
        for worker in running:
            worker.cancel()
            self.query_one(ResponsePane).show_refusal(
                self._invocations[worker], "Cancelled: the invocation was stopped."
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.is_finished:
            self._invocations.pop(event.worker, None)

    def action_help(self) -> None:
        """Every key of the app and the focused pane, read from their bindings."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    # ----------------------------------------------------------------- themes

    def _use_themes(self, requested: str | None) -> None:
        """Register ``themes/*.toml``; start with ``requested``, else the remembered, else ours."""
        ours = load_themes(themes_dir())
        for found in ours.values():
            self.register_theme(found)
        names = ordered_names(ours, self.available_themes)
        self.theme = resolve_theme(requested, self.preferences.theme, names)

    def watch_theme(self, theme: str) -> None:
        """Remember a theme picked while running (the palette's "Theme") for next time."""
        if not self.is_running:  # the start-up choice (e.g. --theme) is for this run only
            return
        try:
            self.preferences.theme = theme
        except OSError as e:
            self.notify(f"Theme not remembered: {e}", severity="warning")

    # ----------------------------------------------------------------- saved events

    def action_save_event(self) -> None:
        """Save the editor's event under a name for the selected function, like the console."""
        if self.screen is not self.screen_stack[0]:
            return
        function = self.query_one(FunctionsPane).selected
        if function is None:
            self.notify("No function selected.", severity="warning")
            return
        text = self.query_one(EventEditor).text
        try:
            check_event_json(text)
            taken = self.saved_events.list(function)
        except (ValueError, OSError) as e:
            self.notify(f"{e}; fix it to save.", title="Not saved", severity="error")
            return

        def save(name: str | None) -> None:
            if name is None:
                return
            try:
                self.saved_events.save(function, name, text)
            except (ValueError, OSError) as e:
                self.notify(str(e), title="Not saved", severity="error")
                return
            self._event_names[function] = name
            self.notify(f"Saved {name!r} for {function}.", title="Event saved")

        prompt = f"Save the event for {function} as"
        current = self._event_names.get(function, "")
        self.push_screen(EventNamePrompt(prompt, current, taken=taken), save)

    def action_load_event(self) -> None:
        """Pick one of the selected function's saved events (or rename, delete) and load it."""
        if self.screen is not self.screen_stack[0]:
            return
        function = self.query_one(FunctionsPane).selected
        if function is None:
            self.notify("No function selected.", severity="warning")
            return
        try:
            names = self.saved_events.list(function)
        except (ValueError, OSError) as e:
            self.notify(str(e), title="No saved events", severity="error")
            return
        if not names:
            self.notify(f"None saved for {function} yet: ctrl+s saves the editor's event.")
            return

        def load(name: str | None) -> None:
            if name is None:
                return
            try:
                text = self.saved_events.load(function, name)
            except (KeyError, OSError) as e:
                self.notify(str(e), title="Not loaded", severity="error")
                return
            self.query_one(EventEditor).set_text(text)
            self._event_names[function] = name
            self.notify(f"Loaded {name!r} for {function}.", title="Event loaded")

        current = self._event_names.get(function)
        self.push_screen(SavedEventsScreen(self.saved_events, function, current), load)

    def on_saved_events_screen_renamed(self, message: SavedEventsScreen.Renamed) -> None:
        if self._event_names.get(message.function) == message.old:
            self._event_names[message.function] = message.new

    def on_saved_events_screen_deleted(self, message: SavedEventsScreen.Deleted) -> None:
        if self._event_names.get(message.function) == message.name:
            del self._event_names[message.function]
