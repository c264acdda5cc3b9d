"""SQS's AWS JSON 1.0 protocol on the Lambda API's port, so boto3's ``sqs`` client works.

botocore (1.44) speaks JSON to SQS: ``POST /`` with ``X-Amz-Target: AmazonSQS.<Operation>``
and ``Content-Type: application/x-amz-json-1.0``. Errors are ``{"__type", "message"}`` with the
``x-amzn-query-error: <query code>;Sender`` header, from which botocore picks the modelled
exception (``sqs.exceptions.QueueDoesNotExist``) and the legacy code (``Error.Code`` is
``AWS.SimpleQueueService.NonExistentQueue``, as with real SQS).

The queues are the engine's ``QueueStore``: what boto3 sends, the CLI and queue triggers see.
A queue URL is ``http://<host:port>/<account id>/<name>``; one naming another account is a
queue that does not exist here. FIFO queues (``FifoQueue``, ``.fifo`` names) are the store's
(ordering per group, deduplication, no per-message delay); ``SetQueueAttributes`` and the tag
operations change the stored queue. Every reply carries ``x-amzn-RequestId``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ..engine import Engine
from ..engine.model import new_uuid
from ..engine.sources import queue_arn
from ..engine.storage import (
    MAX_MESSAGE_BYTES,
    Message,
    QueueError,
    QueueInfo,
    QueueNotFound,
    QueueStore,
    check_name,
    md5_of_attributes,
)
from .keys import ENGINE

CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_WAIT_SECONDS = 20
POLL_INTERVAL_S = 0.1  # long polling also looks for other processes' sends this often
# The query protocol's codes, which boto3 reports as Error.Code (x-amzn-query-error).
QUERY_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
}
# Attributes CreateQueue and SetQueueAttributes accept (FifoQueue: CreateQueue only). Applied:
# VisibilityTimeout, RedrivePolicy, DelaySeconds, MaximumMessageSize,
# ReceiveMessageWaitTimeSeconds, FifoQueue, ContentBasedDeduplication, DeduplicationScope; kept
# and returned, without effect here: MessageRetentionPeriod (messages are kept until deleted),
# Policy, the KMS and SSE settings, FifoThroughputLimit, RedriveAllowPolicy.
CREATE_ATTRIBUTES = (
    "VisibilityTimeout",
    "RedrivePolicy",
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "Policy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
)
QUEUE_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "VisibilityTimeout",
    "QueueArn",
    "RedrivePolicy",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "Policy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
)
# the queue's own attributes GetQueueAttributes shows (beyond the counts, ARN and times)
_SHOWN = (
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "RedriveAllowPolicy",
)
# JSON-escaped bodies can be larger than the 1 MiB they carry; past this, refuse unread
MAX_REQUEST_BYTES = 4 * MAX_MESSAGE_BYTES
BATCH_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,80}")
INTEGER_RE = re.compile(r"-?[0-9]{1,18}")  # an integer parameter sent as a string


class SqsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_response(code: str, message: str, status: int = 400) -> web.Response:
    query = QUERY_CODES.get(code, code)
    return web.Response(
        body=json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message}).encode(),
        status=status,
        headers={
            "x-amzn-query-error": f"{query};Sender",
            "Content-Type": CONTENT_TYPE,
            "x-amzn-RequestId": new_uuid(),
        },
    )


Operation = Callable[["Call"], Awaitable[dict[str, Any]]]


class Call:
    """One SQS request: its parameters, the store, and how to address a queue."""

    def __init__(self, request: web.Request, engine: Engine, params: dict[str, Any]) -> None:
        self.request = request
        self.engine = engine
        self.params = params
        assert engine.queues is not None
        self.store: QueueStore = engine.queues

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        """A store call on a worker thread: another process holding the write lock must not
        stall the loop."""
        return asyncio.to_thread(fn, *args, **kwargs)

    def url(self, name: str) -> str:
        return f"http://{self.request.host}/{self.engine.settings.account_id}/{name}"

    def arn(self, name: str) -> str:
        s = self.engine.settings
        return queue_arn(s.region, s.account_id, name)

    def required(self, key: str) -> Any:
        value = self.params.get(key)
        if value is None or value == "":
            raise SqsError("MissingParameter", f"The request must contain the parameter {key}.")
        return value

    def queue(self) -> str:
        """The queue a QueueUrl names (its last path segment)."""
        url = self.required("QueueUrl")
        if not isinstance(url, str):
            raise SqsError("InvalidAddress", "QueueUrl must be a string")
        parts = url.rstrip("/").rsplit("/", 2)
        name = parts[-1]
        account = parts[-2] if len(parts) == 3 else None
        if account is not None and account.isdigit() and account != self.account:
            # another account's queue: none of those is here (SQS's answer for a queue the
            # caller may not see is this one too, UNVERIFIED)
            raise QueueNotFound("The specified queue does not exist.")
        if not self.store.exists(name):
            raise QueueNotFound("The specified queue does not exist.")
        return name

    @property
    def account(self) -> str:
        return self.engine.settings.account_id

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        value = self.params.get(key, default)
        if value is None:
            return None
        if isinstance(value, str) and INTEGER_RE.fullmatch(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SqsError(
                "InvalidParameterValue",
                f"Value {value} for parameter {key} is invalid. Reason: must be between "
                f"{low} and {high}.",
            )
        return value


# ----------------------------------------------------------------------------- queues


def _redrive(call: Call, text: object) -> tuple[str, int]:
    try:
        policy: Any = json.loads(text) if isinstance(text, str) else None  # None: TypeError
        target = policy["deadLetterTargetArn"]
        count = int(policy["maxReceiveCount"])
        assert isinstance(target, str) and target.startswith("arn:aws:sqs:")
    except (ValueError, TypeError, KeyError, AssertionError, RecursionError):
        raise SqsError(
            "InvalidAttributeValue",
            "Invalid value for the parameter RedrivePolicy: a JSON object "
            '{"deadLetterTargetArn": "arn:aws:sqs:<region>:<account>:<queue>", '
            '"maxReceiveCount": N}',
        ) from None
    return target.rsplit(":", 1)[-1], count


def _fifo(attributes: dict[str, Any]) -> bool:
    value = attributes.get("FifoQueue", "false")
    text = str(value).lower() if isinstance(value, bool) else value
    if text not in ("true", "false"):
        raise SqsError("InvalidAttributeValue", "Invalid value for the parameter FifoQueue.")
    return text == "true"


def _visibility(attributes: dict[str, Any]) -> int | None:
    if "VisibilityTimeout" not in attributes:
        return None
    value = attributes["VisibilityTimeout"]
    if isinstance(value, str) and INTEGER_RE.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 43200:
        raise SqsError(
            "InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout."
        )
    return value


def _others(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes beyond the store's columns (the store checks them)."""
    skip = ("VisibilityTimeout", "RedrivePolicy", "FifoQueue")
    return {k: v for k, v in attributes.items() if k not in skip}


