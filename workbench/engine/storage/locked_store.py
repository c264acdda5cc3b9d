"""What the queue and stream stores share: one connection to the state dir's database behind a
lock, write transactions, and listeners told of each write through this store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .database import Database, shared


class LockedStore:
    """A store on ``db`` (a path, or a ``Database`` shared with others). ``close()`` when done."""

    def __init__(self, db: Path | Database) -> None:
        self._db, self._owns_db = shared(db)
        self._conn = self._db.connect()
        self._lock = threading.RLock()
        self._listeners: list[Callable[[str], None]] = []

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._owns_db:
                self._db.close()

    def add_listener(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(name)`` (on the writer's thread) after each write through this
        store; returns the function that removes it. Other processes' writes are seen by
        polling."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _notify(self, name: str) -> None:
        for callback in list(self._listeners):
            callback(name)

    def _write(self, work: Callable[[], Any]) -> Any:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction: committed, or rolled back."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                self._conn.execute("COMMIT")
                return result
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
