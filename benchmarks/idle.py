"""CPU an idle workbench uses, beside an idle baseline measured in the same run.

    python benchmarks/idle.py [--seconds 40] [--settle 8]

Starts ``workbench serve sample_functions`` (every trigger kind the samples have: queues,
buckets, schedules, HTTP routes), lets it settle, then reads the CPU time of it and all its
children (environments, the fork server, the watchdog) over the window. Baseline: Python's own
``http.server`` doing nothing for the same window. Target (issue #17): < 0.5 % of one CPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
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


def idle_percent(command: list[str], seconds: float, settle: float) -> float:
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "WORKBENCH_CPU": "full"},
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
    serve = [workbench, "serve", "sample_functions", "--port", "0", "--http-port", "0"]
    baseline = [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"]
    base = idle_percent(baseline, args.seconds, args.settle)
    ours = idle_percent(serve, args.seconds, args.settle)
    print(f"idle CPU over {args.seconds:.0f} s (percent of one CPU)")
    print(f"  baseline: python -m http.server        {base:6.2f} %")
    print(f"  workbench serve sample_functions       {ours:6.2f} %")
    print(f"target: < 0.5 %: {'met' if ours < 0.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
