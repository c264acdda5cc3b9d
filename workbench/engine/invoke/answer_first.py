"""A synchronous Invoke answered as soon as the runtime has answered, as Lambda does.

With external extensions, an invocation ends only once every extension has asked for its next
event (their post-invocation work: flushing telemetry, …), and its Duration counts that time;
the caller does not wait for it: AWS's docs have extensions "continue to run after the function
invocation is fully processed", and count that time apart (the PostRuntimeExtensionsDuration
metric, the Telemetry API's ``platform.runtimeDone`` before ``platform.report``). UNVERIFIED:
the exact moment Lambda's frontend replies (taken here: when the runtime posts its response).

``await invoke_answer_first(engine, "fn", payload)`` runs the invocation in its own task and
returns an ``Answer`` with the runtime's response as soon as there is one (``result`` None: the
invocation runs on and is recorded when it ends), or the whole ``InvokeResult`` when the
invocation ended first (an error, a timeout, or no extension to wait for).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass

from .invoker import Invoker, Running, invoker_of
from .results import InvokeResult

log = logging.getLogger("workbench.invoke")


@dataclass(frozen=True, slots=True)
class Answer:
    request_id: str
    executed_version: str
    payload: bytes  # the function's response (``result.payload`` once it has ended)
    result: InvokeResult | None  # None: the extensions still run; the record comes later


async def invoke_answer_first(
    engine: Running | Invoker,
    function: str,
    payload: bytes | str | None = None,
    *,
    qualifier: str | None = None,
    client_context: str | None = None,
    trigger: str | None = None,
) -> Answer:
    """Run ``function``; the answer once the runtime has answered (``LambdaError`` for what the
    Invoke API refuses, as ``Engine.invoke``)."""
    invoker = invoker_of(engine)
    loop = asyncio.get_running_loop()
    # one future for whichever comes first: the runtime's answer (set by the environment) or
    # the invocation's end (set by the task's callback); cheaper than asyncio.wait on both
    first: asyncio.Future[bytes] = loop.create_future()
    call = invoker.prepare(
        function,
        payload,
        qualifier=qualifier,
        client_context=client_context,
        trigger=trigger,
        answered=first,
    )
    task = loop.create_task(invoker.run(call))
    task.add_done_callback(functools.partial(_ended, first))
    await first  # (cancelled, it cancels ``first`` alone: the invocation runs on and is recorded)
    if task.done():
        result = task.result()  # (raises what the Invoke API refuses)
        return Answer(call.request_id, call.version, result.payload, result)
    return Answer(call.request_id, call.version, first.result(), None)


def _ended(first: asyncio.Future[bytes], task: asyncio.Task[InvokeResult]) -> None:
    """The invocation ended: wake its caller if the runtime's answer has not; an exception of
    a task that ended after its answer went out is logged, never lost."""
    if not first.done():
        first.set_result(b"")  # (its caller takes the task's result)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("an invocation failed after its answer: %s", task.exception())
