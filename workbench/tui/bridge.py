"""The one place engine events become Textual messages.

The engine can emit thousands of events a second; posting a message per event would freeze the
screen. The bridge drains its subscription on a timer and posts one ``EngineEvents`` batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.message import Message
from textual.timer import Timer

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
        self.timer: Timer | None = None

    def start(self) -> None:
        self.subscription = self.engine.subscribe(maxsize=50_000)
        self.timer = self.target.set_interval(FLUSH_INTERVAL_S, self.flush)  # type: ignore[attr-defined]

    def flush(self) -> None:
        if self.subscription is None:
            return
        events = self.subscription.get_nowait()
        if events:
            self.target.post_message(EngineEvents(events))  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
