"""Two background engines on one state dir (serve beside the TUI): schedules and bucket folders
run in one of them only, and the other takes them over when it stops."""

from __future__ import annotations

from pathlib import Path

from workbench.engine import BucketActivity, Engine, EngineSettings
from workbench.engine.sources.buckets import Buckets

from ..helpers import make_function, until

CODE = "def handler(event, context):\n    return event\n"


def settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(state_dir=tmp_path / "state", background=True, time_scale=0.001)


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
        events = first.subscribe()
        seen: list[object] = []

        def reported(key: str) -> list[BucketActivity]:
            seen.extend(events.get_nowait())
            return [e for e in seen if isinstance(e, BucketActivity) and e.key == key]

        (root / "buckets" / "uploads" / "a.txt").write_text("a")
        await until(
            lambda: any(r.trigger == "s3:uploads" for r in first.store.recent("fn", 500)),
            "the bucket event",
        )
        # only the engine holding sources.lock watches the bucket folders...
        assert not [part for part in second.sources.parts if isinstance(part, Buckets)]
        # ...and it reported the file once: a file written later is reported after any second
        # report of the first (the watcher hands changes over in order, and an earlier change
        # settles no later than a later one)
        (root / "buckets" / "uploads" / "b.txt").write_text("b")
        await until(lambda: reported("b.txt"), "the later file's event")
        assert len(reported("a.txt")) == 1
        puts = [e for e in first.async_events("fn") if e.trigger == "s3:uploads"]
        assert len(puts) == 2  # one Event invocation per file, in the shared queue

        await first.close()  # the other takes over
        await until(lambda: second.sources.exclusive, "the take-over")
        assert second.scheduler is not None and second.store is not None
        fired = len(second.store.recent("fn", 1000))
        await until(lambda: len(second.store.recent("fn", 1000)) > fired, "a fire by the second")
    finally:
        await first.close()
        await second.close()
