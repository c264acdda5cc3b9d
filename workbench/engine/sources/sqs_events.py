"""The SQS event a queue mapping hands its function, and how it reads the partial-batch reply.

The record's shape is ``shapes.sqs``'s (the same as ``workbench generate-event sqs
receive-message``); here a stored message becomes its values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..shapes.sqs import queue_arn
from ..shapes.sqs import sqs_record as _shape
from ..storage.queues import Message


def _ms(epoch_s: float) -> int:
    return int(epoch_s * 1000)


def sqs_record(message: Message, queue: str, region: str, account_id: str) -> dict[str, object]:
    record = _shape(
        message_id=message.message_id,
        receipt_handle=message.receipt_handle,
        body=message.body,
        md5_of_body=message.md5_of_body,
        attributes=message.attributes,
        receive_count=message.receive_count,
        sent_ms=_ms(message.sent_at),
        first_received_ms=_ms(message.first_received_at),
        sender_id=account_id,
        queue_arn=queue_arn(region, account_id, queue),
        region=region,
    )
    if message.trace_header is not None:
        # the sender's trace header, as Lambda's SQS event carries it (and its chain's lineage)
        attributes = record["attributes"]
        assert isinstance(attributes, dict)
        attributes["AWSTraceHeader"] = message.trace_header
    if message.sequence_number is not None:
        # a FIFO queue's record carries the message's order and group, as Lambda's does
        # (DG: with-sqs, the FIFO example event)
        fifo = {
            "SequenceNumber": message.sequence_number,
            "MessageGroupId": message.group_id,
            "MessageDeduplicationId": message.dedup_id,
        }
        attributes = record["attributes"]
        assert isinstance(attributes, dict)
        attributes.update({k: v for k, v in fifo.items() if v is not None})
    return record


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
