"""Cold starts of a function with one Python extension, in namespaces: Extension INIT and the
whole cold start, beside ``python3 -c pass`` in the same run.

    python benchmarks/extension_init.py [--cold 15] [--rounds 3] [--launcher]

The extension is the usual shape (AWS's sample, in Python): ``urllib``, register for INVOKE and
SHUTDOWN, loop on ``event/next``. Each cold start invokes a no-op handler in a new environment
(the previous one retired, a pause between) and reads the environment's Extension INIT (from
the extensions' start to every one's registration) and the invocation's wall time.
``--launcher`` starts extensions behind the launcher's own interpreter instead of forking them
from the fork server (the previous way; for a side-by-side in one run, rows alternate).
Rounds alternate with the baseline, so a shared machine's drift weighs on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
from workbench.engine.runtime import extensions as extensions_module  # noqa: E402
from workbench.engine.runtime.namespaces import probe  # noqa: E402

EXTENSION = r"""#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
req = urllib.request.Request(api + "/register", method="POST",
    data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
    headers={"Lambda-Extension-Name": "bench"})
ident = urllib.request.urlopen(req).headers["Lambda-Extension-Identifier"]
while True:
    req = urllib.request.Request(api + "/event/next",
        headers={"Lambda-Extension-Identifier": ident})
    if json.load(urllib.request.urlopen(req)).get("eventType") == "SHUTDOWN":
        break
"""


async def cold_starts(root: Path, state: Path, n: int) -> tuple[list[float], list[float]]:
    settings = EngineSettings(state_dir=state, isolation="auto", network="host", keep_alive_s=60)
    ext_ms, cold_ms = [], []
    async with Engine([root], settings) as engine:
        for _ in range(n):
            t = time.perf_counter()
            result = await engine.invoke("withext", b"{}")
            cold_ms.append((time.perf_counter() - t) * 1000)
            assert result.record.error_type is None, "\n".join(result.record.log_lines)
            [env] = engine.environments("withext")
            ext_ms.append(env.extension_init_ms)
            engine.pool.retire_idle("withext", "idle", latest_only=False)
            await asyncio.sleep(0.3)  # its SHUTDOWN, and a machine at rest before the next
    return ext_ms, cold_ms


def python_starts(n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["python3", "-c", "pass"], check=True)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cold", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--launcher", action="store_true", help="also the launcher's way, alternating")
    args = ap.parse_args()
    if why := probe():
        raise SystemExit(f"this machine gives no namespaces: {why}")
    tmp = Path(tempfile.mkdtemp(prefix="wb-extinit-"))
    fn = tmp / "root" / "withext"
    (fn / "extensions").mkdir(parents=True)
    (fn / "app.py").write_text("def handler(event, context):\n    return None\n")
    (fn / "function.toml").write_text('handler = "app.handler"\n')
    (fn / "extensions" / "bench").write_text(EXTENSION)
    (fn / "extensions" / "bench").chmod(0o755)
    ways = ["forked", "launcher"] if args.launcher else ["forked"]
    ext: dict[str, list[float]] = {w: [] for w in ways}
    cold: dict[str, list[float]] = {w: [] for w in ways}
    base: list[float] = []
    original = extensions_module.Extensions.launch
    for r in range(args.rounds):
        base += python_starts(args.cold)
        for way in ways:
            if way == "launcher":

                async def launch(  # type: ignore[no-untyped-def]
                    self, env, cwd, join=None, command=None, joining=None, spawn=None
                ):
                    await original(self, env, cwd, join, command, joining, None)

                extensions_module.Extensions.launch = launch  # type: ignore[method-assign]
            else:
                extensions_module.Extensions.launch = original  # type: ignore[method-assign]
            e, c = engine_loop.run(cold_starts(tmp / "root", tmp / f"state-{way}-{r}", args.cold))
            ext[way] += e
            cold[way] += c
    extensions_module.Extensions.launch = original  # type: ignore[method-assign]
    b = statistics.median(base)
    print("one Python extension, namespaces (ratio: against `python3 -c pass`)")
    print(row("baseline: python3 -c pass", base, b, width=44))
    for way in ways:
        print(row(f"Extension INIT, {way}", ext[way], b, width=44))
        print(row(f"cold start (to the first response), {way}", cold[way], b, width=44))


if __name__ == "__main__":
    main()
