"""``workbench serve`` as a user runs it: a real process, the AWS CLI, logs, and a clean stop."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.helpers import make_function, until_sync

AWS = Path(sys.executable).parent / "aws"


def serve_command(root: Path, state: Path, *extra: str) -> list[str]:
    """``workbench serve`` on free ports (a later ``--port``/``--http-port`` in ``extra`` wins)."""
    return [
        sys.executable,
        "-m",
        "workbench",
        "serve",
        str(root),
        "--port",
        "0",
        "--http-port",
        "0",
        "--state-dir",
        str(state),
        *extra,
    ]


def refusal(tmp_path: Path, *options: str, root: bool = True) -> str:
    """serve refusing a bad option: exit 2, no traceback; what it said (its stderr)."""
    command = serve_command(tmp_path, tmp_path / "state", *options)
    if not root:  # (``workbench serve OPTION VALUE`` alone)
        command = [*command[:4], *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


def start_serve(
    root: Path,
    state: Path,
    *extra: str,
    command: list[str] | None = None,
    **popen: Any,
) -> tuple[subprocess.Popen[str], str, queue.Queue[str]]:
    """Start serve; its stdout lines arrive on the queue (read with a timeout, never a hang).

    ``command`` replaces ``python -m workbench serve`` (another interpreter); ``popen`` goes to
    ``Popen`` (another user, environment)."""
    argv = serve_command(root, state, *extra)
    proc = subprocess.Popen(
        [*command, *argv[4:]] if command is not None else argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    try:
        while True:
            line = lines.get(timeout=30)
            seen.append(line)
            match = re.search(r"Lambda API on (http://\S+)", line)
            if match:
                return proc, match.group(1), lines
    except queue.Empty:
        proc.kill()
        raise AssertionError("serve did not start:\n" + "\n".join(seen)) from None


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(
        root,
        "greet",
        "def handler(event, context):\n    print('greeting', event)\n"
        "    return {'hello': event.get('name')}\n",
    )
    return root


def test_serve_answers_the_aws_cli_logs_and_stops_cleanly(root: Path, tmp_path: Path) -> None:
    proc, url, output = start_serve(root, tmp_path / "state")
    try:
        out = tmp_path / "response.json"
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
                "greet",
                "--payload",
                '{"name": "cli"}',
                str(out),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        assert json.loads(out.read_text()) == {"hello": "cli"}
        # the invocation's log on serve's stdout, whole
        lines = []
        while not lines or not lines[-1].startswith("REPORT"):
            lines.append(output.get(timeout=30))
        assert any(line.startswith("START RequestId:") for line in lines)
        assert "greeting {'name': 'cli'}" in lines
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "a warm environment should be running"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 128 + signal.SIGTERM
    until_sync(
        lambda: not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE],
        "serve's environments to be gone",
    )
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/2015-03-31/functions", timeout=2)


GC_PROBE = """
import gc, sys, threading, time
from workbench.cli import main

def probe():
    deadline = time.monotonic() + 30
    while "workbench.api.server" not in sys.modules or not gc.isenabled():
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    print(f"gc enabled={gc.isenabled()} frozen={gc.get_freeze_count()}", flush=True)

