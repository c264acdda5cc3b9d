"""The engine's background work, started with ``EngineSettings(background=True)`` (serve, TUI).

Each part is an object with ``async start()``, ``refresh()`` (the functions changed: called on
the loop after every reload) and ``async close()``:

- the async dispatcher (``async_invoke.py``): drains the durable Event queue;
- bucket folders (``buckets.py``): files under ``buckets/NAME/`` → S3 events;
- schedules (``scheduler.py``): ``rate(...)`` / ``cron(...)`` → Scheduled Events;
- queue mappings (``queue_pollers.py``): local queues → batches of SQS records.

An engine without ``background`` (the one-shot CLI verbs) still accepts Event invocations
into the durable queue; a running serve or TUI on the same state dir processes them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("workbench.sources")


class Source(Protocol):
    async def start(self) -> None: ...

    def refresh(self) -> None: ...

    async def close(self) -> None: ...


def _parts(engine: Engine) -> list[Source]:
    """The sources, in start order (each helper's part is added here as it lands)."""
    from .queue_pollers import QueuePollers

    parts: list[Source] = []
    from .async_invoke import AsyncDispatcher

    parts.append(AsyncDispatcher(engine))
    parts.append(QueuePollers(engine))
    from .scheduler import Scheduler

    parts.append(Scheduler(engine))
    from .buckets import Buckets

    parts.append(Buckets(engine))
    return parts


class Sources:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.parts: list[Source] = []
        self.started = False

    async def start(self) -> None:
        self.parts = _parts(self.engine)
        for part in self.parts:
            await part.start()
        self.started = True

    def refresh(self) -> None:
        if not self.started:
            return
        for part in self.parts:
            try:
                part.refresh()
            except Exception:  # noqa: BLE001 - one source's trouble must not stop a reload
                log.exception("refreshing %s failed", type(part).__name__)

    async def close(self) -> None:
        self.started = False
        for part in reversed(self.parts):
            try:
                await part.close()
            except Exception:  # noqa: BLE001 - close the others regardless
                log.exception("closing %s failed", type(part).__name__)
