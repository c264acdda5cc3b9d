"""How fast the workbench starts: ``serve`` to its first answered Invoke, the TUI to its first
frame, beside a bare interpreter start measured in the same run.

    python benchmarks/start.py [--runs 7]

serve: wall time from spawning ``workbench serve`` (a root with one no-op function, fresh state
dir, ports chosen by the kernel) until an Invoke of that function has been answered (the port is
read from serve's first lines; the client retries every 2 ms until it answers); also until its
``Lambda API on`` line, and from that line to the answer (the first cold start, and whatever of
the start it still waits for). TUI: wall time
from spawning ``workbench`` on the same root in a pseudo-terminal of 120x40 until the screen
shows the functions pane's first function (the first frame with content). Baselines:
``python -c pass`` and ``python -c "import asyncio"`` with the same interpreter. Rounds
alternate, so a shared machine's drift weighs on all alike.

Targets (issue #17): serve ready within 200 ms, the TUI's first frame within 400 ms.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
import urllib.request
from pathlib import Path

from figures import pct

ROOT = Path(__file__).resolve().parent.parent
WORKBENCH = str(Path(sys.executable).with_name("workbench"))


def bare(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - t) * 1000


def serve_ready(root: Path) -> tuple[float, float]:
    """(spawn -> its ``Lambda API on`` line, spawn -> the first Invoke answered), in ms."""
    state = tempfile.mkdtemp(prefix="wb-start-")
    t = time.perf_counter()
    proc = subprocess.Popen(
        [WORKBENCH, "serve", str(root), "--port", "0", "--http-port", "0", "--state-dir", state],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            if found := re.search(r"Lambda API on (http://\S+)", line):
                url = found.group(1)
                listening = (time.perf_counter() - t) * 1000
                break
        if url is None:
            raise SystemExit("serve printed no Lambda API line")
        request = f"{url}/2015-03-31/functions/noop/invocations"
        while True:
            try:
                with urllib.request.urlopen(urllib.request.Request(request, data=b"{}")) as r:
                    r.read()
                break
            except OSError:
                time.sleep(0.002)
        return listening, (time.perf_counter() - t) * 1000
    finally:
        proc.terminate()
        proc.wait(10)


def tui_first_frame(root: Path) -> float:
    state = tempfile.mkdtemp(prefix="wb-start-")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    t = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(WORKBENCH, [WORKBENCH, str(root), "--state-dir", state], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    seen = b""
    try:
        while time.perf_counter() - t < 30:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
                if b"noop" in seen:
                    return (time.perf_counter() - t) * 1000
        raise SystemExit("the TUI drew no function within 30 s")
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def row(name: str, xs: list[float], base: float) -> str:
    p50 = statistics.median(xs)
    return (
        f"  {name:<38} p50 {p50:8.1f} ms   p99 {pct(xs, 99):8.1f} ms   "
        f"{p50 / base:5.2f}x   (n={len(xs)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wb-start-root-"))
    (root / "noop").mkdir()
    (root / "noop" / "app.py").write_text("def handler(event, context):\n    return None\n")
    (root / "noop" / "function.toml").write_text('handler = "app.handler"\n')
    samples: dict[str, list[float]] = {
        "pass": [],
        "asyncio": [],
        "listening": [],
        "serve": [],
        "first": [],
        "tui": [],
    }
    for _ in range(args.runs):
        samples["pass"].append(bare("pass"))
        samples["asyncio"].append(bare("import asyncio"))
        listening, answered = serve_ready(root)
        samples["listening"].append(listening)
        samples["serve"].append(answered)
        samples["first"].append(answered - listening)
        samples["tui"].append(tui_first_frame(root))
    base = statistics.median(samples["pass"])
    print(f"workbench start benchmark — {sys.executable}; ratio: against `python -c pass`")
    print(row("baseline: python -c pass", samples["pass"], base))
    print(row("baseline: python -c 'import asyncio'", samples["asyncio"], base))
    print(row("serve: spawn -> its Lambda API line", samples["listening"], base))
    print(row("serve: spawn -> first Invoke answered", samples["serve"], base))
    print(row("serve: API line -> first answer", samples["first"], base))
    print(row("TUI: spawn -> first frame with content", samples["tui"], base))
    serve, tui = statistics.median(samples["serve"]), statistics.median(samples["tui"])
    print(
        f"targets: serve <= 200 ms: {'met' if serve <= 200 else 'MISSED'}; "
        f"TUI first frame <= 400 ms: {'met' if tui <= 400 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
