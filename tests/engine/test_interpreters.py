"""Which interpreter a declared runtime runs on (runtime/interpreters.py), over fake install trees.

The trees are real folders holding real executable files (shell scripts): the finder only reads
names and permissions, and runs a ``node`` found on the PATH once to learn its version.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from workbench.engine.model.records import init_start_line
from workbench.engine.runtime.interpreters import Interpreters, python_version

ENGINE_MINOR = sys.version_info.minor
ENGINE_VERSION = ".".join(map(str, sys.version_info[:3]))


def executable(path: Path, script: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    path.chmod(0o755)
    return path


def pyenv(home: Path, version: str) -> Path:
    major, minor = version.split(".")[:2]
    return executable(home / ".pyenv" / "versions" / version / "bin" / f"python{major}.{minor}")


def finder(home: Path, *path_dirs: Path, **options: str) -> Interpreters:
    environ = {"PATH": ":".join(str(d) for d in path_dirs)}
    return Interpreters(environ=environ, home=home, **options)  # type: ignore[arg-type]


def test_the_declared_python_is_found_in_pyenv_highest_patch_first(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pyenv(home, "3.12.1")
    newest = pyenv(home, "3.12.10")  # numerically, not as text: 10 > 9 > 1
    pyenv(home, "3.12.9")
    pyenv(home, "3.13.0t")  # free-threaded and dev builds are not the declared runtime
    (home / ".pyenv" / "versions" / "3.13-dev" / "bin").mkdir(parents=True)
    found = finder(home).find("python3.12")
    assert found is not None
    assert (found.path, found.version, found.source) == (str(newest), (3, 12, 10), "pyenv")
    assert found.exact and found.notice is None
    assert found.running == "python3.12"
    assert init_start_line(found.running).startswith("INIT_START Runtime Version: python:3.12.v1\t")


def test_path_comes_before_pyenv_and_uv_and_shims_are_skipped(tmp_path: Path) -> None:
    home, bin_dir, shims = tmp_path / "home", tmp_path / "bin", tmp_path / "pyenv-root" / "shims"
    on_path = executable(bin_dir / "python3.12")
    executable(shims / "python3.10")  # pyenv's shim (PYENV_ROOT) would fail or be slow
    executable(tmp_path / "asdf" / "shims" / "python3.9")
    pyenv(home, "3.12.1")
    uv = executable(home / ".local/share/uv/python/cpython-3.10.4-linux-x86_64-gnu/bin/python3.10")
    executable(home / ".local/share/uv/python/cpython-3.13.1+freethreaded-linux/bin/python3.13")
    environ = {
        "PATH": f"{bin_dir}:{shims}:{tmp_path / 'asdf' / 'shims'}",
        "PYENV_ROOT": str(tmp_path / "pyenv-root"),
    }
    (tmp_path / "pyenv-root" / "versions").mkdir()
    found = Interpreters(environ=environ, home=home)
    twelve, ten = found.find("python3.12"), found.find("python3.10")
    assert twelve is not None and (twelve.path, twelve.source) == (str(on_path), "PATH")
    assert twelve.version == (3, 12)  # the name tells the minor; the notice does not need more
    assert ten is not None and (ten.path, ten.version, ten.source) == (str(uv), (3, 10, 4), "uv")
    assert 9 not in found.installed("python") and 13 not in found.installed("python")


def test_uv_install_dir_and_files_that_are_not_executable(tmp_path: Path) -> None:
    home, uv_dir = tmp_path / "home", tmp_path / "uv"
    plain = home / ".pyenv" / "versions" / "3.9.1" / "bin" / "python3.9"
    plain.parent.mkdir(parents=True)
    plain.write_text("not executable")
    uv = executable(uv_dir / "cpython-3.9.18-macos-aarch64-none" / "bin" / "python3.9")
    found = Interpreters(environ={"PATH": "", "UV_PYTHON_INSTALL_DIR": str(uv_dir)}, home=home)
    nine = found.find("python3.9")
    assert nine is not None and (nine.path, nine.source) == (str(uv), "uv")


def test_a_missing_python_runs_on_the_nearest_and_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pyenv(home, "3.13.2")
    pyenv(home, "3.15.0")  # as near to 3.14 as 3.13: the newer one wins the tie
    pyenv(home, "3.7.17")  # older than our runtime client runs on: never chosen
    found = finder(home)
    chosen = found.find("python3.14")
    assert chosen is not None
    assert (chosen.version, chosen.running, chosen.declared) == (
        (3, 15, 0),
        "python3.15",
        "python3.14",
    )
    assert chosen.notice == (
        "python3.14 → running on python 3.15.0 (python3.14 not found: install it with pyenv or uv)"
    )
    assert init_start_line(chosen.running).startswith("INIT_START Runtime Version: python:3.15.v1")
    # 3.7 is too old for our runtime client: python3.8 runs on the engine's own, always there
    assert ENGINE_MINOR < 13
    older = found.find("python3.8")
    assert older is not None and (older.path, older.source) == (sys.executable, "engine")


def test_the_list_is_made_once_per_engine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pyenv(home, "3.13.2")
    found = finder(home)
    first = found.find("python3.13")
    shutil.rmtree(home / ".pyenv")
    pyenv(home, "3.12.4")
    assert found.find("python3.13") == first  # no new scan at the next cold start
    assert found.find("python3.12") is not None and found.find("python3.12").version != (3, 12, 4)
    assert finder(home).find("python3.12").version == (3, 12, 4)  # a new engine looks again


def test_an_explicit_python_runs_every_python_function(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pyenv(home, "3.12.1")
    found = finder(home, python=sys.executable)
    chosen = found.find("python3.12")
    assert chosen is not None and chosen.path == sys.executable and chosen.explicit
    assert chosen.running == f"python3.{ENGINE_MINOR}"
    assert chosen.notice == (
        f"python3.12 → running on python {ENGINE_VERSION} (--python {sys.executable})"
    )
    same = found.find(f"python3.{ENGINE_MINOR}")
    assert same is not None and same.notice is None  # what it declares is what runs
    assert found.find("provided.al2023") is None


def test_node_in_nvm_fnm_volta_and_on_path(tmp_path: Path) -> None:
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    path_node = executable(bin_dir / "node", "#!/bin/sh\necho v20.5.0\n")
    node18 = executable(bin_dir / "node18")
    executable(home / ".nvm/versions/node/v22.1.0/bin/node")
    nvm22 = executable(home / ".nvm/versions/node/v22.3.0/bin/node")
    fnm24 = executable(home / ".local/share/fnm/node-versions/v24.0.1/installation/bin/node")
    volta16 = executable(home / ".volta/tools/image/node/16.20.2/bin/node")
    found = finder(home, bin_dir)
    picks = {r: found.find(r) for r in ("nodejs16.x", "nodejs18.x", "nodejs20.x", "nodejs22.x")}
    picks["nodejs24.x"] = found.find("nodejs24.x")
    assert {r: (i.path, i.source) for r, i in picks.items() if i is not None} == {
        "nodejs16.x": (str(volta16), "volta"),
        "nodejs18.x": (str(node18), "PATH"),
        "nodejs20.x": (str(path_node), "PATH"),
        "nodejs22.x": (str(nvm22), "nvm"),
        "nodejs24.x": (str(fnm24), "fnm"),
    }
    assert picks["nodejs20.x"] is not None and picks["nodejs20.x"].version == (20, 5, 0)
    assert all(i is not None and i.notice is None for i in picks.values())
    nearest = found.find("nodejs26.x")
    assert nearest is not None and nearest.running == "nodejs24.x"
    assert nearest.notice == (
        "nodejs26.x → running on node 24.0.1 (node 26 not found: install it with nvm, fnm or volta)"
    )
    assert init_start_line(nearest.running).startswith("INIT_START Runtime Version: nodejs:24.v1")
    tie = found.find("nodejs19.x")  # 18 and 20 are as near: the newer one
    assert tie is not None and tie.running == "nodejs20.x"


def test_no_node_at_all_and_an_explicit_node(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert finder(home, tmp_path / "empty").find("nodejs20.x") is None  # the launch says so
    node = executable(tmp_path / "custom" / "node", "#!/bin/sh\necho v18.19.1\n")
    chosen = finder(home, node=str(node)).find("nodejs22.x")
    assert chosen is not None and chosen.version == (18, 19, 1) and chosen.running == "nodejs18.x"
    assert chosen.notice == f"nodejs22.x → running on node 18.19.1 (--node {node})"


def test_python_version_of_a_path(tmp_path: Path) -> None:
    assert python_version(sys.executable) == sys.version_info[:2]
    assert python_version("/nowhere/python3.12") == (3, 12)  # the name tells
    script = executable(tmp_path / "py", "#!/bin/sh\necho 3.10.4\n")  # asked once, as `-c`
    assert python_version(str(script)) == (3, 10)


@pytest.mark.parametrize("runtime", ["python3.14", "nodejs24.x"])
def test_the_new_runtimes_are_accepted(tmp_path: Path, runtime: str) -> None:
    from workbench.engine.config.function import RUNTIMES

    assert runtime in RUNTIMES
