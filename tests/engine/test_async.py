"""Event invocations through the durable queue: runs, retries, destinations, event age, throttles.

Real handler processes and real SQLite; ``time_scale`` 0.001 makes Lambda's one- and two-minute
retry delays 60 and 120 ms. Tests poll for a condition with a generous deadline, never a fixed
sleep that stands for "long enough".
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from workbench.engine import (
    Engine,
    EngineSettings,
    InvalidRequestContent,
    RequestTooLarge,
    ResourceNotFound,
)
from workbench.engine.model.events import AsyncEventChanged
from workbench.engine.storage.async_queue import AsyncEvent

from ..helpers import make_function, until

OK = "def handler(event, context):\n    return {'got': event}\n"
FAILS = "def handler(event, context):\n    raise ValueError('boom ' + str(event.get('n')))\n"
RECORDER = "def handler(event, context):\n    return event\n"  # a destination: echoes the record
ENDED = ("succeeded", "failed", "expired", "discarded")


def settings(tmp_path: Path, **extra: Any) -> EngineSettings:
    values: dict[str, Any] = dict(
        state_dir=tmp_path / "state", keep_alive_s=5.0, background=True, time_scale=0.001
    )
    values.update(extra)
    return EngineSettings(**values)


def with_async(root: Path, name: str, code: str, async_toml: str, **config: Any) -> None:
    folder = make_function(root, name, code, **config)
    with (folder / "function.toml").open("a") as f:
        f.write("[async]\n" + async_toml)


async def ended(engine: Engine, request_id: str) -> AsyncEvent:
    def check() -> AsyncEvent | None:
        event = engine.async_event(request_id)
        return event if event is not None and event.status in ENDED else None

    return await until(check, f"event {request_id} to end")


async def delivered(engine: Engine, to: str, count: int = 1) -> list[dict[str, Any]]:
    """The destination records ``to`` received (its records' responses), oldest first."""
    assert engine.store is not None

    def check() -> list[Any] | None:
        records = [r for r in engine.store.recent(to, 100) if r.status == "success"]
        return records if len(records) >= count else None

    records = await until(check, f"{count} record(s) delivered to {to}")
    return [json.loads(r.response) for r in reversed(records)]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "ok", OK)
    make_function(root, "audit", RECORDER)
    return root


async def test_event_is_accepted_then_runs_with_attempt_and_dwell(
    root: Path, tmp_path: Path
) -> None:
    async with Engine([root], settings(tmp_path)) as engine:
        events = engine.subscribe()
        request_id = engine.invoke_event("ok", b'{"a": 1}', trigger="cli")
        # committed before invoke_event returned: another connection sees it
        queued = engine.async_event(request_id)
        assert queued is not None and queued.function == "ok" and queued.trigger == "cli"
        event = await ended(engine, request_id)
        assert (event.status, event.condition, event.attempts) == ("succeeded", "Success", 1)
        assert event.destination is None and event.finished_at is not None
        assert engine.store is not None
        record = await until(lambda: engine.store.get(request_id), "the record")
        assert record.invocation_type == "Event" and record.trigger == "cli"
        assert record.attempt == 1
        # dwell: from its acceptance to the attempt's start
        assert record.dwell_ms is not None and record.dwell_ms >= 0
        dwell = (record.started_at - queued.enqueued_at) * 1000
        assert record.dwell_ms == pytest.approx(dwell, abs=0.01)
        assert json.loads(record.response) == {"got": {"a": 1}}
        changes = [e for e in events.get_nowait() if isinstance(e, AsyncEventChanged)]
        assert [c.status for c in changes] == ["queued", "running", "succeeded"]
        assert changes[-1].condition == "Success" and changes[-1].attempt == 1
        assert engine.async_events("ok")[0].request_id == request_id
        assert engine.async_events("audit") == []


