"""The Textual workbench: the app runs the engine and the servers beside it, holds the themes,
turns the engine's events into messages (the bridge) and answers the global keys.

The workbench itself is the main screen (``screens/main.py``), its panes in ``widgets/``.
"""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from textual.app import App
from textual.binding import Binding

from ..engine import DatabaseIncident, Engine, EngineSettings, RecursionStopped
from . import css_cache
from .bridge import EngineBridge, EngineEvents
from .commands import WorkbenchCommands
from .pdb_front_end import PdbFrontEnd
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .themes import Preferences, load_themes, ordered_names, resolve_theme, themes_dir


class Served(Protocol):
    """A server started beside the TUI (the Lambda API, the HTTP routes)."""

    @property
    def url(self) -> str: ...

    async def close(self) -> None: ...


ServeFactory = Callable[[Engine], Awaitable[Served]]


def not_served(what: str, address: str, error: OSError) -> str:
    """The header's note of a server that could not listen: ``✕ Lambda API: 127.0.0.1:3001 in
    use``."""
    reason = "in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
    return f"✕ {what}: {address} {reason}"


class WorkbenchApp(App[int]):
    """Runs the engine in-process and shows it on the main screen: functions (with their
    versions and aliases), event, response, log, gauge."""

    CSS_PATH = "app.tcss"
    TITLE = "Workbench"
    SUB_TITLE = "Lambda, locally"
    # The main screen is this mode's: a mode's screen is mounted, panes and all, before on_mount
    # (which fills them once the engine runs); a get_default_screen() one is not yet.
    DEFAULT_MODE = "workbench"

    # The workflow's keys are global: they work over every screen (ctrl+r over the debugger pane
    # invokes what is selected on the workbench under it), so they are bound here, and the main
    # screen, or the pane it hands them to, does the work.
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
        serve: ServeFactory | None = None,
        serve_address: str = "",
        serve_http: ServeFactory | None = None,
        serve_http_address: str = "",
        **engine_options: Any,  # without ``settings``: EngineSettings.served's (prewarm, ...)
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
        # what the header says of each: its URL, or that it could not listen (the toast fades,
        # the header stays for the run: nothing retries)
        self._served: list[str] = []
        self.preferences = Preferences()
        self._use_themes(theme)  # first: an unknown or broken theme stops us before the engine
        self.roots = roots
        # hot reload on: a save shows in the next invocation
        self.settings = settings or EngineSettings.served(state_dir=state_dir, **engine_options)
        self.engine = Engine(roots, self.settings)
        self.bridge = EngineBridge(self.engine, self)
        self.main = MainScreen(self.engine, account_limit=self.settings.account_limit)
        # the debugger pane opens over any screen, so the app shows it, not the main screen
        self.pdb = PdbFrontEnd(self.engine, roots, self)
        self.add_mode(self.DEFAULT_MODE, lambda: self.main)

    async def on_mount(self) -> None:
        await self.engine.start()
        self.pdb.attach()  # breakpoint() stops, in the debugger pane
        self.bridge.start()
        self.main.show_history()
        # the APIs once the first frame is up: importing their server (aiohttp, ~150 ms of the
        # start) is not what the first look at the functions should wait for
        self.call_after_refresh(self._begin_serving)

    def _begin_serving(self) -> None:
        css_cache.save()  # (what the first frame parsed, kept for the next start)
        self.run_worker(self._serve_apis(), name="serve", group="serve")

    async def _serve_apis(self) -> None:
        await self._start_api()
        await self._start_http()

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
            self._served.append(not_served("Lambda API", self._serve_address, e))
        else:
            self._served.append(f"Lambda API {self.api_server.url}")
        self._show_served()

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
            self._served.append(not_served("HTTP routes", self._serve_http_address, e))
        else:
            self._served.append(f"HTTP routes {self.http_server.url}")
        self._show_served()

    def _show_served(self) -> None:
        """The header's subtitle: what could not listen first (a narrow header cuts the end)."""
        self.sub_title = " · ".join(sorted(self._served, key=lambda s: not s.startswith("✕")))

    async def on_unmount(self) -> None:
        self.pdb.detach()
        self.bridge.stop()
        if self.api_server is not None:
            await self.api_server.close()
        if self.http_server is not None:
            await self.http_server.close()
        await self.engine.close()

    def on_engine_events(self, message: EngineEvents) -> None:
        if not self.is_running:  # shutting down: a batch posted before the bridge stopped
            return  # may arrive after the panes are gone
        events = message.events
        if self.pdb.take(events):  # a handler paused at a breakpoint, or went on
            self.main.pdb_paused(self.pdb.paused_functions())
        self.main.take(events)
        for stop in (e for e in events if isinstance(e, RecursionStopped)):
            self.notify(
                f"{stop.source} → {stop.function}: stopped after {stop.count} invocations in "
                f"one chain; the event was {stop.disposition}",
                title="recursive loop detected",
                severity="warning",
                timeout=30,
            )
        for incident in (e for e in events if isinstance(e, DatabaseIncident)):
            self.notify(
                incident.message,
                title="state database",
                severity="warning" if incident.kind == "recreated" else "error",
                timeout=30,
            )

    # ----------------------------------------------------------------- global keys

    def action_invoke(self) -> None:
        self.main.action_invoke()

    def action_cancel(self) -> None:
        self.main.action_cancel()  # declines (SkipAction) when nothing runs

    def action_save_event(self) -> None:
        self.main.action_save_event()

    def action_load_event(self) -> None:
        self.main.action_load_event()

    def action_queue_send(self) -> None:
        self.main.action_queue_send()

    def action_topic_publish(self) -> None:
        self.main.action_topic_publish()

    def action_debugger(self) -> None:
        """Show the debugger pane (after f6 went back to the workbench)."""
        self.pdb.show()

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
