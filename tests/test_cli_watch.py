"""``workbench watch`` as a user runs it: a real process, real saves, ctrl+c to stop."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from tests.helpers import make_function
from tests.test_cli_serve import until_line

GREET = """
def handler(event, context):
    print("greeting", event["name"])
    return {{"hello": event["name"], "version": {version}, "tags": ["a"]}}
"""


def greet(version: int) -> str:
    return GREET.format(version=version)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "greet", greet(1))
    return root


def watch(root: Path, state: Path, *extra: str, columns: int = 120) -> list[str]:
    return [
        sys.executable,
        "-m",
        "workbench",
        "watch",
        *extra,
        "-r",
        str(root),
        "--state-dir",
        str(state),
    ]


def start(
    argv: list[str], stderr: Path, columns: int = 120
) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """The watch, its stdout lines on a queue (read with a timeout, never a hang)."""
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "40"}
    with stderr.open("w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def test_watch_reruns_on_save_shows_the_change_beside_the_previous_and_stops_on_ctrl_c(
    root: Path, tmp_path: Path
) -> None:
    app = root / "greet" / "app.py"
    stderr = tmp_path / "stderr.txt"
    argv = watch(root, tmp_path / "state", "greet", "--payload", '{"name": "ada"}')
    proc, output = start(argv, stderr)
    try:
        first = until_line(output, lambda line: line == "}")
        assert " · first run · success · " in first[0] and first[0].startswith("── ")
        assert json.loads("\n".join(first[1:])) == {"hello": "ada", "version": 1, "tags": ["a"]}

        app.write_text(greet(2))
        saved = until_line(output, lambda line: line.startswith("}"))
        head = saved[0]
        assert " · saved app.py · success · " in head and head.endswith("─")
        assert " ms · cold" in head  # the save retired the warm environment
        assert saved[1].split() == ["previous", "now"]
        assert '  "version": 1,   |   "version": 2,' in saved  # side by side, marked
        assert '  "hello": "ada",     "hello": "ada",' in saved  # unchanged: no marker
        assert not any("\x1b[" in line for line in saved)  # not a terminal: no colour

        app.write_text("def handler(event, context)\n    return 1\n")
        broken = until_line(output, lambda line: line == "not run; waiting for the next save")
        assert " · saved app.py · syntax error " in broken[0]
        assert broken[1] == "app.py:1: SyntaxError: expected ':' (def handler(event, context))"

        app.write_text(greet(2).replace('["a"]', '["a", "b"]'))
        fixed = until_line(output, lambda line: line.startswith("}"))
        assert " · saved app.py · success · " in fixed[0]
        # compared with the last good response, not the broken save
        assert ['"version":', "2,", '"version":', "2,"] in [line.split() for line in fixed]
        assert ['"a"', '"a",'] in [line.split() for line in fixed]
        assert any(line.endswith('>     "b"') for line in fixed)

        children = psutil.Process(proc.pid).children(recursive=True)
        assert children  # the function's environment is warm
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    log = stderr.read_text()
    assert log.startswith("watching greet (")
    assert "after each save it runs the event given again; ctrl+c stops" in log
    assert log.count("greeting ada") == 3  # each run's log, on stderr
    assert log.rstrip().endswith("stopped watching greet")
    assert "Traceback" not in log


def test_watch_without_an_event_reruns_the_last_stored_one(root: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    invoked = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "invoke",
            "greet",
            "--payload",
            '{"name": "stored"}',
            "-r",
            str(root),
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert invoked.returncode == 0, invoked.stderr
    stderr = tmp_path / "stderr.txt"
    proc, output = start(watch(root, state, "greet", "--no-log"), stderr, columns=50)
    try:
        first = until_line(output, lambda line: line == "}")
        assert '  "hello": "stored",' in first
        (root / "greet" / "app.py").write_text(greet(2))
        saved = until_line(output, lambda line: line.startswith("  }"))
        # a narrow terminal: a unified diff
        assert saved[1:] == [
            "  {",
            '    "hello": "stored",',
            '-   "version": 1,',
            '+   "version": 2,',
            '    "tags": [',
            '      "a"',
            "    ]",
            "  }",
        ]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    log = stderr.read_text()
    assert "runs the last stored invocation's (" in log
    assert "greeting" not in log  # --no-log


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["nope"], "workbench: function not found: nope; functions here: greet\n"),
        (
            ["greet:1"],
            "workbench: watch follows a function's $LATEST (what a save changes): give NAME, "
            "not 'greet:1'\n",
        ),
        (
            ["greet", "--payload", "{nope"],
            "workbench: --payload is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)\n",
        ),
    ],
)
def test_watch_refuses_bad_input_with_one_line(
    root: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    done = subprocess.run(
        watch(root, tmp_path / "state", *extra), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr == message
    assert done.stdout == ""