async def test_retries_then_on_failure_record_to_a_function(root: Path, tmp_path: Path) -> None:
    with_async(root, "fails", FAILS, 'on_failure = "function:audit"\n')
    async with Engine([root], settings(tmp_path)) as engine:
        request_id = engine.invoke_event("fails", b'{"n": 7}')
        event = await ended(engine, request_id)
        assert (event.status, event.condition, event.attempts) == ("failed", "RetriesExhausted", 3)
        assert event.destination == "function:audit"
        assert event.last_error == "ValueError: boom 7"
        [record] = await delivered(engine, "audit")
        assert set(record) == {
            "version",
            "timestamp",
            "requestContext",
            "requestPayload",
            "responseContext",
            "responsePayload",
        }
        assert record["version"] == "1.0"
        assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == 24
        assert record["requestContext"] == {
            "requestId": request_id,
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:fails:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        }
        assert record["requestPayload"] == {"n": 7}
        assert record["responseContext"] == {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        }
        assert record["responsePayload"]["errorMessage"] == "boom 7"
        assert record["responsePayload"]["errorType"] == "ValueError"
        # three records, attempts 1..3, the retries waited (60 and 120 ms, scaled)
        assert engine.store is not None
        attempts = sorted((r for r in engine.store.recent("fails", 10)), key=lambda r: r.attempt)
        assert [r.attempt for r in attempts] == [1, 2, 3]
        assert attempts[1].started_at - attempts[0].started_at >= 0.06
        assert attempts[2].started_at - attempts[1].started_at >= 0.12
        assert attempts[2].dwell_ms is not None and attempts[2].dwell_ms >= 180
        # the delivered record is itself an Event invocation, by the destination trigger
        audit = engine.store.recent("audit", 1)[0]
        assert audit.invocation_type == "Event" and audit.trigger == "destination:fails"


async def test_no_retries_with_maximum_retry_attempts_0(root: Path, tmp_path: Path) -> None:
    with_async(root, "once", FAILS, 'maximum_retry_attempts = 0\non_failure = "function:audit"\n')
    async with Engine([root], settings(tmp_path)) as engine:
        request_id = engine.invoke_event("once", b'{"n": 1}')
        event = await ended(engine, request_id)
        assert (event.status, event.attempts) == ("failed", 1)
        [record] = await delivered(engine, "audit")
        assert record["requestContext"]["approximateInvokeCount"] == 1
        assert engine.store is not None and engine.store.count("once") == 1


async def test_on_success_record_has_no_function_error(root: Path, tmp_path: Path) -> None:
    with_async(root, "good", OK, 'on_success = "function:audit"\n')
    async with Engine([root], settings(tmp_path)) as engine:
        request_id = engine.invoke_event("good:$LATEST", '{"x": [1, 2]}')
        event = await ended(engine, request_id)
        assert (event.condition, event.destination) == ("Success", "function:audit")
        [record] = await delivered(engine, "audit")
        assert record["requestContext"]["condition"] == "Success"
        assert record["requestContext"]["approximateInvokeCount"] == 1
        assert record["requestContext"]["functionArn"].endswith(":function:good:$LATEST")
        assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
        assert record["responsePayload"] == {"got": {"x": [1, 2]}}


async def test_a_version_runs_and_its_arn_carries_the_qualifier(root: Path, tmp_path: Path) -> None:
    with_async(root, "good", OK, 'on_success = "function:audit"\n')
    async with Engine([root], settings(tmp_path)) as engine:
        await engine.publish("good")
        request_id = engine.invoke_event("good", b"{}", qualifier="1")
        await ended(engine, request_id)
        [record] = await delivered(engine, "audit")
        assert record["requestContext"]["functionArn"].endswith(":function:good:1")
        assert record["responseContext"]["executedVersion"] == "1"


async def test_event_older_than_maximum_event_age_is_not_run(root: Path, tmp_path: Path) -> None:
    # 60 s scaled by 0.001: 60 ms. Accepted by an engine with no dispatcher, run later.
    with_async(root, "slowq", OK, 'maximum_event_age = 60\non_failure = "function:audit"\n')
    async with Engine([root], settings(tmp_path, background=False)) as engine:
        request_id = engine.invoke_event("slowq", b'{"late": true}')
        queued = engine.async_event(request_id)
        assert queued is not None and queued.status == "queued"
        too_old_at = queued.enqueued_at + 0.060
    await until(lambda: time.time() > too_old_at, "the event to pass its maximum age")
    async with Engine([root], settings(tmp_path)) as engine:
        event = await ended(engine, request_id)
        assert (event.status, event.condition, event.attempts) == (
            "expired",
            "EventAgeExceeded",
            0,
        )
        [record] = await delivered(engine, "audit")
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert record["requestContext"]["approximateInvokeCount"] == 0
        assert record["requestPayload"] == {"late": True}
        assert "responseContext" not in record and "responsePayload" not in record
        assert engine.store is not None and engine.store.count("slowq") == 0


async def test_zero_reserved_concurrency_goes_straight_to_on_failure(
    root: Path, tmp_path: Path
) -> None:
    with_async(root, "off", OK, 'on_failure = "function:audit"\n', reserved_concurrency=0)
    async with Engine([root], settings(tmp_path)) as engine:
        request_id = engine.invoke_event("off", b'{"k": 1}')
        event = await ended(engine, request_id)
        assert (event.status, event.condition, event.attempts) == (
            "failed",
            "ZeroReservedConcurrency",
            0,
        )
        [record] = await delivered(engine, "audit")
        assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
        assert "responseContext" not in record
        assert engine.store is not None and engine.store.count("off") == 0


