"""Lambda's advanced logging controls through the real Engine: ``logging_format = "JSON"``, the
application and system log levels, as AWS's runtimes and Lambda's platform write them.

The reference is AWS's own code, run here: awslambdaric's ``JsonFormatter``
(``awslambdaric/lambda_runtime_log_utils.py``, installed by the test extras) formats the same
records as our ``workbench_json_log.JsonFormatter``, and the same handler runs under our runtime and
under awslambdaric, line for line. Node's records follow AWS's ``src/LogPatch.js``
(aws-lambda-nodejs-runtime-interface-client: ``formatJsonMessage``): ``timestamp``, ``level``,
``requestId``, ``message``. Platform records follow the telemetry shapes Lambda writes to
CloudWatch under JSON [DG:telemetry-schema-reference]: ``{"time", "type", "record"}``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from workbench.engine import Engine, EngineSettings, InvokeResult
from workbench.engine.config import discover
from workbench.engine.config.function import ConfigError, parse_function

from ..helpers import add_function, body, make_function, runtime_module, toml_value
from .test_awslambdaric import RIC_VERSION, add_ric_function, vendored  # noqa: F401 - fixture

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
LOG_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
PY_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"  # awslambdaric 4.2.2: whole seconds
needs_ric = pytest.mark.skipif(not RIC_VERSION, reason="awslambdaric is not installed")
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")


def _our_formatter_module() -> Any:
    return runtime_module("workbench_json_log")


def platform_records(result: InvokeResult) -> list[dict[str, Any]]:
    """The log's JSON platform records (those with a ``type``), parsed."""
    out = []
    for line in result.record.log_lines:
        if line.startswith('{"time":'):
            out.append(json.loads(line))
    return out


def own_lines(result: InvokeResult) -> list[str]:
    """The function's own lines: those between platform.start and the end of the invocation."""
    lines = result.record.log_lines
    start = next(i for i, x in enumerate(lines) if '"type":"platform.start"' in x)
    return [x for x in lines[start + 1 :] if not x.startswith('{"time":')]


# ---------------------------------------------------------------------------- function.toml


def _parse(tmp_path: Path, text: str) -> Any:
    return parse_function(text, tmp_path, tmp_path / "function.toml")


