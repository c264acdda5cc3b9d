"""The event sources in the TUI: the log's trigger column, an Event record's attempt and dwell,
the Sources tab (queues, schedules, bucket activity) and its actions, driven by Pilot.

Queues are real SQLite, bucket files real files; made-up records go through the app's own batch
handler, as the bridge would post them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TabbedContent

from tests.tui.pilot import wait_until
from workbench.engine import InvocationRecord, InvokeEnd
from workbench.tui.app import WorkbenchApp
from workbench.tui.bridge import EngineEvents
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.dialogs.message import ConfirmPurge, MessageDialog
from workbench.tui.screens.record import RecordScreen
from workbench.tui.widgets.invocation_log import InvocationLog, LogFilter, trigger_text
from workbench.tui.widgets.sources import SourcesPane

from ..helpers import make_function

SIZE = (160, 45)
ECHO = """
def handler(event, context):
    return {"echoed": event.get("name")}
"""


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "echo", ECHO, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state")


def record(
    i: int, trigger: str | None, *, attempt: int = 1, event: bool = True
) -> InvocationRecord:
    request_id = f"{i:08x}-0000-4000-8000-00000000abcd"
    return InvocationRecord(
        request_id=request_id,
        function="echo",
        invocation_type="Event" if event else "RequestResponse",
        trigger=trigger,
        started_at=1_700_000_000 + i,
        duration_ms=1.5,
        billed_ms=2,
        attempt=attempt,
        dwell_ms=1234.5 if event else None,
        log_lines=[f"START RequestId: {request_id} Version: $LATEST"],
    )


def header_text(app: WorkbenchApp) -> str:
    return str(app.screen.query_one("#record-header", Static).content)


def log_of(app: WorkbenchApp) -> InvocationLog:
    return app.query_one(InvocationLog)


def trigger_cells(app: WorkbenchApp) -> list[str]:
    log = log_of(app)
    return [str(log.table.get_row_at(i)[2]) for i in range(log.table.row_count)]


def fits(table: object) -> bool:
    """Every column in view: the table needs no horizontal scrolling."""
    return table.virtual_size.width <= table.scrollable_content_region.width  # type: ignore[attr-defined]


def test_trigger_text_marks_retries_and_keeps_the_attempt_of_a_long_name() -> None:
    assert trigger_text(record(1, "s3:uploads")) == "s3:uploads"
    assert trigger_text(record(1, "s3:uploads", attempt=2)) == "s3:uploads ↻2"
    # a synchronous invocation has no retries to show; no trigger is a dash
    assert trigger_text(record(1, "cli", attempt=2, event=False)) == "cli"
    assert trigger_text(record(1, None, event=False)) == "—"
    long = trigger_text(record(1, "queue:orders-from-the-shop", attempt=3))
    assert long == "queue:orde… ↻3" and len(long) == 14  # the column's width


async def test_the_trigger_column_shows_each_source_and_fits_at_160(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        log = log_of(app)
        await wait_until(pilot, lambda: not log.searching)
        result = await app.engine.invoke("echo", b'{"name": "x"}', trigger="cli")
        await wait_until(pilot, lambda: result.record.request_id in log.records)
        assert trigger_cells(app) == ["cli"]

        sources = ["s3:uploads", "queue:orders", "schedule:nightly", "sns:alerts", "destination:fn"]
        made = [record(i, s, attempt=1 + i % 3) for i, s in enumerate(sources * 8)]
        app.on_engine_events(EngineEvents([InvokeEnd(r) for r in made]))
        log.flush()
        await pilot.pause()
        assert {"s3:uploads", "s3:uploads ↻2", "schedule:n… ↻3"} <= set(trigger_cells(app))
        assert log.table.row_count == 41  # more rows than fit: the vertical scrollbar is shown
        assert fits(log.table), (log.table.virtual_size, log.table.scrollable_content_region)

        # the text filter finds the trigger, in the store
        alert = await app.engine.invoke("echo", b"{}", trigger="sns:alerts")
        await app.engine.invoke("echo", b"{}", trigger="queue:alerts-archive")
        log.set_filter(LogFilter(text="sns:alerts"))
        await wait_until(pilot, lambda: not log.searching)
        assert log.request_ids() == [alert.record.request_id]
        assert trigger_cells(app) == ["sns:alerts"]


async def test_an_event_record_shows_its_attempt_and_dwell(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        retried = record(7, "s3:uploads", attempt=2)
        await app.push_screen(RecordScreen(retried.request_id, retried, engine=app.engine))
        await pilot.pause()
        text = header_text(app)
        assert "Type Event" in text and "Trigger s3:uploads" in text
        assert "Attempt 2" in text and "Dwell 1234.50 ms (queued → started)" in text
        await pilot.press("escape")

        sync = record(8, "tui", event=False)
        await wait_until(pilot, lambda: not isinstance(app.screen, RecordScreen))
        await app.push_screen(RecordScreen(sync.request_id, sync, engine=app.engine))
        await pilot.pause()
        text = header_text(app)
        assert "Type RequestResponse" in text and "Attempt" not in text and "Dwell" not in text


FAIL = """
def handler(event, context):
    raise ValueError("no good")
