"""On-success and on-failure destinations: Lambda's invocation record, and its delivery.

The record is exactly the one Lambda sends (LAMBDA_REFERENCE §7). ``function:NAME`` gets it as
an Event invocation (trigger ``destination:<source>``); ``queue:NAME`` as a message on a local
queue, created if it does not exist. A destination that cannot take it is logged; the
dispatcher goes on.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..model.errors import LambdaError

if TYPE_CHECKING:
    from .host import SourceHost

log = logging.getLogger("workbench.async")

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
# UNVERIFIED: the condition Lambda writes when recursive loop detection stopped the event
RECURSIVE_LOOP = "RecursiveInvocationException"
ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"  # LocalStack's; Lambda's own is a DLQ


def _timestamp(epoch_s: float) -> str:
    at = datetime.fromtimestamp(epoch_s, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _json_or_text(data: bytes | None) -> object:
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    request_payload: bytes,
    at: float,
    executed_version: str | None = None,
    response_payload: bytes | None = None,
    function_error: str | None = None,
) -> dict[str, object]:
    """Lambda's destination record; without ``executed_version`` it has no response fields
    (the function never ran: zero reserved concurrency, or too old before a first attempt)."""
    record: dict[str, object] = {
        "version": "1.0",
        "timestamp": _timestamp(at),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(request_payload),
    }
    if executed_version is not None:
        context: dict[str, object] = {"statusCode": 200, "executedVersion": executed_version}
        if function_error:
            context["functionError"] = function_error
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(response_payload)
    return record


def deliver(engine: SourceHost, target: str, record: dict[str, object], source: str) -> bool:
    """Send ``record`` to ``function:NAME`` or ``queue:NAME``; whether it got there."""
    kind, _, name = target.partition(":")
    data = json.dumps(record, separators=(",", ":"))
    try:
        if kind == "function":
            engine.invoke_event(name, data, trigger=f"destination:{source}")
            return True
        if kind == "queue":
            queues = getattr(engine, "queues", None)
            if queues is None:
                raise LambdaError("local queues are not available in this workbench")
            if name.endswith(".fifo"):
                # Lambda sends records to standard queues only; to a FIFO queue the delivery
                # fails (DestinationDeliveryFailures; DG: invocation-async-retain-records)
                raise LambdaError(
                    f"{name} is a FIFO queue: Lambda delivers invocation records to standard "
                    "queues only, so nothing was sent; name a standard queue"
                )
            queues.ensure(name)
            queues.send(name, data)
            return True
        raise LambdaError(f'unknown destination type {kind!r}: "function:NAME" or "queue:NAME"')
    except LambdaError as e:
        log.warning("destination %s of %s not delivered: %s", target, source, e.message)
    except Exception as e:  # noqa: BLE001 - a destination's trouble never stops the dispatcher
        log.warning("destination %s of %s not delivered: %s", target, source, e)
    return False
