"""Function URLs end to end: the config API through boto3, and curl (a subprocess) against the
URLs the HTTP trigger port serves, by host name and by path prefix."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.helpers import make_function
from workbench.engine.runtime import local_credentials

from .live_server import LiveServer

# the event as the body (with what the test asks back in the request's JSON "answer")
URL_ECHO = """
import base64, json
def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-fn": "yes",
                    "access-control-allow-origin": "https://evil.example"},
        "cookies": ["session=abc; Path=/", "theme=dark"],
        "body": json.dumps(event),
    }
"""

PLAIN = """
def handler(event, context):
    return {"hello": event["rawPath"]}
"""

BINARY = """
import base64
def handler(event, context):
    data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else b""
    return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(data[::-1]).decode(), "isBase64Encoded": True}
"""

RAISER = """
def handler(event, context):
    raise ValueError("boom")
"""


def url_table(folder: Path, body: str) -> None:
    with (folder / "function.toml").open("a") as f:
        f.write("\n" + body)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    root = tmp_path / "functions"
    url_table(make_function(root, "echo", URL_ECHO), '[url]\nauth_type = "NONE"\n')
    url_table(
        make_function(root, "cors", URL_ECHO),
        '[url]\nauth_type = "NONE"\n[url.cors]\nallow_origins = ["https://app.example"]\n'
        'allow_methods = ["GET", "POST"]\nallow_headers = ["x-custom"]\nmax_age = 300\n'
        'expose_headers = ["x-fn"]\nallow_credentials = true\n',
    )
    url_table(make_function(root, "plain", PLAIN), '[url]\nauth_type = "NONE"\n')
    url_table(make_function(root, "binary", BINARY), '[url]\nauth_type = "NONE"\n')
    url_table(make_function(root, "private", URL_ECHO), '[url]\nauth_type = "AWS_IAM"\n')
    url_table(make_function(root, "raiser", RAISER), '[url]\nauth_type = "NONE"\n')
    make_function(root, "bare", PLAIN)
    server = LiveServer(root, tmp_path / "state", http=True).start()
    try:
        yield server
    finally:
        server.stop()


def curl(*args: str) -> tuple[int, dict[str, list[str]], bytes]:
    """Status, headers (lower-case names) and body of one curl call."""
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "60", "-D", "-", *args],
        capture_output=True,
        check=True,
    )
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def url_of(live: LiveServer, name: str) -> str:
    url = live.client().get_function_url_config(FunctionName=name)["FunctionUrl"]
    assert isinstance(url, str)
    return url


# ----------------------------------------------------------------------------- the API


def test_config_api_lifecycle(live: LiveServer) -> None:
    client = live.client()
    created = client.create_function_url_config(
        FunctionName="bare", AuthType="AWS_IAM", Cors={"AllowOrigins": ["*"], "MaxAge": 60}
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    assert url.startswith("http://") and url.endswith(
        f".lambda-url.us-east-1.localhost:{live.http_port}/"
    )
    url_id = url.split("//")[1].split(".")[0]
    assert len(url_id) == 32 and url_id.isalnum() and url_id.islower()
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:bare"
    assert created["AuthType"] == "AWS_IAM" and created["InvokeMode"] == "BUFFERED"
    assert created["Cors"] == {"AllowOrigins": ["*"], "MaxAge": 60}
    assert "LastModifiedTime" not in created
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_function_url_config(FunctionName="bare", AuthType="NONE")

    updated = client.update_function_url_config(
        FunctionName="bare", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )
    assert updated["FunctionUrl"] == url  # the same URL: the id is stable
    assert updated["AuthType"] == "NONE" and updated["InvokeMode"] == "RESPONSE_STREAM"
    assert updated["Cors"] == {"AllowOrigins": ["*"], "MaxAge": 60}  # kept: not named
    got = client.get_function_url_config(FunctionName="bare")
    assert got["AuthType"] == "NONE" and got["CreationTime"] == created["CreationTime"]
    listed = client.list_function_url_configs(FunctionName="bare")["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]

    # served (buffered, until streaming lands) with the plain mapping
    status, _, body = curl(url + "some/where")
    assert status == 200 and json.loads(body) == {"hello": "/some/where"}

    client.delete_function_url_config(FunctionName="bare")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_url_config(FunctionName="bare")
    assert client.list_function_url_configs(FunctionName="bare")["FunctionUrlConfigs"] == []
    status, _, body = curl(url)
    assert status == 404  # the URL is gone


def test_config_api_refuses_bad_input(live: LiveServer) -> None:
    client = live.client()
    with pytest.raises(client.exceptions.InvalidParameterValueException) as bad:
        client.create_function_url_config(FunctionName="bare", AuthType="OPEN")
    assert "AuthType" in str(bad.value) and "AWS_IAM" in str(bad.value)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as bad:
        client.create_function_url_config(
            FunctionName="bare", AuthType="NONE", Cors={"MaxAge": 100000}
        )
    assert "MaxAge" in str(bad.value)
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.create_function_url_config(FunctionName="bare", AuthType="NONE", Qualifier="1")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_function_url_config(FunctionName="bare", AuthType="NONE", Qualifier="nope")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_function_url_config(FunctionName="missing", AuthType="NONE")
    # the file's URL is the file's
    with pytest.raises(client.exceptions.InvalidParameterValueException) as bad:
        client.delete_function_url_config(FunctionName="echo")
    assert "function.toml" in str(bad.value)
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_function_url_config(FunctionName="echo", AuthType="NONE")


def test_alias_url(live: LiveServer) -> None:
    client = live.client()
    client.publish_version(FunctionName="bare")
    client.create_alias(FunctionName="bare", Name="live", FunctionVersion="1")
    made = client.create_function_url_config(FunctionName="bare", Qualifier="live", AuthType="NONE")
    assert made["FunctionArn"].endswith(":function:bare:live")
    status, _, body = curl(made["FunctionUrl"] + "x")
    assert status == 200 and json.loads(body) == {"hello": "/x"}
    status, _, body = curl(f"http://127.0.0.1:{live.http_port}/lambda-url/bare:live/y")
    assert status == 200 and json.loads(body) == {"hello": "/y"}
    assert (
        client.get_function_url_config(FunctionName="bare", Qualifier="live")["FunctionUrl"]
        == (made["FunctionUrl"])
    )


def test_recursion_config_api(live: LiveServer) -> None:
    client = live.client()
    assert client.get_function_recursion_config(FunctionName="echo")["RecursiveLoop"] == "Terminate"
    put = client.put_function_recursion_config(FunctionName="echo", RecursiveLoop="Allow")
    assert put["RecursiveLoop"] == "Allow"
    assert client.get_function_recursion_config(FunctionName="echo")["RecursiveLoop"] == "Allow"
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.put_function_recursion_config(FunctionName="echo", RecursiveLoop="Sometimes")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_recursion_config(FunctionName="missing")


# ----------------------------------------------------------------------------- serving


def test_get_by_host_with_query_and_cookies(live: LiveServer) -> None:
    url = url_of(live, "echo")
    host = url.split("//")[1].split("/")[0]
    status, headers, body = curl(
        url + "a/b%20c?x=1&x=2&y=", "-H", "Cookie: a=1; b=2", "-H", "User-Agent: curl-test"
    )
    assert status == 200
    assert headers["x-fn"] == ["yes"]
    assert headers["set-cookie"] == ["session=abc; Path=/", "theme=dark"]
    assert len(headers["x-amzn-requestid"][0]) == 36
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/a/b c" and event["rawQueryString"] == "x=1&x=2&y="
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert "cookie" not in event["headers"] and event["headers"]["user-agent"] == "curl-test"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["isBase64Encoded"] is False and "body" not in event
    context = event["requestContext"]
    url_id = host.split(".")[0]
    assert context["domainName"] == host and context["domainPrefix"] == url_id
    assert context["apiId"] == url_id and context["routeKey"] == "$default"
    assert context["http"]["method"] == "GET" and context["http"]["path"] == "/a/b c"
    assert context["accountId"] == "123456789012" and "authorizer" not in context


def test_post_by_path_prefix(live: LiveServer) -> None:
    status, _, body = curl(
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        '{"k": "v"}',
        f"http://127.0.0.1:{live.http_port}/lambda-url/echo/orders?id=7",
    )
    assert status == 200
    event = json.loads(body)
    assert event["rawPath"] == "/orders" and event["body"] == '{"k": "v"}'
    assert event["requestContext"]["http"]["method"] == "POST"
    # the prefix is the workbench's: the event names the URL's own host
    assert event["requestContext"]["domainName"] == (
        url_of(live, "echo").split("//")[1].rstrip("/")
    )
    status, _, body = curl(f"http://127.0.0.1:{live.http_port}/lambda-url/nobody/")
    assert status == 404


def test_plain_result_is_json_200(live: LiveServer) -> None:
    status, headers, body = curl(f"http://127.0.0.1:{live.http_port}/lambda-url/plain/p")
    assert status == 200 and headers["content-type"] == ["application/json"]
    assert json.loads(body) == {"hello": "/p"}


def test_binary_in_and_out(live: LiveServer, tmp_path: Path) -> None:
    data = bytes(range(256))
    (tmp_path / "in.bin").write_bytes(data)
    status, headers, body = curl(
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        f"@{tmp_path / 'in.bin'}",
        url_of(live, "binary"),
    )
    assert status == 200 and headers["content-type"] == ["application/octet-stream"]
    assert body == data[::-1]


def test_function_error_is_502(live: LiveServer) -> None:
    status, _, body = curl(url_of(live, "raiser"))
    assert status == 502 and json.loads(body) == {"Message": "Internal Server Error"}


def test_cors_preflight_and_headers(live: LiveServer) -> None:
    url = url_of(live, "cors")
    before = live.sync(lambda e: e.invoker.invocations.get("cors", 0))
    status, headers, body = curl(
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://app.example",
        "-H",
        "Access-Control-Request-Method: POST",
        url,
    )
    assert status == 200 and body == b""
    assert headers["access-control-allow-origin"] == ["https://app.example"]
    assert headers["access-control-allow-methods"] == ["GET, POST"]
    assert headers["access-control-allow-headers"] == ["x-custom"]
    assert headers["access-control-max-age"] == ["300"]
    assert headers["access-control-allow-credentials"] == ["true"]
    # answered from the config: the function did not run
    assert live.sync(lambda e: e.invoker.invocations.get("cors", 0)) == before

    status, headers, _ = curl(
        "-X", "OPTIONS", "-H", "Origin: https://other.example",
        "-H", "Access-Control-Request-Method: POST", url,
    )  # fmt: skip
    assert status == 200 and "access-control-allow-origin" not in headers

    # an actual request: the config's CORS headers replace the function's own
    status, headers, _ = curl("-H", "Origin: https://app.example", url)
    assert status == 200
    assert headers["access-control-allow-origin"] == ["https://app.example"]
    assert headers["access-control-expose-headers"] == ["x-fn"]
    status, headers, _ = curl("-H", "Origin: https://other.example", url)
    assert status == 200 and "access-control-allow-origin" not in headers


# ----------------------------------------------------------------------------- AWS_IAM


def _signed_headers(
    url: str, creds: Credentials, method: str = "GET", body: bytes = b""
) -> list[str]:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(creds, "lambda", "us-east-1").add_auth(request)
    args: list[str] = []
    for name, value in request.headers.items():
        args += ["-H", f"{name}: {value}"]
    return args


def test_aws_iam_refuses_unsigned_and_wrong(live: LiveServer, tmp_path: Path) -> None:
    url = url_of(live, "private") + "secret?q=1"
    status, _, body = curl(url)
    assert status == 403 and json.loads(body) == {"Message": "Forbidden"}
    mine = local_credentials(tmp_path / "state")
    wrong = Credentials(mine.access_key_id, "x" * 40, mine.session_token)
    status, _, body = curl(*_signed_headers(url, wrong), url)
    assert status == 403 and json.loads(body) == {"Message": "Forbidden"}
    # signed for another service
    request = AWSRequest(method="GET", url=url)
    creds = Credentials(mine.access_key_id, mine.secret_access_key, mine.session_token)
    SigV4Auth(creds, "execute-api", "us-east-1").add_auth(request)
    headers = [a for k, v in request.headers.items() for a in ("-H", f"{k}: {v}")]
    assert curl(*headers, url)[0] == 403
    # a body changed after signing
    args = _signed_headers(url, creds, "POST", b'{"a":1}')
    status, _, _ = curl("-X", "POST", *args, "--data-binary", '{"a":2}', url)
    assert status == 403


def test_aws_iam_accepts_botocore_and_curl_signatures(live: LiveServer, tmp_path: Path) -> None:
    mine = local_credentials(tmp_path / "state")
    creds = Credentials(mine.access_key_id, mine.secret_access_key, mine.session_token)
    url = url_of(live, "private") + "secret/a%20b?q=1&z=%2F"
    status, _, body = curl(*_signed_headers(url, creds), url)
    assert status == 200, body
    event = json.loads(body)
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == mine.access_key_id and iam["accountId"] == "123456789012"
    payload = b'{"order": 1}'
    args = _signed_headers(url, creds, "POST", payload)
    status, _, body = curl(
        "-X", "POST", *args, "-H", "Content-Type: application/json",
        "--data-binary", payload.decode(), url,
    )  # fmt: skip
    assert status == 200 and json.loads(body)["body"] == payload.decode()
    # curl's own SigV4 signer, by path prefix
    prefixed = f"http://127.0.0.1:{live.http_port}/lambda-url/private/p?x=1"
    status, _, body = curl(
        "--aws-sigv4",
        "aws:amz:us-east-1:lambda",
        "--user",
        f"{mine.access_key_id}:{mine.secret_access_key}",
        "-H",
        f"x-amz-security-token: {mine.session_token}",
        prefixed,
    )
    assert status == 200, body
    assert json.loads(body)["rawPath"] == "/p"


def test_bad_url_config_in_file_is_reported(tmp_path: Path) -> None:
    from workbench.engine.config.function import ConfigError, load_function

    folder = make_function(tmp_path, "f", PLAIN)
    url_table(folder, '[url]\nauth_type = "NONE"\n[url.cors]\nallow_methods = ["FETCH"]\n')
    with pytest.raises(ConfigError) as bad:
        load_function(folder)
    message = str(bad.value)
    assert "url.cors.allow_methods" in message and "FETCH" in message and "GET" in message