async def test_a_burst_against_reserved_concurrency_1_all_runs_unthrottled(
    root: Path, tmp_path: Path
) -> None:
    make_function(
        root,
        "narrow",
        "import time\ndef handler(event, context):\n    time.sleep(0.01)\n    return event\n",
        reserved_concurrency=1,
    )
    async with Engine([root], settings(tmp_path)) as engine:
        ids = [engine.invoke_event("narrow", json.dumps({"i": i})) for i in range(25)]
        for request_id in ids:
            event = await ended(engine, request_id)
            assert (event.status, event.attempts) == ("succeeded", 1)
        state = engine.function_state("narrow")
        assert state is not None and state.throttles == 0  # capacity-aware: no 429s
        assert engine.store is not None
        assert {r.request_id for r in engine.store.recent("narrow", 100)} == set(ids)


async def test_a_throttled_event_backs_off_and_still_runs(root: Path, tmp_path: Path) -> None:
    """Another call takes the only slot between the claim and the attempt: a real 429.

    The test admits that call itself (``engine.concurrency``, the rule every invocation passes)
    the moment the row is claimed, before the attempt's task has run.
    """
    make_function(root, "single", OK, reserved_concurrency=1)
    async with Engine([root], settings(tmp_path)) as engine:
        await engine.invoke("single", b"{}")  # its state exists; one warm environment
        state = engine.function_state("single")
        assert state is not None
        events = engine.subscribe()
        request_id = engine.invoke_event("single", b'{"e": 1}')
        await until(
            lambda: engine.async_event(request_id).status == "running",  # type: ignore[union-attr]
            "the claim",
            step=0,  # catch it between the claim and the attempt
        )
        lease = engine.concurrency.admit("single")  # the slot is taken: the attempt is throttled
        await until(
            lambda: engine.function_state("single").throttles >= 1,  # type: ignore[union-attr]
            "the attempt to be throttled",
        )

        def requeued() -> AsyncEvent | None:
            event = engine.async_event(request_id)
            return event if event is not None and event.status == "queued" else None

        backoff = await until(requeued, "the throttle's backoff to be written")
        # The backoff is 1 ms; capacity-aware, it waits for the slot. Proof that the dispatcher
        # looked at it once due and left it queued: an event enqueued after that due time is
        # claimed in a turn that also saw this one due, and has run to its end.
        await until(lambda: time.time() > backoff.due_at, "the backoff to pass")
        await ended(engine, engine.invoke_event("ok", b"{}"))
        assert engine.async_event(request_id).status == "queued"  # type: ignore[union-attr]
        engine.concurrency.release(lease)
        event = await ended(engine, request_id)
        assert (event.status, event.attempts) == ("succeeded", 1)
        changes = [
            e
            for e in events.get_nowait()
            if isinstance(e, AsyncEventChanged) and e.request_id == request_id
        ]
        statuses = [c.status for c in changes]
        assert statuses == ["queued", "running", "queued", "running", "succeeded"]
        assert changes[2].attempt == 0  # a throttle is not an attempt
        assert engine.store is not None
        assert engine.store.get(request_id).attempt == 1  # type: ignore[union-attr]


async def test_throttled_until_the_maximum_event_age_then_expired(
    root: Path, tmp_path: Path
) -> None:
    with_async(
        root,
        "blocked",
        OK,
        'maximum_event_age = 60\non_failure = "function:audit"\n',
        reserved_concurrency=1,
    )
    async with Engine([root], settings(tmp_path)) as engine:
        await engine.invoke("blocked", b"{}")
        state = engine.function_state("blocked")
        assert state is not None
        lease = engine.concurrency.admit("blocked")  # held longer than the event may wait (60 ms)
        try:
            request_id = engine.invoke_event("blocked", b'{"w": 1}')
            event = await ended(engine, request_id)
        finally:
            engine.concurrency.release(lease)
        assert (event.status, event.condition, event.attempts) == (
            "expired",
            "EventAgeExceeded",
            0,
        )
        [record] = await delivered(engine, "audit")
        assert record["requestContext"]["condition"] == "EventAgeExceeded"


