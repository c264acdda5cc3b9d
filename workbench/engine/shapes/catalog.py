"""The ``generate-event`` catalogue: which samples exist, under the names ``sam local
generate-event`` uses, with a description and their options. The CLI's ``generate-event`` and
the TUI's template picker both read it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from . import samples


@dataclass(frozen=True)
class Template:
    service: str
    event: str
    description: str
    build: Callable[..., dict]
    options: dict[str, str] = field(default_factory=dict)  # option → default


def _template(service: str, event: str, description: str, build: Callable[..., dict]) -> Template:
    """A template whose options (and their defaults) are its builder's keyword parameters."""
    options = {p.name: p.default for p in inspect.signature(build).parameters.values()}
    return Template(service, event, description, build, options)


TEMPLATES: dict[tuple[str, str], Template] = {
    (t.service, t.event): t
    for t in (
        _template("s3", "put", "an object was uploaded (ObjectCreated:Put)", samples.s3_put),
        _template(
            "s3", "delete", "an object was deleted (ObjectRemoved:Delete)", samples.s3_delete
        ),
        _template(
            "sns", "notification", "a message published to a topic", samples.sns_notification
        ),
        _template("sqs", "receive-message", "a batch from a queue", samples.sqs_receive_message),
        _template(
            "apigateway", "aws-proxy", "a REST API (v1) proxy request", samples.apigateway_aws_proxy
        ),
        _template(
            "apigateway",
            "http-api-proxy",
            "an HTTP API (v2) proxy request",
            samples.apigateway_http_api_proxy,
        ),
        _template(
            "cloudwatch",
            "scheduled-event",
            "an EventBridge schedule fired",
            samples.cloudwatch_scheduled_event,
        ),
        _template(
            "dynamodb", "update", "a stream batch: INSERT, MODIFY, REMOVE", samples.dynamodb_update
        ),
        _template("kinesis", "get-records", "a data stream record", samples.kinesis_get_records),
        _template(
            "cloudwatch", "logs", "a CloudWatch Logs subscription batch", samples.cloudwatch_logs
        ),
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
