"""Helpers shared by the test suites: build function folders on disk, compare event shapes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any


def body(result: Any) -> Any:
    """An InvokeResult's payload, parsed (the handler's result, or Lambda's error object)."""
    return json.loads(result.payload)


def report(result: Any) -> str:
    """The invocation's one REPORT line."""
    [line] = [x for x in result.record.log_lines if x.startswith("REPORT ")]
    return line


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


async def until_reaped(pid: int, timeout: float = 10.0) -> None:
    """Until ``pid`` has left the process table: killed *and* reaped (a zombie still counts).

    The engine reaps a killed runtime when its pidfd says it is gone, on the loop but without
    waiting for it, so this is a moment after the shutdown event, not at it.
    """
    import asyncio
    import time

    import psutil

    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid):
        assert time.monotonic() < deadline, f"pid {pid} was not reaped within {timeout} s"
        await asyncio.sleep(0.01)


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
