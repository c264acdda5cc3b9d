"""The app's event-source actions: send a message to a queue, purge a queue, publish to a topic.

A mixin of ``WorkbenchApp``, as ``version_actions.py`` is: the dialogs in ``screens/message.py``
collect what the user wants, these methods ask the engine (SQLite work in a thread) and say
what happened. A refusal (unknown queue, empty body) comes back as text for the dialog to show.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..engine.sources import TopicError, publish_message
from .screens.message import ConfirmPurge, MessageDialog
from .widgets.sources import SourcesPane

if TYPE_CHECKING:
    from .app import WorkbenchApp


class SourceActions:
    """Queue and topic actions (app keys; purge also on the Sources tab's queue table)."""

    def _sources(self: WorkbenchApp) -> SourcesPane | None:
        """The Sources pane, if no dialog is open."""
        if self.screen is not self.screen_stack[0]:
            return None
        return self.query_one(SourcesPane)

    def action_queue_send(self: WorkbenchApp) -> None:
        """Put a message on a local queue (its name and body asked in a dialog)."""
        pane = self._sources()
        if pane is None:
            return

        async def send(queue: str, body: str) -> str | None:
            store = self.engine.queues
            if store is None:
                return "The queues are not open (the engine is not running)."
            try:
                await asyncio.to_thread(store.send, queue, body)
            except ValueError as e:  # QueueError: unknown queue, empty or oversized body
                return str(e)
            return None

        def sent(queue: str | None) -> None:
            if queue is not None:
                self.notify(f"Sent a message to {queue}.", title="Message sent")
                pane.refresh_now()

        # the names now, even if the Sources tab never showed them (one small SQLite read)
        store = self.engine.queues
        known = [q.name for q in store.list()] if store is not None else pane.queue_names()
        dialog = MessageDialog("queue", send, known=known, target=pane.selected_queue())
        self.push_screen(dialog, sent)

    def action_queue_purge(self: WorkbenchApp) -> None:
        """Delete every message of the queue selected in the Sources tab (asks first)."""
        pane = self._sources()
        if pane is None:
            return
        queue = pane.selected_queue()
        store = self.engine.queues
        if queue is None or store is None:
            self.notify("No queue to purge: select one in the Sources tab.", severity="warning")
            return

        async def purge() -> None:
            try:
                gone = await asyncio.to_thread(store.purge, queue)
            except ValueError as e:
                self.notify(str(e), title="Not purged", severity="error")
                return
            self.notify(f"Purged {queue}: {gone} message{'s' * (gone != 1)} deleted.")
            pane.refresh_now()

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(purge(), group="queue-purge", exit_on_error=False)

        self.push_screen(ConfirmPurge(queue), answered)

    def action_topic_publish(self: WorkbenchApp) -> None:
        """Publish a message to a topic: every function subscribed to it gets an SNS event."""
        pane = self._sources()
        if pane is None:
            return

        async def publish(topic: str, message: str) -> str | None:
            # on the loop: it commits each subscriber's event to the async queue, whose
            # connection lives here
            try:
                publish_message(self.engine, topic, message)
            except TopicError as e:  # unknown topic, empty or oversized message
                return str(e)
            return None

        def published(topic: str | None) -> None:
            if topic is not None:
                self.notify(f"Published to {topic}.", title="Message published")

        self.push_screen(MessageDialog("topic", publish, known=pane.topic_names()), published)
