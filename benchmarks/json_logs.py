"""What ``logging_format = "JSON"`` costs a Python function, against the same function in Text.

    python benchmarks/json_logs.py [--warm N] [--cold N]

The handler imports ``logging`` at module level and logs one record per invocation (at WARNING,
which both formats print). Cold starts (the warm environment retired first) and warm invocations
alternate between the two functions in rounds, so load on the machine hits both alike. Printed:
median and p99 of each, and JSON's as a ratio of Text's measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine_loop  # noqa: E402  (after the path to workbench is set)

from tests.helpers import make_function  # noqa: E402
from workbench.engine import Engine, EngineSettings  # noqa: E402

CODE = """
import logging
logger = logging.getLogger()

def handler(event, context):
    logger.warning("order %s placed", 42, extra={"total": 9.5})
    return None
"""
FORMATS = ("Text", "JSON")


def pct(xs: list[float], p: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run(warm_n: int, cold_n: int, rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    root = Path(tempfile.mkdtemp(prefix="wb-bench-json-"))
    for fmt in FORMATS:
        make_function(root, fmt.lower(), CODE, logging_format=fmt)
    settings = EngineSettings(state_dir=root / ".state", keep_alive_s=3600, cpu="full")
    out: dict[str, tuple[list[float], list[float]]] = {fmt: ([], []) for fmt in FORMATS}
    async with Engine([root], settings) as engine:
        for fmt in FORMATS:
            for _ in range(50):
                await engine.invoke(fmt.lower(), b"{}")
        for _ in range(rounds):
            for fmt in FORMATS:
                fn, (warm, cold) = fmt.lower(), out[fmt]
                for _ in range(warm_n // rounds):
                    t = time.perf_counter()
                    await engine.invoke(fn, b"{}")
                    warm.append((time.perf_counter() - t) * 1000)
                for _ in range(max(1, cold_n // rounds)):
                    engine.pool.retire_idle(fn, "idle", latest_only=False)
                    t = time.perf_counter()
                    result = await engine.invoke(fn, b"{}")
                    cold.append((time.perf_counter() - t) * 1000)
                    assert result.record.cold and result.function_error is None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warm", type=int, default=1000)
    ap.add_argument("--cold", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    out = engine_loop.run(run(args.warm, args.cold, args.rounds))
    for i, phase in enumerate(("warm", "cold")):
        base = statistics.median(out["Text"][i])
        for fmt in FORMATS:
            xs = out[fmt][i]
            print(
                f"{phase} {fmt:<4}  p50 {statistics.median(xs):8.3f} ms  p99 {pct(xs, 99):8.3f} ms"
                f"  {statistics.median(xs) / base:5.2f}x Text  (n={len(xs)})"
            )


if __name__ == "__main__":
    main()
