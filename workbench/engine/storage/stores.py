"""The engine's stores on one SQLite file: opened together at start, closed together."""

from __future__ import annotations

import os
from pathlib import Path

from .async_queue import AsyncQueue, forget_owner, new_owner
from .database import Database
from .queues import QueueStore
from .store import RecordStore


def open_stores(db: Path | Database) -> tuple[RecordStore, AsyncQueue, QueueStore]:
    """The invocation records, the durable async queue (leased under a new owner name) and the
    local queues, all in ``db`` (one ``Database``, so all follow it if the file moves)."""
    return RecordStore(db), AsyncQueue(db, new_owner(os.urandom(16).hex())), QueueStore(db)


def close_stores(
    records: RecordStore | None,
    async_queue: AsyncQueue | None,
    queues: QueueStore | None,
    database: Database | None,
) -> None:
    if async_queue is not None:
        async_queue.close()
        forget_owner(async_queue.owner)
    for store in (records, queues, database):  # the database, shared by all, last
        if store is not None:
            store.close()
