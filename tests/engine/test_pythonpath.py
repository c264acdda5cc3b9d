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
            "task_root": os.environ["LAMBDA_TASK_ROOT"],
            "runtime_dir": os.environ["LAMBDA_RUNTIME_DIR"]}
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
    # unset, PYTHONPATH becomes the runtime's folder (Lambda's set_default_pythonpath)
    assert layered["env"] == layered["runtime_dir"]
    if isolation == "auto":
        assert layered["env"] == "/var/runtime"
    task = layered["task_root"]
    assert layered["path"][0] == task
    assert layered["path"][1].endswith("/python/lib/python3.11/site-packages")
    assert layered["path"][2].endswith("/python")
    # PYTHONPATH set: its entries (at the task root's src), and the layers left out, as Lambda
    assert src["found"] == {"libmod": None, "srcmod": "src"}
    assert src["path"][0] == src["task_root"]
    assert src["path"][2] == src["task_root"] + "/src"
    assert src["env"] == src["task_root"] + "/src"


PTH_HANDLER = """
import os
def handler(event, context):
    import vendored
    return {"vendored": vendored.WORD, "ran": os.environ.get("PTH_RAN")}
"""


async def test_pth_files_of_the_task_root_are_read(engine: Engine) -> None:
    """The task root is a site directory (Lambda's bootstrap: site.addsitedir): a .pth file's
    folders join the path and its import lines run, before the handler is imported."""
    folder = add_function(engine, "pth", PTH_HANDLER)
    (folder / "deps").mkdir()
    (folder / "deps" / "vendored.py").write_text("WORD = 'from deps'\n")
    (folder / "extra.pth").write_text(
        "# a comment\ndeps\nimport os; os.environ['PTH_RAN'] = 'yes'\nno-such-folder\n"
    )
    result = await engine.invoke("pth", b"{}")
    assert result.function_error is None, body(result)
    assert body(result) == {"vendored": "from deps", "ran": "yes"}