def test_logging_keys_parse_and_default(tmp_path: Path) -> None:
    assert _parse(tmp_path, "").logging.format == "Text"
    fn = _parse(
        tmp_path,
        'logging_format = "JSON"\napplication_log_level = "DEBUG"\nsystem_log_level = "WARN"\n',
    )
    assert (fn.logging.format, fn.logging.application_level, fn.logging.system_level) == (
        "JSON",
        "DEBUG",
        "WARN",
    )
    assert fn.logging.runtime_env() == {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
    }
    # JSON without levels: Lambda's defaults (INFO for both)
    plain = _parse(tmp_path, 'logging_format = "JSON"\n').logging
    assert plain.runtime_env()["AWS_LAMBDA_LOG_LEVEL"] == "INFO"
    assert plain.to_api("f")["SystemLogLevel"] == "INFO"
    assert _parse(tmp_path, 'logging_format = "Text"\n').logging.runtime_env() == {}


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ('logging_format = "json"\n', 1, 'logging_format = "json": must be "JSON" or "Text"'),
        (
            'memory_size = 256\napplication_log_level = "VERBOSE"\nlogging_format = "JSON"\n',
            2,
            'application_log_level = "VERBOSE": must be one of: '
            "TRACE, DEBUG, INFO, WARN, ERROR, FATAL",
        ),
        (
            'logging_format = "JSON"\nsystem_log_level = "ERROR"\n',
            2,
            'system_log_level = "ERROR": must be one of: DEBUG, INFO, WARN',
        ),
        (
            'application_log_level = "DEBUG"\n',
            1,
            'application_log_level = "DEBUG": levels apply only to the JSON log format: '
            'set logging_format = "JSON"',
        ),
        (
            'logging_format = "Text"\nsystem_log_level = "WARN"\n',
            2,
            'system_log_level = "WARN": levels apply only to the JSON log format: '
            'set logging_format = "JSON"',
        ),
        ("logging_format = 1\n", 1, 'logging_format = 1: must be "JSON" or "Text"'),
    ],
)
def test_bad_logging_keys_name_file_line_key_and_what_is_accepted(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(tmp_path, text)
    assert str(caught.value) == f"{tmp_path / 'function.toml'}:{line}: {expected}"


def test_a_misspelt_logging_key_is_suggested(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'logging_format'"):
        _parse(tmp_path, 'log_format = "JSON"\n')


# ---------------------------------------------------------------------------- Python: formatter


def _records() -> list[logging.LogRecord]:
    def record(level: int, msg: str, *args: object, **extra: object) -> logging.LogRecord:
        rec = logging.LogRecord("orders", level, "/var/task/app.py", 12, msg, args, None, "fn")
        rec.__dict__.update(extra)
        return rec

    try:
        raise KeyError("missing")
    except KeyError:
        exc = sys.exc_info()
    failed = logging.LogRecord("root", logging.ERROR, "/var/task/app.py", 30, "no", (), exc, "h")
    failed.aws_request_id = "rid-1"  # type: ignore[attr-defined]
    return [
        record(logging.INFO, "placed %s for %.1f", "order", 2.5, aws_request_id="rid-1"),
        record(logging.WARNING, "héllo ✓", aws_request_id=""),
        record(25, "between INFO and WARNING", aws_request_id="rid-1"),
        record(5, "below DEBUG", aws_request_id="rid-1"),
        record(60, "above CRITICAL", aws_request_id="rid-1"),
        record(logging.INFO, "extra", aws_request_id="r", order_id=7, tags=["a"], none=None),
        record(logging.INFO, "tenant", aws_request_id="r", tenant_id="t-1"),
        record(logging.DEBUG, "no request id"),
        failed,
    ]


@needs_ric
def test_our_json_formatter_writes_exactly_what_awslambdarics_writes() -> None:
    from awslambdaric.lambda_runtime_log_utils import JsonFormatter as AwsFormatter

    ours = _our_formatter_module().JsonFormatter()
    theirs = AwsFormatter()
    for mine, aws in zip(_records(), _records(), strict=True):
        expected = theirs.format(aws)
        assert ours.format(mine) == expected
        parsed = json.loads(expected)
        assert list(parsed)[:4] == ["timestamp", "level", "message", "logger"]
        assert re.fullmatch(PY_TS, parsed["timestamp"])


@needs_ric
def test_dict_messages_and_values_json_cannot_hold_as_in_awslambdaric() -> None:
    from awslambdaric.lambda_runtime_log_utils import JsonFormatter as AwsFormatter

    class Thing:
        def __str__(self) -> str:
            return "a thing"

    def rec(msg: object, args: tuple[object, ...] = ()) -> logging.LogRecord:
        r = logging.LogRecord("root", logging.INFO, "a.py", 1, msg, args, None)
        r.thing = Thing()  # type: ignore[attr-defined]
        return r

    for msg, args in [({"order": 7, "ok": True}, ()), ("%s", ({"a": 1},))]:
        expected = AwsFormatter().format(rec(msg, args))
        assert _our_formatter_module().JsonFormatter().format(rec(msg, args)) == expected
    parsed = json.loads(_our_formatter_module().JsonFormatter().format(rec({"order": 7})))
    assert parsed["message"] == {"order": 7} and parsed["thing"] == "a thing"


# ---------------------------------------------------------------------------- Python: end to end

LOGGING_HANDLER = """
import logging

def handler(event, context):
    logging.debug("dbg %s", 1)
    logging.getLogger("orders").info("placed", extra={"order_id": 7, "total": 2.5})
    logging.warning("h\\u00e9llo")
    try:
        1 / 0
    except ZeroDivisionError:
        logging.exception("failed")
    print("plain print")
    if event.get("raise"):
        raise ValueError("bad input")
    return "ok"
"""


def _normalised(line: str, folder: Path, rid: str) -> dict[str, Any]:
    """A JSON log line with what differs between two functions' runs made comparable."""
    record = json.loads(line.replace(str(folder), "<task>"))
    if record.get("requestId") == rid:
        record["requestId"] = "<rid>"
    stamp = record.pop("timestamp")
    assert re.fullmatch(PY_TS, stamp), stamp
    return record


@needs_ric
@pytest.mark.parametrize("raises", [False, True])
async def test_python_json_logs_match_awslambdaric_line_for_line(
    engine: Engine,
    vendored: Path,  # noqa: F811 - the fixture
    raises: bool,
) -> None:
    config = {"logging_format": "JSON", "application_log_level": "DEBUG"}
    ours_folder = add_function(engine, "ours", LOGGING_HANDLER, **config)
    aws_folder = add_ric_function(engine, vendored, "aws", LOGGING_HANDLER, **config)
    event = json.dumps({"raise": raises})

    mine = await engine.invoke("ours", event)
    theirs = await engine.invoke("aws", event)

    for key in ("errorType", "errorMessage") if raises else ():
        assert body(mine)[key] == body(theirs)[key]
    if not raises:
        assert body(mine) == body(theirs) == "ok"
    aws_lines = own_lines(theirs)
    # the lines AWS's runtime printed: 4 records, the print, and (raising) the error record
    assert len(aws_lines) == (6 if raises else 5), aws_lines
    assert "plain print" in aws_lines  # print is written as it is, under JSON too
    mine_n = [
        x if x == "plain print" else _normalised(x, ours_folder, mine.record.request_id)
        for x in own_lines(mine)
    ]
    aws_n = [
        x if x == "plain print" else _normalised(x, aws_folder, theirs.record.request_id)
        for x in aws_lines
    ]
    # awslambdaric's stack frames name its own bootstrap; the user's frames are what we compare
    for line in (*mine_n, *aws_n):
        if isinstance(line, dict) and line.get("level") == "ERROR" and "errorType" in line:
            line["stackTrace"] = [f for f in line["stackTrace"] if "<task>" in f]
    assert mine_n == aws_n
    first = mine_n[0]
    assert first == {
        "level": "DEBUG",
        "message": "dbg 1",
        "logger": "root",
        "requestId": "<rid>",
    }
    assert mine_n[1] == {
        "level": "INFO",
        "message": "placed",
        "logger": "orders",
        "requestId": "<rid>",
        "order_id": 7,
        "total": 2.5,
    }
    failed = mine_n[3]
    assert (
        failed["errorType"] == "ZeroDivisionError" and failed["errorMessage"] == "division by zero"
    )
    assert failed["location"] == "<task>/app.py:handler:10"
    if raises:
        error = mine_n[5]
        assert {k: error[k] for k in ("level", "errorType", "errorMessage", "requestId")} == {
            "level": "ERROR",
            "errorType": "ValueError",
            "errorMessage": "bad input",
            "requestId": "<rid>",
        }


async def test_python_application_level_filters_the_logging_module(engine: Engine) -> None:
    add_function(
        engine,
        "quiet",
        LOGGING_HANDLER,
        logging_format="JSON",
        application_log_level="ERROR",
    )
    result = await engine.invoke("quiet", b"{}")
    lines = own_lines(result)
    assert lines[-1] == "plain print"  # print is not a log record: never filtered
    levels = [json.loads(x)["level"] for x in lines[:-1]]
    assert levels == ["ERROR"]  # logging.exception only; DEBUG, INFO and WARNING are dropped


async def test_python_default_json_level_is_info(engine: Engine) -> None:
    add_function(engine, "info", LOGGING_HANDLER, logging_format="JSON")
    result = await engine.invoke("info", b"{}")
    levels = [json.loads(x)["level"] for x in own_lines(result) if x != "plain print"]
    assert levels == ["INFO", "WARNING", "ERROR"]
    # forked from the fork server's interpreter, which imported the bootstrap before this
    # environment's variables existed: the format is read when the runtime starts
    [env] = engine.pool.environments("info")
    assert env.forked


async def test_python_init_failure_under_json(engine: Engine) -> None:
    add_function(engine, "broken", "import not_a_module\n", logging_format="JSON")
    result = await engine.invoke("broken", b"{}")
    assert body(result)["errorType"] == "Runtime.ImportModuleError"
    lines = [json.loads(x) for x in result.record.log_lines if x.startswith('{"timestamp"')]
    assert len(lines) == 4  # INIT, then its retry in the invocation: each warns, then errs
    for warning, error in (lines[:2], lines[2:]):
        # AWS's runtime: logging.warning(LAMBDA_WARNING) through the root logger, then log_error
        assert warning["level"] == "WARNING" and warning["logger"] == "root"
        assert warning["message"].startswith("LAMBDA_WARNING: Unhandled exception.")
        assert warning["requestId"] == ""
        assert error["level"] == "ERROR" and error["errorType"] == "Runtime.ImportModuleError"
        assert re.fullmatch(PY_TS, error["timestamp"])
    records = platform_records(result)
    inits = [r["record"] for r in records if r["type"] == "platform.initReport"]
    assert [(r["phase"], r["status"], r["errorType"]) for r in inits] == [
        ("init", "error", "Runtime.ImportModuleError"),
        ("invoke", "error", "Runtime.ImportModuleError"),
    ]
    assert [r["type"] for r in records].count("platform.initStart") == 1
    [report] = [r["record"] for r in records if r["type"] == "platform.report"]
    assert "initDurationMs" not in report["metrics"] and report["metrics"]["durationMs"] > 0


ENV_HANDLER = """
import os

def handler(event, context):
    return {k: os.environ.get(k) for k in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL")}
"""


async def test_the_runtime_gets_lambdas_log_variables(engine: Engine) -> None:
    add_function(engine, "env-json", ENV_HANDLER, logging_format="JSON")
    add_function(engine, "env-text", ENV_HANDLER)
    json_env = body(await engine.invoke("env-json", b"{}"))
    assert json_env == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}
    text_env = body(await engine.invoke("env-text", b"{}"))
    assert text_env == {"AWS_LAMBDA_LOG_FORMAT": None, "AWS_LAMBDA_LOG_LEVEL": None}


async def test_json_logs_in_the_functions_namespaces(function_root: Path, tmp_path: Path) -> None:
    """Under ``auto`` isolation the runtime dir is /var/runtime: the formatter must load there."""
    make_function(
        function_root,
        "ns",
        LOGGING_HANDLER,
        logging_format="JSON",
        application_log_level="WARN",
    )
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation="auto"
    )
    async with Engine([function_root], settings) as engine:
        result = await engine.invoke("ns", b"{}")
    assert body(result) == "ok"
    records = [json.loads(x) for x in own_lines(result) if x != "plain print"]
    assert [(r["level"], r["logger"]) for r in records] == [("WARNING", "root"), ("ERROR", "root")]
    assert records[1]["location"].startswith("/var/task/app.py:handler:")


