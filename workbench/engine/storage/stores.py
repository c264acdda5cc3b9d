"""The engine's stores on one SQLite file: opened together at start, closed together."""

from __future__ import annotations

import os
from pathlib import Path

from .async_queue import AsyncQueue, forget_owner, new_owner
from .database import Database
from .queues import QueueStore
from .store import RecordStore
from .streams import StreamStore

__all__ = ["QueueStore", "RecordStore", "StreamStore", "close_stores", "open_stores"]


def open_stores(
    db: Path | Database,
) -> tuple[RecordStore, AsyncQueue, QueueStore, StreamStore]:
    """The invocation records, the durable async queue (leased under a new owner name), the
    local queues and streams, all in ``db`` (one ``Database``, so all follow it if it moves)."""
    owner = new_owner(os.urandom(16).hex())
    return RecordStore(db), AsyncQueue(db, owner), QueueStore(db), StreamStore(db)


def close_stores(
    records: RecordStore | None,
    async_queue: AsyncQueue | None,
    queues: QueueStore | None,
    streams: StreamStore | None,
    database: Database | None,
) -> None:
    if async_queue is not None:
        async_queue.close()
        forget_owner(async_queue.owner)
    for store in (records, queues, streams, database):  # the database, shared by all, last
        if store is not None:
            store.close()
