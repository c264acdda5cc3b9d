"""The engine's handle on ``workbench.db``: one file, kept where the user expects it, or a loud
word saying where this run's data went instead.

Every store (records, versions and aliases, the async queue, local queues) connects through one
``Database``, whose connections are ``GuardedConnection``s. The database file can change under a
running engine, and SQLite will not notice:

- **deleted** (``rm .workbench/workbench.db``): the open connections go on writing into the
  unlinked file while the next CLI command creates a new, empty one at the path — a silent split,
  and worse, the new file shares the old one's ``-wal``/``-shm``. Here the engine puts the file
  back from its still-open connection (SQLite's backup API: records, versions, aliases, queues,
  the async queue) before anyone else can, and says so.
- **replaced** by another file: that file is never written; this run goes on in a copy of its
  own database beside it (``workbench.kept-<time>.db``), and the user is told to restart.
- **damaged** (corrupt, truncated): this run goes on in ``workbench.rescued-<time>.db`` — a full
  copy if the open connection can still read one, else a fresh database holding what could be
  read (this run's records at least) — and the user is told how to put it in place.

The check is one ``stat`` of the path against an ``O_PATH`` descriptor of the file we opened:
before each write transaction (``BEGIN``, or a lone ``INSERT``/``UPDATE``/``DELETE``) and on the
engine's reaper tick. After a move, each connection reopens at the new place before its next
statement outside a transaction (an integer compare on the hot path).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from ..model.events import DatabaseIncident, EventBus
from .db import connect, migrate
from .db_file import (
    StateDatabaseError,
    _q,
    check_file,
    file_id,
    hold_users_lock,
    is_corruption,
    note_closed,
    note_open,
    settle_leftovers,
    sidecars,
    translate,
)

log = logging.getLogger("workbench.database")

Kind = Literal["recreated", "replaced", "damaged"]
RETRY_AFTER_S = 10.0  # a move that failed (disk full, say) is tried again this much later
_WRITES = ("BEGIN", "INSERT", "UPDATE", "DELETE", "REPLACE")
# What a damaged database's rescue copies when no whole copy can be read: (table, filter). The
# records only of this run (the history can be large); everything else that is still readable.
_SALVAGE: tuple[tuple[str, str], ...] = (
    ("invocations", "WHERE started_at >= ?"),
    ("versions", ""),
    ("aliases", ""),
    ("queues", ""),
    ("queue_messages", ""),
    ("queue_dedup", ""),
    ("streams", ""),
    ("stream_records", ""),
    ("stream_checkpoints", ""),
    ("async_events", "WHERE status IN ('queued', 'running') OR enqueued_at >= ?"),
)


class _Rows:
    """A statement's rows, read at once, so a damaged page is met inside ``execute``."""

    __slots__ = ("_rows", "_next", "rowcount", "lastrowid")

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._rows = cursor.fetchall()
        self._next = 0
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class GuardedConnection:
    """A connection that follows its ``Database`` when the file moves (see the module doc).

    Offers what the stores use of ``sqlite3.Connection``: ``execute``, ``executemany``,
    ``in_transaction``, ``close``. Not thread-safe on its own; each store serialises its use.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._generation = 0
        self._conn: sqlite3.Connection | None = self._open()

    def _open(self) -> sqlite3.Connection:
        """A connection where the database is now (a damaged file met here moves it first)."""
        while True:
            self._generation, path = self._db.where()
            try:
                return connect(path)
            except sqlite3.DatabaseError as e:
                if not is_corruption(e) or self._generation != self._db.generation:
                    raise
                self._db.damaged(self._generation, str(e))
                if self._db.generation == self._generation:  # could not move: say so
                    raise self._db.damaged(self._generation, str(e)) from None

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    def _ready(self, sql: str) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        if not conn.in_transaction:
            if sql.lstrip()[:7].upper().startswith(_WRITES):
                self._db.check()
            if self._generation != self._db.generation:
                conn = self._reopen()
        return conn

    def _reopen(self) -> sqlite3.Connection:
        old = self._conn
        self._conn = self._open()
        if old is not None:
            try:
                old.close()
            except sqlite3.Error:
                pass
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        conn = self._ready(sql)
        try:
            return _Rows(conn.execute(sql, params))
        except sqlite3.DatabaseError as e:
            raise self._failed(conn, e) from None

    def executemany(self, sql: str, rows: Any) -> _Rows:
        conn = self._ready(sql)
        try:
            return _Rows(conn.executemany(sql, rows))
        except sqlite3.DatabaseError as e:
            raise self._failed(conn, e) from None

    def _failed(self, conn: sqlite3.Connection, error: sqlite3.DatabaseError) -> Exception:
        """A damaged file: end our transaction (the rescue waits for writers), rescue, and
        raise a ``StateDatabaseError`` saying where this run goes on. Anything else as it was."""
        if not is_corruption(error):
            return error
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        return self._db.damaged(self._generation, str(error))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Database:
    """``workbench.db`` for one engine (or one store opened on its own): opened, checked and
    migrated once, watched while open. ``close()`` when done."""

    def __init__(self, path: Path, *, bus: EventBus | None = None) -> None:
        self.home = Path(path)  # where the user expects it
        self.path = self.home  # where this run reads and writes (a side file after an incident)
        self.generation = 0  # bumped by every move; connections reopen when theirs is older
        self.last_move_whole = True  # did the last move copy everything (not a salvage)?
        self.incidents: list[DatabaseIncident] = []
        self.started_at = time.time()
        self._bus = bus
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._loop_thread = threading.get_ident()
        self._lock = threading.RLock()
        self._retry_at = 0.0
        self._closed = False
        self.home.parent.mkdir(parents=True, exist_ok=True)
        settle_leftovers(self.home)
        self._users = hold_users_lock(self.home)
        try:
            check_file(self.home)
            self._open_at(self.home, new=True)
        except BaseException:
            os.close(self._users)
            raise

    # ----------------------------------------------------------------- connections

    def connect(self) -> GuardedConnection:
        if self._closed:
            raise RuntimeError(f"database {self.home} is closed")
        return GuardedConnection(self)

    def where(self) -> tuple[int, Path]:
        with self._lock:
            return self.generation, self.path

    def _open_at(self, path: Path, *, new: bool) -> None:
        """Our own two connections (one holds writers off during a move, one copies) and the
        pins that identify the file and its write-ahead log."""
        hold = snap = None
        try:
            hold = connect(path)
            if new:
                migrate(hold, path)
            hold.execute("SELECT count(*) FROM sqlite_master").fetchone()
            snap = connect(path)
            snap.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (sqlite3.Error, RuntimeError) as e:
            for conn in (hold, snap):
                if conn is not None:
                    conn.close()
            raise translate(path, e) from None
        pin = os.open(path, os.O_PATH | os.O_CLOEXEC)
        wal, _ = sidecars(path)
        try:
            wal_pin = os.open(wal, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            wal_pin = -1
        self._hold, self._snap, self._pin, self._wal_pin = hold, snap, pin, wal_pin
        self._ident = file_id(os.fstat(pin))
        self._size = os.fstat(pin).st_size
        note_open(self._ident)

    def _let_go(self, hold: sqlite3.Connection, snap: sqlite3.Connection, pins: list[int]) -> None:
        for conn in (hold, snap):
            try:
                conn.close()
            except sqlite3.Error:
                pass
        for fd in pins:
            if fd >= 0:
                os.close(fd)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._let_go(self._hold, self._snap, [self._pin, self._wal_pin])
            note_closed(self._ident)
            os.close(self._users)

    # ----------------------------------------------------------------- watching

    def check(self) -> None:
        """Is the file at our path still the one we have open, and whole? If not, move (see
        the module doc). Cheap when nothing happened: a stat and an fstat."""
        if self._closed:
            return
        try:
            state, _ = self._state()
        except OSError:  # a move closed the pin under us: look again under the lock
            state = "replaced"
        if state == "ok":
            return
        with self._lock:
            if self._closed or time.monotonic() < self._retry_at:
                return
            state, detail = self._state()  # another thread may have moved it meanwhile
            if state == "ok":
                return
            self._move(state, detail)

    def _state(self) -> tuple[Kind | Literal["ok"], str]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "recreated", ""
        except OSError:
            return "ok", ""  # unreadable folder, say: nothing we can decide
        mine = os.fstat(self._pin)
        if file_id(st) != self._ident:
            return "replaced", ""
        if mine.st_size < self._size:
            # SQLite only ever grows the file (the workbench never VACUUMs): it was cut short
            return "damaged", f"it shrank from {self._size:,} to {mine.st_size:,} bytes"
        self._size = mine.st_size
        return "ok", ""

    def damaged(self, generation: int, reason: str) -> StateDatabaseError:
        """A connection met a damaged page: rescue (once), and the error to raise."""
        with self._lock:
            if (
                generation == self.generation
                and not self._closed
                and time.monotonic() >= self._retry_at
            ):
                self._move("damaged", reason)
            where = self.path
        return StateDatabaseError(
            self.home, f"{self.home} is damaged ({reason}); this run goes on in {where}"
        )

    # ----------------------------------------------------------------- moving

    def _move(self, kind: Kind, reason: str) -> None:
        """Copy what the open connection sees to its new place and switch every connection
        there. Holds the write lock on the old file meanwhile, so no commit is left behind."""
        old_hold, old_snap = self._hold, self._snap
        old_pins, old_ident = [self._pin, self._wal_pin], self._ident
        home = self.path
        stamp = time.strftime("%Y%m%d-%H%M%S")
        tmp = home.with_name(f".{home.name}.{kind}-{os.getpid()}-{os.urandom(4).hex()}")
        locked = _begin_immediate(old_hold)
        try:
            whole = _copy(old_snap, tmp, verify=kind == "damaged")
            if not whole:
                self._salvage(old_snap, tmp)
            target = home
            if kind == "recreated":
                self._clear_sidecars(home)
                try:
                    os.link(tmp, home)
                except FileExistsError:  # another file appeared there meanwhile
                    kind = "replaced"
            if kind != "recreated":
                label = "kept" if kind == "replaced" else "rescued"
                target = _free_name(self.home.with_name(f"{self.home.stem}.{label}-{stamp}.db"))
                os.replace(tmp, target)
            else:
                tmp.unlink()
            self._open_at(target, new=not whole)
        except Exception as e:  # noqa: BLE001 - disk full, permissions: say so, try later
            tmp.unlink(missing_ok=True)
            self._retry_at = time.monotonic() + RETRY_AFTER_S
            if locked:
                _rollback(old_hold)
            log.exception("could not move the database %s", home)
            self._announce(
                kind,
                home,
                f"{self.home}: {_what(kind, reason)}, and it could not be moved ({e}); this run "
                "keeps its data in the file it has open until it stops: restart the workbench",
            )
            return
        if locked:
            _rollback(old_hold)
        if kind == "replaced" and self._is_ours(sidecars(home)[0], old_pins[1]):
            # The new file would otherwise read our log as its own on its next open.
            try:
                old_snap.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error:
                pass
        self._let_go(old_hold, old_snap, old_pins)
        note_closed(old_ident)
        self.path = target
        self.last_move_whole = whole
        self.generation += 1
        self._announce(kind, target, _message(kind, self.home, target, reason, whole))

    def _is_ours(self, path: Path, pin: int) -> bool:
        if pin < 0:
            return False
        try:
            return file_id(os.stat(path)) == file_id(os.fstat(pin))
        except OSError:
            return False

    def _clear_sidecars(self, home: Path) -> None:
        """The deleted file's ``-wal``/``-shm`` must not be adopted by the one put back."""
        wal, shm = sidecars(home)
        if self._is_ours(wal, self._wal_pin) or not wal.exists():
            wal.unlink(missing_ok=True)
        else:
            os.replace(wal, wal.with_name(f"{wal.name}.orphaned-{time.strftime('%Y%m%d-%H%M%S')}"))
        shm.unlink(missing_ok=True)

    def _salvage(self, src: sqlite3.Connection, tmp: Path) -> None:
        """A fresh database at ``tmp`` with what can still be read from the damaged one."""
        for leftover in (tmp, *sidecars(tmp)):
            leftover.unlink(missing_ok=True)
        dst = connect(tmp)
        try:
            migrate(dst, tmp)
            for table, where in _SALVAGE:
                params = (self.started_at,) if "?" in where else ()
                try:
                    rows = src.execute(f"SELECT * FROM {table} {where}", params).fetchall()
                    if rows:
                        marks = ", ".join("?" * len(rows[0]))
                        dst.execute("BEGIN")
                        dst.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)
                        dst.execute("COMMIT")
                except sqlite3.Error as e:
                    if dst.in_transaction:
                        dst.execute("ROLLBACK")
                    log.warning("rescue of %s: table %s could not be read: %s", tmp, table, e)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            dst.close()

    def _announce(self, kind: Kind, now_in: Path, message: str) -> None:
        event = DatabaseIncident(kind, str(self.home), str(now_in), message, time.time())
        self.incidents.append(event)
        bus, loop = self._bus, self._loop
        if bus is None or not bus.wants(DatabaseIncident):  # nobody follows them: log it
            log.warning("%s", message)
        if bus is None:
            return
        if loop is None or threading.get_ident() == self._loop_thread:
            bus.publish(event)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(bus.publish, event)


