"""Helpers shared by the test suites: build function folders on disk, compare event shapes,
wait on conditions."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")
E = TypeVar("E")

CHECKOUT = Path(__file__).resolve().parents[1]
RUNTIME_DIR = CHECKOUT / "workbench" / "runtimes" / "python"  # (our Python runtime client)
WAIT_S = 20.0  # how long a test waits for something that takes milliseconds on an idle machine


async def until(
    check: Callable[[], T],
    what: str = "the condition",
    *,
    timeout: float = WAIT_S,
    step: float = 0.02,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
    explain: Callable[[], object] | None = None,
) -> T:
    """Poll ``check()`` until it returns something true, and return that; fail after ``timeout``.

    A test waits on the condition that proves the thing happened, never for a fixed time: that is
    as fast as the machine on an idle one and still right on a loaded one. ``pause`` lets time
    pass between checks (a Pilot test passes ``pilot.pause`` so the app keeps handling its
    messages); ``explain()`` adds what was seen instead to the failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"; {explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}")
        await pause(step)


def until_sync(
    check: Callable[[], T],
    what: str = "the condition",
    *,
    timeout: float = WAIT_S,
    step: float = 0.02,
    explain: Callable[[], object] | None = None,
) -> T:
    """``until`` for code with no event loop to yield to (threads, subprocesses)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"; {explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(step)


async def next_event(
    events: Any,
    kind: type[E],
    where: Callable[[E], object] = lambda _: True,
    *,
    timeout: float = WAIT_S,
    passed: list[Any] | None = None,
) -> E:
    """The next engine event of ``kind`` on the subscription ``events`` for which ``where`` is
    true; the events before it are consumed (and appended to ``passed``, if given, for a test
    that asserts on what came before). Fails after ``timeout`` seconds."""

    async def scan() -> E:
        while True:
            event = await events.get()
            if isinstance(event, kind) and where(event):
                return event
            if passed is not None:
                passed.append(event)

    try:
        return await asyncio.wait_for(scan(), timeout)
    except TimeoutError:
        raise AssertionError(f"no {kind.__name__} came in {timeout:g} s") from None


def body(result: Any) -> Any:
    """An InvokeResult's payload, parsed (the handler's result, or Lambda's error object)."""
    return json.loads(result.payload)


def report(result: Any) -> str:
    """The invocation's one REPORT line."""
    [line] = [x for x in result.record.log_lines if x.startswith("REPORT ")]
    return line


def init_retried(result: Any, error_type: str, first_status: str = "error") -> list[str]:
    """Check that the invocation's INIT failed (Phase: init), ran again in the invocation and
    failed again (Phase: invoke) as Lambda's log shows it: one INIT_START, INIT_REPORT Phase:
    init, the retry's output, INIT_REPORT Phase: invoke, then START, END, REPORT whose Duration
    covers the retry (no Init Duration). Returns the two INITs' outputs, each a list of lines."""
    r = result.record
    lines = list(r.log_lines)
    assert lines[0].startswith("INIT_START "), lines
    assert sum(x.startswith("INIT_START ") for x in lines) == 1, lines
    first, retry = [i for i, x in enumerate(lines) if x.startswith("INIT_REPORT ")]
    ms = r"\d+\.\d{2} ms"
    typed = f"\tError Type: {re.escape(error_type)}" if first_status == "error" else ""
    assert re.fullmatch(
        rf"INIT_REPORT Init Duration: {ms}\tPhase: init\tStatus: {first_status}{typed}",
        lines[first],
    ), lines[first]
    retry_type = error_type if first_status == "error" else "Runtime.Unknown"
    assert re.fullmatch(
        rf"INIT_REPORT Init Duration: {ms}\tPhase: invoke\tStatus: error"
        rf"\tError Type: {re.escape(retry_type)}",
        lines[retry],
    ), lines[retry]
    start = lines.index(f"START RequestId: {r.request_id} Version: {r.version}")
    assert first < retry < start < lines.index(f"END RequestId: {r.request_id}")
    line = report(result)
    assert "Init Duration" not in line, line
    assert r.init_duration_ms is None and r.cold
    assert r.init_retry_ms is not None and 0 < r.init_retry_ms <= r.duration_ms
    assert f"\tDuration: {r.duration_ms:.2f} ms\t" in line, line
    return [lines[1:first], lines[first + 1 : retry]]


