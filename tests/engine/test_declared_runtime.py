"""A function runs on the Python it declares (or the nearest one, said plainly), end to end on the
interpreters installed here; each test skips, saying which, when one it needs is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workbench.cli.serve_text import interpreter_lines
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime import Interpreters

from ..helpers import body, make_function

INSTALLED = Interpreters().installed("python")  # as an engine here finds them
ENGINE = f"{sys.version_info.major}.{sys.version_info.minor}"

VERSIONED = """
import logging
import sys

try:
    from onlyhere import WHERE  # the layer's module for this interpreter's version
except ImportError:
    WHERE = None

def handler(event, context):
    print("running on", sys.version)
    logging.getLogger().warning("on %s", "%d.%d" % sys.version_info[:2])
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"version": "%d.%d" % sys.version_info[:2], "layer": WHERE,
            "request": context.aws_request_id, "got": event}
"""


def layer_for_every_version(root: Path) -> str:
    """A layer with a module in ``python/lib/python3.X/site-packages`` for each minor, saying
    which: the runtime must pick its own interpreter's folder."""
    layer = root / "layers" / "versioned"
    for minor in range(8, 16):
        folder = layer / "python" / "lib" / f"python3.{minor}" / "site-packages"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "onlyhere.py").write_text(f'WHERE = "python3.{minor}"\n')
    return "../layers/versioned"


def installed(minor: int) -> None:
    if minor not in INSTALLED:
        pytest.skip(f"python3.{minor} is not installed here (PATH, pyenv, uv)")


@pytest.mark.parametrize("minor", [10, 12, 13])
async def test_a_function_runs_on_the_python_it_declares(
    engine: Engine, function_root: Path, minor: int
) -> None:
    installed(minor)
    layer = layer_for_every_version(function_root)
    make_function(function_root, "versioned", VERSIONED, runtime=f"python3.{minor}", layers=[layer])
    engine.load_functions()

    result = await engine.invoke("versioned", b'{"n": 1}')
    assert result.function_error is None, result.payload
    answer = body(result)
    assert answer["version"] == answer["layer"][6:] == f"3.{minor}"
    assert answer["got"] == {"n": 1} and answer["request"] == result.record.request_id
    lines = result.record.log_lines
    assert lines[0].startswith(f"INIT_START Runtime Version: python:3.{minor}.v1\t")
    assert any(x.startswith(f"running on 3.{minor}.") for x in lines)
    assert any(x.startswith("[WARNING]\t") and x.endswith(f"\ton 3.{minor}") for x in lines)
    # the shared bytecode cache keeps each interpreter's own file (cpython-3XY in its name)
    cached = list((engine.state_dir / "pycache").rglob(f"app.cpython-3{minor}.pyc"))
    assert cached, "no bytecode of the function written by its own interpreter"

    failed = await engine.invoke("versioned", b'{"fail": true}')  # warm, same environment
    error = body(failed)
    assert failed.function_error == "Unhandled" and not failed.record.cold
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "asked to fail")
    assert error["stackTrace"][-1].startswith('  File "')
    assert ', in handler\n    raise ValueError("asked to fail")\n' in error["stackTrace"][-1]


async def test_a_missing_python_runs_on_the_nearest_and_says_so(
    engine: Engine, function_root: Path
) -> None:
    chosen = engine.interpreters.find("python3.14")
    assert chosen is not None
    if chosen.exact:
        pytest.skip("python3.14 is installed here: nothing is missing")
    make_function(function_root, "future", VERSIONED, runtime="python3.14")
    engine.load_functions()

    result = await engine.invoke("future", b"{}")
    really = f"{chosen.version[0]}.{chosen.version[1]}"
    assert body(result)["version"] == really
    assert result.record.log_lines[0].startswith(
        f"INIT_START Runtime Version: python:{really}.v1\t"
    )
    notice = (
        f"python3.14 → running on {chosen.description} "
        "(python3.14 not found: install it with pyenv or uv)"
    )
    assert chosen.notice == notice
    assert interpreter_lines(engine) == [f"runtime: future: {notice}"]  # serve's start lines


async def test_an_explicit_python_wins_over_the_declared_one(
    function_root: Path, tmp_path: Path
) -> None:
    make_function(function_root, "pinned", VERSIONED, runtime="python3.12")
    settings = EngineSettings(state_dir=tmp_path / "state", python=sys.executable)
    async with Engine([function_root], settings) as engine:
        result = await engine.invoke("pinned", b"{}")
        assert body(result)["version"] == ENGINE
        assert result.record.log_lines[0].startswith(
            f"INIT_START Runtime Version: python:{ENGINE}.v1"
        )
        if ENGINE != "3.12":
            assert interpreter_lines(engine) == [
                f"runtime: pinned: python3.12 → running on python "
                f"{'.'.join(map(str, sys.version_info[:3]))} (--python {sys.executable})"
            ]


NEWER_SYNTAX = """
type Pair = tuple[int, int]

def first[T](items: list[T]) -> T:
    return items[0]

def handler(event, context):
    return first([3, 4])
"""


async def test_code_for_a_newer_python_is_not_called_a_syntax_error(tmp_path: Path) -> None:
    # hot reload compiles each save with the engine's own Python: 3.12 syntax is not its error,
    # so what the engine's compile refuses is checked again by the function's own Python
    newer = [minor for minor in INSTALLED if minor >= 12 and minor > sys.version_info.minor]
    if not newer:
        pytest.skip("no Python 3.12 or newer (than the engine's) is installed here")
    root = tmp_path / "functions"
    make_function(root, "modern", NEWER_SYNTAX, runtime=f"python3.{newer[0]}")
    make_function(root, "broken", "def handler(event, context)\n", runtime=f"python3.{newer[0]}")
    settings = EngineSettings(state_dir=tmp_path / "state", watch=True)
    async with Engine([root], settings) as engine:
        assert engine.problem("modern") is None
        broken = engine.problem("broken")  # a real error is still shown at once, by 3.12+
        assert broken is not None and broken.line == 1 and "SyntaxError" in broken.message
        assert body(await engine.invoke("modern", b"{}")) == 3
        failed = await engine.invoke("broken", b"{}")  # its own interpreter still says so
        assert body(failed)["errorType"] == "Runtime.UserCodeSyntaxError"
