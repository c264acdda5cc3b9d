"""The lifecycle model, told hand-made engine events; its drawing; and the Lifecycle tab live."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static, TabbedContent

from tests.tui.pilot import wait_until
from workbench.engine import EnvironmentEvent, InvocationRecord, InvokeEnd, InvokeStart, LogLine
from workbench.tui.app import WorkbenchApp
from workbench.tui.lifecycle import Lifecycle, from_records
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.widgets.gauge import ConcurrencyGauge
from workbench.tui.widgets.timeline import (
    POST,
    LifecycleTimeline,
    axis,
    legend,
    phase_list,
    strip,
    summary,
)

from ..helpers import make_function

T0 = 1_700_000_000.0
ENV = "e" * 32


def phase(name: str, at: float, env: str = ENV, **kw: object) -> EnvironmentEvent:
    return EnvironmentEvent(name, env, "hello", "$LATEST", T0 + at, 4242, **kw)  # type: ignore[arg-type]


def start(rid: str, at: float, cold: bool, env: str = ENV) -> InvokeStart:
    return InvokeStart(rid, "hello", "$LATEST", env, cold, T0 + at)


def end(
    rid: str,
    started: float,
    duration_ms: float,
    *,
    cold: bool = False,
    status: str = "success",
    init_ms: float | None = None,
    error_type: str | None = None,
    env: str = ENV,
    extensions_ms: float | None = None,
) -> InvokeEnd:
    return InvokeEnd(
        InvocationRecord(
            request_id=rid,
            function="hello",
            started_at=T0 + started,
            duration_ms=duration_ms,
            init_duration_ms=init_ms,
            cold=cold,
            status=status,
            error_type=error_type,
            env_id=env,
            extensions_ms=extensions_ms,
        )
    )


def cold_start(init_at: float = 0.0) -> list[object]:
    """INIT: 20 ms to reach the Runtime API, 100 ms to import the handler."""
    return [
        phase("init_start", init_at),
        phase("runtime_init", init_at + 0.020, duration_ms=20.0),
        phase("function_init", init_at + 0.120, duration_ms=100.0),
        phase("init_done", init_at + 0.120, duration_ms=120.0),
    ]


def kinds(segments: list) -> list[str]:
    return [s.kind for s in segments]


def test_cold_start_two_invokes_then_idle_shutdown() -> None:
    model = Lifecycle()
    assert model.take(cold_start())
    env = model.environment(ENV)
    assert env is not None and env.state == "idle"
    model.take(
        [
            start("r1", 0.121, cold=True),
            LogLine("hello", ENV, "r1", "printing", T0 + 0.122),  # ignored
            end("r1", 0.0, 5.0, cold=True, init_ms=120.0),
            start("r2", 2.0, cold=False),
        ]
    )
    assert env.state == "busy"
    model.take([end("r2", 2.0, 3.0)])
    model.take([phase("shutdown", 300.0, reason="idle")])

    assert (env.runtime_init_ms, env.function_init_ms, env.init_duration_ms) == (20.0, 100.0, 120.0)
    assert env.init_error is None and env.pid == 4242
    assert [(i.request_id, i.cold, i.status) for i in env.invokes] == [
        ("r1", True, "success"),
        ("r2", False, "success"),
    ]
    assert env.invoke_count == 2
    assert (env.state, env.shutdown_reason, env.shutdown_at) == ("dead", "idle", T0 + 300.0)

    segments = env.segments(now=T0 + 400)
    assert kinds(segments) == [
        "runtime_init",
        "function_init",
        "invoke",
        "idle",
        "invoke",
        "idle",
        "shutdown",
    ]
    assert segments[0].start == T0 and segments[1].end == pytest.approx(T0 + 0.120)
    assert segments[3].duration_ms == pytest.approx(2000 - 121 - 5, abs=0.01)  # the idle gap
    assert segments[-2].end == T0 + 300.0 and segments[-1].label == "idle"

    # drawn: both INIT phases, the cold and the warm mark, idle, SHUTDOWN
    line = strip(env, T0, T0 + 310, 200, now=T0 + 400).plain
    assert line.startswith("▒▓◆●─")
    assert "●" in line and "─" in line and line.rstrip().endswith("✕")
    assert summary(env).plain == "INIT 120 ms · 2 invokes · ✕ idle"
    words = phase_list(env, now=T0 + 400, highlight="r2").plain
    assert "runtime init" in words and "function init" in words
    assert "INVOKE r1  success" in words and "cold" in words
    assert "r2  success  3.00 ms  warm  ◀ this record" in words
    assert "SHUTDOWN  reason: idle" in words and "Init Duration 120.00 ms" in words


def test_init_error() -> None:
    model = Lifecycle()
    model.take(
        [
            phase("init_start", 0.0),
            phase("runtime_init", 0.020, duration_ms=20.0),
            phase("init_error", 0.070, duration_ms=70.0, error_type="Runtime.ImportModuleError"),
            phase("shutdown", 0.071, reason="error"),
            start("r1", 0.072, cold=True),
            end(
                "r1",
                0.0,
                0.0,
                cold=True,
                status="error",
                init_ms=70.0,
                error_type="Runtime.ImportModuleError",
            ),
        ]
    )
    env = model.environment(ENV)
    assert env is not None
    assert env.init_error == "Runtime.ImportModuleError" and env.init_duration_ms == 70.0
    assert (env.state, env.shutdown_reason) == ("dead", "error")
    assert kinds(env.segments(now=T0 + 1)) == ["runtime_init", "init_error", "invoke", "shutdown"]
    assert "idle" not in kinds(env.segments(now=T0 + 1))
    assert summary(env).plain == "INIT failed: Runtime.ImportModuleError · ✕ error"
    assert "failed: Runtime.ImportModuleError" in phase_list(env, now=T0 + 1).plain


def test_timeout_shuts_the_environment_down() -> None:
    model = Lifecycle()
    model.take(
        [
            *cold_start(),
            start("r1", 0.121, cold=True),
            phase("shutdown", 3.121, reason="timeout"),  # the engine kills it, then reports
            end("r1", 0.0, 3000.0, cold=True, status="timeout", init_ms=120.0),
        ]
    )
    env = model.environment(ENV)
    assert env is not None
    assert (env.state, env.shutdown_reason) == ("dead", "timeout")
    [invoke] = env.invokes
    assert (invoke.status, invoke.duration_ms) == ("timeout", 3000.0)
    assert kinds(env.segments(now=T0 + 10)) == [
        "runtime_init",
        "function_init",
        "invoke",
        "shutdown",
    ]
    line = strip(env, T0, T0 + 4, 40, now=T0 + 10).plain
    assert line.startswith("▒▓◆━") and "✕" in line
    assert summary(env).plain.endswith("✕ timeout")


def test_a_timeout_record_alone_still_ends_the_environment() -> None:
    """Events can be dropped under load: the record's status says the environment died."""
    model = Lifecycle()
    model.take([end("r1", 0.0, 1000.0, status="timeout")])
    env = model.environment(ENV)
    assert env is not None and env.state == "dead" and env.shutdown_reason == "timeout"
    [invoke] = env.invokes
    assert invoke.start == T0 and invoke.status == "timeout"


