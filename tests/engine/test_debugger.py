"""``breakpoint()`` in a handler: a pdb session relayed by the engine (``engine.debugger``).

Real runtimes, real sockets: the handler's pdb talks to its environment's Runtime API, the test
plays the front end through the engine's public API and its event stream.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from workbench.engine import DebugEvent, Engine, InvokeResult
from workbench.engine.model.events import EventBus
from workbench.engine.model.ids import new_uuid
from workbench.engine.runtime.debugger import Debugger

from ..helpers import add_function, body, until
from . import test_awslambdaric as ric

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


async def test_pdb_start_up_is_the_debuggers_time_not_the_handlers(
    engine: Engine, front: Front
) -> None:
    """From the handler's breakpoint() to pdb's first prompt (importing the hook and pdb,
    connecting) the invocation's clock is stopped: the runtime says when breakpoint() was
    called, and the session takes the time from there."""
    add_function(engine, "breaker", BREAKER)
    front.invoke("breaker")
    await front.until("paused")
    session = engine.debugger.session(front.request_id)
    assert session is not None and session.startup_ms is not None
    assert 0 < session.startup_ms < 60_000
    engine.debugger.send(front.request_id, "c")
    result = await front.result()
    assert body(result) == {"greeting": "hello world"}
    assert result.record.paused_ms > 0


class RecordingClock:
    """An environment's timeout clock, as the session drives it: what it was told, in order."""

    def __init__(self, credit: bool) -> None:
        self.calls: list[tuple[str, float]] = []
        if credit:
            self.credit_pause = lambda seconds: self.calls.append(("credit", seconds))

    def pause_clock(self) -> None:
        self.calls.append(("pause", 0.0))

    def resume_clock(self) -> None:
        self.calls.append(("resume", 0.0))


class Link:
    def send(self, message: dict[str, object]) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize("credit", [True, False], ids=["clock-takes-credit", "plain-clock"])
def test_a_session_holds_the_clock_from_its_opening(credit: bool) -> None:
    debugger = Debugger(EventBus())
    debugger.attach()
    clock = RecordingClock(credit)
    called = time.monotonic() - 0.25  # breakpoint() a quarter second before the session
    session = debugger.open("r1", "f", "e1", Link(), clock)  # type: ignore[arg-type]
    assert not isinstance(session, str)
    assert (session.state, clock.calls) == ("starting", [("pause", 0.0)])  # stopped at once
    session.on_message({"breakpoint_at": called})
    assert session.startup_ms is not None and 250 <= session.startup_ms < 1000
    session.on_message({"breakpoint_at": called})  # once only
    session.on_message({"out": "> app.py(4)handler()\n"})
    session.on_message({"prompt": "(Pdb) ", "file": "app.py", "line": 4})
    assert session.state == "paused"
    session.send("c")
    session.on_message({"running": True})
    kinds = [kind for kind, _ in clock.calls]
    assert kinds == (["pause", "credit", "resume"] if credit else ["pause", "resume"])
    if credit:
        assert clock.calls[1][1] * 1000 == pytest.approx(session.startup_ms)
        assert session.paused_ms >= 250  # the start-up is paused time, as the record's
    else:
        assert session.paused_ms < 250  # the record's clock did not take it: neither does it
    # a runtime whose clock is not ours (a time namespace) is not believed
    other = debugger.open("r2", "f", "e1", Link(), RecordingClock(credit))  # type: ignore[arg-type]
    assert not isinstance(other, str)
    other.on_message({"breakpoint_at": called + 3600.0})
    other.on_message({"breakpoint_at": "soon"})
    assert other.startup_ms is None


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


