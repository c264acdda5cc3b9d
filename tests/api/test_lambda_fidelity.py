"""Lambda's own answers, as boto3 gets them, where the workbench used to answer its own way:
validation failures (``ValidationException`` and its wording), the Region and account the
workbench plays (and ARNs of others, which must never run the local function), and
``ListAliases`` by version."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .live_server import LiveServer


def error_of(call, **kwargs) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    response = err.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def constraint(value: object, field: str, what: str) -> str:
    return (
        f"Value '{value}' at '{field}' failed to satisfy constraint: Member must have value {what}"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Timeout": 901}, constraint(901, "timeout", "less than or equal to 900")),
        ({"MemorySize": 10241}, constraint(10241, "memorySize", "less than or equal to 10240")),
        (
            {"EphemeralStorage": {"Size": 10241}},
            constraint(10241, "ephemeralStorage.size", "less than or equal to 10240"),
        ),
        (
            {"Environment": {"Variables": {"1ST": "x"}}},
            "Value at 'environment.variables' failed to satisfy constraint: Map keys must "
            "satisfy constraint: [Member must satisfy regular expression pattern: "
            "[a-zA-Z]([a-zA-Z0-9_])+]",
        ),
        (
            {"Description": "d" * 257},  # the value echoed up to 256 characters
            f"Value '{'d' * 256}…' at 'description' failed to satisfy constraint: Member must "
            "have length less than or equal to 256",
        ),
    ],
)
def test_out_of_range_configuration_is_lambdas_validation_exception(
    live: LiveServer, client, change: dict, message: str
) -> None:
    config_file = live.root / "echo" / "function.toml"
    before = config_file.read_text()
    status, code, text = error_of(
        client.update_function_configuration, FunctionName="echo", **change
    )
    assert (status, code, text) == (
        400,
        "ValidationException",
        f"1 validation error detected: {message}",
    )
    assert config_file.read_text() == before  # nothing written
    assert client.get_function_configuration(FunctionName="echo")["Timeout"] == 3


def test_every_violation_of_one_request_is_reported_together(client) -> None:
    status, code, text = error_of(
        client.update_function_configuration,
        FunctionName="echo",
        Timeout=901,
        MemorySize=20000,
        EphemeralStorage={"Size": 20000},
    )
    assert (status, code) == (400, "ValidationException")
    assert text == "3 validation errors detected: " + "; ".join(
        [
            constraint(901, "timeout", "less than or equal to 900"),
            constraint(20000, "memorySize", "less than or equal to 10240"),
            constraint(20000, "ephemeralStorage.size", "less than or equal to 10240"),
        ]
    )


def test_below_the_minimum_is_refused_too(live: LiveServer) -> None:
    """boto3 checks minimums itself; other clients (raw HTTP, other SDKs) reach the server."""
    request = urllib.request.Request(
        f"{live.url}/2015-03-31/functions/echo/configuration",
        data=json.dumps({"Timeout": 0, "MemorySize": 64}).encode(),
        method="PUT",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 400
    assert err.value.headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(err.value.read())["message"] == (
        "2 validation errors detected: "
        + constraint(0, "timeout", "greater than or equal to 1")
        + "; "
        + constraint(64, "memorySize", "greater than or equal to 128")
    )


def test_a_reserved_environment_variable_is_lambdas_invalid_parameter(client) -> None:
    status, code, text = error_of(
        client.update_function_configuration,
        FunctionName="echo",
        Environment={"Variables": {"AWS_REGION": "eu-west-1", "STAGE": "dev"}},
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert text == (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        "for modification. Reserved keys used in this request: AWS_REGION"
    )


def test_good_values_at_the_limits_still_apply(client) -> None:
    client.update_function_configuration(
        FunctionName="echo", Timeout=900, MemorySize=10240, EphemeralStorage={"Size": 10240}
    )
    config = client.get_function_configuration(FunctionName="echo")
    assert (config["Timeout"], config["MemorySize"], config["EphemeralStorage"]) == (
        900,
        10240,
        {"Size": 10240},
    )


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("a" * 65, "Member must have length less than or equal to 64"),
        ("bad name!", "Member must satisfy regular expression pattern: (arn:"),
    ],
)
def test_a_malformed_function_name_is_a_validation_exception_not_a_404(
    client, name: str, what: str
) -> None:
    for call in (client.get_function, client.get_function_configuration, client.invoke):
        status, code, text = error_of(call, FunctionName=name)
        assert (status, code) == (400, "ValidationException")
        assert text.startswith(
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
            f"constraint: {what}"
        )


# --------------------------------------------------------------------------- Region, account


@pytest.fixture
def elsewhere(api_root: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A workbench playing another Region and account."""
    server = LiveServer(
        api_root, tmp_path / "state", region="eu-west-2", account_id="111122223333"
    ).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_region_and_account_are_the_ones_configured(elsewhere: LiveServer) -> None:
    client = elsewhere.client(region_name="eu-west-2")
    arn = "arn:aws:lambda:eu-west-2:111122223333:function:echo"
    assert client.get_function_configuration(FunctionName="echo")["FunctionArn"] == arn
    answer = client.invoke(FunctionName=arn)
    assert json.loads(answer["Payload"].read())["arn"] == arn
    answer = client.invoke(FunctionName="111122223333:function:echo:$LATEST")
    assert json.loads(answer["Payload"].read())["arn"] == arn + ":$LATEST"
    client.create_alias(FunctionName="echo", Name="live", FunctionVersion="$LATEST")
    assert client.get_alias(FunctionName=arn, Name="live")["AliasArn"] == arn + ":live"


