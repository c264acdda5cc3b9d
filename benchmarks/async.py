"""Event invocations through the durable queue, beside the sync warm invoke of the same run.

    python benchmarks/async.py [--events N] [--rounds R]

Drain: N events (default 2000) of a no-op handler are accepted with ``engine.invoke_event``
while the dispatcher runs, and timed until the last one's row is settled (its record stored).
The accepts are one synchronous loop (the dispatcher starts once it ends), so the figure is
accept + drain; "drain alone" times the same from the last accept, the queue full. The end is
the last event's row settled (its ``finished_at``), found by a check every 10 ms (a check on
the engine's loop every millisecond, as before stop 36, took part of what it measured).
"Concurrency C" is the function's ``reserved_concurrency`` = C (2 and 10): at most C attempts
run at once, in C warm environments. Reported as events/s, and as ms per event against the
sync warm invoke (``await engine.invoke``) measured in the same run.

Enqueue: the cost of ``invoke_event`` itself (validation + the committed INSERT), which is on
the Lambda API's 202 path, against the sync warm invoke.

Dwell: queue-to-start time of each attempt (``record.dwell_ms``, Lambda's AsyncEventAge) in the
drain runs; at concurrency C most of it is waiting for a slot behind the events before it, so a
lone event's dwell (accepted into an idle queue) is shown too.

Rounds alternate baseline and queue work, so a shared machine's drift weighs on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import figures

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)

from workbench.engine import Engine, EngineSettings  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"


def make(root: Path, name: str, reserved: int) -> None:
    (root / name).mkdir()
    (root / name / "function.toml").write_text(
        f'handler = "app.handler"\nreserved_concurrency = {reserved}\n'
    )
    (root / name / "app.py").write_text(NOOP)


async def settled(engine: Engine, ids: list[str], timeout: float = 300.0) -> float:
    """Until the queue holds no unfinished row (checked on the queue's own connection, every
    10 ms: a count on the engine's own loop, so not more often); when the last of ``ids`` was
    settled (its row's ``finished_at``, ``time.time()``), not when this noticed."""
    queue = engine.async_queue
    assert queue is not None
    deadline = time.monotonic() + timeout
    while True:
        left = queue.unfinished()
        if not left:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"not drained: {left} events left")
        await asyncio.sleep(0.01)
    ends = [event.finished_at for event in map(queue.get, ids) if event is not None]
    assert len(ends) == len(ids) and None not in ends, "an event was not settled"
    return max(end for end in ends if end is not None)


async def sync_warm(engine: Engine, name: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await engine.invoke(name, b"{}")
        out.append((time.perf_counter() - t) * 1000)
    return out


async def run(events: int, rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="wb-bench-async-"))
    for c in (2, 10):
        make(root, f"noop{c}", c)
    make(root, "lone", 1)
    state = Path(tempfile.mkdtemp(prefix="wb-bench-async-state-"))
    settings = EngineSettings(state_dir=state, keep_alive_s=3600, background=True)
    sync: list[float] = []
    enqueue: list[float] = []
    drain: dict[int, list[float]] = {2: [], 10: []}  # ms per event, per round
    alone: dict[int, list[float]] = {2: [], 10: []}  # the same, from the last accept
    dwell: dict[int, list[float]] = {2: [], 10: []}
    lone: list[float] = []
    async with Engine([root], settings) as engine:
        store = engine.store
        assert store is not None
        for c in (2, 10):  # warm c environments each, and the sync path
            await asyncio.gather(*(engine.invoke(f"noop{c}", b"{}") for _ in range(c)))
        await sync_warm(engine, "noop2", 200)
        per_round = events // rounds
        for _ in range(rounds):
            sync += await sync_warm(engine, "noop2", per_round)
            for c in (2, 10):
                name = f"noop{c}"
                t = time.time()  # (the clock the queue's finished_at is on)
                ids = []
                for i in range(per_round):
                    e = time.perf_counter()
                    ids.append(engine.invoke_event(name, b'{"i": %d}' % i))
                    enqueue.append((time.perf_counter() - e) * 1000)
                accepted = time.time()
                done = await settled(engine, ids)
                drain[c].append((done - t) * 1000 / per_round)
                alone[c].append((done - accepted) * 1000 / per_round)
                for request_id in ids[:: max(1, per_round // 200)]:
                    record = store.get(request_id)
                    assert record is not None and record.dwell_ms is not None
                    dwell[c].append(record.dwell_ms)
            for _ in range(20):  # one event into an idle queue, its dwell
                request_id = engine.invoke_event("lone", b"{}")
                await settled(engine, [request_id])
                record = store.get(request_id)
                assert record is not None and record.dwell_ms is not None
                lone.append(record.dwell_ms)
    base = statistics.median(sync)

    row = functools.partial(figures.row, base=base, width=46)

    print(f"workbench async benchmark — {engine_loop.describe()}")
    print(f"{events} events per concurrency, in {rounds} rounds; ratio: against the sync warm p50")
    print(row("baseline: engine.invoke, warm, no-op (sync)", sync))
    print(row("invoke_event (accept + committed INSERT)", enqueue))
    for c in (2, 10):
        for what, per_event in (("drain", drain[c]), ("drain alone", alone[c])):
            rate = 1000 / statistics.median(per_event)
            name = f"{what}, concurrency {c}: ms per event"
            print(row(name, per_event) + f"  {rate:7.0f} events/s")
    for c in (2, 10):
        print(row(f"dwell (queued -> start), concurrency {c}, burst", dwell[c]))
    print(row("dwell, a lone event into an idle queue", lone))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    engine_loop.run(run(args.events, args.rounds))


if __name__ == "__main__":
    main()
