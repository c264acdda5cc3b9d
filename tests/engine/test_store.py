"""The SQLite (WAL) invocation store."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import until_sync
from workbench.engine.model.records import (
    STATUS_CRASH,
    STATUS_ERROR,
    STATUS_SUCCESS,
    STATUS_TIMEOUT,
    InvocationRecord,
)
from workbench.engine.storage import StateDatabaseError
from workbench.engine.storage.db import SCHEMA_VERSION
from workbench.engine.storage.store import COLUMNS, RecordStore


def rec(n: int, **kw) -> InvocationRecord:
    """A record with every field set to something other than its default."""
    base = dict(
        request_id=f"req-{n:06d}",
        function="hello",
        version="3",
        invocation_type="Event",
        trigger="s3",
        started_at=1_700_000_000.0 + n * 0.001,
        duration_ms=2.75 + n / 7,
        billed_ms=117 + n,
        init_duration_ms=113.51,
        memory_size=256,
        max_memory_mb=56,
        cold=True,
        status=STATUS_SUCCESS,
        error_type=None,
        cost=2.0e-7 + 0.25 * 0.117 * 0.0000166667,
        request='{"key": "välue ✓"}',
        response='{"ok": true}',
        log_lines=[
            f"START RequestId: req-{n:06d} Version: 3",
            "[INFO]\t2024-01-01T00:00:00.000Z\tid\thello \u00a0world\r\nnext",
            "REPORT RequestId: x\tDuration: 2.75 ms\t",
        ],
        env_id="env-abc",
        qualifier="live",
        attempt=2,
        dwell_ms=61_000.5,
        paused_ms=3012.25,
        replay_of="req-000000",
        client_context='{"custom": {"k": "v"}}',
        payload=b'{"key": "' + b"x" * 5000 + b'"}',
    )
    base.update(kw)
    return InvocationRecord(**base)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "nested" / "invocations.db"


@pytest.fixture
def store(db_path: Path):
    s = RecordStore(db_path)
    yield s
    s.close()


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# --- schema -------------------------------------------------------------------------------


def test_columns_cover_every_record_field():
    assert COLUMNS == tuple(f.name for f in dataclasses.fields(InvocationRecord))


def test_creates_parent_dirs_wal_and_schema_version(store, db_path):
    assert db_path.parent.is_dir()
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
        indexed = set()
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='invocations'"
        ):
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
            indexed.add(cols)
        assert ("function", "started_at") in indexed
        assert ("started_at",) in indexed
    finally:
        conn.close()


def test_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "future.db"
    conn = raw(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StateDatabaseError, match="newer") as refused:
        RecordStore(path)
    assert str(path) in str(refused.value)


# --- round trip ---------------------------------------------------------------------------


def test_add_recent_round_trip_is_exact(store):
    r = rec(1)
    store.add(r)
    got = store.recent()
    assert got == [r]
    assert got[0] is not r
    assert type(got[0].cold) is bool and type(got[0].log_lines) is list


def test_round_trip_of_none_and_false_fields(store):
    r = rec(
        2,
        trigger=None,
        init_duration_ms=None,
        error_type=None,
        cold=False,
        log_lines=[],
        request="",
        response="",
    )
    store.add(r)
    assert store.get(r.request_id) == r
    got = store.get(r.request_id)
    assert got.cold is False and got.init_duration_ms is None and got.trigger is None


def test_round_trip_of_awkward_floats_and_text(store):
    r = rec(
        3,
        duration_ms=0.1 + 0.2,
        cost=1e-300,
        started_at=1712345678.123456789,
        log_lines=["tab\there", "nul\x00byte", "emoji 🐍", '"quoted" \\ back'],
        error_type="Runtime.ExitError",
        status=STATUS_CRASH,
    )
    store.add(r)
    assert store.get(r.request_id) == r


def test_get_unknown_is_none(store):
    store.add(rec(1))
    assert store.get("no-such-request") is None


def test_get_returns_the_newest_of_retries_with_one_request_id(store):
    first = rec(1, status=STATUS_ERROR, error_type="ValueError")
    retry = rec(1, started_at=first.started_at + 60, status=STATUS_SUCCESS)
    store.add(first)
    store.add(retry)
    assert store.get(first.request_id) == retry
    assert store.count() == 2


# --- queries ------------------------------------------------------------------------------


def test_recent_is_newest_first_regardless_of_insert_order(store):
    records = [rec(n) for n in (5, 1, 9, 3, 7)]
    for r in records:
        store.add(r)
    got = store.recent()
    assert [r.request_id for r in got] == [f"req-{n:06d}" for n in (9, 7, 5, 3, 1)]


def test_recent_ties_on_started_at_go_to_the_later_insert(store):
    a = rec(1, started_at=100.0)
    b = rec(2, started_at=100.0)
    store.add(a)
    store.add(b)
    assert store.recent() == [b, a]


def test_recent_limit(store):
    for n in range(20):
        store.add(rec(n))
    got = store.recent(limit=5)
    assert [r.request_id for r in got] == [f"req-{n:06d}" for n in (19, 18, 17, 16, 15)]
    assert store.recent(limit=0) == []
    assert len(store.recent()) == 20


def test_recent_filters_by_function_and_status(store):
    store.add(rec(1, function="a", status=STATUS_SUCCESS))
    store.add(rec(2, function="b", status=STATUS_ERROR, error_type="ValueError"))
    store.add(rec(3, function="a", status=STATUS_TIMEOUT, error_type="Sandbox.Timedout"))
    store.add(rec(4, function="a", status=STATUS_SUCCESS))
    store.add(rec(5, function="b", status=STATUS_SUCCESS))

    def ids(records):
        return [r.request_id[-1] for r in records]

    assert ids(store.recent("a")) == ["4", "3", "1"]
    assert ids(store.recent("b")) == ["5", "2"]
    assert ids(store.recent(status=STATUS_SUCCESS)) == ["5", "4", "1"]
    assert ids(store.recent("a", status=STATUS_SUCCESS)) == ["4", "1"]
    assert ids(store.recent("a", limit=1, status=STATUS_TIMEOUT)) == ["3"]
    assert store.recent("nobody") == []
    assert store.count() == 5
    assert store.count("a") == 3
    assert store.count("b") == 2
    assert store.count("nobody") == 0


def test_recent_within_a_time_range_bounds_are_inclusive(store):
    for n in range(10):
        store.add(rec(n, started_at=1000.0 + n, function="a" if n % 2 else "b"))

    def ns(records):
        return [int(r.started_at - 1000) for r in records]

    assert ns(store.recent(since=1007.0)) == [9, 8, 7]
    assert ns(store.recent(until=1002.0)) == [2, 1, 0]
    assert ns(store.recent(since=1003.0, until=1006.0)) == [6, 5, 4, 3]
    assert ns(store.recent("a", since=1003.0, until=1006.0)) == [5, 3]
    assert ns(store.recent(since=1004.0, until=1006.0, limit=2)) == [6, 5]
    assert store.recent(since=1011.0) == [] and store.recent(until=999.0) == []
    assert store.recent(since=1006.0, until=1004.0) == []  # an empty range, not an error


def test_paging_back_by_until_reaches_every_record_once_across_equal_starts(store):
    """How the log pages older rows in: ``until`` = the oldest start shown, inclusive, minus
    the ids it already has; records sharing that start (a burst) are neither lost nor repeated."""
    starts = [100.0, 101.0, 101.0, 101.0, 102.0, 103.0, 103.0, 104.0]
    for n, at in enumerate(starts):
        store.add(rec(n, started_at=at))
    seen: list[str] = []
    page = store.recent(limit=3)
    while page:
        seen += [r.request_id for r in page]
        oldest = page[-1].started_at
        ties = sum(1 for rid in seen if store.get(rid).started_at == oldest)
        older = store.recent(limit=3 + ties, until=oldest)
        page = [r for r in older if r.request_id not in seen][:3]
    assert sorted(seen) == sorted(f"req-{n:06d}" for n in range(len(starts)))
    assert len(seen) == len(set(seen))
    assert [store.get(rid).started_at for rid in seen] == sorted(starts, reverse=True)


# --- writing ------------------------------------------------------------------------------


def test_reads_see_their_own_writes_without_explicit_flush(store):
    for n in range(10):
        store.add(rec(n))
        assert store.count() == n + 1


def test_flush_commits_everything_added_so_far(store, db_path):
    for n in range(300):
        store.add(rec(n))
    store.flush()
    conn = raw(db_path)  # an independent connection: proves it is committed, not just queued
    try:
        assert conn.execute("SELECT COUNT(*) FROM invocations").fetchone()[0] == 300
    finally:
        conn.close()


def test_5000_records_added_then_flush(store):
    """(How cheap ``add`` is: benchmarks/store.py.)"""
    records = [rec(n, function=f"f{n % 3}") for n in range(5000)]
    for r in records:
        store.add(r)
    store.flush(timeout=10)
    assert store.count() == 5000
    assert store.count("f0") == 1667
    assert store.recent(limit=1) == [records[-1]]


def writer_in_write(store: RecordStore) -> bool:
    """The store's writer thread is inside ``_write`` (committing, or waiting for the lock)."""
    assert store._thread is not None
    frame = sys._current_frames().get(store._thread.ident)  # type: ignore[arg-type]
    while frame is not None:
        if frame.f_code.co_name == "_write":
            return True
        frame = frame.f_back
    return False


