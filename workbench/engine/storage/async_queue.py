"""The durable queue of accepted Event invocations, in SQLite (the ``async_events`` table).

An event is committed before ``invoke_event`` returns its request id (WAL, synchronous=NORMAL:
the commit is in the WAL file, so a killed process loses nothing; only a power cut could).
The dispatcher (``async_invoke.py``) claims due rows atomically, each with a lease naming this
engine (``pid:token``); rows left ``running`` by an engine that is gone (its pid is dead, or its
lease ran out) go back to ``queued``: every accepted event runs at least once.

Ended rows (succeeded, failed, expired, discarded) are kept as history, the newest
``KEEP_ENDED`` of them (older ones are pruned as new ones end); an ended row drops an event
bigger than ``KEEP_PAYLOAD``, so the history stays small.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .database import Database, shared

LOCK_FILE = "async-dispatcher.lock"
LEASE_S = 30.0  # a claim's lease; the dispatcher renews its leases well before they end
KEEP_ENDED = 10_000  # ended rows kept for history
KEEP_PAYLOAD = 64 * 1024  # an ended row keeps its event only up to this size
ENDED = ("succeeded", "failed", "expired", "discarded")

_LIVE_OWNERS: set[str] = set()  # the queues open in this process (their leases are alive)

_EVENT_COLUMNS = (
    "request_id, function, qualifier, trigger, status, attempts, enqueued_at, due_at, "
    "finished_at, condition, destination, last_error"
)
_CLAIM_COLUMNS = (
    "id, request_id, function, qualifier, payload, trigger, enqueued_at, attempts, throttles, "
    "last_response, last_version, chain"
)


@dataclass(frozen=True, slots=True)
class AsyncEvent:
    """One accepted Event invocation, as the queue keeps it (for the TUI, the CLI, tests)."""

    request_id: str
    function: str
    qualifier: str | None
    trigger: str | None
    status: str  # queued | running | succeeded | failed | expired | discarded
    attempts: int  # attempts started (throttled ones are not counted)
    enqueued_at: float
    due_at: float
    finished_at: float | None
    condition: str | None  # Success | RetriesExhausted | EventAgeExceeded | ...
    destination: str | None  # where its invocation record went ("function:audit")
    last_error: str | None


@dataclass(slots=True)
class Claimed:
    """A row claimed for one attempt (``attempts`` already counts it)."""

    id: int
    request_id: str
    function: str
    qualifier: str | None
    payload: bytes
    trigger: str | None
    enqueued_at: float
    attempts: int
    throttles: int
    last_response: bytes | None
    last_version: str | None
    chain: str | None = None  # the trace header of the chain it continues (model/trace.py)


@dataclass(slots=True)
class Outcome:
    """How an attempt ended, to be written with the next batch.

    ``status`` ``queued`` puts the row back (``due_at``; ``uncount`` takes back the attempt, for
    a throttle or an interrupted attempt); any other status ends it.
    """

    id: int
    status: str
    due_at: float = 0.0
    uncount: bool = False
    throttled: bool = False
    condition: str | None = None
    destination: str | None = None
    last_error: str | None = None
    last_response: bytes | None = None
    last_version: str | None = None


def _pid_of(owner: str) -> int | None:
    head, _, _ = owner.partition(":")
    return int(head) if head.isdigit() else None


def _is_dead(owner: str | None) -> bool:
    """Is the engine that holds this lease gone?"""
    pid = _pid_of(owner or "")
    if pid is None:
        return True
    if pid == os.getpid():
        return owner not in _LIVE_OWNERS  # an engine of ours that never closed
    import psutil  # (here: ~8 ms of every start, for a check an engine rarely makes)

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True  # no such process (a reused pid is caught by the lease running out)


def dispatcher_running(state_dir: Path) -> bool:
    """Is a background engine (serve, the TUI) processing the queue in ``state_dir``?"""
    path = Path(state_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


class DispatcherLock:
    """Held (shared, so two engines may both hold it) while a dispatcher runs."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


