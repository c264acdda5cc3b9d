"""A changed, removed or broken function.toml retires the old environments."""

from __future__ import annotations

import json
import shutil

from tests.helpers import add_function, until_reaped
from workbench.engine import Engine, EnvironmentEvent, FunctionNotReady

PID = """
import os
def handler(event, context):
    return {"pid": os.getpid(), "memory": context.memory_limit_in_mb}
"""


async def test_changed_config_retires_idle_environments(engine: Engine) -> None:
    folder = add_function(engine, "f", PID, memory_size=128)
    first = json.loads((await engine.invoke("f")).payload)
    events = engine.subscribe()
    add_function(engine, "f", PID, memory_size=256)
    shutdowns = [e for e in events.get_nowait() if isinstance(e, EnvironmentEvent)]
    assert [(e.phase, e.reason) for e in shutdowns] == [("shutdown", "reload")]
    await until_reaped(first["pid"])  # killed and reaped
    result = await engine.invoke("f")
    second = json.loads(result.payload)
    assert result.record.cold
    assert second["memory"] == "256" and second["pid"] != first["pid"]
    assert folder.exists()


async def test_a_deleted_function_s_environments_shut_down_as_removed(engine: Engine) -> None:
    """Not ``reload``: nothing replaced its code; it is gone (its published versions' too)."""
    folder = add_function(engine, "f", PID)
    first = json.loads((await engine.invoke("f")).payload)
    await engine.publish("f", "one")
    await engine.invoke("f", qualifier="1")
    events = engine.subscribe()
    shutil.rmtree(folder)
    engine.load_functions()
    shutdowns = [e for e in events.get_nowait() if isinstance(e, EnvironmentEvent)]
    assert [(e.phase, e.reason, e.version) for e in shutdowns] == [
        ("shutdown", "removed", "$LATEST"),
        ("shutdown", "removed", "1"),
    ]
    await until_reaped(first["pid"])
    assert not engine.environments("f")


async def test_unchanged_config_keeps_the_warm_environment(engine: Engine) -> None:
    add_function(engine, "f", PID)
    first = json.loads((await engine.invoke("f")).payload)
    engine.load_functions()
    result = await engine.invoke("f")
    assert not result.record.cold
    assert json.loads(result.payload)["pid"] == first["pid"]


async def test_broken_config_stops_invokes_but_not_the_others(engine: Engine) -> None:
    folder = add_function(engine, "f", PID)
    add_function(engine, "g", PID)
    await engine.invoke("f")
    (folder / "function.toml").write_text('handler = "app.handler"\nmemory_size = 64\n')
    engine.load_functions()
    assert "f" in engine.problems and not engine.environments("f")
    try:
        await engine.invoke("f")
    except FunctionNotReady as e:
        assert "memory_size = 64" in e.message and "function.toml:2" in e.message
    else:
        raise AssertionError("a function with a broken config was invoked")
    assert (await engine.invoke("g")).function_error is None
