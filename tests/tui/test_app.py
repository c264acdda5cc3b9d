"""The workbench app driven by Pilot: select, invoke, refuse, templates, cancel, gauge, quit.

Real runtimes in real processes, as a person would use them; waits poll the app's own state
(``wait_until``) instead of sleeping for a guessed time.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import psutil
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Digits, Static

from tests.tui.pilot import palette_offers, wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.screens.help import HelpScreen
from workbench.tui.widgets.editor import EventEditor
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.widgets.gauge import ConcurrencyGauge
from workbench.tui.widgets.invocation_log import InvocationLog

from ..helpers import make_function, until_sync

HELLO = """
def handler(event, context):
    print("hello from the handler")
    return {"greeting": "hello " + str(event.get("name"))}
"""

SLEEPER = """
import time

def handler(event, context):
    time.sleep(30)
    return {"slept": 30}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO, timeout=5)
    make_function(root, "sleeper", SLEEPER, timeout=60)
    make_function(root, "single", SLEEPER, timeout=60, reserved_concurrency=1)
    return root


@pytest.fixture
def app(root: Path, tmp_path: Path) -> WorkbenchApp:
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def text_of(app: WorkbenchApp, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


def runtimes() -> list[psutil.Process]:
    """The environments' processes this test process started, still alive: those with a
    function's variables (not the fork server, which stays for the engine's life and whose
    command line its forked runtimes share, nor the watchdog, which stays a while after the
    last environment: ``watchdog.LINGER_S``)."""
    alive = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "AWS_LAMBDA_FUNCTION_NAME" in p.environ():
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def helpers() -> list[psutil.Process]:
    """The engine's own helper processes still alive: its fork servers and its watchdog."""
    alive = []
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            command = " ".join(p.cmdline())
            if p.status() != psutil.STATUS_ZOMBIE and (
                "workbench_zygote.serve" in command or "workbench-watchdog" in command
            ):
                alive.append(p)
    return alive


def still_running() -> str:
    """What ``runtimes()`` found, for a failure to say."""
    found = []
    for p in runtimes():
        try:
            found.append(f"{p.pid} {' '.join(p.cmdline())[:120]!r}")
        except psutil.Error:
            pass
    return "still running: " + "; ".join(found)


async def select(pilot: Pilot, name: str) -> None:
    pilot.app.query_one(FunctionsPane).select(name)
    await pilot.pause()
    assert pilot.app.query_one(FunctionsPane).selected == name


async def test_startup_selects_the_first_function(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.query_one(FunctionsPane).selected == "hello"
        assert app.focused is app.query_one("#functions-table", DataTable)
        assert "hello" in text_of(app, "#function-detail")


async def test_ctrl_r_invokes_and_shows_payload_and_metrics(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Duration" in text_of(app, "#response-status"))
        status = text_of(app, "#response-status")
        body = text_of(app, "#response-body")
        assert "hello" in status and "success" in status
        assert "cold" in status and "Billed" in status and "Max Memory" in status
        assert "Init Duration" in status
        assert json.loads(body) == {"greeting": "hello world"}
        # the second call reuses the environment
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "warm" in text_of(app, "#response-status"))
        assert "Init Duration" not in text_of(app, "#response-status")


async def test_invalid_json_refuses_and_says_where(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(EventEditor).set_text('{\n  "name": "world",\n}\n')
        await pilot.pause()
        assert "line 3, column 1" in text_of(app, "#event-status")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert "not invoked" in text_of(app, "#response-status")
        assert "line 3, column 1" in text_of(app, "#response-body")
        assert not app.workers  # nothing was started
        assert app.engine.function_state("hello").invocations == 0


async def test_a_template_fills_the_editor(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.click("#template")
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # past the blank prompt: the first template
        await pilot.pause()
        event = json.loads(app.query_one(EventEditor).text)
        assert event["Records"][0]["eventSource"] == "aws:s3"
        assert "valid JSON" in text_of(app, "#event-status")


async def test_escape_cancels_a_long_invocation_and_leaves_no_process(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await select(pilot, "sleeper")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.engine.function_state("sleeper").busy)
        [env] = app.engine.function_state("sleeper").busy
        await wait_until(pilot, lambda: env.state == "busy")  # the handler is sleeping
        procs = runtimes()
        assert env.pid in [p.pid for p in procs], "the runtime should be running"
        assert "invoking" in text_of(app, "#response-status")
        assert app.query_one("#response").has_class("running")
        # the UI is not blocked while it runs: the cursor still moves
        await pilot.press("up")
        assert app.query_one(FunctionsPane).selected == "single"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.workers)
        assert "Cancelled" in text_of(app, "#response-body")
        # it was invoked: the pane, the record and the log row say cancelled, with its duration
        status = text_of(app, "#response-status")
        assert "sleeper cancelled" in status and "not invoked" not in status
        assert app.engine.store is not None
        app.engine.store.flush()
        [record] = app.engine.store.recent("sleeper", 1)
        assert (record.status, record.env_id, record.trigger) == ("cancelled", env.id, "tui")
        assert record.duration_ms > 0 and record.billed_ms >= record.duration_ms
        assert f"Duration {record.duration_ms:.2f} ms" in status
        assert record.log_lines[-1].startswith(f"REPORT RequestId: {record.request_id}\t")
        assert record.request_id in text_of(app, "#response-body")
        log = app.query_one(InvocationLog)
        await wait_until(pilot, lambda: record.request_id in log._slot_of)
        row = [str(c) for c in log.table.get_row(log._slot_of[record.request_id])]
        assert "cancelled" in row and f"{record.duration_ms:.2f} ms" in row
        assert env.state == "dead"
        await wait_until(pilot, lambda: not runtimes(), explain=still_running)
        for p in procs:
            assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        # with nothing running, escape declines and the app carries on
        await pilot.press("escape")
        assert app.is_running


async def test_escape_from_the_editor_cancels_too(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await select(pilot, "sleeper")
        app.query_one("#event-text").focus()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.engine.total_in_flight == 1)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.workers)
        assert "Cancelled" in text_of(app, "#response-body")


async def test_gauge_shows_two_concurrent_invocations(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        gauge = app.query_one(ConcurrencyGauge)
        await select(pilot, "sleeper")
        await pilot.press("ctrl+r", "ctrl+r")
        await wait_until(pilot, lambda: gauge.total == 2)
        assert str(app.query_one("#gauge-digits", Digits).value) == "2"
        sleeper = gauge.functions["sleeper"]
        assert (sleeper.in_flight, sleeper.busy) == (2, 2)
        assert "sleeper  2 in flight" in gauge.summary()
        assert "2 busy · 0 idle" in gauge.summary()
        await wait_until(pilot, lambda: max(gauge.history) == 2)  # the sparkline saw it
        await pilot.press("escape")
        await wait_until(pilot, lambda: gauge.total == 0)
        assert gauge.functions["sleeper"].in_flight == 0


async def test_gauge_counts_a_throttle_with_its_reason(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        gauge = app.query_one(ConcurrencyGauge)
        await select(pilot, "single")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.engine.total_in_flight == 1)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: gauge.throttles == 1)
        single = gauge.functions["single"]
        assert single.throttles == 1
        assert single.last_reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert (single.in_flight, single.reserved) == (1, 1)
        assert "1/1" in gauge.summary()
        assert "1 throttled ReservedFunctionConcurrentInvocationLimitExceeded" in gauge.summary()
        assert "TooManyRequests" in text_of(app, "#response-body") or "Reserved" in text_of(
            app, "#response-body"
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.workers)


async def test_the_gauge_says_when_lambdas_scaling_rate_is_played(
    root: Path, tmp_path: Path
) -> None:
    """--scaling-rate: its bar's tooltip says the rate; without it, it says nothing of one."""
    for rate, said in ((1000, "scaling: Lambda's rate 1,000 new environments"), (None, None)):
        app = WorkbenchApp([root], state_dir=tmp_path / f"state-{rate}", scaling_rate=rate)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            tooltip = str(app.query_one("#gauge-bar").tooltip)
            assert tooltip.startswith("in flight across all functions / account limit 1000")
            assert (said in tooltip) if said else ("scaling" not in tooltip), tooltip


async def test_help_lists_every_app_binding_and_closes(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        listing = app.screen.text()
        for binding in WorkbenchApp.BINDINGS:
            assert binding.description in listing
            assert app.get_key_display(binding) in listing
        assert "DataTable #functions-table" in listing  # the focused pane's keys too
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_question_mark_types_in_the_editor(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#event-text").focus()
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        assert "?" in app.query_one(EventEditor).text


async def test_every_binding_has_an_id_and_tooltip() -> None:
    for binding in WorkbenchApp.BINDINGS:
        assert binding.id and binding.tooltip, binding


async def test_palette_offers_namespaced_commands(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        provider = WorkbenchCommands(app.screen)
        names = [c.name for c in provider.commands()]
        for expected in (
            "function: Invoke",
            "function: Select hello",
            "function: Select single",
            "event: Template s3 put",
            "view: Invocations",
            "view: Lifecycle",
            "view: Help",
            "app: Quit",
        ):
            assert expected in names
        assert len(names) == len(set(names))


async def test_palette_invokes_the_selected_function(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"function: Invoke")
        await palette_offers(pilot, "function: Invoke")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Duration" in text_of(app, "#response-status"))
        assert json.loads(text_of(app, "#response-body")) == {"greeting": "hello world"}


async def test_palette_selects_a_function_and_fills_a_template(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        commands = {c.name: c for c in WorkbenchCommands(app.screen).commands()}
        commands["function: Select sleeper"].run()
        await pilot.pause()
        assert app.query_one(FunctionsPane).selected == "sleeper"
        commands["event: Template s3 put"].run()
        await pilot.pause()
        assert json.loads(app.query_one(EventEditor).text)["Records"][0]["eventSource"] == "aws:s3"
        commands["view: Lifecycle"].run()
        await pilot.pause()
        assert app.query_one("#bottom-tabs").active == "tab-lifecycle"


async def test_ctrl_q_quits_and_leaves_no_process(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await select(pilot, "sleeper")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.engine.total_in_flight == 1)
        await wait_until(pilot, runtimes)
        procs = runtimes()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0 or app.return_code is None
    until_sync(lambda: not runtimes(), "the runtimes to exit", step=0.05, explain=still_running)
    for p in procs:
        assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    until_sync(lambda: not helpers(), "the fork server and the watchdog to exit", step=0.05)


async def test_the_header_shows_the_workbench_icon(app: WorkbenchApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        drawn = str(app.screen.query_one("HeaderIcon").render())  # what the corner shows
        assert "λ" in drawn and "⭘" not in drawn  # not Textual's default


async def test_help_groups_every_panes_keys_and_the_palette_has_every_action(
    app: WorkbenchApp,
) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        titles = [s.title for s in app.screen.sections]
        for pane in ("Event editor", "Invocations log", "Sources tab"):
            assert f"{pane} (when it has the focus)" in titles
        assert "FunctionsPane #functions" in titles  # focused: listed once, where it acts
        assert not any(t.startswith("Functions pane") for t in titles)
        [sources] = [s for s in app.screen.sections if s.title.startswith("Sources tab")]
        assert all(k.description != "Scroll Up" for k in sources.keys)  # its own keys only
        listing = app.screen.text()
        for key, what in (
            ("^l", "Clear event"),
            ("f7", "Select all"),
            ("r", "Replay"),
            ("/", "Find"),
            ("o", "Open record"),
            ("x", "Purge queue"),
            ("b", "Debug API calls"),
        ):
            assert f"  {key}".ljust(16) + what in listing, (key, what)
        await pilot.press("escape")
        await pilot.pause()

        names = {c.name: c for c in WorkbenchCommands(app.screen).commands()}
        for expected in (
            "log: Replay the selected invocation",
            "log: Open the selected record",
            "log: Find…",
            "event: Clear",
            "event: Select all",
            "debug: Toggle debugging API calls",
            "function: Toggle re-run on save",
            "queue: Purge…",
        ):
            assert expected in names, expected
        await names["log: Find…"].run()  # type: ignore[misc]  # App.run_action, as the palette does
        await pilot.pause()
        assert app.focused is app.query_one("#log-text")
        app.query_one(EventEditor).set_text('{"a": 1}')
        await names["event: Clear"].run()  # type: ignore[misc]  # App.run_action, as the palette does
        await pilot.pause()
        assert app.query_one(EventEditor).text == ""
        # the log's record: opened from the palette as enter opens it
        await pilot.press("ctrl+r")
        log = app.query_one(InvocationLog)
        await wait_until(pilot, lambda: log.table.row_count == 1)
        await names["log: Open the selected record"].run()  # type: ignore[misc]  # App.run_action, as the palette does
        await wait_until(pilot, lambda: type(app.screen).__name__ == "RecordScreen")
