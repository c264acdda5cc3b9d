"""Sample events for the triggers Lambda users meet most (LAMBDA_REFERENCE §8).

Each template builds a fresh event (new ids and timestamps) from a few string options, so the
TUI's template picker and ``workbench generate-event SERVICE EVENT [--key value …]`` share one
source. Templates are keyed by the names ``sam local generate-event`` uses; the shapes follow SAM
CLI's samples, with the few places where SAM's samples differ from what AWS sends noted inline.
Standard library only.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import inspect
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote_plus

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
API_ID = "1234567890"
SOURCE_IP = "127.0.0.1"
USER_AGENT = "Custom User Agent String"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Template:
    service: str
    event: str
    description: str
    build: Callable[..., dict]
    options: dict[str, str] = field(default_factory=dict)  # option → default


# --------------------------------------------------------------------------- shared helpers


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso_ms(t: dt.datetime) -> str:
    """``2024-05-01T12:34:56.789Z``: S3, SNS."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _iso_s(t: dt.datetime) -> str:
    """``2024-05-01T12:34:56Z``: EventBridge."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clf(t: dt.datetime) -> str:
    """``01/May/2024:12:34:56 +0000``, API Gateway's request time (month names are not locale's)."""
    return f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000"


def _epoch_ms(t: dt.datetime) -> int:
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def _uuid() -> str:
    return str(uuid.uuid4())


def _hex(length: int) -> str:
    """Fresh random hex digits (from uuid4s), for ids that are not UUID-shaped."""
    return "".join(uuid.uuid4().hex for _ in range(length // 32 + 1))[:length]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sequence_numbers(count: int, digits: int) -> list[str]:
    """Increasing decimal sequence numbers, as streams assign them: later calls get larger ones."""
    # The clock leads, random digits fill the rest; the random part stays a digit short of the
    # clock's last one, so numbers from a later call are always larger.
    scale = 10 ** (digits - 19)
    base = time.time_ns() * scale + uuid.uuid4().int % (scale // 10)
    return [str(base + i) for i in range(count)]


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _query_parameters(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query.lstrip("?"), keep_blank_values=True)


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


def _http_headers(region: str, body: str, now: dt.datetime) -> dict[str, str]:
    headers = {
        "Accept": "*/*",
        "Host": f"{API_ID}.execute-api.{region}.amazonaws.com",
        "User-Agent": USER_AGENT,
        "X-Amzn-Trace-Id": f"Root=1-{int(now.timestamp()):08x}-{_hex(24)}",
        "X-Forwarded-For": SOURCE_IP,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if body:
        headers["Content-Length"] = str(len(body.encode()))
        headers["Content-Type"] = "application/json"
    return headers


# --------------------------------------------------------------------------- S3


def _s3_event(event_name: str, bucket: str, region: str, obj: dict) -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": _iso_ms(_utcnow()),
                "eventName": event_name,
                "userIdentity": {"principalId": "EXAMPLE"},
                "requestParameters": {"sourceIPAddress": SOURCE_IP},
                "responseElements": {
                    "x-amz-request-id": _hex(16).upper(),
                    "x-amz-id-2": _b64(uuid.uuid4().bytes + uuid.uuid4().bytes),
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "testConfigRule",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "EXAMPLE"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": obj,
                },
            }
        ]
    }


def _s3_key(key: str) -> str:
    # S3 URL-encodes object keys in notifications ("red flower.jpg" arrives as "red+flower.jpg").
    return quote_plus(key, safe="/")


def _s3_sequencer() -> str:
    # Hex that grows with time, so later events for the same key sort after earlier ones.
    return f"{time.time_ns():018X}"


def _s3_put(bucket: str = "example-bucket", key: str = "test/key", region: str = REGION) -> dict:
    obj = {"key": _s3_key(key), "size": 1024, "eTag": _hex(32), "sequencer": _s3_sequencer()}
    return _s3_event("ObjectCreated:Put", bucket, region, obj)


def _s3_delete(bucket: str = "example-bucket", key: str = "test/key", region: str = REGION) -> dict:
    # A deleted object has no size or eTag in the notification.
    obj = {"key": _s3_key(key), "sequencer": _s3_sequencer()}
    return _s3_event("ObjectRemoved:Delete", bucket, region, obj)


# --------------------------------------------------------------------------- SNS and SQS


def _sns_notification(
    topic: str = "ExampleTopic",
    subject: str = "example subject",
    message: str = "example message",
    region: str = REGION,
) -> dict:
    topic_arn = _arn("sns", region, topic)
    # A subscription's ARN is its topic's plus a subscription id (SAM's sample leaves that out).
    subscription_arn = f"{topic_arn}:{_uuid()}"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": _uuid(),
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": _iso_ms(_utcnow()),
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/"
                    "SimpleNotificationService-EXAMPLE.pem",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/"
                    f"?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
                    "MessageAttributes": {
                        "Test": {"Type": "String", "Value": "TestString"},
                        "TestBinary": {"Type": "Binary", "Value": "TestBinary"},
                    },
                },
            }
        ]
    }


def _sqs_receive_message(
    queue_name: str = "MyQueue", body: str = "Hello from SQS!", region: str = REGION
) -> dict:
    received = _epoch_ms(_utcnow())
    return {
        "Records": [
            {
                "messageId": _uuid(),
                "receiptHandle": "AQEB" + _b64(b"".join(uuid.uuid4().bytes for _ in range(3))),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(received - 5),
                    "SenderId": ACCOUNT_ID,
                    "ApproximateFirstReceiveTimestamp": str(received),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": _arn("sqs", region, queue_name),
                "awsRegion": region,
            }
        ]
    }


# --------------------------------------------------------------------------- API Gateway


def _apigateway_aws_proxy(
    method: str = "POST",
    path: str = "/path/to/resource",
    query: str = "foo=bar",
    body: str = '{"test":"body"}',
    resource: str = "/{proxy+}",
    stage: str = "prod",
    region: str = REGION,
) -> dict:
    """A REST API (v1) proxy request; a repeated query parameter keeps its last value in the
    single-value map and all of them in the multi-value one, as API Gateway does."""
    now = _utcnow()
    method, path = method.upper(), "/" + path.lstrip("/")
    headers = _http_headers(region, body, now)
    pairs = _query_parameters(query)
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": dict(pairs) or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": _path_parameters(resource, path),
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "resourceId": _hex(6),
            "stage": stage,
            "requestId": _uuid(),
            "requestTime": _clf(now),
            "requestTimeEpoch": _epoch_ms(now),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "accessKey": None,
                "sourceIp": SOURCE_IP,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": USER_AGENT,
                "user": None,
            },
            "path": f"/{stage}{path}",
            "resourcePath": resource,
            "httpMethod": method,
            "apiId": API_ID,
            "protocol": "HTTP/1.1",
        },
        "body": body or None,
        "isBase64Encoded": False,
    }


def _apigateway_http_api_proxy(
    method: str = "POST",
    path: str = "/path/to/resource",
    query: str = "parameter1=value1&parameter1=value2&parameter2=value",
    body: str = '{"test":"body"}',
    route: str = "ANY /{proxy+}",
    stage: str = "$default",
    region: str = REGION,
) -> dict:
    """An HTTP API (payload format 2.0) request: lower-case headers, repeated query parameters
    comma-joined. Like API Gateway, keys with nothing to say (``body``, ``pathParameters``,
    ``queryStringParameters``) are left out, and so are ``authentication``/``authorizer``
    (only sent with mTLS or an authorizer) and ``stageVariables`` (only when the stage has some)."""
    now = _utcnow()
    method, path = method.upper(), "/" + path.lstrip("/")
    query = query.lstrip("?")
    joined: dict[str, str] = {}
    for name, value in _query_parameters(query):
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    event: dict = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": query,
        "cookies": ["cookie1=value1", "cookie2=value2"],
        "headers": {
            name.lower(): value for name, value in _http_headers(region, body, now).items()
        },
    }
    if joined:
        event["queryStringParameters"] = joined
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": f"{API_ID}.execute-api.{region}.amazonaws.com",
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": SOURCE_IP,
            "userAgent": USER_AGENT,
        },
        "requestId": _uuid(),
        "routeKey": route,
        "stage": stage,
        "time": _clf(now),
        "timeEpoch": _epoch_ms(now),
    }
    if body:
        event["body"] = body
    path_parameters = _path_parameters(route.partition(" ")[2], path)
    if path_parameters:
        event["pathParameters"] = path_parameters
    event["isBase64Encoded"] = False
    return event


# --------------------------------------------------------------------------- EventBridge


def _cloudwatch_scheduled_event(rule: str = "ExampleRule", region: str = REGION) -> dict:
    return {
        "version": "0",  # every EventBridge event carries it; SAM's sample leaves it out
        "id": _uuid(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": _iso_s(_utcnow()),
        "region": region,
        "resources": [_arn("events", region, f"rule/{rule}")],
        "detail": {},
    }


# --------------------------------------------------------------------------- streams


def _attribute_bytes(image: dict | None) -> int:
    """Attribute names plus values, the way SAM's sample counts ``SizeBytes``."""
    return sum(
        len(name.encode()) + len(str(value).encode())
        for name, typed in (image or {}).items()
        for value in typed.values()
    )


