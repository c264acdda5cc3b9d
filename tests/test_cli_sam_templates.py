"""An existing SAM project and a CDK app's ``cdk.out``, run through the ``workbench`` command as
a user runs it (real processes): invoke, list, serve with its HTTP routes, a queue and a save."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.template_projects import make_cdk_out, make_sam_project
from tests.test_cli_serve import AWS, start_serve, until_line


def workbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def body(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(json.loads(done.stdout)["body"])


def test_invoke_runs_a_sam_projects_function_with_overrides(tmp_path: Path) -> None:
    root = make_sam_project(tmp_path / "app")
    state = ["--state-dir", str(tmp_path / "state")]
    # from inside the project, as `sam local invoke` is run
    seen = body(workbench("invoke", "ItemsFunction", *state, cwd=root))
    assert (seen["stage"], seen["table"], seen["layer"], seen["memory"]) == (
        "dev",
        "dev-table",
        "from the layer",
        "256",
    )
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"ItemsFunction": {"QUEUE_URL": "http://localhost/jobs"}}))
    done = workbench(
        "invoke",
        "ItemsFunction",
        "-r",
        str(root),
        *state,
        "--parameter-overrides",
        "ParameterKey=Stage,ParameterValue=prod",
        "--env-vars",
        str(env),
    )
    seen = body(done)
    assert (seen["stage"], seen["table"], seen["memory"]) == ("prod", "prod-table", "1024")
    assert seen["queue_url"] == "http://localhost/jobs"
    assert "REPORT RequestId:" in done.stderr and "Memory Size: 1024 MB" in done.stderr


def test_invoke_runs_a_cdk_out_function_from_its_asset(tmp_path: Path) -> None:
    project = tmp_path / "cdk-app"
    out = make_cdk_out(project)
    done = workbench(
        "-r", str(project), "invoke", "Handler886CB40B", "--payload", '{"Records": [1]}'
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "cdk": True,
        "queue": "https://sqs.us-east-1.amazonaws.com/123456789012/JobsQueue6D8C7E3C",
        "records": 1,
    }
    # given with --template from anywhere, the same
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = workbench("-r", str(elsewhere), "-t", str(out), "invoke", "Handler886CB40B")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cdk"] is True


def test_list_shows_where_each_function_came_from_and_what_is_not_run_here(
    tmp_path: Path,
) -> None:
    root = make_sam_project(tmp_path / "app")
    (root / "functions" / "plain").mkdir(parents=True)
    (root / "functions" / "plain" / "function.toml").write_text('handler = "app.handler"\n')
    (tmp_path / "other" / "src").mkdir(parents=True)
    broken = tmp_path / "other" / "broken.yaml"
    broken.write_text(
        "Globals:\n"
        "  Function:\n"
        "    Timeout: 0\n"
        "Resources:\n"
        "  Other:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12}\n"
    )
    done = workbench("-r", str(root), "-t", str(broken), "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "RUNTIME",
        "RUNS",
        "ON",
        "NAMESPACES",
        "HANDLER",
        "FROM",
        "MEMORY",
        "TIMEOUT",
        "TRIGGERS",
        "STATUS",
    ]
    items = next(line for line in lines if line.startswith("ItemsFunction "))
    assert "template.yaml: ItemsFunction" in items and items.endswith("ok")
    assert "http:GET /items/{id}, http:POST /items, queue:Jobs, sns:dev-alerts" in items
    plain = next(line for line in lines if line.startswith("plain "))
    assert " folder " in plain
    assert (
        "ItemsFunction: event Stream (Kinesis): not run here "
        "(runs: Api, HttpApi, S3, SQS, SNS, Schedule, ScheduleV2)"
    ) in lines
    other = next(line for line in lines if line.startswith("Other "))
    assert other.endswith(
        f"config error: {broken}:3: Globals.Function.Timeout = 0: must be an integer from "
        "1 to 900 (seconds)"
    )


def test_bad_template_options_are_one_line_and_exit_2(tmp_path: Path) -> None:
    root = make_sam_project(tmp_path / "app")
    missing = workbench("-r", str(root), "-t", str(tmp_path / "nope.yaml"), "list")
    assert missing.returncode == 2
    assert missing.stderr == f"workbench: template not found: {tmp_path / 'nope.yaml'}\n"
    bad = workbench("-r", str(root), "list", "--parameter-overrides", "Stage")
    assert bad.returncode == 2
    assert bad.stderr == (
        "workbench: --parameter-overrides: 'Stage' is not KEY=VALUE "
        "(or ParameterKey=KEY,ParameterValue=VALUE)\n"
    )
    env = tmp_path / "env.json"
    env.write_text('{"ItemsFunction": {"TABLE": "x"},\n oops}')
    broken = workbench("-r", str(root), "invoke", "ItemsFunction", "--env-vars", str(env))
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert broken.stderr.startswith(f"workbench: --env-vars: {env}:2: invalid JSON: ")


def test_serve_routes_a_sam_projects_http_events_and_reloads_a_saved_template(
    tmp_path: Path,
) -> None:
    root = make_sam_project(tmp_path / "app")
    proc, _, output = start_serve(root, tmp_path / "state")
    try:
        seen = until_line(output, lambda line: line.startswith("HTTP routes on "))
        http = seen[-1].split("HTTP routes on ")[1]
        seen = until_line(output, lambda line: line.startswith("from templates:"))
        assert "  GET /items/{id} -> ItemsFunction (payload 1.0)" in seen, seen
        seen = until_line(output, lambda line: line.startswith("  dev-inline: "))
        template = (root / "template.yaml").resolve()
        assert seen[:2] == [
            f"  ItemsFunction: {template} (resource ItemsFunction)",
            "    event Stream (Kinesis): not run here "
            "(runs: Api, HttpApi, S3, SQS, SNS, Schedule, ScheduleV2)",
        ]
        # its ProvisionedConcurrencyConfig runs (on the AutoPublishAlias): no note says otherwise
        assert not any("ProvisionedConcurrencyConfig" in line for line in seen), seen
        with urllib.request.urlopen(f"{http}/items/42", timeout=30) as response:
            got = json.loads(response.read())
        assert (got["path_id"], got["method"], got["version"]) == ("42", "GET", "1.0")  # Api
        request = urllib.request.Request(f"{http}/items", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            got = json.loads(response.read())
        assert (got["method"], got["version"]) == (None, "2.0")  # HttpApi: requestContext.http
        # a save of the template is picked up as a folder's function.toml is
        template = root / "template.yaml"
        template.write_text(template.read_text().replace('!Sub "${Stage}-table"', "saved"))
        until_line(output, lambda line: "ItemsFunction" in line and "reload" in line.lower())
        with urllib.request.urlopen(f"{http}/items/7", timeout=30) as response:
            assert json.loads(response.read())["table"] == "saved"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_serve_runs_a_cdk_event_source_mapping_and_the_aws_cli_invokes(tmp_path: Path) -> None:
    project = tmp_path / "cdk-app"
    make_cdk_out(project)
    state = tmp_path / "state"
    proc, url, output = start_serve(project, state)
    try:
        until_line(output, lambda line: line.startswith("  queue JobsQueue6D8C7E3C"))
        sent = workbench(
            "-r",
            str(project),
            "--state-dir",
            str(state),
            "queue",
            "send",
            "JobsQueue6D8C7E3C",
            "hi",
        )
        assert sent.returncode == 0, sent.stderr
        until_line(output, lambda line: line.startswith("REPORT RequestId:"))
        response = tmp_path / "response.json"
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
        done = subprocess.run(
            [
                str(AWS),
                "lambda",
                "invoke",
                "--endpoint-url",
                url,
                "--region",
                "us-east-1",
                "--function-name",
                "Handler886CB40B",
                "--payload",
                '{"Records": [1, 2]}',
                str(response),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(response.read_text())["records"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
