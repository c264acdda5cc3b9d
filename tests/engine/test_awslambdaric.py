"""AWS's own Python runtime client (``awslambdaric``) as the runtime, through the real Engine.

A function with ``runtime_client = "awslambdaric"`` runs ``python -m awslambdaric <handler>``
from its folder, so the client must be vendored there as a Lambda zip holds it. The tests vendor
the installed distribution (the test extras pin it) and those of its requirements by copying
their files, as ``pip install --target`` would lay them out: no network at test time.

What is checked is what a user of AWS's client relies on: the event round trip, the context
object, its error payloads (handler exceptions and init errors), its log lines, warm reuse.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
from pathlib import Path, PurePosixPath

import pytest

from workbench.engine import Engine

from ..helpers import body, init_retried, make_function, until

SAMPLE = Path(__file__).resolve().parents[2] / "sample_functions" / "python-awslambdaric"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
LOG_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"

try:
    RIC_VERSION = importlib.metadata.version("awslambdaric")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - the test extras have it
    RIC_VERSION = ""

pytestmark = pytest.mark.skipif(
    not RIC_VERSION, reason="awslambdaric is not installed: pip install -e '.[test]'"
)


def _requirement_name(requirement: str) -> str | None:
    """The distribution a ``Requires-Dist`` line names, or None for an extra's requirement."""
    if "extra ==" in requirement.replace('extra=="', 'extra == "'):
        return None
    return re.split(r"[\s<>=!~\[;(]", requirement.strip(), maxsplit=1)[0]


def vendor(distribution: str, target: Path, seen: set[str] | None = None) -> None:
    """Copy an installed distribution's files, and its requirements', into ``target``."""
    seen = set() if seen is None else seen
    dist = importlib.metadata.distribution(distribution)
    key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    if key in seen:
        return
    seen.add(key)
    for file in dist.files or ():
        parts = PurePosixPath(file).parts
        if parts[0] == ".." or "__pycache__" in parts:  # scripts in bin/, compiled caches
            continue
        dest = target / file
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dist.locate_file(file), dest)
    for requirement in dist.requires or ():
        name = _requirement_name(requirement)
        if name is not None:
            vendor(name, target, seen)


@pytest.fixture(scope="module")
def vendored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """awslambdaric and its requirements, laid out as ``pip install --target`` would."""
    target = tmp_path_factory.mktemp("awslambdaric-vendored")
    vendor("awslambdaric", target)
    return target


def add_ric_function(engine: Engine, vendored: Path, name: str, code: str, **config) -> Path:
    folder = make_function(engine.roots[0], name, code, runtime_client="awslambdaric", **config)
    shutil.copytree(vendored, folder, dirs_exist_ok=True)
    engine.load_functions()
    return folder


def test_the_vendored_folder_holds_the_client_and_its_requirements(vendored: Path) -> None:
    assert (vendored / "awslambdaric" / "__main__.py").is_file()
    assert list(vendored.glob("runtime_client*.so"))  # the native (C++) Runtime API client
    assert (vendored / "simplejson").is_dir()
    assert (vendored / f"awslambdaric-{RIC_VERSION}.dist-info").is_dir()


# ---------------------------------------------------------------------------- success


CONTEXT = """
import os

def handler(event, context):
    cc = context.client_context
    return {
        "event": event,
        "pid": os.getpid(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "aws_request_id": context.aws_request_id,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "identity": [
            context.identity.cognito_identity_id,
            context.identity.cognito_identity_pool_id,
        ],
        "client_context": cc and {
            "custom": cc.custom,
            "env": cc.env,
            "installation_id": cc.client.installation_id,
            "app_title": cc.client.app_title,
        },
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
    }
"""


async def test_event_round_trip_and_context_fields(engine: Engine, vendored: Path) -> None:
    add_ric_function(engine, vendored, "ctx", CONTEXT, memory_size=256, timeout=5)

    result = await engine.invoke("ctx", b'{"n": 1, "text": "h\\u00e9llo", "list": [1, 2.5]}')

    assert result.function_error is None, result.payload
    seen = body(result)
    assert seen["event"] == {"n": 1, "text": "héllo", "list": [1, 2.5]}
    assert seen["function_name"] == "ctx"
    assert seen["function_version"] == "$LATEST"
    assert seen["aws_request_id"] == result.record.request_id
    assert re.fullmatch(UUID, seen["aws_request_id"])
    assert seen["memory_limit_in_mb"] == "256"  # read from the environment: a string
    assert seen["invoked_function_arn"] == engine.arn("ctx")
    assert seen["log_group_name"] == "/aws/lambda/ctx"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", seen["log_stream_name"])
    assert 4000 < seen["remaining_ms"] <= 5000
    assert seen["identity"] == [None, None]
    assert seen["client_context"] is None
    assert seen["trace_id"].startswith("Root=1-")
    assert seen["execution_env"] == f"AWS_Lambda_{engine.functions['ctx'].runtime}"
    # awslambdaric's own JSON: simplejson, ASCII escapes below python3.12, UTF-8 from it on.
    minor = int(engine.functions["ctx"].runtime.split(".")[1])
    text = "héllo".encode() if minor >= 12 else b"h\\u00e9llo"
    assert b'"text": "' + text + b'"' in result.payload


