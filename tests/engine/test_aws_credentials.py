"""The AWS credentials a handler gets (issue 16, item 4): the workbench's own by default, shaped
as Lambda's, never the host's; the host's only when asked; the endpoints at the workbench's API."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from tests.api.live_server import LiveServer
from tests.helpers import add_function, body, make_function
from workbench.engine import Engine, EngineSettings
from workbench.engine.config.function import ConfigError, load_function
from workbench.engine.runtime.credentials import (
    CREDENTIALS_FILE,
    CredentialsError,
    LocalCredentials,
    local_credentials,
)

# What a handler sees of AWS: every variable named AWS_*, except Lambda's own function facts.
AWS_VARIABLES = """
import os
def handler(event, context):
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_") and "_LAMBDA_" not in k}
"""
# A developer's machine: credentials, a profile, and what finds credentials elsewhere.
HOST = {
    "AWS_ACCESS_KEY_ID": "AKIAHOSTKEY000000000",
    "AWS_SECRET_ACCESS_KEY": "host-secret-that-reaches-the-real-account",
    "AWS_SESSION_TOKEN": "host-session-token",
    "AWS_PROFILE": "production",
    "AWS_DEFAULT_PROFILE": "production",
    "AWS_CONFIG_FILE": "/home/dev/.aws/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/home/dev/.aws/credentials",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.2/creds",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token",
    "AWS_ROLE_ARN": "arn:aws:iam::999999999999:role/admin",
}
KEY_ID = re.compile(r"ASIA[A-Z0-9]{16}")


@pytest.fixture
def host_credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The engine's process holds the developer's real credentials."""
    for name, value in HOST.items():
        monkeypatch.setenv(name, value)
    return HOST


def assert_local(seen: dict[str, str], state_dir: Path) -> None:
    """``seen`` holds the state dir's local credentials and nothing of the host's."""
    assert KEY_ID.fullmatch(seen["AWS_ACCESS_KEY_ID"]), seen["AWS_ACCESS_KEY_ID"]
    assert len(seen["AWS_SECRET_ACCESS_KEY"]) == 40
    assert len(seen["AWS_SESSION_TOKEN"]) > 300
    assert LocalCredentials.from_json((state_dir / CREDENTIALS_FILE).read_text()) == (
        LocalCredentials(
            seen["AWS_ACCESS_KEY_ID"], seen["AWS_SECRET_ACCESS_KEY"], seen["AWS_SESSION_TOKEN"]
        )
    )
    # no shared files: the SDK cannot fall back to the host's ~/.aws
    assert seen["AWS_SHARED_CREDENTIALS_FILE"] == seen["AWS_CONFIG_FILE"] == "/dev/null"
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        assert name not in seen
    assert not any(name.startswith("AWS_CONTAINER_") for name in seen)
    assert not set(seen.values()) & set(HOST.values())


async def test_a_handler_gets_local_credentials_not_the_hosts(
    engine: Engine, engine_settings: EngineSettings, host_credentials: dict[str, str]
) -> None:
    add_function(engine, "env", AWS_VARIABLES)
    seen = body(await engine.invoke("env", b"{}"))
    assert engine_settings.state_dir is not None
    assert_local(seen, engine_settings.state_dir)
    assert "AWS_ENDPOINT_URL" not in seen  # no API listens for this engine


async def test_local_credentials_last_across_restarts_and_differ_per_state_dir(
    function_root: Path, tmp_path: Path
) -> None:
    make_function(function_root, "env", AWS_VARIABLES)
    seen = []
    for state in ("a", "a", "b"):
        async with Engine([function_root], EngineSettings(state_dir=tmp_path / state)) as eng:
            seen.append(body(await eng.invoke("env", b"{}")))
    assert seen[0]["AWS_ACCESS_KEY_ID"] == seen[1]["AWS_ACCESS_KEY_ID"]
    assert seen[0]["AWS_SESSION_TOKEN"] == seen[1]["AWS_SESSION_TOKEN"]
    assert seen[2]["AWS_ACCESS_KEY_ID"] != seen[0]["AWS_ACCESS_KEY_ID"]
    assert (tmp_path / "a" / CREDENTIALS_FILE).stat().st_mode & 0o777 == 0o600


async def test_host_credentials_when_the_engine_is_asked(
    function_root: Path, tmp_path: Path, host_credentials: dict[str, str]
) -> None:
    make_function(function_root, "env", AWS_VARIABLES)
    make_function(function_root, "pinned", AWS_VARIABLES, aws_credentials="local")
    settings = EngineSettings(state_dir=tmp_path / "state", aws_credentials="host")
    async with Engine([function_root], settings) as eng:
        seen = body(await eng.invoke("env", b"{}"))
        pinned = body(await eng.invoke("pinned", b"{}"))
    for name, value in HOST.items():
        assert seen[name] == value
    assert not any(name.startswith("AWS_ENDPOINT_URL") for name in seen)
    assert_local(pinned, tmp_path / "state")  # the function's own key goes over the engine's


