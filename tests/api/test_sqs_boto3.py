"""boto3's ``sqs`` client against the live workbench API: SQS's JSON protocol, as users call it."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config

from tests.helpers import until_sync

from .live_server import LiveServer


@pytest.fixture
def sqs(live: LiveServer):
    return boto3.client(
        "sqs",
        endpoint_url=live.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 0}),
    )


def test_create_send_receive_delete(sqs, live: LiveServer) -> None:
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    assert url == f"{live.url}/123456789012/orders"
    assert sqs.get_queue_url(QueueName="orders")["QueueUrl"] == url
    assert (
        sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
        == url
    )  # idempotent with the same attributes
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody='{"id": 1}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    stored = live.sync(lambda e: e.queues.receive("orders", visibility_timeout=0))
    assert stored[0].message_id == sent["MessageId"]
    assert sent["MD5OfMessageAttributes"] == stored[0].md5_of_attributes
    got = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    [message] = got["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == '{"id": 1}'
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"
    assert message["MessageAttributes"]["kind"] == {"DataType": "String", "StringValue": "order"}
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attrs["VisibilityTimeout"] == "5"
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:orders"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert live.sync(lambda e: e.queues.get("orders").in_flight) == 0
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert sqs.list_queues()["QueueUrls"] == [url]
    sqs.delete_queue(QueueUrl=url)
    assert "QueueUrls" not in sqs.list_queues()


def test_redrive_policy_and_attributes(sqs) -> None:
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    url = sqs.create_queue(
        QueueName="work", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": policy}
    )["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    assert json.loads(attrs["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 1,
    }
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # moved, not received
    [dead] = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert dead["Body"] == "poison"


def test_batches_visibility_and_purge(sqs) -> None:
    url = sqs.create_queue(QueueName="b")["QueueUrl"]
    sent = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"e{i}", "MessageBody": f"m{i}"} for i in range(3)]
        + [{"Id": "late", "MessageBody": "x", "DelaySeconds": 901}],
    )
    assert sorted(s["Id"] for s in sent["Successful"]) == ["e0", "e1", "e2"]
    [failed] = sent["Failed"]
    assert failed["Id"] == "late" and failed["SenderFault"] is True
    assert "from 0 to 900" in failed["Message"]
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": f"e{i}", "MessageBody": "x" * 600_000} for i in range(2)],
        )
    sqs.send_message(QueueUrl=url, MessageBody="x" * (1024 * 1024))  # the limit itself
    with pytest.raises(sqs.exceptions.ClientError, match="at most 1048576 bytes"):
        sqs.send_message(QueueUrl=url, MessageBody="x" * (1024 * 1024 + 1))
    sqs.purge_queue(QueueUrl=url)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 3
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    [again] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert again["MessageId"] == got[0]["MessageId"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": got[1]["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": "not-a-handle"},
        ],
    )
    assert [s["Id"] for s in deleted["Successful"]] == ["a"]
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    sqs.purge_queue(QueueUrl=url)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"]
    assert attrs["ApproximateNumberOfMessages"] == "0"


def test_long_polling_returns_when_a_message_arrives(sqs, live: LiveServer) -> None:
    url = sqs.create_queue(QueueName="lp")["QueueUrl"]
    listeners = live.sync(lambda e: len(e.queues._listeners))
    got: dict = {}
    started = time.monotonic()
    receiver = threading.Thread(
        target=lambda: got.update(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10))
    )
    receiver.start()
    # the message arrives while the receive waits for one (it listens for sends)
    until_sync(lambda: live.sync(lambda e: len(e.queues._listeners)) > listeners, "the long poll")
    live.sync(lambda e: e.queues.send("lp", "late"))
    receiver.join(30)
    assert got["Messages"][0]["Body"] == "late"
    assert time.monotonic() - started < 10  # it returned then, not at the end of WaitTimeSeconds
    # the loop stays free during a long poll: the Lambda API still answers
    assert live.client().list_functions()["Functions"]


def test_errors_are_sqs_exceptions(sqs, live: LiveServer) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.get_queue_url(QueueName="missing")
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"{live.url}/123456789012/missing", MessageBody="x")
    sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "5"})
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "6"})
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.create_queue(QueueName="r", Attributes={"Colour": "blue"})
    with pytest.raises(sqs.exceptions.ClientError, match="between 1 and 10"):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    with pytest.raises(sqs.exceptions.ClientError, match="invalid queue name"):
        sqs.create_queue(QueueName="bad name")
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[])


def test_unknown_target_and_host_guard(live: LiveServer) -> None:
    request = urllib.request.Request(
        live.url + "/",
        data=b"{}",
        headers={"X-Amz-Target": "AmazonSQS.AddPermission", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 400
    assert "UnsupportedOperation" in e.value.headers["x-amzn-query-error"]
    assert "ReceiveMessage" in json.loads(e.value.read())["message"]
    evil = urllib.request.Request(
        live.url + "/",
        data=b"{}",
        headers={"X-Amz-Target": "AmazonSQS.ListQueues", "Host": "evil.example:80"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(evil, timeout=10)
    assert e.value.code == 403
