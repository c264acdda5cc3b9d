"""Re-run on save: a reload re-invokes the function's last event, a broken save does not.

The first tests save real files under a watched root (waits are on reports, never a guessed
sleep); the coalescing ones hand ``Engine.reload`` batches as the watcher would, so a burst of
saves is exact.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.engine.test_hot_reload import watching
from tests.helpers import make_function
from workbench.engine import Engine, EngineSettings, InvokeStart, Subscription
from workbench.engine.invoke.rerun import (
    BROKEN,
    FINISHED,
    REFUSED,
    STARTED,
    TRIGGER,
    RerunOnSave,
    RerunReport,
    last_event,
)
from workbench.engine.invoke.response_diff import CHANGED, SAME, Response, diff_responses

VERSIONED = """
import time
VERSION = {version}
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {{"name": event.get("name"), "version": VERSION, "size": len(event.get("pad", ""))}}
"""


def code(version: int) -> str:
    return VERSIONED.format(version=version).lstrip("\n")


class Reports:
    """Collects a RerunOnSave's reports; ``next(kind)`` awaits the next one of that kind."""

    def __init__(self) -> None:
        self.all: list[RerunReport] = []
        self._queue: asyncio.Queue[RerunReport] = asyncio.Queue()

    def __call__(self, report: RerunReport) -> None:
        self.all.append(report)
        self._queue.put_nowait(report)

    async def next(self, kind: str, timeout: float = 20.0) -> RerunReport:
        async def wait() -> RerunReport:
            while True:
                report = await self._queue.get()
                if report.kind == kind:
                    return report

        return await asyncio.wait_for(wait(), timeout)

    def kinds(self) -> list[str]:
        return [r.kind for r in self.all]


def body(report: RerunReport) -> dict:
    assert report.result is not None
    return json.loads(report.result.payload)


# --------------------------------------------------------------------------- real watcher


async def test_a_real_save_reruns_the_last_event_and_the_diff_marks_the_change(
    function_root: Path, tmp_path: Path
) -> None:
    folder = make_function(function_root, "f", code(1))
    async with watching(function_root, tmp_path) as engine:
        first = await engine.invoke("f", b'{"name": "ada"}', trigger="tui")
        reports = Reports()
        rerun = RerunOnSave(engine, "f", reports).start()  # no event: the stored one
        try:
            (folder / "app.py").write_text(code(2))
            started = await reports.next(STARTED)
            assert started.files == (str(folder / "app.py"),)
            done = await reports.next(FINISHED)
        finally:
            await rerun.aclose()
        assert done.result is not None and done.result.record.trigger == TRIGGER
        assert body(done) == {"name": "ada", "version": 2, "size": 0}  # the last event, again
        assert engine.store is not None
        [stored] = engine.store.recent("f", 1)
        assert stored.request_id == done.result.record.request_id and stored.trigger == "rerun"

        diff = diff_responses(Response.of(first), Response.of(done.result))
        assert [(r.left, r.right, r.mark) for r in diff.rows] == [
            ("{", "{", SAME),
            ('  "name": "ada",', '  "name": "ada",', SAME),
            ('  "version": 1,', '  "version": 2,', CHANGED),
            ('  "size": 0', '  "size": 0', SAME),
            ("}", "}", SAME),
        ]
        assert diff.status is None and diff.changed


async def test_a_broken_save_is_reported_not_run_and_the_next_good_save_runs(
    function_root: Path, tmp_path: Path
) -> None:
    folder = make_function(function_root, "f", code(1))
    async with watching(function_root, tmp_path) as engine:
        reports = Reports()
        rerun = RerunOnSave(engine, "f", reports, event=b'{"name": "bob"}').start()
        try:
            (folder / "app.py").write_text("def handler(event, context)\n    return 1\n")
            broken = await reports.next(BROKEN)
            assert broken.problem is not None and broken.problem.kind == "syntax"
            assert broken.problem.file == folder / "app.py" and broken.problem.line == 1
            assert engine.store is not None and engine.store.count("f") == 0  # not invoked

            (folder / "app.py").write_text(code(3))
            done = await reports.next(FINISHED)
        finally:
            await rerun.aclose()
        assert body(done) == {"name": "bob", "version": 3, "size": 0}
        assert reports.kinds() == [BROKEN, STARTED, FINISHED]
        assert rerun.runs == 1 and engine.store.count("f") == 1


# --------------------------------------------------------------------------- batches by hand


def engine_for(root: Path, tmp_path: Path) -> Engine:
    return Engine([root], EngineSettings(keep_alive_s=30.0, state_dir=tmp_path / "state"))


async def handler_running(events: Subscription, name: str) -> None:
    """Until an invocation of ``name`` is past INIT (its code is loaded: later saves are new)."""

    async def wait() -> None:
        while True:
            event = await events.get()
            if isinstance(event, InvokeStart) and event.function == name:
                return

    await asyncio.wait_for(wait(), 20)