def test_running_states() -> None:
    model = Lifecycle()
    model.take([phase("init_start", 0.0)])
    env = model.environment(ENV)
    assert env is not None and env.state == "initializing"
    assert kinds(env.segments(now=T0 + 0.05)) == ["init"]
    model.take([phase("runtime_init", 0.02, duration_ms=20.0)])
    assert kinds(env.segments(now=T0 + 0.05)) == ["runtime_init", "function_init"]
    model.take(
        [phase("function_init", 0.1, duration_ms=80.0), phase("init_done", 0.1, duration_ms=100.0)]
    )
    model.take([start("r1", 0.1, cold=True)])
    assert env.state == "busy"
    assert kinds(env.segments(now=T0 + 0.5)) == ["runtime_init", "function_init", "invoke"]
    assert env.segments(now=T0 + 0.5)[-1].end == T0 + 0.5  # still running: up to now


def test_memory_is_bounded() -> None:
    model = Lifecycle(max_environments=3, max_invokes=5)
    for n in range(5):
        env_id = f"{n:032d}"
        model.take([phase("init_start", n, env=env_id)])
        if n in (0, 2):
            model.take([phase("shutdown", n + 0.5, env=env_id, reason="idle")])
    # the dead ones went first, then the oldest live one
    assert [e.env_id[-1] for e in model.newest()] == ["4", "3", "1"]
    model.take([phase("init_start", 9, env="9" * 32)])  # no dead one left: the oldest goes
    assert [e.env_id[-1] for e in model.newest()] == ["9", "4", "3"]

    many = Lifecycle(max_invokes=5)
    many.take(cold_start())
    for i in range(12):
        many.take([start(f"r{i}", 1 + i, cold=i == 0), end(f"r{i}", 1 + i, 1.0, cold=i == 0)])
    env = many.environment(ENV)
    assert env is not None
    assert env.invoke_count == 12 and len(env.invokes) == 5
    assert [i.request_id for i in env.invokes] == ["r7", "r8", "r9", "r10", "r11"]
    assert env.invoke("r0") is None and env.invoke("r11") is not None
    assert "showing the last 5 of 12 invokes" in phase_list(env, now=T0 + 20).plain


