"""The response pane shows the invocation's own log lines under its result ("Function Logs", as
the Lambda console's test tab does), for successes, failures and streamed responses, and c / i /
l copy the response, the request id and the log; at 80x24 the result stays whole above a log
that scrolls. Real runtimes; waits poll the app's state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Static

from tests.tui.pilot import wait_until
from tests.tui.test_log import fixed_record
from workbench.engine import InvokeResult
from workbench.tui.app import WorkbenchApp
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.function_logs import TAIL_LINES
from workbench.tui.widgets.editor import EventEditor
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.widgets.response import ResponsePane

from ..helpers import make_function

TALKER = """
def handler(event, context):
    print("talker got " + str(event.get("name")))
    for i in range(int(event.get("lines", 0))):
        print(f"line {i} of the talker")
    return {"said": event.get("name")}
"""

FAILER = """
def deeper(name):
    raise ValueError("no good: " + str(name))

def handler(event, context):
    print("about to fail")
    return deeper(event.get("name"))
"""

STREAMER = """
def handler(event, context):
    print("streaming two chunks")
    yield "chunk one"
    yield " chunk two"
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "talker", TALKER, timeout=5)
    make_function(root, "failer", FAILER, timeout=5)
    make_function(root, "streamer", STREAMER, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def text_of(app: WorkbenchApp, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


async def invoke(pilot: Pilot, name: str, event: dict[str, object]) -> ResponsePane:
    """Select ``name``, invoke it with ``event``, and wait for its result in the pane."""
    app = pilot.app
    app.query_one(FunctionsPane).select(name)
    await pilot.pause()
    app.query_one(EventEditor).set_text(json.dumps(event))
    await pilot.pause()
    pane = app.query_one(ResponsePane)
    before = pane.result
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: pane.result is not None and pane.result is not before)
    await pilot.pause()
    return pane


async def test_the_log_lines_of_the_invocation_show_under_its_result(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        pane = await invoke(pilot, "talker", {"name": "ada"})
        assert pane.result is not None
        rid = pane.result.record.request_id
        assert json.loads(text_of(app, "#response-body")) == {"said": "ada"}  # the result alone
        log = text_of(app, "#response-log-body").splitlines()
        assert app.query_one("#response-log").display
        starts = [i for i, line in enumerate(log) if line.startswith("START RequestId: ")]
        assert log[starts[0]].startswith(f"START RequestId: {rid} Version: $LATEST")
        said = log.index("talker got ada")
        end = log.index(f"END RequestId: {rid}")
        report = [i for i, line in enumerate(log) if line.startswith(f"REPORT RequestId: {rid}")]
        assert starts[0] < said < end < report[0]  # in Lambda's order
        assert "Duration:" in log[report[0]] and "Max Memory Used:" in log[report[0]]

        # a second invocation shows its own lines only, not the first one's
        pane = await invoke(pilot, "talker", {"name": "bob"})
        assert pane.result is not None
        log_text = text_of(app, "#response-log-body")
        assert "talker got bob" in log_text and "talker got ada" not in log_text
        assert rid not in log_text


async def test_a_failure_shows_its_error_and_the_traceback_in_its_log(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        pane = await invoke(pilot, "failer", {"name": "x"})
        assert pane.has_class("failed")
        body = text_of(app, "#response-body")
        assert body.startswith("ValueError: no good: x")  # the error shape, as the API returns
        assert "in deeper" in body  # with its stack trace
        log = text_of(app, "#response-log-body")
        assert "about to fail" in log
        assert "[ERROR] ValueError: no good: x" in log
        assert "Traceback (most recent call last):" in log
        assert log.index("about to fail") < log.index("[ERROR]") < log.index("END RequestId")


async def test_a_streamed_response_shows_its_log_once_it_ends(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        pane = await invoke(pilot, "streamer", {})
        assert "success" in text_of(app, "#response-status")
        assert "chunk one chunk two" in text_of(app, "#response-body")
        log = text_of(app, "#response-log-body")
        # the print is in the record every time (tests/engine/test_streamed_output.py)
        assert "streaming two chunks" in log and "REPORT RequestId" in log, log
        assert pane.result is not None and pane.result.record.log_lines


async def test_copy_keys_copy_the_response_the_request_id_and_the_log(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("3")  # the response pane
        await pilot.press("c")  # nothing shown yet: says so, copies nothing
        await wait_until(pilot, lambda: bool(app._notifications))
        [note] = list(app._notifications)
        assert note.title == "Not copied" and note.severity == "warning"
        assert app.clipboard == ""
        app.clear_notifications()

        pane = await invoke(pilot, "talker", {"name": "ada"})
        assert pane.result is not None
        record = pane.result.record
        await pilot.press("3")
        assert app.query_one(ResponsePane).has_focus_within
        await pilot.press("c")
        assert json.loads(app.clipboard) == {"said": "ada"}
        assert app.clipboard == pane.result.payload.decode()  # as the function returned it
        await pilot.press("i")
        assert app.clipboard == record.request_id
        await pilot.press("l")
        assert app.clipboard == "\n".join(record.log_lines) + "\n"
        assert "talker got ada" in app.clipboard and app.clipboard.count("RequestId") >= 3
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert said[0].startswith(f"Copied the response of {record.request_id[:8]}")
        assert said[1] == f"Copied request id {record.request_id} to the clipboard."
        assert said[2].startswith(f"Copied the log of {record.request_id[:8]}")

        # the footer names the keys while the pane has the focus
        keys = {
            key: active.binding.description
            for key, active in app.active_bindings.items()
            if active.binding.show and active.node is pane
        }
        assert keys["c"] == "Copy response" and keys["i"] == "Copy request id"
        assert keys["l"] == "Copy log"

        # and the palette has them, for any pane
        await pilot.press("1")
        names = {c.name: c for c in WorkbenchCommands(app.screen).commands()}
        app.copy_to_clipboard("")
        await names["response: Copy the request id"].run()  # type: ignore[misc]
        assert app.clipboard == record.request_id
        assert "response: Copy the response" in names and "response: Copy the log" in names


async def test_at_80x24_the_result_stays_whole_and_the_log_opens_under_it(
    app: WorkbenchApp,
) -> None:
    """At 80x24 the status line's fields take most of the pane: the result keeps all that is
    left above the log's title; tab into the log and it takes the room (the result keeps two
    rows); ctrl+g shows the whole pane."""
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await invoke(pilot, "talker", {"name": "ada", "lines": 40})
        result = app.query_one("#response-scroll", VerticalScroll)
        log = app.query_one("#response-log", VerticalScroll)
        status = text_of(app, "#response-status")
        assert "Billed" in status and "Max Memory" in status  # every field still
        whole = app.query_one("#response-status").size.height  # its fields, wrapped
        assert whole >= 2
        body_lines = text_of(app, "#response-body").count("\n") + 1
        room = pane.content_region.height - app.query_one("#response-status").outer_size.height
        assert result.size.height == min(body_lines, room - 1) >= 2  # all the status leaves
        assert log.region.height == room - result.size.height >= 1  # but the log's title
        assert log.region.bottom <= pane.content_region.bottom
        assert log.border_title == "Function Logs"

        await pilot.press("3", "tab")  # into the log: it takes the room, the status's too
        assert app.focused is log
        await wait_until(pilot, lambda: log.size.height >= 6)
        assert log.region.bottom <= pane.content_region.bottom
        assert result.size.height == 2
        status = app.query_one("#response-status")
        assert status.size.height == 1 and text_of(app, "#response-status").startswith(
            "talker success"
        )
        assert log.max_scroll_y > 0  # and scrolls
        await pilot.press("end")
        await wait_until(pilot, lambda: log.scroll_y == log.max_scroll_y)

        await pilot.press("ctrl+g")  # the pane full screen: the log has the height
        await wait_until(pilot, lambda: log.size.height >= 8)
        await pilot.press("shift+tab")  # back to the result: whole, with room to spare
        await wait_until(pilot, lambda: result.size.height == body_lines)
        assert result.max_scroll_y == 0 and log.size.height >= 3
        await pilot.press("ctrl+g")  # the layout back, the status line whole again
        await wait_until(pilot, lambda: status.size.height == whole)


async def test_a_long_log_shows_its_tail_and_copies_whole(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        pane = await invoke(pilot, "talker", {"name": "ada", "lines": 1200})
        assert pane.result is not None
        stored = pane.result.record.log_lines
        assert len(stored) > TAIL_LINES
        log = text_of(app, "#response-log-body").splitlines()
        assert log[0].startswith(f"… {len(stored) - TAIL_LINES:,} earlier lines not shown here")
        assert "line 1199 of the talker" in log and "line 0 of the talker" not in log
        assert log[-1].startswith("REPORT RequestId")  # the end, with the figures
        await pilot.press("3", "l")
        assert app.clipboard == "\n".join(stored) + "\n"  # all of it
        assert "line 0 of the talker" in app.clipboard


def fixed_failure() -> InvokeResult:
    """A failed invocation, every field fixed (the snapshot must not change between runs)."""
    record = fixed_record()
    return InvokeResult(record.response.encode(), "Unhandled", "$LATEST", record)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_failure_and_its_log_snapshot(
    snap_compare, tmp_path: Path, size: tuple[int, int]
) -> None:
    root = tmp_path / "functions"
    make_function(root, "orders", FAILER, timeout=5)
    app = WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")

    async def show(pilot: Pilot) -> None:
        pilot.app.query_one(ResponsePane).show_result("orders", fixed_failure())
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=show)


WAITER = """
import os, time
def handler(event, context):
    print("before the gate", flush=True)
    for _ in range(6000):  # 60 s, then say the pane never showed the line in time
        if os.path.exists(event["gate"]):
            break
        time.sleep(0.01)
    print("after the gate")
    return {"done": True}
"""


async def test_what_a_running_invocation_prints_shows_while_it_runs(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "waiter", WAITER, timeout=90)
    gate = tmp_path / "gate"
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        app.query_one(EventEditor).set_text(json.dumps({"gate": str(gate)}))
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "before the gate" in text_of(app, "#response-log-body"))
        assert "invoking" in text_of(app, "#response-status")
        assert not gate.exists()  # still waiting: the line came while it ran
        assert app.query_one("#response-log").display
        gate.touch()
        await wait_until(pilot, lambda: "success" in text_of(app, "#response-status"))
        log = text_of(app, "#response-log-body")  # now the record's whole log
        assert log.index("before the gate") < log.index("after the gate") < log.index("REPORT")
        assert log.count("before the gate") == 1
