"""Synchronous invokes end to end through ``Engine.invoke``: real runtimes, real processes.

Each test writes small functions into a temp root (``tests.helpers.add_function``) and checks
what a user relies on: the payload bytes, Lambda's error shapes and messages, the log framing,
the invocation record, and the sandbox the handler runs in.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import tempfile
from pathlib import Path

import psutil
import pytest

from workbench.engine import (
    ConcurrencyChanged,
    Engine,
    EngineSettings,
    FunctionNotReady,
    InvalidRequestContent,
    InvocationCancelled,
    InvokeEnd,
    InvokeResult,
    InvokeStart,
    LogLine,
    RequestTooLarge,
    ResourceNotFound,
)
from workbench.engine.model.records import PRICE_PER_GB_SECOND, PRICE_PER_REQUEST

from ..helpers import add_function, body, init_retried, report, running, until

SAMPLES = Path(__file__).resolve().parents[2] / "sample_functions"
MB = 1024 * 1024
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
LOG_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
MS = r"\d+\.\d{2} ms"

NOOP = """
def handler(event, context):
    return None
"""

ECHO = """
def handler(event, context):
    return event
"""


def group_alive(pgid: int) -> list[int]:
    """Pids still running (not zombies) in a process group."""
    alive = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            pass
    return alive


# ---------------------------------------------------------------------------- success


async def test_success_payload_and_records_cold_then_warm(engine: Engine) -> None:
    add_function(
        engine,
        "ok",
        """
        def handler(event, context):
            return {"ok": True, "n": event["n"], "text": "héllo"}
        """,
        memory_size=128,
    )
    cold = await engine.invoke("ok", b'{"n": 1}')
    warm = await engine.invoke("ok", '{"n": 2}')

    # AWS's Python runtime: json.dumps defaults (", " / ": " separators, ASCII escapes).
    assert cold.payload == b'{"ok": true, "n": 1, "text": "h\\u00e9llo"}'
    assert warm.payload == b'{"ok": true, "n": 2, "text": "h\\u00e9llo"}'
    for result in (cold, warm):
        r = result.record
        assert result.function_error is None
        assert result.executed_version == "$LATEST"
        assert re.fullmatch(UUID, r.request_id)
        assert r.function == "ok"
        assert r.status == "success"
        assert r.error_type is None
        assert r.memory_size == 128
        assert 0 < r.max_memory_mb < 128
        assert r.duration_ms > 0
        expected_cost = (
            PRICE_PER_REQUEST + (128 / 1024) * (r.billed_ms / 1000) * PRICE_PER_GB_SECOND
        )
        assert r.cost == pytest.approx(expected_cost, rel=1e-12)

    assert cold.record.cold is True
    assert cold.record.init_duration_ms is not None and cold.record.init_duration_ms > 0
    assert cold.record.billed_ms == math.ceil(
        cold.record.duration_ms + cold.record.init_duration_ms
    )
    assert warm.record.cold is False
    assert warm.record.init_duration_ms is None
    assert warm.record.billed_ms == math.ceil(warm.record.duration_ms)
    assert warm.record.env_id == cold.record.env_id
    assert cold.record.request_id != warm.record.request_id

    # The records are in the store with their log lines.
    assert engine.store is not None
    stored = engine.store.get(warm.record.request_id)
    assert stored is not None and stored.status == "success"
    assert stored.log_lines == warm.record.log_lines


async def test_empty_payload_reaches_the_handler_as_an_empty_object(engine: Engine) -> None:
    add_function(engine, "echo", ECHO)
    for payload in (b"", None, "  \n"):
        result = await engine.invoke("echo", payload)
        assert result.payload == b"{}"


async def test_payload_at_the_limit_is_accepted(engine: Engine) -> None:
    add_function(
        engine,
        "size",
        """
        def handler(event, context):
            return len(event)
        """,
    )
    payload = b'"' + b"a" * (6_291_456 - 2) + b'"'
    result = await engine.invoke("size", payload)
    assert result.function_error is None
    assert result.payload == str(6_291_456 - 2).encode()


# ---------------------------------------------------------------------------- logs


async def test_log_framing_and_per_invocation_output(engine: Engine) -> None:
    add_function(
        engine,
        "logs",
        """
        import logging

        log = logging.getLogger()
        print("module level print")

        def handler(event, context):
            if event.get("level"):
                log.setLevel(event["level"])
            print("printed", event["mark"])
            log.info("info %s", event["mark"])
            log.warning("warning %s", event["mark"])
            return "ok"
        """,
    )
    first = await engine.invoke("logs", b'{"mark": "one"}')
    second = await engine.invoke("logs", b'{"mark": "two", "level": "INFO"}')

    rid = first.record.request_id
    lines = first.record.log_lines
    assert re.fullmatch(
        r"INIT_START Runtime Version: python:3\.\d+\.v1\t"
        r"Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}",
        lines[0],
    )
    assert lines[1] == "module level print"
    assert lines[2] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[3] == "printed one"
    # INFO is suppressed: Lambda's root logger is at WARNING unless the code lowers it.
    assert re.fullmatch(rf"\[WARNING\]\t{LOG_TS}\t{rid}\twarning one", lines[4])
    assert lines[5] == f"END RequestId: {rid}"
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: {MS}\tBilled Duration: \d+ ms\t"
        rf"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: {MS}\t",
        lines[6],
    )
    assert len(lines) == 7
    assert first.log == "\n".join(lines) + "\n"

    rid2 = second.record.request_id
    assert second.record.log_lines[:5] == [
        f"START RequestId: {rid2} Version: $LATEST",
        "printed two",
        second.record.log_lines[2],
        second.record.log_lines[3],
        f"END RequestId: {rid2}",
    ]
    assert re.fullmatch(rf"\[INFO\]\t{LOG_TS}\t{rid2}\tinfo two", second.record.log_lines[2])
    assert re.fullmatch(rf"\[WARNING\]\t{LOG_TS}\t{rid2}\twarning two", second.record.log_lines[3])
    assert re.fullmatch(
        rf"REPORT RequestId: {rid2}\tDuration: {MS}\tBilled Duration: \d+ ms\t"
        rf"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t",
        second.record.log_lines[5],
    )
    assert len(second.record.log_lines) == 6
    assert not any("INIT_START" in x or "one" in x for x in second.record.log_lines)


async def test_concurrent_invocations_keep_their_own_output(engine: Engine) -> None:
    add_function(
        engine,
        "chatty",
        """
        import time

        def handler(event, context):
            for i in range(5):
                print(f"{event['mark']} line {i}")
                time.sleep(0.02)
            return event["mark"]
        """,
    )
    marks = [f"m{i}" for i in range(4)]
    results = await asyncio.gather(
        *(engine.invoke("chatty", json.dumps({"mark": m})) for m in marks)
    )
    assert len({r.record.env_id for r in results}) == 4
    for mark, result in zip(marks, results, strict=True):
        assert body(result) == mark
        own = [x for x in result.record.log_lines if " line " in x]
        assert own == [f"{mark} line {i}" for i in range(5)]


# ---------------------------------------------------------------------------- warm reuse


async def test_warm_reuse_keeps_the_process_and_module_state(engine: Engine) -> None:
    add_function(
        engine,
        "counter",
        """
        import os

        calls = 0

        def handler(event, context):
            global calls
            calls += 1
            return {"pid": os.getpid(), "calls": calls}
        """,
    )
    first = body(await engine.invoke("counter"))
    second = body(await engine.invoke("counter"))
    third = body(await engine.invoke("counter"))
    assert first["pid"] == second["pid"] == third["pid"]
    assert [first["calls"], second["calls"], third["calls"]] == [1, 2, 3]
    assert first["pid"] != os.getpid()


# ---------------------------------------------------------------------------- handler errors


async def test_handler_exception(engine: Engine) -> None:
    folder = add_function(
        engine,
        "raiser",
        """
        class PaymentDeclined(Exception):
            pass

        def charge(amount):
            raise PaymentDeclined(f"card declined for {amount}")

        def handler(event, context):
            return charge(event["amount"])
        """,
    )
    result = await engine.invoke("raiser", b'{"amount": 12}')
    app = str(folder.resolve() / "app.py")
    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorMessage": "card declined for 12",
        "errorType": "PaymentDeclined",
        "requestId": result.record.request_id,
        "stackTrace": [
            f'  File "{app}", line 8, in handler\n    return charge(event["amount"])\n',
            f'  File "{app}", line 5, in charge\n'
            f'    raise PaymentDeclined(f"card declined for {{amount}}")\n',
        ],
    }
    assert result.record.status == "error"
    assert result.record.error_type == "PaymentDeclined"
    error_lines = [x for x in result.record.log_lines if x.startswith("[ERROR]")]
    assert len(error_lines) == 1
    # One log record: the traceback joined by CR, indents as no-break spaces (AWS's runtime).
    assert error_lines[0].startswith(
        "[ERROR] PaymentDeclined: card declined for 12\rTraceback (most recent call last):\r"
        f'\u00a0\u00a0File "{app}", line 8, in handler\r'
    )
    # A handler exception is not a platform error: no Status on the REPORT line.
    assert "Status:" not in report(result)

    again = await engine.invoke("raiser", b'{"amount": 3}')
    assert again.record.cold is False  # the environment survives a handler exception
    assert body(again)["errorMessage"] == "card declined for 3"


async def test_marshal_error_for_an_unserialisable_result(engine: Engine) -> None:
    add_function(
        engine,
        "sets",
        """
        def handler(event, context):
            return {1, 2} if event.get("bad") else "fine"
        """,
    )
    result = await engine.invoke("sets", b'{"bad": true}')
    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": result.record.request_id,
        "stackTrace": [],
    }
    assert result.record.error_type == "Runtime.MarshalError"
    follow_up = await engine.invoke("sets", b"{}")
    assert follow_up.payload == b'"fine"'
    assert follow_up.record.cold is False


# ---------------------------------------------------------------------------- init errors


INIT_ERRORS = [
    pytest.param(
        "import module_that_is_not_there\n\ndef handler(event, context):\n    return 1\n",
        "app.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'module_that_is_not_there'",
        id="import",
    ),
    pytest.param(
        NOOP,
        "app.not_here",
        "Runtime.HandlerNotFound",
        "Handler 'not_here' missing on module 'app'",
        id="handler-not-found",
    ),
    pytest.param(
        "def handler(event, context)\n    return 1\n",
        "app.handler",
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app': expected ':' (app.py, line 1)",
        id="syntax",
    ),
    pytest.param(
        NOOP,
        "app",
        "Runtime.MalformedHandlerName",
        "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
        id="malformed-handler",
    ),
]


@pytest.mark.parametrize(("code", "handler", "error_type", "message"), INIT_ERRORS)
async def test_init_errors(
    engine: Engine, code: str, handler: str, error_type: str, message: str
) -> None:
    folder = add_function(engine, "broken", code, handler=handler)
    result = await engine.invoke("broken", b"{}")

    assert result.function_error == "Unhandled"
    payload = body(result)
    assert payload["errorType"] == error_type
    assert payload["errorMessage"] == message
    assert payload["requestId"] == ""  # init errors belong to no request
    if error_type == "Runtime.UserCodeSyntaxError":
        [frame] = payload["stackTrace"]
        assert frame.startswith(f'  File "{folder.resolve() / "app.py"}" Line 1\n')
        assert "def handler(event, context)" in frame
    else:
        assert payload["stackTrace"] == []

    r = result.record
    assert r.status == "error" and r.error_type == error_type and r.cold
    assert 0 < r.max_memory_mb < 128  # the runtime's real peak, though it never got an event
    # Lambda retried INIT in the invocation (Phase: invoke), and it failed the same way
    first, again = init_retried(result, error_type)
    for output in (first, again):
        assert any(x.startswith(f"[ERROR] {error_type}: {message}") for x in output), output
    assert f"\tStatus: error\tError Type: {error_type}" in report(result)

    # Both environments are gone; the next call runs INIT (and its retry) in new ones.
    assert engine.environments("broken") == []
    retry = await engine.invoke("broken", b"{}")
    assert body(retry)["errorType"] == error_type
    assert retry.record.cold is True
    assert retry.record.env_id != r.env_id
    init_retried(retry, error_type)


async def test_exception_at_import_keeps_its_class_name(engine: Engine) -> None:
    add_function(engine, "explodes", "raise KeyError('config')\n")
    result = await engine.invoke("explodes")
    payload = body(result)
    assert payload["errorType"] == "KeyError"
    assert payload["errorMessage"] == "'config'"
    assert "Error Type: KeyError" in next(
        x for x in result.record.log_lines if x.startswith("INIT_REPORT")
    )


# ---------------------------------------------------------------------------- timeout


async def test_timeout_kills_the_group_and_the_next_call_is_cold(engine: Engine) -> None:
    add_function(
        engine,
        "sleepy",
        """
        import os, subprocess, sys, time

        def handler(event, context):
            if event.get("sleep"):
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
                print(f"pgid={os.getpgid(0)} child={child.pid}", flush=True)
                time.sleep(event["sleep"])
            return "awake"
        """,
        timeout=1,
    )
    result = await engine.invoke("sleepy", b'{"sleep": 3}')
    rid = result.record.request_id
    assert result.payload == (
        b'{"errorMessage":"RequestId: '
        + rid.encode()
        + b' Error: Task timed out after 1.00 seconds","errorType":"Sandbox.Timedout"}'
    )
    assert result.function_error == "Unhandled"
    r = result.record
    assert r.status == "timeout"
    assert r.error_type == "Sandbox.Timedout"
    assert r.duration_ms >= 1000  # how soon after: benchmarks/limits.py
    assert report(result).endswith("\tStatus: timeout\t")
    assert any(
        re.fullmatch(rf"{LOG_TS} {rid} Task timed out after 1\.00 seconds", x) for x in r.log_lines
    )

    [marker] = [x for x in r.log_lines if x.startswith("pgid=")]
    pgid, child = (int(v.split("=")[1]) for v in marker.split())
    # SIGKILLed at the timeout; a killed process ends once it is next scheduled
    await until(lambda: group_alive(pgid) == [], "the group to die after the timeout")
    await until(lambda: not running(child), "the child to die after the timeout")
    assert engine.environments("sleepy") == []

    after = await engine.invoke("sleepy", b"{}")
    assert after.payload == b'"awake"'
    assert after.record.cold is True
    assert after.record.env_id != r.env_id


async def test_a_cancelled_invocation_is_recorded_cancelled_with_its_duration(
    engine: Engine,
) -> None:
    """Its caller stops it (the TUI's escape cancels the task): it was invoked, so it is stored
    and streamed with status cancelled and the time the handler ran; the caller's task is
    cancelled, with that record at hand; the environment is shut down."""
    add_function(
        engine,
        "sleepy",
        """
        import time

        def handler(event, context):
            print("going to sleep", flush=True)
            time.sleep(30)
        """,
        timeout=60,
    )
    events = engine.subscribe()
    task = asyncio.get_running_loop().create_task(engine.invoke("sleepy", b'{"n": 1}'))
    await until(lambda: engine.environments("sleepy"), "the environment")
    [env] = engine.environments("sleepy")
    await until(lambda: env.state == "busy", "the handler to run")
    task.cancel()
    with pytest.raises(InvocationCancelled) as stopped:
        await task
    assert task.cancelled()
    record = stopped.value.result.record
    assert (record.status, record.env_id, record.request) == ("cancelled", env.id, '{"n": 1}')
    assert record.error_type is None and record.duration_ms > 0
    assert record.billed_ms >= record.duration_ms  # with its INIT: it was a cold start
    assert record.log_lines[-1] == report(stopped.value.result)
    assert record.log_lines[-1].startswith(f"REPORT RequestId: {record.request_id}\tDuration: ")
    assert "Status:" not in record.log_lines[-1]
    assert engine.store is not None
    engine.store.flush()
    [stored] = engine.store.recent("sleepy", 1)
    assert (stored.request_id, stored.status) == (record.request_id, "cancelled")
    assert stored.duration_ms == record.duration_ms
    ends = [e for e in events.get_nowait() if isinstance(e, InvokeEnd)]
    assert [e.record.status for e in ends] == ["cancelled"]
    await until(lambda: env.state == "dead", "its environment to be shut down")
    assert engine.function_state("sleepy").last_status == "cancelled"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- crashes


CRASHES = [
    pytest.param("os._exit(3)", "Runtime exited with error: exit status 3", id="exit-3"),
    pytest.param(
        "os.kill(os.getpid(), signal.SIGKILL)",
        "Runtime exited with error: signal: killed",
        id="sigkill",
    ),
    pytest.param("os._exit(0)", "Runtime exited without providing a reason", id="exit-0"),
]


@pytest.mark.parametrize(("action", "description"), CRASHES)
async def test_runtime_crash(engine: Engine, action: str, description: str) -> None:
    add_function(
        engine,
        "crash",
        f"""
        import os, signal

        def handler(event, context):
            if event.get("crash"):
                print("going down", flush=True)
                {action}
            return "alive"
        """,
    )
    warm_up = await engine.invoke("crash", b"{}")
    result = await engine.invoke("crash", b'{"crash": true}')
    rid = result.record.request_id
    assert result.payload == (
        b'{"errorType":"Runtime.ExitError","errorMessage":"RequestId: '
        + rid.encode()
        + b" Error: "
        + description.encode()
        + b'"}'
    )
    assert result.function_error == "Unhandled"
    assert result.record.status == "crash"
    assert result.record.error_type == "Runtime.ExitError"
    assert "going down" in result.record.log_lines
    assert "\tStatus: error\tError Type: Runtime.ExitError\t" in report(result)
    assert result.record.env_id == warm_up.record.env_id

    after = await engine.invoke("crash", b"{}")
    assert after.payload == b'"alive"'
    assert after.record.cold is True
    assert after.record.env_id != warm_up.record.env_id


async def test_memory_limit_kills_the_runtime(engine: Engine) -> None:
    add_function(
        engine,
        "hog",
        """
        def handler(event, context):
            chunks = []
            for _ in range(event["mb"]):
                chunk = bytearray(1024 * 1024)
                chunk[::4096] = b"x" * 256  # touch every page
                chunks.append(chunk)
            return len(chunks)
        """,
        memory_size=128,
    )
    result = await engine.invoke("hog", b'{"mb": 512}')
    rid = result.record.request_id
    # The sandbox's memory rlimit stops the allocation; the runtime then dies as Lambda's
    # out-of-memory kill does.
    assert result.payload == (
        b'{"errorType":"Runtime.ExitError","errorMessage":"RequestId: '
        + rid.encode()
        + b' Error: Runtime exited with error: signal: killed"}'
    )
    assert result.record.status == "crash"
    assert 64 <= result.record.max_memory_mb <= 160

    ok = await engine.invoke("hog", b'{"mb": 16}')
    assert ok.payload == b"16"
    assert ok.record.cold is True


async def test_a_memory_blow_up_reports_the_runtimes_peak_even_from_a_bigger_engine(
    engine: Engine,
) -> None:
    """A child's ru_maxrss (wait4) starts at its parent's peak RSS, so once the engine has been
    bigger than the function, wait4 cannot tell the dying runtime's peak: the runtime lets the
    engine read it before it kills itself."""
    ballast = bytearray(320 * 1024 * 1024)
    ballast[::4096] = b"x" * (len(ballast) // 4096)  # this process's peak is now above 320 MB
    del ballast
    add_function(
        engine,
        "hog",
        """
        def handler(event, context):
            chunks = []
            while True:
                chunk = bytearray(1024 * 1024)
                chunk[::4096] = b"x" * 256
                chunks.append(chunk)
        """,
        memory_size=128,
    )
    result = await engine.invoke("hog", b"{}")
    assert result.record.error_type == "Runtime.ExitError"
    assert 64 <= result.record.max_memory_mb <= 160


async def test_max_memory_used_is_the_real_peak(engine: Engine) -> None:
    add_function(
        engine,
        "big",
        """
        def handler(event, context):
            data = bytearray(event["mb"] * 1024 * 1024)
            data[::4096] = b"x" * (len(data) // 4096)  # touch every page
            return len(data)
        """,
        memory_size=1024,
    )
    add_function(engine, "noop", NOOP, memory_size=1024)
    big = await engine.invoke("big", b'{"mb": 200}')
    noop = await engine.invoke("noop")
    assert big.payload == str(200 * MB).encode()
    assert 200 <= big.record.max_memory_mb < 400
    assert 0 < noop.record.max_memory_mb < 60
    assert f"\tMax Memory Used: {big.record.max_memory_mb} MB\t" in report(big)


# ---------------------------------------------------------------------------- context


async def test_remaining_time_counts_down(engine: Engine) -> None:
    add_function(
        engine,
        "clock",
        """
        import time

        def handler(event, context):
            started = time.monotonic()
            before = context.get_remaining_time_in_millis()
            time.sleep(0.2)
            after = context.get_remaining_time_in_millis()
            return [before, after, (time.monotonic() - started) * 1000]
        """,
        timeout=2,
    )
    before, after, elapsed_ms = body(await engine.invoke("clock"))
    assert 0 < after < before <= 2000
    # it counts down in step with the handler's own clock (each reading is whole ms)
    assert 200 - 2 <= before - after <= elapsed_ms + 2


async def test_context_attributes(engine: Engine) -> None:
    add_function(
        engine,
        "ctx",
        """
        def handler(event, context):
            cc = context.client_context
            return {
                "aws_request_id": context.aws_request_id,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "invoked_function_arn": context.invoked_function_arn,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "identity": [
                    context.identity.cognito_identity_id,
                    context.identity.cognito_identity_pool_id,
                ],
                "client_context": None if cc is None else {"custom": cc.custom, "env": cc.env},
                "remaining": context.get_remaining_time_in_millis(),
            }
        """,
        memory_size=256,
    )
    result = await engine.invoke("ctx")
    ctx = body(result)
    assert ctx["aws_request_id"] == result.record.request_id
    assert ctx["function_name"] == "ctx"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["memory_limit_in_mb"] == "256"  # a string, as AWS's runtime reads it from env
    assert ctx["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ctx"
    assert ctx["log_group_name"] == "/aws/lambda/ctx"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", ctx["log_stream_name"])
    assert ctx["identity"] == [None, None]
    assert ctx["client_context"] is None
    assert 0 < ctx["remaining"] <= 3000

    with_cc = body(await engine.invoke("ctx", client_context='{"custom":{"k":"v"}}'))
    assert with_cc["client_context"] == {"custom": {"k": "v"}, "env": None}
    # The same environment serves both: the log stream is the environment's.
    assert with_cc["log_stream_name"] == ctx["log_stream_name"]


# ---------------------------------------------------------------------------- sandbox


async def test_environment_variables(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_SECRET_TEST", "do-not-leak")
    folder = add_function(
        engine,
        "envvars",
        """
        import os

        def handler(event, context):
            return dict(os.environ)
        """,
        memory_size=512,
        environment={"STAGE": "dev", "TABLE_NAME": "orders"},
    )
    result = await engine.invoke("envvars")
    env = body(result)
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "envvars"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["_HANDLER"] == "app.handler"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["LAMBDA_TASK_ROOT"] == str(folder.resolve())
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/envvars"
    assert re.fullmatch(
        r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    assert env["TZ"] == ":UTC"
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["STAGE"] == "dev"
    assert env["TABLE_NAME"] == "orders"

    # Nothing of the host's environment leaks in, beyond names Lambda itself defines.
    assert "WORKBENCH_SECRET_TEST" not in env
    lambda_defines = {"PATH", "LANG", "LD_LIBRARY_PATH", "PYTHONPATH", "TZ", "TMPDIR"}
    leaked = {
        k
        for k, v in os.environ.items()
        if k in env and env[k] == v and k not in lambda_defines and not k.startswith("AWS_")
    }
    assert leaked == set()


async def test_private_tmpdir_per_environment(engine: Engine) -> None:
    add_function(
        engine,
        "tmp",
        """
        import os, tempfile, time

        def handler(event, context):
            path = os.path.join(tempfile.gettempdir(), "scratch.txt")
            with open(path, "w") as f:
                f.write(context.aws_request_id)
            time.sleep(0.3)  # overlap with the other call
            with open(path) as f:
                mine = f.read() == context.aws_request_id
            return {"tmpdir": os.environ["TMPDIR"], "gettempdir": tempfile.gettempdir(),
                    "mine": mine}
        """,
    )
    a, b = await asyncio.gather(engine.invoke("tmp"), engine.invoke("tmp"))
    da, db = body(a), body(b)
    assert a.record.env_id != b.record.env_id
    assert da["tmpdir"] != db["tmpdir"]
    for d in (da, db):
        assert d["gettempdir"] == d["tmpdir"]
        assert d["mine"] is True  # the other environment never overwrote this file
        assert os.path.realpath(d["tmpdir"]) != os.path.realpath(tempfile.gettempdir())
        assert os.path.realpath(d["tmpdir"]) != "/tmp"
        assert Path(d["tmpdir"], "scratch.txt").exists()

    await engine.close()
    for d in (da, db):
        assert not Path(d["tmpdir"]).exists()


async def test_tmpdir_is_removed_when_an_idle_environment_is_reaped(
    function_root: Path, tmp_path: Path
) -> None:
    settings = EngineSettings(keep_alive_s=0.2, reap_interval_s=0.05, state_dir=tmp_path / "s")
    async with Engine([function_root], settings) as engine:
        add_function(
            engine,
            "tmp",
            """
            import os

            def handler(event, context):
                return os.environ["TMPDIR"]
            """,
        )
        tmpdir = Path(body(await engine.invoke("tmp")))
        assert tmpdir.is_dir()
        await until(lambda: engine.environments("tmp") == [], "the idle environment to go")
        # (a TMPDIR of its own filesystem is unmounted and removed by a thread: soon after)
        await until(lambda: not tmpdir.exists(), "its TMPDIR to be removed")


async def test_rlimits_inside_the_sandbox(engine: Engine) -> None:
    add_function(
        engine,
        "limits",
        """
        import resource

        def handler(event, context):
            return {
                name: resource.getrlimit(getattr(resource, name))
                for name in ("RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_DATA", "RLIMIT_FSIZE")
            }
        """,
        memory_size=256,
        ephemeral_storage=1024,
    )
    limits = body(await engine.invoke("limits"))
    assert limits["RLIMIT_NOFILE"] == [1024, 1024]
    assert limits["RLIMIT_CORE"] == [0, 0]
    # memory: the environment's cgroup where there is one (test_isolation.py), else RLIMIT_DATA
    assert engine.pool.isolation is not None
    data = -1 if engine.pool.isolation.cgroups is not None else 256 * MB
    assert limits["RLIMIT_DATA"] == [data, data]
    assert limits["RLIMIT_FSIZE"] == [1024 * MB, 1024 * MB]


async def test_cpu_guard_is_rearmed_for_each_invocation(engine: Engine) -> None:
    add_function(
        engine,
        "cpu",
        """
        import os, resource, time

        def handler(event, context):
            end = time.process_time() + event["burn"]
            while time.process_time() < end:
                pass
            t = os.times()
            return {"soft": resource.getrlimit(resource.RLIMIT_CPU)[0], "used": t.user + t.system}
        """,
        timeout=2,
    )
    first = body(await engine.invoke("cpu", b'{"burn": 0}'))
    # INIT may use up to 10 s (Lambda's INIT limit) plus the timeout
    assert first["used"] < first["soft"] <= 10 + 2 + 1 + 1
    # each call: a fresh allowance of the timeout (+1 s) from what was used, also where the
    # engine does not read the CPU time after a call too short to have finished a CPU second
    for _ in range(8):
        after = body(await engine.invoke("cpu", b'{"burn": 0.2}'))
        # (set after the previous call: at least its CPU time then + 2 s; this call burnt 0.2)
        assert after["used"] + 2 - 0.3 <= after["soft"] <= after["used"] + 2 + 1 + 1, after


async def test_a_runaway_past_its_cpu_guard_dies_of_sigxcpu(engine: Engine) -> None:
    # Threads in C code can burn more CPU than wall time; RLIMIT_CPU stops that even when the
    # wall-clock timer would not have fired yet. Simulated by lowering the soft limit to now.
    add_function(
        engine,
        "runaway",
        """
        import resource, time

        def handler(event, context):
            used = int(time.process_time())
            resource.setrlimit(resource.RLIMIT_CPU, (used + 1, resource.RLIM_INFINITY))
            while True:
                pass
        """,
        timeout=30,
    )
    result = await engine.invoke("runaway")
    assert result.record.status == "crash"
    assert json.loads(result.payload)["errorMessage"].endswith(
        "Runtime exited with error: signal: CPU time limit exceeded"
    )


# ---------------------------------------------------------------------------- bad input


async def test_unknown_function(engine: Engine) -> None:
    with pytest.raises(ResourceNotFound) as err:
        await engine.invoke("nope", b"{}")
    assert err.value.message == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    )
    assert err.value.status == 404


@pytest.mark.parametrize("payload", [b"{not json", b'{"a": 1} trailing', b"\xff\xfe"])
async def test_invalid_json(engine: Engine, payload: bytes) -> None:
    add_function(engine, "echo", ECHO)
    with pytest.raises(InvalidRequestContent) as err:
        await engine.invoke("echo", payload)
    assert err.value.message.startswith("Could not parse request body into json")
    assert err.value.status == 400
    assert engine.environments("echo") == []  # refused before any environment started


async def test_request_too_large(engine: Engine) -> None:
    add_function(engine, "echo", ECHO)
    payload = b'"' + b"a" * (6_291_456 - 1) + b'"'
    with pytest.raises(RequestTooLarge) as err:
        await engine.invoke("echo", payload)
    assert err.value.message == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    assert err.value.status == 413


async def test_broken_config_is_reported_and_does_not_block_others(engine: Engine) -> None:
    add_function(engine, "good", ECHO)
    add_function(engine, "bad", ECHO, memory_size=64)
    with pytest.raises(FunctionNotReady) as err:
        await engine.invoke("bad", b"{}")
    message = err.value.message
    assert str(engine.roots[0] / "bad" / "function.toml") in message
    assert "memory_size" in message
    assert "128" in message and "10240" in message  # the accepted range
    result = await engine.invoke("good", b'{"still": "works"}')
    assert result.payload == b'{"still": "works"}'


async def test_response_too_large_keeps_the_environment(engine: Engine) -> None:
    add_function(
        engine,
        "huge",
        """
        def handler(event, context):
            return "x" * event["n"]
        """,
    )
    n = 6_300_000
    result = await engine.invoke("huge", json.dumps({"n": n}))
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({n + 2} bytes) exceeded maximum allowed "
        "payload size (6291556 bytes).",
    }
    assert result.record.status == "error"
    assert result.record.error_type == "Function.ResponseSizeTooLarge"

    small = await engine.invoke("huge", b'{"n": 3}')
    assert small.payload == b'"xxx"'
    assert small.record.cold is False
    assert small.record.env_id == result.record.env_id


# ---------------------------------------------------------------------------- sample_functions


@pytest.fixture
async def samples(tmp_path: Path):
    settings = EngineSettings(keep_alive_s=5.0, state_dir=tmp_path / "state")
    async with Engine([SAMPLES], settings) as engine:
        yield engine


def _error(result: InvokeResult) -> tuple[str | None, str | None]:
    payload = body(result)
    return payload.get("errorType"), payload.get("errorMessage")


async def test_samples_are_all_loadable(samples: Engine) -> None:
    assert samples.problems == {}
    assert set(samples.functions) == {
        "hello",
        "shell-curl",
        "python-awslambdaric",
        "node-hello",
        "echo",
        "init-heavy",
        "slow",
        "memory-hog",
        "crasher",
        "raiser",
        "broken-import",
        "nightly-report",
        "queue-worker",
        "items-api",
        "on-upload",
        "on-alert",
        "with-extension",
    }
    for name in samples.functions:
        text = (SAMPLES / name / "function.toml").read_text()
        assert text.startswith("#"), f"{name}/function.toml should open with a comment"


@pytest.mark.parametrize(
    "name",
    ["hello", "echo", "init-heavy", "slow", "memory-hog", "crasher", "raiser", "broken-import"],
)
async def test_sample_function(samples: Engine, name: str) -> None:
    event = b'{"name": "Ada", "n": 7}'
    result = await samples.invoke(name, event)
    rid = result.record.request_id
    log = result.record.log_lines

    if name == "hello":
        assert result.function_error is None
        assert result.payload == b'{"message": "Hello, Ada!"}'
        assert "Saying hello to Ada" in log
        assert any(re.fullmatch(rf"\[INFO\]\t{LOG_TS}\t{rid}\t.+", x) for x in log)
        assert any(re.fullmatch(rf"\[WARNING\]\t{LOG_TS}\t{rid}\t.+", x) for x in log)
        world = await samples.invoke(name, b"{}")
        assert world.payload == b'{"message": "Hello, world!"}'
    elif name == "echo":
        assert result.function_error is None
        assert result.payload == event
        assert "function_name: echo" in log
        assert f"aws_request_id: {rid}" in log
        assert any(x.startswith("memory_limit_in_mb: ") for x in log)
        assert any(re.fullmatch(r"remaining time: \d+ ms", x) for x in log)
    elif name == "init-heavy":
        assert result.function_error is None
        assert body(result) == {"n": 7, "square": 49}
        assert result.record.init_duration_ms is not None
        assert result.record.init_duration_ms >= 280
        assert "\tInit Duration: " in report(result)
        warm = await samples.invoke(name, event)
        assert warm.record.cold is False and warm.record.init_duration_ms is None
        assert "Init Duration" not in report(warm)
        # the same environment, its module-level code not run again
        assert warm.record.env_id == result.record.env_id
        assert any(x.startswith("init done: ") for x in result.record.log_lines)
        assert not any(x.startswith("init done: ") for x in warm.record.log_lines)
    elif name == "slow":
        assert _error(result) == (
            "Sandbox.Timedout",
            f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
        )
        assert result.record.status == "timeout"
    elif name == "memory-hog":
        assert _error(result) == (
            "Runtime.ExitError",
            f"RequestId: {rid} Error: Runtime exited with error: signal: killed",
        )
        hello = await samples.invoke("hello", b"{}")
        assert hello.function_error is None
    elif name == "crasher":
        assert _error(result) == (
            "Runtime.ExitError",
            f"RequestId: {rid} Error: Runtime exited with error: exit status 3",
        )
    elif name == "raiser":
        payload = body(result)
        assert payload["errorType"] == "OrderNotFound"
        assert payload["requestId"] == rid
        assert len(payload["stackTrace"]) == 2
        assert all(str(SAMPLES / "raiser" / "app.py") in f for f in payload["stackTrace"])
    elif name == "broken-import":
        payload = body(result)
        assert payload["errorType"] == "Runtime.ImportModuleError"
        assert payload["errorMessage"].startswith("Unable to import module 'app': No module named ")
        assert any(x.startswith("INIT_REPORT ") and "Status: error" in x for x in log)
    if name not in ("hello", "echo", "init-heavy"):
        assert result.function_error == "Unhandled"


async def test_a_subscription_to_some_kinds_gets_those_and_nothing_is_made_for_it(
    engine: Engine,
) -> None:
    """``subscribe(kinds=...)`` (serve's): only those events reach it, and the kinds no
    subscriber takes (the gauge's ConcurrencyChanged, InvokeStart, each output line) are not
    made at all; a subscriber to everything (the TUI's) brings them back."""
    add_function(engine, "chatty", "def handler(event, context):\n    print('hello')\n")
    await engine.invoke("chatty", b"{}")
    bus = engine.bus
    ends = engine.subscribe(kinds=(InvokeEnd,))
    try:
        assert bus.wants(InvokeEnd) and not bus.wants(ConcurrencyChanged)
        assert not bus.wants(InvokeStart) and not bus.wants(LogLine)
        made: list[type] = []
        publish = bus.publish
        bus.publish = lambda event: (made.append(type(event)), publish(event))[1]  # type: ignore[method-assign]
        for _ in range(3):
            await engine.invoke("chatty", b"{}")
        got = ends.get_nowait()
        assert [type(e) for e in got] == [InvokeEnd] * 3, got
        assert all(isinstance(e, InvokeEnd) and e.record.log_lines[1] == "hello" for e in got)
        assert made == [InvokeEnd] * 3, made  # nothing else was made
        everything = engine.subscribe()
        assert bus.wants(ConcurrencyChanged) and bus.wants(LogLine)
        await engine.invoke("chatty", b"{}")
        kinds = {type(e) for e in everything.get_nowait()}
        assert {ConcurrencyChanged, InvokeStart, LogLine, InvokeEnd} <= kinds, kinds
        assert [type(e) for e in ends.get_nowait()] == [InvokeEnd]
        everything.close()
        assert not bus.wants(ConcurrencyChanged)  # (forgotten with its subscriber)
    finally:
        ends.close()
    assert not bus.active and not bus.wants(InvokeEnd)
