"""DynamoDB stream records (LAMBDA_REFERENCE §8, SAM's ``dynamodb/DynamoDBUpdate.json``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

from .values import random_hex

StreamEventName = Literal["INSERT", "MODIFY", "REMOVE"]
Image = Mapping[str, Mapping[str, object]]  # attribute → {type: value}, e.g. {"N": "101"}


def attribute_bytes(image: Image | None) -> int:
    """Attribute names plus values, the way SAM's sample counts ``SizeBytes``."""
    return sum(
        len(name.encode()) + len(str(value).encode())
        for name, typed in (image or {}).items()
        for value in typed.values()
    )


def dynamodb_record(
    event_name: StreamEventName,
    keys: Image,
    new: Image | None,
    old: Image | None,
    *,
    sequence_number: str,
    region: str,
    stream_arn: str,
) -> dict:
    """One change, with both images (a NEW_AND_OLD_IMAGES stream): an INSERT has no old image,
    a REMOVE no new one."""
    change: dict = {"Keys": keys}
    if new is not None:
        change["NewImage"] = new
    if old is not None:
        change["OldImage"] = old
    change["ApproximateCreationDateTime"] = int(time.time())
    change["SequenceNumber"] = sequence_number
    change["SizeBytes"] = sum(map(attribute_bytes, (keys, new, old)))
    change["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    return {
        "eventID": random_hex(32),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }
