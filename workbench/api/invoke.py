"""``POST /2015-03-31/functions/{FunctionName}/invocations``: Lambda's Invoke, exactly.

boto3 percent-encodes the name (``%3A`` for ``:``), sends the payload as the raw body with no
Content-Type, the qualifier as ``?Qualifier=``, and the options as ``X-Amz-*`` headers
(LAMBDA_REFERENCE §3). A function error still answers 200, flagged by ``X-Amz-Function-Error``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from aiohttp import web

from ..engine import Answer, Engine, invoke_answer_first
from ..engine.model import InvalidRequestContent, ValidationError, check_payload_size, payload_limit
from . import validation
from .keys import ENGINE

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
MAX_CLIENT_CONTEXT = 3583  # bytes of base64 (LAMBDA_REFERENCE §3)
# An oversized body is read to its end, so the client sees the 413 rather than a reset, but
# not forever: past this much the connection is closed instead.
DRAIN_LIMIT = 64 * 1024 * 1024


async def read_body(request: web.Request, event: bool) -> bytes:
    """The request body, refused with Lambda's 413 past the limit without being kept whole."""
    limit = payload_limit(event)
    declared = request.content_length
    content = request.content
    if declared is not None and declared <= limit:
        return await content.readexactly(declared) if declared else b""
    chunks: list[bytes] = []
    size = 0
    while size <= DRAIN_LIMIT:
        chunk = await content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        else:
            chunks.clear()  # over the limit: keep reading, keep nothing
    if size > limit:
        if size > DRAIN_LIMIT:
            if request.transport is not None:
                request.transport.close()
        check_payload_size(max(size, declared or 0), event)
    return b"".join(chunks)


def client_context(header: str | None) -> str | None:
    """``X-Amz-Client-Context``: base64 of JSON, handed to the runtime decoded."""
    if header is None or header == "":
        return None
    if len(header) > MAX_CLIENT_CONTEXT:
        raise ValidationError.constraint(
            "...",
            "clientContext",
            f"Member must have length less than or equal to {MAX_CLIENT_CONTEXT}",
        )
    try:
        return base64.b64decode(header, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        # wording UNVERIFIED: Lambda's code for a client context it cannot decode
        raise InvalidRequestContent(
            "Client context must be a valid Base64-encoded JSON object."
        ) from None


def _choice(value: str, accepted: tuple[str, ...], field: str) -> str:
    if value not in accepted:
        raise ValidationError.constraint(
            value, field, f"Member must satisfy enum value set: [{', '.join(accepted)}]"
        )
    return value


@dataclass(frozen=True, slots=True)
class InvokeRequest:
    """An Invoke's (or InvokeWithResponseStream's) parameters, checked, and its payload."""

    function: str
    qualifier: str | None
    kind: str  # X-Amz-Invocation-Type
    log_type: str  # X-Amz-Log-Type
    context: str | None  # X-Amz-Client-Context, decoded
    body: bytes


async def read_invoke(request: web.Request, kinds: tuple[str, ...]) -> InvokeRequest:
    """The request's parameters as Lambda checks them (``kinds``: the invocation types this
    operation takes), and its payload (an ``Event``'s within the async limit)."""
    headers = request.headers
    function = validation.function_name(request.match_info["function"], namespaced=True)
    qualifier = validation.qualifier(request.query.get("Qualifier") or None)
    kind = _choice(headers.get("X-Amz-Invocation-Type", "RequestResponse"), kinds, "invocationType")
    log_type = _choice(headers.get("X-Amz-Log-Type", "None"), LOG_TYPES, "logType")
    context = client_context(headers.get("X-Amz-Client-Context"))
    body = await read_body(request, kind == "Event")
    return InvokeRequest(function, qualifier, kind, log_type, context, body)


async def invoke(request: web.Request) -> web.Response:
    engine: Engine = request.app[ENGINE]
    asked = await read_invoke(request, INVOCATION_TYPES)
    function, qualifier = asked.function, asked.qualifier
    if asked.kind == "DryRun":
        engine.dry_run(function, qualifier)
        return web.Response(status=204)
    if asked.kind == "Event":
        request_id = engine.invoke_event(function, asked.body, qualifier=qualifier, trigger="api")
        return web.Response(status=202, headers={"x-amzn-RequestId": request_id})
    if asked.log_type == "Tail":  # the log's tail ends with REPORT: the whole invocation
        # (UNVERIFIED: whether Lambda waits for extensions to send LogType Tail's log)
        whole = await engine.invoke(
            function, asked.body, qualifier=qualifier, client_context=asked.context, trigger="api"
        )
        answer = Answer(whole.record.request_id, whole.executed_version, whole.payload, whole)
    else:  # answered when the runtime answers, as Lambda does (extensions may run on)
        answer = await invoke_answer_first(
            engine, function, asked.body, qualifier=qualifier, client_context=asked.context,
            trigger="api",
        )  # fmt: skip
    out = {
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": answer.executed_version,
        "x-amzn-RequestId": answer.request_id,
    }
    result = answer.result
    if result is not None and result.function_error:
        out["X-Amz-Function-Error"] = result.function_error
    if result is not None and asked.log_type == "Tail":
        out["X-Amz-Log-Result"] = result.log_tail()
    return web.Response(body=answer.payload, headers=out)
