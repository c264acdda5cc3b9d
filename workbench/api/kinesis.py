"""Kinesis Data Streams' AWS JSON 1.1 protocol on the Lambda API's port, so boto3's ``kinesis``
client works against the workbench's local streams.

botocore speaks JSON to Kinesis: ``POST /`` with ``X-Amz-Target: Kinesis_20131202.<Operation>``
and ``Content-Type: application/x-amz-json-1.1``; blobs (``Data``) are base64 in the JSON,
timestamps epoch seconds. Errors are ``{"__type": code, "message"}`` with status 400, from which
botocore picks the modelled exception (``kinesis.exceptions.ResourceNotFoundException``).

The streams are the engine's ``StreamStore``: what boto3 puts, ``workbench stream`` and kinesis
triggers see. Served: CreateStream, DescribeStream, DescribeStreamSummary, ListStreams,
PutRecord, PutRecords, GetShardIterator, GetRecords, DeleteStream. A shard iterator is an opaque
token naming its stream, shard and position, valid for five minutes, as in Kinesis.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..engine import Engine
from ..engine.model import new_uuid
from ..engine.storage import (
    StreamError,
    StreamInfo,
    StreamNotFound,
    StreamRecord,
    StreamStore,
    sequence_number,
    shard_id,
    shard_index,
    stream_check_name,
)
from ..engine.storage import record_id as _record_id
from .keys import ENGINE

TARGET_PREFIX = "Kinesis_20131202."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_REQUEST_BYTES = 12 * 1024 * 1024  # PutRecords' 10 MiB of records, base64 and JSON around
MAX_PUT_RECORDS = 500  # records per PutRecords (Kinesis's limit)
MAX_PUT_RECORDS_BYTES = 10 * 1024 * 1024  # a PutRecords request's data (Kinesis: 10 MiB)
MAX_GET_RECORDS = 10000
ITERATOR_TTL_S = 300  # a shard iterator expires five minutes after it is returned


class KinesisError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> KinesisError:
    return KinesisError("InvalidArgumentException", message)


def error_response(code: str, message: str) -> web.Response:
    return web.Response(
        body=json.dumps({"__type": code, "message": message}).encode(),
        status=400,
        headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": new_uuid()},
    )


class Call:
    """One Kinesis request: its parameters and the store."""

    def __init__(self, engine: Engine, params: dict[str, Any]) -> None:
        self.engine = engine
        self.params = params
        assert engine.streams is not None
        self.store: StreamStore = engine.streams

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        """A store call on a worker thread: another process's write lock must not stall the
        loop."""
        return asyncio.to_thread(fn, *args, **kwargs)

    def arn(self, name: str) -> str:
        s = self.engine.settings
        return f"arn:aws:kinesis:{s.region}:{s.account_id}:stream/{name}"

    def stream(self) -> str:
        """The stream a request names by ``StreamName`` or ``StreamARN``."""
        name = self.params.get("StreamName")
        arn = self.params.get("StreamARN")
        if name is None and arn is None:
            raise invalid("Either StreamName or StreamARN must be provided.")
        if arn is not None:
            if not isinstance(arn, str) or ":stream/" not in arn:
                raise invalid(f"StreamARN {arn!r} is not a Kinesis stream ARN")
            from_arn = arn.rsplit(":stream/", 1)[1]
            if name is not None and name != from_arn:
                raise invalid("StreamName and StreamARN name different streams")
            if not arn.startswith(self.arn("").removesuffix("stream/")):
                raise StreamNotFound(f"Stream {from_arn} under account not found.")
            name = from_arn
        return stream_check_name(name)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(f"{key} must be an integer from {low} to {high}, got {value!r}")
        return value


def _timestamp(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(f"{key} must be a timestamp (epoch seconds), got {value!r}")
    return float(value)


def _data(entry: dict[str, Any]) -> tuple[bytes, str, str | None]:
    raw = entry.get("Data")
    if not isinstance(raw, str):
        raise invalid("Data is required (base64 in the JSON protocol)")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("Data is not valid base64") from None
    key = entry.get("PartitionKey")
    if not isinstance(key, str):
        # UNVERIFIED: botocore's model no longer marks PartitionKey required; a stream without a
        # record distribution strategy still needs one, as Kinesis always has
        raise invalid("PartitionKey is required: 1 to 256 characters")
    explicit = entry.get("ExplicitHashKey")
    if explicit is not None and not isinstance(explicit, str):
        raise invalid("ExplicitHashKey must be a decimal string")
    return data, key, explicit


def _description(call: Call, info: StreamInfo) -> dict[str, Any]:
    return {
        "StreamName": info.name,
        "StreamARN": call.arn(info.name),
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": info.retention_hours,
        "StreamCreationTimestamp": info.created_at,
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
    }


def _iterator(stream: str, shard: int, after: int) -> str:
    token = {"s": stream, "h": shard, "a": after, "e": time.time() + ITERATOR_TTL_S}
    return base64.b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def _read_iterator(value: object) -> tuple[str, int, int, float]:
    try:
        assert isinstance(value, str)
        token = json.loads(base64.b64decode(value, validate=True))
        return str(token["s"]), int(token["h"]), int(token["a"]), float(token["e"])
    except (AssertionError, ValueError, KeyError, TypeError, binascii.Error):
        raise invalid(f"Invalid ShardIterator: {str(value)[:64]!r}") from None


def _record(r: StreamRecord) -> dict[str, Any]:
    return {
        "SequenceNumber": r.sequence_number,
        "ApproximateArrivalTimestamp": r.arrived_at,
        "Data": base64.b64encode(r.data).decode(),
        "PartitionKey": r.partition_key,
    }


# ----------------------------------------------------------------- operations


async def create_stream(call: Call) -> dict[str, Any]:
    name = stream_check_name(call.params.get("StreamName"))
    mode = (call.params.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    if mode not in ("PROVISIONED", "ON_DEMAND"):
        raise invalid("StreamMode must be PROVISIONED or ON_DEMAND")
    # an on-demand stream starts with 4 shards (DG: how-do-i-size-a-stream, on-demand mode);
    # a provisioned one without ShardCount: UNVERIFIED, Kinesis asks for it; here it gets 1
    default = 4 if mode == "ON_DEMAND" else 1
    shards = call.integer("ShardCount", default, 1, 64)
    await call.run(call.store.create, name, shards)
    return {}


async def describe_stream(call: Call) -> dict[str, Any]:
    info: StreamInfo = await call.run(call.store.get, call.stream())
    first = call.params.get("ExclusiveStartShardId")
    limit = call.integer("Limit", 100, 1, 10000)
    start = 0 if first is None else shard_index(first, info.shard_count) + 1
    chosen = range(start, min(info.shard_count, start + limit))
    shards = []
    for i in chosen:
        low, high = info.shard_range(i)
        shards.append(
            {
                "ShardId": shard_id(i),
                "HashKeyRange": {"StartingHashKey": str(low), "EndingHashKey": str(high)},
                "SequenceNumberRange": {"StartingSequenceNumber": sequence_number(0)},
            }
        )
    description = _description(call, info)
    description["Shards"] = shards
    description["HasMoreShards"] = start + limit < info.shard_count
    return {"StreamDescription": description}


async def describe_stream_summary(call: Call) -> dict[str, Any]:
    info: StreamInfo = await call.run(call.store.get, call.stream())
    summary = _description(call, info)
    summary["OpenShardCount"] = info.shard_count
    summary["ConsumerCount"] = 0
    return {"StreamDescriptionSummary": summary}


async def list_streams(call: Call) -> dict[str, Any]:
    limit = call.integer("Limit", 100, 1, 10000)
    after = call.params.get("ExclusiveStartStreamName")
    infos: list[StreamInfo] = await call.run(call.store.list)
    if after is not None:
        infos = [i for i in infos if i.name > after]
    page = infos[:limit]
    return {
        "StreamNames": [i.name for i in page],
        "HasMoreStreams": len(infos) > limit,
        "StreamSummaries": [
            {
                "StreamName": i.name,
                "StreamARN": call.arn(i.name),
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                "StreamCreationTimestamp": i.created_at,
            }
            for i in page
        ],
    }


async def delete_stream(call: Call) -> dict[str, Any]:
    await call.run(call.store.delete, call.stream())
    return {}


async def put_record(call: Call) -> dict[str, Any]:
    [record] = await call.run(call.store.put, call.stream(), [_data(call.params)])
    return {
        "ShardId": record.shard_id,
        "SequenceNumber": record.sequence_number,
        "EncryptionType": "NONE",
    }


async def put_records(call: Call) -> dict[str, Any]:
    entries = call.params.get("Records")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_PUT_RECORDS:
        raise invalid(f"Records must be a list of 1 to {MAX_PUT_RECORDS} entries")
    if not all(isinstance(e, dict) for e in entries):
        raise invalid("each entry of Records must be an object with Data and PartitionKey")
    checked = [_data(e) for e in entries]
    total = sum(len(d) + len(k.encode()) for d, k, _ in checked)
    if total > MAX_PUT_RECORDS_BYTES:
        raise invalid(
            f"the records are {total} bytes; a PutRecords request may carry at most "
            f"{MAX_PUT_RECORDS_BYTES}"
        )
    records: list[StreamRecord] = await call.run(call.store.put, call.stream(), checked)
    return {
        "FailedRecordCount": 0,
        "Records": [{"SequenceNumber": r.sequence_number, "ShardId": r.shard_id} for r in records],
        "EncryptionType": "NONE",
    }


async def get_shard_iterator(call: Call) -> dict[str, Any]:
    name = call.stream()
    info: StreamInfo = await call.run(call.store.get, name)
    raw_shard = call.params.get("ShardId")
    if not isinstance(raw_shard, str):
        raise invalid("ShardId is required")
    shard = shard_index(raw_shard, info.shard_count)
    kind = call.params.get("ShardIteratorType")
    seq = call.params.get("StartingSequenceNumber")
    if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if seq is None:
            raise invalid(f"StartingSequenceNumber is required with {kind}")
        at = _record_id(seq)
        after = at - 1 if kind == "AT_SEQUENCE_NUMBER" else at
    elif kind == "TRIM_HORIZON":
        after = await call.run(call.store.trim_horizon, name, shard)
    elif kind == "LATEST":
        after = await call.run(call.store.last_id, name, shard)
    elif kind == "AT_TIMESTAMP":
        stamp = _timestamp(call.params.get("Timestamp"), "Timestamp")
        after = await call.run(call.store.last_id, name, shard, stamp)
    else:
        raise invalid(
            "ShardIteratorType must be one of AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, "
            f"TRIM_HORIZON, LATEST, AT_TIMESTAMP; got {kind!r}"
        )
    return {"ShardIterator": _iterator(name, shard, max(after, 0))}


async def get_records(call: Call) -> dict[str, Any]:
    name, shard, after, expires = _read_iterator(call.params.get("ShardIterator"))
    limit = call.integer("Limit", MAX_GET_RECORDS, 1, MAX_GET_RECORDS)
    if time.time() > expires:
        raise KinesisError(
            "ExpiredIteratorException",
            "Iterator expired: a shard iterator is valid for 5 minutes; get a new one with "
            "GetShardIterator",
        )
    await call.run(call.store.get, name)  # a deleted stream: ResourceNotFoundException
    records: list[StreamRecord] = await call.run(call.store.read, name, shard, after, limit)
    last = await call.run(call.store.last_id, name, shard)
    position = records[-1].id if records else after
    behind = 0  # how far the newest record is ahead of this read's last, in milliseconds
    if records and records[-1].id < last:
        newest: list[StreamRecord] = await call.run(call.store.read, name, shard, last - 1, 1)
        if newest:
            behind = int(max(0.0, newest[0].arrived_at - records[-1].arrived_at) * 1000)
    return {
        "Records": [_record(r) for r in records],
        "NextShardIterator": _iterator(name, shard, position),
        "MillisBehindLatest": behind,
    }


OPERATIONS: dict[str, Callable[[Call], Awaitable[dict[str, Any]]]] = {
    "CreateStream": create_stream,
    "DescribeStream": describe_stream,
    "DescribeStreamSummary": describe_stream_summary,
    "ListStreams": list_streams,
    "DeleteStream": delete_stream,
    "PutRecord": put_record,
    "PutRecords": put_records,
    "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
}


async def _read(request: web.Request) -> bytes | None:
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def handle(request: web.Request) -> web.Response:
    """``POST /`` with ``X-Amz-Target: Kinesis_20131202.<Operation>``."""
    operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
    if operation not in OPERATIONS:
        return error_response(
            "UnknownOperationException",
            f"The workbench does not implement Kinesis's {operation}; it serves "
            f"{', '.join(OPERATIONS)}",
        )
    data = await _read(request)
    if data is None:
        return error_response(
            "InvalidArgumentException", f"The request is larger than {MAX_REQUEST_BYTES} bytes"
        )
    try:
        params = json.loads(data or b"{}")
        if not isinstance(params, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        return error_response("SerializationException", f"The request body is not JSON: {e}")
    try:
        result = await OPERATIONS[operation](Call(request.app[ENGINE], params))
    except (StreamError, KinesisError) as e:
        return error_response(e.code, e.message)
    return web.Response(
        body=json.dumps(result).encode(),
        headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": new_uuid()},
    )