async def test_paused_time_stops_the_timeout_clock(engine: Engine, front: Front) -> None:
    add_function(
        engine,
        "slowpoke",
        """
        def handler(event, context):
            breakpoint()
            return {"remaining": context.get_remaining_time_in_millis()}
        """,
        timeout=1,
    )
    front.invoke("slowpoke")
    paused = await front.until("paused")
    # a human reading the code for three times the timeout (the pause is this test's input)
    await until(lambda: time.time() - paused.at >= 3.0, "three seconds of pause", timeout=30)
    engine.debugger.send(front.request_id, "c")
    result = await front.result()
    assert result.function_error is None, result.payload
    record = result.record
    assert record.status == "success"
    assert record.paused_ms >= 3000
    # the pause is not counted: what is left is under the 1 s timeout it succeeded within
    assert record.duration_ms < 1000
    assert record.billed_ms < 1000
    # the handler's own view of its deadline leaves the pause out too: counted, the 3 s would
    # have left nothing; what it lost is its own running time (the record's duration: the
    # sandbox's view of the pause spans the engine's, give or take a clock tick)
    remaining = body(result)["remaining"]
    assert 0 < remaining <= 1000
    assert remaining >= 1000 - record.duration_ms - 50


SLOW = """
import time

def slow():
    time.sleep(2.5)
    return "slept"

def handler(event, context):
    breakpoint()
    if event.get("work"):
        slow()
    return {"remaining": context.get_remaining_time_in_millis()}
"""


async def test_a_slow_command_typed_at_the_prompt_is_paused_time(
    engine: Engine, front: Front
) -> None:
    add_function(engine, "slow", SLOW, timeout=1)
    front.invoke("slow")
    await front.until("paused")
    session = engine.debugger.session(front.request_id)
    assert session is not None
    engine.debugger.send(front.request_id, "import time; time.sleep(2.5)")
    await front.until("paused")  # 2.5 s at the debugger, 2.5 times the timeout
    engine.debugger.send(front.request_id, "p slow()")  # the handler's code, run by the user
    await front.until("paused")
    assert "'slept'" in front.output()
    engine.debugger.send(front.request_id, "c")
    await front.until("ended")
    result = await front.result()
    assert result.function_error is None, result.payload
    record = result.record
    assert record.status == "success"
    assert record.paused_ms >= 5000  # both commands are in the paused time
    assert record.duration_ms < 1000
    assert record.billed_ms < 1000
    assert record.paused_ms == pytest.approx(session.paused_ms, abs=50)
    # the handler's own deadline leaves the commands out too (5 s of them: 0 if counted)
    assert 0 < body(result)["remaining"] <= 1000


@pytest.mark.parametrize("step", ["n", "c", "until 11"])
async def test_stepping_into_slow_handler_code_runs_on_the_clock(
    engine: Engine, front: Front, step: str
) -> None:
    add_function(engine, "slow", SLOW, timeout=1)
    front.invoke("slow", {"work": True})
    paused = await front.until("paused")
    assert paused.line == 9
    engine.debugger.send(front.request_id, "import time; time.sleep(2.5)")  # paused time
    await front.until("paused")
    engine.debugger.send(front.request_id, "n")
    paused = await front.until("paused")
    assert paused.line == 10  # slow() is next
    engine.debugger.send(front.request_id, step)  # the handler's 2.5 s, on the clock
    await front.until("ended")
    result = await front.result()
    assert result.record.status == "timeout"
    assert "Task timed out after 1.00 seconds" in body(result)["errorMessage"]
    assert result.record.paused_ms >= 2500


async def test_detaching_while_a_command_runs_starts_the_clock_again(
    engine: Engine, front: Front
) -> None:
    add_function(engine, "slow", SLOW, timeout=1)
    front.invoke("slow")
    await front.until("paused")
    engine.debugger.send(front.request_id, "import time; time.sleep(60)")
    await front.until("resumed")
    session = engine.debugger.session(front.request_id)
    assert session is not None and session.state == "command"
    engine.debugger.detach_session(front.request_id)  # nobody debugs it: the timeout applies
    await front.until("ended")
    result = await front.result()
    assert result.record.status == "timeout"
    assert "Task timed out after 1.00 seconds" in body(result)["errorMessage"]


