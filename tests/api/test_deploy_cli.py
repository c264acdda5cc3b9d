"""``workbench deploy NAME[:ALIAS]``: a function created, then kept up to date, on another
endpoint that speaks Lambda's API — a second ``workbench serve`` here, as AWS Lambda would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.config import Config

from tests.helpers import make_function
from tests.test_cli_serve import start_serve

ROLE = "arn:aws:iam::123456789012:role/deployer"


def deploy(root: Path, target: str, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    return subprocess.run(
        [sys.executable, "-m", "workbench", "-r", str(root), "deploy", target]
        + ["--endpoint-url", url, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def answer(client, name: str, qualifier: str | None = None) -> object:
    extra = {"Qualifier": qualifier} if qualifier else {}
    return json.loads(client.invoke(FunctionName=name, Payload=b"{}", **extra)["Payload"].read())


def test_deploy_creates_then_updates_code_configuration_and_alias(tmp_path: Path) -> None:
    source = tmp_path / "source"
    code = "def handler(event, context):\n    return {WORD!r}\n"
    make_function(source, "shipped", code.replace("{WORD!r}", "'one'"), memory_size=128)
    target_root = tmp_path / "target"
    target_root.mkdir()
    serve, url, _ = start_serve(target_root, tmp_path / "target-state")
    try:
        client = boto3.client(
            "lambda",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 0}),
        )
        # not there: creating it needs a role
        refused = deploy(source, "shipped:live", url)
        assert refused.returncode == 2 and "--role" in refused.stderr
        made = deploy(source, "shipped:live", url, "--role", ROLE)
        assert made.returncode == 0, made.stderr
        lines = made.stdout.splitlines()
        assert lines[0].startswith("created shipped (CodeSha256 ")
        assert lines[1] == "alias live created -> version 1"
        assert answer(client, "shipped") == "one" and answer(client, "shipped", "live") == "one"
        # nothing changed: nothing done
        same = deploy(source, "shipped:live", url)
        assert same.returncode == 0, same.stderr
        assert same.stdout.splitlines()[0] == "shipped: no changes"
        # new code and more memory: both updated, a version published, the alias moved
        make_function(source, "shipped", code.replace("{WORD!r}", "'two'"), memory_size=256)
        changed = deploy(source, "shipped:live", url)
        assert changed.returncode == 0, changed.stderr
        said = changed.stdout.splitlines()
        assert said[0].startswith("code: ") and "configuration: MemorySize 128 -> 256" in said
        assert "alias live: version 1 -> 2" in said
        assert answer(client, "shipped", "live") == "two"
        assert answer(client, "shipped", "1") == "one"  # the version it was
        config = client.get_function_configuration(FunctionName="shipped")
        assert config["MemorySize"] == 256
    finally:
        serve.terminate()
        serve.wait(30)


def test_an_unreachable_endpoint_is_one_line_and_exit_2(tmp_path: Path) -> None:
    make_function(tmp_path / "source", "shipped", "def handler(e, c):\n    return 1\n")
    done = deploy(tmp_path / "source", "shipped", "http://127.0.0.1:9", "--role", ROLE)
    assert done.returncode == 2
    assert done.stderr.startswith("workbench: ") and "Traceback" not in done.stderr
