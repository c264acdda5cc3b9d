"""Topics end to end: publish_message fans out to real subscribed handlers with SNS's event."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from tests.helpers import WAIT_S, make_function, until
from workbench.engine import Engine, EngineSettings
from workbench.engine.shapes import generate
from workbench.engine.sources.topics import (
    MAX_MESSAGE_BYTES,
    TopicAttribute,
    TopicError,
    check_message,
    parse_attribute,
    publish_message,
    subscription_arn,
)

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""


def subscriber(root: Path, name: str, out: Path, topic: str, **trigger: object) -> None:
    make_function(
        root,
        name,
        RECORDER,
        environment={"OUT": str(out)},
        triggers=[{"type": "sns", "topic": topic, **trigger}],
    )


def events_in(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line]


async def wait_events(out: Path, count: int, timeout: float = WAIT_S) -> list[dict]:
    def enough() -> list[dict] | None:
        found = events_in(out)
        return found if len(found) >= count else None

    return await until(
        enough,
        f"{count} events in {out.name}",
        timeout=timeout,
        step=0.05,
        explain=lambda: f"{len(events_in(out))} there",
    )


@pytest.fixture
async def engine(function_root: Path, tmp_path: Path):
    subscriber(function_root, "audit", tmp_path / "audit.jsonl", "orders")
    subscriber(function_root, "mailer", tmp_path / "mailer.jsonl", "orders")
    subscriber(function_root, "paused", tmp_path / "paused.jsonl", "orders", enabled=False)
    subscriber(function_root, "other", tmp_path / "other.jsonl", "alerts")
    settings = EngineSettings(state_dir=tmp_path / "state", background=True, time_scale=0.001)
    async with Engine([function_root], settings) as eng:
        yield eng


async def test_fan_out_with_the_sns_event(engine: Engine, tmp_path: Path) -> None:
    message_id = publish_message(
        engine, "orders", '{"order": 7}', subject="New order", attributes={"kind": "retail"}
    )
    [audit] = await wait_events(tmp_path / "audit.jsonl", 1)
    [mailer] = await wait_events(tmp_path / "mailer.jsonl", 1)
    for name, event in (("audit", audit), ("mailer", mailer)):
        [record] = event["Records"]
        assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
        assert record["EventSubscriptionArn"] == subscription_arn(engine, "orders", name)
        assert re.fullmatch(
            r"arn:aws:sns:us-east-1:123456789012:orders:[0-9a-f-]{36}",
            record["EventSubscriptionArn"],
        )
        sns = record["Sns"]
        assert sns["Type"] == "Notification"
        assert sns["MessageId"] == message_id
        assert sns["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:orders"
        assert sns["Subject"] == "New order"
        assert sns["Message"] == '{"order": 7}'
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", sns["Timestamp"])
        assert sns["SignatureVersion"] == "1"
        assert sns["SigningCertUrl"].startswith("https://sns.us-east-1.amazonaws.com/")
        assert sns["UnsubscribeUrl"].endswith(
            f"?Action=Unsubscribe&SubscriptionArn={record['EventSubscriptionArn']}"
        )
        assert sns["MessageAttributes"] == {"kind": {"Type": "String", "Value": "retail"}}
        # the same keys as `workbench generate-event sns notification`
        sample = generate("sns", "notification")["Records"][0]
        assert set(record) == set(sample) and set(sns) == set(sample["Sns"])
    assert audit["Records"][0]["Sns"]["Timestamp"] == mailer["Records"][0]["Sns"]["Timestamp"]
    assert (
        audit["Records"][0]["EventSubscriptionArn"] != mailer["Records"][0]["EventSubscriptionArn"]
    )
    # the disabled subscription and the other topic's subscriber got nothing: publish put every
    # subscriber's event in the durable queue before it returned, and there are only these two
    triggers = {e.function: e.trigger for e in engine.async_events()}
    assert triggers == {"audit": "sns:orders", "mailer": "sns:orders"}
    assert events_in(tmp_path / "paused.jsonl") == []
    assert events_in(tmp_path / "other.jsonl") == []


async def test_no_subject_no_attributes(engine: Engine, tmp_path: Path) -> None:
    publish_message(engine, "alerts", "disk full")
    [event] = await wait_events(tmp_path / "other.jsonl", 1)
    sns = event["Records"][0]["Sns"]
    assert sns["Subject"] is None and sns["MessageAttributes"] == {}
    assert sns["Message"] == "disk full"


async def test_refusals_accept_nothing(engine: Engine) -> None:
    with pytest.raises(TopicError) as e:
        publish_message(engine, "nope", "hi")
    assert e.value.code == "NotFound"
    assert "'nope'" in e.value.message and "alerts, orders" in e.value.message

    with pytest.raises(TopicError, match="Message too long") as e:
        publish_message(engine, "orders", "x" * (MAX_MESSAGE_BYTES + 1))
    assert e.value.code == "InvalidParameter"
    with pytest.raises(TopicError, match="Message too long"):  # attributes count too
        publish_message(engine, "orders", "x" * (MAX_MESSAGE_BYTES - 5), attributes={"k": "v"})
    with pytest.raises(TopicError, match="Empty message"):
        publish_message(engine, "orders", "")
    with pytest.raises(TopicError, match="Subject"):
        publish_message(engine, "orders", "m", subject="two\nlines")
    with pytest.raises(TopicError, match="Subject"):
        publish_message(engine, "orders", "m", subject="s" * 101)
    for bad in ("AWS.thing", "a..b", ".a", "sp ace", ""):
        with pytest.raises(TopicError, match="attribute name"):
            publish_message(engine, "orders", "m", attributes={bad: "v"})
    with pytest.raises(TopicError, match="non-empty"):
        publish_message(engine, "orders", "m", attributes={"k": ""})
    assert engine.async_events() == []

    # at the limit exactly, it goes
    publish_message(engine, "orders", "x" * MAX_MESSAGE_BYTES)
    assert len(engine.async_events()) == 2


async def test_a_topic_whose_only_subscription_is_disabled_exists(
    function_root: Path, tmp_path: Path
) -> None:
    subscriber(function_root, "paused", tmp_path / "paused.jsonl", "quiet", enabled=False)
    async with Engine([function_root], EngineSettings(state_dir=tmp_path / "state")) as engine:
        assert publish_message(engine, "quiet", "anyone?")  # SNS: no subscribers, no error
        assert engine.async_events() == []


def test_parse_attribute() -> None:
    assert parse_attribute("kind=a=b") == ("kind", "a=b")
    with pytest.raises(TopicError, match="NAME=VALUE"):
        parse_attribute("kind")


async def test_the_on_alert_sample(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parents[2] / "sample_functions"
    settings = EngineSettings(state_dir=tmp_path / "state", background=True, time_scale=0.001)
    async with Engine([samples], settings) as engine:
        publish_message(engine, "alerts", "disk full", subject="web-1", attributes={"sev": "hi"})
        [rec] = await until(lambda: engine.store.recent("on-alert"), "the on-alert record")
        assert "[web-1] disk full {'sev': 'hi'}" in rec.log_lines


async def test_typed_attributes_reach_the_event_as_sns_delivers_them(
    engine: Engine, tmp_path: Path
) -> None:
    attributes = {
        "price": TopicAttribute("Number", "-12.50"),
        "colours": TopicAttribute("String.Array", '["red", 2, true, null]'),
        "blob": TopicAttribute("Binary", "aGVsbG8="),
        "size": TopicAttribute("Number.int", "1e3"),  # a custom label after the type
        "kind": "retail",  # a plain string is a String attribute
    }
    publish_message(engine, "alerts", "m", attributes=attributes)
    [event] = await wait_events(tmp_path / "other.jsonl", 1)
    assert event["Records"][0]["Sns"]["MessageAttributes"] == {
        "price": {"Type": "Number", "Value": "-12.50"},
        "colours": {"Type": "String.Array", "Value": '["red", 2, true, null]'},
        "blob": {"Type": "Binary", "Value": "aGVsbG8="},
        "size": {"Type": "Number.int", "Value": "1e3"},
        "kind": {"Type": "String", "Value": "retail"},
    }


@pytest.mark.parametrize(
    ("attribute", "refusal"),
    [
        (
            TopicAttribute("Text", "x"),
            "The message attribute 'a' has an invalid message attribute type, the set of "
            "supported type prefixes is Binary, Number, and String.",
        ),
        (
            TopicAttribute("Number", ""),
            "The message attribute 'a' must contain non-empty message attribute value for "
            "message attribute type 'Number'.",
        ),
        (TopicAttribute("Number", "12abc"), "must hold a number"),
        (TopicAttribute("Number", "0x10"), "must hold a number"),
        (TopicAttribute("Number", "nan"), "must hold a number"),
        (TopicAttribute("Number", "1000000001"), "outside -10^9 to 10^9"),
        (TopicAttribute("String.Array", "red, green"), "must hold a JSON array"),
        (TopicAttribute("String.Array", '{"a": 1}'), "must hold a JSON array"),
        (TopicAttribute("String.Array", '[["nested"]]'), "must hold a JSON array"),
        (TopicAttribute("Binary", "not base64!"), "the value must be base64"),
    ],
)
async def test_typed_attributes_are_refused_as_sns_refuses_them(
    engine: Engine, attribute: TopicAttribute, refusal: str
) -> None:
    with pytest.raises(TopicError) as e:
        publish_message(engine, "alerts", "m", attributes={"a": attribute})
    assert refusal in e.value.message
    assert engine.async_events() == []


def test_a_binary_attribute_counts_its_bytes_toward_the_limit() -> None:
    big = base64.b64encode(b"x" * 200_000).decode()  # 266,668 characters, 200,000 bytes
    assert check_message("m", None, {"b": TopicAttribute("Binary", big)})
    with pytest.raises(TopicError, match="Message too long"):
        check_message("m" * 70_000, None, {"b": TopicAttribute("Binary", big)})