async def test_client_context_reaches_the_context(engine: Engine, vendored: Path) -> None:
    add_ric_function(engine, vendored, "ctx", CONTEXT)
    client_context = {
        "custom": {"user": "ada"},
        "env": {"platform": "test"},
        "client": {"installation_id": "inst-1", "app_title": "Workbench"},
    }

    result = await engine.invoke("ctx", b"{}", client_context=json.dumps(client_context, indent=2))

    assert result.function_error is None, result.payload
    assert body(result)["client_context"] == {
        "custom": {"user": "ada"},
        "env": {"platform": "test"},
        "installation_id": "inst-1",
        "app_title": "Workbench",
    }


async def test_bytes_are_returned_as_they_are(engine: Engine, vendored: Path) -> None:
    add_ric_function(
        engine,
        vendored,
        "raw",
        """
        def handler(event, context):
            return b"not json \\xff"
        """,
    )

    result = await engine.invoke("raw", b"{}")

    assert result.function_error is None
    assert result.payload == b"not json \xff"


async def test_warm_invokes_reuse_the_process_and_module_state(
    engine: Engine, vendored: Path
) -> None:
    add_ric_function(
        engine,
        vendored,
        "warm",
        """
        import os
        COUNT = 0

        def handler(event, context):
            global COUNT
            COUNT += 1
            return {"pid": os.getpid(), "count": COUNT}
        """,
    )

    results = [await engine.invoke("warm", b"{}") for _ in range(3)]

    assert [body(r)["count"] for r in results] == [1, 2, 3]
    [env] = engine.environments("warm")
    assert {body(r)["pid"] for r in results} == {env.pid}
    assert [r.record.cold for r in results] == [True, False, False]
    assert len({r.record.env_id for r in results}) == 1
    assert results[0].record.init_duration_ms and results[1].record.init_duration_ms is None


async def test_logging_and_print_reach_the_record_log(engine: Engine, vendored: Path) -> None:
    add_ric_function(
        engine,
        vendored,
        "logs",
        """
        import logging
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)

        def handler(event, context):
            print("printed", event["n"])
            logger.info("info %s", event["n"])
            logging.getLogger("mine").warning("careful")
            return "ok"
        """,
    )

    result = await engine.invoke("logs", b'{"n": 7}')

    request_id = result.record.request_id
    lines = result.record.log_lines
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    end = lines.index(f"END RequestId: {request_id}")
    mine = lines[start + 1 : end]
    assert mine[0] == "printed 7"
    # awslambdaric's text format: [LEVEL]\t<UTC time>\t<request id>\t<message>.
    assert re.fullmatch(rf"\[INFO\]\t{LOG_TS}\t{request_id}\tinfo 7", mine[1]), mine
    assert re.fullmatch(rf"\[WARNING\]\t{LOG_TS}\t{request_id}\tcareful", mine[2]), mine
    assert len(mine) == 3


async def test_the_sample_runs_once_the_client_is_vendored(engine: Engine, vendored: Path) -> None:
    folder = engine.roots[0] / "python-awslambdaric"
    folder.mkdir()
    for name in ("function.toml", "app.py"):  # what the sample tracks in git
        shutil.copy2(SAMPLE / name, folder / name)
    assert (
        "pip install --target sample_functions/python-awslambdaric awslambdaric"
        in (SAMPLE / "function.toml").read_text()
    )
    shutil.copytree(vendored, folder, dirs_exist_ok=True)
    engine.load_functions()

    result = await engine.invoke("python-awslambdaric", b'{"name": "Ada"}')

    assert result.function_error is None, result.payload
    request_id = result.record.request_id
    seen = body(result)
    assert seen["message"] == "Hello, Ada!" and seen["request_id"] == request_id
    assert any(
        re.fullmatch(rf"\[INFO\]\t{LOG_TS}\t{request_id}\tgreeting Ada from python-awslambdaric", x)
        for x in result.record.log_lines
    ), result.record.log_lines


# ---------------------------------------------------------------------------- errors


async def test_a_handler_exception_has_awslambdarics_payload_shape(
    engine: Engine, vendored: Path
) -> None:
    folder = add_ric_function(
        engine,
        vendored,
        "raises",
        """
        def handler(event, context):
            helper(event)

        def helper(event):
            raise ValueError(f"bad event {event['n']}")
        """,
    )

    result = await engine.invoke("raises", b'{"n": 3}')
    after = await engine.invoke("raises", b'{"n": 4}')

    request_id = result.record.request_id
    assert result.function_error == "Unhandled"
    error = body(result)
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "bad event 3"
    assert error["errorType"] == "ValueError"
    assert error["requestId"] == request_id
    app = folder / "app.py"
    assert error["stackTrace"] == [
        f'  File "{app}", line 2, in handler\n    helper(event)\n',
        f'  File "{app}", line 5, in helper\n    raise ValueError(f"bad event {{event[\'n\']}}")\n',
    ]
    assert result.record.status == "error"
    assert result.record.error_type == "ValueError"
    # The error is also logged, as AWS's runtime logs it: one line, frames joined with \r.
    [logged] = [line for line in result.record.log_lines if line.startswith("[ERROR]")]
    assert logged.startswith("[ERROR] ValueError: bad event 3\rTraceback (most recent call last):")
    # The runtime lives on.
    assert after.record.env_id == result.record.env_id and not after.record.cold
    assert body(after)["errorMessage"] == "bad event 4"


