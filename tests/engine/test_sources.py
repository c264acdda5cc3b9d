"""Two background engines on one state dir (serve beside the TUI): schedules and bucket folders
run in one of them only, and the other takes them over when it stops."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from workbench.engine import Engine, EngineSettings

from ..helpers import make_function

CODE = "def handler(event, context):\n    return event\n"


def settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(state_dir=tmp_path / "state", background=True, time_scale=0.001)


async def until(check, what: str, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_one_engine_per_state_dir_runs_the_schedules_and_buckets(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    triggers = [
        {"type": "schedule", "expression": "rate(1 minute)", "name": "tick"},  # 60 ms here
        {"type": "s3", "bucket": "uploads"},
    ]
    make_function(root, "fn", CODE, triggers=triggers)
    first = await Engine([root], settings(tmp_path)).start()
    second = await Engine([root], settings(tmp_path)).start()
    try:
        assert first.sources.exclusive and not second.sources.exclusive
        assert first.scheduler is not None and second.scheduler is None
        assert first.store is not None
        await until(lambda: len(first.store.recent("fn", 100)) >= 3, "three fires")

        # a file in the bucket is one event, not one per engine
        (root / "buckets" / "uploads" / "a.txt").write_text("a")
        await until(
            lambda: any(r.trigger == "s3:uploads" for r in first.store.recent("fn", 500)),
            "the bucket event",
        )
        await asyncio.sleep(1.0)  # longer than the bucket's settle window: a second would show
        puts = [r for r in first.store.recent("fn", 1000) if r.trigger == "s3:uploads"]
        assert len(puts) == 1

        await first.close()  # the other takes over
        await until(lambda: second.sources.exclusive, "the take-over")
        assert second.scheduler is not None and second.store is not None
        fired = len(second.store.recent("fn", 1000))
        await until(lambda: len(second.store.recent("fn", 1000)) > fired, "a fire by the second")
    finally:
        await first.close()
        await second.close()
