"""How promptly the engine enforces a timeout, and warm calls that must not wait for anything,
beside baselines measured in the same run.

    python benchmarks/limits.py [--timeouts N] [--warm N]

Timeouts: a handler that sleeps far past its 1 s timeout, in each runtime (Python, Node.js, a
``provided`` bash runtime); a sample is the record's Duration (each is a new environment: the
timeout kills the old one). Baseline: ``asyncio.sleep(1.0)`` on the same loop, timed.

Warm calls, the record's Duration, each against a baseline of its own runtime's no-op call:

- Python after a ~300 ms INIT: the warm call must not pay it again;
- Node.js with ``callbackWaitsForEmptyEventLoop = false`` and a 400 ms timer pending: the
  response must not wait for the timer;
- a ``provided`` runtime that POSTs a 2 MB response with curl, which asks ``Expect:
  100-continue`` and would wait a second for the 100 (baseline: a 4 KB response).

Baseline and subject samples alternate, so drift in a shared machine's speed weighs on both
alike. Targets (from the tests that used to assert them): timed-out Duration p99 < 1500 ms
(Python) and < 2500 ms (Node.js, provided); the warm Python call p99 < 100 ms; the Node.js call
with a timer pending p99 < 350 ms; the 2 MB curl POST p99 < 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from figures import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)

from workbench.engine import Engine, EngineSettings  # noqa: E402

BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  HANDLER > "$TMPDIR/response"
  curl -sS -o /dev/null "$API/invocation/$REQUEST_ID/response" --data-binary @"$TMPDIR/response"
done
"""

PY_NOOP = "def handler(event, context):\n    return None\n"
PY_SLOW = "import time\ndef handler(event, context):\n    time.sleep(30)\n"
PY_INIT = (
    "import time\ntime.sleep(0.3)  # module-level work: INIT\n"
    "def handler(event, context):\n    return None\n"
)
NODE_NOOP = "exports.handler = async () => null;\n"
NODE_SLOW = "exports.handler = async () => new Promise((r) => setTimeout(r, 10000));\n"
NODE_NOWAIT = """
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 400);
  callback(null, null);
};
"""