async def test_an_unserialisable_result_is_a_marshal_error(engine: Engine, vendored: Path) -> None:
    add_ric_function(
        engine,
        vendored,
        "sets",
        """
        def handler(event, context):
            return {1, 2}
        """,
    )

    result = await engine.invoke("sets", b"{}")

    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": result.record.request_id,
        "stackTrace": [],
    }


async def test_a_timeout_ends_the_environment(engine: Engine, vendored: Path) -> None:
    add_ric_function(
        engine,
        vendored,
        "sleepy",
        """
        import time

        def handler(event, context):
            time.sleep(event["s"])
            return context.get_remaining_time_in_millis()
        """,
        timeout=1,
    )

    slow = await engine.invoke("sleepy", b'{"s": 30}')
    quick = await engine.invoke("sleepy", b'{"s": 0.2}')

    assert slow.record.status == "timeout"
    assert body(slow)["errorType"] == "Sandbox.Timedout"
    assert quick.function_error is None and quick.record.cold
    assert quick.record.env_id != slow.record.env_id
    assert 0 < int(quick.payload) <= 800


@pytest.mark.parametrize(
    "handler, code, error_type, message",
    [
        (
            "app.handler",
            "raise RuntimeError('no config at import')\n",
            "RuntimeError",
            "no config at import",
        ),
        (
            "nowhere.handler",
            "",
            "Runtime.ImportModuleError",
            "Unable to import module 'nowhere': No module named 'nowhere'",
        ),
        (
            "app.missing",
            "X = 1\n",
            "Runtime.HandlerNotFound",
            "Handler 'missing' missing on module 'app'",
        ),
    ],
    ids=["raises-at-import", "no-module", "no-handler"],
)
async def test_an_init_error_is_posted_to_init_error(
    engine: Engine, vendored: Path, handler: str, code: str, error_type: str, message: str
) -> None:
    add_ric_function(engine, vendored, "broken", code, handler=handler)

    result = await engine.invoke("broken", b"{}")

    assert result.function_error == "Unhandled"
    error = body(result)
    assert error["errorType"] == error_type
    assert error["errorMessage"] == message
    assert error["requestId"] == ""  # posted during init, before any invoke
    assert isinstance(error["stackTrace"], list)
    record = result.record
    assert record.status == "error" and record.error_type == error_type and record.cold
    # INIT failed, Lambda ran it again in the invocation (Phase: invoke): it failed again
    for output in init_retried(result, error_type):
        assert any(line.startswith(f"[ERROR] {error_type}: {message}") for line in output), output
    # The client exits after posting it: the environment is gone, the next invoke starts anew.
    assert engine.environments("broken") == []
    again = await engine.invoke("broken", b"{}")
    assert again.record.cold and again.record.env_id != record.env_id


async def test_without_the_vendored_package_it_is_an_invalid_entrypoint_with_a_pip_hint(
    engine: Engine,
) -> None:
    folder = make_function(
        engine.roots[0],
        "bare",
        "def handler(event, context):\n    return 1\n",
        runtime_client="awslambdaric",
    )
    engine.load_functions()

    result = await engine.invoke("bare", b"{}")

    assert result.function_error == "Unhandled"
    error = body(result)
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert error["errorMessage"].startswith(f"RequestId: {result.record.request_id} Error: ")
    assert f"pip install --target {folder} awslambdaric" in error["errorMessage"]
    assert result.record.error_type == "Runtime.InvalidEntrypoint"


async def test_an_oversized_response_is_reported_and_the_next_invoke_starts_afresh(
    engine: Engine, vendored: Path
) -> None:
    add_ric_function(
        engine,
        vendored,
        "huge",
        """
        def handler(event, context):
            return "x" * event["size"]
        """,
        timeout=2,
    )

    result = await engine.invoke("huge", json.dumps({"size": 7 * 1024 * 1024}))

    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({7 * 1024 * 1024 + 2} bytes) exceeded "
        "maximum allowed payload size (6291556 bytes).",
    }
    # awslambdaric raises on the 413 and exits, as it does in Lambda ...
    [env] = engine.environments("huge")
    await until(lambda: env.state == "dead", "the runtime to exit", step=0.01)
    assert env.exit_description == "exit status 1"
    # ... and the next invoke runs in a new environment.
    after = await engine.invoke("huge", b'{"size": 3}')
    assert after.payload == b'"xxx"', after.payload
    assert after.record.cold and after.record.env_id != result.record.env_id