def test_add_does_not_block_while_the_database_is_locked(store, db_path):
    store.add(rec(0))
    store.flush()
    locker = raw(db_path)
    locker.execute("BEGIN IMMEDIATE")  # holds the write lock: the writer thread must wait
    try:
        store.add(rec(1))
        until_sync(lambda: writer_in_write(store), "the writer to wait for the lock")
        for n in range(2, 201):
            store.add(rec(n))  # each returns while the writer is stuck
        assert writer_in_write(store)  # still stuck: the adds did not wait for it
        assert locker.execute("SELECT COUNT(*) FROM invocations").fetchone()[0] == 1
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    store.flush()
    assert store.count() == 201


def test_writer_error_is_logged_and_the_writer_keeps_going(store, caplog):
    caplog.set_level(logging.WARNING, logger="workbench.store")
    good_before = rec(1)
    bad = rec(2, request=object())  # SQLite cannot bind this
    good_after = rec(3)
    store.add(good_before)
    store.add(bad)
    store.add(good_after)
    store.flush()
    assert [r.name for r in caplog.records] and all(
        r.name == "workbench.store" for r in caplog.records
    )
    assert any("req-000002" in r.getMessage() for r in caplog.records)
    # the rest of the batch survived, and the writer still works afterwards
    assert store.get("req-000001") == good_before
    assert store.get("req-000003") == good_after
    assert store.get("req-000002") is None
    store.add(rec(4))
    assert store.count() == 3


