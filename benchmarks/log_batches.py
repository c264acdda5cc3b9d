"""How long the TUI takes to handle one batch of finished invocations, beside a bare table.

    python benchmarks/log_batches.py [--batches N] [--size S] [--rounds R] [--sort COLUMN]
                                     [--paused]

The app runs headless (``App.run_test``, 160x45) over a temporary root with one function. The
bridge posts engine events to the app in batches every 0.1 s; at a high invocation rate a batch
holds dozens of ``InvokeEnd`` events. One sample: the wall time of
``app.on_engine_events(EngineEvents([...]))`` for a batch of ``--size`` made-up records (the
invocation log's rows and window, the functions pane, the gauge: everything the app does with
them on the loop). The invocation log merges what arrived into its table at most every 0.3 s,
on a timer: that merge (``InvocationLog.flush``) is timed on its own, every third batch. Every
fifth batch the app is let draw, as the batch timer would.

Baseline, in the same app and run: adding the same number of rows (the log's five columns of
text) to a bare ``DataTable``: the least any table of the records could cost. Baseline and app
samples alternate batch by batch, so drift in a shared machine's speed weighs on both alike.

``--sort duration`` (any column key) measures the log sorted by another column than time (its
rows ordered by a key looked up per row); ``--paused`` with the log paused, as a user reading it
under load has it (the records are only counted, and the merge has nothing to do).

Target (from the test that used to assert it): a batch of 50 handled, with its share of a merge,
in a mean < 50 ms, half the 0.1 s between batches.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from figures import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)
from textual.widgets import DataTable  # noqa: E402

from workbench.engine import InvocationRecord, InvokeEnd  # noqa: E402
from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.bridge import EngineEvents  # noqa: E402
from workbench.tui.log_order import DESCENDING_FIRST, SortOrder  # noqa: E402
from workbench.tui.widgets.invocation_log import InvocationLog  # noqa: E402

TARGET_MEAN_MS = 50.0


def made_up(i: int) -> InvocationRecord:
    request_id = f"{i:08x}-0000-4000-8000-000000000000"
    return InvocationRecord(
        request_id=request_id,
        function="echo",
        started_at=1_700_000_000 + i / 1000,
        duration_ms=1.5,
        billed_ms=2,
        status="error" if i % 7 == 0 else "success",
        error_type="ValueError" if i % 7 == 0 else None,
        log_lines=[
            f"START RequestId: {request_id} Version: $LATEST",
            f"END RequestId: {request_id}",
        ],
        env_id=f"env{i % 8:029d}",
    )


async def run(
    batches: int,
    size: int,
    rounds: int,
    root: Path,
    state: Path,
    sort: str = "time",
    paused: bool = False,
) -> dict[str, list]:
    out: dict[str, list[float]] = {"table": [], "app": [], "merge": []}
    serial = 0
    for _ in range(rounds):
        app = WorkbenchApp([root], state_dir=state)
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            bare: DataTable[str] = DataTable()
            await app.screen.mount(bare)
            bare.add_columns("time", "function", "request", "duration", "status")
            log = app.query_one(InvocationLog)
            log.set_sort(SortOrder(sort, sort in DESCENDING_FIRST))
            if paused:
                log.pause()
            for batch in range(batches):
                records = [made_up(serial + i) for i in range(size)]
                serial += size
                rows = [
                    (f"{r.started_at:.3f}", r.function, r.request_id, "1.50 ms", r.status)
                    for r in records
                ]
                t = time.perf_counter()
                bare.add_rows(rows)
                out["table"].append((time.perf_counter() - t) * 1000)
                events = EngineEvents([InvokeEnd(r) for r in records])
                t = time.perf_counter()
                app.on_engine_events(events)
                out["app"].append((time.perf_counter() - t) * 1000)
                if batch % 3 == 2:
                    t = time.perf_counter()
                    log.flush()
                    out["merge"].append((time.perf_counter() - t) * 1000)
                if batch % 5 == 4:
                    await pilot.pause()  # let it draw, as the 0.1 s batch timer would
    return out


def row(name: str, xs: list[float], base: float) -> str:
    p50, p99 = statistics.median(xs), pct(xs, 99)
    return (
        f"  {name:<44} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   mean {statistics.mean(xs):8.3f} ms"
        f"   {p50 / base:6.2f}x   (n={len(xs)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--size", type=int, default=50, help="records per batch")
    ap.add_argument("--rounds", type=int, default=3, help="a fresh app each round")
    ap.add_argument("--sort", default="time", help="the log's sort column (a column key)")
    ap.add_argument("--paused", action="store_true", help="the log paused, as a reader has it")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wb-bench-"))
    (root / "echo").mkdir()
    (root / "echo" / "function.toml").write_text('handler = "app.handler"\n')
    (root / "echo" / "app.py").write_text("def handler(event, context):\n    return event\n")
    state = Path(tempfile.mkdtemp(prefix="wb-bench-state-"))
    out = engine_loop.run(
        run(args.batches, args.size, args.rounds, root, state, args.sort, args.paused)
    )
    base = statistics.median(out["table"])
    print(f"workbench log batch benchmark — {engine_loop.describe()}")
    print(
        f"{args.batches} batches of {args.size} records, {args.rounds} rounds; per batch; the log"
        f" sorted by {args.sort}{', paused' if args.paused else ''}"
    )
    print("(ratio: against the bare table's p50)")
    print(row(f"baseline: DataTable.add_rows of {args.size}", out["table"], base))
    print(row(f"app.on_engine_events, {args.size} InvokeEnd", out["app"], base))
    print(row(f"the log's merge of {3 * args.size} (InvocationLog.flush)", out["merge"], base))
    mean = statistics.mean(out["app"]) + statistics.mean(out["merge"]) / 3  # a batch's share
    verdict = "met" if mean < TARGET_MEAN_MS else "MISSED"
    print(
        f"target: mean {mean:.2f} ms per batch (its handling and a third of a merge) "
        f"< {TARGET_MEAN_MS:.0f} ms: {verdict}"
    )


if __name__ == "__main__":
    main()
