"""The SQS event a queue mapping hands its function, and how it reads the partial-batch reply.

The record shape is Lambda's (LAMBDA_REFERENCE §8, SAM's ``sqs/Sqs.json``; the same as
``workbench generate-event sqs receive-message``). Message attributes use the ESM's
lower-camel form (``stringValue``, ``dataType``), not SQS's ``StringValue``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..storage.queues import Message


def queue_arn(region: str, account_id: str, queue: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{queue}"


def _ms(epoch_s: float) -> str:
    return str(int(epoch_s * 1000))


def _attribute(value: dict[str, str]) -> dict[str, object]:
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


def sqs_record(message: Message, queue: str, region: str, account_id: str) -> dict[str, object]:
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.receive_count),
            "SentTimestamp": _ms(message.sent_at),
            "SenderId": account_id,
            "ApproximateFirstReceiveTimestamp": _ms(message.first_received_at),
        },
        "messageAttributes": {k: _attribute(v) for k, v in message.attributes.items()},
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(region, account_id, queue),
        "awsRegion": region,
    }


def sqs_event(messages: Sequence[Message], queue: str, region: str, account_id: str) -> bytes:
    records = [sqs_record(m, queue, region, account_id) for m in messages]
    return json.dumps({"Records": records}).encode()


def failed_items(payload: bytes, message_ids: Sequence[str]) -> set[str] | None:
    """The message ids a ``ReportBatchItemFailures`` reply names as failed.

    Lambda's rules (DG: with-sqs, "Reporting batch item failures"): an empty or null
    ``batchItemFailures``, an empty or null reply → every message succeeded (an empty set);
    a reply that is not JSON, an item without a non-empty ``itemIdentifier``, or one naming a
    message not in the batch → the whole batch failed (``None``). A JSON reply that is not an
    object (a string, a list) cannot be the response shape: the whole batch failed too.
    """
    try:
        reply = json.loads(payload) if payload.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None
    if reply is None:
        return set()
    if not isinstance(reply, dict):
        return None
    failures = reply.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    known = set(message_ids)
    failed: set[str] = set()
    for item in failures:
        if not isinstance(item, dict):
            return None
        identifier = item.get("itemIdentifier")
        if not isinstance(identifier, str) or identifier not in known:
            return None
        failed.add(identifier)
    return failed
