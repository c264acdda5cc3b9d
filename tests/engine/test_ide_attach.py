"""IDE attach: environments started under debugpy / Node's inspector, waiting for the IDE.

Everything is real: the runtime imports the real debugpy, which listens on loopback; the tests
attach as an IDE does (DAP over the socket for debugpy, the inspector's HTTP and WebSocket
endpoints for Node) and only then does the handler run. What is checked is what a user relies
on: the port is announced, nothing times out while the IDE takes its time, two environments
never share a port, and a missing debugpy is one clear message.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from workbench.engine import (
    Engine,
    EngineSettings,
    EnvironmentEvent,
    InvokeResult,
    Subscription,
)
from workbench.engine.runtime import debug_attach
from workbench.engine.runtime.debug_attach import DEFAULT_PORTS, DebugPorts, node_inspect_flag

from ..dap import DAPClient
from ..helpers import add_function, body, make_function

needs_debugpy = pytest.mark.skipif(
    debug_attach.debugpy_folder(sys.executable) is None,
    reason="debugpy is not installed: pip install -e '.[test]'",
)
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")


@pytest.fixture(autouse=True)
def own_debug_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's debuggers on free ports of its own, not debugpy's 5678 and Node's 9229: the
    suite runs in parallel (and beside other workbenches), and two debug adapters told the
    same free port at the same moment cannot both listen on it."""
    for kind in ("debugpy", "inspect"):
        monkeypatch.setitem(DEFAULT_PORTS, kind, free_port_run(debug_attach.PORT_SPAN))


REPORTS = """
import os, sys, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {
        "event": event,
        "workbench_variables": sorted(k for k in os.environ if k.startswith("_WORKBENCH")),
        "path": sys.path,
        "debugpy_loaded": "debugpy" in sys.modules,
    }
"""


async def debug_wait(subscription, function: str | None, timeout: float = 30.0) -> EnvironmentEvent:
    """The next ``debug_wait`` event of ``function`` (None: of any)."""

    async def wait() -> EnvironmentEvent:
        while True:
            event = await subscription.get()
            if (
                isinstance(event, EnvironmentEvent)
                and event.phase == "debug_wait"
                and function in (None, event.function)
            ):
                return event

    return await asyncio.wait_for(wait(), timeout)


async def attach(port: int) -> DAPClient:
    client = await DAPClient.connect(port)
    await client.attach()
    return client


@pytest.fixture
async def events(engine: Engine) -> AsyncIterator[Subscription]:
    """The engine's event stream, followed from the test's start."""
    subscription = engine.subscribe()
    yield subscription
    subscription.close()


# ----------------------------------------------------------------------------- debugpy


@needs_debugpy
async def test_debugpy_waits_for_the_ide_without_timing_out_then_runs_the_handler(
    engine: Engine, events: Subscription
) -> None:
    add_function(engine, "dbg", REPORTS, debug="debugpy", timeout=1)
    task = asyncio.create_task(engine.invoke("dbg", b'{"n": 1}'))
    event = await debug_wait(events, "dbg")
    assert event.port is not None and event.port >= DEFAULT_PORTS["debugpy"]
    [env] = engine.environments("dbg")
    assert env.waiting_for_debugger and env.ide is not None
    assert env.ide.port == event.port

    client = await DAPClient.connect(event.port)  # the port accepts connections
    try:
        # twice the function's timeout, and Lambda's 10 s INIT bound is not armed either
        done, _ = await asyncio.wait({task}, timeout=2.0)
        assert not done, "the invocation should wait for the debugger, not time out"
        await client.attach()
        result = await asyncio.wait_for(task, 30)
        assert not env.waiting_for_debugger

        assert result.function_error is None, result.payload
        seen = body(result)
        assert seen["event"] == {"n": 1}
        assert seen["workbench_variables"] == []  # the launch's variables left os.environ
        assert seen["debugpy_loaded"]
        folder = debug_attach.debugpy_folder(sys.executable)
        assert folder not in seen["path"]  # the host's site-packages never reach the handler
        assert not [p for p in seen["path"] if "site-packages" in p]
        assert any(
            f"debugpy listening on 127.0.0.1:{event.port}: waiting for a debugger" in line
            for line in result.record.log_lines
        )
        assert result.record.cold and result.record.status == "success"

        # warm, attached: a handler paused past its timeout (as at a breakpoint) is not killed
        result = await asyncio.wait_for(engine.invoke("dbg", b'{"sleep": 1.5}'), 30)
        assert result.function_error is None, result.payload
        assert result.record.status == "success" and not result.record.cold
        assert result.record.duration_ms > 1500
    finally:
        await client.close()


