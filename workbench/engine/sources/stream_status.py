"""What a stream mapping's shard pollers show of themselves (the TUI's Sources tab): their
state, how far behind they are (Lambda's IteratorAge), their checkpoint and what they gave up.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Literal

PollerState = Literal["Starting", "Polling", "Invoking", "Retrying"]


@dataclass
class LaneState:
    """What the Sources view shows of one poller: how far behind it is, and what it does."""

    shard: str
    lane: int
    checkpoint: int = 0
    oldest_pending: float | None = None  # arrival of the oldest record read and not yet done
    state: PollerState = "Starting"
    retries: int = 0
    discarded: int = 0  # records given up on (retries or age), sent to on_failure if set
    last_error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)  # set after each checkpoint

    @property
    def iterator_age_ms(self) -> int:
        """Lambda's IteratorAge: how old the oldest record not yet processed is (0 when caught
        up)."""
        if self.oldest_pending is None:
            return 0
        return max(0, int((time.time() - self.oldest_pending) * 1000))


@dataclass(frozen=True)
class ShardStatus:
    """One poller of one mapping, as the Sources tab lists it."""

    function: str
    stream: str
    shard: str
    lane: int
    state: PollerState
    iterator_age_ms: int
    checkpoint: str  # the sequence number of the last record done ("" before any)
    retries: int
    discarded: int
    last_error: str | None