def _dynamodb_record(
    name: str, keys: dict, new: dict | None, old: dict | None, sequence: str, region: str, arn: str
) -> dict:
    change: dict = {"Keys": keys}
    if new is not None:
        change["NewImage"] = new
    if old is not None:
        change["OldImage"] = old
    change["ApproximateCreationDateTime"] = int(time.time())
    change["SequenceNumber"] = sequence
    change["SizeBytes"] = sum(map(_attribute_bytes, (keys, new, old)))
    change["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    return {
        "eventID": _hex(32),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": arn,
    }


def _dynamodb_update(table: str = "ExampleTableWithStream", region: str = REGION) -> dict:
    """One item's life: INSERT, MODIFY, REMOVE, in stream order."""
    arn = _arn("dynamodb", region, f"table/{table}/stream/2015-06-27T00:48:05.899")
    keys = {"Id": {"N": "101"}}
    created = {"Message": {"S": "New item!"}, **keys}
    changed = {"Message": {"S": "This item has changed"}, **keys}
    changes = (("INSERT", created, None), ("MODIFY", changed, created), ("REMOVE", None, changed))
    sequences = _sequence_numbers(len(changes), 28)
    return {
        "Records": [
            _dynamodb_record(name, keys, new, old, sequence, region, arn)
            for (name, new, old), sequence in zip(changes, sequences, strict=True)
        ]
    }


