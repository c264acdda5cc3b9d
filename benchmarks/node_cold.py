"""Node.js cold starts, exec'd vs handed to a standby Node, beside ``node -e 0`` in the same run.

    python benchmarks/node_cold.py [--cold N] [--rounds R]

Cold: a new environment of a no-op ``nodejs20.x`` handler to its first response, timing
``await engine.invoke(...)`` end to end (spawn or hand-over, sandbox, runtime init, handler
load, invoke). Exec'd: ``EngineSettings(standby=False)``, every start runs ``node``. Standby:
the default; before each cold start the benchmark waits until the standby that replaces the
last one is ready (cold starts spaced further apart than Node's start, the usual case: a burst
beyond one standby per runtime is exec'd). Baseline: ``node -e 0`` with the same ``node``.

With a cgroup per environment (``cgroups``) and with rlimits only (``rlimits``), and, where the
machine gives namespaces, the default (``auto``): Node in namespaces of its own, entered by a
launcher forked from the namespaced fork server (no standby: one started ahead is outside any
namespace). Engines and the baseline alternate in rounds, so drift in a shared machine's speed
weighs on all alike.
Target (issue #17): a Node cold start costs loading the handler, not starting Node.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import row

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)

from workbench.engine import Engine, EngineSettings  # noqa: E402
from workbench.engine.runtime.namespaces import probe  # noqa: E402

NOOP = "exports.handler = async () => null;\n"


def node_starts(node: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([node, "-e", "0"], check=True)
        out.append((time.perf_counter() - t) * 1000)
    return out


async def standby_ready(engine: Engine) -> None:
    standbys = engine.pool.standbys
    assert standbys is not None
    while not any(standbys.ready(key) for key in standbys.keys()):
        await asyncio.sleep(0.002)


async def cold_starts(engine: Engine, n: int, standby: bool) -> list[float]:
    out = []
    for _ in range(n):
        engine.pool.retire_idle("noop", "idle", latest_only=False)
        if standby:
            await standby_ready(engine)
        t = time.perf_counter()
        result = await engine.invoke("noop", b"{}")
        out.append((time.perf_counter() - t) * 1000)
        assert result.record.cold and result.function_error is None, result.payload
        [env] = [e for e in engine.pool.environments("noop") if e.state != "dead"]
        assert env.from_standby == standby
    return out


async def run(args: argparse.Namespace, node: str) -> None:
    root = Path(tempfile.mkdtemp(prefix="wb-bench-node-"))
    (root / "noop").mkdir()
    (root / "noop" / "function.toml").write_text(
        'runtime = "nodejs20.x"\nhandler = "index.handler"\n'
    )
    (root / "noop" / "index.js").write_text(NOOP)
    configs = [(iso, standby) for iso in ("cgroups", "rlimits") for standby in (False, True)]
    if not probe():  # the default where namespaces exist: the launcher, forked, enters them
        configs.insert(0, ("auto", False))
    samples: dict[tuple[str, bool], list[float]] = {c: [] for c in configs}
    bare: list[float] = []
    per_round = max(1, args.cold // args.rounds)
    async with contextlib.AsyncExitStack() as stack:
        engines = {}
        for iso, standby in configs:
            settings = EngineSettings(
                state_dir=Path(tempfile.mkdtemp(prefix="wb-bench-state-")),
                keep_alive_s=3600,
                isolation=iso,
                cpu="full",
                standby=standby,
            )
            engine = await stack.enter_async_context(Engine([root], settings))
            await engine.invoke("noop", b"{}")  # the first cold start of a key is exec'd
            engines[(iso, standby)] = engine
        for _ in range(args.rounds):
            bare += node_starts(node, per_round)
            for config, engine in engines.items():
                samples[config] += await cold_starts(engine, per_round, config[1])
    base = statistics.median(bare)
    print(f"Node cold start benchmark — {node} ({subprocess.check_output([node, '--version'])!r})")
    print("cold start, new environment to first response (ratio: against `node -e 0`)")
    print(row("baseline: node -e 0", bare, base, width=40))
    for (iso, standby), xs in samples.items():
        how = "standby" if standby else "namespaces, forked launcher" if iso == "auto" else "exec"
        print(row(f"cold, {iso}, {how}", xs, base, width=40))
    for iso in ("cgroups", "rlimits"):
        execd, stood = (
            statistics.median(samples[(iso, False)]),
            statistics.median(samples[(iso, True)]),
        )
        print(
            f"{iso}: standby p50 {stood:.2f} ms vs exec {execd:.2f} ms "
            f"({execd - stood:.2f} ms saved; node -e 0 is {base:.2f} ms)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cold", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    node = shutil.which("node")
    if node is None:
        sys.exit("needs Node.js (`node` on the PATH)")
    engine_loop.run(run(args, node))


if __name__ == "__main__":
    main()
