"""The invocation log driven by Pilot: live rows, filters over the store, the record screen, load.

Real runtimes for the invocations a person makes; the load test feeds made-up records through
the app's own batch handler. Waits poll the app's state instead of sleeping a guessed time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from tests.tui.pilot import wait_until
from workbench.engine import EnvironmentEvent, InvocationRecord, InvokeEnd, InvokeStart
from workbench.tui.app import WorkbenchApp
from workbench.tui.bridge import EngineEvents
from workbench.tui.lifecycle import Lifecycle
from workbench.tui.screens.record import RecordScreen
from workbench.tui.widgets.editor import EventEditor
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.widgets.invocation_log import COLUMNS, InvocationLog, LogFilter, time_text

from ..helpers import make_function

ECHO = """
def handler(event, context):
    print("echo says " + str(event.get("name")))
    return {"echoed": event.get("name")}
"""

FAIL = """
def handler(event, context):
    raise ValueError("no good: " + str(event.get("name")))
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "echo", ECHO, timeout=5)
    make_function(root, "fail", FAIL, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def log_of(app: WorkbenchApp) -> InvocationLog:
    return app.query_one(InvocationLog)


def shown(app: WorkbenchApp) -> list[InvocationRecord]:
    """The records on screen, in screen order (newest first)."""
    log = log_of(app)
    return [log.records[rid] for rid in log.request_ids()]


def status_cell(app: WorkbenchApp, row: int) -> str:
    return str(log_of(app).table.get_row_at(row)[4])


def text_of(widget: Static) -> str:
    return str(widget.content)


async def invoke(app: WorkbenchApp, function: str, name: str) -> str:
    """An invocation through the engine's public API (the bridge streams it to the log)."""
    result = await app.engine.invoke(function, json.dumps({"name": name}), trigger="test")
    return result.record.request_id


async def settle(pilot: Pilot) -> None:
    """Let the running filter query finish."""
    log = log_of(pilot.app)
    await wait_until(pilot, lambda: not log.searching)


async def test_ctrl_r_adds_a_row_coloured_by_status(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = log_of(app)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(log.records) == 1)
        [record] = shown(app)
        assert (record.function, record.status, record.cold) == ("echo", "success", True)
        assert status_cell(app, 0) == "success"
        cells = log.table.get_row_at(0)
        assert str(cells[1]) == "echo:$LATEST" and str(cells[3]) == record.request_id[:8]
        assert str(cells[2]) == "tui" and str(cells[8]) == "cold"
        assert "green" in str(cells[4].style)

        app.query_one(FunctionsPane).select("fail")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(log.records) == 2)
        newest = shown(app)[0]
        assert (newest.function, newest.status, newest.error_type) == (
            "fail",
            "error",
            "ValueError",
        )
        assert status_cell(app, 0) == "error"
        assert "red" in str(log.table.get_row_at(0)[4].style)
        assert "1 row" not in text_of(app.query_one("#log-count", Static))


