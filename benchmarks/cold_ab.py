"""Cold starts of two checkouts of the workbench, interleaved: a difference of a few tenths of a
millisecond, which whole runs of ``invoke.py`` alternating cannot show on a shared machine.

    python benchmarks/cold_ab.py BASE [NEW] [--isolation rlimits,cgroups,auto] [--rounds 30]
        [--per 10]

BASE and NEW are folders holding a checkout (``git worktree add /tmp/base REV``; NEW defaults
to this one). For each isolation, one engine per checkout runs in a process of its own (its
``workbench`` imported from that folder, ``cpu="full"``, the fork server, the host's network,
a no-op Python handler; ``rlimits`` unfrozen, as ``invoke.py``'s bare sandbox); the two are
asked in turn for ``--per`` cold starts (retire the function's environment, wait 10 ms, invoke;
timed from the invoke to its result), ``--rounds`` times, the order swapped every round, so a
machine's drift weighs on both alike. Printed per isolation: p50 and p99 of each, NEW's p50 as
a ratio of BASE's, and the difference of the p50s in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import row

HERE = Path(__file__).resolve().parent


def child(isolation: str) -> None:
    """One engine (of the checkout on ``sys.path``), serving cold starts on request."""
    os.environ.setdefault("WORKBENCH_CPU", "full")
    import engine_loop  # (the workbench of PYTHONPATH: imported once it is on the path)

    from workbench.engine import Engine, EngineSettings

    root = Path(tempfile.mkdtemp(prefix="wb-cold-ab-"))
    (root / "noop").mkdir()
    unfrozen = "freeze = false\n" if isolation == "rlimits" else ""
    (root / "noop" / "function.toml").write_text(f'handler = "app.handler"\n{unfrozen}')
    (root / "noop" / "app.py").write_text("def handler(event, context):\n    return None\n")

    async def serve() -> None:
        settings = EngineSettings(
            state_dir=Path(tempfile.mkdtemp(prefix="wb-cold-ab-state-")),
            keep_alive_s=3600,
            isolation=isolation,
            network="host",
            cpu="full",
            fork_server=True,
        )
        async with Engine([root], settings) as engine:
            for _ in range(10):  # the fork server and the first starts out of the way
                engine.pool.retire_idle("noop", "idle", latest_only=False)
                await engine.invoke("noop", b"{}")
            loop = asyncio.get_running_loop()
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                times = []
                for _ in range(int(line)):
                    engine.pool.retire_idle("noop", "idle", latest_only=False)
                    await asyncio.sleep(0.01)
                    t = time.perf_counter()
                    result = await engine.invoke("noop", b"{}")
                    times.append((time.perf_counter() - t) * 1000)
                    assert result.record.cold and result.function_error is None, result.payload
                print(json.dumps(times), flush=True)

    engine_loop.run(serve())


def compare(trees: list[Path], isolation: str, rounds: int, per: int) -> dict[Path, list[float]]:
    kids = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", isolation],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(HERE)])},
        )
        for tree in trees
    ]
    times: dict[Path, list[float]] = {tree: [] for tree in trees}
    try:
        for n in range(rounds):
            order = list(zip(trees, kids, strict=True))
            for tree, kid in order if n % 2 == 0 else reversed(order):
                assert kid.stdin is not None and kid.stdout is not None
                kid.stdin.write(f"{per}\n")
                kid.stdin.flush()
                answer = kid.stdout.readline()
                if not answer:
                    raise SystemExit(f"the engine of {tree} ended ({isolation})")
                times[tree] += json.loads(answer)
    finally:
        for kid in kids:
            if kid.stdin is not None:
                kid.stdin.close()
            kid.wait(60)
    return times


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", type=Path, help="a checkout to compare against")
    ap.add_argument("new", type=Path, nargs="?", default=HERE.parent, help="(default: this one)")
    ap.add_argument("--isolation", default="rlimits,cgroups,auto")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--per", type=int, default=10)
    args = ap.parse_args()
    trees = [args.base.resolve(), args.new.resolve()]
    for tree in trees:
        if not (tree / "workbench" / "engine").is_dir():
            ap.error(f"{tree} holds no checkout of the workbench (no workbench/engine)")
    print(f"cold starts, interleaved {args.per} at a time, {args.rounds} rounds")
    print(f"  base: {trees[0]}\n  new:  {trees[1]}")
    for isolation in args.isolation.split(","):
        times = compare(trees, isolation, args.rounds, args.per)
        base, new = (times[tree] for tree in trees)
        p50 = statistics.median(base)
        print(f"{isolation}:")
        print(row("base", base, p50, width=8))
        print(row("new", new, p50, width=8))
        print(f"  new - base: {statistics.median(new) - p50:+.3f} ms p50")


if __name__ == "__main__":
    main()
