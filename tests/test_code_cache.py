"""The dataclasses' compiled code kept across starts (``workbench/code_cache.py``): a second
start compiles nothing, its classes are what ``dataclasses`` alone makes, and a bad or missing
file, a read-only machine or the switch that turns it off cost nothing but the compiles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import cache_start

ROOT = Path(__file__).resolve().parent.parent

# a start: the cache, the engine's and the API's classes, and one class checked here
START = """
import dataclasses, json, sys
from workbench import code_cache
if sys.argv[1] == "install":
    code_cache.install()
import workbench.engine, workbench.api.server

@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 2
    tags: tuple = dataclasses.field(default_factory=tuple)

p = Point(1)
try:
    p.x = 3
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
init = Point.__init__.__code__
print(json.dumps({
    "stats": code_cache.stats(),
    "patched": "exec" in vars(dataclasses),
    "repr": repr(p), "eq": p == Point(1, 2, ()), "hash": hash(p) == hash(Point(1)),
    "frozen": frozen,
    "init": [init.co_flags, init.co_code.hex(), init.co_varnames, init.co_filename],
}))
"""


def start(cache: Path | str, *, install: bool = True, **env: str) -> dict:
    return cache_start(START, "WORKBENCH_CODE_CACHE", cache, install=install, timeout=60, **env)


def test_a_second_start_compiles_nothing_and_makes_the_same_classes(tmp_path: Path) -> None:
    cache = tmp_path / "codes"
    first = start(cache)
    known, compiled = first["stats"]
    assert compiled > 300 and known == compiled  # (the engine's and the API's ~110 classes)
    assert cache.stat().st_size > 0
    second = start(cache)
    assert second["stats"] == [known, 0]  # every text found: none made differently per start
    plain = start(cache, install=False)
    assert plain["patched"] is False and plain["stats"] == [0, 0]
    for run in (first, second):
        assert run["patched"] is True
        # what runs is what dataclasses alone compiles: the same code, flags (no __future__ of
        # the cache's own module) and names
        assert run["init"] == plain["init"]
        assert run["repr"] == "Point(x=1, y=2, tags=())"
        assert run["eq"] and run["hash"] and run["frozen"]


def test_a_damaged_or_foreign_file_is_done_without_and_written_anew(tmp_path: Path) -> None:
    cache = tmp_path / "codes"
    start(cache)
    good = cache.read_bytes()
    for bad in (b"", b"not marshal at all", good[:4] + b"\x00" * 64, b"\x00\x00\r\n" + good[4:]):
        cache.write_bytes(bad)
        run = start(cache)
        assert run["stats"][1] > 300 and run["repr"] == "Point(x=1, y=2, tags=())"
        assert start(cache)["stats"][1] == 0  # rewritten whole


def test_off_leaves_dataclasses_alone_and_no_bytecode_writes_no_file(tmp_path: Path) -> None:
    for off in (start("0"), start("off")):  # (0 as the other WORKBENCH_ switches)
        assert off["patched"] is False and off["stats"] == [0, 0]
    cache = tmp_path / "codes"
    run = start(cache, PYTHONDONTWRITEBYTECODE="1")
    assert run["patched"] is True and run["stats"][1] > 300
    assert not cache.exists()
    unwritable = tmp_path / "a-file"  # (its folder cannot be made, even by root)
    unwritable.write_text("")
    run = start(unwritable / "codes")
    assert run["patched"] is True and run["repr"] == "Point(x=1, y=2, tags=())"
    assert unwritable.read_text() == "" and not list(tmp_path.glob("a-file*.tmp"))


def test_the_command_installs_it_and_the_library_does_not(tmp_path: Path) -> None:
    cache = tmp_path / "codes"
    environ = {**os.environ, "WORKBENCH_CODE_CACHE": str(cache)}
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "workbench", "--help"],
        capture_output=True,
        env=environ,
        timeout=60,
        check=True,
    )
    assert cache.stat().st_size > 0  # the CLI's classes, compiled by the command's start
    probe = "import dataclasses, workbench.engine; print(vars(dataclasses).get('exec'))"
    library = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=True,
    )
    assert library.stdout.strip() == "None"


def test_its_exec_given_no_namespaces_uses_its_callers_as_the_builtin_does(tmp_path: Path) -> None:
    code = (
        "import dataclasses\n"
        "from workbench import code_cache\n"
        "code_cache.install()\n"
        "x = 41\n"
        "dataclasses.exec('y = x + 1')\n"
        "print(y, 'exec' in vars(dataclasses))\n"
    )
    environ = {**os.environ, "WORKBENCH_CODE_CACHE": str(tmp_path / "codes")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=60
    )
    assert done.stdout.split() == ["42", "True"], done.stderr
