"""In-process hooks: ``sitecustomize`` on the runtime's starting PYTHONPATH (the function's own,
or a folder a wrapper script adds, as OpenTelemetry's ``otel-instrument`` does) is imported
before the handler, as Python's ``site`` would at the interpreter's start; a failing one is
reported and INIT goes on. The task root and the layers' folders are put on the path by Lambda's
bootstrap after the start: a ``sitecustomize.py`` there is not a start hook."""

from __future__ import annotations

import stat
from pathlib import Path

from workbench.engine import Engine, EngineSettings

from ..helpers import add_function, body

HANDLER = """
import os, sys
def handler(event, context):
    return {"hooked": os.environ.get("HOOKED"), "loaded": "sitecustomize" in sys.modules}
"""
HOOK = """
import os
os.environ["HOOKED"] = os.environ.get("HOOKED", "") + "{word}"
print("sitecustomize ran")
"""


def _layer_hook(root: Path, name: str, code: str) -> None:
    hook = root / "layers" / name / "python" / "sitecustomize.py"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(code)


async def test_a_layers_sitecustomize_runs_once_when_pythonpath_names_its_folder(
    engine: Engine, function_root: Path
) -> None:
    _layer_hook(function_root, "otel", HOOK.format(word="layer"))
    opt_python = {"PYTHONPATH": "/opt/python"}
    add_function(engine, "hooked", HANDLER, layers=["../layers/otel"], environment=opt_python)
    add_function(engine, "plain", HANDLER, layers=["../layers/otel"])
    first = await engine.invoke("hooked", b"{}")
    second = await engine.invoke("hooked", b"{}")
    assert first.function_error is None, body(first)
    assert body(first) == {"hooked": "layer", "loaded": True}
    assert body(second) == {"hooked": "layer", "loaded": True}  # warm: not run again
    assert "sitecustomize ran" in first.record.log_lines  # INIT's output, in the log
    assert "sitecustomize ran" not in second.record.log_lines
    # without PYTHONPATH the layer's folder joins the path after the start: no start hook
    assert body(await engine.invoke("plain", b"{}")) == {"hooked": None, "loaded": False}


def _instrument_layer(function_root: Path) -> None:
    """OpenTelemetry's shape: the wrapper puts its own folder on PYTHONPATH and execs."""
    layer = function_root / "layers" / "instrument"
    (layer / "hooks").mkdir(parents=True)
    (layer / "hooks" / "sitecustomize.py").write_text(HOOK.format(word="wrapper"))
    wrapper = layer / "instrument"
    wrapper.write_text(
        '#!/bin/sh\nexport PYTHONPATH="$(dirname "$0")/hooks:$PYTHONPATH"\nexec "$@"\n'
    )
    # executable by all, as Lambda asks of a layer's executables (755): the sandbox's user is
    # not the file's owner
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


async def _invoke_instrumented(engine: Engine, function_root: Path, name: str) -> None:
    """A function behind the instrument layer's wrapper: its hook ran before the handler."""
    _instrument_layer(function_root)
    add_function(
        engine,
        name,
        HANDLER,
        layers=["../layers/instrument"],
        environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/instrument"},
    )
    result = await engine.invoke(name, b"{}")
    assert result.function_error is None, body(result)
    assert body(result) == {"hooked": "wrapper", "loaded": True}


async def test_a_wrapper_scripts_pythonpath_hook_runs(engine: Engine, function_root: Path) -> None:
    await _invoke_instrumented(engine, function_root, "wrapped")


async def test_a_failing_sitecustomize_is_reported_and_init_goes_on(
    engine: Engine, function_root: Path
) -> None:
    _layer_hook(function_root, "broken", "raise ValueError('no collector configured')\n")
    add_function(
        engine,
        "survives",
        HANDLER,
        layers=["../layers/broken"],
        environment={"PYTHONPATH": "/opt/python"},
    )
    result = await engine.invoke("survives", b"{}")
    assert result.function_error is None, body(result)
    assert body(result) == {"hooked": None, "loaded": False}
    log = "\n".join(result.record.log_lines)
    # CPython's own words (site.execsitecustomize)
    assert "Error in sitecustomize; set PYTHONVERBOSE for traceback:" in log
    assert "ValueError: no collector configured" in log


async def test_the_functions_own_sitecustomize_is_not_a_start_hook(engine: Engine) -> None:
    folder = add_function(engine, "own", HANDLER)
    (folder / "sitecustomize.py").write_text(HOOK.format(word="task root"))
    result = await engine.invoke("own", b"{}")
    assert body(result) == {"hooked": None, "loaded": False}


async def test_in_namespaces_too(function_root: Path, tmp_path: Path) -> None:
    """Under the default isolation the layer is at /opt: its hook runs from there."""
    _layer_hook(function_root, "otel", HOOK.format(word="opt"))
    settings = EngineSettings(state_dir=tmp_path / "state", isolation="auto")
    async with Engine([function_root], settings) as engine:
        add_function(
            engine,
            "boxed",
            HANDLER,
            layers=["../layers/otel"],
            environment={"PYTHONPATH": "/opt/python"},
        )
        result = await engine.invoke("boxed", b"{}")
        assert result.function_error is None, body(result)
        assert body(result) == {"hooked": "opt", "loaded": True}
        # the wrapper runs inside too: its own folder is /opt, where it puts its hooks
        await _invoke_instrumented(engine, function_root, "boxedwrap")
        [env] = engine.environments("boxedwrap")
        assert env.namespaced