def _attribute_map(call: Call) -> dict[str, Any]:
    attributes = call.params.get("Attributes") or {}
    if not isinstance(attributes, dict):
        raise SqsError("InvalidParameterValue", "Attributes must be a map of name to value")
    return attributes


async def create_queue(call: Call) -> dict[str, Any]:
    name = call.required("QueueName")
    attributes = _attribute_map(call)
    for key in attributes:
        if key not in CREATE_ATTRIBUTES:
            raise SqsError("InvalidAttributeName", f"Unknown Attribute {key}.")
    vt = _visibility(attributes)
    dlq, count = (None, None)
    if attributes.get("RedrivePolicy"):
        dlq, count = _redrive(call, attributes["RedrivePolicy"])
    tags = call.params.get("tags") or {}
    if not isinstance(tags, dict):
        raise SqsError("InvalidParameterValue", "tags must be a map of key to value")
    await call.run(
        call.store.create,
        name,
        30 if vt is None else vt,
        dlq,
        count,
        fifo=_fifo(attributes),
        attributes=_others(attributes),
        tags=tags,
    )
    return {"QueueUrl": call.url(name)}


async def get_queue_url(call: Call) -> dict[str, Any]:
    name = call.required("QueueName")
    if not isinstance(name, str) or not await call.run(call.store.exists, name):
        raise QueueNotFound("The specified queue does not exist.")
    return {"QueueUrl": call.url(name)}


async def list_queues(call: Call) -> dict[str, Any]:
    prefix = call.params.get("QueueNamePrefix") or ""
    limit = call.integer("MaxResults", None, 1, 1000)
    after = call.params.get("NextToken")
    names = [q.name for q in await call.run(call.store.list) if q.name.startswith(prefix)]
    if after:
        names = [n for n in names if n > after]
    out: dict[str, Any] = {}
    if limit is not None and len(names) > limit:
        names = names[:limit]
        out["NextToken"] = names[-1]
    if names:
        out["QueueUrls"] = [call.url(n) for n in names]
    return out


