"""The functions pane's detail text (widgets/function_rows.py), from an engine's public state."""

from __future__ import annotations

import sys
from pathlib import Path

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
