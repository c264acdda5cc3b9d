"""Invoke through boto3 against a live server: what an SDK user sees, success and failure."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from tests.helpers import make_function, until_sync

from .live_server import LiveServer


def payload(response) -> dict:
    return json.loads(response["Payload"].read())


def test_sync_invoke_returns_the_handlers_result(client) -> None:
    response = client.invoke(FunctionName="echo", Payload=json.dumps({"n": 1}).encode())
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    body = payload(response)
    assert body["event"] == {"n": 1}
    assert body["function_name"] == "echo"
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"
    # the response's request id is the invocation's
    assert response["ResponseMetadata"]["RequestId"] == body["request_id"]


def test_no_payload_is_an_empty_object(client) -> None:
    assert payload(client.invoke(FunctionName="echo"))["event"] == {}


def test_tail_gives_the_end_of_the_log_in_base64(client) -> None:
    response = client.invoke(FunctionName="raiser", LogType="Tail", Payload=b'{"id": 7}')
    log = base64.b64decode(response["LogResult"]).decode()
    assert "about to fail" in log
    assert log.splitlines()[-1].startswith("REPORT RequestId: ")
    assert "START RequestId: " in log and "Version: $LATEST" in log


def test_without_tail_there_is_no_log(client) -> None:
    assert "LogResult" not in client.invoke(FunctionName="echo")


def test_a_long_log_is_cut_to_its_last_4_kb(live: LiveServer, client) -> None:
    make_function(live.root, "chatty", "def handler(e, c):\n    print('x' * 10000)\n")
    live.sync(lambda engine: engine.load_functions())
    log = base64.b64decode(client.invoke(FunctionName="chatty", LogType="Tail")["LogResult"])
    assert len(log) == 4096
    assert log.decode().rstrip().splitlines()[-1].startswith("REPORT")


def test_client_context_reaches_the_handler(client) -> None:
    context = {"custom": {"tenant": "t1"}, "env": {"locale": "en"}, "client": {}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()
    body = payload(client.invoke(FunctionName="echo", ClientContext=encoded))
    assert body["client_context"] == {"custom": {"tenant": "t1"}, "env": {"locale": "en"}}


def test_client_context_that_is_not_base64_is_refused(client) -> None:
    with pytest.raises(ClientError) as err:
        client.invoke(FunctionName="echo", ClientContext="not base64!!")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_function_error_is_200_with_the_error_object(client) -> None:
    response = client.invoke(FunctionName="raiser", Payload=b'{"id": 3}')
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    body = payload(response)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad order 3"
    assert body["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]


@pytest.mark.parametrize(
    "name",
    [
        "arn:aws:lambda:us-east-1:123456789012:function:echo",
        "123456789012:function:echo",
        "echo:$LATEST",
    ],
)
def test_names_arns_and_partial_arns(client, name: str) -> None:
    assert payload(client.invoke(FunctionName=name))["function_name"] == "echo"


def test_qualifier_runs_a_published_version(live: LiveServer, client) -> None:
    version = client.publish_version(FunctionName="echo")["Version"]
    assert version == "1"
    response = client.invoke(FunctionName="echo", Qualifier="1")
    assert response["ExecutedVersion"] == "1"
    body = payload(response)
    assert body["version"] == "1"
    assert body["arn"].endswith(":function:echo:1")
    # the same through the name
    assert client.invoke(FunctionName="echo:1")["ExecutedVersion"] == "1"


def test_alias_runs_its_version_and_says_which(client) -> None:
    client.publish_version(FunctionName="echo")
    client.create_alias(FunctionName="echo", Name="live", FunctionVersion="1")
    response = client.invoke(FunctionName="echo", Qualifier="live")
    assert response["ExecutedVersion"] == "1"
    assert payload(response)["arn"].endswith(":function:echo:live")


def test_qualifier_conflict_is_refused(client) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.invoke(FunctionName="echo:1", Qualifier="2")
    assert "does not match the specified qualifier" in err.value.response["Error"]["Message"]


def test_event_is_accepted_with_202_and_runs(live: LiveServer, client) -> None:
    response = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"e": 1}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]

    def stored() -> object:
        live.sync(lambda engine: engine.store.flush())
        return live.sync(lambda engine: engine.store.get(request_id))

    record = until_sync(stored, "the event to run", step=0.05)
    assert record.invocation_type == "Event"
    assert json.loads(record.response)["event"] == {"e": 1}


def test_event_payload_over_1_mb_is_refused(client) -> None:
    big = json.dumps({"x": "y" * (1024 * 1024)}).encode()
    with pytest.raises(ClientError) as err:
        client.invoke(FunctionName="echo", InvocationType="Event", Payload=big)
    error = err.value.response["Error"]
    assert error["Code"] == "RequestEntityTooLargeException"
    assert error["Message"] == (
        f"{len(big)} byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )


def test_dry_run_checks_without_running(live: LiveServer, client) -> None:
    before = live.sync(lambda engine: engine.store.count("echo"))
    response = client.invoke(FunctionName="echo", InvocationType="DryRun")
    assert response["StatusCode"] == 204
    live.sync(lambda engine: engine.store.flush())
    assert live.sync(lambda engine: engine.store.count("echo")) == before
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nope", InvocationType="DryRun")


# ---------------------------------------------------------------------------- errors


def test_unknown_function_is_404(client) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as err:
        client.invoke(FunctionName="nope")
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    )


def test_unknown_version_and_alias_are_404(client) -> None:
    for qualifier in ("9", "nosuch"):
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.invoke(FunctionName="echo", Qualifier=qualifier)


def test_invalid_json_is_400(client) -> None:
    with pytest.raises(client.exceptions.InvalidRequestContentException) as err:
        client.invoke(FunctionName="echo", Payload=b"{not json")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Could not parse request body into json" in err.value.response["Error"]["Message"]


def test_oversized_payload_is_413(client) -> None:
    big = b'{"x": "' + b"y" * (6 * 1024 * 1024) + b'"}'
    # Lambda's wire code is not the model's shape name (RequestTooLargeException), so boto3
    # raises a plain ClientError, as it does against AWS
    with pytest.raises(ClientError) as err:
        client.invoke(FunctionName="echo", Payload=big)
    response = err.value.response
    assert response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Message"] == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )


def test_throttled_is_429_with_the_reason(live: LiveServer, client) -> None:
    make_function(live.root, "closed", "def handler(e, c):\n    return 1\n", reserved_concurrency=0)
    live.sync(lambda engine: engine.load_functions())
    with pytest.raises(client.exceptions.TooManyRequestsException) as err:
        client.invoke(FunctionName="closed")
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["Error"]["Message"] == "Rate Exceeded."


def test_broken_config_is_409(live: LiveServer, client) -> None:
    folder = make_function(live.root, "broken", "def handler(e, c):\n    return 1\n")
    (folder / "function.toml").write_text("memory_size = 5\n")
    live.sync(lambda engine: engine.load_functions())
    with pytest.raises(client.exceptions.ResourceConflictException) as err:
        client.invoke(FunctionName="broken")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "memory_size" in err.value.response["Error"]["Message"]


def test_bad_invocation_type_is_a_validation_error(client) -> None:
    with pytest.raises(ClientError) as err:
        client.invoke(FunctionName="echo", InvocationType="Sometimes")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "invocationType" in err.value.response["Error"]["Message"]


def test_an_arn_from_another_region_is_not_found(client) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as err:
        client.invoke(FunctionName="arn:aws:lambda:eu-west-1:123456789012:function:echo")
    assert err.value.response["Error"]["Message"] == (
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    )
