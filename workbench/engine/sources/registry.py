"""Which event source serves each trigger type, registered against the type (config's
``TRIGGERS`` registry, below this layer, declares the types themselves).

A source the engine runs in the background is a part of ``Sources`` (``manager.py``): built per
engine from ``part``, in the order registered here, and run by every background engine (shared)
or by the one holding the state dir's ``sources.lock`` (exclusive). A type served some other
way registers what serves it all the same, with no part, so every type has its entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..config.triggers import TRIGGERS
from .buckets import Buckets
from .host import SourceHost
from .queue_pollers import QueuePollers
from .scheduler import Scheduler
from .stream_pollers import StreamPollers


class Source(Protocol):
    async def start(self) -> None: ...

    def refresh(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class EventSource:
    """What serves one trigger type's events."""

    trigger_type: str
    serves: str  # what it does, in a few words
    part: Callable[[SourceHost], Source] | None = None  # the background part, if any
    exclusive: bool = False  # one engine per state dir runs it (two would report twice)


SOURCES: dict[str, EventSource] = {}


def register_source(source: EventSource) -> None:
    if source.trigger_type not in TRIGGERS:
        raise ValueError(
            f"no trigger type {source.trigger_type!r} to serve; the types: "
            f"{', '.join(TRIGGERS.names())}"
        )
    if source.trigger_type in SOURCES:
        raise ValueError(f"trigger type {source.trigger_type!r} has its source already")
    SOURCES[source.trigger_type] = source


def background_parts(engine: SourceHost, *, exclusive: bool) -> list[Source]:
    """A fresh part for each registered background source, shared or exclusive ones."""
    return [
        s.part(engine) for s in SOURCES.values() if s.part is not None and s.exclusive == exclusive
    ]


for _source in (  # registration order is start order
    EventSource("queue", "queue pollers: batches of SQS records", QueuePollers),
    EventSource("schedule", "the scheduler: Scheduled Events", Scheduler, exclusive=True),
    EventSource("s3", "bucket folders: files under <root>/buckets/NAME/", Buckets, exclusive=True),
    EventSource("sns", "topics: each publish fans out to the subscribers (publish_message)"),
    EventSource(
        "kinesis",
        "stream pollers: batches of Kinesis records, in order per shard",
        StreamPollers,
        exclusive=True,  # one reader per checkpoint, or each record would run twice
    ),
    EventSource("http", "the HTTP trigger server of serve and the TUI (workbench.api)"),
):
    register_source(_source)
