"""The HTTP trigger end to end: real handlers, a real server on a free port, real requests.

Every event is checked whole (each field present or left out as HTTP API does), and every
response mapping through a handler that returns what the test asks for.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict

from tests.helpers import make_function, until
from workbench.api import apigw_events
from workbench.api.http_trigger import HttpTriggerServer, RouteTable, start_http
from workbench.engine import Engine, EngineSettings
from workbench.engine.shapes import generate

# returns the event it got as the body, so the test sees exactly what the function saw
ECHO = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""

# returns the "answer" the request's JSON body asks for, as its result
ANSWER = """
import base64, json
def handler(event, context):
    body = event["body"]
    if event["isBase64Encoded"]:
        body = base64.b64decode(body).decode()
    return json.loads(body)["answer"]
"""

RAISER = """
def handler(event, context):
    raise ValueError("boom")
"""

SLEEPER = """
import time
def handler(event, context):
    time.sleep(5)
"""


def http_function(root: Path, name: str, code: str, *triggers: dict, **config) -> Path:
    folder = make_function(root, name, code, **config)
    tables = []
    for trigger in triggers:
        lines = ["[[triggers]]", 'type = "http"']
        lines += [f"{k} = {json.dumps(v)}" for k, v in trigger.items()]
        tables.append("\n".join(lines))
    with (folder / "function.toml").open("a") as f:
        f.write("\n" + "\n\n".join(tables) + "\n")
    return folder


@pytest.fixture
def root(function_root: Path) -> Path:
    http_function(function_root, "echo2", ECHO, {"path": "/v2/{id}/{proxy+}"})
    http_function(
        function_root,
        "echo1",
        ECHO,
        {"path": "/v1/{id}", "method": "POST", "payload_format": "1.0"},
    )
    http_function(function_root, "answer2", ANSWER, {"path": "/answer", "method": "POST"})
    http_function(
        function_root,
        "answer1",
        ANSWER,
        {"path": "/answer1", "method": "POST", "payload_format": "1.0"},
    )
    http_function(function_root, "raiser", RAISER, {"path": "/raise"})
    http_function(function_root, "sleeper", SLEEPER, {"path": "/sleep"}, timeout=1)
    return function_root


@pytest.fixture
async def server(root: Path, engine: Engine) -> AsyncIterator[HttpTriggerServer]:
    engine.load_functions()
    http = await start_http(engine, "127.0.0.1", 0)
    try:
        yield http
    finally:
        await http.close()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


def clf(epoch_ms: int) -> str:
    t = dt.datetime.fromtimestamp(epoch_ms // 1000, dt.UTC)
    return t.strftime("%d/%b/%Y:%H:%M:%S +0000")  # C locale in tests


def check_times(context: dict, time_key: str, epoch_key: str, before: float) -> None:
    epoch = context.pop(epoch_key)
    assert before * 1000 - 1000 <= epoch <= time.time() * 1000
    assert context.pop(time_key) == clf(epoch)


def trace_id(headers: dict, key: str) -> None:
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", headers.pop(key))


# ----------------------------------------------------------------------------- v2.0 event


async def test_v2_event_exactly(server: HttpTriggerServer, client) -> None:
    headers = CIMultiDict(
        [
            ("X-Dup", "one"),
            ("X-Dup", "two"),
            ("Cookie", "a=1; b=2"),
            ("Cookie", "c=3"),
            ("Content-Type", "application/json"),
            ("User-Agent", "tests/1.0"),
        ]
    )
    before = time.time()
    url = f"{server.url}/v2/it%20em/a/b%2Fc?x=1&x=2&y=&z=%C3%A9"
    async with client.post(url, data=b'{"k": "v"}', headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        request_id = response.headers["apigw-requestid"]
        event = json.loads(await response.text())
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", request_id)
    context = event["requestContext"]
    check_times(context, "time", "timeEpoch", before)
    trace_id(event["headers"], "x-amzn-trace-id")
    host = f"127.0.0.1:{server.port}"
    assert event == {
        "version": "2.0",
        "routeKey": "ANY /v2/{id}/{proxy+}",
        "rawPath": "/v2/it em/a/b/c",
        "rawQueryString": "x=1&x=2&y=&z=%C3%A9",
        "cookies": ["a=1", "b=2", "c=3"],
        "headers": {
            "host": host,
            "x-dup": "one,two",
            "content-type": "application/json",
            "user-agent": "tests/1.0",
            "accept": "*/*",
            "accept-encoding": "gzip, deflate",
            "content-length": "10",
            "x-forwarded-for": "127.0.0.1",
            "x-forwarded-port": str(server.port),
            "x-forwarded-proto": "http",
        },
        "queryStringParameters": {"x": "1,2", "y": "", "z": "é"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "1234567890",
            "domainName": host,
            "domainPrefix": "127.0.0.1",
            "http": {
                "method": "POST",
                "path": "/v2/it em/a/b/c",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "tests/1.0",
            },
            "requestId": request_id,
            "routeKey": "ANY /v2/{id}/{proxy+}",
            "stage": "$default",
        },
        "body": '{"k": "v"}',
        "pathParameters": {"id": "it em", "proxy": "a/b/c"},
        "isBase64Encoded": False,
    }


async def test_v2_event_leaves_out_what_is_not_there(server: HttpTriggerServer, client) -> None:
    async with client.get(f"{server.url}/v2/1/x", headers={"User-Agent": "t"}) as response:
        event = json.loads(await response.text())
    assert "cookies" not in event
    assert "queryStringParameters" not in event
    assert "body" not in event
    assert "stageVariables" not in event
    assert "authentication" not in event["requestContext"]
    assert event["rawQueryString"] == ""
    assert event["pathParameters"] == {"id": "1", "proxy": "x"}
    assert event["isBase64Encoded"] is False


async def test_a_binary_body_arrives_base64(server: HttpTriggerServer, client) -> None:
    data = bytes(range(256))
    for content_type in ("application/octet-stream", None):
        headers = {"Content-Type": content_type} if content_type else {}
        async with client.put(f"{server.url}/v2/1/x", data=data, headers=headers) as response:
            event = json.loads(await response.text())
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == data
    # a text type that is not UTF-8 is not text after all
    headers = {"Content-Type": "text/plain"}
    async with client.put(f"{server.url}/v2/1/x", data=b"\xff\xfe", headers=headers) as response:
        event = json.loads(await response.text())
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"
    # form posts are base64 too, as HTTP API sends them
    async with client.put(f"{server.url}/v2/1/x", data={"a": "b"}) as response:
        event = json.loads(await response.text())
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"a=b"


# ----------------------------------------------------------------------------- v1.0 event


async def test_v1_event_exactly(server: HttpTriggerServer, client) -> None:
    headers = CIMultiDict(
        [
            ("X-Dup", "one"),
            ("X-Dup", "two"),
            ("Cookie", "a=1"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("User-Agent", "tests/1.0"),
            ("X-Forwarded-For", "10.0.0.1"),
        ]
    )
    before = time.time()
    url = f"{server.url}/v1/7?x=1&x=2&y=3"
    async with client.post(url, data="héllo".encode(), headers=headers) as response:
        assert response.status == 200
        request_id = response.headers["apigw-requestid"]
        event = json.loads(await response.text())
    context = event["requestContext"]
    check_times(context, "requestTime", "requestTimeEpoch", before)
    trace_id(event["headers"], "X-Amzn-Trace-Id")
    [trace] = event["multiValueHeaders"].pop("X-Amzn-Trace-Id")
    assert trace.startswith("Root=1-")
    host = f"127.0.0.1:{server.port}"
    single = {
        "Host": host,
        "X-Dup": "two",
        "Cookie": "a=1",
        "Content-Type": "text/plain; charset=utf-8",
        "User-Agent": "tests/1.0",
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate",
        "Content-Length": "6",
        "X-Forwarded-For": "10.0.0.1, 127.0.0.1",
        "X-Forwarded-Port": str(server.port),
        "X-Forwarded-Proto": "http",
    }
    multi = {name: [value] for name, value in single.items()}
    multi["X-Dup"] = ["one", "two"]
    assert event == {
        "version": "1.0",
        "resource": "/v1/{id}",
        "path": "/v1/7",
        "httpMethod": "POST",
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": {"x": "2", "y": "3"},
        "multiValueQueryStringParameters": {"x": ["1", "2"], "y": ["3"]},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "1234567890",
            "domainName": host,
            "domainPrefix": "127.0.0.1",
            "extendedRequestId": request_id,
            "httpMethod": "POST",
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAmr": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": "127.0.0.1",
                "user": None,
                "userAgent": "tests/1.0",
                "userArn": None,
            },
            "path": "/v1/7",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "resourceId": "POST /v1/{id}",
            "resourcePath": "/v1/{id}",
            "stage": "$default",
        },
        "pathParameters": {"id": "7"},
        "stageVariables": None,
        "body": "héllo",
        "isBase64Encoded": False,
    }


async def test_v1_event_nulls(server: HttpTriggerServer, client) -> None:
    async with client.post(f"{server.url}/v1/7") as response:
        event = json.loads(await response.text())
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


# ----------------------------------------------------------------------------- responses


async def answer(server, client, result, path: str = "/answer"):
    """POST the result the handler should return; (status, headers multidict, body bytes)."""
    payload = json.dumps({"answer": result}).encode()
    headers = {"Content-Type": "application/json"}
    async with client.post(server.url + path, data=payload, headers=headers) as response:
        return response.status, response.headers, await response.read()


async def test_v2_response_mapping(server: HttpTriggerServer, client) -> None:
    status, headers, body = await answer(
        server,
        client,
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-Count": 3, "X-List": "a,b"},
            "multiValueHeaders": {"X-Ignored": ["v2 has none"]},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "body": "made",
        },
    )
    assert status == 201
    assert headers["Content-Type"] == "text/plain"
    assert headers["X-Count"] == "3"
    assert headers["X-List"] == "a,b"
    assert "X-Ignored" not in headers
    assert headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert body == b"made"
    # base64 is decoded; no Content-Type means application/json
    data = bytes(range(256))
    status, headers, body = await answer(
        server,
        client,
        {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(data).decode()},
    )
    assert (status, headers["Content-Type"], body) == (200, "application/json", data)
    # no body at all
    status, headers, body = await answer(server, client, {"statusCode": 204})
    assert (status, body) == (204, b"")


@pytest.mark.parametrize(
    "result, body",
    [
        ({"message": "hi"}, b'{"message": "hi"}'),
        ("Hello from Lambda!", b"Hello from Lambda!"),  # the docs' own example
        ([1, 2], b"[1, 2]"),
        (42, b"42"),
        (None, b"null"),
    ],
)
async def test_v2_a_plain_json_result_is_a_200_json_body(
    server: HttpTriggerServer, client, result, body
) -> None:
    status, headers, got = await answer(server, client, result)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert got == body


async def test_v1_response_mapping(server: HttpTriggerServer, client) -> None:
    status, headers, body = await answer(
        server,
        client,
        {
            "statusCode": 202,
            "headers": {"X-One": "1", "X-Both": "b"},
            "multiValueHeaders": {"X-Both": ["a", "b"], "Set-Cookie": ["a=1", "b=2"]},
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        },
        "/answer1",
    )
    assert status == 202
    assert headers["X-One"] == "1"
    assert headers.getall("X-Both") == ["a", "b"]  # merged, "b" not repeated
    assert headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert headers["Content-Type"] == "application/json"
    assert body == b"\x00\x01"


INTERNAL = b'{"message":"Internal server error"}'


@pytest.mark.parametrize(
    "result, path",
    [
        ({"statusCode": "200"}, "/answer"),  # statusCode must be a number
        ({"statusCode": 99}, "/answer"),
        ({"statusCode": 200, "body": {"not": "a string"}}, "/answer"),
        ({"statusCode": 200, "headers": ["x"]}, "/answer"),
        ({"statusCode": 200, "body": "%%%", "isBase64Encoded": True}, "/answer"),
        ({"statusCode": 200, "headers": {"X": {"deep": 1}}}, "/answer"),
        ({"message": "no statusCode"}, "/answer1"),  # 1.0 needs one
        ("just a string", "/answer1"),
        ({"statusCode": 200, "multiValueHeaders": {"X": "not a list"}}, "/answer1"),
    ],
)
async def test_a_malformed_result_is_a_502(server: HttpTriggerServer, client, result, path) -> None:
    status, headers, body = await answer(server, client, result, path)
    assert status == 502
    assert body == INTERNAL
    assert headers["Content-Type"] == "application/json"
    assert headers["apigw-requestid"]


async def test_a_function_error_and_a_timeout_are_502(server: HttpTriggerServer, client) -> None:
    for path in ("/raise", "/sleep"):
        async with client.get(server.url + path) as response:
            assert response.status == 502
            assert await response.read() == INTERNAL


async def test_a_result_that_is_not_json_is_a_502(
    function_root: Path, engine: Engine, client
) -> None:
    folder = function_root / "shell"
    folder.mkdir()
    (folder / "function.toml").write_text(
        'runtime = "provided"\n\n[[triggers]]\ntype = "http"\npath = "/shell"\n'
    )
    bootstrap = folder / "bootstrap"
    bootstrap.write_text(
        "#!/bin/bash\n"
        "api=http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation\n"
        "while true; do\n"
        '  id=$(curl -s -D - -o /dev/null "$api/next" | tr -d "\\r" '
        "| sed -n 's/^lambda-runtime-aws-request-id: //Ip')\n"
        '  curl -s -X POST "$api/$id/response" -d "not json {"\n'
        "done\n"
    )
    bootstrap.chmod(0o755)
    engine.load_functions()
    http = await start_http(engine, "127.0.0.1", 0)
    try:
        async with client.get(http.url + "/shell") as response:
            assert response.status == 502
            assert await response.read() == INTERNAL
    finally:
        await http.close()


# ----------------------------------------------------------------------------- routing


async def test_unknown_route_and_wrong_method_are_404(server: HttpTriggerServer, client) -> None:
    for method, path in [
        ("GET", "/nowhere"),
        ("GET", "/v1/7"),  # the route is POST only
        ("GET", "/v1/7/extra"),
        ("GET", "/v2/1"),  # {proxy+} needs at least one segment
        ("GET", "/v2/1/"),
        ("GET", "/"),
    ]:
        async with client.request(method, server.url + path) as response:
            assert response.status == 404, (method, path)
            assert response.headers["Content-Type"] == "application/json"
            assert await response.read() == b'{"message":"Not Found"}'


ROUTE_NAME = """
def handler(event, context):
    return {"route": event["routeKey"], "params": event.get("pathParameters")}