def function(root: Path, name: str, config: dict[str, object], files: dict[str, str]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    lines = [f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in config.items()]
    (folder / "function.toml").write_text("\n".join(lines) + "\n")
    for rel, text in files.items():
        (folder / rel).write_text(textwrap.dedent(text).lstrip("\n"))
        if rel == "bootstrap":
            (folder / rel).chmod(0o755)


def provided(handler: str) -> dict[str, str]:
    return {"bootstrap": BOOTSTRAP.replace("HANDLER", handler)}


def write_functions(root: Path, node: bool, bash: bool) -> None:
    py = {"handler": "app.handler", "timeout": 1}
    function(root, "py-noop", py, {"app.py": PY_NOOP})
    function(root, "py-slow", py, {"app.py": PY_SLOW})
    function(root, "py-init", {**py, "timeout": 3}, {"app.py": PY_INIT})
    if node:
        js = {"runtime": "nodejs20.x", "handler": "index.handler", "timeout": 1}
        function(root, "node-noop", js, {"index.js": NODE_NOOP})
        function(root, "node-slow", js, {"index.js": NODE_SLOW})
        function(root, "node-nowait", {**js, "timeout": 3}, {"index.js": NODE_NOWAIT})
    if bash:
        sh = {"runtime": "provided", "handler": "function.handler", "timeout": 1}
        function(root, "sh-slow", sh, provided("sleep 30; echo"))
        small = "head -c 4000 /dev/zero | tr '\\0' 0"
        big = f"head -c {2 * 1024 * 1024} /dev/zero | tr '\\0' 0"
        function(
            root,
            "sh-4k",
            {**sh, "timeout": 3},
            provided(f"{{ printf '\"'; {small}; printf '\"'; }}"),
        )
        function(
            root, "sh-2m", {**sh, "timeout": 3}, provided(f"{{ printf '\"'; {big}; printf '\"'; }}")
        )


async def duration(engine: Engine, name: str, want: str) -> float:
    result = await engine.invoke(name, b"{}")
    assert result.record.status == want, (name, result.record.status, result.payload[:200])
    return result.record.duration_ms


async def run(root: Path, timeouts: int, warm: int, node: bool, bash: bool) -> dict[str, list]:
    state = Path(tempfile.mkdtemp(prefix="wb-bench-state-"))
    out: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        out.setdefault(key, []).append(value)

    async with Engine([root], EngineSettings(state_dir=state, keep_alive_s=3600)) as engine:
        slow = ["py-slow"] + (["node-slow"] if node else []) + (["sh-slow"] if bash else [])
        for _ in range(timeouts):
            t = time.perf_counter()
            await asyncio.sleep(1.0)
            add("sleep", (time.perf_counter() - t) * 1000)
            for name in slow:
                add(name, await duration(engine, name, "timeout"))
        pairs = [("py-noop", "py-init")]
        pairs += [("node-noop", "node-nowait")] if node else []
        pairs += [("sh-4k", "sh-2m")] if bash else []
        for base, subject in pairs:  # cold, then warm
            await duration(engine, base, "success")
            await duration(engine, subject, "success")
        for _ in range(warm):
            for base, subject in pairs:
                add(base, await duration(engine, base, "success"))
                add(subject, await duration(engine, subject, "success"))
    return out


def row(name: str, xs: list[float], base: float) -> str:
    p50, p99 = statistics.median(xs), pct(xs, 99)
    return (
        f"  {name:<54} p50 {p50:9.2f} ms   p99 {p99:9.2f} ms   {p50 / base:7.2f}x   (n={len(xs)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeouts", type=int, default=5, help="timed-out calls per runtime")
    ap.add_argument("--warm", type=int, default=50, help="warm calls per row")
    args = ap.parse_args()
    node, bash = shutil.which("node") is not None, shutil.which("curl") is not None
    root = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    write_functions(root, node, bash)
    out = engine_loop.run(run(root, args.timeouts, args.warm, node, bash))

    print(f"workbench limits benchmark — {engine_loop.describe()}")
    base = statistics.median(out["sleep"])
    print("a 1 s timeout: the timed-out record's Duration (ratio: against asyncio.sleep(1.0))")
    print(row("baseline: asyncio.sleep(1.0)", out["sleep"], base))
    targets = [("Python, handler sleeps 30 s", "py-slow", 1500.0)]
    targets += [("Node.js, a 10 s timer awaited", "node-slow", 2500.0)] if node else []
    targets += [("provided (bash), sleep 30", "sh-slow", 2500.0)] if bash else []
    for label, key, _ in targets:
        print(row(label, out[key], base))
    print("warm calls: Duration (ratio: against the same runtime's no-op)")
    warm = [("Python no-op", "py-noop", "Python after a 300 ms INIT", "py-init", 100.0)]
    if node:
        warm.append(
            ("Node.js no-op", "node-noop", "Node.js, no wait, 400 ms timer", "node-nowait", 350.0)
        )
    if bash:
        warm.append(
            ("provided, 4 KB response", "sh-4k", "provided, 2 MB response (curl)", "sh-2m", 500.0)
        )
    for base_label, base_key, label, key, limit in warm:
        base = statistics.median(out[base_key])
        print(row(f"baseline: {base_label}", out[base_key], base))
        print(row(label, out[key], base))
        targets.append((label, key, limit))
    verdicts = [
        f"{label} p99 {pct(out[key], 99):.0f} < {limit:.0f} ms: "
        + ("met" if pct(out[key], 99) < limit else "MISSED")
        for label, key, limit in targets
    ]
    print("targets: " + "; ".join(verdicts))


if __name__ == "__main__":
    main()