async def delete_queue(call: Call) -> dict[str, Any]:
    await call.run(call.store.delete, call.queue())
    return {}


def _attributes(call: Call, info: QueueInfo) -> dict[str, str]:
    values = {
        "ApproximateNumberOfMessages": str(info.depth),
        "ApproximateNumberOfMessagesNotVisible": str(info.in_flight),
        "ApproximateNumberOfMessagesDelayed": str(info.delayed),
        "VisibilityTimeout": str(info.visibility_timeout),
        "QueueArn": call.arn(info.name),
        "CreatedTimestamp": str(int(info.created_at)),
        "LastModifiedTimestamp": str(int(info.modified_at or info.created_at)),
    }
    for key in _SHOWN:
        value = info.attribute(key)
        if value is not None:
            values[key] = value
    if info.fifo:
        values["FifoQueue"] = "true"
    if info.dead_letter_queue is not None:
        policy = {
            "deadLetterTargetArn": call.arn(info.dead_letter_queue),
            "maxReceiveCount": info.max_receive_count,
        }
        values["RedrivePolicy"] = json.dumps(policy)
    return values


async def get_queue_attributes(call: Call) -> dict[str, Any]:
    name = call.queue()
    wanted = call.params.get("AttributeNames") or []
    for key in wanted:
        if key != "All" and key not in QUEUE_ATTRIBUTES:
            raise SqsError("InvalidAttributeName", f"Unknown Attribute {key}.")
    values = _attributes(call, await call.run(call.store.get, name))
    if "All" not in wanted:
        values = {k: v for k, v in values.items() if k in wanted}
    return {"Attributes": values} if values else {}


async def set_queue_attributes(call: Call) -> dict[str, Any]:
    name = call.queue()
    attributes = _attribute_map(call)
    for key in attributes:
        if key not in CREATE_ATTRIBUTES or key == "FifoQueue":
            # a queue's type is fixed when it is created (SQS's answer UNVERIFIED)
            raise SqsError("InvalidAttributeName", f"Unknown Attribute {key}.")
    redrive: tuple[str, int] | None | bool = False
    if "RedrivePolicy" in attributes:
        text = attributes["RedrivePolicy"]
        redrive = _redrive(call, text) if text else None  # "": remove the redrive policy
    await call.run(
        call.store.set_attributes,
        name,
        _others(attributes),
        visibility_timeout=_visibility(attributes),
        redrive=redrive,
    )
    return {}


async def tag_queue(call: Call) -> dict[str, Any]:
    name = call.queue()
    tags = call.required("Tags")
    if not isinstance(tags, dict):
        raise SqsError("InvalidParameterValue", "Tags must be a map of key to value")
    await call.run(call.store.tag, name, tags)
    return {}


