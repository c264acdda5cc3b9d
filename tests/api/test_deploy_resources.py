"""Tags, permissions and provisioned concurrency with boto3: stored and returned as Lambda
returns them (not enforced locally)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .test_deploy_api import create, error_of

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


def test_provisioned_concurrency(client) -> None:
    create(client, Publish=True)
    client.create_alias(FunctionName="deployed", Name="live", FunctionVersion="1")
    put = client.put_provisioned_concurrency_config(
        FunctionName="deployed", Qualifier="live", ProvisionedConcurrentExecutions=3
    )
    assert put["RequestedProvisionedConcurrentExecutions"] == 3
    got = client.get_provisioned_concurrency_config(FunctionName="deployed", Qualifier="live")
    assert (got["Status"], got["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 3)
    with pytest.raises(ClientError) as excinfo:
        client.put_provisioned_concurrency_config(
            FunctionName="deployed", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    client.delete_provisioned_concurrency_config(FunctionName="deployed", Qualifier="live")
    with pytest.raises(ClientError) as excinfo:
        client.get_provisioned_concurrency_config(FunctionName="deployed", Qualifier="live")
    assert error_of(excinfo)[:2] == ("ProvisionedConcurrencyConfigNotFoundException", 404)
