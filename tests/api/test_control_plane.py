"""The control plane through boto3: list, get, update, publish, aliases, concurrency, account."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.helpers import make_function

from .live_server import LiveServer


def test_list_functions(client) -> None:
    functions = client.list_functions()["Functions"]
    assert [f["FunctionName"] for f in functions] == ["echo", "raiser"]
    echo = functions[0]
    assert echo["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"
    assert echo["Runtime"].startswith("python3.")
    assert echo["Handler"] == "app.handler"
    assert echo["Version"] == "$LATEST"
    assert "State" not in echo  # ListFunctions gives a subset


def test_list_functions_pages_with_marker(live: LiveServer, client) -> None:
    for n in range(5):
        make_function(live.root, f"fn{n}", "def handler(e, c):\n    return 1\n")
    live.sync(lambda engine: engine.load_functions())
    names = []
    page = client.list_functions(MaxItems=3)
    names += [f["FunctionName"] for f in page["Functions"]]
    assert len(page["Functions"]) == 3 and "NextMarker" in page
    while "NextMarker" in page:
        page = client.list_functions(MaxItems=3, Marker=page["NextMarker"])
        names += [f["FunctionName"] for f in page["Functions"]]
    assert names == ["echo", "fn0", "fn1", "fn2", "fn3", "fn4", "raiser"]
    paginated = client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
    assert [f["FunctionName"] for p in paginated for f in p["Functions"]] == names


def test_list_functions_all_versions(client) -> None:
    client.publish_version(FunctionName="echo")
    functions = client.list_functions(FunctionVersion="ALL")["Functions"]
    assert [(f["FunctionName"], f["Version"]) for f in functions] == [
        ("echo", "$LATEST"),
        ("echo", "1"),
        ("raiser", "$LATEST"),
    ]


def test_bad_max_items_and_marker(client) -> None:
    with pytest.raises(ClientError) as err:
        client.list_functions(MaxItems=10001)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.list_functions(Marker="!!not-a-marker!!")


def test_get_function_configuration_fields(live: LiveServer, client) -> None:
    config = client.get_function_configuration(FunctionName="echo")
    assert config["State"] == "Active"
    assert config["LastUpdateStatus"] == "Successful"
    assert config["PackageType"] == "Zip"
    assert config["MemorySize"] == 128 and config["Timeout"] == 3
    assert config["Description"] == "echoes"
    assert config["EphemeralStorage"] == {"Size": 512}
    assert config["Architectures"] == ["x86_64"]
    assert len(config["CodeSha256"]) == 44
    assert config["LastModified"].endswith("+0000")
    assert config["RevisionId"]
    # the waiters boto3 users rely on pass at once
    client.get_waiter("function_active_v2").wait(FunctionName="echo")
    client.get_waiter("function_updated_v2").wait(FunctionName="echo")


def test_get_function_code_location_downloads_the_package(client) -> None:
    response = client.get_function(FunctionName="echo")
    config, code = response["Configuration"], response["Code"]
    assert code["RepositoryType"] == "S3"
    data = urllib.request.urlopen(code["Location"], timeout=10).read()
    assert base64.b64encode(hashlib.sha256(data).digest()).decode() == config["CodeSha256"]
    assert len(data) == config["CodeSize"]
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["app.py"]


def test_code_sha_matches_the_published_version(client) -> None:
    latest = client.get_function_configuration(FunctionName="echo")["CodeSha256"]
    published = client.publish_version(FunctionName="echo")
    assert published["CodeSha256"] == latest
    assert published["FunctionArn"].endswith(":function:echo:1")


def test_get_unknown_function(client) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="nope")


def test_update_configuration_writes_function_toml_keeping_comments(
    live: LiveServer, client
) -> None:
    config_file = live.root / "echo" / "function.toml"
    config_file.write_text(
        "# the echo function\n"
        'handler = "app.handler"  # module.function\n'
        'description = "echoes"\n'
        '\n[environment]\n# a comment in the table\nKEEP = "1"\nDROP = "2"\n'
    )
    live.sync(lambda engine: engine.load_functions())
    before = client.get_function_configuration(FunctionName="echo")["RevisionId"]
    updated = client.update_function_configuration(
        FunctionName="echo",
        MemorySize=256,
        Timeout=10,
        Description="now bigger",
        Environment={"Variables": {"KEEP": "1", "NEW": "3"}},
    )
    assert updated["MemorySize"] == 256 and updated["Timeout"] == 10
    assert updated["Environment"] == {"Variables": {"KEEP": "1", "NEW": "3"}}
    assert updated["RevisionId"] != before
    text = config_file.read_text()
    assert "# the echo function" in text and "# module.function" in text
    assert "# a comment in the table" in text
    assert "memory_size = 256" in text and "DROP" not in text
    # it is live at once: the next invocation sees the new memory size
    assert client.get_function_configuration(FunctionName="echo")["MemorySize"] == 256


def test_update_configuration_refuses_bad_values_and_leaves_the_file(
    live: LiveServer, client
) -> None:
    config_file = live.root / "echo" / "function.toml"
    original = config_file.read_text()
    with pytest.raises(ClientError) as err:
        client.update_function_configuration(FunctionName="echo", Timeout=901)
    assert err.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value '901' at 'timeout' failed to satisfy "
        "constraint: Member must have value less than or equal to 900",
    }
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.update_function_configuration(
            FunctionName="echo", VpcConfig={"SubnetIds": ["subnet-1"]}
        )
    assert "cannot set VpcConfig" in err.value.response["Error"]["Message"]
    assert config_file.read_text() == original


def test_update_configuration_with_a_stale_revision_is_412(client) -> None:
    with pytest.raises(client.exceptions.PreconditionFailedException) as err:
        client.update_function_configuration(FunctionName="echo", Timeout=5, RevisionId="stale")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    revision = client.get_function_configuration(FunctionName="echo")["RevisionId"]
    client.update_function_configuration(FunctionName="echo", Timeout=5, RevisionId=revision)


def test_publish_and_list_versions(client) -> None:
    first = client.publish_version(FunctionName="echo", Description="first")
    assert (first["Version"], first["Description"]) == ("1", "first")
    # nothing changed: the same version again
    assert client.publish_version(FunctionName="echo")["Version"] == "1"
    client.update_function_configuration(FunctionName="echo", Timeout=7)
    assert client.publish_version(FunctionName="echo")["Version"] == "2"
    versions = client.list_versions_by_function(FunctionName="echo")["Versions"]
    assert [(v["Version"], v["Timeout"]) for v in versions] == [("$LATEST", 7), ("1", 3), ("2", 7)]
    page = client.list_versions_by_function(FunctionName="echo", MaxItems=2)
    assert len(page["Versions"]) == 2 and page["NextMarker"]
    rest = client.list_versions_by_function(FunctionName="echo", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"]
    assert client.get_function_configuration(FunctionName="echo", Qualifier="1")["Timeout"] == 3


def test_publish_with_a_wrong_code_sha_is_refused(client) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.publish_version(FunctionName="echo", CodeSha256="x" * 44)
    assert "is different from current CodeSha256" in err.value.response["Error"]["Message"]


def test_alias_round_trip(client) -> None:
    client.publish_version(FunctionName="echo")
    client.update_function_configuration(FunctionName="echo", Timeout=9)
    client.publish_version(FunctionName="echo")
    created = client.create_alias(
        FunctionName="echo",
        Name="live",
        FunctionVersion="1",
        Description="prod",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )
    assert created["AliasArn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo:live"
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    got = client.get_alias(FunctionName="echo", Name="live")
    assert got["FunctionVersion"] == "1" and got["Description"] == "prod"
    updated = client.update_alias(
        FunctionName="echo",
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    assert updated["FunctionVersion"] == "2" and "RoutingConfig" not in updated
    assert updated["RevisionId"] != created["RevisionId"]
    with pytest.raises(client.exceptions.PreconditionFailedException):
        client.update_alias(FunctionName="echo", Name="live", RevisionId=created["RevisionId"])
    client.create_alias(FunctionName="echo", Name="beta", FunctionVersion="1")
    listed = client.list_aliases(FunctionName="echo")["Aliases"]
    assert [a["Name"] for a in listed] == ["beta", "live"]
    assert [
        a["Name"] for a in client.list_aliases(FunctionName="echo", FunctionVersion="1")["Aliases"]
    ] == ["beta"]
    assert (
        client.get_function_configuration(FunctionName="echo", Qualifier="live")["Version"] == "2"
    )
    client.delete_alias(FunctionName="echo", Name="beta")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_alias(FunctionName="echo", Name="beta")


def test_alias_errors_as_boto3_raises_them(client) -> None:
    client.publish_version(FunctionName="echo")
    client.create_alias(FunctionName="echo", Name="live", FunctionVersion="1")
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_alias(FunctionName="echo", Name="live", FunctionVersion="1")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_alias(FunctionName="echo", Name="other", FunctionVersion="9")
    with pytest.raises(ClientError) as err:
        client.create_alias(FunctionName="echo", Name="123", FunctionVersion="1")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.create_alias(
            FunctionName="echo",
            Name="split",
            FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )


def test_concurrency_round_trip(live: LiveServer, client) -> None:
    assert (
        client.get_function_concurrency(FunctionName="echo").get("ReservedConcurrentExecutions")
        is None
    )
    put = client.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert client.get_function_concurrency(FunctionName="echo")["ReservedConcurrentExecutions"] == 5
    assert "reserved_concurrency = 5" in (live.root / "echo" / "function.toml").read_text()
    assert client.get_function(FunctionName="echo")["Concurrency"] == {
        "ReservedConcurrentExecutions": 5
    }
    settings = client.get_account_settings()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 995
    client.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=0)
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName="echo")
    client.delete_function_concurrency(FunctionName="echo")
    assert "reserved_concurrency" not in (live.root / "echo" / "function.toml").read_text()
    assert client.invoke(FunctionName="echo")["StatusCode"] == 200


def test_concurrency_must_leave_100_unreserved(client) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=901)
    assert "below its minimum value of [100]" in err.value.response["Error"]["Message"]


def test_account_settings(client) -> None:
    settings = client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] == 2
    assert settings["AccountUsage"]["TotalCodeSize"] > 0


def test_a_broken_function_shows_as_failed(live: LiveServer, client) -> None:
    folder = make_function(live.root, "broken", "def handler(e, c):\n    return 1\n")
    (folder / "function.toml").write_text("timeout = 0\n")
    live.sync(lambda engine: engine.load_functions())
    config = client.get_function_configuration(FunctionName="broken")
    assert config["State"] == "Failed"
    assert "timeout" in config["StateReason"]