async def test_events_queued_at_close_run_in_the_next_engine(root: Path, tmp_path: Path) -> None:
    async with Engine([root], settings(tmp_path, background=False)) as engine:
        ids = [engine.invoke_event("ok", json.dumps({"i": i})) for i in range(10)]
    async with Engine([root], settings(tmp_path)) as engine:
        for request_id in ids:
            assert (await ended(engine, request_id)).status == "succeeded"


async def test_running_rows_of_a_dead_engine_are_run_again(root: Path, tmp_path: Path) -> None:
    """A 'crash': rows left running under the lease of a pid that no longer exists."""
    async with Engine([root], settings(tmp_path, background=False)) as engine:
        ids = [engine.invoke_event("ok", json.dumps({"i": i})) for i in range(5)]
    import sqlite3

    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()  # its pid is gone now
    conn = sqlite3.connect(tmp_path / "state" / "workbench.db")
    conn.execute(
        "UPDATE async_events SET status = 'running', attempts = 1, lease_owner = ?, "
        "lease_until = ?",
        (f"{dead.pid}:crashed", time.time() + 3600),
    )
    conn.commit()
    conn.close()
    async with Engine([root], settings(tmp_path)) as engine:
        for request_id in ids:
            event = await ended(engine, request_id)
            assert (event.status, event.attempts) == ("succeeded", 1)


async def test_attempts_in_flight_at_close_go_back_to_the_queue(root: Path, tmp_path: Path) -> None:
    make_function(
        root,
        "sleepy",
        "import time\ndef handler(event, context):\n    time.sleep(30)\n",
        timeout=60,
    )
    async with Engine([root], settings(tmp_path)) as engine:
        request_id = engine.invoke_event("sleepy", b"{}")
        await until(
            lambda: engine.async_event(request_id).status == "running",  # type: ignore[union-attr]
            "the attempt to start",
        )
    async with Engine([root], settings(tmp_path, background=False)) as engine:
        event = engine.async_event(request_id)
        assert event is not None and (event.status, event.attempts) == ("queued", 0)


async def test_an_event_whose_function_is_gone_is_discarded(root: Path, tmp_path: Path) -> None:
    make_function(root, "doomed", OK)
    async with Engine([root], settings(tmp_path, background=False)) as engine:
        request_id = engine.invoke_event("doomed", b"{}")
    (root / "doomed" / "function.toml").unlink()
    async with Engine([root], settings(tmp_path)) as engine:
        event = await ended(engine, request_id)
        assert event.status == "discarded" and event.condition is None
        assert event.last_error is not None and "Function not found" in event.last_error


async def test_refused_at_accept_bad_json_oversized_unknown(root: Path, tmp_path: Path) -> None:
    async with Engine([root], settings(tmp_path)) as engine:
        with pytest.raises(InvalidRequestContent):
            engine.invoke_event("ok", b"{not json")
        big = json.dumps({"x": "y" * (1024 * 1024)})
        with pytest.raises(RequestTooLarge, match="too large for the Event invocation type"):
            engine.invoke_event("ok", big)
        with pytest.raises(ResourceNotFound):
            engine.invoke_event("nope", b"{}")
        assert engine.async_events() == []  # nothing was accepted


async def test_queue_destination_gets_the_record(root: Path, tmp_path: Path) -> None:
    with_async(root, "fails", FAILS, 'maximum_retry_attempts = 0\non_failure = "queue:failed"\n')
    async with Engine([root], settings(tmp_path)) as engine:
        request_id = engine.invoke_event("fails", b'{"n": 2}')
        event = await ended(engine, request_id)
        assert event.destination == "queue:failed"
        assert engine.queues is not None
        [message] = engine.queues.receive("failed", 10)
        record = json.loads(message.body)
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 1
        assert record["requestPayload"] == {"n": 2}