# ---------------------------------------------------------------------------- platform records


async def test_platform_lines_are_telemetry_records_under_json(engine: Engine) -> None:
    add_function(engine, "plat", "def handler(e, c):\n    return 1\n", logging_format="JSON")
    cold = await engine.invoke("plat", b"{}")
    warm = await engine.invoke("plat", b"{}")
    rid = cold.record.request_id
    records = platform_records(cold)
    assert [r["type"] for r in records] == [
        "platform.initStart",
        "platform.start",
        "platform.report",  # platform.runtimeDone is DEBUG: not at the default INFO
    ]
    for r in records:
        assert list(r) == ["time", "type", "record"]
        assert re.fullmatch(LOG_TS, r["time"])
    init, start, rep = (r["record"] for r in records)
    assert init["initializationType"] == "on-demand" and init["phase"] == "init"
    assert init["runtimeVersion"].startswith("python:3.")
    assert init["runtimeVersionArn"].startswith("arn:aws:lambda:")
    assert start == {"requestId": rid, "version": "$LATEST"}
    assert rep["requestId"] == rid and rep["status"] == "success"
    metrics = rep["metrics"]
    assert list(metrics) == [
        "durationMs",
        "billedDurationMs",
        "memorySizeMB",
        "maxMemoryUsedMB",
        "initDurationMs",
    ]
    assert metrics["durationMs"] == pytest.approx(cold.record.duration_ms, abs=0.01)
    assert metrics["billedDurationMs"] == cold.record.billed_ms
    assert metrics["memorySizeMB"] == 128 and metrics["maxMemoryUsedMB"] > 0
    assert not any(x.startswith(("START ", "END ", "REPORT ")) for x in cold.record.log_lines)
    warm_types = [r["type"] for r in platform_records(warm)]
    assert warm_types == ["platform.start", "platform.report"]
    assert "initDurationMs" not in platform_records(warm)[1]["record"]["metrics"]