async def test_filters_narrow_the_rows(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = log_of(app)
        for i in range(3):
            await invoke(app, "echo", f"ok-{i}")
            await invoke(app, "fail", f"bad-{i}")
        await wait_until(pilot, lambda: len(log.records) == 6)

        app.query_one("#log-function", Select).value = "fail"
        await wait_until(pilot, lambda: log.filter.function == "fail")
        await settle(pilot)
        assert [r.function for r in shown(app)] == ["fail"] * 3

        app.query_one("#log-function", Select).value = "all"
        app.query_one("#log-status", Select).value = "success"
        await wait_until(pilot, lambda: log.filter == LogFilter(status="success"))
        await settle(pilot)
        assert {(r.function, r.status) for r in shown(app)} == {("echo", "success")}
        assert len(shown(app)) == 3

        app.query_one("#log-status", Select).value = "all"
        app.query_one("#log-text", Input).focus()
        await pilot.press(*"bad-1")  # matches the log text of one invocation
        await wait_until(pilot, lambda: log.filter.text == "bad-1")
        await settle(pilot)
        [found] = shown(app)
        assert found.function == "fail" and any("bad-1" in line for line in found.log_lines)

        # live rows obey the filter: a new match shows up, a non-match does not
        await invoke(app, "echo", "bad-1 again")
        await invoke(app, "echo", "unrelated")
        await wait_until(pilot, lambda: len(shown(app)) == 2)
        assert "bad-1 again" in shown(app)[0].request


async def test_text_filter_finds_a_record_trimmed_off_the_screen(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = log_of(app)
        log.window = 3
        needle = await invoke(app, "echo", "needle-42")
        await wait_until(pilot, lambda: needle in log.records)
        for i in range(4):
            await invoke(app, "echo", f"hay-{i}")
        await wait_until(pilot, lambda: log.table.row_count == 3 and needle not in log.records)
        assert "newest 3" in text_of(app.query_one("#log-count", Static))

        log.set_filter(LogFilter(text="needle-42"))
        await settle(pilot)
        assert [r.request_id for r in shown(app)] == [needle]
        assert app.query_one("#log-text", Input).value == "needle-42"

        # a request id prefix finds it too, and clearing the text brings the newest back
        log.set_filter(LogFilter(text=needle[:13]))
        await settle(pilot)
        assert [r.request_id for r in shown(app)] == [needle]
        log.set_filter(LogFilter())
        await settle(pilot)
        assert len(shown(app)) == 3 and needle not in log.records


async def test_history_from_a_previous_run_is_shown_at_start(
    app: WorkbenchApp, tmp_path: Path
) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        first = await invoke(app, "echo", "before")
        await wait_until(pilot, lambda: first in log_of(app).records)
    again = WorkbenchApp(app.roots, state_dir=tmp_path / "state")
    async with again.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: first in log_of(again).records)


async def test_enter_opens_the_record_and_escape_closes_it(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = log_of(app)
        app.query_one(EventEditor).set_text('{"name": "Ada", "nested": {"n": 1}}')
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: len(log.records) == 1)
        [record] = shown(app)
        log.table.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen))
        screen = app.screen
        assert isinstance(screen, RecordScreen)
        await wait_until(pilot, lambda: screen.environment is not None)
        header = text_of(screen.query_one("#record-header", Static))
        assert record.request_id in header and "success" in header and "cold start" in header
        assert "Init Duration" in header and "Trigger tui" in header and record.env_id in header
        event = text_of(screen.query_one("#record-event", Static))
        assert '"name": "Ada"' in event and '"n": 1' in event  # pretty-printed
        logs = text_of(screen.query_one("#record-log", Static))
        assert f"START RequestId: {record.request_id} Version: $LATEST" in logs
        assert f"REPORT RequestId: {record.request_id}" in logs
        assert "echo says Ada" in logs
        response = text_of(screen.query_one("#record-response", Static))
        assert '"echoed": "Ada"' in response
        lifecycle = text_of(screen.query_one("#record-lifecycle", Static))
        assert "INIT" in lifecycle and record.request_id in lifecycle and "this record" in lifecycle

        # while it is open the engine keeps streaming: the app takes it
        await invoke(app, "echo", "meanwhile")
        await wait_until(pilot, lambda: len(log.records) == 2)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RecordScreen))
        assert app.is_running


async def test_a_click_opens_an_error_record_with_its_stack_trace(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = log_of(app)
        await invoke(app, "echo", "fine")
        failed = await invoke(app, "fail", "Bob")
        await wait_until(pilot, lambda: len(log.records) == 2)
        assert shown(app)[1].function == "echo"
        await pilot.click("#log-table", offset=(4, 2))  # the second row: the older, echo
        await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen))
        assert app.screen.request_id == shown(app)[1].request_id
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RecordScreen))

        # a record the log no longer holds is read from the store
        log.records.clear()
        log.post_message(InvocationLog.RecordSelected(failed))
        await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.record is not None)
        response = text_of(screen.query_one("#record-response", Static))
        assert "ValueError: no good: Bob" in response and "Stack trace" in response
        assert "raise ValueError" in response
        header = text_of(screen.query_one("#record-header", Static))
        assert "error" in header and "ValueError" in header