def toml_value(value: Any) -> str:
    """A TOML literal for a str, bool, int, float or flat table (JSON strings are TOML strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def make_function(root: Path, name: str, code: str, **config: Any) -> Path:
    """Write ``root/name/function.toml`` and ``root/name/app.py``; return the folder.

    ``code`` is dedented. The handler defaults to ``app.handler``; any other keyword becomes a
    ``function.toml`` key (``environment={"K": "v"}`` becomes an inline table). The folder's name
    is the function's name. Calling it again overwrites both files.
    """
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    config.setdefault("handler", "app.handler")
    lines = [f"{key} = {toml_value(value)}" for key, value in config.items()]
    (folder / "function.toml").write_text("\n".join(lines) + "\n")
    (folder / "app.py").write_text(textwrap.dedent(code).lstrip("\n"))
    return folder


def add_function(engine: Any, name: str, code: str, **config: Any) -> Path:
    """``make_function`` in the engine's first root, then have the engine pick it up."""
    folder = make_function(engine.roots[0], name, code, **config)
    engine.load_functions()
    return folder


def make_layer(root: Path, name: str, module: str, code: str) -> Path:
    """A layer folder ``root/layers/name`` holding ``python/<module>.py``; returns the file.

    A function lists it as ``layers = ["../layers/<name>"]``.
    """
    path = Path(root) / "layers" / name / "python" / f"{module}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)
    return path


LAYER_USER = """
import {module}
def handler(event, context):
    return {module}.WORD
"""


async def until_reaped(pid: int, timeout: float = WAIT_S) -> None:
    """Until ``pid`` has left the process table: killed *and* reaped (a zombie still counts).

    The engine reaps a killed runtime when its pidfd says it is gone, on the loop but without
    waiting for it, so this is a moment after the shutdown event, not at it.
    """
    import psutil

    await until(lambda: not psutil.pid_exists(pid), f"pid {pid} to be reaped", timeout=timeout)


# maps keyed by what the user sent, not by the event's own vocabulary
DATA_MAPS = frozenset(
    {
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "messageAttributes",
        "MessageAttributes",
    }
)


def structure(value: object, key: str | None = None) -> object:
    """An event's shape, to compare a live one with a sample: keys in order and nesting, the
    type of each value; a map keyed by the user's data (``DATA_MAPS``) is just a map."""
    if isinstance(value, dict):
        if key in DATA_MAPS:
            return "map"
        return [(k, structure(v, k)) for k, v in value.items()]
    if isinstance(value, list):
        return [structure(v) for v in value]
    return type(value).__name__


def cgroups_here() -> bool:
    """Does this machine give the workbench usable cgroups (runtime/cgroups.py)?"""
    from workbench.engine.runtime.cgroups import Cgroups

    found = Cgroups.detect()
    if isinstance(found, str):
        return False
    found.close()
    return True


def running(pid: int) -> bool:
    """Alive and not a zombie (a SIGKILLed process ends once it is next scheduled)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def tmp_of(env: Any) -> Path:
    """An environment's ``/tmp`` as this (root or same-user) test reads it from outside: its
    TMPDIR, or, in namespaces, its ``/tmp`` through its init's ``/proc/PID/root`` (the host's
    mount of a TMPDIR image is detached once the environment has bound it: tmp_images.py)."""
    import psutil

    if not env.namespaced:
        return Path(env.tmpdir)
    # the first of its processes in the new root: the engine's child itself (its init, or its
    # runtime in its extensions' namespaces), or, where a parent waits outside, that one's child
    host = os.stat("/")
    for proc in [psutil.Process(env.pid), *psutil.Process(env.pid).children(recursive=True)]:
        root = os.stat(f"/proc/{proc.pid}/root")
        if (root.st_dev, root.st_ino) != (host.st_dev, host.st_ino):
            return Path(f"/proc/{proc.pid}/root/tmp")
    raise AssertionError(f"no process of environment {env.id} is in its own root")


def ids_inside(pid: int) -> list[int]:
    """Its pid in each pid namespace it is in, outermost first (``NSpid``)."""
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith("NSpid:"))
    return [int(x) for x in line.split()[1:]]


def memory_kb(pid: int) -> dict[str, int]:
    """``pid``'s memory as ``/proc/PID/smaps_rollup`` sums it (``Rss``, ``Pss``,
    ``Private_Dirty``…), in kB."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return {line.split(":")[0]: int(line.split()[1]) for line in f if line[0].isupper()}


def runtime_module(name: str) -> ModuleType:
    """A module of our Python runtime client (``workbench/runtimes/python/NAME.py``), loaded
    from its file: the runtime's modules are top-level ones on its own ``sys.path``, not the
    ``workbench`` package's."""
    spec = importlib.util.spec_from_file_location(name, RUNTIME_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cache_start(
    script: str, var: str, cache: Path | str, *, install: bool, timeout: float = 120, **env: str
) -> dict[str, Any]:
    """A start of ``script`` (``python -c``; its argument ``install`` or ``plain``) with the
    cache file ``cache`` named by the variable ``var``, bytecode written (unless ``env`` says
    otherwise), from the checkout: what it printed last, as JSON. For the caches kept beside the
    bytecode (``code_cache.py``, ``tui/css_cache.py``)."""
    environ = {**os.environ, var: str(cache)}
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", script, "install" if install else "plain"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=CHECKOUT,
        timeout=timeout,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
