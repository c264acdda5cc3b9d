"""The record screen's log under ``logging_format = "JSON"``: JSON lines rendered readably, the
level filter (``l``), and every format's level read (JSON, Python's and Node's text)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Static

from tests.tui.pilot import wait_until
from workbench.tui import log_lines
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.record import RecordScreen, log_view

from ..helpers import make_function

RID = "11111111-2222-4333-8444-555555555555"
CHATTY = """
import logging
logger = logging.getLogger("orders")

def handler(event, context):
    logger.debug("looking up %s", event["id"])
    logger.info("found", extra={"order_id": event["id"], "total": 9.5})
    logger.warning("stock low")
    print("plain print")
    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed")
    return "ok"
"""


@pytest.mark.parametrize(
    ("stored", "level", "platform"),
    [
        ('{"timestamp": "2024-01-02T03:04:05Z", "level": "WARNING"}', "WARN", False),
        ('{"timestamp": "2024-01-02T03:04:05Z", "level": "CRITICAL"}', "FATAL", False),
        ('{"timestamp":"2024-01-02T03:04:05.678Z","level":"TRACE","requestId":"r","message":"m"}',
         "TRACE", False),
        ('{"time":"2024-01-02T03:04:05.678Z","type":"platform.start","record":{}}', None, True),
        ("[DEBUG]\t2024-01-02T03:04:05.678Z\trid\tmsg", "DEBUG", False),
        ("2024-01-02T03:04:05.678Z\trid\tWARN\tcareful", "WARN", False),
        ("[ERROR] ValueError: bad\rTraceback (most recent call last):", "ERROR", False),
        (f"REPORT RequestId: {RID}\tDuration: 1.00 ms\t", None, True),
        ("just a print", None, False),
        ("{not json", None, False),
    ],
)  # fmt: skip
def test_each_formats_level_is_read(stored: str, level: str | None, platform: bool) -> None:
    line = log_lines.parse(stored)
    assert (line.level, line.platform) == (level, platform)


def test_the_filter_keeps_levels_at_or_above_and_always_lambdas_lines() -> None:
    stored = [
        f'{{"time":"2024-01-02T03:04:05.678Z","type":"platform.start","record":{{"requestId":"{RID}"}}}}',
        '{"timestamp": "2024-01-02T03:04:05Z", "level": "DEBUG", "message": "dbg"}',
        '{"timestamp": "2024-01-02T03:04:05Z", "level": "ERROR", "message": "bad"}',
        "a print",
    ]  # fmt: skip
    everything = log_view(stored).plain
    assert "dbg" in everything and "bad" in everything and "a print" in everything
    errors = log_view(stored, "ERROR").plain
    assert "platform.start" in errors and f"requestId={RID}" in errors
    assert "bad" in errors and "dbg" not in errors and "a print" not in errors
    assert log_view(stored[1:2], "INFO").plain == "(no log lines at INFO or above)"


def test_a_json_record_reads_like_a_log_line() -> None:
    stored = json.dumps(
        {
            "timestamp": "2024-01-02T03:04:05Z",
            "level": "ERROR",
            "message": "lookup failed",
            "logger": "orders",
            "stackTrace": ['  File "/var/task/app.py", line 9, in handler\n    {}["x"]\n'],
            "errorType": "KeyError",
            "requestId": RID,
            "order_id": 7,
        }
    )
    lines = log_view([stored]).plain.split("\n")
    assert lines[0] == "03:04:05 ERROR orders: lookup failed"
    assert lines[1] == "    errorType=KeyError  order_id=7"
    assert lines[2:] == ['      File "/var/task/app.py", line 9, in handler', '        {}["x"]']
    report = (
        '{"time":"2024-01-02T03:04:05.678Z","type":"platform.report","record":'
        f'{{"requestId":"{RID}","metrics":{{"durationMs":1.5,"billedDurationMs":2}},'
        '"status":"success"}}'
    )
    assert log_view([report]).plain == (
        f"03:04:05.678 platform.report  requestId={RID}  status=success  durationMs=1.5  "
        "billedDurationMs=2"
    )


def test_text_lines_stay_as_stored() -> None:
    stored = [f"START RequestId: {RID} Version: $LATEST", "two\rlines", "[INFO]\tts\trid\thi"]
    assert log_view(stored).plain == (
        f"START RequestId: {RID} Version: $LATEST\ntwo\nlines\n[INFO]  ts  rid hi"
    )


async def test_a_json_functions_record_renders_and_filters_by_level(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(
        root, "chatty", CHATTY, logging_format="JSON", application_log_level="DEBUG", timeout=5
    )
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        result = await app.engine.invoke("chatty", json.dumps({"id": "A-42"}), trigger="test")
        await app.push_screen(RecordScreen(result.record.request_id, result.record))
        screen = app.screen
        assert isinstance(screen, RecordScreen)
        log = screen.query_one("#record-log", Static)
        box = screen.query_one("#record-log-box", VerticalScroll)
        text = str(log.content)
        assert "DEBUG orders: looking up A-42" in text
        assert "INFO  orders: found" in text and "order_id=A-42  total=9.5" in text
        assert "ERROR orders: lookup failed" in text and "errorType=KeyError" in text
        assert "plain print" in text and "platform.report" in text
        assert '{"timestamp"' not in text  # no raw JSON left
        assert box.border_subtitle == "L: filter by level"

        seen = []
        for _ in log_lines.FILTER_STEPS:
            await pilot.press("L")
            await wait_until(pilot, lambda: box.border_subtitle != (seen[-1] if seen else ""))
            seen.append(box.border_subtitle)
            if screen.log_level == "WARN":
                warn = str(log.content)
                assert "stock low" in warn and "lookup failed" in warn
                assert "looking up" not in warn and "found" not in warn
                assert "plain print" not in warn and "platform.start" in warn
        assert seen[:4] == [
            "L: level ≥ DEBUG",
            "L: level ≥ INFO",
            "L: level ≥ WARN",
            "L: level ≥ ERROR",
        ]
        assert screen.log_level is None and "looking up" in str(log.content)  # round again
