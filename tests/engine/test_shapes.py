"""One source of truth for event payloads: what a live source hands a function and what
``generate-event`` prints have the same shape, service by service.

The live events are the ones real handlers received from a running engine (a bucket folder, a
topic, a queue mapping, a schedule); the samples come from ``generate-event``'s catalogue. They
must differ only in their values: the same keys in the same order at every level, the same kinds
of value. Maps whose keys are the user's data (headers, attributes) count as one map.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.helpers import make_function, structure
from workbench.engine import Engine, EngineSettings
from workbench.engine.shapes import TEMPLATES, generate
from workbench.engine.sources.buckets import Buckets
from workbench.engine.sources.topics import publish_message

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""

BOTH = ["ObjectCreated:*", "ObjectRemoved:*"]


def test_structure_sees_a_renamed_a_moved_and_a_retyped_key() -> None:
    """The comparison below would catch a drift: it is not blind to order, names or types."""
    event = {"a": 1, "b": {"c": "x", "headers": {"Host": "h"}}}
    assert structure(event) == structure({"a": 2, "b": {"c": "y", "headers": {"X": "1"}}})
    assert structure(event) != structure({"b": {"c": "x", "headers": {}}, "a": 1})
    assert structure(event) != structure({"a": 1, "b": {"d": "x", "headers": {}}})
    assert structure(event) != structure({"a": "1", "b": {"c": "x", "headers": {}}})


def events_in(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line]


async def first_event(
    out: Path, wanted: Callable[[dict], bool] = lambda _: True, timeout: float = 30.0
) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events_in(out) if wanted(e)]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{out.name}: no such event in {events_in(out)}")


def s3_named(name: str) -> Callable[[dict], bool]:
    return lambda event: event["Records"][0]["eventName"] == name


@pytest.fixture
async def live(function_root: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine running every engine-side source, each feeding a recording function."""
    triggers = {
        "on-s3": {"type": "s3", "bucket": "uploads", "events": BOTH},
        "on-sns": {"type": "sns", "topic": "orders"},
        "on-sqs": {"type": "queue", "queue": "jobs"},
        "on-schedule": {"type": "schedule", "expression": "rate(1 minute)", "name": "tick"},
    }
    for name, trigger in triggers.items():
        out = tmp_path / f"{name}.jsonl"
        make_function(
            function_root, name, RECORDER, environment={"OUT": str(out)}, triggers=[trigger]
        )
    settings = EngineSettings(
        state_dir=tmp_path / "state", background=True, time_scale=0.01, reap_interval_s=0.2
    )
    async with Engine([function_root], settings) as engine:
        [buckets] = [p for p in engine.sources.parts if isinstance(p, Buckets)]
        await buckets.wait_watching()
        yield engine


async def test_live_events_have_the_samples_shape(
    live: Engine, function_root: Path, tmp_path: Path
) -> None:
    photo = function_root / "buckets" / "uploads" / "my photo.jpg"
    photo.write_bytes(b"\xff\xd8" * 10)
    put = await first_event(tmp_path / "on-s3.jsonl", s3_named("ObjectCreated:Put"))
    photo.unlink()
    delete = await first_event(tmp_path / "on-s3.jsonl", s3_named("ObjectRemoved:Delete"))
    publish_message(live, "orders", "hello", subject="greeting", attributes={"kind": "retail"})
    sns = await first_event(tmp_path / "on-sns.jsonl")
    assert live.queues is not None
    live.queues.send("jobs", "a job", {"shop": "north"})
    sqs = await first_event(tmp_path / "on-sqs.jsonl")
    scheduled = await first_event(tmp_path / "on-schedule.jsonl")

    pairs = {
        ("s3", "put"): put,
        ("s3", "delete"): delete,
        ("sns", "notification"): sns,
        ("sqs", "receive-message"): sqs,
        ("cloudwatch", "scheduled-event"): scheduled,
    }
    for (service, event), got in pairs.items():
        sample = generate(service, event)
        assert structure(got) == structure(sample), f"{service} {event}"
    # and they are live, not samples: the values are the sources' own
    assert put["Records"][0]["s3"]["object"]["key"] == "my+photo.jpg"
    assert put["Records"][0]["s3"]["object"]["size"] == 20
    assert sns["Records"][0]["Sns"]["Message"] == "hello"
    assert sqs["Records"][0]["body"] == "a job"
    assert scheduled["resources"][0].endswith(":rule/tick")


def test_every_sample_with_a_live_source_is_compared() -> None:
    """The services above are every catalogue entry an engine-side source also sends; the
    API Gateway ones are compared against the HTTP trigger in tests/api."""
    engine_side = {
        ("s3", "put"),
        ("s3", "delete"),
        ("sns", "notification"),
        ("sqs", "receive-message"),
        ("cloudwatch", "scheduled-event"),
    }
    http_side = {("apigateway", "aws-proxy"), ("apigateway", "http-api-proxy")}
    no_live_source = {("dynamodb", "update"), ("kinesis", "get-records"), ("cloudwatch", "logs")}
    assert set(TEMPLATES) == engine_side | http_side | no_live_source
