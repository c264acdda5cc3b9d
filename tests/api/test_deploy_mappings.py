"""Event source mappings with boto3: onto the local queues, kept as queue triggers in the
function's function.toml, and run by the workbench's poller."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .live_server import LiveServer
from .test_deploy_api import create, error_of, package
from .test_sqs_boto3 import sqs  # noqa: F401 - the fixture

RECORDS = """
import json, os
def handler(event, context):
    bodies = [r["body"] for r in event["Records"]]
    print("GOT " + json.dumps(bodies))
    return None
"""
ARN = "arn:aws:sqs:us-east-1:123456789012:orders"


def test_create_get_update_list_delete(live: LiveServer, client, sqs) -> None:  # noqa: F811
    sqs.create_queue(QueueName="orders")
    create(client, zip_bytes=package({"app.py": RECORDS}))
    created = client.create_event_source_mapping(
        EventSourceArn=ARN,
        FunctionName="deployed",
        BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    mapping_id = created["UUID"]
    assert created["EventSourceArn"] == ARN and created["BatchSize"] == 5
    assert created["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    got = client.get_event_source_mapping(UUID=mapping_id)
    assert got["State"] == "Enabled"
    assert got["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:deployed"
    with pytest.raises(ClientError) as excinfo:
        client.create_event_source_mapping(EventSourceArn=ARN, FunctionName="deployed")
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)

    updated = client.update_event_source_mapping(UUID=mapping_id, Enabled=False, BatchSize=2)
    assert updated["BatchSize"] == 2
    assert client.get_event_source_mapping(UUID=mapping_id)["State"] == "Disabled"
    listed = client.list_event_source_mappings(FunctionName="deployed")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping_id]
    assert client.list_event_source_mappings(EventSourceArn=ARN + "x")["EventSourceMappings"] == []

    deleted = client.delete_event_source_mapping(UUID=mapping_id)
    assert deleted["State"] == "Deleting"
    with pytest.raises(ClientError) as excinfo:
        client.get_event_source_mapping(UUID=mapping_id)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_a_mapping_delivers_the_queues_messages(live: LiveServer, client, sqs) -> None:  # noqa: F811
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    create(client, zip_bytes=package({"app.py": RECORDS}))
    client.create_event_source_mapping(EventSourceArn=ARN, FunctionName="deployed")
    sqs.send_message(QueueUrl=url, MessageBody="first order")

    async def delivered(engine) -> list:
        from tests.helpers import until

        def found():
            records = engine.store.recent("deployed", 10) if engine.store else []
            return [r for r in records if 'GOT ["first order"]' in "\n".join(r.log_lines)]

        return await until(found, "the message to reach the function", step=0.1)

    assert live.call(delivered)


def test_a_folder_functions_queue_trigger_is_listed(live: LiveServer, client) -> None:
    from tests.helpers import make_function

    folder = make_function(live.root, "worker", RECORDS)
    with (folder / "function.toml").open("a") as config:
        config.write('[[triggers]]\ntype = "queue"\nqueue = "jobs"\nbatch_size = 3\n')
    live.sync(lambda engine: engine.load_functions())
    listed = client.list_event_source_mappings(FunctionName="worker")["EventSourceMappings"]
    assert [(m["BatchSize"], m["EventSourceArn"].rsplit(":", 1)[1]) for m in listed] == [
        (3, "jobs")
    ]
    again = client.list_event_source_mappings(FunctionName="worker")["EventSourceMappings"]
    assert again[0]["UUID"] == listed[0]["UUID"]  # stable across calls


def test_other_event_sources_are_refused(client) -> None:
    create(client)
    with pytest.raises(ClientError) as excinfo:
        client.create_event_source_mapping(
            EventSourceArn="arn:aws:kinesis:us-east-1:123456789012:stream/s",
            FunctionName="deployed",
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "local queues" in message