async def untag_queue(call: Call) -> dict[str, Any]:
    name = call.queue()
    keys = call.required("TagKeys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise SqsError("InvalidParameterValue", "TagKeys must be a list of tag keys")
    await call.run(call.store.untag, name, keys)
    return {}


async def list_queue_tags(call: Call) -> dict[str, Any]:
    info = await call.run(call.store.settings, call.queue())
    # no tags: no Tags member, as the query protocol's reply had none (UNVERIFIED for JSON)
    return {"Tags": info.tags} if info.tags else {}


# ----------------------------------------------------------------------------- messages


def _trace_header(call: Call, entry: dict[str, Any]) -> str | None:
    """SQS's ``AWSTraceHeader``: the entry's ``MessageSystemAttributes`` one, else the request's
    ``X-Amzn-Trace-Id`` (which the SDKs send from a handler's ``_X_AMZN_TRACE_ID``, percent-
    encoded: botocore's ``add_recursion_detection_header``)."""
    system = entry.get("MessageSystemAttributes")
    if isinstance(system, dict):
        given = system.get("AWSTraceHeader")
        if isinstance(given, dict) and isinstance(given.get("StringValue"), str):
            return str(given["StringValue"])
    header = call.request.headers.get("X-Amzn-Trace-Id")
    return unquote(header) if header else None


async def _send(call: Call, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    body = entry.get("MessageBody")
    if body is None or body == "":
        raise SqsError("MissingParameter", "The request must contain the parameter MessageBody.")
    delay = entry.get("DelaySeconds")  # absent: the queue's DelaySeconds
    if isinstance(delay, str) and INTEGER_RE.fullmatch(delay):
        delay = int(delay)
    sent = await call.run(
        call.store.put,
        name,
        body,
        entry.get("MessageAttributes"),
        delay,
        group_id=entry.get("MessageGroupId"),
        dedup_id=entry.get("MessageDeduplicationId"),
        trace_header=_trace_header(call, entry),
    )
    out = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_attributes is not None:
        out["MD5OfMessageAttributes"] = sent.md5_of_attributes
    if sent.sequence_number is not None:
        out["SequenceNumber"] = sent.sequence_number
    return out


async def send_message(call: Call) -> dict[str, Any]:
    return await _send(call, call.queue(), call.params)


def _entries(call: Call) -> list[dict[str, Any]]:
    entries = call.params.get("Entries")
    if not entries:
        raise SqsError("EmptyBatchRequest", "There should be at least one entry in the request.")
    if len(entries) > 10:
        raise SqsError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are 10. You have sent {len(entries)}.",
        )
    ids = [e.get("Id") for e in entries]
    for entry_id in ids:
        if not isinstance(entry_id, str) or not BATCH_ID_RE.fullmatch(entry_id):
            raise SqsError(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long.",
            )
    if len(set(ids)) != len(ids):
        raise SqsError("BatchEntryIdsNotDistinct", "Two or more batch entries have the same Id.")
    return entries


def _failure(entry_id: str, e: QueueError | SqsError) -> dict[str, Any]:
    code = QUERY_CODES.get(e.code, e.code)
    return {"Id": entry_id, "SenderFault": True, "Code": code, "Message": e.message}


async def send_message_batch(call: Call) -> dict[str, Any]:
    name = call.queue()
    entries = _entries(call)
    total = sum(len(str(e.get("MessageBody", "")).encode()) for e in entries)
    if total > MAX_MESSAGE_BYTES:
        raise SqsError(
            "BatchRequestTooLong",
            f"Batch requests cannot be longer than {MAX_MESSAGE_BYTES} bytes. You have sent "
            f"{total} bytes.",
        )
    successful, failed = [], []
    for entry in entries:
        try:
            successful.append({"Id": entry["Id"], **await _send(call, name, entry)})
        except (QueueError, SqsError) as e:
            failed.append(_failure(entry["Id"], e))
    return {"Successful": successful, "Failed": failed}


def _wanted(names: list[str] | None) -> Callable[[str], bool]:
    chosen = set(names or [])
    if {"All", ".*"} & chosen:
        return lambda _name: True
    prefixes = tuple(n[:-2] for n in chosen if n.endswith(".*"))
    return lambda name: name in chosen or (bool(prefixes) and name.startswith(prefixes))


def _message(call: Call, m: Message, system: Callable[[str], bool], user: Callable) -> dict:
    out: dict[str, Any] = {
        "MessageId": m.message_id,
        "ReceiptHandle": m.receipt_handle,
        "MD5OfBody": m.md5_of_body,
        "Body": m.body,
    }
    values = {
        "SenderId": call.engine.settings.account_id,
        "SentTimestamp": str(int(m.sent_at * 1000)),
        "ApproximateReceiveCount": str(m.receive_count),
        "ApproximateFirstReceiveTimestamp": str(int(m.first_received_at * 1000)),
    }
    fifo = {
        "SequenceNumber": m.sequence_number,
        "MessageGroupId": m.group_id,
        "MessageDeduplicationId": m.dedup_id,
    }
    values.update({k: v for k, v in fifo.items() if v is not None})
    if m.trace_header is not None:
        values["AWSTraceHeader"] = m.trace_header
    attributes = {k: v for k, v in values.items() if system(k)}
    if attributes:
        out["Attributes"] = attributes
    chosen = {k: v for k, v in m.attributes.items() if user(k)}
    if chosen:
        out["MessageAttributes"] = chosen
        out["MD5OfMessageAttributes"] = md5_of_attributes(chosen)
    return out


async def receive_message(call: Call) -> dict[str, Any]:
    name = call.queue()
    count = call.integer("MaxNumberOfMessages", 1, 1, 10)
    vt = call.integer("VisibilityTimeout", None, 0, 43200)
    wait = call.integer("WaitTimeSeconds", None, 0, MAX_WAIT_SECONDS)
    if wait is None:  # the queue's ReceiveMessageWaitTimeSeconds
        queue = await call.run(call.store.settings, name)
        wait = queue.number("ReceiveMessageWaitTimeSeconds")
    system = _wanted(
        [*(call.params.get("MessageSystemAttributeNames") or []),
         *(call.params.get("AttributeNames") or [])]
    )  # fmt: skip
    user = _wanted(call.params.get("MessageAttributeNames"))
    loop = asyncio.get_running_loop()
    arrived = asyncio.Event()

    def on_send(queue: str) -> None:
        if queue == name:
            try:
                loop.call_soon_threadsafe(arrived.set)
            except RuntimeError:
                pass

    unlisten = call.store.add_listener(on_send)
    deadline = time.monotonic() + (wait or 0)
    try:
        while True:
            arrived.clear()
            messages = await call.run(call.store.receive, name, count, vt)
            left = deadline - time.monotonic()
            if messages or left <= 0:
                break
            try:
                await asyncio.wait_for(arrived.wait(), min(POLL_INTERVAL_S, left))
            except TimeoutError:
                pass
    finally:
        unlisten()
    if not messages:
        return {}
    return {"Messages": [_message(call, m, system, user) for m in messages]}


async def delete_message(call: Call) -> dict[str, Any]:
    name = call.queue()
    await call.run(call.store.delete_message, name, call.required("ReceiptHandle"))
    return {}


async def delete_message_batch(call: Call) -> dict[str, Any]:
    name = call.queue()
    successful, failed = [], []
    for entry in _entries(call):
        try:
            await call.run(call.store.delete_message, name, entry.get("ReceiptHandle"))
            successful.append({"Id": entry["Id"]})
        except QueueError as e:
            failed.append(_failure(entry["Id"], e))
    return {"Successful": successful, "Failed": failed}


async def change_message_visibility(call: Call) -> dict[str, Any]:
    name = call.queue()
    handle = call.required("ReceiptHandle")
    vt = call.integer("VisibilityTimeout", None, 0, 43200)
    if vt is None:
        raise SqsError(
            "MissingParameter", "The request must contain the parameter VisibilityTimeout."
        )
    await call.run(call.store.change_visibility, name, handle, vt)
    return {}


async def purge_queue(call: Call) -> dict[str, Any]:
    await call.run(call.store.purge, call.queue())
    return {}


OPERATIONS: dict[str, Operation] = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "PurgeQueue": purge_queue,
    "SetQueueAttributes": set_queue_attributes,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
}


