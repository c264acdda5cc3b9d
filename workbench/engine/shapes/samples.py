"""The sample events ``generate-event`` and the TUI's templates offer: each takes a few string
options (its keyword parameters, with their defaults) and builds a fresh event (new ids and
timestamps) with the same shape builders the live sources use, so a sample and a live event
differ only in their values. Where SAM's samples differ from what AWS sends, it is noted."""

from __future__ import annotations

import hashlib
import os
import time

from ..model.ids import new_uuid
from . import apigateway, dynamodb, eventbridge, kinesis, s3, sns, sqs
from .cloudwatch_logs import logs_event
from .values import (
    ACCOUNT_ID,
    REGION,
    SOURCE_IP,
    arn,
    b64,
    epoch_ms,
    random_hex,
    sequence_numbers,
    utcnow,
)

USER_AGENT = "Custom User Agent String"
SAMPLE_COOKIES = "cookie1=value1; cookie2=value2"


# --------------------------------------------------------------------------- S3


def s3_put(bucket: str = "example-bucket", key: str = "test/key", region: str = REGION) -> dict:
    change = s3.ObjectChange.now(bucket, key, s3.PUT, 1024, random_hex(32))
    return s3.s3_event(change, "testConfigRule", region)


def s3_delete(bucket: str = "example-bucket", key: str = "test/key", region: str = REGION) -> dict:
    # A deleted object has no size or eTag in the notification.
    return s3.s3_event(s3.ObjectChange.now(bucket, key, s3.DELETE), "testConfigRule", region)


# --------------------------------------------------------------------------- SNS and SQS


def sns_notification(
    topic: str = "ExampleTopic",
    subject: str = "example subject",
    message: str = "example message",
    region: str = REGION,
) -> dict:
    topic_arn = arn("sns", region, ACCOUNT_ID, topic)
    return sns.sns_event(
        topic_arn=topic_arn,
        # a subscription's ARN is its topic's plus a subscription id (SAM's sample leaves it out)
        subscription_arn=f"{topic_arn}:{new_uuid()}",
        region=region,
        message_id=new_uuid(),
        message=message,
        subject=subject,
        attributes={
            "Test": {"Type": "String", "Value": "TestString"},
            "TestBinary": {"Type": "Binary", "Value": "TestBinary"},
        },
        at=time.time(),
    )


def sqs_receive_message(
    queue_name: str = "MyQueue", body: str = "Hello from SQS!", region: str = REGION
) -> dict:
    received = epoch_ms(utcnow())
    record = sqs.sqs_record(
        message_id=new_uuid(),
        receipt_handle="AQEB" + b64(os.urandom(48)),
        body=body,
        md5_of_body=hashlib.md5(body.encode()).hexdigest(),
        attributes={},
        receive_count=1,
        sent_ms=received - 5,
        first_received_ms=received,
        sender_id=ACCOUNT_ID,
        queue_arn=sqs.queue_arn(region, ACCOUNT_ID, queue_name),
        region=region,
    )
    return {"Records": [record]}


# --------------------------------------------------------------------------- API Gateway


def _path_parameters(pattern: str, path: str) -> dict[str, str] | None:
    """The ``{name}`` and ``{name+}`` segments of a resource or route pattern, matched to a path."""
    params: dict[str, str] = {}
    got = path.strip("/").split("/")
    for i, part in enumerate(pattern.strip("/").split("/")):
        if part.startswith("{") and part.endswith("+}"):
            params[part[1:-2]] = "/".join(got[i:])
            break
        if part.startswith("{") and part.endswith("}") and i < len(got):
            params[part[1:-1]] = got[i]
    return params or None