BREAKS = """
def handler(event, context):
    doubled = event["n"] * 2
    return {"doubled": doubled, "remaining_ms": context.get_remaining_time_in_millis()}
"""


@needs_debugpy
async def test_a_handler_stopped_at_an_ide_breakpoint_is_not_timed_out(
    engine: Engine, events: Subscription
) -> None:
    folder = add_function(engine, "stops", BREAKS, debug="debugpy", timeout=1)
    task = asyncio.create_task(engine.invoke("stops", b'{"n": 21}'))
    event = await debug_wait(events, "stops")
    client = await DAPClient.connect(event.port)  # type: ignore[arg-type]
    try:
        await client.attach(breakpoints={str(folder / "app.py"): [3]})
        stopped = await client.until("event", "stopped")
        assert stopped["body"]["reason"] == "breakpoint"
        done, _ = await asyncio.wait({task}, timeout=2.0)  # twice the timeout, stopped
        assert not done
        await client.send("continue", {"threadId": stopped["body"]["threadId"]})
        result = await asyncio.wait_for(task, 30)
    finally:
        await client.close()
    assert result.function_error is None, result.payload
    assert body(result)["doubled"] == 42
    assert result.record.status == "success" and result.record.duration_ms > 2000


@needs_debugpy
async def test_breakpoint_under_debugpy_stops_in_the_ide_not_in_the_pdb_channel(
    engine: Engine, events: Subscription
) -> None:
    """An attached front end (the TUI) would take breakpoint() over the pdb channel; under an
    IDE's debugger the IDE gets it (debugpy's own hook), and no pdb session opens."""
    add_function(
        engine,
        "stops",
        "def handler(event, context):\n    breakpoint()\n    return {'ok': True}\n",
        debug="debugpy",
        timeout=1,
    )
    engine.debugger.attach()
    task = asyncio.create_task(engine.invoke("stops", b"{}"))
    event = await debug_wait(events, "stops")
    client = await DAPClient.connect(event.port)  # type: ignore[arg-type]
    try:
        await client.attach()
        stopped = await client.until("event", "stopped")
        assert engine.debugger.sessions() == []
        await client.send("continue", {"threadId": stopped["body"]["threadId"]})
        result = await asyncio.wait_for(task, 30)
    finally:
        await client.close()
        engine.debugger.detach()
    assert result.function_error is None, result.payload
    assert not any("skipped" in line for line in result.record.log_lines)


@needs_debugpy
async def test_two_live_environments_get_different_ports(
    function_root: Path, tmp_path: Path
) -> None:
    """--debug-port puts every Python function under debugpy, from that port up."""
    base = free_port_run(3)
    make_function(function_root, "a", REPORTS)  # no debug key: the setting does it
    make_function(function_root, "b", REPORTS, debug="debugpy")
    settings = EngineSettings(state_dir=tmp_path / "state", debug_port=base, reap_interval_s=0.2)
    async with Engine([function_root], settings) as engine:
        subscription = engine.subscribe()
        first = asyncio.create_task(engine.invoke("a", b"{}"))
        second = asyncio.create_task(engine.invoke("a", b"{}"))
        third = asyncio.create_task(engine.invoke("b", b"{}"))
        # in the order they come to listen
        events = [await debug_wait(subscription, None) for _ in range(3)]
        assert sorted(e.function for e in events) == ["a", "a", "b"]
        ports = [e.port for e in events]
        assert sorted(ports) == [base, base + 1, base + 2]  # type: ignore[type-var]
        assert len({e.env_id for e in events}) == 3
        assert all(port in engine.debug_ports for port in ports)
        clients = [await attach(port) for port in ports]  # type: ignore[arg-type]
        results = await asyncio.wait_for(asyncio.gather(first, second, third), 30)
        assert [r.function_error for r in results] == [None, None, None]
        for client in clients:
            await client.close()
        for env in engine.environments():
            env.shutdown("exit")
        assert not any(port in engine.debug_ports for port in ports)  # given back

        # the next environment takes the first free port again: the adapter that held it
        # has died with its environment
        again = asyncio.create_task(engine.invoke("a", b"{}"))
        event = await debug_wait(subscription, "a")
        assert event.port == base
        client = await attach(base)
        assert (await asyncio.wait_for(again, 30)).function_error is None
        await client.close()
        subscription.close()


