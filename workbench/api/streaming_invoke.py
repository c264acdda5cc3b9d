"""``POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations``: Lambda's
InvokeWithResponseStream.

The answer is ``application/vnd.amazon.eventstream`` (``eventstream.py``): one ``PayloadChunk``
per chunk the handler sent, written as it arrives so boto3's ``EventStream`` reads it while the
handler still runs, then ``InvokeComplete`` (``ErrorCode``/``ErrorDetails`` when it failed,
``LogResult`` with ``X-Amz-Log-Type: Tail``). Refusals before it runs (no such function, a
throttle) are the ordinary JSON errors, as for Invoke.
"""

from __future__ import annotations

from aiohttp import web

from ..engine import Engine, invoke_stream
from . import eventstream
from .invoke import read_invoke
from .keys import ENGINE

INVOCATION_TYPES = ("RequestResponse", "DryRun")


async def invoke_with_response_stream(request: web.Request) -> web.StreamResponse:
    engine: Engine = request.app[ENGINE]
    asked = await read_invoke(request, INVOCATION_TYPES)
    log_type = asked.log_type
    if asked.kind == "DryRun":
        engine.dry_run(asked.function, asked.qualifier)
        return web.Response(status=204)
    call = await invoke_stream(
        engine,
        asked.function,
        asked.body,
        qualifier=asked.qualifier,
        client_context=asked.context,
        trigger="api",
    )
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": eventstream.CONTENT_TYPE,
            "X-Amz-Executed-Version": call.executed_version,
            "x-amzn-RequestId": call.request_id,
        },
    )
    try:
        await response.prepare(request)
        async for chunk in call:
            await response.write(eventstream.payload_chunk(chunk))
        end = call.end
        if end is not None:
            await response.write(
                eventstream.invoke_complete(
                    end.error_code,
                    end.error_details,
                    end.log_tail if log_type == "Tail" else None,
                )
            )
        await response.write_eof()
    finally:
        call.close()  # a reader gone mid-way: the invocation runs to its end, unread
    return response
