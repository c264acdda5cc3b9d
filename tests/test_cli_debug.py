"""``workbench invoke NAME --debug``: pdb on the terminal, driven here by a scripted stdin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import make_function
from tests.test_cli import run

BREAKER = """
def handler(event, context):
    print("handling")
    breakpoint()
    greeting = "hello " + event.get("name", "world")
    return {"greeting": greeting}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "breaker", BREAKER)
    return root


def test_p_event_then_c_shows_the_event_and_returns_the_response(root: Path) -> None:
    done = run(
        root, "invoke", "breaker", "--debug", "--payload", '{"name": "Ada"}', stdin=b"p event\nc\n"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    app = root / "breaker" / "app.py"
    assert out.startswith(f"> {app.resolve()}(4)handler()\n-> greeting = ")
    assert "(Pdb) {'name': 'Ada'}\n(Pdb) \n" in out
    # pdb's session first, then the response as usual, on a line of its own
    assert out.endswith('\n{"greeting": "hello Ada"}')
    log = done.stderr.decode()
    assert "handling" in log and "REPORT RequestId: " in log
    assert "skipped" not in log
    assert "\nPaused at the debugger " in log and "(not in Duration, not billed)" in log


def test_next_steps_line_by_line(root: Path) -> None:
    done = run(root, "invoke", "breaker", "--debug", stdin=b"n\np greeting\nc\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "(4)handler()" in out and "(5)handler()\n-> return " in out
    assert "(Pdb) 'hello world'\n" in out
    assert out.endswith('{"greeting": "hello world"}')


def test_end_of_input_detaches_and_the_handler_runs_on(root: Path) -> None:
    done = run(root, "invoke", "breaker", "--debug", stdin=b"")
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().endswith('(Pdb) \n{"greeting": "hello world"}')
    assert "debugger: end of input, detached" in done.stderr.decode()


def test_quit_fails_the_invocation_with_bdbquit(root: Path) -> None:
    done = run(root, "invoke", "breaker", "--debug", stdin=b"q\n")
    assert done.returncode == 1
    error = json.loads(done.stdout.decode().rpartition("\n")[2])
    assert error["errorType"] == "BdbQuit"
    assert "[ERROR] BdbQuit" in done.stderr.decode()


def test_without_debug_the_breakpoint_is_skipped_with_a_warning(root: Path) -> None:
    done = run(root, "invoke", "breaker", stdin=b"")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b'{"greeting": "hello world"}'
    log = done.stderr.decode()
    assert "Paused at the debugger" not in log
    assert "breakpoint() at app.py:3 skipped: no debugger is attached" in log
    assert "`workbench invoke breaker --debug`" in log


def test_debug_with_async_or_an_event_on_stdin_is_an_error(root: Path) -> None:
    done = run(root, "invoke", "breaker", "--debug", "--async")
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1
    assert "--debug" in done.stderr.decode() and "--async" in done.stderr.decode()
    done = run(root, "invoke", "breaker", "--debug", "--event", "-", stdin=b"{}")
    assert done.returncode == 2
    assert "reads pdb's commands from stdin" in done.stderr.decode()


def test_an_unknown_function_with_debug_is_one_line(root: Path) -> None:
    done = run(root, "invoke", "nope", "--debug", stdin=b"")
    assert done.returncode == 2
    assert b"Traceback" not in done.stderr
    assert b"ResourceNotFoundException" in done.stderr or b"not found" in done.stderr


def test_replay_debug_stops_at_the_breakpoint_with_the_original_event(root: Path) -> None:
    first = run(root, "invoke", "breaker", "--payload", '{"name": "Ada"}')
    assert first.returncode == 0, first.stderr
    request_id = first.stderr.decode().split("START RequestId: ")[1].split()[0]
    done = run(root, "replay", request_id, "--debug", stdin=b"p event\nc\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "(Pdb) {'name': 'Ada'}\n" in out
    assert out.endswith('{"greeting": "hello Ada"}')
    assert f"replay of {request_id} -> " in done.stderr.decode()