"""


async def test_the_most_specific_route_wins(function_root: Path, engine: Engine, client) -> None:
    http_function(
        function_root,
        "routes",
        ROUTE_NAME,
        {"path": "/pets/dog/{id}", "method": "GET"},
        {"path": "/pets/{kind}/{id}", "method": "GET"},
        {"path": "/pets/{kind}/{id}"},  # ANY
        {"path": "/pets/{proxy+}", "method": "GET"},
        {"path": "/{proxy+}"},
        {"path": "/"},
    )
    engine.load_functions()
    http = await start_http(engine, "127.0.0.1", 0)
    try:
        cases = [
            ("GET", "/pets/dog/1", "GET /pets/dog/{id}", {"id": "1"}),
            ("GET", "/pets/cat/1", "GET /pets/{kind}/{id}", {"kind": "cat", "id": "1"}),
            ("POST", "/pets/cat/1", "ANY /pets/{kind}/{id}", {"kind": "cat", "id": "1"}),
            ("GET", "/pets/cat/1/toys", "GET /pets/{proxy+}", {"proxy": "cat/1/toys"}),
            ("POST", "/pets/cat/1/toys", "ANY /{proxy+}", {"proxy": "pets/cat/1/toys"}),
            ("POST", "/test/5", "ANY /{proxy+}", {"proxy": "test/5"}),
            ("DELETE", "/", "ANY /", None),
        ]
        for method, path, route, params in cases:
            async with client.request(method, http.url + path) as response:
                assert response.status == 200, path
                assert await response.json() == {"route": route, "params": params}, path
    finally:
        await http.close()


def test_two_functions_on_one_route_the_first_by_name_serves_it(
    function_root: Path, tmp_path: Path
) -> None:
    http_function(function_root, "zeta", ROUTE_NAME, {"path": "/same", "method": "GET"})
    http_function(function_root, "alpha", ROUTE_NAME, {"path": "/same", "method": "GET"})
    engine = Engine([function_root], EngineSettings(state_dir=tmp_path / "state"))
    table = RouteTable(engine.functions)
    assert table.find("GET", "/same").function == "alpha"
    assert table.lines() == ["GET /same -> alpha (payload 2.0)"]
    assert table.conflicts == [
        "route GET /same is claimed by alpha and zeta; alpha serves it (the first by name)"
    ]


async def test_a_route_added_by_a_reload_serves_at_once(
    function_root: Path, tmp_path: Path, client
) -> None:
    settings = EngineSettings(state_dir=tmp_path / "state", watch=True)
    http_function(function_root, "late", ROUTE_NAME, {"path": "/first"})
    async with Engine([function_root], settings) as engine:
        await engine.wait_watching()
        http = await start_http(engine, "127.0.0.1", 0)
        try:
            async with client.get(http.url + "/second") as response:
                assert response.status == 404
            http_function(function_root, "late", ROUTE_NAME, {"path": "/second"})
            await until(
                lambda: http.routes.lines() == ["ANY /second -> late (payload 2.0)"],
                "the reload to bring the new route",
            )
            async with client.get(http.url + "/second") as response:  # the next request
                assert response.status == 200
                assert (await response.json())["route"] == "ANY /second"
            async with client.get(http.url + "/first") as response:
                assert response.status == 404  # the old route went with the old config
            assert http.routes.lines() == ["ANY /second -> late (payload 2.0)"]
        finally:
            await http.close()


async def test_the_invocation_record_names_the_route(
    server: HttpTriggerServer, engine: Engine, client
) -> None:
    async with client.get(f"{server.url}/v2/1/x") as response:
        assert response.status == 200
    [record] = engine.store.recent("echo2", 10)
    assert record.trigger == "http:ANY /v2/{id}/{proxy+}"


# ----------------------------------------------------------------------------- limits


async def test_throttling_is_a_500(
    function_root: Path, engine: Engine, client, caplog: pytest.LogCaptureFixture
) -> None:
    http_function(function_root, "held", SLEEPER, {"path": "/held"}, reserved_concurrency=0)
    engine.load_functions()
    http = await start_http(engine, "127.0.0.1", 0)
    try:
        async with client.get(http.url + "/held") as response:
            assert response.status == 500
            assert await response.read() == INTERNAL
    finally:
        await http.close()
    assert "http:ANY /held -> held: Lambda refused it: TooManyRequestsException" in caplog.text


async def test_oversized_bodies(
    server: HttpTriggerServer, client, caplog: pytest.LogCaptureFixture
) -> None:
    # over Lambda's 6 MB, under API Gateway's 10 MB: Lambda refuses it, API Gateway says 500
    data = b"x" * (7 * 1024 * 1024)
    headers = {"Content-Type": "text/plain"}
    async with client.post(f"{server.url}/v1/7", data=data, headers=headers) as response:
        assert response.status == 500
        assert await response.read() == INTERNAL
    assert "Lambda refused it: RequestEntityTooLargeException" in caplog.text
    # over API Gateway's own 10 MB: 413 before any function runs
    data = b"x" * (apigw_events.MAX_BODY + 1)
    async with client.post(f"{server.url}/v1/7", data=data, headers=headers) as response:
        assert response.status == 413
        assert await response.read() == b'{"message":"Request Entity Too Large"}'
    # the server still answers
    async with client.post(f"{server.url}/v1/7", data=b"ok", headers=headers) as response:
        assert response.status == 200


async def test_the_sample_template_has_the_real_events_shape(
    server: HttpTriggerServer, client
) -> None:
    """`generate-event apigateway http-api-proxy` and a real request agree on every key."""
    sample = generate("apigateway", "http-api-proxy", route="ANY /v2/{id}/{proxy+}", path="/v2/1/x")
    headers = {"Cookie": "a=1", "Content-Type": "application/json"}
    async with client.post(f"{server.url}/v2/1/x?q=1", data=b"{}", headers=headers) as response:
        event = json.loads(await response.text())
    assert list(event) == list(sample)
    assert list(event["requestContext"]) == list(sample["requestContext"])
    assert list(event["requestContext"]["http"]) == list(sample["requestContext"]["http"])
    for key in ("version", "routeKey", "rawPath", "pathParameters", "isBase64Encoded"):
        assert event[key] == sample[key], key
    assert event["requestContext"]["stage"] == sample["requestContext"]["stage"]
    assert event["requestContext"]["apiId"] == sample["requestContext"]["apiId"]
