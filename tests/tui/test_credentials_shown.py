"""The TUI says when a function's handlers hold this machine's AWS credentials (issue 16)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from tests.helpers import make_function
from tests.tui.pilot import wait_until
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.functions import FunctionsPane

CODE = "def handler(event, context):\n    return 1\n"
WARNING = "AWS credentials: this machine's (its SDK calls reach real AWS)"


def detail(app: WorkbenchApp) -> str:
    return str(app.query_one("#function-detail", Static).content)


async def select(app: WorkbenchApp, pilot, key: str) -> None:
    pane = app.query_one(FunctionsPane)
    await wait_until(pilot, lambda: key in [r.key for r in pane.all_rows()])
    pane.select(key)
    await wait_until(pilot, lambda: detail(app).startswith(key))


async def test_a_function_with_host_credentials_is_marked(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "local", CODE)
    make_function(root, "real", CODE, aws_credentials="host")
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        await select(app, pilot, "real")
        assert WARNING in detail(app)
        await select(app, pilot, "local")
        assert "AWS credentials" not in detail(app)


async def test_aws_credentials_host_marks_every_function_but_a_local_one(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "plain", CODE)
    make_function(root, "pinned", CODE, aws_credentials="local")
    app = WorkbenchApp([root], state_dir=tmp_path / "state", aws_credentials="host")
    async with app.run_test(size=(160, 45)) as pilot:
        await select(app, pilot, "plain")
        assert WARNING in detail(app)
        await select(app, pilot, "pinned")
        assert "AWS credentials" not in detail(app)
