"""The database file itself: is it one, is it whole, who else has it open.

SQLite reports a damaged file as a bare ``file is not a database`` from deep inside the first
query; this module checks the file before SQLite opens it and words every way it can be unusable
as a ``StateDatabaseError`` that names the file and what to do.

It also keeps a fresh database from adopting a write-ahead log that is not its own: when
``workbench.db`` is deleted under a running workbench, its ``-wal`` and ``-shm`` stay behind, and
SQLite would replay that log into (and share that index with) a new file at the same path —
corrupting both sides. A live workbench re-creates the file itself (``database.py``), so an
opener waits for it; leftovers nobody uses are moved aside.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shlex
import sqlite3
import stat
import threading
import time
from pathlib import Path

log = logging.getLogger("workbench.database")

HEADER = b"SQLite format 3\x00"
RECREATE_WAIT_S = 5.0  # a live workbench re-creates a deleted database within a reaper tick
_POLL_S = 0.05

# SQLite's primary result codes for a file that is not (or no longer) a sound database.
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26

# The files of a database this process has open through SQLite, by (device, inode). Their header
# is never read with a file descriptor of ours: closing any descriptor of a file drops every
# POSIX lock this process holds on it, SQLite's included.
_open_files: dict[tuple[int, int], int] = {}
_open_lock = threading.Lock()


class StateDatabaseError(Exception):
    """The state dir's database cannot be used: the message names the file and what to do."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


def move_aside_hint(path: Path) -> str:
    """What to tell a user whose database is unusable."""
    return (
        f"move it aside (mv {_q(path)} {_q(str(path) + '.broken')}) to start with a fresh one; "
        "published versions and history in it are lost"
    )


def not_a_database(path: Path, reason: str) -> StateDatabaseError:
    return StateDatabaseError(
        path, f"{path} is not a workbench database ({reason}): {move_aside_hint(path)}"
    )


def is_corruption(error: BaseException) -> bool:
    """Is this SQLite's word for a damaged file (as opposed to busy, full, missing table)?"""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.DatabaseError)
        and code is not None
        and (code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB))
    )


def translate(path: Path, error: BaseException) -> StateDatabaseError:
    """A failure to open or migrate ``path``, worded for the user."""
    if isinstance(error, StateDatabaseError):
        return error
    if is_corruption(error):
        return not_a_database(path, str(error))
    if isinstance(error, sqlite3.Error):
        return StateDatabaseError(
            path,
            f"cannot use {path} ({error}): check that {path.parent} is writable, the disk has "
            "space, and no other program holds the file locked",
        )
    return StateDatabaseError(path, f"cannot use {path}: {error}")


def sidecars(path: Path) -> tuple[Path, Path]:
    """The write-ahead log and its shared-memory index beside a WAL-mode database."""
    return Path(f"{path}-wal"), Path(f"{path}-shm")


def file_id(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def note_open(ident: tuple[int, int]) -> None:
    with _open_lock:
        _open_files[ident] = _open_files.get(ident, 0) + 1


def note_closed(ident: tuple[int, int]) -> None:
    with _open_lock:
        left = _open_files.get(ident, 0) - 1
        if left > 0:
            _open_files[ident] = left
        else:
            _open_files.pop(ident, None)


def check_file(path: Path) -> None:
    """Refuse a file that is not a whole SQLite database, before SQLite opens it.

    A missing or empty file is fine (SQLite makes it a new database). Cheap: one stat and a
    100-byte read of the header, whose page size and page count say how long the file must be.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise StateDatabaseError(path, f"cannot read {path}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise StateDatabaseError(
            path, f"{path} is a folder, not the workbench's database: move it aside"
        )
    if st.st_size == 0:
        return
    with _open_lock:
        if file_id(st) in _open_files:
            return  # checked when this process opened it; reading it here would drop its locks
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as e:
        raise StateDatabaseError(path, f"cannot read {path}: {e.strerror or e}") from None
    if len(header) < 100 or not header.startswith(HEADER):
        raise not_a_database(path, "file is not a database")
    raw = int.from_bytes(header[16:18], "big")
    page_size = 65536 if raw == 1 else raw
    if page_size < 512 or page_size & (page_size - 1):
        raise not_a_database(path, f"its header gives a page size of {raw}")
    pages = int.from_bytes(header[28:32], "big")
    counter_valid = header[24:28] == header[92:96]
    expected = pages * page_size if counter_valid and pages else 0
    if st.st_size < expected or st.st_size % page_size:
        want = f"{expected:,}" if expected else f"a multiple of {page_size:,}"
        raise not_a_database(path, f"it is truncated: {st.st_size:,} bytes, {want} expected")


# --------------------------------------------------------------------------- who uses it


def users_lock_path(path: Path) -> Path:
    return Path(f"{path}.lock")


def hold_users_lock(path: Path) -> int:
    """A shared flock held for as long as this process uses the database at ``path``.

    flock locks belong to one open file description, so they are unaffected by SQLite's POSIX
    locks and by other descriptors of the same file being closed.
    """
    lock = users_lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise StateDatabaseError(
            path, f"cannot use {path.parent} ({e.strerror or e}): check that it is writable"
        ) from None
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def in_use_elsewhere(path: Path) -> bool:
    """Does another workbench (another holder of the users lock) have ``path`` open?"""
    try:
        fd = os.open(users_lock_path(path), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def settle_leftovers(path: Path, wait_s: float = RECREATE_WAIT_S) -> None:
    """Before opening ``path``: never let a new database adopt the log of a deleted one.

    Called before this process takes its own users lock. If the database is missing but its
    ``-wal``/``-shm`` are there, it was deleted under a workbench: if one still runs, wait for
    it to put the file back; if none does, move the leftovers aside.
    """
    wal, shm = sidecars(path)
    if path.exists() or not (wal.exists() or shm.exists()):
        return
    deadline = time.monotonic() + wait_s
    while in_use_elsewhere(path) and not path.exists() and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    if path.exists():
        return
    if in_use_elsewhere(path):
        raise StateDatabaseError(
            path,
            f"{path} was deleted while a workbench was using it, and that workbench has not put "
            "it back yet: try again in a moment, or restart that workbench (it keeps the data)",
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if wal.exists() and wal.stat().st_size > 0:
        kept = wal.with_name(f"{wal.name}.orphaned-{stamp}")
        os.replace(wal, kept)
        log.warning("%s was missing beside its write-ahead log: moved the log to %s", path, kept)
    else:
        wal.unlink(missing_ok=True)
    shm.unlink(missing_ok=True)


def check_database(path: Path) -> None:
    """Would an engine start on the database at ``path``? Raises ``StateDatabaseError`` if not.

    For front ends that start the engine where an exception cannot be shown as one line (the
    TUI starts it inside the app): the file is checked before SQLite opens it, then opened and
    read once.
    """
    settle_leftovers(path)
    check_file(path)
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise translate(path, e) from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as e:
        raise translate(path, e) from None
    finally:
        conn.close()