async def test_without_a_debugger_attached_breakpoint_is_skipped(engine: Engine) -> None:
    add_function(engine, "breaker", BREAKER)
    result = await asyncio.wait_for(engine.invoke("breaker", '{"name": "Bo"}'), WAIT_S)
    assert body(result) == {"greeting": "hello Bo"}
    [warning] = [line for line in result.record.log_lines if "breakpoint()" in line]
    assert warning.startswith("[WARNING]\t")
    assert f"\t{result.record.request_id}\t" in warning
    assert "breakpoint() at app.py:3 skipped: no debugger is attached" in warning
    assert "`workbench invoke breaker --debug`" in warning
    assert result.record.paused_ms == 0


@pytest.mark.parametrize("trigger", ["api", "http:GET /hello"])
async def test_an_api_callers_breakpoint_is_skipped_unless_its_function_is_debugged(
    engine: Engine, front: Front, trigger: str
) -> None:
    """A front end is attached, but an HTTP caller waits on this invocation: skipped, with the
    warning, unless ``debug_api`` names the function; other triggers stop as before."""
    add_function(engine, "breaker", BREAKER)
    result = await asyncio.wait_for(
        engine.invoke("breaker", '{"name": "Bo"}', trigger=trigger), WAIT_S
    )
    assert body(result) == {"greeting": "hello Bo"}
    [warning] = [line for line in result.record.log_lines if "breakpoint()" in line]
    assert "skipped: an API caller waits for this invocation" in warning
    assert "debugging API calls is off for breaker" in warning
    assert not engine.debugger.sessions()

    engine.debugger.debug_api.add("breaker")
    front.task = asyncio.ensure_future(
        engine.invoke("breaker", '{"name": "Al"}', trigger=trigger, request_id=front.request_id)
    )
    await front.until("paused")
    engine.debugger.send(front.request_id, "c")
    assert body(await asyncio.wait_for(front.task, WAIT_S)) == {"greeting": "hello Al"}


async def test_pdb_set_trace_is_routed_too(engine: Engine, front: Front) -> None:
    add_function(
        engine,
        "settrace",
        """
        import pdb

        def handler(event, context):
            pdb.set_trace()
            return "done"
        """,
    )
    front.invoke("settrace")
    paused = await front.until("paused")
    assert (paused.line, paused.code) == (5, "handler")
    engine.debugger.send(front.request_id, "c")
    assert body(await front.result()) == "done"


async def test_pythonbreakpoint_0_in_the_functions_environment_disables_it(
    engine: Engine, front: Front
) -> None:
    add_function(engine, "breaker", BREAKER, environment={"PYTHONBREAKPOINT": "0"})
    front.invoke("breaker")
    result = await front.result()
    assert body(result) == {"greeting": "hello world"}
    assert not any("breakpoint()" in line for line in result.record.log_lines)
    assert front.events == [] and engine.debugger.sessions() == []


async def test_next_steps_and_pauses_on_each_line(engine: Engine, front: Front) -> None:
    folder = add_function(engine, "breaker", BREAKER)
    front.invoke("breaker", {"name": "Cy"})
    first = await front.until("paused")
    assert first.line == 4
    engine.debugger.send(front.request_id, "n")
    second = await front.until("paused")
    assert (second.file, second.line, second.code) == (
        str(folder.resolve() / "app.py"),
        5,
        "handler",
    )
    engine.debugger.send(front.request_id, "p greeting")
    await front.until("paused")
    assert "'hello Cy'" in front.output()
    engine.debugger.send(front.request_id, "n")  # onto the return: pdb shows --Return--
    await front.until("paused")
    engine.debugger.send(front.request_id, "n")  # out of the handler: the session ends
    await front.until("ended")
    assert body(await front.result()) == {"greeting": "hello Cy"}


