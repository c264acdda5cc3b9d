"""Kinesis-style streams: puts, a lone record's delivery, and a mapping's drain, beside the sync
warm invoke of the same run.

    python benchmarks/streams.py [--records N] [--rounds R]

Put: one ``StreamStore.put`` of one 100-byte record (the committed INSERT that PutRecord and
``workbench stream put`` make). Delivery: a lone record put into an idle stream until its
mapping's checkpoint moves past it (read, the event built, the warm no-op handler run, the
checkpoint committed). Drain: N records (default 5000) put at once, until the checkpoint is past
the last, with batch_size 100, as ms per record and records/s. Ratios are against the sync warm
invoke's p50 (``await engine.invoke``); rounds alternate baseline and stream work.
"""

from __future__ import annotations

import argparse
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
from workbench.engine.sources.stream_pollers import StreamPollers  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"


async def caught_up(engine: Engine, last_id: int) -> None:
    [part] = [p for p in engine.sources.parts if isinstance(p, StreamPollers)]
    [mapping] = part.mappings.values()
    status = mapping.pollers[0].status
    while status.checkpoint < last_id:
        await status.done.wait()


async def run(records: int, rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="wb-bench-streams-"))
    (root / "noop").mkdir()
    (root / "noop" / "app.py").write_text(NOOP)
    (root / "noop" / "function.toml").write_text(
        'handler = "app.handler"\n[[triggers]]\ntype = "kinesis"\nstream = "bench"\n'
        'starting_position = "LATEST"\nbatch_size = 100\n'
    )
    state = Path(tempfile.mkdtemp(prefix="wb-bench-streams-state-"))
    settings = EngineSettings(state_dir=state, keep_alive_s=3600, background=True)
    sync: list[float] = []
    puts: list[float] = []
    delivery: list[float] = []
    drain: list[float] = []  # ms per record, per round
    data = b"x" * 100
    async with Engine([root], settings) as engine:
        streams = engine.streams
        assert streams is not None
        for _ in range(200):
            await engine.invoke("noop", b"{}")
        [first] = streams.put("bench", [(data, "k", None)])
        await caught_up(engine, first.id)
        for _ in range(rounds):
            for _ in range(200):
                t = time.perf_counter()
                await engine.invoke("noop", b"{}")
                sync.append((time.perf_counter() - t) * 1000)
            for _ in range(100):
                t = time.perf_counter()
                [r] = streams.put("bench", [(data, "k", None)])
                puts.append((time.perf_counter() - t) * 1000)
                await caught_up(engine, r.id)
                delivery.append((time.perf_counter() - t) * 1000)
            per_round = records // rounds
            t = time.perf_counter()
            put = streams.put("bench", [(data, "k", None)] * per_round)
            await caught_up(engine, put[-1].id)
            drain.append((time.perf_counter() - t) * 1000 / per_round)
    base = statistics.median(sync)

    row = functools.partial(figures.row, base=base, width=44)

    print(f"workbench streams benchmark — {engine_loop.describe()}")
    print(f"{records} records drained in {rounds} rounds; ratio: against the sync warm p50")
    print(row("baseline: engine.invoke, warm, no-op (sync)", sync))
    print(row("put one record (committed INSERT)", puts))
    print(row("a lone record: put -> checkpoint past it", delivery))
    rate = 1000 / statistics.median(drain)
    print(row("drain, batch 100: ms per record", drain) + f"  {rate:7.0f} records/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    engine_loop.run(run(args.records, args.rounds))


if __name__ == "__main__":
    main()