async def test_an_undeliverable_destination_is_logged_not_fatal(
    root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with_async(root, "good", OK, 'on_success = "function:missing"\n')
    async with Engine([root], settings(tmp_path)) as engine:
        first = engine.invoke_event("good", b"{}")
        event = await ended(engine, first)
        assert event.status == "succeeded" and event.destination is None
        assert "destination function:missing of good not delivered" in caplog.text
        second = engine.invoke_event("ok", b"{}")  # the dispatcher goes on
        assert (await ended(engine, second)).status == "succeeded"


async def test_a_fifo_queue_is_no_destination_as_on_lambda(
    root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Lambda sends invocation records to standard queues only: to a FIFO queue the delivery
    fails (and is said), rather than a FIFO queue silently getting group-less messages."""
    with_async(root, "fails", FAILS, 'maximum_retry_attempts = 0\non_failure = "queue:dead.fifo"\n')
    async with Engine([root], settings(tmp_path)) as engine:
        event = await ended(engine, engine.invoke_event("fails", b"{}"))
        assert event.destination is None
        assert "dead.fifo is a FIFO queue: Lambda delivers invocation records to standard" in (
            caplog.text
        )
        assert engine.queues is not None and not engine.queues.exists("dead.fifo")


async def test_an_event_whose_wake_up_was_lost_still_runs(tmp_path: Path) -> None:
    """A wake-up can be lost (on 3.11 a set() racing wait_for's timeout is dropped); the
    dispatcher's periodic full turn still finds the event, within its maintenance interval."""
    root = tmp_path / "functions"
    make_function(root, "fn", OK)
    async with Engine([root], settings(tmp_path)) as engine:
        await ended(engine, engine.invoke_event("fn", b'{"n": 0}'))
        dispatcher = engine.sources.parts[0]
        # Idle: every outcome settled and no wake-up pending (the loop clears it after each
        # turn), nothing due; from here only the periodic full turn can find a row that came
        # without a wake-up, in the same process (so no data_version change shows it either).
        await until(
            lambda: (
                not (
                    dispatcher._outcomes
                    or dispatcher._ready
                    or dispatcher._flushing
                    or dispatcher._wake.is_set()
                )
            ),
            "the dispatcher to go idle",
        )
        assert engine.async_queue is not None
        engine.async_queue.on_enqueue = None  # as if the wake-up were lost
        engine.async_queue.enqueue("lost-wake-up", "fn", None, b'{"n": 1}', "test", time.time())
        event = await ended(engine, "lost-wake-up")
        assert event.status == "succeeded"


async def test_two_workbenches_on_one_state_dir_run_each_attempt_once(
    root: Path, tmp_path: Path
) -> None:
    """serve and the TUI on the same folder both dispatch; their claims never overlap."""
    ran = tmp_path / "ran.txt"
    code = (
        "import time\n"
        "def handler(event, context):\n"
        "    time.sleep(0.005)\n"
        f"    with open({str(ran)!r}, 'a') as f:\n"
        "        f.write(context.aws_request_id + '\\n')\n"
        "    return event\n"
    )
    make_function(root, "shared", code, reserved_concurrency=2)  # each claims a few at a time
    async with (
        Engine([root], settings(tmp_path)) as first,
        Engine([root], settings(tmp_path)) as second,
    ):
        ids = [
            (first if i % 2 else second).invoke_event("shared", json.dumps({"i": i}))
            for i in range(60)
        ]
        for request_id in ids:
            event = await ended(first, request_id)
            assert (event.status, event.attempts) == ("succeeded", 1)
        lines = ran.read_text().split()
        assert sorted(lines) == sorted(ids)  # every one ran, and only once
        assert first.store is not None
        ran_in = {r.env_id for r in first.store.recent("shared", 100)}
        for engine in (first, second):  # both took a share (each claims what it can run)
            assert ran_in & {env.id for env in engine.environments()}


def test_the_functions_with_an_event_due_are_found_by_the_queue(tmp_path: Path) -> None:
    """What the dispatcher asks each turn: every function with a queued event due by now, not
    one whose events are all later or already running; found by index (a DISTINCT over every
    due row took ~1 ms a turn with 5,000 queued)."""
    from workbench.engine.storage.async_queue import _DUE_FUNCTIONS, AsyncQueue

    queue = AsyncQueue(tmp_path / "workbench.db", "test:1")
    try:
        now = time.time()
        for i, (function, delay) in enumerate(
            [("b-later", 60), ("a-due", 0), ("c-both", 60), ("c-both", -1), ("a-due", -5)]
        ):
            queue.enqueue(f"r{i}", function, None, b"{}", None, now)
            queue._conn.execute(
                "UPDATE async_events SET due_at = ? WHERE request_id = ?", (now + delay, f"r{i}")
            )
        assert sorted(queue.due_functions(now)) == ["a-due", "c-both"]
        assert sorted(queue.due_functions(now + 61)) == ["a-due", "b-later", "c-both"]
        with queue.transaction():
            assert len(queue.claim("a-due", 10, now)) == 2
        assert queue.due_functions(now) == ["c-both"]  # a-due's are running now
        with queue.transaction():
            queue.claim("c-both", 10, now)
        assert queue.due_functions(now) == []
        plan = " ".join(
            str(row) for row in queue._conn.execute("EXPLAIN QUERY PLAN " + _DUE_FUNCTIONS, (now,))
        )
        assert "ix_async_events_status_function_due" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        queue.close()
