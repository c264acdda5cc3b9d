"""The ``workbench`` command, run as a user runs it: a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.helpers import make_function, until_sync

HELLO = """
def handler(event, context):
    print("handling", event.get("name"))
    return {"hello": event.get("name", "world")}
"""
RAISER = """
def handler(event, context):
    raise KeyError("missing")
"""
SPAWNER = """
import subprocess, time
def handler(event, context):
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    print("child", child.pid, flush=True)
    time.sleep(60)
"""


def run(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "-r", str(root), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "hello", HELLO)
    make_function(root, "raiser", RAISER)
    make_function(root, "spawner", SPAWNER, timeout=120)
    broken = root / "broken"
    broken.mkdir()
    (broken / "function.toml").write_text('handler = "app.handler"\ntimeout = 0\n')
    return root


def test_invoke_prints_the_payload_exactly_and_the_log_on_stderr(root: Path) -> None:
    done = run(root, "invoke", "hello", "--payload", '{"name": "Ada"}')
    assert done.returncode == 0, done.stderr
    assert done.stdout == b'{"hello": "Ada"}'
    log = done.stderr.decode()
    assert "START RequestId: " in log and "handling Ada" in log and "\nREPORT RequestId: " in log


def test_invoke_event_from_a_file_and_from_stdin(root: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"name": "file"}')
    assert run(root, "invoke", "hello", "--event", str(event)).stdout == b'{"hello": "file"}'
    piped = run(root, "invoke", "hello", "--event", "-", stdin=b'{"name": "pipe"}')
    assert piped.stdout == b'{"hello": "pipe"}'
    assert run(root, "invoke", "hello").stdout == b'{"hello": "world"}'  # no event: {}


def test_function_error_exits_1_with_lambdas_error_object(root: Path) -> None:
    done = run(root, "invoke", "raiser")
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["errorType"] == "KeyError" and error["errorMessage"] == "'missing'"
    assert "[ERROR] KeyError: 'missing'" in done.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoke", "nope"], "ResourceNotFoundException: Function not found: arn:aws:lambda:"),
        (["invoke", "hello", "-p", "{bad"], "InvalidRequestContentException: Could not parse"),
        (["invoke", "broken"], "function.toml:2: timeout = 0: must be an integer from 1 to 900"),
        (["invoke", "hello", "-p", "{}", "-e", "x.json"], "not both"),
        (["invoke", "hello", "-e", "/no/such/event.json"], "cannot read event file"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    root: Path, args: list[str], message: str
) -> None:
    done = run(root, *args)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert done.stdout == b""


@pytest.mark.parametrize("verb", [["invoke", "hello"], ["serve", "--port", "0"]])
def test_a_bad_workbench_cpu_exits_2_with_one_line(
    root: Path, monkeypatch: pytest.MonkeyPatch, verb: list[str]
) -> None:
    monkeypatch.setenv("WORKBENCH_CPU", "half")
    done = run(root, *verb)
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "workbench: WORKBENCH_CPU='half': must be one of proportional, full\n"
    )


def test_a_bad_workbench_network_exits_2_with_one_line(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_NETWORK", "bridge")
    done = run(root, "serve", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "workbench: WORKBENCH_NETWORK='bridge': must be one of auto, none, host\n"
    )


def test_the_command_line_does_not_import_the_http_server() -> None:
    """The whole parser (serve's options included, as `workbench --help` builds it): the
    Lambda API's server, with aiohttp, is imported by the commands that serve it, not by
    `list`."""
    code = (
        "import sys; from workbench.cli import build_parser; build_parser(); "
        "assert 'aiohttp' not in sys.modules and 'workbench.api.server' not in sys.modules, "
        "sorted(m for m in sys.modules if 'aiohttp' in m or 'workbench.api' in m)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_unknown_root_exits_2(tmp_path: Path) -> None:
    done = run(tmp_path / "missing", "list")
    assert done.returncode == 2
    assert done.stderr.decode().startswith("workbench: function root not found:")


def test_every_verb_is_dispatched_to_its_own_parser() -> None:
    # main() chooses between the verbs' parser and the TUI's by the word in VERBS: a verb the
    # parser declares but VERBS lacks would open the TUI with the verb taken for a ROOT.
    from workbench.cli import VERBS, build_parser

    parser = build_parser()
    (verbs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(VERBS) == sorted(verbs.choices)
    assert len(set(VERBS)) == len(VERBS)
    # a command builds its own verb's parser alone: the same parser, and only it
    for verb in VERBS:
        (alone,) = [
            a for a in build_parser(verb)._actions if isinstance(a, argparse._SubParsersAction)
        ]
        assert list(alone.choices) == [verb]
        assert alone.choices[verb].format_help() == verbs.choices[verb].format_help()


@pytest.mark.parametrize(
    ("argv", "engine"),
    [
        ([], True),  # the TUI
        (["sample_functions/"], True),  # the TUI on a root: the README's first command
        (["--state-dir", "s", "a", "b"], True),
        (["-r", "serve"], True),  # (a root named like a verb, after -r)
        (["serve"], True),
        (["serve", "--port", "0", "root"], True),
        (["invoke", "hello"], False),
        (["-r", "root", "list"], False),
        (["--state-dir", "serve", "logs"], False),
    ],
)
def test_serve_and_the_tui_start_their_engines_helpers_first(argv: list[str], engine: bool) -> None:
    # serve and the TUI pause the collector and start the namespaces probe (and an unprivileged
    # engine's network maker) before their imports; `workbench ROOT` once did neither (its ROOT
    # was taken for a verb), so its engine's start waited for the probe
    from workbench.cli import runs_an_engine

    assert runs_an_engine(argv) is engine


def test_list_shows_functions_and_config_errors(root: Path) -> None:
    done = run(root, "list")
    assert done.returncode == 0
    out = done.stdout.decode()
    assert "hello" in out and "python3" in out and "128 MB" in out
    broken = next(line for line in out.splitlines() if line.startswith("broken"))
    assert "config error:" in broken and "timeout = 0" in broken


def test_list_shows_each_functions_triggers(root: Path) -> None:
    triggers = [
        {"type": "s3", "bucket": "uploads"},
        {"type": "http", "path": "/items/{id}", "method": "get"},
        {"type": "schedule", "expression": "rate(5 minutes)", "enabled": False},
    ]
    make_function(root, "wired", HELLO, triggers=triggers)
    out = run(root, "list").stdout.decode()
    wired = next(line for line in out.splitlines() if line.startswith("wired"))
    assert "s3:uploads, http:GET /items/{id}, schedule:rate(5 minutes) (disabled)" in wired
    hello = next(line for line in out.splitlines() if line.startswith("hello "))
    assert hello.split()[-2:] == ["-", "ok"]


def test_logs_come_from_the_store(root: Path) -> None:
    run(root, "invoke", "hello", "-p", '{"name": "one"}')
    run(root, "invoke", "hello", "-p", '{"name": "two"}')
    done = run(root, "logs", "hello", "--tail", "4")
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("START RequestId: ") and lines[1] == "handling two"
    assert lines[2].startswith("END RequestId: ") and lines[3].startswith("REPORT RequestId: ")
    everything = run(root, "logs").stdout.decode()
    assert everything.count("START RequestId: ") == 2
    assert run(root, "logs", "nope").returncode == 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_an_invoke_leaves_no_process_behind(root: Path, signum: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "-r", str(root), "invoke", "spawner"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    cli = psutil.Process(proc.pid)
    sleeper = until_sync(
        lambda: next((p for p in cli.children(recursive=True) if p.name() == "sleep"), None),
        "the handler's child to start",
        step=0.05,
    )
    runtime = [p for p in cli.children(recursive=True) if p.pid != sleeper.pid]
    os.kill(proc.pid, signum)
    proc.wait(timeout=20)
    assert proc.returncode == 128 + signum
    for p in [sleeper, *runtime]:
        assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE


def test_list_says_which_interpreter_each_function_runs_on(root: Path) -> None:
    from workbench.engine.runtime import Interpreters

    make_function(root, "future", HELLO, runtime="python3.14")
    chosen = Interpreters().find("python3.14")
    engine_own = Interpreters().find(f"python3.{sys.version_info.minor}")
    assert chosen is not None and engine_own is not None
    out = run(root, "list").stdout.decode()
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "RUNTIME", "RUNS", "ON"]
    hello = next(line for line in lines if line.startswith("hello "))
    assert hello.split()[1:4] == [
        f"python3.{sys.version_info.minor}",
        "python",
        engine_own.description.split()[1],
    ]
    future = next(line for line in lines if line.startswith("future "))
    if chosen.exact:
        assert "(nearest)" not in future
    else:
        assert f"python3.14  {chosen.description} (nearest)" in future
        assert lines[-1] == f"future: {chosen.notice}"


def test_list_says_which_functions_get_their_own_namespaces(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.engine.runtime.namespaces import probe

    if probe():
        pytest.skip(f"no namespaces here: {probe()}")
    folder = make_function(root, "noder", "", runtime="nodejs20.x", handler="index.handler")
    (folder / "index.mjs").write_text("export const handler = async () => 1;\n")
    # with an external extension, too (it runs in the same namespaces)
    extended = make_function(root, "extended", "")
    (extended / "extensions").mkdir()
    (extended / "extensions" / "ext").write_text("#!/bin/sh\n")
    (extended / "extensions" / "ext").chmod(0o755)
    monkeypatch.setenv("WORKBENCH_ISOLATION", "auto")
    lines = run(root, "list").stdout.decode().splitlines()
    column = lines[0].split().index("NAMESPACES")  # ("RUNS ON", "python 3.x.y": two words)
    cells = {line.split()[0]: line.split()[column] for line in lines[1:4]}
    assert cells == {"extended": "yes", "hello": "yes", "noder": "yes"}
    assert any(line.startswith("namespaces: every function gets its own") for line in lines)
    monkeypatch.setenv("WORKBENCH_ISOLATION", "cgroups")
    lines = run(root, "list").stdout.decode().splitlines()
    assert next(line for line in lines if line.startswith("hello ")).split()[column] == "no"
    assert "namespaces: none (asked for with isolation cgroups)" in lines
    assert "network: the host's (environments get no namespaces here)" in lines
    monkeypatch.setenv("WORKBENCH_ISOLATION", "auto")
    monkeypatch.setenv("WORKBENCH_NETWORK", "host")
    lines = run(root, "list").stdout.decode().splitlines()
    assert "network: the host's (asked for with --network host)" in lines
