"""SQS fidelity through boto3's ``sqs`` client against the live workbench: FIFO queues (their
names, MessageGroupId, deduplication, ordering per group, no per-message delay),
SetQueueAttributes, queue tags and the request id every reply carries."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import workbench.engine.storage.queues as queues_module

from .live_server import LiveServer

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def sqs_client(live: LiveServer):
    return boto3.client(
        "sqs",
        endpoint_url=live.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 0}),
    )


@pytest.fixture
def sqs(live: LiveServer):
    return sqs_client(live)


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def fifo_queue(sqs, name: str = "orders.fifo", **attributes: str) -> str:
    return sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", **attributes})[
        "QueueUrl"
    ]


def receive(sqs, url: str, count: int = 10) -> list[dict]:
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=count, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])


# --------------------------------------------------------------------------- creating


def test_a_fifo_queue_is_created_as_one(sqs) -> None:
    url = fifo_queue(sqs)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    assert attrs["DeduplicationScope"] == "queue"
    assert attrs["FifoThroughputLimit"] == "perQueue"
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    # the same call again is the same queue; a standard queue has no FIFO attributes
    assert fifo_queue(sqs) == url
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=plain, AttributeNames=["All"])["Attributes"]
    assert "FifoQueue" not in attrs and "ContentBasedDeduplication" not in attrs


def test_fifo_names_and_types_must_agree(sqs) -> None:
    assert error_of(sqs.create_queue, QueueName="orders", Attributes={"FifoQueue": "true"}) == (
        "InvalidParameterValue",
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
        "underscores, must end with .fifo suffix and be 1 to 80 in length",
    )
    assert error_of(sqs.create_queue, QueueName="orders.fifo") == (
        "InvalidParameterValue",
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
    )
    code, _ = error_of(
        sqs.create_queue, QueueName="plain", Attributes={"ContentBasedDeduplication": "true"}
    )
    assert code == "InvalidAttributeName"  # a FIFO queue's attribute
    code, _ = error_of(sqs.create_queue, QueueName="x.fifo", Attributes={"FifoQueue": "maybe"})
    assert code == "InvalidAttributeValue"
    assert sqs.list_queues().get("QueueUrls", []) == []  # nothing was created


# --------------------------------------------------------------------------- sending


def test_a_fifo_send_needs_a_group_and_a_deduplication_id(sqs) -> None:
    url = fifo_queue(sqs)
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="a") == (
        "MissingParameter",
        "The request must contain the parameter MessageGroupId.",
    )
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="a", MessageGroupId="g") == (
        "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly",
    )
    assert error_of(
        sqs.send_message,
        QueueUrl=url,
        MessageBody="a",
        MessageGroupId="g",
        MessageDeduplicationId="d",
        DelaySeconds=5,
    ) == (
        "InvalidParameterValue",
        "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter "
        "that is not valid for this queue type.",
    )
    sent = sqs.send_message(
        QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="d"
    )
    assert sent["SequenceNumber"].isdigit()
    [message] = receive(sqs, url)
    assert message["MessageId"] == sent["MessageId"]
    assert message["Attributes"]["MessageGroupId"] == "g"
    assert message["Attributes"]["MessageDeduplicationId"] == "d"
    assert message["Attributes"]["SequenceNumber"] == sent["SequenceNumber"]


def test_a_standard_queue_refuses_a_deduplication_id_and_keeps_a_group(sqs) -> None:
    url = sqs.create_queue(QueueName="plain")["QueueUrl"]
    assert error_of(
        sqs.send_message, QueueUrl=url, MessageBody="a", MessageDeduplicationId="d"
    ) == (
        "InvalidParameterValue",
        "Value d for parameter MessageDeduplicationId is invalid. Reason: The request include "
        "parameter that is not valid for this queue type.",
    )
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="tenant-1")
    [message] = receive(sqs, url)
    assert message["Attributes"]["MessageGroupId"] == "tenant-1"
    assert "SequenceNumber" not in message["Attributes"]


def test_explicit_deduplication_within_five_minutes(sqs, monkeypatch: pytest.MonkeyPatch) -> None:
    url = fifo_queue(sqs)
    first = sqs.send_message(
        QueueUrl=url, MessageBody="pay 10", MessageGroupId="g", MessageDeduplicationId="pay-1"
    )
    again = sqs.send_message(
        QueueUrl=url,
        MessageBody="pay 10 (retry)",
        MessageGroupId="g",
        MessageDeduplicationId="pay-1",
    )
    assert again["MessageId"] == first["MessageId"]  # accepted, not enqueued again
    got = receive(sqs, url)
    assert [m["Body"] for m in got] == ["pay 10"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    # deleted, the id is still remembered for the rest of the window
    sqs.send_message(
        QueueUrl=url, MessageBody="pay 10", MessageGroupId="g", MessageDeduplicationId="pay-1"
    )
    assert receive(sqs, url) == []
    # five minutes later it is a new message
    later = time.time() + queues_module.DEDUP_WINDOW_S + 1
    monkeypatch.setattr(queues_module.time, "time", lambda: later)
    third = sqs.send_message(
        QueueUrl=url, MessageBody="pay 10", MessageGroupId="g", MessageDeduplicationId="pay-1"
    )
    assert third["MessageId"] != first["MessageId"]
    assert [m["Body"] for m in receive(sqs, url)] == ["pay 10"]


def test_content_based_deduplication(sqs) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    a = sqs.send_message(QueueUrl=url, MessageBody='{"order": 1}', MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody='{"order": 1}', MessageGroupId="g")
    c = sqs.send_message(QueueUrl=url, MessageBody='{"order": 2}', MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"] != c["MessageId"]
    got = receive(sqs, url)
    assert [m["Body"] for m in got] == ['{"order": 1}', '{"order": 2}']
    # the deduplication id is the body's SHA-256
    expected = hashlib.sha256(b'{"order": 1}').hexdigest()
    assert got[0]["Attributes"]["MessageDeduplicationId"] == expected


def test_deduplication_scope_message_group(sqs) -> None:
    url = fifo_queue(
        sqs, DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId"
    )
    a = sqs.send_message(
        QueueUrl=url, MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d"
    )
    b = sqs.send_message(
        QueueUrl=url, MessageBody="x", MessageGroupId="g2", MessageDeduplicationId="d"
    )
    assert a["MessageId"] != b["MessageId"]  # the same id in another group is another message


# --------------------------------------------------------------------------- ordering


def test_messages_of_a_group_come_in_order_one_batch_at_a_time(sqs) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    for body, group in (("a1", "a"), ("b1", "b"), ("a2", "a"), ("b2", "b"), ("a3", "a")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    # as many of the first group as there are, in order
    first = receive(sqs, url, 2)
    assert [m["Body"] for m in first] == ["a1", "a2"]
    # group a is in flight: nothing more of it, not even a3, until those are done
    second = receive(sqs, url, 10)
    assert [m["Body"] for m in second] == ["b1", "b2"]
    assert receive(sqs, url, 10) == []
    # a2 back to the queue at once (a failed batch): the group restarts from its oldest
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"], VisibilityTimeout=0
    )
    assert receive(sqs, url, 10) == []  # a1 still in flight: a2 must not overtake it
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    third = receive(sqs, url, 10)
    assert [m["Body"] for m in third] == ["a2", "a3"]
    assert third[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    sequence = [int(m["Attributes"]["SequenceNumber"]) for m in first[:1] + third]
    assert sequence == sorted(sequence)


def test_batch_send_to_a_fifo_queue(sqs) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    out = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "1", "MessageBody": "one", "MessageGroupId": "g"},
            {"Id": "2", "MessageBody": "two"},
            {"Id": "3", "MessageBody": "three", "MessageGroupId": "g"},
        ],
    )
    assert [e["Id"] for e in out["Successful"]] == ["1", "3"]
    assert all(e["SequenceNumber"].isdigit() for e in out["Successful"])
    [failed] = out["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == ("2", "MissingParameter", True)
    assert [m["Body"] for m in receive(sqs, url)] == ["one", "three"]


# --------------------------------------------------------------------------- attributes, tags


def test_set_queue_attributes_applies_them(sqs) -> None:
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    created = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "VisibilityTimeout": "45",
            "DelaySeconds": "600",
            "MaximumMessageSize": "1024",
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:work-dlq",
                    "maxReceiveCount": 3,
                }
            ),
        },
    )
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["VisibilityTimeout"], attrs["DelaySeconds"], attrs["MaximumMessageSize"]) == (
        "45",
        "600",
        "1024",
    )
    assert '"maxReceiveCount": 3' in attrs["RedrivePolicy"]
    assert int(attrs["LastModifiedTimestamp"]) >= int(created["CreatedTimestamp"])
    assert "work-dlq" in [u.rsplit("/", 1)[1] for u in sqs.list_queues()["QueueUrls"]]
    # the queue's delay applies to a send that gives none; a message's own overrides it
    sqs.send_message(QueueUrl=url, MessageBody="later")
    sqs.send_message(QueueUrl=url, MessageBody="now", DelaySeconds=0)
    assert [m["Body"] for m in receive(sqs, url)] == ["now"]
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attrs["Attributes"] == {"ApproximateNumberOfMessagesDelayed": "1"}
    # the queue's size limit
    code, message = error_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 1025)
    assert code == "InvalidParameterValue" and "at most 1024 bytes" in message
    # an empty RedrivePolicy removes it
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "RedrivePolicy" not in attrs


def test_set_queue_attributes_refuses_bad_ones(sqs) -> None:
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    for attributes, code in (
        ({"DelaySeconds": "901"}, "InvalidAttributeValue"),
        ({"MaximumMessageSize": "12"}, "InvalidAttributeValue"),
        ({"VisibilityTimeout": "soon"}, "InvalidAttributeValue"),
        ({"Colour": "blue"}, "InvalidAttributeName"),
        ({"FifoQueue": "true"}, "InvalidAttributeName"),
        ({"ContentBasedDeduplication": "true"}, "InvalidAttributeName"),
    ):
        assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes=attributes)[0] == code
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["DelaySeconds"], attrs["VisibilityTimeout"]) == ("0", "30")
    fifo = fifo_queue(sqs)
    sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"ContentBasedDeduplication": "true"})
    sqs.send_message(QueueUrl=fifo, MessageBody="now deduplicated by content", MessageGroupId="g")


def test_queue_tags(sqs) -> None:
    url = sqs.create_queue(QueueName="tagged", tags={"team": "payments"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "payments"}
    sqs.tag_queue(QueueUrl=url, Tags={"stage": "dev", "team": "billing"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "billing", "stage": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "absent"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"stage": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["stage"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
    code, _ = error_of(sqs.tag_queue, QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})
    assert code == "InvalidParameterValue"
    code, _ = error_of(sqs.list_queue_tags, QueueUrl=url + "-gone")
    assert code == "AWS.SimpleQueueService.NonExistentQueue"


def test_fifo_type_attributes_and_tags_survive_a_restart(api_root: Path, tmp_path: Path) -> None:
    live = LiveServer(api_root, tmp_path / "state").start()
    try:
        sqs = sqs_client(live)
        url = fifo_queue(sqs, ContentBasedDeduplication="true")
        sqs.tag_queue(QueueUrl=url, Tags={"team": "payments"})
        sqs.send_message(QueueUrl=url, MessageBody="kept", MessageGroupId="g")
    finally:
        live.stop()
    live = LiveServer(api_root, tmp_path / "state").start()
    try:
        sqs = sqs_client(live)
        url = sqs.get_queue_url(QueueName="orders.fifo")["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (attrs["FifoQueue"], attrs["ContentBasedDeduplication"]) == ("true", "true")
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "payments"}
        # the deduplication window outlives the restart too
        sqs.send_message(QueueUrl=url, MessageBody="kept", MessageGroupId="g")
        assert [m["Body"] for m in receive(sqs, url)] == ["kept"]
    finally:
        live.stop()


# --------------------------------------------------------------------------- wire


def test_every_reply_carries_a_request_id(sqs) -> None:
    url = sqs.create_queue(QueueName="ids")["QueueUrl"]
    seen = set()
    for response in (
        sqs.send_message(QueueUrl=url, MessageBody="a"),
        sqs.list_queues(),
        sqs.get_queue_attributes(QueueUrl=url),
    ):
        request_id = response["ResponseMetadata"]["RequestId"]
        assert UUID.fullmatch(request_id)
        assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == request_id
        seen.add(request_id)
    with pytest.raises(ClientError) as err:
        sqs.get_queue_url(QueueName="absent")
    seen.add(err.value.response["ResponseMetadata"]["RequestId"])
    assert all(UUID.fullmatch(i) for i in seen) and len(seen) == 4


def test_a_queue_url_of_another_account_is_no_queue_here(sqs, live: LiveServer) -> None:
    url = sqs.create_queue(QueueName="mine")["QueueUrl"]
    assert url == f"{live.url}/123456789012/mine"
    code, _ = error_of(sqs.send_message, QueueUrl=f"{live.url}/999999999999/mine", MessageBody="a")
    assert code == "AWS.SimpleQueueService.NonExistentQueue"
    assert sqs.get_queue_attributes(QueueUrl=url)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_fifo_queues_own_delay_holds_back_only_what_was_sent_under_it(sqs) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "900"})
    sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b")
    [first] = receive(sqs, url)
    assert first["Body"] == "a1"  # a2, sent later and delayed, neither blocks nor overtakes it
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert receive(sqs, url) == []
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attrs == {"ApproximateNumberOfMessagesDelayed": "2"}


def test_the_queues_receive_wait_is_the_default_long_poll(sqs) -> None:
    url = sqs.create_queue(QueueName="patient", Attributes={"ReceiveMessageWaitTimeSeconds": "1"})[
        "QueueUrl"
    ]
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert time.monotonic() - started >= 1.0  # it waited the queue's second for a message