def free_port_run(count: int) -> int:
    """A base port with ``count`` free ports from it up: not 5678 or 9229 (a debugger the
    developer runs), not in the kernel's ephemeral range (where any ``bind(0)`` or outgoing
    connection, a debug adapter's own included, may take it before our debugger binds it), and
    in a slab of its own per xdist worker (the suite runs in parallel)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
    low = 10_000 + (int(worker) % 8 if worker.isdigit() else 0) * 2_500
    for _ in range(200):
        base = random.randrange(low, low + 2_500 - count)
        if all(debug_attach._bindable(base + i) for i in range(count)):
            return base
    raise AssertionError(f"no run of {count} free ports from {low}")


async def test_ports_are_taken_first_free_from_the_base_up() -> None:
    ports = DebugPorts()
    base = free_port_run(4)
    import socket

    with socket.socket() as squatter:  # something else listens on base + 1
        squatter.bind(("127.0.0.1", base + 1))
        squatter.listen()
        assert await ports.take(base) == base
        assert await ports.take(base) == base + 2
        ports.release(base)
        assert await ports.take(base) == base
        assert base in ports and base + 1 not in ports


def interpreter_without_debugpy(tmp_path: Path) -> str:
    """A real virtual environment of this Python without debugpy (``--without-pip``: 40 ms)."""
    venv = tmp_path / "no-debugpy"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    assert debug_attach.debugpy_folder(python) is None
    return python


async def test_debugpy_missing_is_a_clear_init_error(function_root: Path, tmp_path: Path) -> None:
    make_function(function_root, "dbg", REPORTS, debug="debugpy")
    python = interpreter_without_debugpy(tmp_path)
    settings = EngineSettings(state_dir=tmp_path / "state", python=python)
    async with Engine([function_root], settings) as engine:
        result = await engine.invoke("dbg", b"{}")
        assert result.function_error == "Unhandled"
        error = body(result)
        assert error["errorType"] == "Runtime.DebuggerNotFound"
        assert f"debugpy is not installed for {python}" in error["errorMessage"]
        assert "pip install 'workbench[debug]'" in error["errorMessage"]
        assert result.record.status == "error"
        assert not engine.debug_ports._taken  # the port it took was given back

        # the same function without debug runs on that interpreter as ever
        add_function(engine, "plain", REPORTS)
        assert (await engine.invoke("plain", b"{}")).function_error is None


@needs_debugpy
async def test_a_debugpy_that_does_not_import_is_the_runtimes_init_error(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime side: the folder handed over holds no debugpy (a real, failing import)."""
    empty = tmp_path / "not-debugpy"
    empty.mkdir()
    add_function(engine, "dbg", REPORTS, debug="debugpy")
    python = engine.interpreters.find(engine.functions["dbg"].runtime)  # the one it runs on
    assert python is not None
    monkeypatch.setitem(debug_attach._DEBUGPY_FOLDERS, python.path, str(empty))
    result = await asyncio.wait_for(engine.invoke("dbg", b"{}"), 30)
    error = body(result)
    assert error["errorType"] == "Runtime.DebuggerNotFound"
    assert f"cannot import debugpy from {empty}" in error["errorMessage"]
    assert "pip install 'workbench[debug]'" in error["errorMessage"]


# ----------------------------------------------------------------------------- awslambdaric


@needs_debugpy
async def test_awslambdaric_runs_under_debugpy_too(
    engine: Engine, events: Subscription, tmp_path: Path
) -> None:
    pytest.importorskip("awslambdaric")
    from .test_awslambdaric import add_ric_function, vendor

    vendored = tmp_path / "vendored"
    vendor("awslambdaric", vendored)
    add_ric_function(engine, vendored, "ric", REPORTS, debug="debugpy", timeout=1)
    task = asyncio.create_task(engine.invoke("ric", b'{"n": 2}'))
    event = await debug_wait(events, "ric")
    assert event.port is not None
    client = await attach(event.port)
    try:
        result = await asyncio.wait_for(task, 30)
        assert result.function_error is None, result.payload
        seen = body(result)
        assert seen["event"] == {"n": 2}
        assert seen["workbench_variables"] == []
        assert debug_attach.debugpy_folder(sys.executable) not in seen["path"]
    finally:
        await client.close()


# ----------------------------------------------------------------------------- node


NODE_HANDLER = """
exports.handler = async (event) => ({ node: event, inspector: !!require("inspector").url() });
"""


