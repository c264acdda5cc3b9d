"""Hot reload: a save becomes the next invocation's code, with Lambda's semantics.

The tests marked "real watcher" save real files under a watched root and wait for the engine
to notice (bounded waits on events, never a fixed sleep as the thing under test). The rest hand
``Engine.reload`` a batch of paths, as the watcher would, so they need no file-system timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import (
    LAYER_USER,
    add_function,
    make_function,
    make_layer,
    next_event,
    until,
    until_reaped,
)
from workbench.engine import (
    Engine,
    EngineSettings,
    EnvironmentEvent,
    FunctionNotReady,
    FunctionReloaded,
    InvokeStart,
    ResourceNotFound,
    Subscription,
)

COUNTER = """
VERSION = {version}
CALLS = 0
def handler(event, context):
    global CALLS
    CALLS += 1
    return {{"version": VERSION, "calls": CALLS}}
"""
SLOW = """
import time
VERSION = {version}
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {{"version": VERSION}}
"""


def code(template: str, version: int) -> str:
    return template.format(version=version).lstrip("\n")


async def payload(engine: Engine, name: str, event: object = None) -> dict:
    result = await engine.invoke(name, json.dumps(event or {}))
    assert result.function_error is None, result.payload
    return json.loads(result.payload)


async def next_reload(events: Subscription, name: str, timeout: float = 10.0) -> FunctionReloaded:
    """The next FunctionReloaded of ``name`` (other events are skipped)."""

    async def wait() -> FunctionReloaded:
        while True:
            event = await events.get()
            if isinstance(event, FunctionReloaded) and event.function == name:
                return event

    return await asyncio.wait_for(wait(), timeout)


@contextlib.asynccontextmanager
async def watching(root: Path, tmp_path: Path, **settings: object) -> AsyncIterator[Engine]:
    """An engine with the real watcher on ``root``, already following it.

    Write the functions first: a folder created while the watcher runs is itself a change.
    """
    config = EngineSettings(
        keep_alive_s=30.0, reap_interval_s=0.2, state_dir=tmp_path / "state", watch=True
    )
    for key, value in settings.items():
        setattr(config, key, value)
    async with Engine([root], config) as engine:
        await engine.wait_watching()
        yield engine


# --------------------------------------------------------------------------- real watcher


async def test_a_saved_file_serves_the_next_invocation(function_root: Path, tmp_path: Path) -> None:
    """Real watcher, real files: the save is seen, the idle environment retires, the next
    call runs the new code in a new environment."""
    folder = make_function(function_root, "f", code(COUNTER, 1))
    async with watching(function_root, tmp_path) as engine:
        events = engine.subscribe()
        first = await engine.invoke("f")
        assert json.loads(first.payload) == {"version": 1, "calls": 1}
        old_pid = engine.environments("f")[0].pid

        (folder / "app.py").write_text(code(COUNTER, 2))
        reloaded = await next_reload(events, "f")
        assert reloaded.change == "code" and reloaded.problem is None
        assert reloaded.files == (str(folder / "app.py"),)
        assert not engine.environments("f")  # the idle one shut down at once
        await until_reaped(old_pid)

        result = await engine.invoke("f")
        assert json.loads(result.payload) == {"version": 2, "calls": 1}
        assert result.record.cold


async def test_a_syntax_error_is_reported_on_save_without_an_invoke(
    function_root: Path, tmp_path: Path
) -> None:
    folder = make_function(function_root, "f", code(COUNTER, 1))
    async with watching(function_root, tmp_path) as engine:
        events = engine.subscribe()
        (folder / "app.py").write_text("def handler(event, context)\n    return 1\n")
        reloaded = await next_reload(events, "f")
        problem = reloaded.problem
        assert problem is not None and problem.kind == "syntax"
        assert problem.file == folder / "app.py" and problem.line == 1
        assert "expected ':'" in problem.message
        assert engine.problem("f") == problem
        assert engine.store is not None and engine.store.count() == 0  # nothing was invoked

        # invoking in that state gives Lambda's error for it
        result = await engine.invoke("f")
        assert result.function_error == "Unhandled"
        assert json.loads(result.payload)["errorType"] == "Runtime.UserCodeSyntaxError"

        (folder / "app.py").write_text(code(COUNTER, 3))
        fixed = await next_reload(events, "f")
        assert fixed.problem is None and engine.problem("f") is None
        assert (await payload(engine, "f"))["version"] == 3


async def test_a_new_folder_appears_and_a_removed_one_disappears(
    function_root: Path, tmp_path: Path
) -> None:
    async with watching(function_root, tmp_path) as engine:
        events = engine.subscribe()
        folder = make_function(function_root, "fresh", code(COUNTER, 1))
        added = await next_reload(events, "fresh")
        assert added.change == "added"
        assert (await payload(engine, "fresh"))["version"] == 1

        shutil.rmtree(folder)
        removed = await next_reload(events, "fresh")
        assert removed.change == "removed"
        assert "fresh" not in engine.functions and not engine.environments("fresh")
        with pytest.raises(ResourceNotFound, match="Function not found: arn:aws:lambda:.*:fresh"):
            await engine.invoke("fresh")


async def test_a_broken_config_save_is_reported_and_refuses_invokes(
    function_root: Path, tmp_path: Path
) -> None:
    folder = make_function(function_root, "f", code(COUNTER, 1))
    async with watching(function_root, tmp_path) as engine:
        events = engine.subscribe()
        (folder / "function.toml").write_text('handler = "app.handler"\nmemory_size = 64\n')
        reloaded = await next_reload(events, "f")
        assert reloaded.change == "config"
        problem = reloaded.problem
        assert problem is not None and problem.kind == "config"
        assert problem.file == folder / "function.toml" and problem.line == 2
        assert "memory_size" in problem.message and "128 to 10240" in problem.message
        with pytest.raises(FunctionNotReady, match="memory_size = 64"):
            await engine.invoke("f")

        (folder / "function.toml").write_text('handler = "app.handler"\nmemory_size = 256\n')
        fixed = await next_reload(events, "f")
        assert fixed.problem is None
        assert (await payload(engine, "f"))["version"] == 1


async def test_ignored_files_reload_nothing(function_root: Path, tmp_path: Path) -> None:
    """Real watcher: version control, caches, swap files and the state folder are not code."""
    folder = make_function(function_root, "f", code(COUNTER, 1))
    marker = make_function(function_root, "marker", code(COUNTER, 1))
    for name in (".git", "__pycache__", ".workbench"):
        (folder / name).mkdir()
    async with watching(function_root, tmp_path) as engine:
        await engine.invoke("f")
        [env] = engine.environments("f")
        events = engine.subscribe()
        for name in (".git/index", "__pycache__/app.cpython-311.pyc", ".app.py.swp", "app.py~",
                     ".#app.py", "4913", "sedAb12Cd", ".workbench/x.db"):  # fmt: skip
            (folder / name).write_text("x")
        # A real change written after them: the watcher hands changes over in order, so once
        # its reload is seen, any reload the others caused would have been seen too.
        (marker / "app.py").write_text(code(COUNTER, 2))
        seen: list[object] = []
        await next_event(events, FunctionReloaded, lambda e: e.function == "marker", passed=seen)
        seen += events.get_nowait()  # the rest of its batch
        assert not [e for e in seen if isinstance(e, FunctionReloaded)]
        assert env.state == "idle" and (await payload(engine, "f"))["calls"] == 2

        (folder / "app.py").write_text(code(COUNTER, 2))  # the watcher does see real changes
        reloaded = await next_reload(events, "f")
        assert reloaded.files == (str(folder / "app.py"),)
        assert env.state == "dead"


async def test_prewarm_makes_the_first_call_after_a_save_warm(
    function_root: Path, tmp_path: Path
) -> None:
    folder = make_function(function_root, "f", code(COUNTER, 1))
    async with watching(function_root, tmp_path, prewarm=True) as engine:
        events = engine.subscribe()
        (folder / "app.py").write_text(code(COUNTER, 2))
        await next_reload(events, "f")
        await until(
            lambda: engine.function_state("f").idle,  # type: ignore[union-attr]
            "the prewarmed environment",
        )
        result = await engine.invoke("f")
        assert json.loads(result.payload) == {"version": 2, "calls": 1}
        assert not result.record.cold and result.record.init_duration_ms is None


# --------------------------------------------------------------------------- scripted batches


async def test_warm_state_survives_until_the_code_changes(engine: Engine) -> None:
    folder = add_function(engine, "f", code(COUNTER, 1))
    assert [(await payload(engine, "f"))["calls"] for _ in range(3)] == [1, 2, 3]
    (folder / "app.py").write_text(code(COUNTER, 2))
    [event] = engine.reload([folder / "app.py"])
    assert event.change == "code"
    assert [(await payload(engine, "f"))["calls"] for _ in range(2)] == [1, 2]


async def test_an_in_flight_invocation_finishes_on_the_old_code(engine: Engine) -> None:
    folder = add_function(engine, "f", code(SLOW, 1), timeout=30)
    events = engine.subscribe()
    slow = asyncio.create_task(engine.invoke("f", '{"sleep": 1.0}'))
    await next_event(events, InvokeStart)
    [busy] = engine.environments("f")

    (folder / "app.py").write_text(code(SLOW, 2))
    engine.reload([folder / "app.py"])
    assert busy.state == "busy"  # not killed: it finishes its invocation
    assert (await payload(engine, "f"))["version"] == 2  # a new environment, new code

    old = await slow
    assert json.loads(old.payload) == {"version": 1}
    assert busy.state == "dead" and busy.shutdown_reason == "reload"  # then it retires
    assert busy not in engine.environments("f")


async def test_a_same_size_save_within_the_second_is_not_served_stale_bytecode(
    engine: Engine,
) -> None:
    """CPython trusts a cached .pyc whose source has the same mtime (seconds) and size."""
    folder = add_function(engine, "f", code(COUNTER, 1))
    source = folder / "app.py"
    assert (await payload(engine, "f"))["version"] == 1  # compiled and cached
    stat = source.stat()
    source.write_text(code(COUNTER, 2))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size
    engine.reload([source])
    assert (await payload(engine, "f"))["version"] == 2


async def test_a_comment_in_function_toml_reloads_nothing(engine: Engine) -> None:
    folder = add_function(engine, "f", code(COUNTER, 1))
    await engine.invoke("f")
    config = folder / "function.toml"
    config.write_text(config.read_text() + "# a comment\n")
    assert engine.reload([config]) == []
    assert (await payload(engine, "f"))["calls"] == 2  # still warm


async def test_a_config_change_restarts_with_the_new_settings(engine: Engine) -> None:
    memory = """
