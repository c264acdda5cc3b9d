"""Kinesis data stream records (LAMBDA_REFERENCE §8, SAM's ``kinesis/Kinesis.json``)."""

from __future__ import annotations

import time

from .values import b64


def kinesis_record(
    data: bytes,
    *,
    partition_key: str,
    sequence_number: str,
    stream_arn: str,
    region: str,
    account: str,
    shard_id: str = "shardId-000000000000",
    arrived_at: float | None = None,
) -> dict:
    return {
        "kinesis": {
            "partitionKey": partition_key,
            "kinesisSchemaVersion": "1.0",
            "data": b64(data),
            "sequenceNumber": sequence_number,
            "approximateArrivalTimestamp": round(
                time.time() if arrived_at is None else arrived_at, 3
            ),
        },
        "eventSource": "aws:kinesis",
        "eventID": f"{shard_id}:{sequence_number}",
        "invokeIdentityArn": f"arn:aws:iam::{account}:role/lambda-role",
        "eventVersion": "1.0",
        "eventName": "aws:kinesis:record",
        "eventSourceARN": stream_arn,
        "awsRegion": region,
    }


def stream_arn(region: str, account: str, stream: str) -> str:
    return f"arn:aws:kinesis:{region}:{account}:stream/{stream}"
