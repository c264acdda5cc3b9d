"""Re-run on save in the TUI, driven by Pilot: ``w`` on a function, a real save, the compare view.

A real engine with the real watcher and real runtimes; waits poll the app's own state.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from tests.tui.pilot import wait_until
from workbench.engine.invoke.response_diff import CHANGED
from workbench.tui.app import WorkbenchApp
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.widgets.editor import EventEditor
from workbench.tui.widgets.functions import FunctionsPane
from workbench.tui.widgets.response_diff import ResponseDiffView

from ..helpers import make_function

GREET = """
def handler(event, context):
    return {{"greeting": "hello " + str(event.get("name")), "version": {version}}}
"""


def greet(version: int) -> str:
    return GREET.format(version=version).lstrip("\n")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "greet", greet(1), timeout=5)
    make_function(root, "other", greet(1), timeout=5)
    return root


def text_of(app: WorkbenchApp, selector: str) -> str:
    return str(app.query_one(selector, Static).content)


def name_cell(app: WorkbenchApp, key: str) -> str:
    table = app.query_one("#functions-table", DataTable)
    return str(table.get_cell(key, "name"))


async def test_w_reruns_the_last_event_on_save_and_shows_both_responses(
    root: Path, tmp_path: Path
) -> None:
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    app_py = root / "greet" / "app.py"
    async with app.run_test(size=(160, 45)) as pilot:
        await app.engine.wait_watching()
        pane = app.query_one(FunctionsPane)
        pane.select("greet")
        await pilot.pause()
        app.query_one(EventEditor).set_text('{"name": "ada"}')
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Duration" in text_of(app, "#response-status"))
        app.query_one("#functions-table").focus()
        app.query_one(EventEditor).set_text('{"name": "not this one"}')  # not re-run: not sent

        await pilot.press("w")
        await wait_until(pilot, lambda: "↻" in name_cell(app, "greet"))
        assert "↻" not in name_cell(app, "other")
        assert "re-run on save: on" in text_of(app, "#function-detail")
        # it runs once at once, as `workbench watch` does, with the event last sent
        assert app.engine.store is not None
        await wait_until(pilot, lambda: app.engine.store.count("greet") == 2)
        [first] = app.engine.store.recent("greet", 1)
        assert first.trigger == "tui" and first.request == '{"name": "ada"}'
        await wait_until(pilot, lambda: "Duration" in text_of(app, "#response-status"))
        assert '"version": 1' in text_of(app, "#response-body")
        view = app.query_one(ResponseDiffView)
        assert not view.display  # nothing saved yet: its response alone

        app_py.write_text(greet(2))
        await wait_until(pilot, lambda: view.display and view.diff is not None)
        diff = view.diff
        assert diff is not None
        changed = [(r.left, r.right) for r in diff.rows if r.mark != "same"]
        assert changed == [('  "version": 1', '  "version": 2')]
        assert [r.mark for r in diff.rows if r.left and "version" in r.left] == [CHANGED]
        summary = text_of(app, "#response-diff-summary")
        assert "↻ re-run on save after app.py" in summary and "1 line differ" in summary
        assert not app.query_one("#response-scroll").display  # the compare view instead
        assert "success" in text_of(app, "#response-status")
        [record] = app.engine.store.recent("greet", 1)
        assert record.trigger == "rerun" and record.request == '{"name": "ada"}'
        assert json.loads(record.response)["version"] == 2

        # a broken save: said in the pane, not invoked
        app_py.write_text("def handler(event, context)\n    return 1\n")
        await wait_until(pilot, lambda: "Not re-run" in text_of(app, "#response-body"))
        assert "expected ':'" in text_of(app, "#response-body")
        assert app.engine.store.count("greet") == 3
        # the next good save is compared with the last good response
        app_py.write_text(greet(3))
        await wait_until(pilot, lambda: view.display and app.engine.store.count("greet") == 4)
        await wait_until(pilot, lambda: view.diff is not diff)
        assert [(r.left, r.right) for r in view.diff.rows if r.mark != "same"] == [
            ('  "version": 2', '  "version": 3')
        ]

        # an ordinary invocation goes back to the normal view
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.engine.store.count("greet") == 5)
        await wait_until(pilot, lambda: app.query_one("#response-scroll").display)
        assert not view.display

        await pilot.press("w")  # off
        await wait_until(pilot, lambda: "↻" not in name_cell(app, "greet"))
        assert not app.main.reruns.names()


async def test_escape_cancels_a_running_rerun(root: Path, tmp_path: Path) -> None:
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        await app.engine.wait_watching()
        app.query_one(FunctionsPane).select("greet")
        app.query_one("#functions-table").focus()
        await pilot.press("w")
        await wait_until(pilot, lambda: app.main.reruns.names() == {"greet"})
        await wait_until(pilot, lambda: app.engine.store.count("greet") == 1)  # w's own run
        slow = "import time\ndef handler(event, context):\n    time.sleep(30)\n"
        (root / "greet" / "app.py").write_text(slow)
        await wait_until(pilot, lambda: app.engine.function_state("greet").busy)
        [env] = app.engine.function_state("greet").busy
        await wait_until(pilot, lambda: env.state == "busy")  # the handler is sleeping
        assert "invoking greet" in text_of(app, "#response-status")
        await pilot.press("escape")
        await wait_until(pilot, lambda: "Cancelled" in text_of(app, "#response-body"))
        # it was invoked: said cancelled, with how long it ran, and recorded
        assert "cancelled" in text_of(app, "#response-status")
        assert "not invoked" not in text_of(app, "#response-status")
        await wait_until(pilot, lambda: app.engine.store.count("greet") == 2)
        [stopped] = app.engine.store.recent("greet", 1)
        assert stopped.status == "cancelled" and stopped.trigger == "rerun"
        assert stopped.duration_ms > 0
        assert f"Duration {stopped.duration_ms:.2f} ms" in text_of(app, "#response-status")
        await wait_until(pilot, lambda: not app.engine.environments("greet"))


async def test_the_palette_offers_the_toggle(root: Path, tmp_path: Path) -> None:
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        provider = WorkbenchCommands(app.screen)
        [command] = [c for c in provider.commands() if "re-run on save" in c.name]
        assert command.name == "function: Toggle re-run on save" and "(w)" in command.help
        await command.run()  # type: ignore[misc]  # App.run_action, as the palette runs it
        await wait_until(pilot, lambda: app.main.reruns.names() == {"greet"})
