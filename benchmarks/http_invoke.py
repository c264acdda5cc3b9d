"""Warm invoke latency over the Lambda HTTP API, beside the engine API's, in the same run.

    python benchmarks/http_invoke.py [--calls N] [--rounds R]

A real ``workbench serve`` process (logs to /dev/null) serves a no-op Python handler on a free
loopback port. Three clients invoke it warm, N times each (default 2000), in alternating
rounds so a shared machine's drift weighs on all alike:

- raw HTTP: one keep-alive socket, a minimal ``POST …/invocations`` (what curl or a thin SDK
  sends), timed from the first byte sent to the last byte of the response;
- boto3: ``client.invoke(...)`` with ``Payload.read()``, as SDK users call it;
- the baseline, the engine API: ``await engine.invoke(...)`` on an engine in this process
  (no HTTP at all), the same handler.

Target (issue #5): raw HTTP p50 <= 0.5 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
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

import boto3  # noqa: E402
import engine_loop  # noqa: E402  (after the path to workbench is set)
from botocore.config import Config  # noqa: E402

from workbench.engine import Engine, EngineSettings  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
TARGET_P50_MS = 0.5


def start_serve(root: Path, state: Path) -> tuple[subprocess.Popen[bytes], int]:
    log = state / "serve.log"
    state.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "serve",
            str(root),
            "--port",
            "0",
            "--state-dir",
            str(state),
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        match = re.search(rb"Lambda API on http://127\.0\.0\.1:(\d+)", log.read_bytes())
        if match:
            # from here on its log goes nowhere: a benchmark must not fill a disk
            os.truncate(log, 0)
            return proc, int(match.group(1))
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("workbench serve did not start:\n" + log.read_text())


class RawClient:
    """One keep-alive connection, a minimal request, the response read by Content-Length."""

    REQUEST = (
        b"POST /2015-03-31/functions/noop/invocations HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"
    )

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def invoke(self) -> None:
        self.sock.sendall(self.REQUEST)
        data = b""
        while True:
            data += self.sock.recv(65536)
            head_end = data.find(b"\r\n\r\n")
            if head_end < 0:
                continue
            head = data[:head_end].lower()
            assert head.startswith(b"http/1.1 200"), data[:200]
            i = head.index(b"content-length:") + 15
            length = int(head[i : head.index(b"\r\n", i)])
            if len(data) >= head_end + 4 + length:
                return

    def calls(self, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            self.invoke()
            out.append((time.perf_counter() - t) * 1000)
        return out


def boto3_calls(client: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.invoke(FunctionName="noop", Payload=b"{}")  # type: ignore[attr-defined]
        response["Payload"].read()
        out.append((time.perf_counter() - t) * 1000)
        assert "FunctionError" not in response
    return out


async def engine_calls(engine: Engine, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await engine.invoke("noop", b"{}")
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wb-bench-http-"))
    root = work / "functions"
    (root / "noop").mkdir(parents=True)
    (root / "noop" / "function.toml").write_text('handler = "app.handler"\n')
    (root / "noop" / "app.py").write_text(NOOP)

    proc, port = start_serve(root, work / "serve-state")
    loop = engine_loop.new_loop()
    engine = Engine([root], EngineSettings(state_dir=work / "engine-state", keep_alive_s=3600))
    try:
        loop.run_until_complete(engine.start())
        raw = RawClient(port)
        client = boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"max_attempts": 0}),
        )
        raw.calls(200)  # cold start, then warm up every path
        boto3_calls(client, 200)
        loop.run_until_complete(engine_calls(engine, 200))
        per_round = max(1, args.calls // args.rounds)
        raw_ms: list[float] = []
        boto_ms: list[float] = []
        engine_ms: list[float] = []
        for _ in range(args.rounds):
            engine_ms += loop.run_until_complete(engine_calls(engine, per_round))
            raw_ms += raw.calls(per_round)
            boto_ms += boto3_calls(client, per_round)
    finally:
        loop.run_until_complete(engine.close())
        loop.close()
        proc.terminate()
        proc.wait(30)

    base = statistics.median(engine_ms)
    print(f"workbench HTTP invoke benchmark — {engine_loop.describe()}")
    print("warm invoke, no-op handler (ratio: against the engine API in this process)")
    print(row("baseline: await engine.invoke (no HTTP)", engine_ms, base, width=44))
    print(row("raw HTTP, keep-alive, via workbench serve", raw_ms, base, width=44))
    print(row("boto3 client.invoke, via workbench serve", boto_ms, base, width=44))
    raw50 = statistics.median(raw_ms)
    verdict = "met" if raw50 <= TARGET_P50_MS else "MISSED"
    print(f"target: raw HTTP p50 {raw50:.3f} ms <= {TARGET_P50_MS} ms: {verdict}")


if __name__ == "__main__":
    main()
