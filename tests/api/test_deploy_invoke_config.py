"""The event-invoke config operations with boto3: a function's [async] settings, written into
its function.toml and applied to Event invocations."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .live_server import LiveServer
from .test_deploy_api import create, error_of, package
from .test_sqs_boto3 import sqs  # noqa: F401 - the fixture

FAILS = "def handler(event, context):\n    raise RuntimeError('boom ' + event['id'])\n"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:failures"


def test_put_get_update_list_delete(client) -> None:
    create(client)
    with pytest.raises(ClientError) as excinfo:
        client.get_function_event_invoke_config(FunctionName="deployed")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    put = client.put_function_event_invoke_config(
        FunctionName="deployed",
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnFailure": {"Destination": QUEUE_ARN}},
    )
    assert put["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:deployed:$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    assert put["DestinationConfig"] == {"OnFailure": {"Destination": QUEUE_ARN}}
    updated = client.update_function_event_invoke_config(
        FunctionName="deployed", MaximumRetryAttempts=0
    )
    assert updated["MaximumRetryAttempts"] == 0
    assert updated["MaximumEventAgeInSeconds"] == 120  # kept: Update changes what it is given
    replaced = client.put_function_event_invoke_config(
        FunctionName="deployed", MaximumRetryAttempts=2
    )
    assert "MaximumEventAgeInSeconds" not in replaced  # Put replaces the whole config
    assert replaced["DestinationConfig"] == {}
    listed = client.list_function_event_invoke_configs(FunctionName="deployed")
    assert [c["MaximumRetryAttempts"] for c in listed["FunctionEventInvokeConfigs"]] == [2]
    client.delete_function_event_invoke_config(FunctionName="deployed")
    assert (
        client.list_function_event_invoke_configs(FunctionName="deployed")[
            "FunctionEventInvokeConfigs"
        ]
        == []
    )


def test_out_of_range_and_foreign_destinations_are_refused(client) -> None:
    create(client)
    with pytest.raises(ClientError) as excinfo:
        client.put_function_event_invoke_config(FunctionName="deployed", MaximumRetryAttempts=3)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint" in message
    with pytest.raises(ClientError) as excinfo:
        client.put_function_event_invoke_config(
            FunctionName="deployed",
            DestinationConfig={
                "OnSuccess": {"Destination": "arn:aws:sns:us-east-1:123456789012:topic"}
            },
        )
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.get_function_event_invoke_config(FunctionName="nope")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_a_failed_event_goes_to_the_on_failure_queue(live: LiveServer, client, sqs) -> None:  # noqa: F811
    queue_url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    create(client, zip_bytes=package({"app.py": FAILS}))
    client.put_function_event_invoke_config(
        FunctionName="deployed",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": QUEUE_ARN}},
    )
    client.invoke(FunctionName="deployed", InvocationType="Event", Payload=b'{"id": "7"}')
    messages: list = []
    while not messages:  # long polls until the record arrives (the test's timeout bounds it)
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5).get("Messages", [])
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"id": "7"}
    assert record["responsePayload"]["errorMessage"] == "boom 7"
