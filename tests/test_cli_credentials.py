"""``workbench credentials`` and ``--aws-credentials``, as a user runs them: real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import make_function
from tests.test_cli_serve import start_serve, until_line

AWS_VARIABLES = """
import os
def handler(event, context):
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_") and "_LAMBDA_" not in k}
"""
CALLER = """
import json, os, urllib.request
def handler(event, context):
    url = os.environ["AWS_ENDPOINT_URL_LAMBDA"] + "/2015-03-31/functions/env/invocations"
    with urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=30) as r:
        return json.loads(r.read())
"""
HOST = {"AWS_ACCESS_KEY_ID": "AKIAHOSTKEY000000000", "AWS_SECRET_ACCESS_KEY": "host-secret"}


def workbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "env", AWS_VARIABLES)
    make_function(root, "caller", CALLER)
    return root


def test_credentials_prints_what_handlers_get_as_exports_and_json(
    root: Path, tmp_path: Path
) -> None:
    state = str(tmp_path / "state")
    exports = workbench("credentials", "--state-dir", state)
    assert exports.returncode == 0, exports.stderr
    lines = exports.stdout.splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "export AWS_ACCESS_KEY_ID",
        "export AWS_SECRET_ACCESS_KEY",
        "export AWS_SESSION_TOKEN",
    ]
    # a shell takes them as they are
    shell = subprocess.run(
        ["sh", "-c", 'eval "$1"; printf "%s\\n%s" "$AWS_ACCESS_KEY_ID" "$AWS_SESSION_TOKEN"', "sh"]
        + [exports.stdout],
        capture_output=True,
        text=True,
        check=True,
    )
    key_id, token = shell.stdout.split("\n")
    as_json = workbench("credentials", "--state-dir", state, "--json")
    data = json.loads(as_json.stdout)
    assert data["Version"] == 1  # credential_process's format
    assert data["AccessKeyId"] == key_id and data["SessionToken"] == token
    assert key_id.startswith("ASIA") and len(key_id) == 20
    # and they are the ones a handler run on that state dir holds, even with host ones around
    done = workbench("-r", str(root), "--state-dir", state, "invoke", "env", env=HOST)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["AWS_ACCESS_KEY_ID"] == key_id
    assert seen["AWS_SECRET_ACCESS_KEY"] == data["SecretAccessKey"]
    assert seen["AWS_SESSION_TOKEN"] == token


def test_credentials_on_an_unusable_state_dir_is_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    done = workbench("credentials", "--state-dir", str(blocked))
    assert done.returncode == 2
    assert done.stderr.startswith("workbench: cannot read the workbench's credentials ")
    assert "Traceback" not in done.stderr


def test_invoke_with_aws_credentials_host_passes_the_hosts(root: Path, tmp_path: Path) -> None:
    args = ("-r", str(root), "--state-dir", str(tmp_path / "state"), "invoke", "env")
    done = workbench(*args, "--aws-credentials", "host", env=HOST)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert {name: seen[name] for name in HOST} == HOST
    assert "AWS_SHARED_CREDENTIALS_FILE" not in seen
    bad = workbench(*args, "--aws-credentials", "aws")
    assert bad.returncode == 2
    assert "invalid choice: 'aws' (choose from 'local', 'host')" in bad.stderr


def invoke_over(url: str, name: str) -> dict[str, str]:
    request = urllib.request.Request(f"{url}/2015-03-31/functions/{name}/invocations", b"{}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_serve_says_which_credentials_and_points_handlers_at_itself(
    root: Path, tmp_path: Path
) -> None:
    make_function(root, "real", AWS_VARIABLES, aws_credentials="host")
    proc, url, output = start_serve(root, tmp_path / "state")
    try:
        lines = until_line(output, lambda line: line.startswith("AWS credentials:"))
        assert lines[-1] == (
            "AWS credentials: functions get the workbench's own (`workbench credentials` prints "
            f"them), their SDK calls going to {url}; this machine's for: real"
        )
        # a handler reaches another function through the endpoint it was given
        seen = invoke_over(url, "caller")
        assert seen["AWS_ENDPOINT_URL_LAMBDA"] == url and seen["AWS_ACCESS_KEY_ID"][:4] == "ASIA"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_serve_with_host_credentials_says_so(root: Path, tmp_path: Path) -> None:
    proc, url, output = start_serve(root, tmp_path / "state", "--aws-credentials", "host")
    try:
        line = until_line(output, lambda line: line.startswith("AWS credentials:"))[-1]
        assert line == (
            "AWS credentials: functions get this machine's, their SDK calls reaching real AWS"
        )
        assert not any(name.startswith("AWS_ENDPOINT_URL") for name in invoke_over(url, "env"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