@pytest.mark.parametrize("width", [12, 16, 20, 27, 40, 55, 80])
def test_the_axis_labels_are_whole_or_not_there(width: int) -> None:
    """A narrow axis drops a label that has no room (its tick stays), never cuts one."""
    for span in (1.0, 7.5, 15.0, 95.0):
        for live in (True, False):
            text = axis(T0, T0 + span, width, live).plain
            assert len(text) == width
            assert text.rstrip().endswith("now┬" if live else "┬")
            labels = re.findall(r"┬(-[^┬ ]*)", text)
            assert all(re.fullmatch(r"-(\d+\.\d|\d+|\d+m\d\ds)s?", x) for x in labels), text
            assert all(x.endswith("s") for x in labels), text
    assert re.findall(r"┬-\S+", axis(T0, T0 + 15.0, 80, True).plain)  # room: they show


def test_rebuilt_from_stored_records() -> None:
    records = [
        end("r1", 0.0, 5.0, cold=True, init_ms=120.0).record,
        end("r2", 2.0, 3.0).record,
        end("other", 1.0, 3.0, env="x" * 32).record,
    ]
    env = from_records(ENV, records)
    assert env is not None
    assert env.init_duration_ms == 120.0 and env.invoke_count == 2
    # what happened after the last stored invoke is not known: the story ends there
    assert kinds(env.segments(now=T0 + 5)) == ["init", "invoke", "idle", "invoke"]
    assert env.invokes[0].start == pytest.approx(T0 + 0.120)
    assert env.rebuilt and "rebuilt from the stored records" in phase_list(env, T0 + 5).plain
    assert from_records("nobody", records) is None

    failed = end("r9", 0.0, 0.0, cold=True, status="error", init_ms=30.0, error_type="X.Y")
    env = from_records(ENV, [failed.record])
    assert env is not None and env.init_error == "X.Y"
    assert (env.state, env.shutdown_reason) == ("dead", "error")
    assert kinds(env.segments(now=T0 + 5)) == ["init_error", "invoke", "shutdown"]


def test_an_init_retried_in_the_invocation_is_drawn_as_its_init() -> None:
    """A record whose invocation ran a failed INIT again (Phase: invoke): the retry is its
    environment's INIT, and the invoke is what followed it, though Duration covers both."""
    retried = end("r1", 0.0, 95.0, cold=True).record
    retried.init_retry_ms = 80.0
    env = from_records(ENV, [retried])
    assert env is not None and env.init_phase == "invoke" and env.init_error is None
    assert env.init_duration_ms == 80.0
    [invoke] = env.invokes
    assert invoke.start == pytest.approx(T0 + 0.080) and invoke.duration_ms == pytest.approx(15)
    assert kinds(env.segments(now=T0 + 0.095)) == ["init", "invoke"]
    assert summary(env).plain.startswith("INIT retry 80")

    again = end("r2", 0.0, 80.0, cold=True, status="error", error_type="Runtime.ExitError")
    again.record.init_retry_ms = 80.0  # and it failed too
    env = from_records(ENV, [again.record])
    assert env is not None and env.init_error == "Runtime.ExitError"
    assert (env.state, env.shutdown_reason) == ("dead", "error")
    assert summary(env).plain == "INIT retry failed: Runtime.ExitError · ✕ error"


# --------------------------------------------------------------------- the tab, live

HELLO = """
def handler(event, context):
    return {"ok": True}
"""