def test_unencodable_text_is_stored_with_replacement(store, caplog):
    caplog.set_level(logging.WARNING, logger="workbench.store")
    store.add(rec(1, response="bad \udcff byte"))
    got = store.get("req-000001")
    assert got is not None
    assert got.response == "bad ? byte"
    assert any("unencodable" in r.getMessage() for r in caplog.records)


def test_log_lines_with_surrogates_round_trip_exactly(store):
    r = rec(1, log_lines=["surrogate \udcff escaped"])
    store.add(r)
    assert store.get(r.request_id) == r


def test_a_non_ascii_log_takes_its_own_size_in_the_database(store, db_path):
    """A record's log is capped in bytes (the log limit): the database grows by about that,
    not by up to six times as much in JSON escapes."""
    store.add(rec(0))
    store.flush()
    before = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*"))
    lines = ["日本語のログ " * 1000 for _ in range(100)]  # 1.9 MB as UTF-8; 3.6 MB escaped
    r = rec(1, log_lines=lines)
    store.add(r)
    assert store.get(r.request_id) == r
    after = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*"))
    size = sum(len(x.encode()) for x in lines)
    assert after - before < 1.5 * size, (after - before, size)


# --- lifecycle ----------------------------------------------------------------------------


def test_survives_a_restart(db_path):
    records = [rec(n, function="a" if n % 2 else "b") for n in range(50)]
    first = RecordStore(db_path)
    for r in records:
        first.add(r)
    first.close()  # no explicit flush: close must commit what was queued

    second = RecordStore(db_path)
    try:
        assert second.count() == 50
        assert second.recent(limit=100) == sorted(records, key=lambda r: -r.started_at)
        assert second.get("req-000007") == records[7]
        second.add(rec(50))
        assert second.count() == 51
    finally:
        second.close()


def test_close_is_idempotent_and_stops_the_writer(db_path):
    s = RecordStore(db_path)
    s.add(rec(1))
    s.close()
    s.close()
    assert not s._thread.is_alive()
    s.add(rec(2))  # dropped, not raised
    s.flush()  # no-op
    with pytest.raises(RuntimeError):
        s.recent()
    reopened = RecordStore(db_path)
    try:
        assert [r.request_id for r in reopened.recent()] == ["req-000001"]
    finally:
        reopened.close()