async def test_system_level_filters_platform_records(engine: Engine) -> None:
    code = "def handler(e, c):\n    print('hi')\n    raise RuntimeError('x')\n"
    add_function(engine, "dbg", code, logging_format="JSON", system_log_level="DEBUG")
    add_function(engine, "warn", code, logging_format="JSON", system_log_level="WARN")
    debug = await engine.invoke("dbg", b"{}")
    types = [r["type"] for r in platform_records(debug)]
    assert types == [
        "platform.initStart",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ]
    done = platform_records(debug)[2]["record"]
    assert done["requestId"] == debug.record.request_id
    assert done["status"] == "error" and done["errorType"] == "RuntimeError"
    assert platform_records(debug)[3]["record"]["status"] == "error"
    quiet = await engine.invoke("warn", b"{}")
    assert platform_records(quiet) == []
    assert "hi" in quiet.record.log_lines  # the function's own output stays


async def test_text_format_keeps_lambdas_text_lines(engine: Engine) -> None:
    add_function(engine, "txt", "def handler(e, c):\n    return 1\n", logging_format="Text")
    result = await engine.invoke("txt", b"{}")
    lines = result.record.log_lines
    assert lines[0].startswith("INIT_START Runtime Version: python:3.")
    assert lines[1] == f"START RequestId: {result.record.request_id} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {result.record.request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {result.record.request_id}\t")