async def test_host_credentials_when_the_function_asks(
    engine: Engine, host_credentials: dict[str, str]
) -> None:
    add_function(engine, "env", AWS_VARIABLES, aws_credentials="host")
    add_function(engine, "other", AWS_VARIABLES)
    seen = body(await engine.invoke("env", b"{}"))
    assert {name: seen[name] for name in HOST} == HOST
    assert body(await engine.invoke("other", b"{}"))["AWS_ACCESS_KEY_ID"].startswith("ASIA")


async def test_a_published_version_keeps_its_credentials_setting(
    engine: Engine, host_credentials: dict[str, str]
) -> None:
    folder = add_function(engine, "env", AWS_VARIABLES, aws_credentials="host")
    version, _ = await engine.publish("env")
    (folder / "function.toml").write_text('handler = "app.handler"\n')
    engine.load_functions()
    assert (
        body(await engine.invoke(f"env:{version.number}", b"{}"))["AWS_ACCESS_KEY_ID"]
        == (HOST["AWS_ACCESS_KEY_ID"])
    )
    assert body(await engine.invoke("env", b"{}"))["AWS_ACCESS_KEY_ID"].startswith("ASIA")


def test_a_bad_value_is_a_config_error_naming_the_accepted_ones(tmp_path: Path) -> None:
    folder = tmp_path / "fn"
    folder.mkdir()
    (folder / "function.toml").write_text('handler = "app.handler"\naws_credentials = "aws"\n')
    with pytest.raises(ConfigError) as info:
        load_function(folder)
    assert str(info.value) == (
        f'{folder}/function.toml:2: aws_credentials = "aws": must be "local" (the workbench\'s own '
        'credentials: SDK calls reach the workbench) or "host" (this machine\'s AWS '
        "credentials: SDK calls reach real AWS)"
    )
    (folder / "function.toml").write_text("aws_credentials = true\n")
    with pytest.raises(ConfigError, match=r"function.toml:1: aws_credentials = true: must be"):
        load_function(folder)


async def test_a_bad_value_stops_only_its_function(engine: Engine) -> None:
    add_function(engine, "good", AWS_VARIABLES)
    add_function(engine, "bad", AWS_VARIABLES, aws_credentials="real")
    assert "good" in engine.functions and "bad" not in engine.functions
    assert engine.problems["bad"].error.key == "aws_credentials"


# ----------------------------------------------------------------- the endpoints

CALLER = """
import json, os, urllib.request
def handler(event, context):
    url = os.environ["AWS_ENDPOINT_URL_LAMBDA"] + "/2015-03-31/functions/echo/invocations"
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return {"status": response.status, "echo": json.loads(response.read())}
"""
ECHO = """
import os
def handler(event, context):
    return {"got": event, "from": context.function_name}
"""


def invoke(server: LiveServer, name: str, payload: object = None) -> tuple[dict, bool]:
    """Invoke over the server's Lambda API, raw (boto3 in this process would read the fake host
    profile): the payload, and whether the function failed."""
    url = f"{server.url}/2015-03-31/functions/{name}/invocations"
    data = json.dumps(payload or {}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=120) as response:
        return json.loads(response.read()), "X-Amz-Function-Error" in response.headers


@pytest.fixture
def served(tmp_path: Path, host_credentials: dict[str, str]):
    root = tmp_path / "functions"
    make_function(root, "caller", CALLER)
    make_function(root, "echo", ECHO)
    make_function(root, "env", AWS_VARIABLES)
    make_function(root, "own", AWS_VARIABLES, environment={"AWS_ENDPOINT_URL": "http://x.test"})
    make_function(root, "real", AWS_VARIABLES, aws_credentials="host")
    server = LiveServer(root, tmp_path / "state").start()
    try:
        yield server
    finally:
        server.stop()


def test_a_handler_reaches_another_local_function_through_the_endpoint(
    served: LiveServer, tmp_path: Path
) -> None:
    seen, _ = invoke(served, "env")
    assert_local(seen, tmp_path / "state")
    assert seen["AWS_ENDPOINT_URL"] == served.url
    assert seen["AWS_ENDPOINT_URL_LAMBDA"] == seen["AWS_ENDPOINT_URL_SQS"] == served.url
    out, failed = invoke(served, "caller", {"n": 7})
    assert not failed, out
    assert out == {
        "status": 200,
        "echo": {"got": {"n": 7}, "from": "echo"},
    }