def test_context_manager_closes(db_path):
    with RecordStore(db_path) as s:
        s.add(rec(1))
    assert not s._thread.is_alive()
    with RecordStore.open_readonly(db_path) as ro:
        assert ro.count() == 1


# --- concurrent readers -------------------------------------------------------------------


def test_concurrent_reader_while_writing(store, db_path):
    total = 3000
    done = threading.Event()
    errors: list[BaseException] = []

    seen: list[int] = []

    def write():
        try:
            for n in range(total):
                store.add(rec(n))
                if n % 250 == 249:  # now and then, until the reader has seen this much
                    store.flush()
                    until_sync(lambda n=n: seen and seen[-1] > n, "the reader", step=0.001)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def read() -> bool:
        seen.append(reader.count())
        if done.is_set():
            store.flush()
        return done.is_set() and seen[-1] >= total

    reader = RecordStore.open_readonly(db_path)
    try:
        writer = threading.Thread(target=write)
        writer.start()
        until_sync(read, "the reader to see every record", step=0.002, explain=lambda: seen[-1:])
        writer.join()
        assert not errors
        assert seen == sorted(seen), "a reader saw the count go backwards"
        assert seen[-1] == total
        assert len(set(seen)) > 2, "the reader never saw intermediate states"
        newest = reader.recent(limit=1)
        assert newest == [rec(total - 1)]
    finally:
        reader.close()


def test_readonly_store_in_another_process_reads_while_writer_is_open(store, db_path):
    for n in range(25):
        store.add(rec(n, function="x" if n < 10 else "y"))
    store.flush()
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from workbench.engine.storage.store import RecordStore\n"
        "s = RecordStore.open_readonly(Path(sys.argv[1]))\n"
        "print(s.count(), s.count('x'), s.recent(limit=1)[0].request_id)\n"
        "s.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(db_path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["25", "10", "req-000024"]
    # the writer keeps working while/after the other process read
    store.add(rec(25))
    assert store.count() == 26


def test_readonly_store_cannot_add_and_requires_an_existing_db(store, db_path, tmp_path):
    store.add(rec(1))
    store.flush()
    ro = RecordStore.open_readonly(db_path)
    try:
        with pytest.raises(RuntimeError, match="read-only"):
            ro.add(rec(2))
        assert ro.count() == 1
    finally:
        ro.close()
        ro.close()
    with pytest.raises(FileNotFoundError):
        RecordStore.open_readonly(tmp_path / "missing.db")


def test_a_record_queued_behind_close_is_still_stored(db_path):
    # An add() that passed the "accepting" check just as close() ran lands behind the stop
    # marker; the writer must store it rather than drop it.
    s = RecordStore(db_path)
    locker = raw(db_path)
    locker.execute("BEGIN IMMEDIATE")  # keep the writer busy with the first record
    closer = threading.Thread(target=s.close)
    try:
        s.add(rec(1))
        until_sync(lambda: writer_in_write(s), "the writer to wait for the lock")
        closer.start()
        # the writer holds rec(1): the one item in the queue is close()'s stop marker
        until_sync(lambda: s._queue.qsize() == 1, "close() to queue its stop marker", step=0.001)
        assert s._closed
        s._queue.put(rec(2))  # what a racing add() would have done
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    closer.join(timeout=10)
    assert not closer.is_alive()
    with RecordStore.open_readonly(db_path) as ro:
        assert [r.request_id for r in ro.recent()] == ["req-000002", "req-000001"]


def test_a_record_gives_back_its_whole_event_for_replay(db_path: Path) -> None:
    big = b'{"key": "' + b"x" * 5000 + b'"}'
    with RecordStore(db_path) as store:
        store.add(rec(1, request=big[:4096].decode(), payload=big))
        store.add(rec(2, request='{"a": 1}', payload=None))
        # a record stored before whole events were kept: only a cut excerpt of a long event
        store.add(rec(3, request=big[:4096].decode(), payload=None))
        got = {r.request_id: r for r in store.recent(limit=10)}
    assert got["req-000001"].event() == big
    assert got["req-000002"].event() == b'{"a": 1}'
    assert got["req-000003"].event() is None
    assert got["req-000001"].paused_ms == 3012.25
    assert got["req-000001"].replay_of == "req-000000"
    assert got["req-000001"].client_context == '{"custom": {"k": "v"}}'
