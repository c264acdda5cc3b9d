"""Queue triggers end to end: a real engine with background sources, real handler processes,
the real SQLite queues, and ``workbench queue send`` from another process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings
from workbench.engine.config.triggers import QueueTrigger, TriggerError, parse_trigger
from workbench.engine.sources.queue_pollers import QueueMapping, QueuePollers

from ..helpers import until

# Each invocation's event is appended to a file, so the test sees exactly what arrived.
RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    return {BODY}
"""

FAIL_MARKED = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    failed = [r["messageId"] for r in event["Records"] if "fail" in r["body"]]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
"""

RAISE_MARKED = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    if any("fail" in r["body"] for r in event["Records"]):
        raise RuntimeError("poison")
    return "ok"
"""


def write_function(root: Path, name: str, code: str, out: Path, trigger: dict) -> None:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(textwrap.dedent(code).lstrip())
    lines = ['handler = "app.handler"', "timeout = 10", "", "[environment]", f'OUT = "{out}"']
    lines += ["", "[[triggers]]", 'type = "queue"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in trigger.items()]
    (folder / "function.toml").write_text("\n".join(lines) + "\n")


def events(out: Path) -> list[dict]:
    if not out.exists():
        return []
    found = [json.loads(line) for line in out.read_text().splitlines() if line]
    return [e for e in found if e["Records"]]  # not the warm-up call


async def warm(engine: Engine) -> None:
    """One environment up before the first batch: a cold start slower than a 1 s visibility
    timeout would let the batch reappear while it still runs (as in SQS)."""
    await engine.invoke("worker", b'{"Records": []}')


def bodies(out: Path) -> list[list[str]]:
    return [[r["body"] for r in e["Records"]] for e in events(out)]


def mappings(engine: Engine, queue: str) -> list[QueueMapping]:
    """The queue mappings (pollers) of ``queue`` the engine runs now."""
    [pollers] = [p for p in engine.sources.parts if isinstance(p, QueuePollers)]
    return [m for m in pollers.mappings.values() if m.trigger.queue == queue]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


@pytest.fixture
async def started(function_root: Path, tmp_path: Path) -> AsyncIterator[Callable]:
    engines: list[Engine] = []

    async def start() -> Engine:
        settings = EngineSettings(
            state_dir=tmp_path / "state", background=True, keep_alive_s=30, reap_interval_s=0.2
        )
        engine = await Engine([function_root], settings).start()
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        await engine.close()


async def test_batch_arrives_in_the_sqs_shape(
    function_root: Path, out: Path, started: Callable
) -> None:
    code = RECORDER.replace("{BODY}", "None")
    write_function(
        function_root,
        "worker",
        code,
        out,
        {"queue": "orders", "batch_size": 3, "maximum_batching_window": 2},
    )
    engine = await started()
    queues = engine.queues
    assert queues.exists("orders")  # the trigger created its queue
    ids = [queues.send("orders", f"order {i}", {"shop": "north"}) for i in range(7)]
    await until(lambda: sum(len(b) for b in bodies(out)) == 7)
    assert all(len(b) <= 3 for b in bodies(out))  # batch_size respected
    assert max(len(b) for b in bodies(out)) == 3  # the window gathered full batches
    record = events(out)[0]["Records"][0]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["messageId"] in ids
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:orders"
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["messageAttributes"]["shop"]["stringValue"] == "north"
    assert record["messageAttributes"]["shop"]["dataType"] == "String"
    # success deletes the batch
    await until(lambda: queues.get("orders").in_flight == 0 and queues.get("orders").depth == 0)
    records = [r for r in engine.store.recent("worker", limit=20)]
    assert {r.trigger for r in records} == {"queue:orders"}
    assert {r.invocation_type for r in records} == {"RequestResponse"}


async def test_poison_message_ends_in_the_dlq(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {"queue": "jobs", "visibility_timeout": 1, "max_receive_count": 2}
    write_function(function_root, "worker", RAISE_MARKED, out, trigger)
    engine = await started()
    await warm(engine)
    message_id = engine.queues.send("jobs", "please fail")
    await until(lambda: engine.queues.get("jobs-dlq").depth == 1)
    assert [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in events(out)] == [
        "1",
        "2",
    ]
    info = engine.queues.get("jobs")
    assert (info.depth, info.in_flight, info.dead_letter_depth) == (0, 0, 1)
    [dead] = engine.queues.receive("jobs-dlq")
    assert dead.message_id == message_id


async def test_partial_batch_failure_redelivers_only_the_failed(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {
        "queue": "q",
        "batch_size": 4,
        "maximum_batching_window": 1,  # shorter than the visibility timeout, as it must be
        "visibility_timeout": 2,
        "report_batch_item_failures": True,
        "max_receive_count": 2,
    }
    write_function(function_root, "worker", FAIL_MARKED, out, trigger)
    engine = await started()
    await warm(engine)
    for body in ("a", "fail-b", "c", "fail-d"):
        engine.queues.send("q", body)
    await until(lambda: engine.queues.get("q-dlq").depth == 2)
    seen = bodies(out)
    assert sorted(seen[0]) == ["a", "c", "fail-b", "fail-d"]
    # only the reported items came back, until redrive took them
    assert all(sorted(b) == ["fail-b", "fail-d"] for b in seen[1:])
    assert sum(len(b) for b in seen) == 6
    assert sorted(m.body for m in engine.queues.receive("q-dlq", 10)) == ["fail-b", "fail-d"]


async def test_handler_error_redelivers_the_whole_batch(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {
        "queue": "q",
        "batch_size": 3,
        "maximum_batching_window": 1,
        "visibility_timeout": 2,
    }
    write_function(function_root, "worker", RAISE_MARKED, out, trigger)
    engine = await started()
    await warm(engine)
    for body in ("a", "fail", "c"):
        engine.queues.send("q", body)
    await until(lambda: len(events(out)) >= 2)
    first, second = bodies(out)[:2]
    assert sorted(first) == sorted(second) == ["a", "c", "fail"]
    counts = {r["attributes"]["ApproximateReceiveCount"] for r in events(out)[1]["Records"]}
    assert counts == {"2"}


async def test_invalid_batch_response_fails_the_whole_batch(
    function_root: Path, out: Path, started: Callable
) -> None:
    code = RECORDER.replace("{BODY}", '{"batchItemFailures": [{"itemIdentifier": "unknown"}]}')
    trigger = {"queue": "q", "visibility_timeout": 1, "report_batch_item_failures": True}
    write_function(function_root, "worker", code, out, trigger)
    engine = await started()
    await warm(engine)
    engine.queues.send("q", "x")
    await until(lambda: len(events(out)) >= 2)
    assert bodies(out)[:2] == [["x"], ["x"]]


async def test_message_from_another_process(
    function_root: Path, out: Path, started: Callable, tmp_path: Path
) -> None:
    write_function(function_root, "worker", RECORDER.replace("{BODY}", "None"), out, {"queue": "q"})
    engine = await started()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workbench",
        "queue",
        "send",
        "q",
        '{"from": "cli"}',
        "-r",
        str(function_root),
        "--state-dir",
        str(tmp_path / "state"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    message_id = stdout.decode().strip()
    await until(lambda: events(out))
    [record] = events(out)[0]["Records"]
    assert record["messageId"] == message_id
    assert json.loads(record["body"]) == {"from": "cli"}
    await until(lambda: engine.queues.get("q").in_flight == 0)


async def test_trigger_changes_start_and_stop_pollers(
    function_root: Path, out: Path, started: Callable
) -> None:
    write_function(function_root, "worker", RECORDER.replace("{BODY}", "None"), out, {"queue": "a"})
    engine = await started()
    [old] = mappings(engine, "a")
    write_function(
        function_root,
        "worker",
        RECORDER.replace("{BODY}", "None"),
        out,
        {"queue": "b", "enabled": True},
    )
    engine.load_functions()
    assert engine.queues.exists("b")
    assert mappings(engine, "a") == [] and len(mappings(engine, "b")) == 1
    engine.queues.send("a", "to a")
    engine.queues.send("b", "to b")
    await until(lambda: bodies(out) == [["to b"]], "the message to b")
    # a's poller has stopped (a send wakes a live poller at once: it would have taken "to a",
    # sent first, before b's poller took "to b" and ran the function)
    await until(lambda: old._task is not None and old._task.done(), "a's poller to stop")
    assert engine.queues.get("a").depth == 1  # no longer polled


async def test_zero_reserved_concurrency_does_not_receive(
    function_root: Path, out: Path, started: Callable
) -> None:
    write_function(function_root, "worker", RECORDER.replace("{BODY}", "None"), out, {"queue": "q"})
    toml = function_root / "worker" / "function.toml"
    toml.write_text("reserved_concurrency = 0\n" + toml.read_text())
    engine = await started()
    engine.queues.ensure("q")
    assert mappings(engine, "q") == []  # no poller: the function is throttled, nothing receives
    engine.queues.send("q", "x")
    assert engine.queues.get("q").depth == 1
    assert engine.queues.get("q").in_flight == 0
    # once the function may run, the message that waited arrives, received for the first time
    toml.write_text(toml.read_text().replace("concurrency = 0", "concurrency = 1"))
    engine.load_functions()
    await until(lambda: bodies(out) == [["x"]], "the message, once the function may run")
    assert events(out)[0]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1"


def test_trigger_defaults_and_dlq_default() -> None:
    t = parse_trigger({"type": "queue", "queue": "orders", "max_receive_count": 3})
    assert isinstance(t, QueueTrigger)
    assert (t.batch_size, t.visibility_timeout, t.dead_letter_queue) == (10, 30, "orders-dlq")
    with pytest.raises(TriggerError, match="maximum_batching_window"):
        parse_trigger({"type": "queue", "queue": "q", "batch_size": 20})


FAIL_ONCE = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    marker = os.environ["OUT"] + ".failed"
    for r in event["Records"]:
        if "fail once" in r["body"] and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("first try fails")
    return "ok"
"""


async def test_a_fifo_queue_feeds_its_function_in_order_even_through_a_failure(
    function_root: Path, out: Path, started: Callable
) -> None:
    """A failed message of a group is retried before any later message of that group runs: on
    a standard queue the later ones would overtake it while it is invisible."""
    write_function(
        function_root,
        "worker",
        FAIL_ONCE,
        out,
        {"queue": "orders.fifo", "batch_size": 1, "visibility_timeout": 1},
    )
    engine = await started()
    await warm(engine)
    queues = engine.queues
    assert queues.get("orders.fifo").fifo  # the trigger created a FIFO queue, as its name says
    sent = [
        queues.put("orders.fifo", body, group_id="customer-7", dedup_id=str(i))
        for i, body in enumerate(["first", "fail once", "third", "fourth"])
    ]
    await until(lambda: [b for [b] in bodies(out)][-1:] == ["fourth"])
    assert [b for [b] in bodies(out)] == ["first", "fail once", "fail once", "third", "fourth"]
    record = events(out)[0]["Records"][0]
    assert record["attributes"]["MessageGroupId"] == "customer-7"
    assert record["attributes"]["MessageDeduplicationId"] == "0"
    assert record["attributes"]["SequenceNumber"] == sent[0].sequence_number
    await until(lambda: queues.get("orders.fifo").depth + queues.get("orders.fifo").in_flight == 0)
