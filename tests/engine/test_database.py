"""The state dir's database under a running engine: deleted, replaced, damaged, or unusable at
start. Real engines, real SQLite files, real file operations as a user would do them."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import make_function
from workbench.engine import DatabaseIncident, Engine, EngineSettings, Subscription
from workbench.engine.storage import QueueStore, RecordStore, StateDatabaseError

ECHO = """
def handler(event, context):
    return event
"""


@pytest.fixture
def root(function_root: Path) -> Path:
    make_function(function_root, "echo", ECHO)
    return function_root


@pytest.fixture
def db(engine_settings: EngineSettings) -> Path:
    assert engine_settings.state_dir is not None
    return engine_settings.state_dir / "workbench.db"


async def incident(events: Subscription, timeout: float = 30.0) -> DatabaseIncident:
    """The next ``DatabaseIncident`` on the stream (the deadline only keeps a failure short)."""

    async def first() -> DatabaseIncident:
        async for event in events:
            if isinstance(event, DatabaseIncident):
                return event
        raise AssertionError("the event stream ended")

    return await asyncio.wait_for(first(), timeout)


async def invoke(engine: Engine, n: int) -> str:
    result = await engine.invoke("echo", json.dumps({"n": n}))
    assert result.function_error is None, result.payload
    return result.record.request_id


def table(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --------------------------------------------------------------------------- deleted


async def test_a_deleted_database_is_put_back_and_nothing_written_after_it_is_lost(
    root: Path, engine_settings: EngineSettings, db: Path
) -> None:
    async with Engine([root], engine_settings) as engine:
        events = engine.subscribe()
        before = await invoke(engine, 1)
        engine.queues.create("jobs")  # type: ignore[union-attr]
        engine.store.flush()  # type: ignore[union-attr]
        old_inode = db.stat().st_ino

        db.unlink()
        # written after the deletion: a version, an alias, a record, a queued event, a message
        version, created = await engine.publish("echo")
        assert created
        engine.create_alias("echo", "live", str(version.number))
        after = await invoke(engine, 2)
        queued = engine.invoke_event("echo", b'{"n": 3}')
        engine.queues.send_message("jobs", "hello")  # type: ignore[union-attr]
        engine.store.flush()  # type: ignore[union-attr]

        said = await incident(events)
        assert said.kind == "recreated"
        assert said.path == said.now_in == str(db)
        assert "deleted" in said.message and str(db) in said.message
        assert db.exists() and db.stat().st_ino != old_inode

    # a restart reads the file at the path: everything is there
    async with Engine([root], engine_settings) as engine:
        assert engine.store.get(before) is not None  # type: ignore[union-attr]
        assert engine.store.get(after) is not None  # type: ignore[union-attr]
        assert [v.number for v in engine.versions("echo")] == [version.number]
        assert engine.alias("echo", "live").function_version == str(version.number)
        event = engine.async_event(queued)
        assert event is not None and event.status == "queued"
        [message] = engine.queues.receive("jobs")  # type: ignore[union-attr]
        assert message.body == "hello"
    assert table(db, "PRAGMA integrity_check") == [("ok",)]


async def test_the_reaper_puts_a_deleted_database_back_with_no_write_to_trigger_it(
    root: Path, engine_settings: EngineSettings, db: Path
) -> None:
    """An idle engine must not leave the path empty: the next CLI command would make a new
    database there and split the state in two."""
    async with Engine([root], engine_settings) as engine:
        events = engine.subscribe()
        request_id = await invoke(engine, 1)
        engine.store.flush()  # type: ignore[union-attr]
        db.unlink()
        said = await incident(events)
        assert said.kind == "recreated"
        assert db.exists()
        # another process's view (a read-only connection of its own) sees this run's records
        assert table(db, f"SELECT count(*) FROM invocations WHERE request_id = '{request_id}'") == [
            (1,)
        ]


async def test_an_opener_waits_for_a_live_engine_to_put_its_deleted_database_back(
    root: Path, engine_settings: EngineSettings, db: Path
) -> None:
    """``workbench queue send`` beside a serve whose database was just deleted: it must land in
    the serve's database, not in a new file the serve never reads."""
    engine_settings.reap_interval_s = 1.0
    async with Engine([root], engine_settings) as engine:
        engine.queues.create("jobs")  # type: ignore[union-attr]
        db.unlink()
        assert not db.exists()
        opened: list[QueueStore] = []
        opener = threading.Thread(target=lambda: opened.append(QueueStore(db)))
        opener.start()  # in a thread: the engine's loop must run to put the file back
        while opener.is_alive():
            await asyncio.sleep(0.05)
        [other] = opened
        try:
            other.send_message("jobs", "from the CLI")
        finally:
            other.close()
        [message] = engine.queues.receive("jobs")  # type: ignore[union-attr]
        assert message.body == "from the CLI"