async def test_a_burst_of_saves_runs_once_more_not_once_per_save(
    function_root: Path, tmp_path: Path
) -> None:
    """While a re-run runs, any number of saves wait as one: the newest code runs next."""
    folder = make_function(function_root, "f", code(1))
    app = folder / "app.py"
    other = folder / "helper.py"
    async with engine_for(function_root, tmp_path) as engine:
        reports = Reports()
        events = engine.subscribe()
        rerun = RerunOnSave(engine, "f", reports, event=b'{"sleep": 0.5}').start()
        try:
            app.write_text(code(2))
            engine.reload([app])
            await handler_running(events, "f")  # version 2 runs now, for half a second
            for version in range(3, 8):  # five saves while it runs
                app.write_text(code(version))
                engine.reload([app])
            other.write_text("X = 1\n")
            engine.reload([other])
            first = await reports.next(FINISHED)
            second_start = await reports.next(STARTED)
            second = await reports.next(FINISHED)
            assert not rerun.waiting  # no third run
        finally:
            await rerun.aclose()
        assert body(first)["version"] == 2 and body(second)["version"] == 7
        assert second_start.files == (str(app), str(other))  # every save it stands for
        assert rerun.runs == 2 and reports.kinds() == [STARTED, FINISHED, STARTED, FINISHED]
        assert engine.store is not None and engine.store.count("f") == 2


async def test_a_broken_save_drops_the_waiting_rerun(function_root: Path, tmp_path: Path) -> None:
    folder = make_function(function_root, "f", code(1))
    app = folder / "app.py"
    async with engine_for(function_root, tmp_path) as engine:
        reports = Reports()
        events = engine.subscribe()
        rerun = RerunOnSave(engine, "f", reports, event=b'{"sleep": 0.5}').start()
        try:
            app.write_text(code(2))
            engine.reload([app])
            await handler_running(events, "f")
            app.write_text(code(3))
            engine.reload([app])  # waits
            app.write_text("def handler(:\n")
            engine.reload([app])  # broken: the waiting run would fail, so it goes
            await reports.next(BROKEN)
            await reports.next(FINISHED)  # the one already running finishes (old code)
            assert rerun.runs == 1 and not rerun.waiting
            app.write_text(code(4))
            engine.reload([app])
            fixed = await reports.next(FINISHED)
        finally:
            await rerun.aclose()
        assert body(fixed)["version"] == 4
        assert reports.kinds() == [STARTED, BROKEN, FINISHED, STARTED, FINISHED]


async def test_the_event_is_the_given_one_else_the_stored_whole_event_else_empty(
    function_root: Path, tmp_path: Path
) -> None:
    make_function(function_root, "f", code(1))
    async with engine_for(function_root, tmp_path) as engine:
        assert last_event(engine, "f") == b"{}"  # nothing stored yet
        big = json.dumps({"name": "big", "pad": "x" * 10_000}).encode()  # past the excerpt
        await engine.invoke("f", big)
        assert last_event(engine, "f") == big
        assert RerunOnSave(engine, "f", Reports()).event_bytes() == big
        assert RerunOnSave(engine, "f", Reports(), event=b'{"a": 1}').event_bytes() == b'{"a": 1}'

        reports = Reports()
        rerun = RerunOnSave(engine, "f", reports).start()
        try:
            engine.reload([function_root / "f" / "app.py"])
            done = await reports.next(FINISHED)
        finally:
            await rerun.aclose()
        assert body(done) == {"name": "big", "version": 1, "size": 10_000}


async def test_start_now_runs_at_once_and_a_removed_function_is_refused(
    function_root: Path, tmp_path: Path
) -> None:
    folder = make_function(function_root, "f", code(1))
    async with engine_for(function_root, tmp_path) as engine:
        reports = Reports()
        rerun = RerunOnSave(engine, "f", reports, event=b'{"name": "now"}').start(now="cli")
        try:
            first = await reports.next(FINISHED)
            assert first.trigger == "cli" and first.files == ()
            assert first.result is not None and first.result.record.trigger == "cli"
            assert body(first)["name"] == "now"

            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
            engine.reload([folder])
            refused = await reports.next(REFUSED)
        finally:
            await rerun.aclose()
        assert refused.message == "f was removed"
        assert rerun.runs == 1


async def test_start_now_on_a_broken_function_reports_it_instead(
    function_root: Path, tmp_path: Path
) -> None:
    make_function(function_root, "f", "def handler(event, context)\n    return 1\n")
    settings = EngineSettings(state_dir=tmp_path / "state", watch=True)  # checks code at start
    async with Engine([function_root], settings) as engine:
        reports = Reports()
        rerun = RerunOnSave(engine, "f", reports).start(now="cli")
        await rerun.aclose()
        assert reports.kinds() == [BROKEN]
        assert reports.all[0].problem is not None and reports.all[0].problem.line == 1
        assert rerun.runs == 0


async def test_cancel_run_stops_the_running_rerun_and_the_next_save_still_runs(
    function_root: Path, tmp_path: Path
) -> None:
    folder = make_function(function_root, "f", code(1), timeout=60)
    app = folder / "app.py"
    async with engine_for(function_root, tmp_path) as engine:
        events = engine.subscribe()
        reports = Reports()
        rerun = RerunOnSave(engine, "f", reports, event=b'{"sleep": 30}').start()
        try:
            assert not rerun.cancel_run()  # nothing runs yet
            engine.reload([app])
            await handler_running(events, "f")
            assert rerun.invoking and rerun.cancel_run()
            # it was invoked: reported with its record, cancelled, with how long it ran
            cancelled = await reports.next(FINISHED)
            assert cancelled.result is not None
            stopped = cancelled.result.record
            assert stopped.status == "cancelled" and stopped.duration_ms > 0
            assert engine.store is not None
            engine.store.flush()
            assert engine.store.recent("f", 1)[0].request_id == stopped.request_id
            assert not rerun.invoking and not engine.environments("f")  # shut down

            rerun.event = b'{"name": "after"}'
            app.write_text(code(2))
            engine.reload([app])
            done = await reports.next(FINISHED)
        finally:
            await rerun.aclose()
        assert body(done) == {"name": "after", "version": 2, "size": 0}
