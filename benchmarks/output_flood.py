"""How responsive the engine's loop stays while a handler floods its output, beside a baseline
measured in the same run.

    python benchmarks/output_flood.py [--mb 200] [--rounds 3] [--no-listen]

A ticker task on the engine's loop asks for a wake-up every millisecond and records how late
each one comes (the stall). Baseline: the ticker while a quiet handler (one line, then a sleep)
runs. Floods: a handler writing ``--mb`` MB as 128-byte lines, and the same amount with no line
break at all. By default a subscriber follows the event stream as the TUI does (draining it
every 100 ms), so the live stream's cost is in the figures; ``--no-listen`` leaves the stream
without subscribers, as ``workbench invoke`` runs.

Printed per scenario: the ticker's lateness (median, p99, worst; p50/p99 also as ratios against
the baseline's), the flood's wall time and rate, the engine's peak RSS growth over the run
(psutil) and the size of the log the record stored; at the end, how much the state database
(with its WAL) grew over the whole run.

Before issue #14's output work, 50 MB without a line break took 33 s and 357 MB of engine
memory, 200 MB of lines peaked the engine at 1.15 GB, grew the database by 397 MB plus a 212 MB
WAL and blocked the loop for ~4 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from figures import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)

from workbench.engine import Engine, EngineSettings  # noqa: E402

TICK_S = 0.001
QUIET = """
import time
def handler(event, context):
    print("quiet")
    time.sleep(event["seconds"])
    return 0
"""
LINES = """
import sys
def handler(event, context):
    out = sys.stdout.buffer
    n = event["mb"] * 1024 * 1024 // 128
    dots = b"." * 114 + b"\\n"
    for start in range(0, n, 8192):
        out.write(b"".join(b"line %07d " % i + dots for i in range(start, start + 8192)))
    out.flush()
    return n
"""
NO_BREAK = """
import sys
def handler(event, context):
    block = b"z" * (1024 * 1024)
    for _ in range(event["mb"]):
        sys.stdout.buffer.write(block)
    sys.stdout.buffer.flush()
    return 0
"""


class Ticker:
    """Wake-ups every TICK_S on the loop; how late each came, in ms."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            self.late.append(max(now - last - TICK_S, 0.0) * 1000)
            last = now

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


class Memory:
    """The engine's peak RSS, sampled every 5 ms on its loop."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base

    async def run(self) -> None:
        while True:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            await asyncio.sleep(0.005)


def db_size(engine: Engine) -> int:
    assert engine.store is not None
    engine.store.flush()
    db = engine.state_dir / "workbench.db"
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


async def drain(engine: Engine) -> None:
    """A subscriber that reads the stream on a timer, as the TUI's bridge does."""
    sub = engine.subscribe(maxsize=50_000)
    try:
        while True:
            await asyncio.sleep(0.1)
            sub.get_nowait()
    finally:
        sub.close()


async def scenario(engine: Engine, name: str, event: bytes) -> dict[str, float]:
    memory = Memory()
    sampler = asyncio.get_running_loop().create_task(memory.run())
    with Ticker() as ticker:
        t0 = time.perf_counter()
        result = await engine.invoke(name, event)
        wall = time.perf_counter() - t0
    sampler.cancel()
    assert result.function_error is None, result.payload
    return {
        "late": ticker.late,  # type: ignore[dict-item]
        "wall": wall,
        "rss": (memory.peak - memory.base) / 2**20,
        "log": len(json.dumps(result.record.log_lines, ensure_ascii=False).encode()) / 2**20,
    }


async def run(
    root: Path, mb: int, rounds: int, listen: bool
) -> tuple[dict[str, list[dict]], float]:
    state = Path(tempfile.mkdtemp(prefix="wb-bench-state-"))
    settings = EngineSettings(state_dir=state, keep_alive_s=3600)
    out: dict[str, list[dict]] = {"quiet": [], "lines": [], "nobreak": []}
    async with Engine([root], settings) as engine:
        follower = asyncio.get_running_loop().create_task(drain(engine)) if listen else None
        for name in out:  # warm each environment: cold starts are not what is measured
            await engine.invoke(name, b'{"mb": 1, "seconds": 0.01}')
        before = db_size(engine)
        for _ in range(rounds):
            lines = await scenario(engine, "lines", b'{"mb": %d}' % mb)
            out["lines"].append(lines)
            seconds = round(lines["wall"], 3)
            out["quiet"].append(await scenario(engine, "quiet", b'{"seconds": %f}' % seconds))
            out["nobreak"].append(await scenario(engine, "nobreak", b'{"mb": %d}' % mb))
        if follower is not None:
            follower.cancel()
        grown = (db_size(engine) - before) / 2**20
    return out, grown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=200, help="megabytes each flood writes")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-listen", action="store_true", help="no subscriber on the stream")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    for name, code in (("quiet", QUIET), ("lines", LINES), ("nobreak", NO_BREAK)):
        (root / name).mkdir()
        (root / name / "function.toml").write_text('handler = "app.handler"\ntimeout = 900\n')
        (root / name / "app.py").write_text(code)

    runs, grown = engine_loop.run(run(root, args.mb, args.rounds, not args.no_listen))
    base = [x for r in runs["quiet"] for x in r["late"]]
    b50, b99 = statistics.median(base), pct(base, 99)
    listen = "no subscriber" if args.no_listen else "a subscriber draining every 100 ms"
    print(f"workbench output flood benchmark — {args.mb} MB a flood, {args.rounds} rounds,", listen)
    print(f"loop stall: lateness of a {TICK_S * 1000:.0f} ms ticker on the engine's loop")
    labels = {
        "quiet": "baseline: a quiet handler, as long",
        "lines": f"{args.mb} MB of 128-byte lines",
        "nobreak": f"{args.mb} MB without a line break",
    }
    for key, label in labels.items():
        late = [x for r in runs[key] for x in r["late"]]
        p50, p99, worst = statistics.median(late), pct(late, 99), max(late)
        walls = [r["wall"] for r in runs[key]]
        wall = statistics.median(walls)
        rate = f"{args.mb / wall:7.1f} MB/s" if key != "quiet" else " " * 12
        print(
            f"  {label:<36} stall p50 {p50:6.3f} ms ({p50 / b50:5.2f}x)  p99 {p99:7.3f} ms "
            f"({p99 / b99:5.2f}x)  worst {worst:7.2f} ms | wall {wall:6.2f} s {rate} | "
            f"RSS +{max(r['rss'] for r in runs[key]):6.1f} MB | "
            f"record log {max(r['log'] for r in runs[key]):5.2f} MB"
        )
    floods = 2 * args.rounds
    print(
        f"state database + WAL grew {grown:.2f} MB over the run "
        f"({floods} floods, {floods * args.mb:,} MB written)"
    )


if __name__ == "__main__":
    main()
