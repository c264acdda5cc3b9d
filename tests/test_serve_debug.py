"""``--debug-port`` on ``workbench serve`` and the TUI: parsing, what serve prints, and the
whole path as a user walks it (serve, an SDK call that waits, the IDE attaching)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.dap import DAPClient
from tests.engine.test_ide_attach import free_port_run, interpreter_without_debugpy
from tests.helpers import make_function
from tests.test_cli_serve import refusal, start_serve, until_line
from workbench.cli import build_parser, build_tui_parser
from workbench.cli.serve_text import debug_lines, event_line
from workbench.engine import Engine, EngineSettings, EnvironmentEvent
from workbench.engine.runtime import debug_attach

HELLO = "def handler(event, context):\n    return {'hello': event.get('name')}\n"


def test_debug_port_is_an_option_of_serve_and_the_tui() -> None:
    args = build_parser().parse_args(["serve", "--debug-port", "5000"])
    assert args.debug_port == 5000
    assert build_parser().parse_args(["serve"]).debug_port is None
    assert build_tui_parser().parse_args(["--debug-port", "6000", "root"]).debug_port == 6000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "the debug port must be 1 to 65535, not 0"),
        ("70000", "port must be 0 to 65535 (0: any free port), not 70000"),
        ("x", "not a port number: 'x'"),
    ],
)
def test_a_bad_debug_port_is_one_line_and_exit_2(tmp_path: Path, value: str, message: str) -> None:
    said = refusal(tmp_path, "--debug-port", value, root=False)
    assert f"argument --debug-port: {message}" in said


def test_debug_lines_say_who_waits_and_warn_without_debugpy(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "plain", HELLO)
    make_function(root, "dbg", HELLO, debug="debugpy")
    state = tmp_path / "state"
    engine = Engine([root], EngineSettings(state_dir=state))
    lines = debug_lines(engine)
    assert lines[0] == "debugging: dbg waits for a debugger (debugpy) on 127.0.0.1:5678 or up"
    assert len(lines) == (1 if debug_attach.debugpy_folder(sys.executable) else 2)

    python = interpreter_without_debugpy(tmp_path)
    engine = Engine([root], EngineSettings(state_dir=state, python=python, debug_port=7000))
    assert debug_lines(engine) == [
        "debugging: every Python (debugpy) and Node.js (inspect) environment waits for a "
        "debugger on 127.0.0.1:7000 or the next free port up",
        f"warning: debugpy is not installed for {python}: Python functions under a debugger "
        "fail to start (pip install 'workbench[debug]')",
    ]
    (tmp_path / "empty").mkdir()
    engine = Engine([tmp_path / "empty"], EngineSettings(state_dir=state, python=python))
    assert debug_lines(engine) == []  # nothing to debug: nothing to warn about


def test_the_debug_wait_line() -> None:
    event = EnvironmentEvent("debug_wait", "0123456789abcdef", "dbg", "$LATEST", 0.0, 42, port=5679)
    assert event_line(event) == (
        "dbg ($LATEST, environment 01234567): waiting for a debugger on 127.0.0.1:5679"
    )
    assert event_line(EnvironmentEvent("init_start", "x", "dbg", "$LATEST", 0.0)) is None


@pytest.mark.skipif(debug_attach.debugpy_folder(sys.executable) is None, reason="needs debugpy")
def test_serve_with_debug_port_waits_for_the_ide_then_answers(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "greet", HELLO, timeout=1)  # no debug key: --debug-port does it
    base = free_port_run(2)
    proc, url, output = start_serve(root, tmp_path / "state", "--debug-port", str(base))
    try:
        until_line(output, lambda line: line.startswith("debugging: every Python"))
        answer: list[bytes] = []
        request = urllib.request.Request(
            f"{url}/2015-03-31/functions/greet/invocations", data=b'{"name": "ide"}'
        )
        caller = threading.Thread(
            target=lambda: answer.append(urllib.request.urlopen(request, timeout=60).read())
        )
        caller.start()
        until_line(
            output,
            lambda line: (
                line.startswith("greet ($LATEST, environment ")
                and line.endswith(f"waiting for a debugger on 127.0.0.1:{base}")
            ),
        )

        async def attach() -> None:
            client = await DAPClient.connect(base)
            await client.attach()
            await asyncio.to_thread(caller.join, 30)
            await client.close()

        asyncio.run(attach())
        assert answer and json.loads(answer[0]) == {"hello": "ide"}
        until_line(output, lambda line: line.startswith("REPORT RequestId:"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
