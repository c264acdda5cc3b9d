"""Tags, permissions and provisioned concurrency with boto3: tags and permissions stored and
returned as Lambda returns them (not enforced locally); provisioned concurrency kept initialised
for real (IN_PROGRESS, then READY or FAILED)."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from tests.helpers import until_sync

from .test_deploy_api import create, error_of, package

ARN = "arn:aws:lambda:us-east-1:123456789012:function:deployed"


def test_tags(client) -> None:
    create(client)
    client.tag_resource(Resource=ARN, Tags={"team": "orders", "env": "dev"})
    assert client.list_tags(Resource=ARN)["Tags"] == {"team": "orders", "env": "dev"}
    client.untag_resource(Resource=ARN, TagKeys=["env"])
    assert client.list_tags(Resource=ARN)["Tags"] == {"team": "orders"}
    with pytest.raises(ClientError) as excinfo:
        client.list_tags(Resource=ARN.replace("deployed", "nope"))
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    # a function created again under the name starts without the old one's tags
    client.delete_function(FunctionName="deployed")
    create(client)
    assert client.list_tags(Resource=ARN)["Tags"] == {}


def test_permissions(client) -> None:
    create(client)
    added = client.add_permission(
        FunctionName="deployed",
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads",
    )
    statement = json.loads(added["Statement"])
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"] == {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}
    assert statement["Resource"] == ARN
    with pytest.raises(ClientError) as excinfo:
        client.add_permission(
            FunctionName="deployed",
            StatementId="s3-invoke",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
        )
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)
    policy = client.get_policy(FunctionName="deployed")
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["s3-invoke"]
    with pytest.raises(ClientError) as excinfo:
        client.remove_permission(
            FunctionName="deployed", StatementId="s3-invoke", RevisionId="stale"
        )
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)
    client.remove_permission(
        FunctionName="deployed", StatementId="s3-invoke", RevisionId=policy["RevisionId"]
    )
    with pytest.raises(ClientError) as excinfo:
        client.get_policy(FunctionName="deployed")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def _until_status(client, status: str, qualifier: str = "live") -> dict:
    """GetProvisionedConcurrencyConfig, polled until its Status is ``status``."""
    seen: list[str] = []

    def check() -> dict | None:
        got = client.get_provisioned_concurrency_config(
            FunctionName="deployed", Qualifier=qualifier
        )
        seen.append(got["Status"])
        return got if got["Status"] == status else None

    return until_sync(check, f"Status {status}", explain=lambda: seen[-3:])


def test_provisioned_concurrency(client) -> None:
    """IN_PROGRESS while the environments initialise, READY once all are; its environments
    serve the alias's calls as provisioned-concurrency ones."""
    create(
        client,
        Publish=True,
        zip_bytes=package(
            {
                "app.py": "import os\n"
                "def handler(event, context):\n"
                "    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"
            }
        ),
    )
    client.create_alias(FunctionName="deployed", Name="live", FunctionVersion="1")
    put = client.put_provisioned_concurrency_config(
        FunctionName="deployed", Qualifier="live", ProvisionedConcurrentExecutions=3
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 3
    assert (put["Status"], put["AllocatedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 0)
    got = _until_status(client, "READY")
    assert got["AllocatedProvisionedConcurrentExecutions"] == 3
    assert got["AvailableProvisionedConcurrentExecutions"] == 3
    assert "StatusReason" not in got
    answer = client.invoke(FunctionName="deployed", Qualifier="live")["Payload"].read()
    assert json.loads(answer) == "provisioned-concurrency"
    # $LATEST has none: it starts on demand
    assert json.loads(client.invoke(FunctionName="deployed")["Payload"].read()) == "on-demand"
    listed = client.list_provisioned_concurrency_configs(FunctionName="deployed")
    [config] = listed["ProvisionedConcurrencyConfigs"]
    assert config["FunctionArn"] == ARN + ":live"
    assert config["Status"] == "READY"
    with pytest.raises(ClientError) as excinfo:
        client.put_provisioned_concurrency_config(
            FunctionName="deployed", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert error_of(excinfo) == (
        "InvalidParameterValueException",
        400,
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    )
    client.delete_provisioned_concurrency_config(FunctionName="deployed", Qualifier="live")
    with pytest.raises(ClientError) as excinfo:
        client.get_provisioned_concurrency_config(FunctionName="deployed", Qualifier="live")
    assert error_of(excinfo)[:2] == ("ProvisionedConcurrencyConfigNotFoundException", 404)
    assert (
        client.list_provisioned_concurrency_configs(FunctionName="deployed")[
            "ProvisionedConcurrencyConfigs"
        ]
        == []
    )


def test_provisioned_concurrency_fails_with_its_init(client) -> None:
    """A version whose INIT fails cannot be provisioned: FAILED, with Lambda's reason."""
    create(client, Publish=True, zip_bytes=package({"app.py": "raise RuntimeError('no db')\n"}))
    client.put_provisioned_concurrency_config(
        FunctionName="deployed", Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    got = _until_status(client, "FAILED", qualifier="1")
    assert got["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert got["AllocatedProvisionedConcurrentExecutions"] == 0


def test_provisioned_concurrency_within_reserved(client) -> None:
    """Provisioned concurrency counts against the function's reserved concurrency."""
    create(client, Publish=True)
    client.put_function_concurrency(FunctionName="deployed", ReservedConcurrentExecutions=2)
    with pytest.raises(ClientError) as excinfo:
        client.put_provisioned_concurrency_config(
            FunctionName="deployed", Qualifier="1", ProvisionedConcurrentExecutions=3
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "reservedConcurrentExecution" in message
    put = client.put_provisioned_concurrency_config(
        FunctionName="deployed", Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    assert put["RequestedProvisionedConcurrentExecutions"] == 2


def test_snap_start(client) -> None:
    """SnapStart through the API: on for published versions of python3.12+, refused before."""
    hooks = (
        "from snapshot_restore_py import register_after_restore\n"
        "import os\n"
        "RESTORED = []\n"
        "register_after_restore(RESTORED.append, 1)\n"
        "def handler(event, context):\n"
        "    return [os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'], len(RESTORED)]\n"
    )
    created = create(
        client,
        zip_bytes=package({"app.py": hooks}),
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = client.publish_version(FunctionName="deployed")
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    answer = client.invoke(FunctionName="deployed", Qualifier="1", LogType="Tail")
    assert json.loads(answer["Payload"].read()) == ["snap-start", 1]
    assert "Restore Duration" in base64.b64decode(answer["LogResult"]).decode()
    assert json.loads(client.invoke(FunctionName="deployed")["Payload"].read()) == [
        "on-demand",
        0,
    ]
    with pytest.raises(ClientError) as excinfo:
        client.put_provisioned_concurrency_config(
            FunctionName="deployed", Qualifier="1", ProvisionedConcurrentExecutions=1
        )
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.update_function_configuration(FunctionName="deployed", Runtime="python3.11")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "python3.11 is not supported for SnapStart enabled functions." in message


def test_provisioned_concurrency_goes_with_its_version(client) -> None:
    create(client, Publish=True)
    client.put_provisioned_concurrency_config(
        FunctionName="deployed", Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    _until_status(client, "READY", qualifier="1")
    client.delete_function(FunctionName="deployed", Qualifier="1")
    listed = client.list_provisioned_concurrency_configs(FunctionName="deployed")
    assert listed["ProvisionedConcurrencyConfigs"] == []