def handler(event, context):
    return context.memory_limit_in_mb
"""
    folder = add_function(engine, "f", memory, memory_size=128)
    assert (await engine.invoke("f")).payload == b'"128"'
    make_function(engine.roots[0], "f", memory, memory_size=512)
    [event] = engine.reload([folder / "function.toml"])
    assert event.change == "config"
    result = await engine.invoke("f")
    assert result.payload == b'"512"' and result.record.cold


async def test_renaming_a_function_in_its_config(engine: Engine) -> None:
    folder = add_function(engine, "f", code(COUNTER, 1))
    await engine.invoke("f")
    config = folder / "function.toml"
    config.write_text('name = "g"\n' + config.read_text())
    changes = {e.function: e.change for e in engine.reload([config])}
    assert changes == {"f": "removed", "g": "added"}
    assert not engine.environments("f")
    with pytest.raises(ResourceNotFound):
        await engine.invoke("f")
    assert (await payload(engine, "g"))["version"] == 1


async def test_a_layer_change_reloads_the_functions_using_it(engine: Engine) -> None:
    layer = make_layer(engine.roots[0], "common", "common", "WORD = 'one'\n")
    add_function(engine, "f", LAYER_USER.format(module="common"), layers=["../layers/common"])
    add_function(engine, "other", code(COUNTER, 1))
    await engine.invoke("other")
    assert (await engine.invoke("f")).payload == b'"one"'
    layer.write_text("WORD = 'two'\n")
    [event] = engine.reload([layer])
    assert (event.function, event.change) == ("f", "code")
    assert (await engine.invoke("f")).payload == b'"two"'
    assert (await payload(engine, "other"))["calls"] == 2  # untouched, still warm


async def test_a_syntax_error_in_a_module_the_handler_does_not_import(engine: Engine) -> None:
    """Reported at once; the function still runs, as it would on Lambda."""
    folder = add_function(engine, "f", code(COUNTER, 1))
    (folder / "unused.py").write_text("x = (\n")
    [event] = engine.reload([folder / "unused.py"])
    assert event.problem is not None and event.problem.file == folder / "unused.py"
    assert (await payload(engine, "f"))["version"] == 1
    (folder / "unused.py").unlink()
    [event] = engine.reload([folder / "unused.py"])
    assert event.problem is None and engine.problem("f") is None


async def test_a_broken_handler_module_is_reported_at_start(
    function_root: Path, engine_settings: EngineSettings
) -> None:
    make_function(function_root, "f", "def handler(:\n")
    engine_settings.watch = True
    async with Engine([function_root], engine_settings) as engine:
        problem = engine.problem("f")
        assert problem is not None and problem.kind == "syntax" and problem.line == 1


async def test_reload_events_reach_subscribers_with_the_shutdown(engine: Engine) -> None:
    folder = add_function(engine, "f", code(COUNTER, 1))
    await engine.invoke("f")
    events = engine.subscribe()
    (folder / "app.py").write_text(code(COUNTER, 2))
    engine.reload([folder / "app.py"])
    seen = events.get_nowait()
    shutdowns = [e for e in seen if isinstance(e, EnvironmentEvent) and e.phase == "shutdown"]
    assert [e.reason for e in shutdowns] == ["reload"]
    assert [e.change for e in seen if isinstance(e, FunctionReloaded)] == ["code"]


async def test_a_reload_mid_flight_keeps_concurrency_accounting_right(engine: Engine) -> None:
    """Reserved concurrency changed while an invocation runs: counts still return to zero."""
    folder = add_function(engine, "f", code(SLOW, 1), timeout=30)
    events = engine.subscribe()
    slow = asyncio.create_task(engine.invoke("f", '{"sleep": 0.5}'))
    await next_event(events, InvokeStart)
    assert engine.total_in_flight == 1  # mid-flight
    make_function(engine.roots[0], "f", code(SLOW, 1), timeout=30, reserved_concurrency=5)
    engine.reload([folder / "function.toml"])
    await slow
    assert engine.total_in_flight == 0 and engine.concurrency.unreserved_in_flight == 0
    started = time.monotonic()
    results = await asyncio.gather(*(engine.invoke("f") for _ in range(5)))
    assert all(r.function_error is None for r in results), time.monotonic() - started


async def test_a_broken_function_that_is_deleted_is_reported_removed(engine: Engine) -> None:
    folder = make_function(engine.roots[0], "f", code(COUNTER, 1), timeout=0)
    engine.load_functions()
    assert "f" in engine.problems
    config = folder / "function.toml"
    config.write_text(config.read_text() + "# still broken\n")
    [again] = engine.reload([config])  # saved, still broken: said again
    assert (again.change, again.problem and again.problem.kind) == ("config", "config")
    shutil.rmtree(folder)
    [event] = engine.reload([folder / "app.py", config])
    assert (event.function, event.change, event.problem) == ("f", "removed", None)
    assert "f" not in engine.problems
