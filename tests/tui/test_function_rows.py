"""The functions pane's detail text (widgets/function_rows.py), from an engine's public state."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings
from workbench.tui.widgets.function_rows import detail, function_rows

from ..helpers import make_function

HELLO = "def handler(event, context):\n    return 'hi'\n"


def test_the_detail_says_when_a_function_runs_on_another_python(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "future", HELLO, runtime="python3.14")
    make_function(root, "own", HELLO, runtime=f"python3.{sys.version_info.minor}")
    settings = EngineSettings(state_dir=tmp_path / "state", python=sys.executable)
    rows = {row.name: row for row in function_rows(Engine([root], settings))}
    patch = ".".join(map(str, sys.version_info[:3]))
    notice = f"python3.14 → running on python {patch} (--python {sys.executable})"
    assert rows["future"].runs_on == notice
    assert detail(rows["future"]).plain.splitlines()[2] == notice
    assert rows["own"].runs_on is None and "running on" not in detail(rows["own"]).plain


def test_a_template_function_says_where_it_came_from_and_what_is_not_run_here(
    tmp_path: Path,
) -> None:
    from workbench.tui.widgets.function_rows import cells

    from ..template_projects import make_sam_project

    root = make_sam_project(tmp_path / "app")
    make_function(root / "functions", "plain", HELLO)
    engine = Engine([root], EngineSettings(state_dir=tmp_path / "state"))
    rows = {row.name: row for row in function_rows(engine)}
    name_cell = cells(rows["ItemsFunction"])[0]
    assert str(name_cell) == "ItemsFunction ·template.yaml"
    text = detail(rows["ItemsFunction"]).plain
    assert "from template.yaml: ItemsFunction" in text
    assert "  event Stream (Kinesis): not run here" in text
    # a folder's function: no origin line, no marker
    assert cells(rows["plain"])[0] == "plain"
    assert "from " not in detail(rows["plain"]).plain


def test_a_second_definition_of_a_name_is_a_row_of_its_own(tmp_path: Path) -> None:
    from workbench.tui.widgets.function_rows import cells

    # the second folder's problem is keyed by the name the first one loaded under: one row each
    root = tmp_path / "functions"
    for folder in ("a", "b"):
        make_function(root, folder, HELLO)
        (root / folder / "function.toml").write_text('name = "same"\nhandler = "app.handler"\n')
    rows = function_rows(Engine([root], EngineSettings(state_dir=tmp_path / "state")))
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys)) == 2
    loaded, duplicate = rows
    assert (loaded.name, loaded.config is not None) == ("same", True)
    assert duplicate.label == "same (2)" and str(cells(duplicate)[0]) == "same (2)"
    assert duplicate.last_status == "config error"
    said = detail(duplicate).plain
    assert "duplicate function name 'same'" in said and str(root / "b" / "function.toml") in said


async def test_the_tui_opens_on_a_root_with_a_name_defined_twice(tmp_path: Path) -> None:
    # it crashed at mount (DataTable.DuplicateKey), as on a /tmp full of test folders
    from textual.widgets import DataTable

    from workbench.tui.app import WorkbenchApp

    root = tmp_path / "functions"
    for folder in ("a", "b"):
        make_function(root, folder, HELLO)
        (root / folder / "function.toml").write_text('name = "same"\nhandler = "app.handler"\n')
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = app.query_one("#functions-table", DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert names == ["same", "same (2)"]


async def test_invoking_a_second_definition_says_its_configuration_is_invalid(
    tmp_path: Path,
) -> None:
    from workbench.engine import FunctionNotReady

    root = tmp_path / "functions"
    for folder in ("a", "b"):
        make_function(root, folder, HELLO)
        (root / folder / "function.toml").write_text('name = "same"\nhandler = "app.handler"\n')
    async with Engine([root], EngineSettings(state_dir=tmp_path / "state")) as engine:
        _, duplicate = function_rows(engine)
        with pytest.raises(FunctionNotReady, match="duplicate function name 'same'"):
            await engine.invoke(duplicate.key, b"{}")
        assert (await engine.invoke("same", b"{}")).payload == b'"hi"'  # the first one runs