def _kinesis_get_records(
    stream: str = "example-stream",
    data: str = "Hello, this is a test 123.",
    partition_key: str = "partitionKey-03",
    region: str = REGION,
) -> dict:
    (sequence,) = _sequence_numbers(1, 56)
    return {
        "Records": [
            {
                "kinesis": {
                    "partitionKey": partition_key,
                    "kinesisSchemaVersion": "1.0",
                    "data": _b64(data.encode()),
                    "sequenceNumber": sequence,
                    "approximateArrivalTimestamp": round(time.time(), 3),
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{sequence}",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT_ID}:role/lambda-role",
                "eventVersion": "1.0",
                "eventName": "aws:kinesis:record",
                "eventSourceARN": _arn("kinesis", region, f"stream/{stream}"),
                "awsRegion": region,
            }
        ]
    }


def _cloudwatch_logs(
    log_group: str = "/aws/lambda/example",
    log_stream: str = "example-stream",
    filter_name: str = "example-filter",
    message: str = "[ERROR] First test message",
) -> dict:
    """A subscription delivery: the batch is JSON, gzipped, then base64-encoded. Each line of
    ``message`` becomes one log event."""
    now = _epoch_ms(_utcnow())
    lines = message.splitlines() or [""]
    batch = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT_ID,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [
            {"id": event_id, "timestamp": now, "message": line}
            for event_id, line in zip(_sequence_numbers(len(lines), 56), lines, strict=True)
        ],
    }
    return {"awslogs": {"data": _b64(gzip.compress(json.dumps(batch).encode()))}}


# --------------------------------------------------------------------------- the catalogue


def _template(service: str, event: str, description: str, build: Callable[..., dict]) -> Template:
    """A template whose options (and their defaults) are its builder's keyword parameters."""
    options = {p.name: p.default for p in inspect.signature(build).parameters.values()}
    return Template(service, event, description, build, options)


TEMPLATES: dict[tuple[str, str], Template] = {
    (t.service, t.event): t
    for t in (
        _template("s3", "put", "an object was uploaded (ObjectCreated:Put)", _s3_put),
        _template("s3", "delete", "an object was deleted (ObjectRemoved:Delete)", _s3_delete),
        _template("sns", "notification", "a message published to a topic", _sns_notification),
        _template("sqs", "receive-message", "a batch from a queue", _sqs_receive_message),
        _template(
            "apigateway", "aws-proxy", "a REST API (v1) proxy request", _apigateway_aws_proxy
        ),
        _template(
            "apigateway",
            "http-api-proxy",
            "an HTTP API (v2) proxy request",
            _apigateway_http_api_proxy,
        ),
        _template(
            "cloudwatch",
            "scheduled-event",
            "an EventBridge schedule fired",
            _cloudwatch_scheduled_event,
        ),
        _template("dynamodb", "update", "a stream batch: INSERT, MODIFY, REMOVE", _dynamodb_update),
        _template("kinesis", "get-records", "a data stream record", _kinesis_get_records),
        _template("cloudwatch", "logs", "a CloudWatch Logs subscription batch", _cloudwatch_logs),
    )
}


def generate(service: str, event: str, **options: str) -> dict:
    """A fresh event; an unknown template raises ``KeyError``, an unknown option ``TypeError``.

    Option names may use ``-`` or ``_`` (``queue-name`` or ``queue_name``).
    """
    template = TEMPLATES[(service, event)]
    given = {name.replace("-", "_"): value for name, value in options.items()}
    unknown = set(given) - set(template.options)
    if unknown:
        raise TypeError(f"unknown option(s) for {service} {event}: {', '.join(sorted(unknown))}")
    return template.build(**{**template.options, **given})


def template_choices() -> list[tuple[str, str]]:
    """(label, "service event") for every template, for pickers."""
    return [
        (f"{t.service} {t.event} — {t.description}", f"{t.service} {t.event}")
        for t in TEMPLATES.values()
    ]
