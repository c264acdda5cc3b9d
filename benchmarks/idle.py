"""CPU an idle workbench uses, beside an idle baseline measured in the same run.

    python benchmarks/idle.py [--seconds 40] [--settle 8]

Starts ``workbench serve sample_functions`` (every trigger kind the samples have: queues,
buckets, schedules, HTTP routes), lets it settle, then reads the CPU time of it and all its
children (environments, the fork server, the watchdog) over the window; then the same for the
TUI (``workbench sample_functions`` in a 160x45 pseudo-terminal, nothing pressed). Baseline:
Python's own ``http.server`` doing nothing for the same window. Target (issue #17): < 0.5 % of
one CPU for each.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    total = 0.0
    try:
        process = psutil.Process(pid)
        for p in [process, *process.children(recursive=True)]:
            try:
                times = p.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return total


def _terminal() -> tuple[int, int]:
    """A 160x45 pseudo-terminal (master, slave); the master is drained by a thread, so the
    TUI never blocks on a full terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))

    def drain() -> None:
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    return master, slave


def idle_percent(command: list[str], seconds: float, settle: float, tty: bool = False) -> float:
    streams: dict[str, int] = {}
    if tty:
        _master, slave = _terminal()
        streams = {"stdin": slave, "stdout": slave, "stderr": slave}
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=streams.get("stdin", subprocess.DEVNULL),
        stdout=streams.get("stdout", subprocess.DEVNULL),
        stderr=streams.get("stderr", subprocess.DEVNULL),
        env={**env, "WORKBENCH_CPU": "full", "TERM": "xterm-256color"},
        start_new_session=tty,
    )
    try:
        time.sleep(settle)
        before, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        after, elapsed = cpu_seconds(proc.pid), time.monotonic() - t0
        return (after - before) / elapsed * 100
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--settle", type=float, default=8.0)
    args = ap.parse_args()
    workbench = str(Path(sys.executable).with_name("workbench"))
    ports = ["--port", "0", "--http-port", "0"]
    baseline = [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"]
    base = idle_percent(baseline, args.seconds, args.settle)
    with tempfile.TemporaryDirectory(prefix="wb-idle-") as state:
        where = ["sample_functions", *ports, "--state-dir", state]
        ours = idle_percent([workbench, "serve", *where], args.seconds, args.settle)
    with tempfile.TemporaryDirectory(prefix="wb-idle-") as state:
        where = ["sample_functions", *ports, "--state-dir", state]
        tui = idle_percent([workbench, *where], args.seconds, args.settle, tty=True)
    print(f"idle CPU over {args.seconds:.0f} s (percent of one CPU)")
    print(f"  baseline: python -m http.server        {base:6.2f} %")
    print(f"  workbench serve sample_functions       {ours:6.2f} %")
    print(f"  workbench sample_functions (the TUI)   {tui:6.2f} %")
    for name, figure in (("serve", ours), ("TUI", tui)):
        print(f"target: {name} < 0.5 %: {'met' if figure < 0.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
