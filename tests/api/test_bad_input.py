"""Bad client input is Lambda's 4xx, never a 500: deep JSON, huge or malformed qualifiers.

Each case goes over the wire as a client sends it and checks Lambda's error shape (status,
``x-amzn-ErrorType``, JSON body) and that the server logged no traceback for it. Invoke's own
checks (its payload's JSON, its qualifier's version number) are the engine's, tested here as a
client meets them.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging

import pytest

from workbench.api import apigw_events
from workbench.engine import Engine

from .live_server import LiveServer

DEEP = b"[" * 100_000  # nests past any JSON parser's recursion limit
HUGE = "99999999999999999999999"  # a version number no version can have
ARN = "arn:aws:lambda:us-east-1:123456789012:function:echo"
F = "/2015-03-31/functions/echo"


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="workbench")


@pytest.fixture
def published(live: LiveServer) -> LiveServer:
    """echo with version 1 and an alias ``live`` on it."""

    async def setup(engine) -> None:
        await engine.publish("echo")
        engine.create_alias("echo", "live", "1")

    live.call(setup)
    return live


def call(
    live: LiveServer, method: str, path: str, body: bytes | None = None, headers=None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def lambda_error(
    answer: tuple[int, dict[str, str], bytes], status: int, code: str
) -> dict[str, object]:
    got, headers, body = answer
    assert (got, headers.get("x-amzn-ErrorType")) == (status, code), body[:300]
    error = json.loads(body)
    assert error["Type"] == "User"
    return error


def nothing_ran(engine: Engine) -> bool:
    assert engine.store is not None
    engine.store.flush()
    return engine.store.count("echo") == 0


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


# --------------------------------------------------------------------------- deep JSON

CONTROL_PLANE_BODIES = {
    "UpdateFunctionConfiguration": ("PUT", f"{F}/configuration"),
    "PublishVersion": ("POST", f"{F}/versions"),
    "CreateAlias": ("POST", f"{F}/aliases"),
    "UpdateAlias": ("PUT", f"{F}/aliases/live"),
    "PutFunctionConcurrency": ("PUT", "/2017-10-31/functions/echo/concurrency"),
}


@pytest.mark.parametrize("operation", sorted(CONTROL_PLANE_BODIES))
def test_deep_json_in_a_control_plane_body_is_invalid_request_content(
    published: LiveServer, caplog, operation: str
) -> None:
    method, path = CONTROL_PLANE_BODIES[operation]
    error = lambda_error(call(published, method, path, DEEP), 400, "InvalidRequestContentException")
    assert str(error["message"]).startswith("Could not parse request body into json")
    no_tracebacks(caplog)


@pytest.mark.parametrize(
    "invocation_type",
    ["RequestResponse", "Event"],
)
def test_deep_json_as_an_invoke_payload_is_invalid_request_content(
    live: LiveServer, caplog, invocation_type: str
) -> None:
    answer = call(
        live, "POST", f"{F}/invocations", DEEP, {"X-Amz-Invocation-Type": invocation_type}
    )
    lambda_error(answer, 400, "InvalidRequestContentException")
    no_tracebacks(caplog)


def test_deep_json_in_an_sqs_request_is_a_serialization_error(live: LiveServer, caplog) -> None:
    status, headers, body = call(
        live,
        "POST",
        "/",
        DEEP,
        {"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"},
    )
    assert status == 400
    assert json.loads(body)["__type"] == "com.amazonaws.sqs#SerializationException"
    assert headers["x-amzn-query-error"] == "SerializationException;Sender"
    no_tracebacks(caplog)


def test_an_sqs_integer_of_thousands_of_digits_is_invalid(live: LiveServer, caplog) -> None:
    target = {"X-Amz-Target": "AmazonSQS.ListQueues"}
    status, _, body = call(live, "POST", "/", b'{"MaxResults": "' + b"9" * 5000 + b'"}', target)
    assert status == 400
    assert json.loads(body)["__type"] == "com.amazonaws.sqs#InvalidParameterValue"
    no_tracebacks(caplog)


LISTS = ("/2015-03-31/functions", f"{F}/versions", f"{F}/aliases")


@pytest.mark.parametrize(
    "marker,paths",
    [
        (b"[" * 3000, LISTS),  # past the parser's recursion limit, and short enough for a URL
        (b'{"not": "a key"}', LISTS),
        (b"[1, 2]", LISTS[:1]),  # a function's key is [name, version]: cannot compare
    ],
    ids=["deep", "object", "wrong-types"],
)
def test_a_marker_that_is_not_ours_is_invalid(
    published: LiveServer, caplog, marker: bytes, paths: tuple[str, ...]
) -> None:
    token = base64.urlsafe_b64encode(marker).decode()
    for path in paths:
        answer = call(published, "GET", f"{path}?Marker={token}")
        error = lambda_error(answer, 400, "InvalidParameterValueException")
        assert str(error["message"]).startswith("Invalid marker")
    no_tracebacks(caplog)


def test_a_result_nested_too_deep_is_a_malformed_http_trigger_result() -> None:
    for payload_format in ("1.0", "2.0"):
        with pytest.raises(apigw_events.MalformedResult, match="nests"):
            apigw_events.map_response(b'{"statusCode": 200, "body": ' + DEEP, payload_format)


# --------------------------------------------------------------------------- huge versions

NOT_FOUND = f"Function not found: {ARN}:{HUGE}"

HUGE_QUALIFIER_READS = {
    "GetFunction": f"{F}?Qualifier={HUGE}",
    "GetFunction (in the name)": f"/2015-03-31/functions/echo%3A{HUGE}",
    "GetFunction (in an ARN)": f"/2015-03-31/functions/{ARN.replace(':', '%3A')}%3A{HUGE}",
    "GetFunctionConfiguration": f"{F}/configuration?Qualifier={HUGE}",
    "code download": f"/workbench/code/echo?Qualifier={HUGE}",
}


@pytest.mark.parametrize("operation", sorted(HUGE_QUALIFIER_READS))
def test_a_version_number_too_large_to_exist_is_function_not_found(
    published: LiveServer, caplog, operation: str
) -> None:
    answer = call(published, "GET", HUGE_QUALIFIER_READS[operation])
    error = lambda_error(answer, 404, "ResourceNotFoundException")
    assert error["Message"] == NOT_FOUND
    no_tracebacks(caplog)


HUGE_ALIAS_WRITES = {
    "CreateAlias FunctionVersion": ("POST", "aliases", {"Name": "big", "FunctionVersion": HUGE}),
    "UpdateAlias FunctionVersion": ("PUT", "aliases/live", {"FunctionVersion": HUGE}),
    "CreateAlias RoutingConfig": (
        "POST",
        "aliases",
        {
            "Name": "split",
            "FunctionVersion": "1",
            "RoutingConfig": {"AdditionalVersionWeights": {HUGE: 0.1}},
        },
    ),
    "UpdateAlias RoutingConfig": (
        "PUT",
        "aliases/live",
        {"RoutingConfig": {"AdditionalVersionWeights": {HUGE: 0.1}}},
    ),
}


@pytest.mark.parametrize("operation", sorted(HUGE_ALIAS_WRITES))
def test_an_alias_on_a_version_too_large_to_exist_is_function_not_found(
    published: LiveServer, caplog, operation: str
) -> None:
    method, path, body = HUGE_ALIAS_WRITES[operation]
    answer = call(published, method, f"{F}/{path}", json.dumps(body).encode())
    error = lambda_error(answer, 404, "ResourceNotFoundException")
    assert error["Message"] == NOT_FOUND
    assert published.sync(lambda engine: engine.alias("echo", "live").function_version) == "1"
    no_tracebacks(caplog)


HUGE_INVOKES = {
    "Qualifier": (f"{F}/invocations?Qualifier={HUGE}", "RequestResponse"),
    "in the name": (f"/2015-03-31/functions/echo%3A{HUGE}/invocations", "RequestResponse"),
    "Event": (f"{F}/invocations?Qualifier={HUGE}", "Event"),
    "DryRun": (f"{F}/invocations?Qualifier={HUGE}", "DryRun"),
}


@pytest.mark.parametrize("case", sorted(HUGE_INVOKES))
def test_invoking_a_version_too_large_to_exist_is_function_not_found(
    published: LiveServer, caplog, case: str
) -> None:
    path, invocation_type = HUGE_INVOKES[case]
    answer = call(published, "POST", path, b"{}", {"X-Amz-Invocation-Type": invocation_type})
    error = lambda_error(answer, 404, "ResourceNotFoundException")
    assert error["Message"] == NOT_FOUND
    no_tracebacks(caplog)


def test_boto3_sees_a_huge_qualifier_as_resource_not_found(published: LiveServer) -> None:
    client = published.client()
    for read in (client.get_function, client.get_function_configuration):
        with pytest.raises(client.exceptions.ResourceNotFoundException, match=HUGE):
            read(FunctionName="echo", Qualifier=HUGE)
    with pytest.raises(client.exceptions.ResourceNotFoundException, match=HUGE):
        client.create_alias(FunctionName="echo", Name="big", FunctionVersion=HUGE)


# --------------------------------------------------------------------------- malformed values

LONG_QUALIFIER = "q" * 129

VALIDATION = {
    # operation: (method, path, body, field the message names)
    "Invoke Qualifier too long": (
        "POST",
        f"{F}/invocations?Qualifier={LONG_QUALIFIER}",
        b"{}",
        "qualifier",
    ),
    "Invoke Qualifier pattern": (
        "POST",
        f"{F}/invocations?Qualifier=no%20way!",
        b"{}",
        "qualifier",
    ),
    "Invoke name:qualifier pattern": (
        "POST",
        "/2015-03-31/functions/echo%3Ano%20way!/invocations",
        b"{}",
        "functionName",
    ),
    "DryRun Qualifier pattern": (
        "POST",
        f"{F}/invocations?Qualifier=no%20way!",
        b"",
        "qualifier",
    ),
    "GetFunction Qualifier too long": ("GET", f"{F}?Qualifier={LONG_QUALIFIER}", None, "qualifier"),
    "GetFunctionConfiguration Qualifier pattern": (
        "GET",
        f"{F}/configuration?Qualifier=a.b",
        None,
        "qualifier",
    ),
    "GetFunction name too long": (
        "GET",
        "/2015-03-31/functions/" + "n" * 300,
        None,
        "functionName",
    ),
    "CreateAlias FunctionVersion too long": (
        "POST",
        f"{F}/aliases",
        json.dumps({"Name": "long", "FunctionVersion": "1" * 1025}).encode(),
        "functionVersion",
    ),
    "CreateAlias FunctionVersion pattern": (
        "POST",
        f"{F}/aliases",
        json.dumps({"Name": "word", "FunctionVersion": "one"}).encode(),
        "functionVersion",
    ),
    "UpdateAlias RoutingConfig key": (
        "PUT",
        f"{F}/aliases/live",
        json.dumps({"RoutingConfig": {"AdditionalVersionWeights": {"1.5": 0.1}}}).encode(),
        "routingConfig.additionalVersionWeights",
    ),
    "GetAlias name too long": ("GET", f"{F}/aliases/" + "a" * 129, None, "name"),
    "ListAliases FunctionVersion": (
        "GET",
        f"{F}/aliases?FunctionVersion=1.0",
        None,
        "functionVersion",
    ),
    "ListFunctions FunctionVersion": (
        "GET",
        "/2015-03-31/functions?FunctionVersion=SOME",
        None,
        "functionVersion",
    ),
}


@pytest.mark.parametrize("case", sorted(VALIDATION))
def test_a_value_outside_the_model_is_a_validation_exception(
    published: LiveServer, caplog, case: str
) -> None:
    method, path, body, field = VALIDATION[case]
    headers = {"X-Amz-Invocation-Type": "DryRun"} if case.startswith("DryRun") else {}
    error = lambda_error(call(published, method, path, body, headers), 400, "ValidationException")
    message = str(error["message"])
    assert message.startswith("1 validation error detected: Value '"), message
    assert f"' at '{field}' failed to satisfy constraint: " in message
    assert published.sync(nothing_ran)
    no_tracebacks(caplog)
