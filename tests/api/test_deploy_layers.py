"""Layers through the deploy API with boto3: publish, describe, list, delete, and a function
that names a version's ARN gets its files under /opt."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from .test_deploy_api import create, error_of, package

USES_LAYER = """
import helper
def handler(event, context):
    return helper.VALUE
"""


def layer_zip(value: str) -> bytes:
    return package({"python/helper.py": f"VALUE = {value!r}\n"})


def publish(client, name: str = "shared", value: str = "one", **extra):
    return client.publish_layer_version(
        LayerName=name, Content={"ZipFile": layer_zip(value)}, **extra
    )


def test_publish_describe_list_and_use_a_layer(client) -> None:
    first = publish(client, Description="helpers", CompatibleRuntimes=["python3.12"])
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["Version"] == 1
    arn = first["LayerVersionArn"]
    assert arn == "arn:aws:lambda:us-east-1:123456789012:layer:shared:1"
    assert first["LayerArn"] == "arn:aws:lambda:us-east-1:123456789012:layer:shared"
    with urllib.request.urlopen(first["Content"]["Location"]) as response:
        assert response.read() == layer_zip("one")
    second = publish(client, value="two")
    assert second["Version"] == 2

    assert client.get_layer_version(LayerName="shared", VersionNumber=1)["Description"] == (
        "helpers"
    )
    assert client.get_layer_version_by_arn(Arn=arn)["Version"] == 1
    listed = client.list_layers()["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in listed] == [
        ("shared", 2)
    ]
    only_312 = client.list_layers(CompatibleRuntime="python3.12")["Layers"]
    assert only_312[0]["LatestMatchingVersion"]["Version"] == 1
    versions = client.list_layer_versions(LayerName="shared")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]

    created = create(
        client,
        zip_bytes=package({"app.py": USES_LAYER}),
        Layers=[arn],
    )
    assert [x["Arn"] for x in created["Layers"]] == [arn]
    assert json.loads(client.invoke(FunctionName="deployed")["Payload"].read()) == "one"
    client.update_function_configuration(
        FunctionName="deployed", Layers=[second["LayerVersionArn"]]
    )
    assert json.loads(client.invoke(FunctionName="deployed")["Payload"].read()) == "two"


def test_a_deleted_version_is_gone_but_its_users_keep_it(client) -> None:
    arn = publish(client)["LayerVersionArn"]
    create(client, zip_bytes=package({"app.py": USES_LAYER}), Layers=[arn])
    client.delete_layer_version(LayerName="shared", VersionNumber=1)
    client.delete_layer_version(LayerName="shared", VersionNumber=1)  # again: no error
    with pytest.raises(ClientError) as excinfo:
        client.get_layer_version(LayerName="shared", VersionNumber=1)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    assert client.list_layers()["Layers"] == []
    assert json.loads(client.invoke(FunctionName="deployed")["Payload"].read()) == "one"
    # a number is never given again
    assert publish(client, value="three")["Version"] == 2


def test_a_missing_or_foreign_layer_is_refused(client) -> None:
    with pytest.raises(ClientError) as excinfo:
        create(client, Layers=["arn:aws:lambda:us-east-1:123456789012:layer:nope:1"])
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        create(client, Layers=["arn:aws:lambda:eu-west-1:123456789012:layer:nope:1"])
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName="deployed")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_a_bad_layer_zip_is_refused(client) -> None:
    with pytest.raises(ClientError) as excinfo:
        client.publish_layer_version(LayerName="bad", Content={"ZipFile": b"not a zip"})
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Could not unzip uploaded file")
    assert client.list_layers()["Layers"] == []
