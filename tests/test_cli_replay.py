"""``workbench replay``, run as a user runs it: a real subprocess after a real ``invoke``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import make_function
from tests.test_cli import HELLO, RAISER, run

START = re.compile(r"^START RequestId: (\S+) Version: ", re.M)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO)
    make_function(root, "raiser", RAISER)
    return root


def request_id(stderr: bytes) -> str:
    [found] = START.findall(stderr.decode())
    return found


def test_replay_prints_the_same_response_and_the_link(root: Path) -> None:
    first = run(root, "invoke", "hello", "--payload", '{"name": "Ada"}')
    assert first.returncode == 0, first.stderr
    old = request_id(first.stderr)

    again = run(root, "replay", old)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout == b'{"hello": "Ada"}'
    err = again.stderr.decode()
    new = request_id(again.stderr)
    assert new != old and "handling Ada" in err and "\nREPORT RequestId: " + new in err
    assert err.endswith(f"replay of {old} -> {new}\n")

    by_prefix = run(root, "replay", old[:8])  # as the TUI's log shows it
    assert by_prefix.stdout == first.stdout
    assert f"replay of {old} -> " in by_prefix.stderr.decode()
    logs = run(root, "logs", "hello").stdout.decode()
    assert logs.count("handling Ada") == 3


def test_replay_of_a_failed_invocation_exits_1(root: Path) -> None:
    first = run(root, "invoke", "raiser")
    assert first.returncode == 1
    again = run(root, "replay", request_id(first.stderr))
    assert again.returncode == 1
    error, before = json.loads(again.stdout), json.loads(first.stdout)
    assert error["errorType"] == before["errorType"] == "KeyError"
    assert error["errorMessage"] == before["errorMessage"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("0badc0de-0000-4000-8000-000000000000", "No invocation with request id"),
        ("0badc0de", "No invocation with request id '0badc0de' is recorded in"),
        ("abc", "at least its first 8 characters"),
    ],
)
def test_a_bad_request_id_exits_2_with_one_line(root: Path, given: str, message: str) -> None:
    run(root, "invoke", "hello")
    done = run(root, "replay", given)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert err.startswith("workbench: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert done.stdout == b""
    if "recorded in" in message:
        assert str(root / ".workbench") in err
