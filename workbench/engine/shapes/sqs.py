"""SQS records as a queue mapping hands them to a function (LAMBDA_REFERENCE §8, SAM's
``sqs/Sqs.json``). Message attributes take the event source mapping's lower-camel form
(``stringValue``, ``dataType``), not SQS's API form (``StringValue``)."""

from __future__ import annotations

from collections.abc import Mapping


def queue_arn(region: str, account_id: str, queue: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{queue}"


def message_attribute(value: Mapping[str, str]) -> dict[str, object]:
    """One attribute in SQS's API form (``DataType``, ``StringValue``/``BinaryValue``) as the
    event carries it."""
    out: dict[str, object] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "BinaryValue" in value:
        out["binaryValue"] = value["BinaryValue"]
    else:
        out["stringValue"] = value["StringValue"]
    return out


def sqs_record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    md5_of_body: str,
    attributes: Mapping[str, Mapping[str, str]],
    receive_count: int,
    sent_ms: int,
    first_received_ms: int,
    sender_id: str,
    queue_arn: str,
    region: str,
) -> dict[str, object]:
    """``attributes`` are the message's MessageAttributes in SQS's API form."""
    return {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(sent_ms),
            "SenderId": sender_id,
            "ApproximateFirstReceiveTimestamp": str(first_received_ms),
        },
        "messageAttributes": {k: message_attribute(v) for k, v in attributes.items()},
        "md5OfBody": md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
