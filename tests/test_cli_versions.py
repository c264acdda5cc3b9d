"""``workbench publish``, ``versions``, ``alias`` and qualified ``invoke``, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import make_function

CODE = """
VERSION = {version}
def handler(event, context):
    return {{"code": VERSION, "version": context.function_version}}
"""


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "-r", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run(root, *args)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "f", CODE.format(version=1), description="the f")
    return root


def save(root: Path, version: int) -> None:
    (root / "f" / "app.py").write_text(CODE.format(version=version))


def test_publish_prints_the_version_number(root: Path) -> None:
    first = ok(root, "publish", "f", "-d", "first")
    assert first.stdout == "1\n"
    assert "published f version 1" in first.stderr and "CodeSha256" in first.stderr
    again = ok(root, "publish", "f")
    assert again.stdout == "1\n" and "neither code nor configuration changed" in again.stderr
    save(root, 2)
    assert ok(root, "publish", "f").stdout == "2\n"
    listing = ok(root, "versions", "f").stdout.splitlines()
    assert listing[0].split() == ["VERSION", "CODESHA256", "SIZE", "CREATED", "DESCRIPTION"]
    assert listing[1].split()[0] == "1" and listing[1].endswith("first")
    assert listing[2].split()[0] == "2" and listing[2].endswith("the f")


def test_invoke_a_version_and_an_alias(root: Path) -> None:
    ok(root, "publish", "f")
    save(root, 2)
    ok(root, "publish", "f")
    save(root, 3)
    one = ok(root, "invoke", "f:1")
    assert json.loads(one.stdout) == {"code": 1, "version": "1"}
    assert " Version: 1" in one.stderr
    assert json.loads(ok(root, "invoke", "f").stdout) == {"code": 3, "version": "$LATEST"}

    created = ok(root, "alias", "create", "f", "live", "--version", "1", "--weight", "2=0.25")
    assert created.stdout.splitlines()[0].split() == ["ALIAS", "VERSION", "ROUTING", "DESCRIPTION"]
    assert created.stdout.splitlines()[1].split() == ["live", "1", "(75%)", "2:", "0.25", "(25%)"]
    listing = ok(root, "alias", "list", "f").stdout
    assert "live" in listing and "2: 0.25 (25%)" in listing and "1 (75%)" in listing
    ok(root, "alias", "update", "f", "live", "--version", "2", "--no-weight")
    assert json.loads(ok(root, "invoke", "f:live").stdout) == {"code": 2, "version": "2"}
    ok(root, "alias", "delete", "f", "live")
    assert ok(root, "alias", "list", "f").stderr == "f has no aliases\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("publish", "ghost"), "ResourceNotFoundException: Function not found: arn:"),
        (("invoke", "f:9"), "ResourceNotFoundException: Function not found: arn:"),
        (("invoke", "f:nope"), "ResourceNotFoundException: Function not found: arn:"),
        (("alias", "create", "f", "123", "--version", "1"), "ValidationException: 1 validation"),
        (("alias", "create", "f", "live", "--version", "7"), "function:f:7"),
        (("alias", "create", "f", "live", "-v", "1", "-w", "2=1.5"), "less than or equal to 1.0"),
        (("alias", "create", "f", "live", "-v", "1", "-w", "2"), "expected VERSION=WEIGHT"),
        (("alias", "create", "f", "live", "-v", "1", "-w", "2=lots"), "must be a number"),
        (("alias", "create", "f", "live", "-v", "1", "-w", "2=0.1", "-w", "3=0.1"), "at most one"),
        (("alias", "create", "f", "live", "-v", "$LATEST", "-w", "2=0.1"), "not $LATEST"),
        (("alias", "update", "f", "nope", "-v", "1"), "Alias not found: arn:"),
        (("alias", "update", "f", "live"), "nothing to update"),
        (("alias", "update", "f", "live", "-w", "2=0.1", "--no-weight"), "not both"),
        (("alias", "delete", "f", "nope"), "ResourceNotFoundException: Alias not found"),
        (("versions", "ghost"), "Function not found"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    root: Path, args: tuple[str, ...], message: str
) -> None:
    ok(root, "publish", "f")
    save(root, 2)
    ok(root, "publish", "f")
    done = run(root, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert done.stderr.startswith("workbench: ") and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert ok(root, "alias", "list", "f").stderr == "f has no aliases\n"  # nothing was created