def test_a_write_ahead_log_without_its_database_is_moved_aside_not_adopted(tmp_path: Path):
    """Leftovers of a database deleted under a workbench that is gone: a new database at the
    path would otherwise replay the old log as its own."""
    path = tmp_path / "workbench.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE stranger (x)")
    conn.execute("INSERT INTO stranger VALUES (1)")
    path.unlink()
    conn.close()  # SQLite sees the file moved: it leaves its -wal and -shm behind
    assert Path(f"{path}-wal").exists()

    store = RecordStore(path)
    store.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    [kept] = tmp_path.glob("workbench.db-wal.orphaned-*")
    assert kept.stat().st_size > 0
    names = {row[0] for row in table(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "invocations" in names and "stranger" not in names
    assert table(path, "PRAGMA integrity_check") == [("ok",)]


# --------------------------------------------------------------------------- replaced


async def test_a_replaced_database_is_left_untouched_and_this_run_goes_on_beside_it(
    root: Path, engine_settings: EngineSettings, db: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE mine (x)")
    conn.execute("INSERT INTO mine VALUES ('theirs')")
    conn.commit()
    conn.close()
    original = other.read_bytes()

    async with Engine([root], engine_settings) as engine:
        events = engine.subscribe()
        before = await invoke(engine, 1)
        engine.store.flush()  # type: ignore[union-attr]
        os.replace(other, db)  # `mv other.db .workbench/workbench.db`
        after = await invoke(engine, 2)
        engine.store.flush()  # type: ignore[union-attr]
        said = await incident(events)
        assert said.kind == "replaced"
        kept = Path(said.now_in)
        assert kept.parent == db.parent and kept != db
        assert str(kept) in said.message and "restart" in said.message
        version, _ = await engine.publish("echo")  # the run goes on, in the kept file
        later = await invoke(engine, 3)
        engine.store.flush()  # type: ignore[union-attr]
        assert db.read_bytes() == original

    assert db.read_bytes() == original
    # opening it does not replay this run's write-ahead log into it
    assert table(db, "SELECT name FROM sqlite_master") == [("mine",)]
    assert table(db, "SELECT x FROM mine") == [("theirs",)]
    ids = {row[0] for row in table(kept, "SELECT request_id FROM invocations")}
    assert {before, after, later} <= ids
    assert table(kept, "SELECT version FROM versions") == [(version.number,)]


# --------------------------------------------------------------------------- damaged


async def test_a_database_cut_short_while_running_keeps_this_runs_records_in_a_rescue(
    root: Path, engine_settings: EngineSettings, db: Path
) -> None:
    async with Engine([root], engine_settings) as engine:  # history on disk (checkpointed)
        for n in range(30):
            await engine.invoke("echo", json.dumps({"n": n, "pad": "x" * 2000}))
    assert db.stat().st_size > 16 * 4096

    async with Engine([root], engine_settings) as engine:
        events = engine.subscribe()
        mine = [await invoke(engine, 100)]
        engine.store.flush()  # type: ignore[union-attr]
        os.truncate(db, 4096)  # `truncate -s 4096 workbench.db`, or a copy cut short
        said = await incident(events)
        assert said.kind == "damaged"
        rescue = Path(said.now_in)
        assert rescue.parent == db.parent and rescue != db
        assert "shrank" in said.message
        assert f"mv {db} {db}.broken; mv {db}-wal {db}.broken-wal;" in said.message
        assert said.message.endswith(f"; mv {rescue} {db}")
        mine += [await invoke(engine, n) for n in (101, 102)]
        assert engine.store.count() >= len(mine)  # type: ignore[union-attr]

    ids = {row[0] for row in table(rescue, "SELECT request_id FROM invocations")}
    assert set(mine) <= ids  # this run's, including the one written before the damage
    assert table(rescue, "PRAGMA integrity_check") == [("ok",)]

    # the remedy, as the message words it, run as a user would: the next start has them all
    remedy = said.message.split("put the rescue in its place: ", 1)[1]
    subprocess.run(["sh", "-c", remedy], capture_output=True, check=False)
    assert not rescue.exists() and Path(f"{db}.broken").exists()
    async with Engine([root], engine_settings) as engine:
        assert all(engine.store.get(request_id) for request_id in mine)  # type: ignore[union-attr]


async def test_a_database_overwritten_with_garbage_while_running_is_reported_and_rescued(
    root: Path, engine_settings: EngineSettings, db: Path
) -> None:
    async with Engine([root], engine_settings) as engine:  # history on disk (checkpointed)
        await invoke(engine, 0)
    async with Engine([root], engine_settings) as engine:
        events = engine.subscribe()
        mine = [await invoke(engine, 1)]
        engine.store.flush()  # type: ignore[union-attr]
        # `dd if=/dev/urandom of=workbench.db conv=notrunc` over the live file, from another
        # process as a user would (a descriptor of ours, closed, would drop SQLite's locks)
        subprocess.run(
            ["dd", "if=/dev/urandom", f"of={db}", f"bs={db.stat().st_size}", "count=1"]
            + ["conv=notrunc", "status=none"],
            check=True,
        )
        # a fresh connection meets the damage at once (the engine's own may read its cache
        # for a while): it moves the run to a rescue, and works there
        probe = QueueStore(engine.database)  # type: ignore[arg-type]
        try:
            assert probe.list() == []
        finally:
            probe.close()
        said = await incident(events)
        assert said.kind == "damaged"
        mine.append(await invoke(engine, 2))
        assert engine.store.get(mine[-1]) is not None  # type: ignore[union-attr]
    ids = {row[0] for row in table(Path(said.now_in), "SELECT request_id FROM invocations")}
    assert set(mine) <= ids


# --------------------------------------------------------------------------- at start


def damaged_files(tmp_path: Path) -> dict[str, bytes]:
    """A garbage file, and a real database cut to half its length."""
    good = tmp_path / "good.db"
    good.unlink(missing_ok=True)
    conn = sqlite3.connect(good)
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    conn.commit()
    conn.close()
    whole = good.read_bytes()
    return {
        "garbage": b"this is not a database\n" * 400,
        "truncated": whole[: len(whole) // 2],
    }


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
async def test_an_unusable_database_at_start_is_a_typed_error_naming_it_and_the_remedy(
    root: Path, engine_settings: EngineSettings, db: Path, tmp_path: Path, damage: str
) -> None:
    db.parent.mkdir(parents=True)
    content = damaged_files(tmp_path)[damage]
    db.write_bytes(content)
    with pytest.raises(StateDatabaseError) as refused:
        async with Engine([root], engine_settings):
            pass
    message = str(refused.value)
    assert f"{db} is not a workbench database" in message
    assert ("truncated" if damage == "truncated" else "not a database") in message
    assert f"mv {db} {db}.broken" in message
    assert refused.value.path == db
    assert db.read_bytes() == content  # never "repaired" behind a back


@pytest.mark.parametrize(
    "verb",
    [
        ["invoke", "echo"],
        ["invoke", "echo", "--async"],
        ["publish", "echo"],
        ["logs"],
        ["queue", "list"],
        ["serve", "--port", "0", "--http-port", "0"],
    ],
    ids=lambda verb: " ".join(verb[:2]),
)
def test_every_cli_verb_refuses_an_unusable_database_with_one_line(
    root: Path, tmp_path: Path, verb: list[str]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    db = state / "workbench.db"
    db.write_bytes(damaged_files(tmp_path)["garbage"])
    where = [str(root)] if verb[0] == "serve" else ["-r", str(root)]
    done = subprocess.run(
        [sys.executable, "-m", "workbench", verb[0], *where, "--state-dir", str(state), *verb[1:]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"workbench: {db} is not a workbench database")
    assert f"mv {db} {db}.broken" in line


def test_the_tui_refuses_an_unusable_database_before_it_starts(root: Path, tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    db = state / "workbench.db"
    db.write_bytes(damaged_files(tmp_path)["truncated"])
    done = subprocess.run(
        [sys.executable, "-m", "workbench", str(root), "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{db} is not a workbench database (it is truncated" in done.stderr


# --------------------------------------------------------------------------- serve, end to end

WRITER = """
import os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(event["word"] + "\\n")
    return event
"""


def test_an_async_invoke_beside_a_serve_whose_database_was_deleted_is_run_by_it(
    tmp_path: Path,
) -> None:
    """The issue's split: ``rm workbench.db`` under serve, then ``workbench invoke --async``
    from the CLI — the event landed in a new file serve never read, and never ran."""
    root, state, out = tmp_path / "functions", tmp_path / "state", tmp_path / "out.txt"
    make_function(root, "writer", WRITER, environment={"OUT": str(out)})
    serve = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", str(root), "--port", "0"]
        + ["--http-port", "0", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: queue.Queue[str] = queue.Queue()
    pump = threading.Thread(target=lambda: [output.put(x) for x in serve.stdout or []])
    pump.daemon = True
    pump.start()
    lines: list[str] = []

    def read_until(prefix: str) -> None:  # a deadline only bounds a failure
        while not (lines and lines[-1].startswith(prefix)):
            lines.append(output.get(timeout=60))

    try:
        read_until("Lambda API on")
        (state / "workbench.db").unlink()
        done = subprocess.run(
            [sys.executable, "-m", "workbench", "invoke", "writer", "--async", "-r", str(root)]
            + ["--state-dir", str(state), "--payload", '{"word": "after"}'],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        request_id = json.loads(done.stdout)["RequestId"]
        read_until(f"END RequestId: {request_id}")  # serve said what happened, then ran it
        assert out.read_text() == "after\n"
        [warning] = [line for line in lines if line.startswith("warning: ")]
        assert f"{state / 'workbench.db'} was deleted while the workbench ran" in warning
        serve.terminate()  # a clean stop settles the event's row
        serve.wait(30)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(30)
    assert table(state / "workbench.db", "SELECT status FROM async_events") == [("succeeded",)]