"""


async def test_a_failed_event_record_shows_its_queue_row_and_destination(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "audit", ECHO, timeout=5)
    make_function(
        root,
        "fail",
        FAIL,
        timeout=5,
        **{"async": {"maximum_retry_attempts": 0, "on_failure": "function:audit"}},
    )
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=SIZE) as pilot:
        log = log_of(app)
        request_id = app.engine.invoke_event("fail", b'{"n": 1}', trigger="s3:uploads")
        await wait_until(pilot, lambda: request_id in log.records)
        failed = log.records[request_id]
        assert failed.invocation_type == "Event" and failed.status == "error"
        # its failure went on to audit, as a destination invocation
        await wait_until(pilot, lambda: any(r.function == "audit" for r in log.records.values()))
        [sent] = [r for r in log.records.values() if r.function == "audit"]
        assert sent.trigger == "destination:fail"

        log.post_message(InvocationLog.RecordSelected(request_id, failed))
        await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen))
        await wait_until(pilot, lambda: "Event queue" in header_text(app))
        text = header_text(app)
        assert "Event queue failed" in text and "Attempts 1" in text
        assert "Condition RetriesExhausted" in text and "Destination function:audit" in text
        assert "Attempt 1" in text and "Dwell " in text and "Trigger s3:uploads" in text


# --------------------------------------------------------------------- the Sources tab


def rows_of(app: WorkbenchApp, table: str) -> list[list[str]]:
    t = app.query_one(f"#sources-{table}", DataTable)
    return [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]


async def show_sources(pilot) -> SourcesPane:  # type: ignore[no-untyped-def]
    pilot.app.query_one("#bottom-tabs", TabbedContent).active = "tab-sources"
    await pilot.pause()
    return pilot.app.query_one(SourcesPane)


async def test_sources_tab_shows_queue_depth_in_flight_and_the_dlq(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await show_sources(pilot)
        assert "no queues yet" in str(app.query_one("#sources-queues-empty", Static).content)
        queues = app.engine.queues
        assert queues is not None
        queues.create("orders", dead_letter_queue="orders-dlq", max_receive_count=1)
        for i in range(3):
            queues.send("orders", f'{{"n": {i}}}')
        queues.send("orders-dlq", "dead already")
        queues.receive("orders", 1)  # in flight now
        await wait_until(
            pilot, lambda: ["orders", "2", "1", "0", "orders-dlq", "1"] in rows_of(app, "queues")
        )
        assert ["orders-dlq", "1", "0", "0", "—", "—"] in rows_of(app, "queues")

        # ctrl+n: the send dialog puts a message on the selected queue (real SQLite)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog))
        assert app.screen.query_one("#message-target", Input).value == "orders"
        await pilot.press(*'{"n": 9}', "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, MessageDialog))
        assert queues.get("orders").depth == 3
        await wait_until(pilot, lambda: rows_of(app, "queues")[0][:3] == ["orders", "3", "1"])

        # an unknown queue is refused in the dialog, which stays open and says which exist
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog))
        app.screen.query_one("#message-target", Input).value = "nosuch"
        app.screen.query_one("#message-body", Input).focus()
        await pilot.press("x", "enter")
        hint = app.screen.query_one("#message-hint", Static)
        await wait_until(pilot, lambda: "queue not found" in str(hint.content))
        assert "orders" in str(hint.content)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, MessageDialog))

        # x on the queue table purges the selected queue, after asking
        app.query_one("#sources-queues", DataTable).focus()
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmPurge))
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmPurge))
        assert queues.get("orders").depth == 3
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmPurge))
        await pilot.press("y")
        await wait_until(pilot, lambda: queues.get("orders").depth == 0)
        await wait_until(pilot, lambda: rows_of(app, "queues")[0][:3] == ["orders", "0", "0"])


async def test_sources_tab_shows_schedules_bucket_activity_routes_and_topics(
    tmp_path: Path,
) -> None:
    root = tmp_path / "functions"
    make_function(
        root,
        "ingest",
        ECHO,
        timeout=5,
        triggers=[
            {"type": "s3", "bucket": "uploads", "suffix": ".csv"},
            {"type": "schedule", "expression": "rate(5 minutes)", "name": "every-five"},
            {"type": "schedule", "expression": "cron(0 12 * * ? *)", "enabled": False},
            {"type": "http", "path": "/items/{id}", "method": "GET"},
            {"type": "sns", "topic": "alerts"},
        ],
    )
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=SIZE) as pilot:
        await show_sources(pilot)
        log = log_of(app)
        await wait_until(pilot, lambda: len(rows_of(app, "schedules")) == 2)
        five, noon = sorted(rows_of(app, "schedules"), key=lambda r: r[1] != "every-five")
        assert five[:3] == ["ingest", "every-five", "rate(5 minutes)"]
        first, second = five[3].split(", ")  # the next two fire times, 5 minutes apart
        assert first != second
        assert noon[2] == "cron(0 12 * * ? *)" and noon[3] == "disabled"
        assert ["route", "GET /items/{id}", "ingest"] in rows_of(app, "routes")
        assert ["topic", "alerts", "ingest"] in rows_of(app, "routes")

        # a real file in the bucket folder: an S3 event, shown as bucket activity
        bucket = root / "buckets" / "uploads"
        bucket.mkdir(parents=True, exist_ok=True)  # the buckets part may have made it
        (bucket / "report.csv").write_text("a,b\n1,2\n")
        (bucket / "notes.txt").write_text("not a csv")  # no trigger matches its suffix
        await wait_until(pilot, lambda: len(rows_of(app, "activity")) == 2, timeout=20)
        by_key = {row[3]: row for row in rows_of(app, "activity")}
        assert by_key["report.csv"][1:] == ["uploads", "Created", "report.csv", "8 B", "ingest"]
        assert by_key["notes.txt"][5] == "no trigger matched"
        await wait_until(
            pilot, lambda: any(r.trigger == "s3:uploads" for r in log.records.values())
        )

        # ctrl+b publishes to a topic: its subscriber runs with the SNS event
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog))
        assert app.screen.query_one("#message-target", Input).value == "alerts"  # the only one
        await pilot.press(*"disk full", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, MessageDialog))
        await wait_until(
            pilot, lambda: any(r.trigger == "sns:alerts" for r in log.records.values())
        )
        [sns] = [r for r in log.records.values() if r.trigger == "sns:alerts"]
        assert '"disk full"' in sns.request and sns.invocation_type == "Event"

        # an unknown topic is refused in the dialog, naming the known ones
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog))
        app.screen.query_one("#message-target", Input).value = "nosuch"
        app.screen.query_one("#message-body", Input).focus()
        await pilot.press("x", "enter")
        hint = app.screen.query_one("#message-hint", Static)
        await wait_until(pilot, lambda: "Topic does not exist" in str(hint.content))
        assert "alerts" in str(hint.content)


async def test_the_send_dialog_names_the_queues_before_the_sources_tab_was_ever_shown(
    app: WorkbenchApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        assert app.engine.queues is not None
        app.engine.queues.create("orders")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageDialog))
        hint = app.screen.query_one("#message-hint", Static)
        assert "Queues: orders." in str(hint.content)


async def test_the_palette_runs_the_queue_and_topic_actions(app: WorkbenchApp) -> None:
    """The palette finds each action where it lives (the Sources pane's purge, the app's keys)
    and runs it as the key would."""
    async with app.run_test(size=SIZE) as pilot:
        await show_sources(pilot)
        queues = app.engine.queues
        assert queues is not None
        queues.create("orders")
        queues.send("orders", "{}")
        await wait_until(
            pilot,
            lambda: rows_of(app, "queues")[:1] == [["orders"] + ["1"] + ["0"] * 2 + ["—"] * 2],
        )
        names = {c.name: c for c in WorkbenchCommands(app.screen).commands()}
        await names["queue: Purge…"].run()  # type: ignore[misc]  # App.run_action
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmPurge))
        await pilot.press("y")
        await wait_until(pilot, lambda: queues.get("orders").depth == 0)
        await names["queue: Send a message…"].run()  # type: ignore[misc]
        await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, MessageDialog)
                and app.screen.what == "queue"
                and [i.value for i in app.screen.query("#message-target").results(Input)]
                == ["orders"]
            ),
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, MessageDialog))
        await names["topic: Publish a message…"].run()  # type: ignore[misc]
        await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, MessageDialog)
                and app.screen.what == "topic"
                and bool(app.screen.query("#message-target"))
            ),
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.screen_stack[0])


async def test_sources_tab_shows_each_shards_state_iterator_age_and_discards(
    tmp_path: Path,
) -> None:
    root = tmp_path / "functions"
    failing = "def handler(event, context):\n    raise RuntimeError('down')\n"
    trigger = {
        "type": "kinesis",
        "stream": "clicks",
        "starting_position": "TRIM_HORIZON",
        "maximum_retry_attempts": 5,
    }
    make_function(root, "reader", failing, triggers=[trigger])
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=SIZE) as pilot:
        await show_sources(pilot)
        shard = "shardId-000000000000"
        await wait_until(pilot, lambda: any(r[3] == "Polling" for r in rows_of(app, "streams")))
        assert rows_of(app, "streams") == [["reader", "clicks", shard, "Polling", "0 ms", "—", "0"]]
        assert app.engine.streams is not None
        [put] = app.engine.streams.put("clicks", [(b"x", "k", None)])
        # while the batch fails and is retried, the shard falls behind: its iterator age grows
        await wait_until(
            pilot,
            lambda: any(
                r[3] in ("Invoking", "Retrying") and r[4] != "0 ms" for r in rows_of(app, "streams")
            ),
        )
        # retries exhausted: the record is discarded, the checkpoint moves past it
        done = ["reader", "clicks", shard, "Polling", "0 ms", f"…{put.sequence_number[-8:]}", "1"]
        await wait_until(pilot, lambda: rows_of(app, "streams") == [done])


async def test_sources_tab_lists_each_function_url(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "hook", ECHO, url={"auth_type": "AWS_IAM"})
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=SIZE) as pilot:
        await show_sources(pilot)
        await wait_until(pilot, lambda: any(r[0] == "url" for r in rows_of(app, "routes")))
        [row] = [r for r in rows_of(app, "routes") if r[0] == "url"]
        assert row[2] == "hook (AWS_IAM)"
        assert row[1].startswith("http://") and ".lambda-url.us-east-1.localhost:" in row[1]


async def test_a_stopped_recursive_loop_is_shown(app: WorkbenchApp) -> None:
    from workbench.engine import RecursionStopped

    async with app.run_test(size=SIZE) as pilot:
        stop = RecursionStopped("ingest", "queue:loop", 16, "moved to dead-letter queue dlq", 0.0)
        app.engine.bus.publish(stop)
        await wait_until(pilot, lambda: bool(app._notifications))
        [note] = [n for n in app._notifications if n.title == "recursive loop detected"]
        assert "queue:loop → ingest" in note.message and "16 invocations" in note.message
        assert "moved to dead-letter queue dlq" in note.message