def _request(
    method: str, path: str, query: str, body: str, region: str, cookies: str | None = None
) -> apigateway.HttpRequest:
    """A request as API Gateway hands it on from a client on the internet."""
    now = utcnow()
    headers = [
        ("Accept", "*/*"),
        ("Host", f"{apigateway.API_ID}.execute-api.{region}.amazonaws.com"),
        ("User-Agent", USER_AGENT),
        ("X-Amzn-Trace-Id", f"Root=1-{int(now.timestamp()):08x}-{random_hex(24)}"),
        ("X-Forwarded-For", SOURCE_IP),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    if body:
        headers.append(("Content-Length", str(len(body.encode()))))
        headers.append(("Content-Type", "application/json"))
    if cookies:
        headers.append(("Cookie", cookies))
    return apigateway.HttpRequest(
        method=method.upper(),
        path="/" + path.lstrip("/"),
        query=query.lstrip("?"),
        headers=tuple(headers),
        body=body.encode(),
        source_ip=SOURCE_IP,
        request_id=new_uuid(),
        time=now,
    )


def apigateway_aws_proxy(
    method: str = "POST",
    path: str = "/path/to/resource",
    query: str = "foo=bar",
    body: str = '{"test":"body"}',
    resource: str = "/{proxy+}",
    stage: str = "prod",
    region: str = REGION,
) -> dict:
    """A REST API (v1) proxy request."""
    request = _request(method, path, query, body, region)
    return apigateway.rest_api_event(
        request,
        resource=resource,
        path_parameters=_path_parameters(resource, request.path),
        account_id=ACCOUNT_ID,
        stage=stage,
        resource_id=random_hex(6),
    )


def apigateway_http_api_proxy(
    method: str = "POST",
    path: str = "/path/to/resource",
    query: str = "parameter1=value1&parameter1=value2&parameter2=value",
    body: str = '{"test":"body"}',
    route: str = "ANY /{proxy+}",
    stage: str = "$default",
    region: str = REGION,
) -> dict:
    """An HTTP API (payload format 2.0) request, with SAM's two sample cookies."""
    request = _request(method, path, query, body, region, cookies=SAMPLE_COOKIES)
    return apigateway.http_api_event(
        request,
        route_key=route,
        path_parameters=_path_parameters(route.partition(" ")[2], request.path),
        account_id=ACCOUNT_ID,
        stage=stage,
    )


# --------------------------------------------------------------------------- EventBridge


def cloudwatch_scheduled_event(rule: str = "ExampleRule", region: str = REGION) -> dict:
    return eventbridge.scheduled_event(rule, time.time(), region=region, account=ACCOUNT_ID)


# --------------------------------------------------------------------------- streams and logs


def dynamodb_update(table: str = "ExampleTableWithStream", region: str = REGION) -> dict:
    """One item's life: INSERT, MODIFY, REMOVE, in stream order."""
    stream_arn = arn(
        "dynamodb", region, ACCOUNT_ID, f"table/{table}/stream/2015-06-27T00:48:05.899"
    )
    keys = {"Id": {"N": "101"}}
    created = {"Message": {"S": "New item!"}, **keys}
    changed = {"Message": {"S": "This item has changed"}, **keys}
    changes: tuple[tuple[dynamodb.StreamEventName, dict | None, dict | None], ...] = (
        ("INSERT", created, None),
        ("MODIFY", changed, created),
        ("REMOVE", None, changed),
    )
    sequences = sequence_numbers(len(changes), 28)
    return {
        "Records": [
            dynamodb.dynamodb_record(
                name, keys, new, old, sequence_number=sequence, region=region, stream_arn=stream_arn
            )
            for (name, new, old), sequence in zip(changes, sequences, strict=True)
        ]
    }


def kinesis_get_records(
    stream: str = "example-stream",
    data: str = "Hello, this is a test 123.",
    partition_key: str = "partitionKey-03",
    region: str = REGION,
) -> dict:
    (sequence,) = sequence_numbers(1, 56)
    record = kinesis.kinesis_record(
        data.encode(),
        partition_key=partition_key,
        sequence_number=sequence,
        stream_arn=arn("kinesis", region, ACCOUNT_ID, f"stream/{stream}"),
        region=region,
        account=ACCOUNT_ID,
    )
    return {"Records": [record]}


def cloudwatch_logs(
    log_group: str = "/aws/lambda/example",
    log_stream: str = "example-stream",
    filter_name: str = "example-filter",
    message: str = "[ERROR] First test message",
) -> dict:
    """Each line of ``message`` becomes one log event."""
    now = epoch_ms(utcnow())
    lines = message.splitlines() or [""]
    ids = sequence_numbers(len(lines), 56)
    return logs_event(
        owner=ACCOUNT_ID,
        log_group=log_group,
        log_stream=log_stream,
        filters=[filter_name],
        log_events=[(i, now, line) for i, line in zip(ids, lines, strict=True)],
    )
