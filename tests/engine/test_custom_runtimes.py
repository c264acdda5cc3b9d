"""The ``provided`` custom runtime end to end: a ``bootstrap`` executable is the runtime.

Each function here is a bash ``bootstrap`` in the shape of AWS's custom-runtime tutorial: it
speaks the Runtime API with curl, through a real ``Engine`` and real processes. The tests check
what someone bringing their own runtime relies on: the event round trip, the error shapes, the
sandbox's limits and variables on the runtime process itself, warm reuse, the timeout, and where
the bootstrap is looked for.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import stat
import textwrap
from pathlib import Path

import pytest

from workbench.engine import Engine, EnvironmentEvent
from workbench.engine.runtime import cannot_start

from ..helpers import body, init_retried, running, toml_value, until

SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions"
MB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("curl") is None,
    reason="the custom runtimes here are bash scripts that use curl",
)

# The tutorial's loop. HANDLER_BODY is the body of `handler`, given the event as $1; what it
# prints is the response (through a file, so it may be larger than a command line).
BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
CURL_FLAGS=()

handler () {
HANDLER_BODY
}

while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  handler "$EVENT" > "$TMPDIR/response"
  curl -sS "${CURL_FLAGS[@]}" -o /dev/null "$API/invocation/$REQUEST_ID/response" \
    --data-binary @"$TMPDIR/response"
done
"""


def write_bootstrap(path: Path, handler_body: str, script: str = BOOTSTRAP) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script.replace("HANDLER_BODY", textwrap.dedent(handler_body).strip("\n")))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def make_provided(
    engine: Engine, name: str, handler_body: str | None, script: str = BOOTSTRAP, **config: object
) -> Path:
    """A ``provided`` function folder; its ``bootstrap`` runs ``handler_body`` (None: no
    bootstrap). Returns the folder."""
    folder = engine.roots[0] / name
    folder.mkdir(parents=True, exist_ok=True)
    config = {"runtime": "provided", "handler": "function.handler", **config}
    lines = [f"{key} = {toml_value(value)}" for key, value in config.items()]
    (folder / "function.toml").write_text("\n".join(lines) + "\n")
    if handler_body is not None:
        write_bootstrap(folder / "bootstrap", handler_body, script)
    engine.load_functions()
    return folder


def limits(pid: int) -> dict[str, tuple[str, str]]:
    """``/proc/<pid>/limits`` as {name: (soft, hard)}."""
    table = {}
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        table[name] = (soft, hard)
    return table


async def wait_for(path: Path) -> None:
    await until(path.exists, f"{path} to appear", step=0.01)


# ---------------------------------------------------------------------------- the sample


async def test_the_shell_curl_sample_round_trips_an_event(engine: Engine) -> None:
    shutil.copytree(SAMPLES / "shell-curl", engine.roots[0] / "shell-curl")
    engine.load_functions()

    result = await engine.invoke("shell-curl", b'{"a": 1, "text": "h\\u00e9llo"}')

    assert result.function_error is None, result.payload
    assert body(result) == {
        "statusCode": 200,
        "body": "Hello from a shell runtime!",
        "event": {"a": 1, "text": "héllo"},
    }
    record = result.record
    assert record.status == "success" and record.cold
    assert 'got event: {"a": 1, "text": "h\\u00e9llo"}' in record.log_lines
    assert record.log_lines[0].startswith("INIT_START Runtime Version: provided")
    assert record.log_lines[-1].startswith(f"REPORT RequestId: {record.request_id}\t")


async def test_the_shell_curl_sample_posts_a_failing_handler_as_an_error(engine: Engine) -> None:
    folder = engine.roots[0] / "shell-curl"
    shutil.copytree(SAMPLES / "shell-curl", folder)
    (folder / "function.sh").write_text('function handler () {\n  echo "no" >&2\n  return 1\n}\n')
    engine.load_functions()

    result = await engine.invoke("shell-curl", b"{}")
    again = await engine.invoke("shell-curl", b"{}")

    assert result.function_error == "Unhandled"
    assert body(result) == {"errorMessage": "handler failed", "errorType": "HandlerError"}
    assert result.record.error_type == "HandlerError"
    assert "no" in result.record.log_lines
    assert body(again) == body(result) and again.record.env_id == result.record.env_id


# ---------------------------------------------------------------------------- errors


ERROR_BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
ERROR='{"errorMessage":"no good","errorType":"Shell.Failure","stackTrace":["bootstrap"]}'
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  echo "failing $REQUEST_ID"
  STATUS=$(curl -sS -o /dev/null -w '%{http_code}' "$API/invocation/$REQUEST_ID/error" \
    -H "Lambda-Runtime-Function-Error-Type: Unhandled" \
    -H "Content-Type: application/vnd.aws.lambda.error+json" \
    --data-binary "$ERROR")
  echo "error post answered $STATUS"