async def test_the_lifecycle_tab_draws_each_environment(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO)
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        timeline = app.query_one(LifecycleTimeline)
        rows = timeline.query_one("#lifecycle-rows", Static)
        assert "No execution environments yet" in str(rows.content)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.engine.function_state("hello").invocations == 1)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.engine.function_state("hello").invocations == 2)
        [env] = app.engine.environments("hello")
        await wait_until(
            pilot, lambda: (e := timeline.model.environment(env.id)) and e.invoke_count == 2
        )

        app.query_one(TabbedContent).active = "tab-lifecycle"
        await wait_until(pilot, lambda: "2 invokes" in str(rows.content))
        text = str(rows.content)
        assert "hello:$LATEST" in text and env.id[:6] in text
        assert "▒" in text and "▓" in text and "◆" in text and "●" in text
        assert "warm" in text and "INIT " in text
        legend = str(timeline.query_one("#lifecycle-legend", Static).content)
        assert "INIT" in legend and "INVOKE" in legend and "SHUTDOWN" in legend
        assert "cold" in legend and "warm" in legend
        assert "now" in str(timeline.query_one("#lifecycle-axis", Static).content)


def test_the_model_does_not_import_textual() -> None:
    """The lifecycle model is pure: a headless front end could reuse it."""
    code = "import sys, workbench.tui.lifecycle; assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_a_runtime_that_cannot_start_is_said_before_and_drawn_as_a_failed_init(
    tmp_path: Path,
) -> None:
    """AWS's client not vendored (the python-awslambdaric sample before its pip install): the
    function list says so before any invoke, and the invoke's INIT reads failed, as a handler
    that fails its import does, never a warm environment."""
    root = tmp_path / "functions"
    make_function(root, "ric", HELLO, runtime_client="awslambdaric")
    make_function(root, "unready", HELLO, runtime="provided.al2023")  # no bootstrap
    make_function(root, "vendored", HELLO, runtime_client="awslambdaric")
    (root / "vendored" / "awslambdaric").mkdir()
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        pane = app.query_one(FunctionsPane)
        table = app.query_one("#functions-table", DataTable)
        await wait_until(pilot, lambda: pane.selected == "ric")
        assert str(table.get_cell("ric", "last")) == "✕ setup"
        assert str(table.get_cell("unready", "last")) == "✕ setup"
        assert str(table.get_cell("vendored", "last")) == ""
        said = str(app.query_one("#function-detail", Static).content)
        assert "cannot start: Runtime.InvalidEntrypoint" in said
        assert f"pip install --target {root / 'ric'} awslambdaric" in said
        pane.select("unready")
        await pilot.pause()
        said = str(app.query_one("#function-detail", Static).content)
        assert "cannot start: Runtime.InvalidEntrypoint: Couldn't find valid bootstrap" in said

        pane.select("ric")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.engine.function_state("ric").invocations == 1)
        timeline = app.query_one(LifecycleTimeline)
        # INIT failed, then its retry in the invocation (Lambda's Phase: invoke), in another
        await wait_until(pilot, lambda: len(timeline.model) == 2)
        env, first = timeline.model.newest()
        await wait_until(pilot, lambda: env.invoke_count == 1)
        assert (first.init_phase, env.init_phase) == ("init", "invoke")
        for each in (first, env):
            assert each.init_error == "Runtime.InvalidEntrypoint"
            assert (each.state, each.shutdown_reason) == ("dead", "error")
        assert first.invoke_count == 0
        app.query_one(TabbedContent).active = "tab-lifecycle"
        rows = timeline.query_one("#lifecycle-rows", Static)
        await wait_until(pilot, lambda: "INIT retry failed" in str(rows.content))
        assert summary(first).plain == "INIT failed: Runtime.InvalidEntrypoint · ✕ error"
        assert summary(env).plain == "INIT retry failed: Runtime.InvalidEntrypoint · ✕ error"
        drawn = str(rows.content)
        assert "✕" in drawn and "warm" not in drawn
        # the row's last status is the failure now; the detail still says why
        assert str(table.get_cell("ric", "last")) == "error"
        assert "cannot start:" in str(app.query_one("#function-detail", Static).content)