async def test_a_timeout_reports_status_timeout(engine: Engine) -> None:
    code = "import time\ndef handler(e, c):\n    time.sleep(30)\n"
    add_function(engine, "slow", code, logging_format="JSON", timeout=1)
    result = await engine.invoke("slow", b"{}")
    [rep] = [r for r in platform_records(result) if r["type"] == "platform.report"]
    assert rep["record"]["status"] == "timeout"
    assert rep["record"]["errorType"] == "Sandbox.Timedout"


# ---------------------------------------------------------------------------- Node.js

NODE_HANDLER = """
exports.handler = async () => {
  console.debug('dbg');
  console.log('hello %s', 'world');
  console.info({ k: 1 });
  console.warn('careful');
  console.error(new Error('boom'));
  return 'ok';
};
"""


def _node_function(engine: Engine, name: str, **config: Any) -> None:
    folder = engine.roots[0] / name
    folder.mkdir(parents=True)
    config = {"runtime": "nodejs20.x", "handler": "index.handler", **config}
    (folder / "function.toml").write_text(
        "".join(f"{k} = {toml_value(v)}\n" for k, v in config.items())
    )
    (folder / "index.js").write_text(textwrap.dedent(NODE_HANDLER))
    engine.load_functions()


@needs_node
async def test_node_json_logs_have_aws_shape_and_filter_by_level(engine: Engine) -> None:
    _node_function(engine, "nodejson", logging_format="JSON", application_log_level="DEBUG")
    _node_function(engine, "nodewarn", logging_format="JSON", application_log_level="WARN")
    result = await engine.invoke("nodejson", b"{}")
    rid = result.record.request_id
    records = [json.loads(x) for x in own_lines(result)]
    for r in records:
        # LogPatch.js formatJsonMessage: timestamp, level, requestId, then message
        assert list(r)[:4] == ["timestamp", "level", "requestId", "message"]
        assert re.fullmatch(LOG_TS, r["timestamp"]) and r["requestId"] == rid
    assert [(r["level"], r["message"]) for r in records[:4]] == [
        ("DEBUG", "dbg"),
        ("INFO", "hello world"),
        ("INFO", {"k": 1}),  # one argument: the value itself, not util.format's text
        ("WARN", "careful"),
    ]
    error = records[4]["message"]
    assert records[4]["level"] == "ERROR"
    assert (error["errorType"], error["errorMessage"]) == ("Error", "boom")
    assert error["stackTrace"][0] == "Error: boom"
    quiet = await engine.invoke("nodewarn", b"{}")
    assert [json.loads(x)["level"] for x in own_lines(quiet)] == ["WARN", "ERROR"]
    assert [r["type"] for r in platform_records(quiet)] == [
        "platform.initStart",
        "platform.start",
        "platform.report",
    ]