threading.Thread(target=probe, daemon=True).start()
sys.exit(main(sys.argv[1:]))
"""


def test_serve_collects_garbage_once_started(root: Path, tmp_path: Path) -> None:
    """The collector is paused while serve imports (start_gc), and must run again after: the
    start's objects frozen out of its walks, the rest collected as in any process."""
    command = serve_command(root, tmp_path / "state")
    proc = subprocess.Popen(
        [sys.executable, "-c", GC_PROBE, *command[3:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = ""
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the probe prints within 30 s; serve's lines come too
            if "gc enabled=" in line:  # (its print may land inside one of serve's lines)
                break
    finally:
        proc.terminate()
        proc.wait(30)
    found = re.search(r"gc enabled=(\w+) frozen=(\d+)", line)
    assert found, line
    assert found.group(1) == "True"
    assert int(found.group(2)) > 10_000  # what the imports made: out of every later walk


def test_a_taken_port_is_one_line_and_exit_2(root: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            serve_command(root, tmp_path / "state", "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.startswith(f"workbench: cannot listen on 127.0.0.1:{port}: ")
    assert "--port" in done.stderr and "Traceback" not in done.stderr


def test_bad_port_and_missing_root(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "port must be 0 to 65535" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "serve", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"workbench: function root not found: {tmp_path / 'nowhere'}"


def until_line(output: queue.Queue[str], predicate: Callable[[str], bool]) -> list[str]:
    """serve's lines up to and including the first that passes ``predicate`` (30 s at most)."""
    seen: list[str] = []
    try:
        while not seen or not predicate(seen[-1]):
            seen.append(output.get(timeout=30))
    except queue.Empty:
        raise AssertionError("serve never printed it; it printed:\n" + "\n".join(seen)) from None
    return seen


def test_serve_lists_the_event_sources_and_reports_what_they_do(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    triggers = [
        {"type": "s3", "bucket": "uploads", "suffix": ".txt"},
        {"type": "queue", "queue": "jobs", "max_receive_count": 2},
        {"type": "sns", "topic": "alerts"},
        {"type": "schedule", "expression": "cron(0 12 * * ? *)", "name": "noon"},
    ]
    code = "def handler(event, context):\n    return 'ok'\n"
    make_function(root, "sink", code, triggers=triggers)
    failing = "def handler(event, context):\n    raise ValueError('nope')\n"
    make_function(root, "fails", failing, **{"async": {"maximum_retry_attempts": 1}})
    proc, url, output = start_serve(root, tmp_path / "state", "--time-scale", "0.001")
    try:
        table = until_line(output, lambda line: line.startswith("  schedule "))
        start = table.index("event sources:")
        assert table[start + 1 :] == [
            f"  bucket uploads ({root.resolve()}/buckets/uploads/) -> sink [ObjectCreated:*]",
            "  queue jobs -> sink (batch 10, to jobs-dlq after 2 receives)",
            "  topic alerts -> sink",
            f"  schedule noon cron(0 12 * * ? *) -> sink, next {table[-1].split('next ')[1]}",
        ]
        assert table[-1].endswith("12:00:00 UTC")
        (root / "buckets" / "uploads" / "hello.txt").write_text("hello")
        seen = until_line(output, lambda line: line.startswith("bucket uploads:"))
        assert seen[-1] == "bucket uploads: ObjectCreated:Put hello.txt (5 bytes) -> sink"
        request = urllib.request.Request(
            url + "/2015-03-31/functions/fails/invocations",
            data=b"{}",
            headers={"X-Amz-Invocation-Type": "Event"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 202
            request_id = answer.headers["x-amzn-RequestId"]
        ended = f"async {request_id} (fails): failed"
        seen = until_line(output, lambda line: line.startswith(ended))
        assert f"async {request_id} (fails): attempt 1 failed; next attempt in 0.06 s" in seen
        assert seen[-1] == f"async {request_id} (fails): failed (RetriesExhausted, 2 attempt(s))"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_serve_says_which_python_a_function_runs_on_and_takes_an_explicit_one(
    tmp_path: Path,
) -> None:
    root = tmp_path / "functions"
    code = "import sys\ndef handler(event, context):\n    return sys.version\n"
    make_function(root, "pinned", code, runtime="python3.12")
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    patch = ".".join(map(str, sys.version_info[:3]))
    proc, url, output = start_serve(root, tmp_path / "state", "--python", sys.executable)
    try:
        notice = f"python3.12 → running on python {patch} (--python {sys.executable})"
        if minor != "3.12":
            seen = until_line(output, lambda line: line.startswith("runtime: "))
            assert seen[-1] == f"runtime: pinned: {notice}"
        with urllib.request.urlopen(
            urllib.request.Request(url + "/2015-03-31/functions/pinned/invocations", data=b"{}"),
            timeout=30,
        ) as answer:
            assert json.loads(answer.read()).startswith(patch)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_a_bad_python_is_one_line_and_exit_2(tmp_path: Path) -> None:
    said = refusal(tmp_path, "--python", str(tmp_path / "python9"))
    assert f"'{tmp_path / 'python9'}' is not an executable file" in said


def aws_cli(url: str, region: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    command = [str(AWS), *args, "--endpoint-url", url, "--region", region, "--output", "json"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_serve_plays_the_region_and_account_it_is_given(root: Path, tmp_path: Path) -> None:
    """Driven with the AWS CLI, as a user finds these: ARNs, queue URLs, Lambda's refusals."""
    proc, url, _ = start_serve(
        root, tmp_path / "state", "--region", "ap-southeast-2", "--account-id", "444455556666"
    )
    region = "ap-southeast-2"
    try:
        done = aws_cli(
            url, region, "lambda", "get-function-configuration", "--function-name", "greet"
        )
        assert done.returncode == 0, done.stderr
        arn = json.loads(done.stdout)["FunctionArn"]
        assert arn == "arn:aws:lambda:ap-southeast-2:444455556666:function:greet"
        foreign = "arn:aws:lambda:ap-southeast-2:123456789012:function:greet"
        done = aws_cli(
            url, region, "lambda", "invoke", "--function-name", foreign, str(tmp_path / "o")
        )
        assert done.returncode != 0
        assert "(AccessDeniedException) when calling the Invoke operation" in done.stderr
        assert not (tmp_path / "o").exists()
        done = aws_cli(
            url, region, "lambda", "update-function-configuration", "--function-name", "greet",
            "--timeout", "901",
        )  # fmt: skip
        assert done.returncode != 0
        assert (
            "(ValidationException) when calling the UpdateFunctionConfiguration operation: 1 "
            "validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
            "Member must have value less than or equal to 900"
        ) in done.stderr
        done = aws_cli(
            url, region, "sqs", "create-queue", "--queue-name", "jobs.fifo",
            "--attributes", "FifoQueue=true,ContentBasedDeduplication=true",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        queue_url = json.loads(done.stdout)["QueueUrl"]
        assert queue_url.endswith("/444455556666/jobs.fifo")
        done = aws_cli(
            url, region, "sqs", "send-message", "--queue-url", queue_url, "--message-body", "x"
        )
        assert "(MissingParameter)" in done.stderr
        done = aws_cli(
            url, region, "sqs", "send-message", "--queue-url", queue_url, "--message-body", "x",
            "--message-group-id", "g",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["SequenceNumber"].isdigit()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--region", "mars", "invalid region 'mars': a Region name such as us-east-1"),
        ("--account-id", "12345", "invalid account id '12345': twelve digits"),
    ],
)
def test_a_bad_region_or_account_is_one_line_and_exit_2(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    assert message in refusal(tmp_path, option, value)


def test_the_tui_takes_the_region_and_account_too(tmp_path: Path) -> None:
    from workbench.cli.options import served_settings
    from workbench.cli.tui import build_tui_parser

    args = build_tui_parser(()).parse_args(
        ["--region", "eu-west-1", "--account-id", "111122223333"]
    )
    settings = served_settings(args, tmp_path)
    assert settings.arn("f") == "arn:aws:lambda:eu-west-1:111122223333:function:f"
    defaults = served_settings(build_tui_parser(()).parse_args([]), tmp_path)
    assert defaults.arn("f") == "arn:aws:lambda:us-east-1:123456789012:function:f"


def test_serve_plays_lambdas_scaling_rate_when_asked(tmp_path: Path) -> None:
    """--scaling-rate 1: serve says so, and of two calls at once to a function with no
    environment, one starts it and the other is throttled (429, its Reason), as Lambda throttles
    a burst faster than its scaling rate."""
    root = tmp_path / "functions"
    code = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return 'ok'\n"
    make_function(root, "slow", code)
    proc, url, output = start_serve(root, tmp_path / "state", "--scaling-rate", "1")
    try:
        seen = until_line(output, lambda line: line.startswith("scaling: "))
        assert seen[-1] == (
            "scaling: a rate of 1 new environment per function every 10 s (--scaling-rate); "
            "a call needing one past it is throttled (429)"
        )

        def call() -> tuple[int, object]:
            request = urllib.request.Request(
                url + "/2015-03-31/functions/slow/invocations", data=b"{}"
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        answers: list[tuple[int, object]] = []
        threads = [threading.Thread(target=lambda: answers.append(call())) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(status for status, _ in answers) == [200, 429], answers
        throttled = next(body for status, body in answers if status == 429)
        assert throttled == {
            "Reason": "FunctionInvocationRateLimitExceeded",
            "Type": "User",
            "message": "Rate Exceeded.",
        }
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("value", "expected"), [("lambda", 1000), ("LAMBDA", 1000), ("5", 5), (None, None)]
)
def test_the_scaling_rate_option(tmp_path: Path, value: str | None, expected: int | None) -> None:
    from workbench.cli.options import served_settings
    from workbench.cli.tui import build_tui_parser

    argv = ["--scaling-rate", value] if value is not None else []
    settings = served_settings(build_tui_parser(()).parse_args(argv), tmp_path)
    assert settings.scaling_rate == expected


@pytest.mark.parametrize("value", ["0", "-3", "fast", "1.5"])
def test_a_bad_scaling_rate_is_one_line_and_exit_2(tmp_path: Path, value: str) -> None:
    said = refusal(tmp_path, "--scaling-rate", value)
    assert f"invalid scaling rate '{value}': lambda (Lambda's own" in said
