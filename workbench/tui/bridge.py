"""The one place engine events become Textual messages.

The engine can emit thousands of events a second; posting a message per event would freeze the
screen. The bridge wakes when its subscription has something, posts everything queued as one
``EngineEvents`` batch, then waits ``FLUSH_INTERVAL_S`` before the next: at most ten batches a
second under load, and no wake-up at all while the engine is idle (an idle TUI is idle).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from textual.message import Message

from ..engine import Engine, Subscription

FLUSH_INTERVAL_S = 0.1


@dataclass
class EngineEvents(Message):
    """A batch of engine events, oldest first (may start with a ``Dropped`` marker)."""

    events: Sequence[object]


class EngineBridge:
    """Follows ``engine``'s event stream and posts batches to ``target`` (the app)."""

    def __init__(self, engine: Engine, target: object) -> None:
        self.engine = engine
        self.target = target
        self.subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """On the app's loop (the engine's): follow the events from now on."""
        self.subscription = self.engine.subscribe(maxsize=50_000)
        self._task = asyncio.get_running_loop().create_task(self._follow(self.subscription))

    async def _follow(self, subscription: Subscription) -> None:
        while self.subscription is subscription:
            await subscription.wait()
            self.flush()
            await asyncio.sleep(FLUSH_INTERVAL_S)

    def flush(self) -> None:
        if self.subscription is None:
            return
        events = self.subscription.get_nowait()
        if events:
            self.target.post_message(EngineEvents(events))  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