# ---------------------------------------------------------------------------- templates


def _template(tmp_path: Path, logging_yaml: str, globals_yaml: str = "") -> Path:
    root = tmp_path / "app"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return 'ok'\n")
    (root / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n" + globals_yaml + "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: src\n"
        "      Handler: app.handler\n"
        "      Runtime: python3.12\n" + logging_yaml
    )
    return root


def test_a_templates_logging_config_becomes_the_functions(tmp_path: Path) -> None:
    root = _template(
        tmp_path,
        "      LoggingConfig:\n"
        "        LogFormat: JSON\n"
        "        ApplicationLogLevel: ERROR\n"
        "        LogGroup: /custom/group\n",
    )
    found = discover([root])
    fn = found.functions["Fn"]
    assert (fn.logging.format, fn.logging.application_level) == ("JSON", "ERROR")
    assert "LoggingConfig.LogGroup: not run here (logs stay in the workbench)" in fn.notes
    assert not any(note.startswith("LoggingConfig: not run here") for note in fn.notes)


def test_a_logging_config_in_globals_applies(tmp_path: Path) -> None:
    root = _template(
        tmp_path, "", "Globals:\n  Function:\n    LoggingConfig:\n      LogFormat: JSON\n"
    )
    assert discover([root]).functions["Fn"].logging.format == "JSON"


@pytest.mark.parametrize(
    ("yaml", "line", "key", "message"),
    [
        (
            "      LoggingConfig:\n        LogFormat: Json\n",
            10,
            "Resources.Fn.Properties.LoggingConfig.LogFormat",
            'must be "JSON" or "Text"',
        ),
        (
            "      LoggingConfig:\n        SystemLogLevel: WARN\n",
            10,
            "Resources.Fn.Properties.LoggingConfig.SystemLogLevel",
            'levels apply only to the JSON log format: set logging_format = "JSON"',
        ),
        (
            "      LoggingConfig:\n        LogFormat: JSON\n        Level: INFO\n",
            11,
            "Resources.Fn.Properties.LoggingConfig.Level",
            "unknown property; accepted: LogFormat, ApplicationLogLevel, SystemLogLevel, LogGroup",
        ),
        (
            "      LoggingConfig: JSON\n",
            9,
            "Resources.Fn.Properties.LoggingConfig",
            "must be a mapping (LogFormat, ApplicationLogLevel, SystemLogLevel)",
        ),
    ],
)
def test_a_bad_logging_config_in_a_template_is_located(
    tmp_path: Path, yaml: str, line: int, key: str, message: str
) -> None:
    root = _template(tmp_path, yaml)
    found = discover([root])
    assert found.functions == {}
    error = found.problems["Fn"].error
    assert (error.line, error.key, error.message) == (line, key, message)


# ---------------------------------------------------------------------------- versions, reload