def test_an_arn_of_another_account_never_runs_the_local_function(elsewhere: LiveServer) -> None:
    client = elsewhere.client(region_name="eu-west-2")
    foreign = "arn:aws:lambda:eu-west-2:123456789012:function:echo"
    denied = (
        "User: arn:aws:iam::111122223333:root is not authorized to perform: {action} on "
        f"resource: {foreign} because no resource-based policy allows the {{action}} action"
    )
    for call, action in (
        (client.invoke, "lambda:InvokeFunction"),
        (client.get_function, "lambda:GetFunction"),
        (client.get_function_configuration, "lambda:GetFunctionConfiguration"),
    ):
        status, code, text = error_of(call, FunctionName=foreign)
        assert (status, code, text) == (
            403,
            "AccessDeniedException",
            denied.format(action=action),
        )
    # a partial ARN of another account too (the default account, here a foreign one)
    status, code, _ = error_of(client.invoke, FunctionName="123456789012:function:echo")
    assert (status, code) == (403, "AccessDeniedException")
    status, code, _ = error_of(
        client.list_aliases, FunctionName="arn:aws:lambda:eu-west-2:123456789012:function:echo"
    )
    assert (status, code) == (403, "AccessDeniedException")
    # nothing ran
    assert elsewhere.sync(lambda e: e.invoker.invocations.get("echo", 0)) == 0


def test_an_arn_of_another_region_is_not_found(elsewhere: LiveServer) -> None:
    client = elsewhere.client(region_name="eu-west-2")
    status, code, text = error_of(
        client.invoke, FunctionName="arn:aws:lambda:us-east-1:111122223333:function:echo"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert text == "Functions from 'us-east-1' are not reachable in this region ('eu-west-2')"


def test_the_default_region_and_account(client) -> None:
    arn = client.get_function_configuration(FunctionName="echo")["FunctionArn"]
    assert arn == "arn:aws:lambda:us-east-1:123456789012:function:echo"
    status, code, _ = error_of(
        client.invoke, FunctionName="arn:aws:lambda:us-east-1:999999999999:function:echo"
    )
    assert (status, code) == (403, "AccessDeniedException")


# --------------------------------------------------------------------------- ListAliases


def test_list_aliases_by_version_lists_those_whose_primary_version_it_is(
    live: LiveServer, client
) -> None:
    client.publish_version(FunctionName="echo")
    client.update_function_configuration(FunctionName="echo", Timeout=5)
    client.publish_version(FunctionName="echo")
    client.create_alias(FunctionName="echo", Name="stable", FunctionVersion="1")
    client.create_alias(
        FunctionName="echo",
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    client.create_alias(FunctionName="echo", Name="next", FunctionVersion="2")
    client.create_alias(FunctionName="echo", Name="dev", FunctionVersion="$LATEST")

    def names(**query) -> list[str]:
        return [a["Name"] for a in client.list_aliases(FunctionName="echo", **query)["Aliases"]]

    assert names(FunctionVersion="1") == ["canary", "stable"]
    assert names(FunctionVersion="2") == ["next"]  # canary routes 10% to 2: not listed
    assert names(FunctionVersion="$LATEST") == ["dev"]
    assert names(FunctionVersion="3") == []
    assert names() == ["canary", "dev", "next", "stable"]
