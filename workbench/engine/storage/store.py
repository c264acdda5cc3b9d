"""SQLite (WAL) store of invocation records.

``add`` is on the invoke hot path, so it only puts the record on a queue; one daemon writer
thread, with its own connection, drains the queue and inserts in batches, one transaction per
batch. Readers use a separate connection. ``RecordStore.open_readonly`` lets another process
(the CLI's ``workbench logs``) read while the engine writes: WAL allows that.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path

from ..model.records import InvocationRecord
from .database import Database, GuardedConnection, shared
from .db import connect
from .db_file import StateDatabaseError, check_file, is_corruption, translate

log = logging.getLogger("workbench.store")

BATCH_MAX = 1000  # rows per transaction at most
# This run's last committed records, kept in memory to be written again if the database is found
# damaged and its rescue cannot read them back (see ``database.py``); bounded by both.
KEPT_RECORDS = 5000
KEPT_BYTES = 32 * 1024 * 1024
BATCH_INTERVAL_S = 0.020  # under load, commit at most this often (unless a flush is waiting)
WRITE_ATTEMPTS = 3  # a batch whose transaction fails operationally (busy, I/O) is retried

# Column order == InvocationRecord field order (tests check that every field is covered).
COLUMNS: tuple[str, ...] = (
    "request_id",
    "function",
    "version",
    "invocation_type",
    "trigger",
    "started_at",
    "duration_ms",
    "billed_ms",
    "init_duration_ms",
    "memory_size",
    "max_memory_mb",
    "cold",
    "status",
    "error_type",
    "cost",
    "request",
    "response",
    "log_lines",
    "env_id",
    "qualifier",
    "attempt",
    "dwell_ms",
    "paused_ms",
    "replay_of",
    "client_context",
    "payload",
    "start_wait_ms",
    "stream_chunks",
    "extensions_ms",
    "init_retry_ms",
)

_INSERT = (
    f"INSERT INTO invocations ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM invocations"
# Newest first; id breaks ties between equal start times (later insert = newer).
_NEWEST_FIRST = " ORDER BY started_at DESC, id DESC"


class _Flush:
    """A queue marker: the writer sets ``done`` once everything queued before it is committed."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop(_Flush):
    """A queue marker: commit what came before, then end the writer thread."""

    __slots__ = ()


