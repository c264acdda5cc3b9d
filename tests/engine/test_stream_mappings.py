"""Kinesis triggers end to end: a real engine with background sources, real handler processes,
the real SQLite streams, and checkpoints that survive a restart."""

from __future__ import annotations

import base64
import json
import sqlite3
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings
from workbench.engine.config.triggers import KinesisTrigger, TriggerError, parse_trigger
from workbench.engine.sources.stream_pollers import StreamPollers
from workbench.engine.storage.streams import StreamStore, sequence_number

from ..helpers import until

# Each invocation's event is appended to a file; records whose data says "fail" fail the batch
# (FAIL_WHOLE) or are reported as failed items (FAIL_ITEMS).
RECORDER = """
import base64, json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    {BODY}
"""
SUCCEED = RECORDER.replace("{BODY}", "return None")
FAIL_WHOLE = RECORDER.replace(
    "{BODY}", 'if any("fail" in d for d in datas):\n        raise RuntimeError("poison")'
)
FAIL_ITEMS = RECORDER.replace(
    "{BODY}",
    'return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} '
    'for r, d in zip(event["Records"], datas) if "fail" in d]}',
)
FAIL_ALWAYS = RECORDER.replace("{BODY}", 'raise RuntimeError("down")')


def write_function(root: Path, code: str, out: Path, trigger: dict, name: str = "worker") -> None:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(textwrap.dedent(code).lstrip())
    lines = ['handler = "app.handler"', "timeout = 10", "", "[environment]", f'OUT = "{out}"']
    lines += ["", "[[triggers]]", 'type = "kinesis"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in trigger.items()]
    (folder / "function.toml").write_text("\n".join(lines) + "\n")


def events(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line]


def batches(out: Path) -> list[list[str]]:
    return [
        [base64.b64decode(r["kinesis"]["data"]).decode() for r in e["Records"]] for e in events(out)
    ]


def put(engine: Engine, stream: str, *datas: str, key: str = "k") -> list[str]:
    records = engine.streams.put(stream, [(d.encode(), key, None) for d in datas])
    return [r.sequence_number for r in records]


def failure_records(engine: Engine, queue: str) -> list[dict]:
    return [json.loads(m.body) for m in engine.queues.receive(queue, 10, visibility_timeout=60)]


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


def pollers(engine: Engine) -> StreamPollers:
    [part] = [p for p in engine.sources.parts if isinstance(p, StreamPollers)]
    return part


async def ready(engine: Engine, mappings: int = 1) -> None:
    """Until every shard poller has its starting position (LATEST: after what is there)."""

    def polling() -> bool:
        found = pollers(engine).mappings.values()
        states = [p.status.state for m in found for p in m.pollers]
        return len(found) == mappings and all(s != "Starting" for s in states)

    await until(polling, "the stream pollers to start")


async def test_records_arrive_in_order_in_the_kinesis_shape(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {"stream": "clicks", "starting_position": "LATEST", "batch_size": 3}
    write_function(function_root, SUCCEED, out, trigger)
    engine = await started()
    assert engine.streams.get("clicks").shard_count == 1  # the trigger created its stream
    await ready(engine)
    seqs = put(engine, "clicks", *[f"click {i}" for i in range(7)])
    await until(lambda: sum(len(b) for b in batches(out)) == 7)
    assert [d for b in batches(out) for d in b] == [f"click {i}" for i in range(7)]
    assert all(len(b) <= 3 for b in batches(out))
    record = events(out)[0]["Records"][0]
    assert set(record) == {
        "kinesis",
        "eventSource",
        "eventID",
        "invokeIdentityArn",
        "eventVersion",
        "eventName",
        "eventSourceARN",
        "awsRegion",
    }
    assert set(record["kinesis"]) == {
        "kinesisSchemaVersion",
        "partitionKey",
        "sequenceNumber",
        "data",
        "approximateArrivalTimestamp",
    }
    assert record["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert record["kinesis"]["partitionKey"] == "k"
    assert record["kinesis"]["sequenceNumber"] == seqs[0]
    assert abs(record["kinesis"]["approximateArrivalTimestamp"] - time.time()) < 600
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventID"] == f"shardId-000000000000:{seqs[0]}"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventVersion"] == "1.0"
    assert record["eventSourceARN"] == "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    assert record["awsRegion"] == "us-east-1"
    assert record["invokeIdentityArn"].startswith("arn:aws:iam::123456789012:role/")
    assert len(seqs[0]) == 56 and int(seqs[1]) > int(seqs[0])
    runs = engine.store.recent("worker", limit=20)
    assert {r.trigger for r in runs} == {"kinesis:clicks"}
    assert {r.invocation_type for r in runs} == {"RequestResponse"}


async def test_latest_skips_old_records_trim_horizon_reads_them_and_restart_resumes(
    function_root: Path, out: Path, started: Callable, tmp_path: Path
) -> None:
    store = StreamStore(tmp_path / "state" / "workbench.db")
    store.create("s")
    store.put("s", [(b"before", "k", None)])
    store.close()
    write_function(function_root, SUCCEED, out, {"stream": "s", "starting_position": "LATEST"})
    other = tmp_path / "other.jsonl"
    write_function(
        function_root, SUCCEED, other, {"stream": "s", "starting_position": "TRIM_HORIZON"}, "all"
    )
    engine = await started()
    await until(lambda: batches(other) == [["before"]])
    await ready(engine, 2)
    [after] = put(engine, "s", "after")
    await until(lambda: batches(out) == [["after"]])

    def checkpointed() -> bool:  # both mappings past "after" (a batch cut by the close would
        # run again at the restart, as Lambda's at-least-once delivery does: seen under load)
        found = [p for m in pollers(engine).mappings.values() for p in m.pollers]
        return len(found) == 2 and all(
            p.status.checkpoint and sequence_number(p.status.checkpoint) == after for p in found
        )

    await until(checkpointed, "both checkpoints past the record")
    await engine.close()
    # the checkpoints are durable: a restart reads what came while it was down, nothing twice
    store = StreamStore(tmp_path / "state" / "workbench.db")
    store.put("s", [(b"while down", "k", None)])
    store.close()
    engine = await started()
    await until(lambda: batches(out) == [["after"], ["while down"]])
    await until(lambda: batches(other) == [["before"], ["after"], ["while down"]])


async def test_failed_batch_is_retried_in_order_then_sent_to_on_failure(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {
        "stream": "orders",
        "starting_position": "TRIM_HORIZON",
        "batch_size": 10,
        "maximum_batching_window": 1,
        "maximum_retry_attempts": 2,
        "on_failure": "queue:orders-failed",
    }
    write_function(function_root, FAIL_WHOLE, out, trigger)
    engine = await started()
    await ready(engine)
    seqs = put(engine, "orders", "a", "fail-b", "c")
    await until(
        lambda: (
            engine.queues.exists("orders-failed") and engine.queues.get("orders-failed").depth == 1
        )
    )
    # the first try and two retries, each the whole batch; nothing after it ran meanwhile
    assert batches(out) == [["a", "fail-b", "c"]] * 3
    [record] = failure_records(engine, "orders-failed")
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:worker")
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0"
    info = record["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000"
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (seqs[0], seqs[2])
    assert info["batchSize"] == 3
    assert info["streamArn"] == "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
    assert "approximateArrivalOfFirstRecord" in info and "requestPayload" not in record
    # the shard goes on after the discarded batch
    put(engine, "orders", "d")
    await until(lambda: batches(out)[-1] == ["d"])


async def test_bisect_isolates_the_poison_record(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {
        "stream": "b",
        "starting_position": "TRIM_HORIZON",
        "batch_size": 4,
        "maximum_batching_window": 1,
        "bisect_batch_on_function_error": True,
        "maximum_retry_attempts": 0,
        "on_failure": "queue:b-failed",
    }
    write_function(function_root, FAIL_WHOLE, out, trigger)
    engine = await started()
    await ready(engine)
    put(engine, "b", "a", "b", "fail-c", "d")
    await until(
        lambda: engine.queues.exists("b-failed") and engine.queues.get("b-failed").depth == 1
    )
    # [d] runs after [fail-c] is discarded: its batch may still be on its way
    await until(lambda: len(batches(out)) >= 5)
    # [a b fail-c d] fails → [a b] succeeds, [fail-c d] fails → [fail-c] fails (discarded:
    # no retries left; splitting used none) → [d] succeeds
    assert batches(out) == [
        ["a", "b", "fail-c", "d"],
        ["a", "b"],
        ["fail-c", "d"],
        ["fail-c"],
        ["d"],
    ]
    [record] = failure_records(engine, "b-failed")
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    assert record["requestContext"]["approximateInvokeCount"] == 1


async def test_partial_batch_failure_checkpoints_at_the_lowest_failed_record(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {
        "stream": "p",
        "starting_position": "TRIM_HORIZON",
        "batch_size": 5,
        "maximum_batching_window": 1,
        "function_response_types": ["ReportBatchItemFailures"],
        "maximum_retry_attempts": 1,
        "on_failure": "queue:p-failed",
    }
    write_function(function_root, FAIL_ITEMS, out, trigger)
    engine = await started()
    await ready(engine)
    seqs = put(engine, "p", "a", "b", "fail-c", "d", "fail-e")
    await until(
        lambda: engine.queues.exists("p-failed") and engine.queues.get("p-failed").depth == 1
    )
    # retried from the lowest failed sequence number (fail-c), not the whole batch
    assert batches(out) == [["a", "b", "fail-c", "d", "fail-e"], ["fail-c", "d", "fail-e"]]
    [record] = failure_records(engine, "p-failed")
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == seqs[2]
    assert record["KinesisBatchInfo"]["batchSize"] == 3
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert "functionError" not in record["responseContext"]  # the function succeeded


async def test_invalid_partial_reply_fails_the_whole_batch(
    function_root: Path, out: Path, started: Callable
) -> None:
    code = RECORDER.replace("{BODY}", 'return {"batchItemFailures": [{"itemIdentifier": "nope"}]}')
    trigger = {
        "stream": "v",
        "starting_position": "TRIM_HORIZON",
        "report_batch_item_failures": True,
        "maximum_retry_attempts": 1,
    }
    write_function(function_root, code, out, trigger)
    engine = await started()
    await ready(engine)
    put(engine, "v", "x")
    await until(
        lambda: (
            pollers(engine).mappings
            and next(iter(pollers(engine).mappings.values())).pollers[0].status.discarded == 1
        )
    )
    assert batches(out) == [["x"], ["x"]]


async def test_records_past_maximum_record_age_are_discarded_unrun(
    function_root: Path, out: Path, started: Callable, tmp_path: Path
) -> None:
    db = tmp_path / "state" / "workbench.db"
    store = StreamStore(db)
    store.create("aged")
    store.put("aged", [(b"old", "k", None), (b"young", "k", None)])
    store.close()
    with sqlite3.connect(db) as conn:  # the first record arrived two minutes ago
        conn.execute(
            "UPDATE stream_records SET arrived_at = arrived_at - 120 WHERE data = ?", (b"old",)
        )
    trigger = {
        "stream": "aged",
        "starting_position": "TRIM_HORIZON",
        "maximum_record_age": 60,
        "on_failure": "queue:aged-failed",
    }
    write_function(function_root, SUCCEED, out, trigger)
    engine = await started()
    await until(lambda: batches(out) == [["young"]])
    [record] = failure_records(engine, "aged-failed")
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record  # the function never saw it
    assert record["KinesisBatchInfo"]["batchSize"] == 1


async def test_parallelization_keeps_each_partition_key_in_order(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {
        "stream": "par",
        "starting_position": "TRIM_HORIZON",
        "parallelization_factor": 4,
        "batch_size": 2,
        "shards": 2,
    }
    write_function(function_root, SUCCEED, out, trigger)
    engine = await started()
    await ready(engine)
    [mapping] = pollers(engine).mappings.values()
    assert len(mapping.pollers) == 8  # 2 shards × 4
    for i in range(10):
        for key in ("p", "q", "r", "s"):
            engine.streams.put("par", [(f"{key}{i}".encode(), key, None)])
    await until(lambda: sum(len(b) for b in batches(out)) == 40)
    seen = [d for b in batches(out) for d in b]
    for key in ("p", "q", "r", "s"):
        assert [d for d in seen if d[0] == key] == [f"{key}{i}" for i in range(10)]
    shards = {r["eventID"].split(":")[0] for e in events(out) for r in e["Records"]}
    assert shards <= {"shardId-000000000000", "shardId-000000000001"}


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"stream": "s"}, "starting_position", "required"),
        ({"stream": "s", "starting_position": "EARLIEST"}, "starting_position", "TRIM_HORIZON"),
        (
            {"stream": "s", "starting_position": "AT_TIMESTAMP"},
            "starting_position_timestamp",
            "required",
        ),
        ({"stream": "bad name", "starting_position": "LATEST"}, "stream", "stream name"),
        (
            {"stream": "s", "starting_position": "LATEST", "batch_size": 0},
            "batch_size",
            "1 to 10000",
        ),
        (
            {"stream": "s", "starting_position": "LATEST", "maximum_record_age": 10},
            "maximum_record_age",
            "60 to 604800",
        ),
        (
            {"stream": "s", "starting_position": "LATEST", "parallelization_factor": 11},
            "parallelization_factor",
            "1 to 10",
        ),
        (
            {"stream": "s", "starting_position": "LATEST", "on_failure": "function:x"},
            "on_failure",
            "queue:NAME",
        ),
        (
            {"stream": "s", "starting_position": "LATEST", "function_response_types": ["X"]},
            "function_response_types",
            "ReportBatchItemFailures",
        ),
    ],
)
def test_bad_trigger_config_is_a_clear_error(raw: dict, key: str, words: str) -> None:
    with pytest.raises(TriggerError) as caught:
        parse_trigger({"type": "kinesis", **raw})
    assert caught.value.key == key
    assert words in str(caught.value)


def test_trigger_defaults_are_lambdas() -> None:
    t = parse_trigger(
        {
            "type": "kinesis",
            "stream": "s",
            "starting_position": "AT_TIMESTAMP",
            "starting_position_timestamp": 1700000000,
        }
    )
    assert isinstance(t, KinesisTrigger)
    assert (t.batch_size, t.maximum_batching_window, t.parallelization_factor) == (100, 0, 1)
    assert (t.maximum_retry_attempts, t.maximum_record_age) == (-1, -1)
    assert t.starting_position_timestamp == 1700000000.0
    assert not t.bisect_batch_on_function_error and not t.report_batch_item_failures


async def test_a_larger_parallelization_factor_goes_on_from_the_checkpoint(
    function_root: Path, out: Path, started: Callable
) -> None:
    trigger = {"stream": "grow", "starting_position": "TRIM_HORIZON"}
    write_function(function_root, SUCCEED, out, trigger)
    engine = await started()
    await ready(engine)
    put(engine, "grow", "first", key="a")
    put(engine, "grow", "second", key="b")
    await until(lambda: sum(len(b) for b in batches(out)) == 2)
    await engine.close()
    write_function(function_root, SUCCEED, out, {**trigger, "parallelization_factor": 3})
    engine = await started()
    await ready(engine)
    [mapping] = pollers(engine).mappings.values()
    assert len(mapping.pollers) == 3
    put(engine, "grow", *[f"later {i}" for i in range(6)], key="c")
    await until(lambda: sum(len(b) for b in batches(out)) == 8)
    seen = [d for b in batches(out) for d in b]
    # the new lanes started at the old checkpoint: nothing ran twice, nothing was skipped
    assert sorted(seen) == sorted(["first", "second", *[f"later {i}" for i in range(6)]])
    assert [d for d in seen if d.startswith("later")] == [f"later {i}" for i in range(6)]