done
"""


async def test_a_bootstrap_posting_an_error_gives_the_function_error_shape(
    engine: Engine,
) -> None:
    make_provided(engine, "fails", "", script=ERROR_BOOTSTRAP)

    first = await engine.invoke("fails", b"{}")
    second = await engine.invoke("fails", b"{}")

    for result in (first, second):
        assert result.function_error == "Unhandled"
        assert body(result) == {
            "errorMessage": "no good",
            "errorType": "Shell.Failure",
            "stackTrace": ["bootstrap"],
        }, result.record.log_lines  # what the bootstrap said, if it died instead
        assert result.record.status == "error"
        assert result.record.error_type == "Shell.Failure"
        assert f"failing {result.record.request_id}" in result.record.log_lines
    # The runtime lives on after a function error; it saw its post accepted.
    assert "error post answered 202" in second.record.log_lines
    assert second.record.env_id == first.record.env_id and not second.record.cold


async def test_a_bootstrap_that_exits_mid_invoke_is_a_runtime_exit_error(engine: Engine) -> None:
    make_provided(engine, "quits", 'echo "giving up" >&2\nexit 3')

    result = await engine.invoke("quits", b"{}")
    request_id = result.record.request_id

    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }
    assert result.record.status == "crash"
    assert result.record.error_type == "Runtime.ExitError"
    assert "giving up" in result.record.log_lines
    # The next invoke gets a fresh environment (which fails the same way).
    again = await engine.invoke("quits", b"{}")
    assert again.record.cold and again.record.env_id != result.record.env_id


async def test_a_runtime_that_cannot_start_is_said_before_and_streamed_as_a_failed_init(
    engine: Engine,
) -> None:
    """No bootstrap: ``cannot_start`` says so before any invoke; the invoke's events say INIT
    failed and the environment ended, as a runtime that fails its INIT says (no warm one)."""
    folder = make_provided(engine, "empty", None)
    problem = cannot_start(engine.functions["empty"])
    assert problem is not None and problem.error_type == "Runtime.InvalidEntrypoint"
    assert str(problem) == (
        f"Runtime.InvalidEntrypoint: Couldn't find valid bootstrap(s): [{folder / 'bootstrap'}]"
    )
    events = engine.subscribe()
    result = await engine.invoke("empty", b"{}")
    phases = [
        (e.phase, e.error_type, e.reason)
        for e in events.get_nowait()
        if isinstance(e, EnvironmentEvent) and e.env_id == result.record.env_id
    ]
    assert phases == [
        ("init_error", "Runtime.InvalidEntrypoint", None),
        ("shutdown", None, "error"),
    ]
    assert not engine.environments("empty")
    make_provided(engine, "empty", "echo hi")
    assert cannot_start(engine.functions["empty"]) is None


async def test_a_missing_bootstrap_is_an_invalid_entrypoint(engine: Engine) -> None:
    folder = make_provided(engine, "empty", None)

    result = await engine.invoke("empty", b"{}")

    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorMessage": f"RequestId: {result.record.request_id} Error: "
        f"Couldn't find valid bootstrap(s): [{folder / 'bootstrap'}]",
        "errorType": "Runtime.InvalidEntrypoint",
    }
    assert result.record.status == "error"
    assert result.record.error_type == "Runtime.InvalidEntrypoint"
    report = result.record.log_lines[-1]
    assert report.startswith("REPORT ") and "Error Type: Runtime.InvalidEntrypoint" in report
    # as Lambda logs it: INIT_REPORT Phase: init, then the retry's, Phase: invoke
    assert init_retried(result, "Runtime.InvalidEntrypoint") == [[], []]


async def test_a_bootstrap_that_is_not_executable_is_an_invalid_entrypoint(
    engine: Engine,
) -> None:
    folder = make_provided(engine, "noexec", "echo '{}'")
    bootstrap = folder / "bootstrap"
    bootstrap.chmod(0o644)

    result = await engine.invoke("noexec", b"{}")

    message = body(result)["errorMessage"]
    assert body(result)["errorType"] == "Runtime.InvalidEntrypoint"
    assert message.startswith(
        f"RequestId: {result.record.request_id} Error: "
        f"Couldn't find valid bootstrap(s): [{bootstrap}]"
    )
    assert f"{bootstrap} is not executable: chmod +x it" in message


# ---------------------------------------------------------------------------- the sandbox


async def test_the_runtime_process_has_the_sandbox_rlimits(engine: Engine, tmp_path: Path) -> None:
    inside, release = tmp_path / "inside", tmp_path / "release"
    make_provided(
        engine,
        "limited",
        f"""
        touch {inside}
        while [ ! -e {release} ]; do sleep 0.01; done
        printf '{{"pid": %s, "data_kb": "%s", "nofile": %s, "join": "%s"}}' \\
          $$ "$(ulimit -d)" "$(ulimit -n)" "${{_WORKBENCH_JOIN-unset}}"
        """,
        memory_size=256,
        ephemeral_storage=600,
    )

    task = asyncio.create_task(engine.invoke("limited", b"{}"))
    await wait_for(inside)
    [env] = engine.environments("limited")
    try:
        # The environment's process is the bootstrap itself (the gate exec'd it), not a shell
        # wrapped around it.
        cmdline = Path(f"/proc/{env.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[:2] == [b"/bin/bash", str(env.fn.folder / "bootstrap").encode()]
        table = limits(env.pid)
        in_cgroup = env.cgroup is not None
        cgroups = Path(f"/proc/{env.pid}/cgroup").read_text().splitlines()
        folders = env.cgroup.dirs if env.cgroup is not None else {}
    finally:
        release.touch()
    result = await task

    # memory is the environment's cgroup's (test_isolation.py), else RLIMIT_DATA
    assert engine.pool.isolation is not None
    assert in_cgroup == (engine.pool.isolation.cgroups is not None)
    data = "unlimited" if in_cgroup else str(256 * MB)
    assert table["Max data size"] == (data, data)
    assert table["Max open files"] == ("1024", "1024")
    assert table["Max core file size"] == ("0", "0")
    assert table["Max file size"] == (str(600 * MB), str(600 * MB))
    assert table["Max cpu time"][0] != "unlimited"
    # its first instruction ran in its cgroup, in every hierarchy (the gate moved itself in)
    for controller, folder in folders.items():
        [line] = [x for x in cgroups if controller in x.split(":")[1].split(",")]
        assert line.endswith("/" + folder.rsplit("/", 1)[1]), (controller, line)
    # What the bootstrap sees from inside (and so what its children inherit).
    data_kb = "unlimited" if in_cgroup else str(256 * 1024)
    assert body(result) == {"pid": env.pid, "data_kb": data_kb, "nofile": 1024, "join": "unset"}


async def test_lambda_variables_for_provided_runtimes(engine: Engine) -> None:
    folder = make_provided(
        engine,
        "vars",
        r"""
        printf '{"handler": "%s", "exec_env": "%s", "name": "%s", "memory": "%s", '\
        '"task_root": "%s", "api": "%s", "cwd": "%s", "tmp": "%s", "own": "%s"}' \
          "$_HANDLER" "${AWS_EXECUTION_ENV-<unset>}" "$AWS_LAMBDA_FUNCTION_NAME" \
          "$AWS_LAMBDA_FUNCTION_MEMORY_SIZE" "$LAMBDA_TASK_ROOT" "$AWS_LAMBDA_RUNTIME_API" \
          "$PWD" "$TMPDIR" "$STAGE"
        """,
        handler="my.handler",
        memory_size=192,
        environment={"STAGE": "test"},
    )

    result = await engine.invoke("vars", b"{}")

    seen = body(result)
    assert seen["handler"] == "my.handler"
    assert seen["exec_env"] == "<unset>"  # Lambda sets none for provided runtimes
    assert seen["name"] == "vars"
    assert seen["memory"] == "192"
    assert seen["task_root"] == str(folder) == seen["cwd"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", seen["api"])
    assert seen["tmp"] and seen["tmp"] != "/tmp"
    assert seen["own"] == "test"


# ---------------------------------------------------------------------------- lifecycle


async def test_warm_invokes_reuse_the_same_process(engine: Engine) -> None:
    make_provided(engine, "warm", r'echo "{\"pid\": $$, \"event\": $1}"')

    results = [await engine.invoke("warm", json.dumps({"n": n})) for n in range(3)]

    pids = {body(r)["pid"] for r in results}
    assert len(pids) == 1
    [env] = engine.environments("warm")
    assert pids == {env.pid}
    assert [body(r)["event"] for r in results] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [r.record.cold for r in results] == [True, False, False]
    assert len({r.record.env_id for r in results}) == 1
    assert results[1].record.init_duration_ms is None
    assert env.invocations == 3


async def test_a_timeout_kills_the_runtime_and_its_children(engine: Engine, tmp_path: Path) -> None:
    child_file = tmp_path / "child"
    make_provided(
        engine,
        "sleepy",
        f"sleep 30 & echo $! > {child_file}.tmp; mv {child_file}.tmp {child_file}; wait",
        timeout=1,
    )

    task = asyncio.create_task(engine.invoke("sleepy", b"{}"))
    await wait_for(child_file)
    [env] = engine.environments("sleepy")
    runtime_pid, child_pid = env.pid, int(child_file.read_text())
    result = await task

    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorMessage": f"RequestId: {result.record.request_id} Error: "
        "Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert result.record.status == "timeout"
    assert result.record.duration_ms >= 1000  # how soon after: benchmarks/limits.py
    # SIGKILLed at the timeout; a killed process ends once it is next scheduled
    for pid in (runtime_pid, child_pid):
        await until(lambda pid=pid: not running(pid), f"{pid} to die after the timeout")
    assert engine.environments("sleepy") == []
    # The next invoke starts a new runtime.
    assert env.state == "dead"


async def test_a_bootstrap_in_a_layer_is_used_when_the_folder_has_none(engine: Engine) -> None:
    root = engine.roots[0]
    layer = root / "layers" / "shell-runtime"
    write_bootstrap(layer / "bootstrap", r'echo "{\"from\": \"layer\", \"event\": $1}"')
    make_provided(engine, "layered", None, layers=["../layers/shell-runtime"])

    result = await engine.invoke("layered", b'{"x": 1}')

    assert result.function_error is None, result.payload
    assert body(result) == {"from": "layer", "event": {"x": 1}}
    [env] = engine.environments("layered")
    cmdline = Path(f"/proc/{env.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1] == str(layer.resolve() / "bootstrap").encode()


async def test_the_folder_bootstrap_wins_over_a_layer_bootstrap(engine: Engine) -> None:
    root = engine.roots[0]
    write_bootstrap(root / "layers" / "rt" / "bootstrap", "printf '\"layer\"'")
    make_provided(engine, "own", "printf '\"folder\"'", layers=["../layers/rt"])

    result = await engine.invoke("own", b"{}")

    assert result.payload == b'"folder"'


# ---------------------------------------------------------------------------- the wire


@pytest.mark.parametrize(
    "size, expects",
    [(4000, False), (2 * MB, True)],
    ids=["4KB", "2MB-expect-100-continue"],
)
async def test_a_large_curl_post_is_not_delayed(engine: Engine, size: int, expects: bool) -> None:
    # curl asks `Expect: 100-continue` before a large body (over 1 KiB in old releases, 1 MiB
    # in newer ones) and waits up to a second for the 100 before it sends the body anyway: a
    # server that does not answer it costs a second per invoke.
    make_provided(
        engine,
        "big",
        f"""
        printf '"'; head -c {size} /dev/zero | tr '\\0' 0; printf '"'
        """,
        script=BOOTSTRAP.replace("CURL_FLAGS=()", "CURL_FLAGS=(-v)"),
    )

    await engine.invoke("big", b"{}")  # cold
    result = await engine.invoke("big", b"{}")

    assert result.function_error is None, result.payload[:200]
    assert result.payload == b'"' + b"0" * size + b'"'
    # curl -v (on stderr, so in the log) shows whether it asked, and that it got the 100: it
    # never waited out its second (how long the invoke takes: benchmarks/limits.py).
    sent = [line.rstrip("\r") for line in result.record.log_lines]
    if expects:
        assert "> Expect: 100-continue" in sent, sent
    if "> Expect: 100-continue" in sent:
        assert "< HTTP/1.1 100 Continue" in sent, sent


DEV_TCP_BOOTSTRAP = r"""#!/bin/bash
# A runtime with no curl: HTTP/1.0 over bash's /dev/tcp, each answer read until the server closes.
set -euo pipefail
HOST="${AWS_LAMBDA_RUNTIME_API%:*}"
PORT="${AWS_LAMBDA_RUNTIME_API#*:}"
request () {  # METHOD PATH BODY
  exec 3<>"/dev/tcp/$HOST/$PORT"
  printf '%s /2018-06-01/runtime/%s HTTP/1.0\r\nContent-Length: %s\r\n\r\n%s' \
    "$1" "$2" "${#3}" "$3" >&3
  cat <&3
  exec 3<&-
}
while true; do
  ANSWER=$(request GET invocation/next "" | tr -d '\r')
  ID=$(sed -n 's/^Lambda-Runtime-Aws-Request-Id: //Ip' <<< "$ANSWER")
  EVENT=$(sed '1,/^$/d' <<< "$ANSWER")
  request POST "invocation/$ID/response" "{\"echo\": $EVENT}" > /dev/null
done
"""


async def test_an_http_1_0_runtime_without_curl_works(engine: Engine) -> None:
    # Such a client reads each answer to EOF: the Runtime API must close HTTP/1.0 connections.
    make_provided(engine, "devtcp", "", script=DEV_TCP_BOOTSTRAP, timeout=2)

    results = [await engine.invoke("devtcp", json.dumps({"n": n})) for n in range(2)]

    for n, result in enumerate(results):
        assert result.function_error is None, result.payload
        assert body(result) == {"echo": {"n": n}}
    assert results[1].record.env_id == results[0].record.env_id
