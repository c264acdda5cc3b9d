"""The Kinesis event a stream mapping hands its function, how it reads the partial-batch reply,
and the record its on-failure destination receives.

The event record is ``shapes.kinesis``'s (the same as ``workbench generate-event kinesis
get-records``); here a stored record becomes its values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from ..shapes.kinesis import kinesis_record, stream_arn
from ..storage.streams import StreamRecord

# The conditions of a stream batch's failure record. RetryAttemptsExhausted is Lambda's (DG:
# kinesis-on-failure-destination, and records captured from Lambda); RecordAgeExceeded for
# records past maximum_record_age is UNVERIFIED (no captured record seen).
RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


def kinesis_event(records: Sequence[StreamRecord], region: str, account_id: str) -> bytes:
    return json.dumps(
        {
            "Records": [
                kinesis_record(
                    r.data,
                    partition_key=r.partition_key,
                    sequence_number=r.sequence_number,
                    stream_arn=stream_arn(region, account_id, r.stream),
                    region=region,
                    account=account_id,
                    shard_id=r.shard_id,
                    arrived_at=r.arrived_at,
                )
                for r in records
            ]
        }
    ).encode()


def first_failure(payload: bytes, sequence_numbers: Sequence[str]) -> int | None | bool:
    """Where a ``ReportBatchItemFailures`` reply says the batch failed: the index (in the
    batch) of the lowest sequence number it names; ``None`` when every record succeeded;
    ``False`` when the reply is not a valid response, so the whole batch failed.

    Lambda's rules (DG: kinesis-batchfailurereporting): an empty or null ``batchItemFailures``,
    or an empty or null reply, is a success; an ``itemIdentifier`` that is missing, empty, null
    or not in the batch fails the whole batch; the checkpoint is the lowest sequence number
    named, from which the batch is retried.
    """
    try:
        reply = json.loads(payload) if payload.strip() else None
    except (ValueError, UnicodeDecodeError):
        return False
    if reply is None:
        return None
    if not isinstance(reply, dict):
        return False
    failures = reply.get("batchItemFailures")
    if failures is None:
        return None
    if not isinstance(failures, list):
        return False
    index = {seq: i for i, seq in enumerate(sequence_numbers)}
    lowest: int | None = None
    for item in failures:
        if not isinstance(item, dict):
            return False
        identifier = item.get("itemIdentifier")
        if not isinstance(identifier, str) or identifier not in index:
            return False
        at = index[identifier]
        lowest = at if lowest is None else min(lowest, at)
    return lowest


def _timestamp(epoch_s: float) -> str:
    at = datetime.fromtimestamp(epoch_s, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def failure_record(
    records: Sequence[StreamRecord],
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    at: float,
    region: str,
    account_id: str,
    executed_version: str | None,
    function_error: str | None,
) -> dict[str, object]:
    """Lambda's record of a discarded stream batch: metadata only, never the data (DG:
    kinesis-on-failure-destination). Without ``executed_version`` the function never ran on
    these records (they expired first) and the record has no response context."""
    first, last = records[0], records[-1]
    record: dict[str, object] = {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
    }
    if executed_version is not None:
        context: dict[str, object] = {"statusCode": 200, "executedVersion": executed_version}
        if function_error:
            context["functionError"] = function_error
        record["responseContext"] = context
    record["version"] = "1.0"
    record["timestamp"] = _timestamp(at)
    record["KinesisBatchInfo"] = {
        "shardId": first.shard_id,
        "startSequenceNumber": first.sequence_number,
        "endSequenceNumber": last.sequence_number,
        "approximateArrivalOfFirstRecord": _timestamp(first.arrived_at),
        "approximateArrivalOfLastRecord": _timestamp(last.arrived_at),
        "batchSize": len(records),
        "streamArn": stream_arn(region, account_id, first.stream),
    }
    return record
