"""``LoggingConfig`` through the Lambda API with boto3 (botocore's ``LoggingConfig`` shape:
``LogFormat`` Text|JSON, ``ApplicationLogLevel`` TRACE..FATAL, ``SystemLogLevel`` DEBUG|INFO|WARN,
``LogGroup``): CreateFunction, UpdateFunctionConfiguration, GetFunction(Configuration), what the
function then logs, and the errors for values Lambda refuses."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .live_server import LiveServer
from .test_deploy_api import create, error_of, package

LOGGING = package(
    {
        "app.py": (
            "import logging\n"
            "def handler(event, context):\n"
            "    logging.getLogger().debug('dbg')\n"
            "    logging.getLogger().info('hello')\n"
            "    return 'ok'\n"
        )
    }
)


def _tail(client, name: str) -> list[str]:
    out = client.invoke(FunctionName=name, LogType="Tail")
    assert json.loads(out["Payload"].read()) == "ok"
    return base64.b64decode(out["LogResult"]).decode().splitlines()


def test_logging_config_round_trip(live: LiveServer, client, api_root: Path) -> None:
    created = create(
        client,
        "logs",
        LOGGING,
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"},
    )
    assert created["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "INFO",  # Lambda's default under JSON
        "LogGroup": "/aws/lambda/logs",
    }
    got = client.get_function(FunctionName="logs")["Configuration"]["LoggingConfig"]
    assert got == created["LoggingConfig"]
    lines = _tail(client, "logs")
    records = [json.loads(x) for x in lines if x.startswith('{"timestamp"')]
    assert [(r["level"], r["message"]) for r in records] == [("DEBUG", "dbg"), ("INFO", "hello")]
    assert any('"type":"platform.report"' in x for x in lines)

    # Update keeps what it does not name; a level moves alone
    updated = client.update_function_configuration(
        FunctionName="logs", LoggingConfig={"SystemLogLevel": "WARN"}
    )
    assert updated["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG"
    assert updated["LoggingConfig"]["SystemLogLevel"] == "WARN"
    client.get_waiter("function_updated_v2").wait(FunctionName="logs")
    lines = _tail(client, "logs")
    assert not any(x.startswith('{"time"') for x in lines)  # WARN: no platform records

    # back to Text: the levels go, and the log is Lambda's text again
    text = client.update_function_configuration(
        FunctionName="logs", LoggingConfig={"LogFormat": "Text"}
    )
    assert text["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/logs"}
    conf = client.get_function_configuration(FunctionName="logs")
    assert conf["LoggingConfig"] == text["LoggingConfig"]
    client.get_waiter("function_updated_v2").wait(FunctionName="logs")
    lines = _tail(client, "logs")
    assert any(x.startswith("START RequestId: ") for x in lines)
    assert not any(x.startswith("{") for x in lines)
    # no AWS_LAMBDA_LOG_LEVEL under Text: the root logger keeps Python's WARNING, as on Lambda
    assert not any("hello" in x or "dbg" in x for x in lines)


def test_a_folder_functions_logging_config_is_shown(live: LiveServer, client) -> None:
    assert client.get_function_configuration(FunctionName="echo")["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/aws/lambda/echo",
    }
    client.update_function_configuration(
        FunctionName="echo", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"}
    )
    config = client.get_function_configuration(FunctionName="echo")["LoggingConfig"]
    assert config["LogFormat"] == "JSON" and config["ApplicationLogLevel"] == "WARN"
    toml = (live.root / "echo" / "function.toml").read_text()
    assert 'logging_format = "JSON"' in toml and 'application_log_level = "WARN"' in toml


@pytest.mark.parametrize(
    ("logging", "field", "accepted"),
    [
        ({"LogFormat": "json"}, "loggingConfig.logFormat", "[JSON, Text]"),
        (
            {"LogFormat": "JSON", "ApplicationLogLevel": "VERBOSE"},
            "loggingConfig.applicationLogLevel",
            "[TRACE, DEBUG, INFO, WARN, ERROR, FATAL]",
        ),
        (
            {"LogFormat": "JSON", "SystemLogLevel": "ERROR"},
            "loggingConfig.systemLogLevel",
            "[DEBUG, INFO, WARN]",
        ),
    ],
)
def test_values_outside_the_enums_are_a_validation_error(
    live: LiveServer, client, logging: dict[str, str], field: str, accepted: str
) -> None:
    bad = next(v for k, v in logging.items() if k != "LogFormat" or len(logging) == 1)
    with pytest.raises(ClientError) as caught:
        client.update_function_configuration(FunctionName="echo", LoggingConfig=logging)
    code, status, message = error_of(caught)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        f"1 validation error detected: Value '{bad}' at '{field}' failed to satisfy "
        f"constraint: Member must satisfy enum value set: {accepted}"
    )
    with pytest.raises(ClientError) as caught:
        create(client, "never", LOGGING, LoggingConfig=logging)
    assert error_of(caught)[0] == "ValidationException"


def test_a_level_under_text_is_refused(live: LiveServer, client) -> None:
    with pytest.raises(ClientError) as caught:
        client.update_function_configuration(
            FunctionName="echo", LoggingConfig={"ApplicationLogLevel": "DEBUG"}
        )
    code, status, message = error_of(caught)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "application_log_level" in message and "JSON" in message
    assert client.get_function_configuration(FunctionName="echo")["LoggingConfig"]["LogFormat"] == (
        "Text"
    )


def test_workbench_deploy_carries_the_logging_config(tmp_path: Path) -> None:
    import boto3
    from botocore.config import Config

    from tests.helpers import make_function
    from tests.test_cli_serve import start_serve

    from .test_deploy_cli import ROLE, deploy

    source = tmp_path / "source"
    code = "def handler(event, context):\n    return 1\n"
    make_function(source, "shipped", code, logging_format="JSON", system_log_level="WARN")
    target = tmp_path / "target"
    target.mkdir()
    serve, url, _ = start_serve(target, tmp_path / "target-state")
    try:
        client = boto3.client(
            "lambda",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 0}),
        )
        made = deploy(source, "shipped", url, "--role", ROLE)
        assert made.returncode == 0, made.stderr
        remote = client.get_function_configuration(FunctionName="shipped")["LoggingConfig"]
        assert remote == {
            "LogFormat": "JSON",
            "ApplicationLogLevel": "INFO",
            "SystemLogLevel": "WARN",
            "LogGroup": "/aws/lambda/shipped",
        }
        same = deploy(source, "shipped", url)
        assert same.stdout.splitlines()[0] == "shipped: no changes", same.stdout
        make_function(source, "shipped", code, logging_format="Text")
        changed = deploy(source, "shipped", url)
        assert changed.returncode == 0, changed.stderr
        assert any(
            x.startswith("configuration: LoggingConfig ") for x in changed.stdout.splitlines()
        )
        remote = client.get_function_configuration(FunctionName="shipped")["LoggingConfig"]
        assert remote == {"LogFormat": "Text", "LogGroup": "/aws/lambda/shipped"}
    finally:
        serve.terminate()
        serve.wait(timeout=30)