async def _read(request: web.Request) -> bytes | None:
    """The body, or None past ``MAX_REQUEST_BYTES`` (the app's 1 MiB control-plane limit is
    too small for a 1 MiB message in its JSON envelope)."""
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def handle(request: web.Request) -> web.Response:
    """``POST /``: one SQS operation, named by ``X-Amz-Target``."""
    target = request.headers.get("X-Amz-Target", "")
    service, _, operation = target.partition(".")
    if service != "AmazonSQS" or operation not in OPERATIONS:
        return error_response(
            "UnsupportedOperation",
            f"The workbench does not implement {target or 'this request (no X-Amz-Target)'}; "
            f"it serves SQS's {', '.join(OPERATIONS)}",
        )
    data = await _read(request)
    if data is None:
        return error_response(
            "InvalidParameterValue",
            f"The request is larger than {MAX_REQUEST_BYTES} bytes; a message must be at most "
            f"{MAX_MESSAGE_BYTES} bytes",
        )
    try:
        params = json.loads(data or b"{}")
        if not isinstance(params, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as e:
        return error_response("SerializationException", f"The request body is not JSON: {e}")
    except RecursionError:
        # SQS's wording for JSON nested too deeply UNVERIFIED; its code is the one for a body
        # that does not parse
        return error_response(
            "SerializationException",
            "The request body is not JSON the service can read: arrays and objects nest too deeply",
        )
    call = Call(request, request.app[ENGINE], params)
    try:
        if "QueueName" in params:
            check_name(params["QueueName"])
        result = await OPERATIONS[operation](call)
    except QueueError as e:
        return error_response(e.code, e.message)
    except SqsError as e:
        return error_response(e.code, e.message)
    return web.Response(
        body=json.dumps(result).encode(),
        headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": new_uuid()},
    )