_DUE_FUNCTIONS = """
WITH RECURSIVE queued(name) AS (
    SELECT (SELECT MIN(function) FROM async_events WHERE status = 'queued')
    UNION ALL
    SELECT (SELECT MIN(function) FROM async_events WHERE status = 'queued' AND function > name)
    FROM queued WHERE name IS NOT NULL
)
SELECT name FROM queued WHERE name IS NOT NULL AND EXISTS (
    SELECT 1 FROM async_events WHERE status = 'queued' AND function = name AND due_at <= ?
)
"""


class AsyncQueue:
    """The ``async_events`` table, through one connection used on the engine's loop."""

    def __init__(self, db: Path | Database, owner: str) -> None:
        self._db, self._owns_db = shared(db)
        self.path = self._db.home
        self.owner = owner  # "pid:token": whose leases are ours
        self._conn = self._db.connect()
        self.on_enqueue: Callable[[], None] | None = None  # the dispatcher's wake-up
        self._ended_since_prune = 0

    def close(self) -> None:
        self._conn.close()
        if self._owns_db:
            self._db.close()

    # --- accepting ----------------------------------------------------------------------

    def enqueue(
        self,
        request_id: str,
        function: str,
        qualifier: str | None,
        payload: bytes,
        trigger: str | None,
        now: float,
        chain: str | None = None,
    ) -> None:
        """Insert and commit (autocommit: one statement, one transaction) the new event."""
        self._conn.execute(
            "INSERT INTO async_events (request_id, function, qualifier, payload, trigger, "
            "enqueued_at, due_at, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (request_id, function, qualifier, payload, trigger, now, now, chain),
        )
        if self.on_enqueue is not None:
            self.on_enqueue()

    # --- dispatching --------------------------------------------------------------------

    def data_version(self) -> int:
        """Changes whenever another connection commits (another process enqueuing)."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def due_functions(self, now: float) -> list[str]:
        """The functions with a queued event due by ``now``: each function with a queued
        event found by one seek in (status, function, due_at) from the last, then asked for
        a due one by another (not every due row read, as a DISTINCT over them would)."""
        rows = self._conn.execute(_DUE_FUNCTIONS, (now,)).fetchall()
        return [row[0] for row in rows]

    def next_due(self) -> float | None:
        row = self._conn.execute(
            "SELECT MIN(due_at) FROM async_events WHERE status = 'queued'"
        ).fetchone()
        return row[0]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE: two engines' claims never interleave)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def claim(
        self, function: str, n: int, now: float, enqueued_before: float | None = None
    ) -> list[Claimed]:
        """Up to ``n`` of ``function``'s due rows, oldest first, leased to us (in a
        ``transaction``); with ``enqueued_before``, only rows accepted before then."""
        age = "" if enqueued_before is None else " AND enqueued_at < ?"
        rows = self._conn.execute(
            "UPDATE async_events SET status = 'running', attempts = attempts + 1, "
            "lease_owner = ?, lease_until = ? WHERE id IN (SELECT id FROM async_events "
            f"WHERE status = 'queued' AND due_at <= ? AND function = ?{age} "
            f"ORDER BY due_at, id LIMIT ?) RETURNING {_CLAIM_COLUMNS}",
            (
                self.owner,
                now + LEASE_S,
                now,
                function,
                *(() if enqueued_before is None else (enqueued_before,)),
                n,
            ),
        ).fetchall()
        claimed = [Claimed(*row) for row in rows]
        claimed.sort(key=lambda c: c.id)
        return claimed

    def settle(self, outcomes: list[Outcome], now: float) -> None:
        """Write how attempts ended (in a ``transaction``)."""
        if outcomes:
            self._settle(outcomes, now)

    def _settle(self, outcomes: list[Outcome], now: float) -> None:
        back = [o for o in outcomes if o.status == "queued"]
        ended = [o for o in outcomes if o.status != "queued"]
        if back:
            self._conn.executemany(
                "UPDATE async_events SET status = 'queued', due_at = ?, "
                "attempts = attempts - ?, throttles = throttles + ?, lease_owner = NULL, "
                "lease_until = NULL, last_error = COALESCE(?, last_error), "
                "last_response = COALESCE(?, last_response), "
                "last_version = COALESCE(?, last_version) WHERE id = ? AND lease_owner = ?",
                [
                    (
                        o.due_at,
                        int(o.uncount),
                        int(o.throttled),
                        o.last_error,
                        o.last_response,
                        o.last_version,
                        o.id,
                        self.owner,
                    )
                    for o in back
                ],
            )
        if ended:
            self._conn.executemany(
                "UPDATE async_events SET status = ?, attempts = attempts - ?, condition = ?, "
                "destination = ?, "
                "last_error = COALESCE(?, last_error), finished_at = ?, lease_owner = NULL, "
                "lease_until = NULL, "
                "payload = CASE WHEN length(payload) > ? THEN X'' ELSE payload END "
                "WHERE id = ? AND lease_owner = ?",
                [
                    (
                        o.status,
                        int(o.uncount),
                        o.condition,
                        o.destination,
                        o.last_error,
                        now,
                        KEEP_PAYLOAD,
                        o.id,
                        self.owner,
                    )
                    for o in ended
                ],
            )
            self._ended_since_prune += len(ended)
            if self._ended_since_prune >= KEEP_ENDED // 10:
                self._ended_since_prune = 0
                self._prune()

    def _prune(self) -> None:
        """Keep the newest ``KEEP_ENDED`` ended rows."""
        row = self._conn.execute(
            "SELECT id FROM async_events WHERE status IN (?, ?, ?, ?) "
            "ORDER BY id DESC LIMIT 1 OFFSET ?",
            (*ENDED, KEEP_ENDED),
        ).fetchone()
        if row is not None:
            self._conn.execute(
                "DELETE FROM async_events WHERE status IN (?, ?, ?, ?) AND id <= ?",
                (*ENDED, row[0]),
            )

    def renew(self, now: float) -> None:
        """Extend our leases: attempts in flight are alive."""
        self._conn.execute(
            "UPDATE async_events SET lease_until = ? WHERE status = 'running' AND lease_owner = ?",
            (now + LEASE_S, self.owner),
        )

    def recover(self, now: float) -> int:
        """Put back rows whose engine is gone (dead pid, or an expired lease); how many.

        An interrupted attempt is not counted: it runs again under the same number.
        """
        rows = self._conn.execute(
            "SELECT lease_owner, MIN(lease_until) FROM async_events WHERE status = 'running' "
            "AND lease_owner IS NOT ? GROUP BY lease_owner",
            (self.owner,),
        ).fetchall()
        dead = [owner for owner, _ in rows if _is_dead(owner)]
        if not dead and all((until or 0) >= now for _, until in rows):
            return 0
        back = (
            "UPDATE async_events SET status = 'queued', attempts = MAX(attempts - 1, 0), "
            "lease_owner = NULL, lease_until = NULL WHERE status = 'running' AND "
        )
        count = 0
        with self.transaction():
            for owner in dead:
                count += self._conn.execute(back + "lease_owner IS ?", (owner,)).rowcount
            count += self._conn.execute(
                back + "lease_owner IS NOT ? AND lease_until < ?", (self.owner, now)
            ).rowcount
        return count

    # --- reading ------------------------------------------------------------------------

    def get(self, request_id: str) -> AsyncEvent | None:
        row = self._conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM async_events WHERE request_id = ?", (request_id,)
        ).fetchone()
        return AsyncEvent(*row) if row else None

    def list(self, function: str | None = None, limit: int = 100) -> list[AsyncEvent]:
        """The newest ``limit`` events, newest first."""
        if function is None:
            rows = self._conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM async_events ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        else:
            rows = self._conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM async_events WHERE function = ? "
                "ORDER BY id DESC LIMIT ?",
                (function, limit),
            ).fetchall()
        return [AsyncEvent(*row) for row in rows]

    def unfinished(self) -> int:
        """Events queued or running (the status index: cheap, however long the history)."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM async_events WHERE status IN ('queued', 'running')"
        ).fetchone()
        return int(row[0])


def new_owner(token: str) -> str:
    """This engine's lease name; ``forget_owner`` when it closes."""
    owner = f"{os.getpid()}:{token}"
    _LIVE_OWNERS.add(owner)
    return owner


def forget_owner(owner: str) -> None:
    _LIVE_OWNERS.discard(owner)
