"""InvokeWithResponseStream, engine side: one invocation whose response is read as it is made.

``await invoke_stream(engine, "fn", payload)`` checks what Invoke checks (``LambdaError`` for a
function that does not exist, a throttle, …), starts the invocation and returns once the
handler has sent its first chunk (or ended): a ``StreamingInvocation``, an async iterator of the
response's chunks, then ``end`` (``ErrorCode``/``ErrorDetails``/``LogResult`` for Lambda's
``InvokeComplete``) and ``result`` (the recorded ``InvokeResult``). The HTTP API's
``response-streaming-invocations`` and function URLs in ``RESPONSE_STREAM`` mode both read it.

A handler that does not stream (it answers in buffered mode) comes through as one chunk, as
Lambda streams a buffered response.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from ..model.errors import LambdaError
from ..runtime import response_stream
from ..runtime.response_stream import ResponseStream, StreamEnd
from .invoker import Invoker, Running, invoker_of
from .results import InvokeResult

log = logging.getLogger("workbench.invoke")


class StreamingInvocation:
    """One streamed invocation: iterate its chunks; then ``end`` and ``result`` are set."""

    def __init__(
        self, call_id: str, version: str, stream: ResponseStream, task: asyncio.Task[InvokeResult]
    ) -> None:
        self.request_id = call_id
        self.executed_version = version
        self.stream = stream
        self._task = task
        self._sent_buffered = False

    @property
    def content_type(self) -> str:
        return self.stream.content_type

    @property
    def end(self) -> StreamEnd | None:
        return self.stream.end

    @property
    def result(self) -> InvokeResult | None:
        task = self._task
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
        return None

    def __aiter__(self) -> StreamingInvocation:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.stream.__anext__()
        except StopAsyncIteration:
            pass
        result = self.result
        if not self._sent_buffered and not self.stream.streamed and result is not None:
            # a buffered answer (or an error before any chunk): its payload is the one chunk
            self._sent_buffered = True
            if not result.function_error and result.payload:
                return result.payload
        raise StopAsyncIteration

    def close(self) -> None:
        """The reader went away: the invocation runs on to its end, nothing more is kept."""
        self.stream.abandon()


def _finish(stream: ResponseStream, task: asyncio.Task[InvokeResult]) -> None:
    """Complete the stream with how the invocation ended (its ``InvokeComplete``)."""
    if task.cancelled():
        stream.complete(StreamEnd("Cancelled", "the invocation was cancelled"))
        return
    error = task.exception()
    if error is not None:
        code = error.code if isinstance(error, LambdaError) else "ServiceException"
        stream.complete(StreamEnd(code, str(error)))
        return
    result = task.result()
    end = StreamEnd(log_tail=result.log_tail())
    if result.function_error:
        end.error_code = result.record.error_type or "Unhandled"
        # UNVERIFIED: Lambda's ErrorDetails for a handler error: the error object's JSON
        end.error_details = result.payload.decode("utf-8", "replace")
    stream.complete(end)


async def invoke_stream(
    engine: Running | Invoker,
    function: str,
    payload: bytes | str | None = None,
    *,
    qualifier: str | None = None,
    client_context: str | None = None,
    trigger: str | None = None,
    limit: int | None = None,
) -> StreamingInvocation:
    """Start a streamed invocation; returns once its first chunk is in (or it ended).
    ``limit``: bytes it may stream (default Lambda's 200 MB)."""
    invoker = invoker_of(engine)
    stream = ResponseStream(limit=response_stream.STREAM_LIMIT if limit is None else limit)
    call = invoker.prepare(
        function, payload, qualifier=qualifier, client_context=client_context, trigger=trigger
    )
    call = replace(call, stream=stream)
    task = asyncio.get_running_loop().create_task(invoker.run(call))
    task.add_done_callback(lambda t: _finish(stream, t))
    started = asyncio.ensure_future(stream.started.wait())
    try:
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        started.cancel()
    if task.done() and not task.cancelled():
        error = task.exception()
        if isinstance(error, LambdaError):
            raise error  # refused before it ran (a throttle): the API's own error
    return StreamingInvocation(call.request_id, call.version, stream, task)