async def test_quit_fails_the_invocation_with_bdbquit(engine: Engine, front: Front) -> None:
    add_function(engine, "breaker", BREAKER)
    front.invoke("breaker")
    await front.until("paused")
    engine.debugger.send(front.request_id, "q")
    await front.until("ended")
    result = await front.result()
    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "BdbQuit"
    assert result.record.status == "error"
    # the environment is still good
    again = Front(engine)
    try:
        again.invoke("breaker")
        await again.until("paused")
        engine.debugger.send(again.request_id, "c")
        assert body(await again.result()) == {"greeting": "hello world"}
        assert (await again.result()).record.env_id == result.record.env_id
    finally:
        again.close()


TWICE = """
def handler(event, context):
    breakpoint()
    first = 1
    breakpoint()
    return {"first": first}
"""


async def test_detach_continues_and_skips_the_invocations_later_breakpoints(
    engine: Engine, front: Front
) -> None:
    add_function(engine, "twice", TWICE)
    front.invoke("twice")
    await front.until("paused")
    engine.debugger.detach_session(front.request_id)
    await front.until("ended")
    result = await front.result()
    assert body(result) == {"first": 1}
    assert [e.kind for e in front.events] == ["output", "paused", "resumed", "ended"]
    assert any("app.py:4 skipped: the debugger detached" in x for x in result.record.log_lines)
    engine.debugger.detach_session(front.request_id)  # once ended: nothing to do


async def test_continue_then_the_next_breakpoint_opens_a_new_session(
    engine: Engine, front: Front
) -> None:
    add_function(engine, "twice", TWICE)
    front.invoke("twice")
    await front.until("paused")
    engine.debugger.send(front.request_id, "c")
    await front.until("ended")
    second = await front.until("paused")
    assert second.line == 5
    engine.debugger.send(front.request_id, "c")
    await front.until("ended")
    assert body(await front.result()) == {"first": 1}


async def test_last_front_end_leaving_detaches_a_paused_session(engine: Engine) -> None:
    add_function(engine, "breaker", BREAKER)
    front = Front(engine)
    front.invoke("breaker")
    await front.until("paused")
    engine.debugger.detach()  # the TUI quit: nobody can answer the prompt
    await front.until("ended")
    front.sub.close()
    assert body(await front.result()) == {"greeting": "hello world"}
    assert not engine.debugger.attached


async def test_a_session_open_when_the_invocation_times_out_is_ended(
    engine: Engine, front: Front
) -> None:
    add_function(
        engine,
        "sleeper",
        """
        import time

        def handler(event, context):
            breakpoint()
            time.sleep(30)
        """,
        timeout=1,
    )
    front.invoke("sleeper")
    await front.until("paused")
    engine.debugger.send(front.request_id, "n")  # steps over the sleep: the clock runs again
    await front.until("ended")
    result = await front.result()
    assert result.record.status == "timeout"
    assert "Task timed out after 1.00 seconds" in body(result)["errorMessage"]
    assert engine.debugger.sessions() == []


async def test_a_crash_while_paused_ends_the_session(engine: Engine, front: Front) -> None:
    add_function(
        engine,
        "crasher",
        """
        import os

        def handler(event, context):
            breakpoint()
            return os.getpid()
        """,
    )
    front.invoke("crasher")
    await front.until("paused")
    engine.debugger.send(front.request_id, "os.kill(os.getpid(), 9)")
    await front.until("ended")
    result = await front.result()
    assert result.record.status == "crash"


BRANCHY = """
def handler(event, context):
    if event.get("stop"):
        breakpoint()
    if event.get("branch"):
        event["took"] = "branch"
    return event
"""


