"""The TUI while an environment waits for an IDE's debugger: the response pane and the
function's row say where to attach, and the result arrives once the IDE has attached."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.dap import DAPClient
from tests.engine.test_ide_attach import free_port_run
from tests.tui.pilot import wait_until
from workbench.engine.runtime import debug_attach
from workbench.tui.app import WorkbenchApp

from ..helpers import make_function

pytestmark = pytest.mark.skipif(
    debug_attach.debugpy_folder(sys.executable) is None, reason="needs debugpy"
)


def text_of(app: WorkbenchApp, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


def last_cell(app: WorkbenchApp, key: str) -> str:
    return str(app.query_one("#functions-table", DataTable).get_cell(key, "last"))


async def test_the_tui_shows_the_port_until_the_ide_attaches(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(
        root, "dbg", "def handler(event, context):\n    return {'attached': True}\n", timeout=1
    )
    base = free_port_run(1)
    app = WorkbenchApp([root], state_dir=tmp_path / "state", debug_port=base)
    waiting = f"waiting for debugger on 127.0.0.1:{base}"
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: waiting in text_of(app, "#response-status"))
        assert "invoking dbg" in text_of(app, "#response-status")
        assert last_cell(app, "dbg") == f"debugger :{base}"
        assert waiting in text_of(app, "#function-detail")

        client = await DAPClient.connect(base)
        await client.attach()
        await wait_until(pilot, lambda: "Duration" in text_of(app, "#response-status"), 30)
        assert json.loads(text_of(app, "#response-body")) == {"attached": True}
        assert "success" in text_of(app, "#response-status")  # not timed out after 1 s
        await wait_until(pilot, lambda: last_cell(app, "dbg") == "success")
        assert waiting not in text_of(app, "#function-detail")
        await client.close()
