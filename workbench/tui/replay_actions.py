"""The app's replay: ``r`` on a row of the invocation log, or on a record screen, runs it again.

A mixin of ``WorkbenchApp``, as ``source_actions.py`` is. The log and the record screen only
ask (a message up); the replay goes the way every invocation the user starts goes
(``start_invocation``), so the response pane shows it running, then its result, and escape
cancels it. The new record reaches the log through the engine's event stream as any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .screens.record import RecordScreen
from .widgets.invocation_log import InvocationLog

if TYPE_CHECKING:
    from ..engine import InvocationRecord
    from .app import WorkbenchApp


def replay_label(request_id: str, record: InvocationRecord | None) -> str:
    """What the response pane calls the replay: ``echo:live replay of 1a2b3c4d``."""
    short = request_id[:8]
    if record is None:
        return f"replay of {short}"
    target = f"{record.function}:{record.qualifier}" if record.qualifier else record.function
    return f"{target} replay of {short}"


class ReplayActions:
    """Replay a logged invocation with its own event, qualifier and client context."""

    def replay(self: WorkbenchApp, request_id: str, record: InvocationRecord | None = None) -> None:
        """Run the invocation ``request_id`` again; the result shows in the response pane."""
        self.start_invocation(
            replay_label(request_id, record), lambda: self.engine.replay(request_id)
        )

    def on_invocation_log_replay_requested(
        self: WorkbenchApp, message: InvocationLog.ReplayRequested
    ) -> None:
        self.replay(message.request_id, message.record)

    def on_record_screen_replay_requested(
        self: WorkbenchApp, message: RecordScreen.ReplayRequested
    ) -> None:
        """From a record screen: back to the workbench, where the response pane shows it."""
        while isinstance(self.screen, RecordScreen):
            self.pop_screen()
        self.replay(message.request_id, message.record)
