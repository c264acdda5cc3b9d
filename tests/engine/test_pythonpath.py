"""The handler's module path as Lambda's Python runtime makes it: the task root, the layers'
folders (only when PYTHONPATH is not set: Lambda's bootstrap leaves them out otherwise), the
runtime's folder, then PYTHONPATH's entries, written with Lambda's paths (``/var/task``,
``/opt``), which the workbench maps to the host's when the function runs without namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings

from ..helpers import add_function, body, make_layer

HANDLER = """
import importlib, os, sys
def handler(event, context):
    found = {}
    for name in ("libmod", "srcmod"):
        try:
            found[name] = importlib.import_module(name).WORD
        except ImportError:
            found[name] = None
    return {"found": found, "env": os.environ.get("PYTHONPATH"),
            "path": [p for p in sys.path if "python3" not in p or "site-packages" in p],
            "task_root": os.environ["LAMBDA_TASK_ROOT"]}
"""


def _function(engine: Engine, name: str, **config: object) -> Path:
    make_layer(engine.roots[0], "lib", "libmod", "WORD = 'layer'\n")
    folder = add_function(engine, name, HANDLER, layers=["../layers/lib"], **config)
    (folder / "src").mkdir()
    (folder / "src" / "srcmod.py").write_text("WORD = 'src'\n")
    return folder


@pytest.mark.parametrize("isolation", ["cgroups", "auto"])
async def test_layers_without_pythonpath_and_pythonpath_without_layers(
    function_root: Path, tmp_path: Path, isolation: str
) -> None:
    settings = EngineSettings(state_dir=tmp_path / "state", isolation=isolation)
    async with Engine([function_root], settings) as engine:
        _function(engine, "layered")
        _function(engine, "src", environment={"PYTHONPATH": "/var/task/src"})
        layered = body(await engine.invoke("layered", b"{}"))
        src = body(await engine.invoke("src", b"{}"))
    assert layered["found"] == {"libmod": "layer", "srcmod": None}
    assert layered["env"] is None  # the runtime's own paths are not the handler's PYTHONPATH
    task = layered["task_root"]
    assert layered["path"][0] == task
    assert layered["path"][1].endswith("/python/lib/python3.11/site-packages")
    assert layered["path"][2].endswith("/python")
    # PYTHONPATH set: its entries (at the task root's src), and the layers left out, as Lambda
    assert src["found"] == {"libmod": None, "srcmod": "src"}
    assert src["path"][0] == src["task_root"]
    assert src["path"][2] == src["task_root"] + "/src"
    assert src["env"] == src["task_root"] + "/src"
