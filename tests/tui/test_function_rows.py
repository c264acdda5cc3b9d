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
