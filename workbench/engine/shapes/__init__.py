"""Event payloads, built once: what S3, SNS, SQS, API Gateway, EventBridge, DynamoDB and
Kinesis streams and CloudWatch Logs hand a function (LAMBDA_REFERENCE §8).

The live event sources (bucket folders, topics, queue mappings, schedules, the HTTP trigger)
and ``generate-event``/the TUI's templates call the same builders, so a live event and a sample
differ only in their values. Pure functions over plain values, standard library only: the
bottom of the engine beside ``model``, the only part of the engine it imports.
"""

from __future__ import annotations

from .apigateway import (
    API_ID,
    HttpRequest,
    header,
    http_api_event,
    http_api_event_v1,
    is_text,
    rest_api_event,
)
from .catalog import TEMPLATES, Template, generate, template_choices
from .function_url import function_url_event

__all__ = [
    "API_ID",
    "TEMPLATES",
    "HttpRequest",
    "Template",
    "function_url_event",
    "generate",
    "header",
    "http_api_event",
    "http_api_event_v1",
    "is_text",
    "rest_api_event",
    "template_choices",
]
