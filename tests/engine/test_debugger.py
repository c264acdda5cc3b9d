"""``breakpoint()`` in a handler: a pdb session relayed by the engine (``engine.debugger``).

Real runtimes, real sockets: the handler's pdb talks to its environment's Runtime API, the test
plays the front end through the engine's public API and its event stream.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from workbench.engine import DebugEvent, Engine, InvokeResult
from workbench.engine.ids import new_uuid

from ..helpers import add_function, body

WAIT_S = 20.0

BREAKER = """
def handler(event, context):
    name = event.get("name", "world")
    breakpoint()
    greeting = "hello " + name
    return {"greeting": greeting}
"""


class Front:
    """A front end: attached to the debugger, following one invocation's DebugEvents."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sub = engine.subscribe()
        self.events: list[DebugEvent] = []
        self.request_id = new_uuid()
        self.task: asyncio.Task[InvokeResult] | None = None
        engine.debugger.attach()

    def invoke(self, name: str, payload: object = None) -> None:
        data = json.dumps(payload if payload is not None else {})
        self.task = asyncio.ensure_future(
            self.engine.invoke(name, data, request_id=self.request_id)
        )

    async def until(self, kind: str) -> DebugEvent:
        """The next DebugEvent of ``kind`` for this invocation (the ones before are kept)."""
        while True:
            event = await asyncio.wait_for(self.sub.get(), WAIT_S)
            if isinstance(event, DebugEvent) and event.request_id == self.request_id:
                self.events.append(event)
                if event.kind == kind:
                    return event

    def output(self) -> str:
        return "".join(e.text for e in self.events if e.kind == "output")

    async def result(self) -> InvokeResult:
        assert self.task is not None
        return await asyncio.wait_for(self.task, WAIT_S)

    def close(self) -> None:
        self.sub.close()
        self.engine.debugger.detach()


@pytest.fixture
def front(engine: Engine) -> Front:
    f = Front(engine)
    yield f
    f.close()


async def test_p_event_then_continue_returns_the_response(engine: Engine, front: Front) -> None:
    folder = add_function(engine, "breaker", BREAKER)
    front.invoke("breaker", {"name": "Ada"})
    paused = await front.until("paused")
    assert paused.file == str(folder.resolve() / "app.py")
    assert paused.line == 4  # the line after breakpoint(), as pdb stops
    assert paused.code == "handler"
    assert paused.prompt == "(Pdb) "
    session = engine.debugger.session(front.request_id)
    assert session is not None and session.state == "paused"
    assert engine.debugger.sessions() == [session]

    engine.debugger.send(front.request_id, "p event")
    resumed = await front.until("resumed")
    assert resumed.text == "p event"
    await front.until("paused")
    assert "{'name': 'Ada'}" in front.output()
    assert "{'name': 'Ada'}" in session.output

    engine.debugger.send(front.request_id, "c")
    await front.until("ended")
    result = await front.result()
    assert body(result) == {"greeting": "hello Ada"}
    assert [e.kind for e in front.events] == [
        "output",
        "paused",
        "resumed",
        "output",
        "paused",
        "resumed",
        "ended",
    ]
    assert session.state == "ended"
    assert engine.debugger.sessions() == []
    assert result.record.paused_ms > 0
    assert result.record.paused_ms == pytest.approx(session.paused_ms, abs=50)


async def test_send_refuses_unknown_and_running_sessions(engine: Engine, front: Front) -> None:
    add_function(engine, "breaker", BREAKER)
    with pytest.raises(KeyError):
        engine.debugger.send("no-such-request", "c")
    front.invoke("breaker")
    await front.until("paused")
    engine.debugger.send(front.request_id, "n")
    with pytest.raises(ValueError):
        engine.debugger.send(front.request_id, "n")  # not paused: the step is running
    await front.until("paused")
    engine.debugger.send(front.request_id, "c")
    assert body(await front.result()) == {"greeting": "hello world"}