@needs_node
async def test_node_waits_under_the_inspector_until_the_debugger_says_run(
    engine: Engine, events: Subscription
) -> None:
    folder = engine.roots[0] / "web"
    folder.mkdir()
    (folder / "function.toml").write_text(
        'runtime = "nodejs20.x"\nhandler = "index.handler"\ndebug = "inspect"\ntimeout = 1\n'
    )
    (folder / "index.js").write_text(NODE_HANDLER)
    engine.load_functions()
    task = asyncio.create_task(engine.invoke("web", b'{"n": 3}'))
    event = await debug_wait(events, "web")
    port = event.port
    assert port is not None and port >= DEFAULT_PORTS["inspect"]
    async with aiohttp.ClientSession() as session:
        targets = await _inspector_targets(session, port)
        assert len(targets) == 1 and targets[0]["type"] == "node"
        done, _ = await asyncio.wait({task}, timeout=2.0)
        assert not done, "the invocation should wait for the debugger, not time out"
        async with session.ws_connect(targets[0]["webSocketDebuggerUrl"]) as ws:
            await ws.send_json({"id": 1, "method": "Runtime.runIfWaitingForDebugger"})
            result = await asyncio.wait_for(task, 30)
    assert result.function_error is None, result.payload
    assert body(result) == {"node": {"n": 3}, "inspector": True}
    assert any("Debugger listening on ws://127.0.0.1:" in line for line in result.record.log_lines)


async def _inspector_targets(session: aiohttp.ClientSession, port: int) -> list[dict]:
    """The inspector's target list (it answers once Node has started listening)."""
    for _ in range(500):
        try:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                return await response.json(content_type=None)
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.01)
    raise AssertionError(f"nothing answers on 127.0.0.1:{port}")


def test_a_node_without_inspect_wait_breaks_on_the_first_line(tmp_path: Path) -> None:
    old_node = tmp_path / "node18"  # answers as a Node before 20.15 does: no --inspect-wait
    old_node.write_text("#!/bin/sh\necho false\n")
    old_node.chmod(0o755)
    assert node_inspect_flag(str(old_node), "127.0.0.1:9229") == "--inspect-brk=127.0.0.1:9229"
    new_node = tmp_path / "node20"
    new_node.write_text("#!/bin/sh\necho true\n")
    new_node.chmod(0o755)
    assert node_inspect_flag(str(new_node), "127.0.0.1:9") == "--inspect-wait=127.0.0.1:9"


# ----------------------------------------------------------------------------- off by default


async def test_without_debug_nothing_waits(engine: Engine) -> None:
    add_function(engine, "plain", REPORTS)
    result: InvokeResult = await engine.invoke("plain", b"{}")
    assert result.function_error is None
    [env] = engine.environments("plain")
    assert env.ide is None and not env.waiting_for_debugger
    assert not body(result)["debugpy_loaded"]
    assert os.environ.get("_WORKBENCH_DEBUGPY") is None


@needs_debugpy
async def test_an_attached_environment_outlives_the_keep_alive(
    function_root: Path, tmp_path: Path
) -> None:
    """The idle reaper leaves it alone: the IDE's session must not end behind its back."""
    make_function(function_root, "plain", REPORTS)
    make_function(function_root, "dbg", REPORTS, debug="debugpy")
    settings = EngineSettings(state_dir=tmp_path / "state", keep_alive_s=0.2, reap_interval_s=0.05)
    async with Engine([function_root], settings) as engine:
        subscription = engine.subscribe()
        task = asyncio.create_task(engine.invoke("dbg", b"{}"))
        event = await debug_wait(subscription, "dbg")
        client = await attach(event.port)  # type: ignore[arg-type]
        assert (await asyncio.wait_for(task, 30)).function_error is None
        assert (await engine.invoke("plain", b"{}")).function_error is None

        async def reaped(name: str) -> None:
            while True:
                event = await subscription.get()
                if isinstance(event, EnvironmentEvent) and event.phase == "shutdown":
                    assert event.function == name, event
                    assert event.reason == "idle"
                    return

        await asyncio.wait_for(reaped("plain"), 10)
        [env] = engine.environments("dbg")
        assert env.state == "idle" and env.ide is not None
        assert (await engine.invoke("dbg", b"{}")).record.cold is False
        await client.close()
        subscription.close()


@needs_debugpy
async def test_a_published_version_does_not_wait_for_a_debugger(engine: Engine) -> None:
    """debug = ... is about the code being edited; only --debug-port reaches versions."""
    add_function(engine, "dbg", REPORTS, debug="debugpy")
    version, _ = await engine.publish("dbg")
    result = await asyncio.wait_for(engine.invoke("dbg", b"{}", qualifier=str(version.number)), 30)
    assert result.function_error is None and not body(result)["debugpy_loaded"]
