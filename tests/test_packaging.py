"""``pip install .`` gives a working workbench: the wheel carries every module, the TUI's
stylesheet, the runtimes and the themes, and the installed command runs from it.

The wheel test builds and installs for real (pip, a fresh venv), so it takes seconds: it is
marked ``slow`` and runs in CI all the same. The dependencies come from this test run's own
environment (a ``.pth`` file), so installing needs no network; building does what a user's
``pip install .`` does (an isolated build, setuptools from the package index).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "workbench"
THEMES = REPO / "themes"
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*~", "*.swp", "*.orig", "*.rej")


def setuptools_config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def source_files(folder: Path) -> list[Path]:
    """The files under ``folder`` a checkout has (not caches, state or editors' files)."""
    return sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and not p.name.endswith(("~", ".swp", ".orig", ".rej"))
    )


def test_every_folder_of_the_package_is_listed_for_the_wheel() -> None:
    # pyproject lists the packages (so that themes/ can be mapped in); a folder missing there
    # would be missing from every installed copy while the editable one works.
    folders = {
        ".".join(d.relative_to(REPO).parts)
        for d in [PACKAGE, *PACKAGE.rglob("*")]
        if d.is_dir() and d.name != "__pycache__"
    }
    listed = set(setuptools_config()["packages"])
    assert folders - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - folders == {"workbench.themes"}
    assert setuptools_config()["package-dir"] == {"workbench.themes": "themes"}


def test_themes_are_found_in_the_repo_for_an_editable_install() -> None:
    from workbench.tui.themes import themes_dir

    assert themes_dir() == THEMES


def dependency_paths() -> list[str]:
    """Where this test run's interpreter finds the workbench's dependencies."""
    paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    paths += site.getsitepackages()
    return list(dict.fromkeys(p for p in paths if Path(p).is_dir()))


# Run by the installed copy: start the TUI headless on the sample functions, quit with ctrl+q,
# and report what a user would see.
TUI_CHECK = """
import asyncio, json, sys
from pathlib import Path

import workbench
from workbench.tui.app import WorkbenchApp
from workbench.tui.themes import themes_dir
from workbench.tui.widgets.functions import FunctionsPane

root, state, theme = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]


async def main() -> dict:
    app = WorkbenchApp([root], state_dir=state, theme=theme)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rows = [row.key for row in app.query_one(FunctionsPane).all_rows()]
        theme_now = app.theme
        await pilot.press("ctrl+q")
        await pilot.pause()
        running = app.is_running
    return {
        "package": workbench.__file__,
        "themes_dir": str(themes_dir()),
        "theme": theme_now,
        "rows": rows,
        "running_after_ctrl_q": running,
    }


print(json.dumps(asyncio.run(main())))
"""


def run(*args: str | Path, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["XDG_CONFIG_HOME"] = str(cwd / "config")  # no theme remembered on this machine
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the workbench installed from its wheel (not editable); its bin/."""
    tmp = tmp_path_factory.mktemp("packaging")
    # build from a copy, so no build/ or egg-info (or stale files in them) come from the repo
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(PACKAGE, source / "workbench", ignore=JUNK)
    shutil.copytree(THEMES, source / "themes", ignore=JUNK)
    dist = tmp / "dist"
    pip = (sys.executable, "-m", "pip")
    built = run(*pip, "wheel", "--no-deps", "-q", "-w", dist, source, cwd=tmp, timeout=300)
    assert built.returncode == 0, f"pip wheel failed:\n{built.stdout}\n{built.stderr}"
    (wheel,) = dist.glob("workbench-*.whl")

    venv = tmp / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp
    )
    deps = Path(purelib.stdout.strip()) / "workbench-test-deps.pth"
    deps.write_text("\n".join(dependency_paths()) + "\n")
    done = run(*pip, "--python", python, "install", "-q", "--no-index", "--no-deps", wheel, cwd=tmp)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    return venv / "bin"


@pytest.mark.slow
def test_the_wheel_carries_the_modules_stylesheet_runtimes_and_themes(installed: Path) -> None:
    (wheel,) = (installed.parents[1] / "dist").glob("workbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"workbench/{p.as_posix()}" for p in source_files(PACKAGE)}
    wanted |= {f"workbench/themes/{p.as_posix()}" for p in source_files(THEMES)}
    assert {
        "workbench/tui/app.tcss",
        "workbench/runtimes/python/bootstrap.py",
        "workbench/runtimes/node/bootstrap.js",
        "workbench/themes/workbench-dark.toml",
    } <= wanted
    assert sorted(wanted - names) == []


@pytest.mark.slow
def test_the_installed_tui_starts_with_its_stylesheet_and_themes(
    installed: Path, tmp_path: Path
) -> None:
    done = run(
        installed / "python",
        "-I",  # not the repo's copy: no current directory, PYTHONPATH or user site
        "-c",
        TUI_CHECK,
        REPO / "sample_functions",
        tmp_path / "state",
        "workbench-light",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    venv = installed.parent
    assert Path(seen["package"]).resolve().is_relative_to(venv.resolve()), seen["package"]
    assert Path(seen["themes_dir"]).resolve().is_relative_to(venv.resolve()), seen["themes_dir"]
    assert seen["theme"] == "workbench-light"
    assert {"hello", "node-hello", "raiser"} <= set(seen["rows"])
    assert seen["running_after_ctrl_q"] is False


@pytest.mark.slow
def test_the_installed_command_invokes_a_function(installed: Path, tmp_path: Path) -> None:
    helped = run(installed / "workbench", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "invoke" in helped.stdout and "generate-event" in helped.stdout
    state = tmp_path / "state"
    root = REPO / "sample_functions"
    done = run(
        installed / "workbench",
        *("-r", root, "--state-dir", state, "invoke", "hello", "--payload", '{"name": "wheel"}'),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"message": "Hello, wheel!"}
    assert "Saying hello to wheel" in done.stderr
    themes = run(installed / "workbench", "--theme", "no-such-theme", str(root), cwd=tmp_path)
    assert themes.returncode == 2
    assert "workbench-dark" in themes.stderr  # the installed themes are the ones offered


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_the_installed_command_runs_a_node_function(installed: Path, tmp_path: Path) -> None:
    done = run(
        installed / "workbench",
        *("-r", REPO / "sample_functions", "--state-dir", tmp_path / "state"),
        *("invoke", "node-hello", "--payload", '{"name": "wheel"}'),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "wheel" in done.stdout