def test_the_functions_own_endpoint_wins_and_host_mode_gets_none(served: LiveServer) -> None:
    own, _ = invoke(served, "own")
    assert own["AWS_ENDPOINT_URL"] == "http://x.test"
    # a service-specific one of ours would take the Lambda and SQS calls from it
    assert "AWS_ENDPOINT_URL_LAMBDA" not in own and "AWS_ENDPOINT_URL_SQS" not in own
    real, _ = invoke(served, "real")
    assert real["AWS_ACCESS_KEY_ID"] == HOST["AWS_ACCESS_KEY_ID"]
    assert not any(name.startswith("AWS_ENDPOINT_URL") for name in real)


async def test_no_endpoint_once_the_api_server_is_closed(engine: Engine) -> None:
    from workbench.api import start_api

    add_function(engine, "env", AWS_VARIABLES)
    server = await start_api(engine, "127.0.0.1", 0)
    try:
        seen = body(await engine.invoke("env", b"{}"))
        assert seen["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()
    fn = engine.functions["env"]
    assert "AWS_ENDPOINT_URL" not in engine.pool.aws_variables(fn)


# ----------------------------------------------------------------- a real SDK in a handler

SDK = """
import os
import boto3, botocore.session

def handler(event, context):
    found = botocore.session.Session().get_credentials()
    result = {"key": found and found.access_key}
    if event.get("call"):
        result["invoked"] = boto3.client("lambda").invoke(
            FunctionName="echo", Payload=b'{"via": "boto3"}'
        )["Payload"].read().decode()
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="from-handler")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        result["queue"] = url
    for name in event.get("drop", []):  # a handler that drops what the workbench set
        os.environ.pop(name, None)
    if event.get("drop"):
        found = botocore.session.Session().get_credentials()
        result["after_drop"] = found and found.access_key
    return result
"""


@pytest.fixture
def sdk_layer(tmp_path: Path) -> Path:
    """A layer holding boto3 and its dependencies (links to this interpreter's copies)."""
    boto3 = pytest.importorskip("boto3")
    site = Path(boto3.__file__).parent.parent
    python = tmp_path / "layers" / "sdk" / "python"
    python.mkdir(parents=True)
    for name in ("boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six.py"):
        (python / name).symlink_to(site / name)
    return python.parent


def test_boto3_in_a_handler_reaches_the_local_lambda_and_sqs(
    tmp_path: Path, sdk_layer: Path, host_credentials: dict[str, str]
) -> None:
    root = tmp_path / "functions"
    make_function(root, "sdk", SDK, layers=[str(sdk_layer)], memory_size=512, timeout=60)
    make_function(root, "echo", ECHO)
    # HOME holds credentials, as the developer's ~/.aws does: the handler must not find them
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAFROMHOMEFILE0000\naws_secret_access_key = s\n"
    )
    make_function(
        root,
        "dropper",
        SDK,
        layers=[str(sdk_layer)],
        memory_size=512,
        timeout=60,
        environment={"HOME": str(home)},
    )
    server = LiveServer(root, tmp_path / "state").start()
    try:
        result, failed = invoke(server, "sdk", {"call": True})
        assert not failed, result
        assert KEY_ID.fullmatch(result["key"])
        assert json.loads(result["invoked"]) == {"got": {"via": "boto3"}, "from": "echo"}
        assert result["queue"].endswith("/from-handler")
        got = server.call(lambda e: _receive(e, "from-handler"))
        assert got == ["hello"]
        # dropping the credential variables leaves botocore nothing: not the host's ~/.aws
        dropped, _ = invoke(
            server, "dropper", {"drop": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]}
        )
        assert dropped["after_drop"] is None
        # the control: without the workbench's /dev/null, that file is what it would find
        drop = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SHARED_CREDENTIALS_FILE"]
        control, _ = invoke(server, "dropper", {"drop": drop})
        assert control["after_drop"] == "AKIAFROMHOMEFILE0000"
    finally:
        server.stop()


async def _receive(engine: Engine, queue: str) -> list[str]:
    assert engine.queues is not None
    return [m.body for m in engine.queues.receive(queue, max_messages=10)]


# ----------------------------------------------------------------- the state dir's file


def test_damaged_credentials_are_replaced_and_an_unusable_state_dir_is_one_error(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / CREDENTIALS_FILE).write_text("{not json")
    made = local_credentials(state)
    assert KEY_ID.fullmatch(made.access_key_id)
    assert local_credentials(state) == made
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(
        CredentialsError,
        match=r"cannot read the workbench's credentials .*/file/credentials.json: ",
    ):
        local_credentials(blocked)