async def test_a_warm_environment_after_a_session_left_open_does_not_stop(
    engine: Engine, front: Front
) -> None:
    add_function(engine, "branchy", BRANCHY)
    front.invoke("branchy", {"stop": True})
    await front.until("paused")
    engine.debugger.send(front.request_id, "b 5")  # a breakpoint this call never reaches
    await front.until("paused")
    engine.debugger.send(front.request_id, "c")  # breakpoints left: the session stays open
    await front.until("ended")  # ... until its invocation ends
    first = await front.result()
    assert body(first) == {"stop": True}

    # the same warm environment: its breakpoint at line 5 is gone, nothing stops or hangs
    second = await asyncio.wait_for(engine.invoke("branchy", '{"branch": true}'), WAIT_S)
    assert body(second) == {"branch": True, "took": "branch"}
    assert second.record.env_id == first.record.env_id
    assert engine.debugger.sessions() == []

    # and a new breakpoint there opens a new session
    third = Front(engine)
    try:
        third.invoke("branchy", {"stop": True, "branch": True})
        paused = await third.until("paused")
        assert paused.line == 4
        engine.debugger.send(third.request_id, "c")
        assert body(await third.result())["took"] == "branch"
        assert (await third.result()).record.env_id == first.record.env_id
    finally:
        third.close()


async def test_breakpoint_in_init_code_is_skipped(engine: Engine, front: Front) -> None:
    add_function(
        engine,
        "initbreak",
        """
        breakpoint()

        def handler(event, context):
            return 1
        """,
    )
    front.invoke("initbreak")
    result = await front.result()
    assert body(result) == 1
    assert any(
        "breakpoint() at app.py:1 skipped: breakpoints outside an invocation" in line
        for line in result.record.log_lines
    )


@pytest.mark.skipif(not ric.RIC_VERSION, reason="awslambdaric is not installed")
async def test_awslambdaric_runtimes_breakpoint_uses_the_channel_too(
    engine: Engine, front: Front, tmp_path_factory: pytest.TempPathFactory
) -> None:
    vendored = tmp_path_factory.mktemp("ric")
    ric.vendor("awslambdaric", vendored)
    ric.add_ric_function(engine, vendored, "ricbreak", BREAKER)
    front.invoke("ricbreak", {"name": "Ric"})
    paused = await front.until("paused")  # CPython's own hook, reading PYTHONBREAKPOINT
    assert (paused.line, paused.code) == (4, "handler")
    engine.debugger.send(front.request_id, "p name")
    await front.until("paused")
    assert "'Ric'" in front.output()
    engine.debugger.send(front.request_id, "n")
    await front.until("paused")
    engine.debugger.send(front.request_id, "n")
    await front.until("paused")  # --Return--
    engine.debugger.send(front.request_id, "n")  # out of the handler: runs on, session over
    await front.until("ended")
    assert body(await front.result()) == {"greeting": "hello Ric"}
    # and without a front end it is skipped, as with our runtime
    front.close()
    skipped = await asyncio.wait_for(engine.invoke("ricbreak"), WAIT_S)
    assert body(skipped) == {"greeting": "hello world"}
    assert any("skipped: no debugger is attached" in x for x in skipped.record.log_lines)
    engine.debugger.attach()  # for the fixture's own close()


async def test_the_runtime_loads_nothing_of_the_debugger_until_a_breakpoint(
    engine: Engine,
) -> None:
    add_function(
        engine,
        "modules",
        """
        import sys

        def handler(event, context):
            loaded = [m for m in ("pdb", "bdb", "workbench_debug", "socket", "json")
                      if m in sys.modules]
            return {"loaded": loaded, "hook": sys.breakpointhook.__name__}
        """,
    )
    result = await engine.invoke("modules")
    assert body(result) == {"loaded": [], "hook": "_breakpointhook"}


async def test_another_threads_breakpoint_during_a_session_is_skipped(
    engine: Engine, front: Front
) -> None:
    add_function(engine, "breaker", BREAKER)
    front.invoke("breaker")
    await front.until("paused")
    engine.debugger.send(
        front.request_id,
        "import threading; t = threading.Thread(target=breakpoint); t.start(); t.join()",
    )
    await front.until("paused")
    engine.debugger.send(front.request_id, "c")
    result = await front.result()
    assert body(result) == {"greeting": "hello world"}
    assert any("skipped: another is being debugged" in x for x in result.record.log_lines)
