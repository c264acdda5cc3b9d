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
import logging
from dataclasses import dataclass, replace
from typing import Any

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
    call = invoker.prepare(
        function, payload, qualifier=qualifier, client_context=client_context, trigger=trigger
    )
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[bytes] = loop.create_future()
    call = replace(call, answered=answered)
    task = loop.create_task(invoker.run(call))
    task.add_done_callback(_retrieve)
    waiting: set[asyncio.Future[Any]] = {task, answered}
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        result = task.result()  # (raises what the Invoke API refuses)
        return Answer(call.request_id, call.version, result.payload, result)
    return Answer(call.request_id, call.version, answered.result(), None)


def _retrieve(task: asyncio.Task[InvokeResult]) -> None:
    """A task that ended after its answer went out: its exception is logged, never lost."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("an invocation failed after its answer: %s", task.exception())
