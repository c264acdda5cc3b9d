"""Recursive loop detection: a function that sends to the queue it is triggered by, through
boto3 in the handler (which forwards the invocation's trace header as the SDKs do), is stopped
at its 17th invocation in the chain; with ``recursive_loop = "Allow"`` it is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import make_function, until_sync
from workbench.engine import Engine, RecursionStopped

from .live_server import LiveServer

# sends the next message of the chain to its own queue, until the message says to stop
LOOP = """
import json, os
import boto3

sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        n = json.loads(record["body"])["n"]
        with open(os.environ["SEEN"], "a") as f:
            f.write(json.dumps({"n": n, "trace": os.environ.get("_X_AMZN_TRACE_ID"),
                                "aws_trace": record["attributes"].get("AWSTraceHeader")}) + "\\n")
        if n < int(os.environ.get("UNTIL", "1000")):
            url = sqs.get_queue_url(QueueName=os.environ["QUEUE"])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n + 1}))
"""


@pytest.fixture
def sdk_layer(tmp_path: Path) -> Path:
    """A layer holding boto3 and its dependencies (links to this interpreter's copies)."""
    boto3 = pytest.importorskip("boto3")
    site = Path(boto3.__file__).parent.parent
    python = tmp_path / "layers" / "sdk" / "python"
    python.mkdir(parents=True)
    for name in ("boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six.py"):
        (python / name).symlink_to(site / name)
    return python.parent


def loop_function(root: Path, name: str, layer: Path, seen: Path, **config: object) -> None:
    make_function(
        root,
        name,
        LOOP,
        layers=[str(layer)],
        memory_size=512,
        timeout=60,
        environment={"SEEN": str(seen), "QUEUE": name, **config.pop("environment", {})},  # type: ignore[dict-item]
        triggers=[
            {"type": "queue", "queue": name, "max_receive_count": 3, "batch_size": 1},
        ],
        **config,
    )


def seen_of(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def _depth(engine: Engine, queue: str) -> int:
    assert engine.queues is not None
    return engine.queues.get(queue).depth if engine.queues.exists(queue) else 0


def test_queue_loop_is_stopped_at_16(tmp_path: Path, sdk_layer: Path) -> None:
    root = tmp_path / "functions"
    seen = tmp_path / "seen.jsonl"
    loop_function(root, "loop", sdk_layer, seen)
    server = LiveServer(root, tmp_path / "state").start()
    try:
        events = server.sync(lambda e: e.subscribe())
        server.client()  # the API is up: handlers get its endpoint
        server.sync(lambda e: e.queues.send("loop", json.dumps({"n": 1})))  # type: ignore[union-attr]
        until_sync(
            lambda: server.call(lambda e: _depth(e, "loop-dlq")) == 1,
            "the 17th message in the dead-letter queue",
            timeout=120,
            explain=lambda: f"{len(seen_of(seen))} invocations",
        )
        runs = seen_of(seen)
        assert [r["n"] for r in runs] == list(range(1, 17))  # 16 ran, the 17th did not
        # each invocation's _X_AMZN_TRACE_ID carries the chain: one Root, a new Parent
        roots = {r["trace"].split(";")[0] for r in runs}
        assert len(roots) == 1 and all("Lineage=" in r["trace"] for r in runs)
        assert len({r["trace"] for r in runs}) == 16
        # the message the handler sent carried its trace header (botocore forwards it)
        assert runs[0]["aws_trace"] is None  # sent from outside: no chain yet
        assert all(
            r["aws_trace"] and r["aws_trace"].startswith(next(iter(roots))) for r in runs[1:]
        )
        assert server.call(lambda e: _depth(e, "loop")) == 0  # the loop is over

        def stopped() -> list[RecursionStopped]:
            return [
                ev
                for ev in server.sync(lambda e: events.get_nowait())
                if isinstance(ev, RecursionStopped)
            ]

        found = until_sync(stopped, "the RecursionStopped event")
        assert found[0].function == "loop" and found[0].source == "queue:loop"
        assert found[0].count == 16
        assert found[0].disposition == "moved to dead-letter queue loop-dlq"
    finally:
        server.stop()


def test_allow_lets_the_loop_run_on(tmp_path: Path, sdk_layer: Path) -> None:
    root = tmp_path / "functions"
    seen = tmp_path / "seen.jsonl"
    loop_function(
        root, "loop", sdk_layer, seen, recursive_loop="Allow", environment={"UNTIL": "20"}
    )
    server = LiveServer(root, tmp_path / "state").start()
    try:
        client = server.client()
        assert client.get_function_recursion_config(FunctionName="loop")["RecursiveLoop"] == "Allow"
        server.client()
        server.sync(lambda e: e.queues.send("loop", json.dumps({"n": 1})))  # type: ignore[union-attr]
        until_sync(lambda: len(seen_of(seen)) == 20, "20 invocations", timeout=120)
        assert [r["n"] for r in seen_of(seen)] == list(range(1, 21))
        assert server.call(lambda e: _depth(e, "loop-dlq")) == 0
    finally:
        server.stop()


# the SDKs' way, with the standard library: the trace header from _X_AMZN_TRACE_ID, quoted as
# botocore's add_recursion_detection_header quotes it
STDLIB_LOOP = """
import json, os, urllib.parse, urllib.request

def handler(event, context):
    endpoint = os.environ["AWS_ENDPOINT_URL_SQS"]
    trace = os.environ["_X_AMZN_TRACE_ID"]
    for record in event["Records"]:
        n = json.loads(record["body"])["n"]
        body = {"QueueUrl": endpoint + "/123456789012/loopns",
                "MessageBody": json.dumps({"n": n + 1})}
        request = urllib.request.Request(endpoint + "/", data=json.dumps(body).encode(), headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS.SendMessage",
            "X-Amzn-Trace-Id": urllib.parse.quote(trace, safe="-=;:+&[]{}\\"',"),
        })
        urllib.request.urlopen(request, timeout=30).read()
"""


def test_the_chain_is_carried_in_namespaces(tmp_path: Path) -> None:
    from workbench.engine.runtime.namespaces import probe

    if probe():
        pytest.skip(f"this machine gives no namespaces: {probe()}")
    root = tmp_path / "functions"
    make_function(
        root,
        "loopns",
        STDLIB_LOOP,
        timeout=30,
        triggers=[{"type": "queue", "queue": "loopns", "max_receive_count": 3, "batch_size": 1}],
    )
    server = LiveServer(root, tmp_path / "state", isolation="auto").start()
    try:
        namespaced = server.sync(
            lambda e: e.pool.isolation is not None and e.pool.isolation.namespaces
        )
        assert namespaced
        server.sync(lambda e: e.queues.send("loopns", json.dumps({"n": 1})))  # type: ignore[union-attr]
        until_sync(
            lambda: server.call(lambda e: _depth(e, "loopns-dlq")) == 1,
            "the 17th message in the dead-letter queue",
            timeout=120,
        )
        # (the 16th invocation's record may land just after the 17th message was moved: the
        # handler sent it before it returned)
        count = lambda: server.sync(lambda e: e.invoker.invocations.get("loopns"))  # noqa: E731
        until_sync(lambda: count() == 16, "the 16th invocation's record", explain=count)
        assert server.call(lambda e: _depth(e, "loopns")) == 0  # the loop is over
        assert count() == 16  # 16 ran, the 17th did not
    finally:
        server.stop()
