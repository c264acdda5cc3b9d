"""The engine's background work, started with ``EngineSettings(background=True)`` (serve, TUI).

Each part is an object with ``async start()``, ``refresh()`` (the functions changed: called on
the loop after every reload) and ``async close()``:

- the async dispatcher (``async_invoke.py``): drains the durable Event queue;
- the background source of each trigger type that has one (``registry.py``): queue mappings
  (``queue_pollers.py``: local queues → batches of SQS records), schedules (``scheduler.py``:
  ``rate(...)`` / ``cron(...)`` → Scheduled Events), bucket folders (``buckets.py``: files
  under ``buckets/NAME/`` → S3 events), stream mappings (``stream_pollers.py``: local streams
  → batches of Kinesis records, per shard).

Two workbenches may run on one state dir (serve beside the TUI). The dispatcher and the queue
mappings share the work safely (their claims and receives are atomic), but two schedulers would
fire every schedule twice, two bucket watchers report every file twice and two stream pollers
run every record twice, so those run in one engine only: the one holding ``sources.lock`` in the
state dir. Another engine tries for the lock every ``LOCK_RETRY_S`` and takes them over when the
first stops.

An engine without ``background`` (the one-shot CLI verbs) still accepts Event invocations
into the durable queue; a running serve or TUI on the same state dir processes them.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from pathlib import Path

from .async_invoke import AsyncDispatcher
from .host import SourceHost
from .registry import Source, background_parts
from .scheduler import Scheduler
from .stream_pollers import StreamPollers
from .stream_status import ShardStatus

log = logging.getLogger("workbench.sources")

LOCK_FILE = "sources.lock"
LOCK_RETRY_S = 2.0


def _shared_parts(engine: SourceHost) -> list[Source]:
    """The parts every background engine runs (they share the state dir's work safely)."""
    return [AsyncDispatcher(engine), *background_parts(engine, exclusive=False)]


def _exclusive_parts(engine: SourceHost) -> list[Source]:
    """The parts one engine per state dir runs (two would report everything twice)."""
    return background_parts(engine, exclusive=True)


class SourcesLock:
    """``sources.lock`` in the state dir, held (flock) while this engine runs the exclusive
    parts; the lock goes with the process, so a killed engine never leaves it taken."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / LOCK_FILE
        self._fd = -1

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Sources:
    def __init__(self, engine: SourceHost) -> None:
        self.engine = engine
        self.parts: list[Source] = []
        self.started = False
        self.exclusive = False  # the schedules, bucket folders, streams?
        self._lock: SourcesLock | None = None
        self._waiting: asyncio.Task[None] | None = None

    @property
    def scheduler(self) -> Scheduler | None:
        """The running schedules, if this engine runs them (see the module docstring)."""
        if not self.started:
            return None
        return next((p for p in self.parts if isinstance(p, Scheduler)), None)

    def stream_statuses(self) -> list[ShardStatus]:
        """Each kinesis mapping's pollers (empty unless this engine runs the mappings)."""
        if not self.started:
            return []
        return [s for p in self.parts if isinstance(p, StreamPollers) for s in p.statuses()]

    async def start(self) -> None:
        self.parts = _shared_parts(self.engine)
        for part in self.parts:
            await part.start()
        self.started = True
        self._lock = SourcesLock(self.engine.state_dir)
        if self._lock.acquire():
            await self._start_exclusive()
        else:
            log.warning(
                "another workbench (pid %s) runs the schedules, bucket folders and stream mappings "
                "of %s; this "
                "one takes them over when it stops",
                self._lock.holder(),
                self.engine.state_dir,
            )
            self._waiting = asyncio.get_running_loop().create_task(self._wait_for_lock())

    async def _start_exclusive(self) -> None:
        self.exclusive = True
        for part in _exclusive_parts(self.engine):
            self.parts.append(part)
            await part.start()

    async def _wait_for_lock(self) -> None:
        assert self._lock is not None
        while not self._lock.acquire():
            await asyncio.sleep(LOCK_RETRY_S)
        log.warning("this workbench now runs the schedules, bucket folders and stream mappings")
        await self._start_exclusive()

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
        if self._waiting is not None:
            self._waiting.cancel()
            await asyncio.gather(self._waiting, return_exceptions=True)
        for part in reversed(self.parts):
            try:
                await part.close()
            except Exception:  # noqa: BLE001 - close the others regardless
                log.exception("closing %s failed", type(part).__name__)
        if self._lock is not None:
            self._lock.release()
