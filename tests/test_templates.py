"""Sample event templates (LAMBDA_REFERENCE §8) and the ``generate-event`` verb."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
import sys
import time

import pytest

from tests.helpers import until_sync
from workbench.engine.shapes import TEMPLATES, generate, template_choices

ACCOUNT = "123456789012"

EXPECTED = [
    ("s3", "put"),
    ("s3", "delete"),
    ("sns", "notification"),
    ("sqs", "receive-message"),
    ("apigateway", "aws-proxy"),
    ("apigateway", "http-api-proxy"),
    ("cloudwatch", "scheduled-event"),
    ("dynamodb", "update"),
    ("kinesis", "get-records"),
    ("cloudwatch", "logs"),
]


def keys(d: dict) -> set[str]:
    return set(d)


def test_the_catalogue_has_sam_names_and_string_options() -> None:
    assert list(TEMPLATES) == EXPECTED
    for template in TEMPLATES.values():
        assert template.options, template
        assert all(isinstance(v, str) for v in template.options.values())
    assert [key for _, key in template_choices()] == [f"{s} {e}" for s, e in EXPECTED]


# --------------------------------------------------------------------------- shapes


def test_s3_put() -> None:
    (record,) = generate("s3", "put")["Records"]
    assert keys(record) == {
        "eventVersion",
        "eventSource",
        "awsRegion",
        "eventTime",
        "eventName",
        "userIdentity",
        "requestParameters",
        "responseElements",
        "s3",
    }
    assert record["eventVersion"] == "2.0"
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == "us-east-1"
    assert keys(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    assert record["userIdentity"]["principalId"]
    assert record["requestParameters"]["sourceIPAddress"]
    s3 = record["s3"]
    assert s3["s3SchemaVersion"] == "1.0"
    assert keys(s3) == {"s3SchemaVersion", "configurationId", "bucket", "object"}
    assert keys(s3["bucket"]) == {"name", "ownerIdentity", "arn"}
    assert keys(s3["object"]) == {"key", "size", "eTag", "sequencer"}
    assert isinstance(s3["object"]["size"], int)


def test_s3_delete_has_no_size_or_etag() -> None:
    (record,) = generate("s3", "delete", bucket="photos", key="a/b.jpg")["Records"]
    assert record["eventName"] == "ObjectRemoved:Delete"
    assert record["eventSource"] == "aws:s3"
    assert keys(record["s3"]["object"]) == {"key", "sequencer"}
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::photos"
    assert record["s3"]["object"]["key"] == "a/b.jpg"


def test_s3_options_reach_the_arn_and_key_and_the_key_is_url_encoded() -> None:
    (record,) = generate(
        "s3", "put", bucket="my-bucket", key="in/red flower.jpg", region="eu-west-1"
    )["Records"]
    assert record["s3"]["bucket"]["name"] == "my-bucket"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::my-bucket"
    assert record["s3"]["object"]["key"] == "in/red+flower.jpg"
    assert record["awsRegion"] == "eu-west-1"


def test_sns_notification() -> None:
    (record,) = generate("sns", "notification", topic="orders", message="hi", subject="s")[
        "Records"
    ]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    sns = record["Sns"]
    assert keys(sns) == {
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertUrl",
        "UnsubscribeUrl",
        "MessageAttributes",
    }
    assert sns["Type"] == "Notification"
    assert sns["TopicArn"] == f"arn:aws:sns:us-east-1:{ACCOUNT}:orders"
    assert record["EventSubscriptionArn"].startswith(sns["TopicArn"] + ":")
    assert (sns["Message"], sns["Subject"]) == ("hi", "s")
    for attribute in sns["MessageAttributes"].values():
        assert keys(attribute) == {"Type", "Value"}


def test_sqs_receive_message() -> None:
    (record,) = generate("sqs", "receive-message", queue_name="jobs", body="do it")["Records"]
    assert keys(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    assert record["body"] == "do it"
    assert record["md5OfBody"] == hashlib.md5(b"do it").hexdigest()
    attributes = record["attributes"]
    assert keys(attributes) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert all(isinstance(v, str) for v in attributes.values())
    assert int(attributes["SentTimestamp"]) <= int(attributes["ApproximateFirstReceiveTimestamp"])


def test_apigateway_rest_v1_proxy() -> None:
    event = generate("apigateway", "aws-proxy")
    assert keys(event) == {
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
        "body",
        "isBase64Encoded",
    }
    context = event["requestContext"]
    assert keys(context) == {
        "accountId",
        "resourceId",
        "stage",
        "requestId",
        "requestTime",
        "requestTimeEpoch",
        "identity",
        "path",
        "resourcePath",
        "httpMethod",
        "apiId",
        "protocol",
    }
    assert context["accountId"] == ACCOUNT
    assert context["identity"]["sourceIp"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
    assert event["isBase64Encoded"] is False


def test_apigateway_v1_options_shape_path_query_and_parameters() -> None:
    event = generate(
        "apigateway",
        "aws-proxy",
        method="get",
        path="items/42",
        resource="/items/{id}",
        query="a=1&a=2&b=x",
        body="",
        stage="dev",
    )
    assert (event["httpMethod"], event["path"]) == ("GET", "/items/42")
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["body"] is None
    context = event["requestContext"]
    assert (context["path"], context["resourcePath"], context["stage"]) == (
        "/dev/items/42",
        "/items/{id}",
        "dev",
    )
    assert context["httpMethod"] == "GET"


def test_apigateway_http_api_v2_proxy() -> None:
    event = generate("apigateway", "http-api-proxy", method="put", path="/a/b", body="x")
    assert keys(event) >= {
        "version",
        "routeKey",
        "rawPath",
        "rawQueryString",
        "cookies",
        "headers",
        "queryStringParameters",
        "requestContext",
        "body",
        "pathParameters",
        "isBase64Encoded",
    }
    assert event["version"] == "2.0"
    assert all(name == name.lower() for name in event["headers"])
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert event["rawPath"] == "/a/b"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["body"] == "x"
    context = event["requestContext"]
    assert keys(context) >= {
        "accountId",
        "apiId",
        "domainName",
        "domainPrefix",
        "http",
        "requestId",
        "routeKey",
        "stage",
        "time",
        "timeEpoch",
    }
    assert keys(context["http"]) == {"method", "path", "protocol", "sourceIp", "userAgent"}
    assert (context["http"]["method"], context["http"]["path"]) == ("PUT", "/a/b")
    assert context["routeKey"] == event["routeKey"]
    assert isinstance(context["timeEpoch"], int)


def test_cloudwatch_scheduled_event() -> None:
    event = generate("cloudwatch", "scheduled-event", rule="nightly", region="eu-central-1")
    assert keys(event) >= {
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == ACCOUNT
    assert event["region"] == "eu-central-1"
    assert event["resources"] == [f"arn:aws:events:eu-central-1:{ACCOUNT}:rule/nightly"]
    assert event["detail"] == {}
    assert event["time"].endswith("Z")


def test_dynamodb_update_is_insert_modify_remove() -> None:
    records = generate("dynamodb", "update", table="Orders")["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert keys(record) == {
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        }
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"].startswith(
            f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders/stream/"
        )
        assert keys(record["dynamodb"]) >= {
            "Keys",
            "ApproximateCreationDateTime",
            "SequenceNumber",
            "SizeBytes",
            "StreamViewType",
        }
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert "NewImage" in insert and "OldImage" not in insert
    assert "NewImage" in modify and "OldImage" in modify
    assert "NewImage" not in remove and "OldImage" in remove
    assert [d["SizeBytes"] for d in (insert, modify, remove)] == [26, 59, 38]  # SAM's sample
    sequences = [int(d["SequenceNumber"]) for d in (insert, modify, remove)]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3


def test_kinesis_get_records_data_decodes() -> None:
    (record,) = generate("kinesis", "get-records", data="héllo", stream="clicks")["Records"]
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventVersion"] == "1.0"
    kinesis = record["kinesis"]
    assert kinesis["kinesisSchemaVersion"] == "1.0"
    assert base64.b64decode(kinesis["data"]).decode() == "héllo"
    assert record["eventID"] == f"shardId-000000000000:{kinesis['sequenceNumber']}"
    assert record["eventSourceARN"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/clicks"
    assert keys(kinesis) == {
        "partitionKey",
        "kinesisSchemaVersion",
        "data",
        "sequenceNumber",
        "approximateArrivalTimestamp",
    }


def test_cloudwatch_logs_payload_decodes_to_the_batch() -> None:
    event = generate("cloudwatch", "logs", log_group="/aws/lambda/orders", message="first\nsecond")
    assert keys(event) == {"awslogs"} and keys(event["awslogs"]) == {"data"}
    batch = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert keys(batch) == {
        "messageType",
        "owner",
        "logGroup",
        "logStream",
        "subscriptionFilters",
        "logEvents",
    }
    assert batch["messageType"] == "DATA_MESSAGE"
    assert batch["owner"] == ACCOUNT
    assert batch["logGroup"] == "/aws/lambda/orders"
    assert [e["message"] for e in batch["logEvents"]] == ["first", "second"]
    for log_event in batch["logEvents"]:
        assert keys(log_event) == {"id", "timestamp", "message"}
        assert abs(log_event["timestamp"] - time.time() * 1000) < 60_000


# --------------------------------------------------------------------------- freshness and options


def _ids(service: str, event: str, e: dict) -> tuple:
    """The id-like and time-like values of an event, to compare across two calls."""
    if service == "cloudwatch" and event == "logs":
        batch = json.loads(gzip.decompress(base64.b64decode(e["awslogs"]["data"])))
        return tuple(x["id"] for x in batch["logEvents"])
    if service == "s3":
        r = e["Records"][0]
        return r["responseElements"]["x-amz-request-id"], r["s3"]["object"]["sequencer"]
    if service == "sns":
        return (e["Records"][0]["Sns"]["MessageId"],)
    if service == "sqs":
        return e["Records"][0]["messageId"], e["Records"][0]["receiptHandle"]
    if service == "apigateway":
        return (e["requestContext"]["requestId"],)
    if event == "scheduled-event":
        return (e["id"],)
    if service == "dynamodb":
        return tuple(r["eventID"] for r in e["Records"]) + (
            e["Records"][0]["dynamodb"]["SequenceNumber"],
        )
    if service == "kinesis":
        return (e["Records"][0]["kinesis"]["sequenceNumber"],)
    raise AssertionError(f"no ids known for {service} {event}")


@pytest.mark.parametrize(("service", "event"), EXPECTED)
def test_every_call_has_fresh_ids(service: str, event: str) -> None:
    first, second = generate(service, event), generate(service, event)
    assert _ids(service, event, first) != _ids(service, event, second)
    assert all(_ids(service, event, first))


def test_timestamps_are_current() -> None:
    now_ms = time.time() * 1000
    assert (
        abs(generate("apigateway", "aws-proxy")["requestContext"]["requestTimeEpoch"] - now_ms)
        < 60_000
    )
    assert (
        abs(generate("apigateway", "http-api-proxy")["requestContext"]["timeEpoch"] - now_ms)
        < 60_000
    )
    sqs = generate("sqs", "receive-message")["Records"][0]["attributes"]
    assert abs(int(sqs["SentTimestamp"]) - now_ms) < 60_000
    kinesis = generate("kinesis", "get-records")["Records"][0]["kinesis"]
    assert abs(kinesis["approximateArrivalTimestamp"] - now_ms / 1000) < 60
    year = time.strftime("%Y", time.gmtime())
    assert generate("s3", "put")["Records"][0]["eventTime"].startswith(year)
    assert generate("cloudwatch", "scheduled-event")["time"].startswith(year)


def test_sequence_numbers_grow_between_calls() -> None:
    def sequence() -> int:
        return int(generate("kinesis", "get-records")["Records"][0]["kinesis"]["sequenceNumber"])

    first = sequence()
    after = time.time_ns()
    until_sync(lambda: time.time_ns() > after, "the clock to move on", step=0)  # a later call
    assert sequence() > first


def test_option_names_take_dashes_or_underscores_and_unknown_ones_are_refused() -> None:
    arn = generate("sqs", "receive-message", **{"queue-name": "a"})["Records"][0]["eventSourceARN"]
    assert arn.endswith(":a")
    with pytest.raises(TypeError, match="colour"):
        generate("s3", "put", colour="red")
    with pytest.raises(KeyError):
        generate("s3", "get")


# --------------------------------------------------------------------------- the CLI verb


def workbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "generate-event", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_prints_the_event_with_options() -> None:
    done = workbench("s3", "put", "--bucket", "b", "--key", "k", "--region=eu-west-1")
    assert done.returncode == 0, done.stderr
    (record,) = json.loads(done.stdout)["Records"]
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::b"
    assert record["s3"]["object"]["key"] == "k"
    assert record["awsRegion"] == "eu-west-1"
    assert done.stdout.startswith('{\n  "Records"')  # indent 2


def test_cli_option_names_with_dash_or_underscore_and_dashed_values() -> None:
    done = workbench("sqs", "receive-message", "--queue_name", "q1", "--body", "-x y")
    assert done.returncode == 0, done.stderr
    (record,) = json.loads(done.stdout)["Records"]
    assert record["eventSourceARN"].endswith(":q1")
    assert record["body"] == "-x y"
    done = workbench("sqs", "receive-message", "--queue-name=q2")
    assert json.loads(done.stdout)["Records"][0]["eventSourceARN"].endswith(":q2")


@pytest.mark.parametrize("args", [(), ("--list",)])
def test_cli_lists_templates_with_options_and_defaults(args: tuple[str, ...]) -> None:
    done = workbench(*args)
    assert done.returncode == 0, done.stderr
    for (service, event), template in TEMPLATES.items():
        assert f"{service} {event} — {template.description}" in done.stdout
        for option, default in template.options.items():
            assert f"--{option.replace('_', '-')}" in done.stdout
            assert default in done.stdout
    assert "--queue-name" in done.stdout and "MyQueue" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "put"), "unknown service 'nope'; accepted: s3, sns, sqs, apigateway"),
        (("s3", "get"), "unknown event 'get' for s3; accepted: put, delete"),
        (("s3",), "missing EVENT for s3; accepted: put, delete"),
        (
            ("s3", "put", "--colour", "red"),
            "unknown option --colour for s3 put; accepted: --bucket",
        ),
        (("s3", "put", "--bucket"), "option --bucket needs a value"),
        (("s3", "put", "stray"), "expected --option value pairs"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    done = workbench(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