def _begin_immediate(conn: sqlite3.Connection) -> bool:
    """Take the write lock (waits out writers, up to the busy timeout); False if it cannot."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.Error as e:
        log.warning("database move without the write lock: %s", e)
        return False


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _copy(src: sqlite3.Connection, tmp: Path, *, verify: bool) -> bool:
    """SQLite's online backup of everything ``src`` sees into ``tmp``; with ``verify``, only a
    copy that passes ``quick_check`` counts. False: no sound whole copy could be made."""
    dst = sqlite3.connect(tmp, isolation_level=None)
    try:
        src.backup(dst)
        if verify and dst.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
            return False
        return True
    except sqlite3.DatabaseError as e:
        if not is_corruption(e):
            raise
        return False
    finally:
        dst.close()


def _free_name(path: Path) -> Path:
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _what(kind: Kind, reason: str) -> str:
    if kind == "recreated":
        return "it was deleted while the workbench ran"
    if kind == "replaced":
        return "it was replaced by another file while the workbench ran"
    return f"it is damaged ({reason})"


def _message(kind: Kind, home: Path, target: Path, reason: str, whole: bool) -> str:
    if kind == "recreated":
        return (
            f"{home} was deleted while the workbench ran: put back from the open database "
            "(invocation records, versions, aliases, queues and the async queue are all kept)"
        )
    if kind == "replaced":
        return (
            f"{home} was replaced by another file while the workbench ran: that file is left "
            f"untouched, and this run goes on in {target} (everything it had, kept): restart the "
            "workbench to use the new file"
        )
    kept = (
        "a whole copy of it, as this run could still read it"
        if whole
        else "a fresh database with what could still be read: this run's invocation records, "
        "and versions, aliases and queues where readable"
    )
    broken = str(home) + ".broken"
    aside = "; ".join(
        f"mv {_q(str(home) + end)} {_q(broken + end)}" for end in ("", "-wal", "-shm")
    )
    return (
        f"{home} is damaged ({reason}): this run goes on in {target} ({kept}). To keep it, stop "
        "the workbench, move the damaged file and its -wal/-shm (where there are any) aside and "
        f"put the rescue in its place: {aside}; mv {_q(target)} {_q(home)}"
    )


def shared(db: Path | Database) -> tuple[Database, bool]:
    """The ``Database`` a store uses, and whether the store opened it (and closes it)."""
    if isinstance(db, Database):
        return db, False
    return Database(Path(db)), True


__all__ = ["Database", "GuardedConnection", "StateDatabaseError", "shared"]
