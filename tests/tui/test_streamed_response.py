"""The response pane shows a streamed response's chunks as they arrive, stamped with the time
since the invocation started, while the handler still runs; the result replaces them."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Static

from tests.tui.pilot import wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.editor import EventEditor

from ..helpers import make_function

STREAMER = """
import os, time
def handler(event, context):
    yield "chunk one"
    for _ in range(6000):  # 60 s, then say the pane never showed chunk one in time
        if os.path.exists(event["gate"]):
            break
        time.sleep(0.01)
    yield " chunk two"
"""


async def test_chunks_show_as_they_arrive(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "streamer", STREAMER, timeout=90)
    gate = tmp_path / "gate"
    app = WorkbenchApp([root], state_dir=tmp_path / "state")

    def body() -> str:
        return str(app.query_one("#response-body", Static).content)

    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(EventEditor).set_text(json.dumps({"gate": str(gate)}))
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "chunk one" in body())
        assert "#1" in body() and " s " in body()  # its number and its time stamp
        assert "invoking" in str(app.query_one("#response-status", Static).content)
        assert not gate.exists()  # the handler is still waiting: chunk one came while it ran
        gate.touch()
        await wait_until(
            pilot, lambda: "success" in str(app.query_one("#response-status", Static).content)
        )
        assert "chunk one chunk two" in body()
