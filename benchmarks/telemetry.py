"""What a Telemetry API subscription costs a warm invoke, beside a baseline measured in the run.

    python benchmarks/telemetry.py [--warm N] [--rounds R]

Three functions, each a handler that prints one line, each beside one external Python extension
registered for INVOKE: ``plain`` (the extension does not subscribe: the baseline), ``subscribed``
(it subscribes to platform, function and extension telemetry, buffering timeout 25 ms, and its
listener acknowledges every batch), ``dead`` (it subscribes to a port nobody listens on: every
batch is refused, retried, dropped). Each is invoked N times a round, the functions alternating
round by round so drift on a shared machine weighs on all alike; medians and p99 are printed,
and each as a ratio to ``plain``'s.

Target: delivery never slows an invocation, so ``subscribed`` and ``dead`` stay within noise of
``plain`` (ratio about 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)

from workbench.engine import Engine, EngineSettings  # noqa: E402

HANDLER = 'def handler(event, context):\n    print("one line")\n    return None\n'

EXTENSION = r"""#!/usr/bin/env python3
import json, os, socket, threading, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
api = base + "/2020-01-01/extension"
req = urllib.request.Request(api + "/register", method="POST",
    data=b'{"events": ["INVOKE"]}', headers={"Lambda-Extension-Name": "bench-ext"})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
mode = os.environ["BENCH_MODE"]
if mode != "plain":
    class Listener(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()
        def log_message(self, *args):
            pass
    server = HTTPServer(("127.0.0.1", 0), Listener)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if mode == "dead":
        spare = socket.socket(); spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]; spare.close()
    body = {"schemaVersion": "2022-12-13", "types": ["platform", "function", "extension"],
            "buffering": {"timeoutMs": 25},
            "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}/"}}
    req = urllib.request.Request(base + "/2022-07-01/telemetry", method="PUT",
        data=json.dumps(body).encode(), headers={"Lambda-Extension-Identifier": ident})
    urllib.request.urlopen(req).read()
while True:
    req = urllib.request.Request(api + "/event/next",
        headers={"Lambda-Extension-Identifier": ident})
    urllib.request.urlopen(req).read()
"""

MODES = ("plain", "subscribed", "dead")


def _make(root: Path, mode: str) -> None:
    folder = root / f"tel-{mode}"
    (folder / "extensions").mkdir(parents=True)
    (folder / "app.py").write_text(HANDLER)
    (folder / "function.toml").write_text(
        f'handler = "app.handler"\n[environment]\nBENCH_MODE = "{mode}"\n'
    )
    ext = folder / "extensions" / "bench-ext"
    ext.write_text(EXTENSION)
    ext.chmod(0o755)


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(warm: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "functions"
        for mode in MODES:
            _make(root, mode)
        settings = EngineSettings(keep_alive_s=600.0, state_dir=Path(tmp) / "state")
        samples: dict[str, list[float]] = {mode: [] for mode in MODES}
        async with Engine([root], settings) as engine:
            for mode in MODES:  # cold starts (and their subscriptions) out of the way
                await engine.invoke(f"tel-{mode}", b"{}")
            for r in range(rounds):
                order = MODES[r % 3 :] + MODES[: r % 3]
                for mode in order:
                    for _ in range(warm // rounds):
                        t0 = time.perf_counter()
                        await engine.invoke(f"tel-{mode}", b"{}")
                        samples[mode].append((time.perf_counter() - t0) * 1000)
        base50, base99 = statistics.median(samples["plain"]), _pct(samples["plain"], 0.99)
        print(f"warm invokes, {len(samples['plain'])} per function, ms")
        for mode in MODES:
            p50, p99 = statistics.median(samples[mode]), _pct(samples[mode], 0.99)
            print(
                json.dumps(
                    {
                        "mode": mode,
                        "p50_ms": round(p50, 3),
                        "p99_ms": round(p99, 3),
                        "p50_ratio": round(p50 / base50, 2),
                        "p99_ratio": round(p99 / base99, 2),
                    }
                )
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    engine_loop.run(main(args.warm, args.rounds))
