"""The layering rules of DESIGN §1, checked on the code itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNTIMES = REPO / "workbench" / "runtimes"


def packages_loaded_by(modules: str, packages: tuple[str, ...]) -> list[str]:
    """The modules of ``packages`` that importing ``modules`` (a fresh interpreter's
    ``import …`` list) loads."""
    code = (
        f"import sys, {modules}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip())


def test_importing_the_engine_does_not_import_textual() -> None:
    assert packages_loaded_by("workbench.engine", ("textual",)) == []


def test_the_engine_and_the_api_start_without_what_only_some_uses_need() -> None:
    """PyYAML (templates) and tomlkit (writing function.toml) are imported on first use: they
    are ~15 ms of every ``serve`` start where no template is read and nothing is written."""
    assert packages_loaded_by("workbench.engine, workbench.api", ("yaml", "tomlkit")) == []


def test_the_tui_starts_without_pygments() -> None:
    """Pygments (the record screen's and the debugger's highlighting) is imported when they
    first draw code: ~50 ms of the TUI's first frame otherwise."""
    assert packages_loaded_by("workbench.tui.app", ("pygments",)) == []


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import in a file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value.split(".")[0]))
    return found


def runtime_sources() -> list[Path]:
    return sorted(RUNTIMES.rglob("*.py"))


def test_there_are_runtime_sources_to_check() -> None:
    assert RUNTIMES / "python" / "bootstrap.py" in runtime_sources()


@pytest.mark.parametrize("path", runtime_sources(), ids=lambda p: str(p.relative_to(RUNTIMES)))
def test_runtime_code_imports_only_the_standard_library(path: Path) -> None:
    # Code inside the sandbox may not depend on anything installed beside the workbench: it
    # runs with `python -I -S`, without the host's site-packages.
    # Beside the standard library: the runtime's own modules in the same folder, debugpy,
    # which the launch hands over explicitly when an IDE attaches (workbench_debugpy.py), and
    # the user's own start hook, which the bootstrap imports as Python's site does.
    siblings = {p.stem for p in path.parent.glob("*.py")}
    handed_over = {
        "workbench_debugpy.py": {"debugpy"},
        "bootstrap.py": {"sitecustomize"},
    }.get(path.name, set())
    outside = [
        f"{path.name}:{line}: {name}"
        for line, name in imported_modules(path)
        if name not in sys.stdlib_module_names | siblings | handed_over
    ]
    assert outside == []


def test_the_import_check_catches_a_third_party_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nimport psutil\nfrom workbench.engine import Engine\n")
    names = [n for _, n in imported_modules(sample) if n not in sys.stdlib_module_names]
    assert names == ["psutil", "workbench"]