async def test_a_version_freezes_its_logging_config_across_restarts(
    function_root: Path, engine_settings: EngineSettings
) -> None:
    code = "import logging\ndef handler(e, c):\n    logging.warning('w')\n    return 1\n"
    make_function(function_root, "v", code, logging_format="JSON")
    async with Engine([function_root], engine_settings) as engine:
        version, created = await engine.publish("v")
        assert created
        # back to text: a change of logging config alone makes a new version
        make_function(function_root, "v", code, logging_format="Text")
        engine.load_functions()
        latest = await engine.invoke("v", b"{}")
        assert any(x.startswith("[WARNING]\t") for x in latest.record.log_lines)
        second, created = await engine.publish("v")
        assert created and second.number == version.number + 1
    async with Engine([function_root], engine_settings) as engine:  # read back from SQLite
        frozen = await engine.invoke("v", b"{}", qualifier=str(version.number))
    records = [json.loads(x) for x in frozen.record.log_lines if x.startswith('{"timestamp"')]
    assert [r["level"] for r in records] == ["WARNING"]
    assert [r["type"] for r in platform_records(frozen)][-1] == "platform.report"


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("TRACE", ["DEBUG", "INFO", "WARNING", "ERROR"]),  # awslambdaric maps TRACE to DEBUG
        ("FATAL", []),  # CRITICAL only: logging.exception's ERROR is dropped
    ],
)
async def test_python_trace_and_fatal_levels(
    engine: Engine, level: str, expected: list[str]
) -> None:
    add_function(engine, "lv", LOGGING_HANDLER, logging_format="JSON", application_log_level=level)
    result = await engine.invoke("lv", b"{}")
    levels = [json.loads(x)["level"] for x in own_lines(result) if x != "plain print"]
    assert levels == expected


NODE_THROWS = """
exports.handler = async () => {
  throw new TypeError('bad type');
};
"""


@needs_node
async def test_node_unhandled_error_is_one_json_error_record(engine: Engine) -> None:
    folder = engine.roots[0] / "nodethrow"
    folder.mkdir()
    (folder / "function.toml").write_text(
        'runtime = "nodejs20.x"\nhandler = "index.handler"\nlogging_format = "JSON"\n'
    )
    (folder / "index.js").write_text(NODE_THROWS)
    engine.load_functions()
    result = await engine.invoke("nodethrow", b"{}")
    assert body(result)["errorType"] == "TypeError"
    # LogPatch.js: structuredConsole.logError under JSON is console.error(intoError(err)): one
    # record whose message is the error, serialised by jsonErrorReplacer
    [line] = own_lines(result)
    record = json.loads(line)
    assert list(record) == ["timestamp", "level", "requestId", "message"]
    assert record["level"] == "ERROR" and record["requestId"] == result.record.request_id
    message = record["message"]
    assert (message["errorType"], message["errorMessage"]) == ("TypeError", "bad type")
    assert message["stackTrace"][0] == "TypeError: bad type"
    last = platform_records(result)[-1]
    assert last["type"] == "platform.report" and last["record"]["status"] == "error"


async def test_a_snapstart_restore_under_json(engine: Engine) -> None:
    code = "import logging\ndef handler(e, c):\n    logging.warning('restored')\n    return 1\n"
    add_function(
        engine, "snapjson", code, runtime="python3.12", snap_start="PublishedVersions",
        logging_format="JSON",
    )  # fmt: skip
    await engine.publish("snapjson")
    result = await engine.invoke("snapjson", b"{}", qualifier="1")
    assert body(result) == 1
    types = [r["type"] for r in platform_records(result)]
    assert types == [
        "platform.restoreStart",
        "platform.restoreReport",
        "platform.start",
        "platform.report",
    ]
    metrics = platform_records(result)[-1]["record"]["metrics"]
    assert "initDurationMs" not in metrics
    assert metrics["restoreDurationMs"] > 0 and metrics["billedRestoreDurationMs"] >= 0
    # the snapshot's interpreter was started before the restore: JSON all the same
    [record] = [json.loads(x) for x in result.record.log_lines if x.startswith('{"timestamp"')]
    assert record["message"] == "restored" and record["requestId"] == result.record.request_id
