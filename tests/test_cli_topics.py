"""``workbench publish-message`` as a user runs it: a real subprocess, a real serve."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import make_function, until_sync
from tests.test_cli_serve import start_serve
from workbench.engine import Engine, EngineSettings

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def publish(root: Path, state: Path, *args: str, stdin: bytes | None = None):
    return subprocess.run(
        [sys.executable, "-m", "workbench", "publish-message", "-r", str(root)]
        + ["--state-dir", str(state), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    for name in ("audit", "mailer"):
        make_function(
            root,
            name,
            RECORDER,
            environment={"OUT": str(tmp_path / f"{name}.jsonl")},
            triggers=[{"type": "sns", "topic": "orders"}],
        )
    return root


def queued(root: Path, state: Path) -> list:
    async def read() -> list:
        async with Engine([root], EngineSettings(state_dir=state)) as engine:
            return engine.async_events()

    return asyncio.run(read())


def test_published_events_wait_for_a_serve_then_run(root: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = publish(
        root, state, "orders", "-", "--subject", "hi", "-a", "kind=retail", stdin=b"from stdin"
    )
    assert done.returncode == 0, done.stderr
    message_id = done.stdout.decode().strip()
    assert re.fullmatch(UUID, message_id)
    assert "no workbench is running" in done.stderr.decode()  # nobody will run them yet
    rows = queued(root, state)
    assert sorted((r.function, r.status, r.trigger) for r in rows) == [
        ("audit", "queued", "sns:orders"),
        ("mailer", "queued", "sns:orders"),
    ]

    proc, _, _ = start_serve(root, state, "--time-scale", "0.001")
    try:
        for name in ("audit", "mailer"):
            out = tmp_path / f"{name}.jsonl"
            # (the handler's open() makes the file before its line is written: wait for the line)
            until_sync(
                lambda out=out: out.exists() and out.read_text().endswith("\n"),
                f"{name} to run",
                timeout=30,
                step=0.05,
            )
            [event] = [json.loads(x) for x in out.read_text().splitlines()]
            sns = event["Records"][0]["Sns"]
            assert sns["MessageId"] == message_id and sns["Message"] == "from stdin"
            assert sns["Subject"] == "hi"
            assert sns["MessageAttributes"] == {"kind": {"Type": "String", "Value": "retail"}}

        # with serve running: no warning, and the next message runs at once
        again = publish(root, state, "orders", "second")
        assert again.returncode == 0 and again.stderr == b""
        out = tmp_path / "audit.jsonl"
        until_sync(
            lambda: len(out.read_text().splitlines()) >= 2, "the second", timeout=30, step=0.05
        )
        assert json.loads(out.read_text().splitlines()[1])["Records"][0]["Sns"]["Message"] == (
            "second"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("nope", "m"),
            "NotFound: Topic does not exist: 'nope'; topics (from the sns triggers): orders",
        ),
        (("orders", ""), "InvalidParameter: Empty message"),
        (("orders", "m", "-a", "novalue"), "--attribute: attribute 'novalue': expected NAME=VALUE"),
        (("orders", "m", "-a", "AWS.x=1"), "InvalidParameter: attribute name 'AWS.x'"),
        (("orders", "m", "--subject", "a\nb"), "InvalidParameter: Subject must not contain"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    root: Path, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    state = tmp_path / "state"
    done = publish(root, state, *args)
    assert done.returncode == 2
    assert done.stdout == b""
    err = done.stderr.decode()
    assert err.startswith(f"workbench: {expected}") and err.count("\n") == 1, err
    assert queued(root, state) == []


def test_an_oversized_message_from_stdin_exits_2(root: Path, tmp_path: Path) -> None:
    done = publish(root, tmp_path / "state", "orders", "-", stdin=b"x" * (256 * 1024 + 1))
    assert done.returncode == 2
    assert b"Message too long: 262145 bytes" in done.stderr