def made_up(i: int, function: str = "echo") -> InvocationRecord:
    request_id = f"{i:08x}-0000-4000-8000-000000000000"
    return InvocationRecord(
        request_id=request_id,
        function=function,
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


async def test_load_keeps_the_window_and_the_newest_on_top(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = log_of(app)
        await settle(pilot)
        most = 0
        for batch in range(100):  # 5,000 records, 50 per batch as the bridge would post them
            records = [made_up(batch * 50 + i) for i in range(50)]
            app.on_engine_events(EngineEvents([InvokeEnd(r) for r in records]))
            most = max(most, log.table.row_count)
            assert log.table.row_count <= log.window
            if batch % 5 == 4:
                await pilot.pause()  # let it draw, as the 0.1 s batch timer would
        log.flush()  # what arrived since the last merge (they are merged at most every 0.3 s)
        assert most == log.window == len(log.records)
        top = shown(app)
        assert top[0].request_id == made_up(4999).request_id
        assert [r.started_at for r in top] == sorted((r.started_at for r in top), reverse=True)
        assert log.table.cursor_row == 0  # following the newest
        # (how long a batch takes to handle: benchmarks/log_batches.py)


# --------------------------------------------------------------------- the record, snapshotted

SIZES = [(120, 40), (160, 45)]
AT = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
RID = "0f1e2d3c-4b5a-4697-8877-665544332211"
ENV = "6b8039f2775ef0321e9b4d93b9c33d7c"


def fixed_record() -> InvocationRecord:
    """A failed cold invocation, every field fixed (the screen must not change between runs)."""
    trace = [
        '  File "/var/task/app.py", line 10, in handler\n    return find(event["id"])\n',
        '  File "/var/task/app.py", line 6, in find\n    raise OrderNotFound(order_id)\n',
    ]
    response = {"errorMessage": "no order A-42", "errorType": "OrderNotFound", "stackTrace": trace}
    return InvocationRecord(
        request_id=RID,
        function="orders",
        trigger="tui",
        started_at=AT,
        duration_ms=12.34,
        billed_ms=135,
        init_duration_ms=122.5,
        memory_size=512,
        max_memory_mb=48,
        cold=True,
        status="error",
        error_type="OrderNotFound",
        cost=0.0000013250,
        request=json.dumps({"id": "A-42", "items": [{"sku": "X1", "qty": 2}]}),
        response=json.dumps(response),
        log_lines=[
            "INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:aws:lambda:…",
            f"START RequestId: {RID} Version: $LATEST",
            "looking up A-42\rnot in the cache",  # a CR: two lines on screen
            f"[ERROR] OrderNotFound: no order A-42\rTraceback (most recent call last):\r{trace[0]}",
            f"END RequestId: {RID}",
            f"REPORT RequestId: {RID}\tDuration: 12.34 ms\tBilled Duration: 135 ms\t"
            "Memory Size: 512 MB\tMax Memory Used: 48 MB\tInit Duration: 122.50 ms\t",
        ],
        env_id=ENV,
    )


def fixed_lifecycle(record: InvocationRecord) -> Lifecycle:
    def phase(name: str, at: float, **kw: object) -> EnvironmentEvent:
        return EnvironmentEvent(name, ENV, "orders", "$LATEST", AT + at, 4242, **kw)  # type: ignore[arg-type]

    warm = InvocationRecord(
        request_id="1a2b3c4d-0000-4000-8000-000000000001",
        function="orders",
        started_at=AT + 4.0,
        duration_ms=3.2,
        status="success",
        env_id=ENV,
    )
    model = Lifecycle()
    model.take(
        [
            phase("init_start", 0.001),
            phase("runtime_init", 0.0225, duration_ms=22.5),
            phase("function_init", 0.1225, duration_ms=100.0),
            phase("init_done", 0.1225, duration_ms=122.5),
            InvokeStart(RID, "orders", "$LATEST", ENV, True, AT + 0.123),
            InvokeEnd(record),
            InvokeStart(warm.request_id, "orders", "$LATEST", ENV, False, AT + 4.0),
            InvokeEnd(warm),
            phase("shutdown", 9.0, reason="idle"),
        ]
    )
    return model


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_record_screen(snap_compare, app: WorkbenchApp, size: tuple[int, int], utc: None) -> None:
    record = fixed_record()

    async def open_record(pilot: Pilot) -> None:
        await pilot.app.push_screen(RecordScreen(RID, record, lifecycle=fixed_lifecycle(record)))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_record)


def test_the_record_shows_a_cold_start_s_wait_for_its_turn() -> None:
    """A cold start that waited for its turn to start a runtime (many at once) says so on its
    record, apart from the REPORT line's figures; one that did not wait says nothing."""
    from workbench.tui.screens.record import header

    waited = made_up(1)
    waited.start_wait_ms = 1234.5
    assert "Waited 1234.50 ms for a runtime to start (not in Duration, not billed)" in str(
        header(waited).plain
    )
    assert "Waited" not in header(made_up(2)).plain


def test_the_record_shows_its_extensions_post_invocation_time() -> None:
    """An environment with extensions: their time after the response is part of Duration (as on
    Lambda), and the record says how much of it; without extensions it says nothing."""
    from workbench.tui.screens.record import header

    record = made_up(1)
    record.extensions_ms = 412.25
    assert (
        "Extensions ran 412.25 ms after the response (post-invocation: in Duration, billed)"
        in header(record).plain
    )
    assert "Extensions" not in header(made_up(2)).plain


def test_the_record_says_its_init_ran_again_in_the_invocation() -> None:
    """An invocation that retried a failed INIT (Lambda's Phase: invoke): the record says how
    long the retry took, part of its Duration; an invocation that retried none says nothing."""
    from workbench.tui.screens.record import header

    record = made_up(1)
    record.init_retry_ms = 80.49
    assert (
        "INIT failed and ran again in this invocation: 80.49 ms (Phase: invoke: in Duration,"
        " billed)" in header(record).plain
    )
    assert "ran again" not in header(made_up(2)).plain


def test_durations_fit_their_columns_in_seconds_from_10_s() -> None:
    assert time_text(137.421) == "137.42 ms" and time_text(9999.99) == "9999.99 ms"
    assert time_text(12_345.6) == "12.35 s" and time_text(900_000) == "900.0 s"
    assert time_text(1061, whole=True) == "1061 ms" and time_text(12_346, whole=True) == "12.3 s"
    widths = {column: width for _, column, width in COLUMNS}
    for ms in (0.5, 9999.99, 9999.996, 10_000, 99_995, 99_999.99, 900_000):
        assert len(time_text(ms)) <= widths["duration"]
        assert len(time_text(ms, whole=True)) <= widths["billed"]
    assert len("cancelled") <= widths["status"]
