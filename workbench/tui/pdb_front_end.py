"""The TUI as pdb's front end: follow the engine's pdb sessions and show one at a time.

The TUI attaches as the engine's debugger front end while it runs (so a handler's
``breakpoint()`` stops instead of being skipped); the engine's ``DebugEvent``s arrive in the
bridge's batches and update ``PdbSessions``; the oldest paused session is shown in a
``DebuggerScreen`` over whatever screen is on top, the others wait (the screen says how many) and
the next opens when the shown one ends. Nothing here awaits a session: invocations run in
workers and the engine relays pdb on the loop, so the rest of the TUI carries on meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.app import App

from ..engine import DebugEvent, Engine
from .debug_view import PdbSessions
from .screens.debugger import HIDDEN, DebuggerScreen

NOT_PAUSED = "The handler is running: pdb takes a command when it stops at its prompt again."
OVER = "This pdb session is over."


class PdbFrontEnd:
    """Attach while running; open, switch and close the debugger pane from the event stream."""

    def __init__(self, engine: Engine, roots: list[Path], app: App[Any]) -> None:
        self.engine = engine
        self.roots = roots  # where the pane finds a handler's source
        self.app = app  # the pane is pushed over whatever screen is on top
        self.sessions = PdbSessions()
        # sessions open when the user went back to the workbench (f6): they do not reopen the pane
        self._hidden: set[str] | None = None
        self._attached = False

    def attach(self) -> None:
        """Once the engine runs: from now on a ``breakpoint()`` stops, in the pane."""
        self.engine.debugger.attach()
        self._attached = True

    def detach(self) -> None:
        if self._attached:
            self.engine.debugger.detach()
            self._attached = False

    def screen(self) -> DebuggerScreen | None:
        """The debugger pane, if it is open (on top or under another screen)."""
        return next((s for s in self.app.screen_stack if isinstance(s, DebuggerScreen)), None)

    def paused_functions(self) -> set[str]:
        return {s.function for s in self.sessions.paused()}

    def take(self, events: Sequence[object]) -> bool:
        """An engine batch: update the sessions and the pane; whether it held pdb events."""
        debug = [e for e in events if isinstance(e, DebugEvent)]
        if not debug:
            return False
        screen = self.screen()
        for event in debug:
            self.sessions.take(event)
            if screen is not None and not screen.closing and event.request_id == screen.request_id:
                screen.take(event)
        self._arrange()
        return True

    def show(self) -> None:
        """f6: show the debugger pane again (after f6 on it went back to the workbench)."""
        if self.screen() is not None:
            return
        following = self.sessions.next_paused()
        if following is None:
            self.app.notify("No invocation is paused in the debugger.")
            return
        self._open(following.request_id)

    def _arrange(self) -> None:
        """Show the session on screen, or the next paused one, or close the pane."""
        sessions = self.sessions
        screen = self.screen()
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
        hidden = self._hidden
        if hidden is not None and all(s.request_id in hidden for s in sessions.paused()):
            return  # the user went back to the workbench; f6 brings the pane back
        self._open(following.request_id)

    def _open(self, request_id: str) -> None:
        self._hidden = None
        session = self.sessions.open[request_id]
        screen = DebuggerScreen(
            session,
            send=self._send,
            detach=self._detach_session,
            roots=self.roots,
            waiting=self.sessions.waiting(request_id),
        )

        def closed(how: str | None) -> None:
            if how == HIDDEN:
                self._hidden = set(self.sessions.open)
                self.app.notify(
                    "The handler stays paused: f6 shows the debugger again.", title="Debugger"
                )
            else:
                self._arrange()  # another session may have paused meanwhile

        self.app.push_screen(screen, closed)

    def _send(self, request_id: str, line: str) -> str | None:
        try:
            self.engine.debugger.send(request_id, line)
        except KeyError:
            return OVER
        except ValueError:
            return NOT_PAUSED
        return None

    def _detach_session(self, request_id: str) -> None:
        try:
            self.engine.debugger.detach_session(request_id)
        except KeyError:
            pass  # ended meanwhile: its ended event closes the pane