async def test_a_deleted_function_leaves_the_gauge_and_its_environments_say_removed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO)
    sleeper = "import time\ndef handler(e, c):\n    time.sleep(e['s'])\n"
    make_function(root, "sleeper", sleeper, timeout=60)
    make_function(root, "stays", HELLO)
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        await app.engine.wait_watching()
        gauge = app.query_one(ConcurrencyGauge)
        timeline = app.query_one(LifecycleTimeline)
        for name in ("hello", "stays"):
            app.query_one(FunctionsPane).select(name)
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda n=name: app.engine.function_state(n).invocations == 1)
        [idle] = app.engine.environments("hello")
        sleeping = asyncio.ensure_future(app.engine.invoke("sleeper", b'{"s": 5}'))
        await wait_until(pilot, lambda: app.engine.function_state("sleeper").busy)
        [busy] = app.engine.function_state("sleeper").busy
        await wait_until(pilot, lambda: {"hello", "sleeper", "stays"} <= set(gauge.functions))
        assert "hello  0 in flight" in gauge.summary()

        shutil.rmtree(root / "hello")
        shutil.rmtree(root / "sleeper")  # while it runs: it finishes, then goes
        await wait_until(pilot, lambda: "hello" not in gauge.functions)
        assert "hello" not in gauge.summary() and "stays" in gauge.functions
        await wait_until(pilot, lambda: (e := timeline.model.environment(idle.id)) and not e.alive)
        life = timeline.model.environment(idle.id)
        assert life is not None and life.shutdown_reason == "removed"
        assert summary(life).plain.endswith("✕ removed")
        if not sleeping.done():  # (5 s is long for a reload; a loaded machine may take it)
            assert "sleeper" in gauge.functions  # still running: it stays until it is done
        result = await sleeping
        assert result.record.status == "success"
        await wait_until(pilot, lambda: "sleeper" not in gauge.functions)
        await wait_until(pilot, lambda: (e := timeline.model.environment(busy.id)) and not e.alive)
        assert timeline.model.environment(busy.id).shutdown_reason == "removed"  # type: ignore[union-attr]
        assert "stays" in gauge.functions


def test_extension_init_comes_first_of_init_and_counts_in_it() -> None:
    # as the engine publishes them: Extension INIT (50 ms) ends before the runtime is spawned;
    # Init Duration (170 ms) counts it, as Lambda's does
    model = Lifecycle()
    model.take(
        [
            phase("extension_init", 0.050, duration_ms=50.0),
            phase("init_start", 0.051),
            phase("runtime_init", 0.070, duration_ms=20.0),
            phase("function_init", 0.170, duration_ms=100.0),
            phase("init_done", 0.170, duration_ms=170.0),
        ]
    )
    env = model.environment(ENV)
    assert env is not None and env.extension_init_ms == 50.0
    segments = env.segments(now=T0 + 1)
    assert kinds(segments)[:3] == ["extension_init", "runtime_init", "function_init"]
    assert segments[0].start == pytest.approx(T0)
    assert segments[1].start == pytest.approx(T0 + 0.050)
    assert segments[2].end == pytest.approx(T0 + 0.170)
    assert strip(env, T0, T0 + 0.2, 200, now=T0 + 1).plain.startswith("░")
    assert "extension init 50.00 ms" in phase_list(env, now=T0 + 1).plain


def test_an_invokes_post_invocation_extension_time_is_drawn_at_its_end() -> None:
    # a warm invoke of 1 s whose last 400 ms are an extension's (the runtime answered at 600 ms)
    model = Lifecycle()
    model.take(
        [
            *cold_start(),
            start("r1", 1.0, cold=False),
            end("r1", 1.0, 1000.0, extensions_ms=400.0),
            start("r2", 3.0, cold=False),
            end("r2", 3.0, 1000.0),  # (a record without extensions)
        ]
    )
    env = model.environment(ENV)
    assert env is not None
    [r1, r2] = env.invokes
    assert (r1.extensions_ms, r2.extensions_ms) == (400.0, None)
    # 100 cells for 4 s: the invoke spans cells 25..50, its last 400 ms (~10 cells) dotted
    line = strip(env, T0, T0 + 4, 101, now=T0 + 4).plain
    drawn = re.fullmatch(f"●(━+)({POST}+)", line[25:51])
    assert drawn is not None, line
    assert abs(len(drawn.group(2)) - 11) <= 1  # (a cell either way: where 1.6 s falls)
    assert POST not in line[75:]  # the invoke without extensions is drawn solid
    words = phase_list(env, now=T0 + 4).plain
    assert "r1  success  1000.00 ms  warm  (extensions 400.00 ms after the response)" in words
    assert "r2  success  1000.00 ms  warm\n" in words + "\n"
    # the legend names the mark only when it can appear
    assert POST in legend(200, extensions=True).plain
    assert POST not in legend(200).plain
