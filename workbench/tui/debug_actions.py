"""The app's side of live debugging: follow the engine's pdb sessions and show one at a time.

A mixin of ``WorkbenchApp``, as ``source_actions.py`` is. The app attaches as a debugger front
end while it runs (so a handler's ``breakpoint()`` stops instead of being skipped); the engine's
``DebugEvent``s arrive in the bridge's batches and update ``PdbSessions``; the oldest paused
session is shown in a ``DebuggerScreen``, the others wait (the screen says how many) and the
next opens when the shown one ends. Nothing here awaits a session: invocations run in workers
and the engine relays pdb on the loop, so the rest of the app carries on meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine import DebugEvent
from .debug_view import PdbSessions
from .screens.debugger import HIDDEN, DebuggerScreen
from .widgets.response import ResponsePane

if TYPE_CHECKING:
    from .app import WorkbenchApp

NOT_PAUSED = "The handler is running: pdb takes a command when it stops at its prompt again."
OVER = "This pdb session is over."


class DebugActions:
    """Attach while running; open, switch and close the debugger pane from the event stream."""

    pdb_sessions: PdbSessions
    # sessions open when the user went back to the workbench (f6): they do not reopen the pane
    _pdb_hidden: set[str] | None

    def debug_start(self: WorkbenchApp) -> None:
        self.pdb_sessions = PdbSessions()
        self._pdb_hidden = None
        self.engine.debugger.attach()

    def debug_stop(self: WorkbenchApp) -> None:
        if hasattr(self, "pdb_sessions"):
            self.engine.debugger.detach()

    def debugger_screen(self: WorkbenchApp) -> DebuggerScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, DebuggerScreen)), None)

    def take_debug_events(self: WorkbenchApp, events: list[object]) -> None:
        """The app's engine batch: update the sessions and the pane."""
        debug = [e for e in events if isinstance(e, DebugEvent)]
        if not debug:
            return
        screen = self.debugger_screen()
        for event in debug:
            self.pdb_sessions.take(event)
            if screen is not None and not screen.closing and event.request_id == screen.request_id:
                screen.take(event)
        self._arrange_debugger()
        paused = {s.function for s in self.pdb_sessions.paused()}
        self.query_one(ResponsePane).pdb_paused(paused)

    def _arrange_debugger(self: WorkbenchApp) -> None:
        """Show the session on screen, or the next paused one, or close the pane."""
        sessions = self.pdb_sessions
        screen = self.debugger_screen()
        shown = screen.request_id if screen is not None and not screen.closing else None
        if shown is not None and shown in sessions.open:
            screen.set_waiting(sessions.waiting(shown))  # type: ignore[union-attr]
            return
        following = sessions.next_paused()
        if screen is not None:
            if following is None:
                screen.close()
            else:
                screen.show(following, sessions.waiting(following.request_id))
            return
        if following is None:
            return
        hidden = self._pdb_hidden
        if hidden is not None and all(s.request_id in hidden for s in sessions.paused()):
            return  # the user went back to the workbench; f6 brings the pane back
        self._open_debugger(following.request_id)

    def _open_debugger(self: WorkbenchApp, request_id: str) -> None:
        self._pdb_hidden = None
        session = self.pdb_sessions.open[request_id]
        screen = DebuggerScreen(
            session,
            send=self._pdb_send,
            detach=self._pdb_detach,
            roots=self.roots,
            waiting=self.pdb_sessions.waiting(request_id),
        )

        def closed(how: str | None) -> None:
            if how == HIDDEN:
                self._pdb_hidden = set(self.pdb_sessions.open)
                self.notify(
                    "The handler stays paused: f6 shows the debugger again.", title="Debugger"
                )
            else:
                self._arrange_debugger()  # another session may have paused meanwhile

        self.push_screen(screen, closed)

    def _pdb_send(self: WorkbenchApp, request_id: str, line: str) -> str | None:
        try:
            self.engine.debugger.send(request_id, line)
        except KeyError:
            return OVER
        except ValueError:
            return NOT_PAUSED
        return None

    def _pdb_detach(self: WorkbenchApp, request_id: str) -> None:
        try:
            self.engine.debugger.detach_session(request_id)
        except KeyError:
            pass  # ended meanwhile: its ended event closes the pane

    def action_debugger(self: WorkbenchApp) -> None:
        """Show the debugger pane (after f6 went back to the workbench)."""
        if self.debugger_screen() is not None:
            return
        following = self.pdb_sessions.next_paused()
        if following is None:
            self.notify("No invocation is paused in the debugger.")
            return
        self._open_debugger(following.request_id)
