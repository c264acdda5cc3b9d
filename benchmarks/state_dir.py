"""What keeping the state dir safe costs: watching ``workbench.db``, putting a deleted one
back, sweeping a dead engine's tmp folder, the environment watchdog.

    python benchmarks/state_dir.py [--statements N] [--rounds R] [--records M]

Statements: the same statement through a raw ``sqlite3`` connection (the baseline) and through
a ``GuardedConnection`` of a ``Database`` on the same file, in alternating rounds so a shared
machine's drift weighs on both alike. A read pays a generation compare (and reading its rows at
once); a write transaction also pays the file check (a ``stat`` and an ``fstat``) at ``BEGIN``.
Reported as median and p99 per statement, and as ratios against the baseline.

Put back: a database holding M invocation records (2 KB each) is deleted under an open
``Database`` and put back by its next write: the pause that write sees (backup of the open
database, link, reopen), against a plain write transaction measured in the same run.

Sweep: a dead engine's tmp folder holding 1,020 files (the largest leftover the issue saw) is
removed by the next engine's sweep: the time the sweep thread takes (the start does not wait).

Watchdog: telling it about an environment (``watch``), the first time (which starts its process)
and after, against a bare fork/exec of ``true`` measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

from workbench.engine.runtime.tmp_dirs import EngineTmp  # noqa: E402
from workbench.engine.runtime.watchdog import Watchdog  # noqa: E402
from workbench.engine.storage.database import Database  # noqa: E402
from workbench.engine.storage.db import connect  # noqa: E402


def timed(run, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        run()
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def line(name: str, base: list[float], guarded: list[float]) -> None:
    mb, mg = statistics.median(base), statistics.median(guarded)
    pb, pg = pct(base, 99), pct(guarded, 99)
    print(
        f"  {name:<22} raw {mb:7.1f} µs (p99 {pb:7.1f})   guarded {mg:7.1f} µs (p99 {pg:7.1f})"
        f"   ratio median {mg / mb:4.2f}  p99 {pg / pb:4.2f}"
    )


def statements(folder: Path, n: int, rounds: int) -> None:
    path = folder / "workbench.db"
    db = Database(path)
    guarded = db.connect()
    raw = connect(path)
    read = "SELECT value FROM registry_generation"
    write = "UPDATE registry_generation SET value = value + 1"
    results: dict[str, tuple[list[float], list[float]]] = {"read": ([], []), "write txn": ([], [])}

    def txn(conn) -> None:  # type: ignore[no-untyped-def]
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(write)
        conn.execute("COMMIT")

    for _ in range(rounds):
        results["read"][0].extend(timed(lambda: raw.execute(read).fetchall(), n))
        results["read"][1].extend(timed(lambda: guarded.execute(read).fetchall(), n))
        results["write txn"][0].extend(timed(lambda: txn(raw), n // 10))
        results["write txn"][1].extend(timed(lambda: txn(guarded), n // 10))
    print(f"statements ({n} reads and {n // 10} write transactions per round, {rounds} rounds):")
    for name, (base, mine) in results.items():
        line(name, base, mine)
    raw.close()
    guarded.close()
    db.close()


def put_back(folder: Path, records: int) -> None:
    path = folder / "workbench.db"
    db = Database(path)
    conn = db.connect()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO invocations (request_id, function, version, invocation_type, started_at, "
        "duration_ms, billed_ms, memory_size, max_memory_mb, cold, status, cost, request, "
        "response, log_lines, env_id) VALUES (?, 'f', '$LATEST', 'RequestResponse', ?, 1, 1, "
        "128, 30, 0, 'success', 0, ?, '{}', '[]', 'e')",
        [(f"r{i}", time.time(), "x" * 2000) for i in range(records)],
    )
    conn.execute("COMMIT")
    plain = []
    for _ in range(20):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE registry_generation SET value = value + 1")
        conn.execute("COMMIT")
        plain.append((time.perf_counter() - t0) * 1000)
    size = path.stat().st_size + Path(f"{path}-wal").stat().st_size
    path.unlink()
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")  # notices, puts the file back, reopens, then writes
    conn.execute("UPDATE registry_generation SET value = value + 1")
    conn.execute("COMMIT")
    pause = (time.perf_counter() - t0) * 1000
    assert db.incidents and db.incidents[-1].kind == "recreated"
    count = sqlite3.connect(path).execute("SELECT count(*) FROM invocations").fetchone()[0]
    assert count == records, count
    print(
        f"put back: {records} records ({size / 1e6:.1f} MB): the write that noticed took "
        f"{pause:.1f} ms, a plain write transaction {statistics.median(plain):.2f} ms "
        f"(ratio {pause / statistics.median(plain):.0f})"
    )
    conn.close()
    db.close()


def sweep(folder: Path) -> None:
    root = folder / "tmp"
    dead = EngineTmp(root)
    tmpdir = dead.path / "busy-0123abcd-k2x_9q1z"
    tmpdir.mkdir()
    for i in range(1020):
        (tmpdir / f"f{i}").write_bytes(b"x" * 4096)
    os.close(dead._fd)  # as a kill -9 would: the lock goes, the folder stays
    t0 = time.perf_counter()
    following = EngineTmp(root)
    started = (time.perf_counter() - t0) * 1000
    following.sweeper.join()
    swept = (time.perf_counter() - t0) * 1000
    assert not dead.path.exists()
    print(
        f"sweep: a dead engine's folder of 1,020 files: start {started:.1f} ms, "
        f"swept {swept:.1f} ms"
    )
    following.close()


def watchdog(rounds: int) -> None:
    first, later, bare = [], [], []
    for _ in range(rounds * 4):
        dog = Watchdog()
        t0 = time.perf_counter()
        dog.watch(1 << 30, "0" * 32)  # no such group: nothing is ever killed
        first.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        dog.watch((1 << 30) + 1, "1" * 32)
        later.append((time.perf_counter() - t0) * 1000)
        dog.close()
        t0 = time.perf_counter()
        subprocess.Popen(["true"]).wait()
        bare.append((time.perf_counter() - t0) * 1000)
    b = statistics.median(bare)
    print(
        f"watchdog: first watch {statistics.median(first):.2f} ms (p99 {pct(first, 99):.2f}), "
        f"later {statistics.median(later) * 1000:.1f} µs; a bare fork/exec+wait {b:.2f} ms "
        f"(ratios {statistics.median(first) / b:.2f}, {statistics.median(later) / b:.4f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        statements(Path(tmp) / "a", args.statements, args.rounds)
        put_back(Path(tmp) / "b", args.records)
        sweep(Path(tmp))
        watchdog(args.rounds)


if __name__ == "__main__":
    main()
