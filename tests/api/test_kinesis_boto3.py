"""boto3's ``kinesis`` client against the live workbench API: Kinesis's JSON 1.1 protocol, and a
stream mapping fed through it."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.helpers import make_function, until_sync

from .live_server import LiveServer

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    failed = [r["kinesis"]["sequenceNumber"] for r in event["Records"]
              if b"fail" in __import__("base64").b64decode(r["kinesis"]["data"])]
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
"""


@pytest.fixture
def kinesis(live: LiveServer):
    return boto3.client(
        "kinesis",
        endpoint_url=live.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 0}),
    )


def test_create_describe_list_put_get_delete(kinesis) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    desc = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]
    assert desc["StreamName"] == "clicks"
    assert desc["StreamARN"] == "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    assert desc["StreamStatus"] == "ACTIVE"
    assert [s["ShardId"] for s in desc["Shards"]] == [
        "shardId-000000000000",
        "shardId-000000000001",
    ]
    ranges = [s["HashKeyRange"] for s in desc["Shards"]]
    assert ranges[0]["StartingHashKey"] == "0"
    assert int(ranges[0]["EndingHashKey"]) + 1 == int(ranges[1]["StartingHashKey"])
    assert ranges[1]["EndingHashKey"] == str(2**128 - 1)
    assert desc["HasMoreShards"] is False
    summary = kinesis.describe_stream_summary(StreamARN=desc["StreamARN"])
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 2
    assert kinesis.list_streams()["StreamNames"] == ["clicks"]

    one = kinesis.put_record(StreamName="clicks", Data=b"\x00binary\xff", PartitionKey="user-1")
    many = kinesis.put_records(
        StreamName="clicks",
        Records=[{"Data": f"r{i}".encode(), "PartitionKey": "user-1"} for i in range(3)],
    )
    assert many["FailedRecordCount"] == 0
    # one partition key, one shard, sequence numbers growing
    shard = one["ShardId"]
    assert {r["ShardId"] for r in many["Records"]} == {shard}
    seqs = [one["SequenceNumber"]] + [r["SequenceNumber"] for r in many["Records"]]
    assert [int(s) for s in seqs] == sorted(int(s) for s in seqs)

    it = kinesis.get_shard_iterator(
        StreamName="clicks", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it, Limit=2)
    assert [r["Data"] for r in got["Records"]] == [b"\x00binary\xff", b"r0"]
    assert got["Records"][0]["PartitionKey"] == "user-1"
    assert got["Records"][0]["SequenceNumber"] == seqs[0]
    assert abs(got["Records"][0]["ApproximateArrivalTimestamp"].timestamp() - time.time()) < 600
    rest = kinesis.get_records(ShardIterator=got["NextShardIterator"])
    assert [r["Data"] for r in rest["Records"]] == [b"r1", b"r2"]
    assert kinesis.get_records(ShardIterator=rest["NextShardIterator"])["Records"] == []

    after = kinesis.get_shard_iterator(
        StreamName="clicks",
        ShardId=shard,
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber=seqs[2],
    )["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=after)["Records"]] == [b"r2"]
    latest = kinesis.get_shard_iterator(
        StreamName="clicks", ShardId=shard, ShardIteratorType="LATEST"
    )["ShardIterator"]
    kinesis.put_record(StreamName="clicks", Data=b"new", PartitionKey="user-1")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest)["Records"]] == [b"new"]

    kinesis.delete_stream(StreamName="clicks")
    assert kinesis.list_streams()["StreamNames"] == []


def test_errors_are_kinesis_exceptions(kinesis) -> None:
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as caught:
        kinesis.put_record(StreamName="nope", Data=b"x", PartitionKey="k")
    assert "nope" in caught.value.response["Error"]["Message"]
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.describe_stream(StreamName="nope")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.delete_stream(StreamName="nope")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    with pytest.raises(kinesis.exceptions.ResourceInUseException):
        kinesis.create_stream(StreamName="s", ShardCount=1)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as caught:
        kinesis.get_shard_iterator(
            StreamName="s", ShardId="shardId-000000000007", ShardIteratorType="LATEST"
        )
    assert "shardId-000000000000" in caught.value.response["Error"]["Message"]
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_records(ShardIterator="not-an-iterator")
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as caught:
        kinesis.put_record(StreamName="s", Data=b"x" * (1024 * 1024 + 1), PartitionKey="k")
    assert str(1024 * 1024) in caught.value.response["Error"]["Message"]
    it = kinesis.get_shard_iterator(
        StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="LATEST"
    )["ShardIterator"]
    kinesis.delete_stream(StreamName="s")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.get_records(ShardIterator=it)


@pytest.fixture
def stream_root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "echo", "def handler(e, c):\n    return e\n")
    return root


def test_boto3_puts_reach_a_kinesis_trigger_with_partial_failures(
    tmp_path: Path, stream_root: Path
) -> None:
    out = tmp_path / "events.jsonl"
    folder = stream_root / "worker"
    folder.mkdir()
    (folder / "app.py").write_text(RECORDER.lstrip())
    (folder / "function.toml").write_text(
        "\n".join(
            [
                'handler = "app.handler"',
                "[environment]",
                f'OUT = "{out}"',
                "[[triggers]]",
                'type = "kinesis"',
                'stream = "orders"',
                'starting_position = "TRIM_HORIZON"',
                "batch_size = 10",
                "maximum_batching_window = 1",
                'function_response_types = ["ReportBatchItemFailures"]',
                "maximum_retry_attempts = 0",
                'on_failure = "queue:orders-failed"',
            ]
        )
        + "\n"
    )
    live = LiveServer(stream_root, tmp_path / "state").start()
    try:
        kinesis = boto3.client(
            "kinesis",
            endpoint_url=live.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        sqs = boto3.client(
            "sqs",
            endpoint_url=live.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        sent = kinesis.put_records(
            StreamName="orders",
            Records=[{"Data": d, "PartitionKey": "o"} for d in (b"a", b"fail-b", b"c")],
        )
        url = until_sync(lambda: _queue_url(sqs, "orders-failed"))
        got = until_sync(lambda: sqs.receive_message(QueueUrl=url).get("Messages"))
        record = json.loads(got[0]["Body"])
        info = record["KinesisBatchInfo"]
        # the reply named fail-b: the batch from fail-b on was retried (no retries left:
        # discarded), a and the first try done
        assert info["startSequenceNumber"] == sent["Records"][1]["SequenceNumber"]
        assert info["batchSize"] == 2
        assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
        seen = [json.loads(line) for line in out.read_text().splitlines()]
        datas = [[base64.b64decode(r["kinesis"]["data"]) for r in e["Records"]] for e in seen]
        assert datas == [[b"a", b"fail-b", b"c"]]
    finally:
        live.stop()


def _queue_url(sqs, name: str) -> str | None:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None