def _log_json(lines: list[str]) -> str:
    """The log as JSON text, UTF-8 as it is: a non-ASCII log is stored at its own size (a record
    holds up to the log limit), not at up to 12 bytes a character as ``\\uXXXX`` escapes. Lone
    surrogates cannot be UTF-8: such a log keeps the escapes, so it still round-trips exactly."""
    text = json.dumps(lines, ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(lines)
    return text


def _to_row(r: InvocationRecord) -> tuple:
    return (
        r.request_id,
        r.function,
        r.version,
        r.invocation_type,
        r.trigger,
        r.started_at,
        r.duration_ms,
        r.billed_ms,
        r.init_duration_ms,
        r.memory_size,
        r.max_memory_mb,
        int(r.cold),
        r.status,
        r.error_type,
        r.cost,
        r.request,
        r.response,
        _log_json(r.log_lines),
        r.env_id,
        r.qualifier,
        r.attempt,
        r.dwell_ms,
        r.paused_ms,
        r.replay_of,
        r.client_context,
        r.payload,
        r.start_wait_ms,
        r.stream_chunks,
        r.extensions_ms,
        r.init_retry_ms,
    )


def _from_row(row: tuple) -> InvocationRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    values["cold"] = bool(values["cold"])
    values["log_lines"] = json.loads(values["log_lines"])
    return InvocationRecord(**values)


def _size(r: InvocationRecord) -> int:
    """Roughly what a record holds in memory (its large fields)."""
    return (
        len(r.request)
        + len(r.response)
        + len(r.payload or b"")
        + sum(len(line) for line in r.log_lines)
        + 200
    )


def _clean_text(value: object) -> object:
    """Replace lone surrogates (unencodable as UTF-8) so the row can still be stored."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


class RecordStore:
    """Invocation records in SQLite. ``add`` never blocks; reads flush first."""

    def __init__(self, db: Path | Database, *, _readonly: bool = False) -> None:
        self.path = db.home if isinstance(db, Database) else Path(db)
        self._readonly = _readonly
        self._closed = False
        self._accepting = not _readonly  # add() checks only this one flag (hot path)
        self._close_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._queue: queue.SimpleQueue[InvocationRecord | _Flush] = queue.SimpleQueue()
        self._wake = threading.Event()  # cuts the writer's batching pause short (flush/close)
        self._writer_conn: GuardedConnection | None = None
        self._thread: threading.Thread | None = None
        self._db: Database | None = None
        self._owns_db = False
        self._kept: deque[tuple[InvocationRecord, int]] = deque()  # (record, its size)
        self._kept_bytes = 0
        self._generation = 0  # the database generation the writer last wrote to
        self._reader: GuardedConnection | sqlite3.Connection

        if _readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no invocation store at {self.path}")
            check_file(self.path)
            try:
                self._reader = connect(self.path, readonly=True)
            except sqlite3.Error as e:
                raise translate(self.path, e) from None
            return

        self._db, self._owns_db = shared(db)
        try:
            self._writer_conn = self._db.connect()
            self._reader = self._db.connect()
        except BaseException:
            if self._writer_conn is not None:
                self._writer_conn.close()
            if self._owns_db:
                self._db.close()
            raise
        self._thread = threading.Thread(
            target=self._run, name=f"workbench-store-writer:{self.path.name}", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)

    @classmethod
    def open_readonly(cls, path: Path) -> RecordStore:
        """Open an existing store for reading only (e.g. from the CLI while the engine writes).

        ``add`` raises on such a store; ``flush`` and ``close`` are cheap.
        """
        return cls(path, _readonly=True)

    # --- writing -------------------------------------------------------------------------

    def add(self, record: InvocationRecord) -> None:
        """Queue a record for the writer thread. Never blocks.

        After ``close`` the record is dropped (with a warning); on a read-only store it raises.
        """
        if self._accepting:
            self._queue.put(record)
        elif self._readonly:
            raise RuntimeError("RecordStore opened read-only")
        else:
            log.warning("record %s dropped: store %s is closed", record.request_id, self.path)

    def flush(self, timeout: float = 5.0) -> None:
        """Block until every record added before this call is committed.

        Raises ``TimeoutError`` if that takes longer than ``timeout`` seconds.
        """
        if self._closed or self._thread is None:
            return
        marker = _Flush()
        self._queue.put(marker)
        self._wake.set()
        if not marker.done.wait(timeout):
            if not self._thread.is_alive():
                log.error("store writer for %s is not running; records not stored", self.path)
                return
            raise TimeoutError(f"invocation store flush took longer than {timeout} s")

    def close(self) -> None:
        """Flush, stop the writer thread and close the connections. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._accepting = False
        atexit.unregister(self.close)
        if self._thread is not None:
            stop = _Stop()
            self._queue.put(stop)
            self._wake.set()
            self._thread.join(timeout=30.0)
            if self._thread.is_alive():
                log.error("store writer for %s did not stop; pending records lost", self.path)
        with self._read_lock:
            self._reader.close()
        if self._writer_conn is not None and (self._thread is None or not self._thread.is_alive()):
            self._writer_conn.close()
        if self._owns_db and self._db is not None:
            self._db.close()

    def _run(self) -> None:
        conn = self._writer_conn
        assert conn is not None
        last_commit = 0.0
        last_batch_full = False
        while True:
            markers: list[_Flush] = []
            stop = False
            try:
                item = self._queue.get()
                if not isinstance(item, _Flush) and not last_batch_full:
                    # Under load, let records pile up so one transaction carries many.
                    pause = BATCH_INTERVAL_S - (time.monotonic() - last_commit)
                    if pause > 0:
                        self._wake.wait(pause)
                self._wake.clear()

                batch: list[InvocationRecord] = []
                while True:
                    if isinstance(item, _Flush):
                        markers.append(item)
                        if isinstance(item, _Stop):
                            stop = True
                            break  # close() stops accepting before it queues the stop
                    else:
                        batch.append(item)
                        if len(batch) >= BATCH_MAX:
                            break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break

                last_batch_full = len(batch) >= BATCH_MAX
                if batch:
                    self._write(conn, batch)
                    last_commit = time.monotonic()
            except Exception:
                log.exception("store writer: unexpected error; continuing")
            finally:
                for marker in markers:
                    marker.done.set()
            if stop:
                self._write_stragglers(conn)
                conn.close()
                return

    def _write_stragglers(self, conn: GuardedConnection) -> None:
        """Records an add() racing with close() queued after the stop marker: store them too."""
        leftovers: list[InvocationRecord] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Flush):
                item.done.set()
            else:
                leftovers.append(item)
        for start in range(0, len(leftovers), BATCH_MAX):
            self._write(conn, leftovers[start : start + BATCH_MAX])

    def _write(self, conn: GuardedConnection, batch: list[InvocationRecord]) -> None:
        """Insert a batch in one transaction.

        A busy/locked database (or another OperationalError) is retried a few times; a data
        error (a value SQLite cannot bind) falls back to row by row, so one bad record does
        not cost the others. Nothing here raises: failures are logged.
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self._catch_up(conn)
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(_INSERT, [_to_row(r) for r in batch])
                conn.execute("COMMIT")
                self._keep(batch)
                return
            except StateDatabaseError:
                # damaged: the database moved to a rescue file, where the next attempt writes
                self._rollback(conn)
                if attempt < WRITE_ATTEMPTS:
                    continue
                log.exception("store: %d records could not be stored", len(batch))
                return
            except sqlite3.OperationalError:
                self._rollback(conn)
                if attempt < WRITE_ATTEMPTS:
                    log.warning("store: write of %d records failed; retrying", len(batch))
                    continue
                log.exception("store: %d records could not be stored", len(batch))
                return
            except Exception:
                self._rollback(conn)
                log.exception("store: batch of %d records failed; storing one by one", len(batch))
                break
        for record in batch:
            try:
                row = _to_row(record)
                try:
                    conn.execute(_INSERT, row)
                except UnicodeEncodeError:
                    conn.execute(_INSERT, tuple(_clean_text(v) for v in row))
                    log.warning("store: record %s had unencodable text", record.request_id)
            except Exception:
                log.exception("store: record %s could not be stored", record.request_id)
            else:
                self._keep([record])

    def _keep(self, batch: list[InvocationRecord]) -> None:
        """Remember committed records of this run (bounded), for ``_catch_up``."""
        kept = self._kept
        for record in batch:
            size = _size(record)
            kept.append((record, size))
            self._kept_bytes += size
        while kept and (len(kept) > KEPT_RECORDS or self._kept_bytes > KEPT_BYTES):
            self._kept_bytes -= kept.popleft()[1]

    def _catch_up(self, conn: GuardedConnection) -> None:
        """After the database moved to a rescue that could not copy everything, write this
        run's remembered records there again (those it lacks). In the writer thread only, so
        every committed record is either remembered already or written to the new place."""
        db = self._db
        if db is None or db.generation == self._generation:
            return
        self._generation = db.generation
        if db.last_move_whole:
            return
        missing = [
            record
            for record, _ in self._kept
            if not conn.execute(
                "SELECT 1 FROM invocations WHERE request_id = ? AND started_at = ?",
                (record.request_id, record.started_at),
            ).fetchone()
        ]
        if missing:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, [_to_row(r) for r in missing])
            conn.execute("COMMIT")
            log.info("store: %d records of this run written again to %s", len(missing), db.path)

    @staticmethod
    def _rollback(conn: GuardedConnection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except Exception:
                log.exception("store: rollback failed")

    # --- reading -------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        with self._read_lock:
            if self._closed:
                raise RuntimeError("RecordStore is closed")
            try:
                return self._reader.execute(sql, params).fetchall()
            except StateDatabaseError:
                if self._readonly:
                    raise
                # damaged: the database moved to a rescue file; read this run's data there
                return self._reader.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as e:  # a damaged file (read-only: no rescue)
                if is_corruption(e):
                    raise translate(self.path, e) from None
                raise

    def recent(
        self,
        function: str | None = None,
        limit: int = 50,
        *,
        status: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[InvocationRecord]:
        """The newest ``limit`` records (newest first), optionally of one function / status,
        started within ``since`` .. ``until`` (epoch seconds, both inclusive).

        ``until`` is how a viewer pages back: the oldest start it shows, inclusive, so records
        that share that start are not skipped (the viewer drops the ones it has). Both bounds
        are ranges over the ``started_at`` indexes, not scans.
        """
        self.flush()
        if limit <= 0:
            return []
        given = [
            (clause, value)
            for clause, value in (
                ("function = ?", function),
                ("status = ?", status),
                ("started_at >= ?", since),
                ("started_at <= ?", until),
            )
            if value is not None
        ]
        where = [clause for clause, _ in given]
        params: list[object] = [value for _, value in given]
        sql = _SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += _NEWEST_FIRST + " LIMIT ?"
        params.append(limit)
        return [_from_row(row) for row in self._query(sql, tuple(params))]

    def get(self, request_id: str) -> InvocationRecord | None:
        """The record with this request id (the newest, if retries stored several), or None."""
        self.flush()
        rows = self._query(
            _SELECT + " WHERE request_id = ?" + _NEWEST_FIRST + " LIMIT 1", (request_id,)
        )
        return _from_row(rows[0]) if rows else None

    def request_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """The distinct request ids that start with ``prefix`` (newest first, ``limit`` at most).

        A range over the request id index (ids compare as UTF-8 bytes), not a scan.
        """
        self.flush()
        rows = self._query(
            "SELECT request_id FROM invocations WHERE request_id >= ? AND request_id < ?"
            " GROUP BY request_id ORDER BY MAX(started_at) DESC LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [row[0] for row in rows]

    def count(self, function: str | None = None) -> int:
        """How many records are stored (of one function, if given)."""
        self.flush()
        if function is None:
            rows = self._query("SELECT COUNT(*) FROM invocations", ())
        else:
            rows = self._query("SELECT COUNT(*) FROM invocations WHERE function = ?", (function,))
        return int(rows[0][0])

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
