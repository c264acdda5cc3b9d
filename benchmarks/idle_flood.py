"""A flood of idle connections against ``workbench serve`` at a low descriptor limit.

    python benchmarks/idle_flood.py [--idle N] [--nofile F] [--calls C] [--hold S] [--checkout DIR]

A real ``workbench serve`` (from DIR, default this checkout) runs with ``RLIMIT_NOFILE`` F
(default 1024, a common ``ulimit -n``), serving a no-op function. First C ListFunctions calls,
each on a new connection, give the baseline; then N connections (default 2000) open and say
nothing, and C more ListFunctions calls and one Invoke are timed against that baseline (a call
that gets no answer within 30 s counts as failed; three in a row end the run). The flood is
held S seconds (default 20) while serve's output is counted: lines, bytes and tracebacks.
Issue 14 measured 1.25 M tracebacks (506 MB) in under a minute, and every call hanging.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import pct

os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 30.0


def start_serve(
    checkout: Path, root: Path, state: Path, nofile: int
) -> tuple[subprocess.Popen[bytes], int, Path]:
    log = state / "serve.log"
    state.mkdir(parents=True, exist_ok=True)

    def limit() -> None:
        # soft and hard: the engine raises its soft limit to the hard one at start
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", str(root), "--port", "0", "--http-port", "0",
         "--state-dir", str(state)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=checkout,
        preexec_fn=limit,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        match = re.search(rb"Lambda API on http://127\.0\.0\.1:(\d+)", log.read_bytes())
        if match:
            return proc, int(match.group(1)), log
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("workbench serve did not start:\n" + log.read_text())


def call(port: int, method: str, path: str, body: bytes | None = None) -> float | None:
    """ms for one call on a new connection, or None if it got no 200 within the timeout."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        response.read()
        ok = response.status == 200
    except OSError:
        ok = False
    finally:
        conn.close()
    return (time.perf_counter() - start) * 1000 if ok else None


def calls(port: int, n: int) -> tuple[list[float], int]:
    """Up to ``n`` timed calls; three failures in a row end the run (each waits 30 s)."""
    times: list[float] = []
    failed = in_a_row = 0
    for _ in range(n):
        ms = call(port, "GET", "/2015-03-31/functions")
        if ms is None:
            failed += 1
            in_a_row += 1
            if in_a_row == 3:
                break
        else:
            times.append(ms)
            in_a_row = 0
    return times, failed


def row(name: str, xs: list[float], failed: int, base: float) -> str:
    if not xs:
        return f"  {name:<34} no call answered ({failed} failed)"
    p50, p99 = statistics.median(xs), pct(xs, 99)
    return (
        f"  {name:<34} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   {p50 / base:7.2f}x   "
        f"(n={len(xs)}, failed {failed})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--nofile", type=int, default=1024)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--hold", type=float, default=20.0)
    ap.add_argument("--checkout", type=Path, default=ROOT)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.idle + 1024)), hard))

    work = Path(tempfile.mkdtemp(prefix="wb-bench-flood-"))
    root = work / "functions"
    (root / "noop").mkdir(parents=True)
    (root / "noop" / "function.toml").write_text('handler = "app.handler"\n')
    (root / "noop" / "app.py").write_text("def handler(event, context):\n    return None\n")
    proc, port, log = start_serve(args.checkout.resolve(), root, work / "state", args.nofile)
    idle: list[socket.socket] = []
    try:
        invoke = "/2015-03-31/functions/noop/invocations"
        assert call(port, "POST", invoke, b"{}") is not None, "the warm-up invoke failed"
        calls(port, 10)  # warm up ListFunctions too
        base_ms, base_failed = calls(port, args.calls)
        before = log.stat().st_size
        flood_start = time.monotonic()
        for _ in range(args.idle):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            idle.append(sock)
        flood_ms, flood_failed = calls(port, args.calls)
        invoke_ms = call(port, "POST", invoke, b"{}")
        time.sleep(max(0.0, args.hold - (time.monotonic() - flood_start)))
        held = time.monotonic() - flood_start
        output = log.read_bytes()[before:]
    finally:
        for sock in idle:
            sock.close()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    text = output.decode(errors="replace")
    base = statistics.median(base_ms) if base_ms else 1.0
    print(f"workbench idle-flood benchmark — serve from {args.checkout.resolve()}")
    print(
        f"RLIMIT_NOFILE {args.nofile}, {args.idle} idle connections; ListFunctions on a new "
        "connection each (ratio: against the baseline before the flood)"
    )
    print(row("baseline: no flood", base_ms, base_failed, base))
    print(row("during the flood", flood_ms, flood_failed, base))
    print(
        f"  Invoke during the flood: {'no answer' if invoke_ms is None else f'{invoke_ms:.2f} ms'}"
    )
    print(
        f"serve's output over {held:.1f} s of flood: {text.count(chr(10))} lines, "
        f"{len(output) / 1e6:.2f} MB, {text.count('Traceback')} tracebacks"
    )
    invocation_lines = ("START RequestId", "END RequestId", "REPORT RequestId")
    for line in [x for x in text.splitlines() if x.strip() and not x.startswith(invocation_lines)][
        :3
    ]:
        print(f"  | {line[:160]}")


if __name__ == "__main__":
    main()
