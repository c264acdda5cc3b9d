"""The Python runtime's memory over many warm invocations, beside a baseline from the same run.

    python benchmarks/runtime_memory.py [--calls N] [--baseline-calls N] [--samples K]

A no-op handler is invoked N times (default 100,000) in one warm environment; the runtime's
VmRSS and RssAnon (``/proc/PID/status``) are read after its first call, after a warm-up past
``TRACE_IN_PLACE_AFTER`` (where the runtime loads ctypes and starts writing ``_X_AMZN_TRACE_ID``
in place: a one-time step), and K times along the N calls after it (default 20). The growth per
invocation is the least-squares slope through those samples.

Baseline: the same loop with a handler that sets ``_X_AMZN_TRACE_ID`` to its own value through
``os.environ``, which is what the runtime itself did per call before it wrote the variable in
place: glibc's ``setenv`` keeps every value ever set, so this shows that leak on this machine,
measured the same way. The malloc heap first fills its free space, so the slope is taken over
the second half of the samples (the steady state).

Target (issue #14): flat — the no-op's slope is noise (well under 1 byte per call), where the
baseline's is ~144 bytes per call.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)

from workbench.engine import Engine, EngineSettings  # noqa: E402
from workbench.runtimes.python.bootstrap import TRACE_IN_PLACE_AFTER  # noqa: E402

WARM_UP = TRACE_IN_PLACE_AFTER + 500
HANDLERS = {
    "noop": "def handler(event, context):\n    return None\n",
    # os.environ's setenv of this invocation's trace id: exactly the runtime's old per-call write
    "setenv": (
        "import os\n\n"
        "def handler(event, context):\n"
        "    os.environ['_X_AMZN_TRACE_ID'] = os.environ['_X_AMZN_TRACE_ID']\n"
    ),
}


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, RssAnon) of a process, in kB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon"):
                found[name] = int(value.split()[0])
    return found["VmRSS"], found["RssAnon"]


def slope(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of the second half of (calls, kB) points, in bytes per call."""
    points = points[len(points) // 2 :]
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx * 1024 if sxx else 0.0


Sample = tuple[int, int, int]  # (calls so far, VmRSS kB, RssAnon kB)


async def run(engine: Engine, name: str, calls: int, samples: int) -> tuple[Sample, list[Sample]]:
    """One function's warm environment: its sample after the first call, and the samples from
    the end of the warm-up on (calls counted from there)."""
    await engine.invoke(name, b"{}")
    [env] = engine.environments(name)
    first = (1, *memory_kb(env.pid))
    for _ in range(WARM_UP - 1):
        await engine.invoke(name, b"{}")
    out = [(0, *memory_kb(env.pid))]
    step = max(1, calls // samples)
    for i in range(1, calls + 1):
        result = await engine.invoke(name, b"{}")
        if i % step == 0 or i == calls:
            out.append((i, *memory_kb(env.pid)))
    assert result.function_error is None and result.record.env_id == env.id
    return first, out


def report(label: str, first: Sample, points: list[Sample], seconds: float) -> float:
    rss = [(x, r) for x, r, _ in points]
    anon = [(x, a) for x, _, a in points]
    calls = points[-1][0]
    print(f"{label}: {calls:,} warm invocations after a warm-up of {WARM_UP:,}, in {seconds:.1f} s")
    print(f"  {'calls':>9}  {'VmRSS kB':>9}  {'RssAnon kB':>10}")
    print(f"  {'1st call':>9}  {first[1]:>9,}  {first[2]:>10,}")
    for x, r, a in points:
        print(f"  {x:>9,}  {r:>9,}  {a:>10,}")
    per_call = slope(rss)
    print(
        f"  growth after the warm-up: VmRSS {points[-1][1] - points[0][1]:+,} kB, RssAnon "
        f"{points[-1][2] - points[0][2]:+,} kB; steady slope VmRSS {per_call:.2f} B/call, "
        f"RssAnon {slope(anon):.2f} B/call"
    )
    return per_call


async def main_async(calls: int, baseline_calls: int, samples: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    for name, code in HANDLERS.items():
        (root / name).mkdir()
        (root / name / "function.toml").write_text('handler = "app.handler"\n')
        (root / name / "app.py").write_text(code)
    state = Path(tempfile.mkdtemp(prefix="wb-bench-state-"))
    settings = EngineSettings(state_dir=state, keep_alive_s=3600)
    print(f"workbench runtime memory benchmark — {engine_loop.describe()}")
    async with Engine([root], settings) as engine:
        t = time.perf_counter()
        first, points = await run(engine, "setenv", baseline_calls, samples)
        base = report(
            "baseline: a handler that setenv()s its trace id per call",
            first,
            points,
            time.perf_counter() - t,
        )
        t = time.perf_counter()
        first, points = await run(engine, "noop", calls, samples)
        ours = report("the runtime, no-op handler", first, points, time.perf_counter() - t)
    ratio = f"{ours / base:.3f}x" if base >= 1 else "the baseline did not grow: run it longer"
    print(
        f"slope: {ours:.2f} B/call against the baseline's {base:.2f} B/call ({ratio}); "
        f"target flat (< 1 B/call): {'met' if ours < 1 else 'MISSED'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--baseline-calls", type=int, default=20_000)
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    engine_loop.run(main_async(args.calls, args.baseline_calls, args.samples))


if __name__ == "__main__":
    main()
