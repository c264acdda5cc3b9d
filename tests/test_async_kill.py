"""Event invocations survive ``kill -9`` of ``workbench serve``; ``workbench invoke --async``.

Real processes: serve is started as a user starts it, events go in through the Lambda API
(InvocationType Event, answered 202 only once the event is committed), serve is SIGKILLed while
it drains them, and a new serve on the same state dir runs whatever was not finished: every
accepted event runs at least once, none is lost.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil

from tests.helpers import make_function, until_sync
from tests.test_cli_serve import start_serve

APPENDER = """
import os, time

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(context.aws_request_id + "\\n")
    time.sleep(0.05)
    return {"i": event["i"]}
"""


def post_event(url: str, function: str, payload: dict[str, object]) -> str:
    request = urllib.request.Request(
        f"{url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(payload).encode(),
        headers={"X-Amz-Invocation-Type": "Event"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return response.headers["x-amzn-RequestId"]


def ran(out: Path) -> list[str]:
    return out.read_text().split() if out.exists() else []


def succeeded(state: Path) -> set[str]:
    conn = sqlite3.connect(state / "workbench.db")
    try:
        rows = conn.execute(
            "SELECT request_id FROM invocations WHERE status = 'success' "
            "AND invocation_type = 'Event'"
        ).fetchall()
    finally:
        conn.close()
    return {row[0] for row in rows}


def test_kill_9_of_serve_loses_no_accepted_event(tmp_path: Path) -> None:
    root, state, out = tmp_path / "functions", tmp_path / "state", tmp_path / "ran.txt"
    make_function(root, "appender", APPENDER, reserved_concurrency=2, environment={"OUT": str(out)})
    proc, url, _ = start_serve(root, state, "--time-scale", "0.001")
    handlers: list[psutil.Process] = []
    try:
        accepted = [post_event(url, "appender", {"i": i}) for i in range(30)]
        until_sync(lambda: len(ran(out)) >= 4, "some events to run")
        handlers = psutil.Process(proc.pid).children(recursive=True)
        assert handlers, "the environments running the events"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    before_restart = ran(out)
    assert len(set(before_restart)) < len(accepted), "killed too late to prove anything"
    # its orphaned runtimes lose their Runtime API and exit on their own
    until_sync(
        lambda: not any(h.is_running() and h.status() != psutil.STATUS_ZOMBIE for h in handlers),
        "the killed serve's handler processes to exit",
        timeout=20,
    )

    proc, url, _ = start_serve(root, state, "--time-scale", "0.001")
    try:
        until_sync(lambda: set(accepted) <= set(ran(out)), "every accepted event to run")
        until_sync(lambda: set(accepted) <= succeeded(state), "a success record for each")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    runs = ran(out)
    assert set(runs) == set(accepted)  # nothing else ran; some may have run twice
    conn = sqlite3.connect(state / "workbench.db")
    try:
        statuses = dict(conn.execute("SELECT request_id, status FROM async_events").fetchall())
    finally:
        conn.close()
    assert {statuses[r] for r in accepted} == {"succeeded"}


def run_cli(root: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args, "-r", str(root), "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_invoke_async_queues_and_warns_then_serve_runs_it(tmp_path: Path) -> None:
    root, state, out = tmp_path / "functions", tmp_path / "state", tmp_path / "ran.txt"
    make_function(root, "appender", APPENDER, environment={"OUT": str(out)})
    done = run_cli(root, state, "invoke", "appender", "--async", "--payload", '{"i": 1}')
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["StatusCode"] == 202
    request_id = answer["RequestId"]
    assert "queued; no workbench is running on" in done.stderr
    assert "start `workbench serve`" in done.stderr
    assert not out.exists()  # nobody ran it

    proc, _, _ = start_serve(root, state, "--time-scale", "0.001")
    try:
        until_sync(lambda: request_id in ran(out), "serve to run the queued event")
        # with serve running: no warning, and serve notices the CLI's row within moments
        done = run_cli(root, state, "invoke", "appender", "--async", "--payload", '{"i": 2}')
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        second = json.loads(done.stdout)["RequestId"]
        until_sync(lambda: second in ran(out), "serve to run the CLI's second event", timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_invoke_async_refuses_bad_json_and_unknown_function(tmp_path: Path) -> None:
    root, state = tmp_path / "functions", tmp_path / "state"
    make_function(root, "appender", APPENDER, environment={"OUT": str(tmp_path / "x")})
    done = run_cli(root, state, "invoke", "appender", "--async", "--payload", "{nope")
    assert done.returncode == 2 and done.stdout == ""
    assert "InvalidRequestContentException" in done.stderr
    done = run_cli(root, state, "invoke", "ghost", "--async")
    assert done.returncode == 2 and "ResourceNotFoundException" in done.stderr
