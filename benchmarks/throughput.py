"""Warm invocations per second over the Lambda HTTP API, beside a floor server in the same run.

    python benchmarks/throughput.py [--seconds 5] [--connections 2,8,32]

A real ``workbench serve`` (logs to /dev/null, ``WORKBENCH_CPU=full``) serves a no-op Python
handler on a free loopback port; a client process keeps C keep-alive connections busy, each
sending ``POST /2015-03-31/functions/noop/invocations`` as soon as its previous answer is in,
for the given seconds after a one-second warm-up. The floor: a minimal asyncio HTTP server
(``asyncio.start_server``, fixed 4-byte answer) driven by the same client the same way. Rounds
alternate between the two so a shared machine's drift weighs on both.

Printed per connection count: completed requests/s for each, the workbench as a share of the
floor, and p50 / p99 latency of the workbench's requests. Target (issue #17): >= 4,000/s with
8 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import pct

ROOT = Path(__file__).resolve().parent.parent
TARGET = 4000
FLOOR = r"""
import asyncio, sys
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\nnull"
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


async def _connection(port: int, path: str, until: float, lat: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}"
    ).encode()
    done = 0
    try:
        while time.perf_counter() < until:
            t = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            await reader.readexactly(int(match.group(1)) if match else 0)
            lat.append((time.perf_counter() - t) * 1000)
            done += 1
    finally:
        writer.close()
    return done


async def drive(port: int, path: str, connections: int, seconds: float) -> tuple[float, list]:
    warm = time.perf_counter() + 1.0
    await asyncio.gather(*(_connection(port, path, warm, []) for _ in range(connections)))
    lat: list[float] = []
    t0 = time.perf_counter()
    counts = await asyncio.gather(
        *(_connection(port, path, t0 + seconds, lat) for _ in range(connections))
    )
    return sum(counts) / (time.perf_counter() - t0), lat


def start_serve(root: Path, state: Path) -> tuple[subprocess.Popen[str], int]:
    workbench = str(Path(sys.executable).with_name("workbench"))
    proc = subprocess.Popen(
        [workbench, "serve", str(root), "--port", "0", "--http-port", "0", "--state-dir",
         str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "WORKBENCH_CPU": "full"},
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"Lambda API on http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found.group(1))
            break
    else:
        raise SystemExit("serve did not start")
    # its output is not read any further: to /dev/null, so a log line never blocks it
    subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", default="2,8,32")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    counts = [int(c) for c in args.connections.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="wb-throughput-"))
    (tmp / "root" / "noop").mkdir(parents=True)
    (tmp / "root" / "noop" / "app.py").write_text("def handler(event, context):\n    return None\n")
    (tmp / "root" / "noop" / "function.toml").write_text('handler = "app.handler"\n')
    floor = subprocess.Popen([sys.executable, "-c", FLOOR], stdout=subprocess.PIPE, text=True)
    assert floor.stdout is not None
    floor_port = int(floor.stdout.readline())
    serve, port = start_serve(tmp / "root", tmp / "state")
    path = "/2015-03-31/functions/noop/invocations"
    results: dict[int, dict[str, list]] = {c: {"ours": [], "floor": [], "lat": []} for c in counts}
    try:
        for _ in range(args.rounds):
            for c in counts:
                rate, lat = asyncio.run(drive(port, path, c, args.seconds))
                results[c]["ours"].append(rate)
                results[c]["lat"] += lat
                rate, _ = asyncio.run(drive(floor_port, path, c, args.seconds))
                results[c]["floor"].append(rate)
    finally:
        serve.terminate()
        floor.terminate()
        serve.wait()
        floor.wait()
    print(f"throughput over HTTP, no-op handler, {args.rounds} x {args.seconds:g} s per figure")
    print(" conns   workbench/s   floor/s   share   p50 ms   p99 ms")
    for c in counts:
        ours = statistics.median(results[c]["ours"])
        base = statistics.median(results[c]["floor"])
        lat = results[c]["lat"]
        print(
            f" {c:>5}   {ours:>11.0f}   {base:>7.0f}   {ours / base:>5.2f}"
            f"   {pct(lat, 50):>6.2f}   {pct(lat, 99):>6.2f}"
        )
    if 8 in results:
        ours8 = statistics.median(results[8]["ours"])
        print(f"target: >= {TARGET}/s with 8 connections: {'met' if ours8 >= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
