"""API Gateway HTTP API's Lambda proxy integration: request → event, result → response.

Pure functions, no server: ``http_trigger`` feeds them an ``HttpRequest`` and the route that
matched, and sends what they return. The event's shape is built by ``engine.shapes`` (the same
builders as ``generate-event apigateway``); here the request gets what API Gateway adds in front
of the function (X-Forwarded-*, a trace id). What the rest follows, field by field:

- AWS, "Create AWS Lambda proxy integrations for HTTP APIs" (http-api-develop-integrations-lambda):
  one ``set-cookie`` per response cookie, and a 2.0 result without ``statusCode`` is a 200
  ``application/json`` whose body is the result (a JSON string is the body itself, per the
  page's own example).
- AWS, "Handling Lambda errors with an API Gateway API" (lambda/latest/dg/services-apigateway-
  errors): a function error or a result in the wrong shape → 502, Lambda refusing the invocation
  (throttled, payload over 6 MB) → 500, both with ``{"message":"Internal server error"}``.
- SAM CLI's ``samcli/local/apigw`` (local_apigw_service, event_constructor): a response without
  Content-Type gets ``application/json``; v1 ``headers`` and ``multiValueHeaders`` are merged
  without repeating a value; HTTP API ignores unknown response keys; v2 has no
  ``multiValueHeaders`` in responses (ignored), and a ``cookies`` that is not a list is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ..engine.config import HttpTrigger
from ..engine.shapes import HttpRequest, header, http_api_event, http_api_event_v1

INTERNAL_ERROR = b'{"message":"Internal server error"}'
NOT_FOUND = b'{"message":"Not Found"}'
# HTTP API's own limit on a request body (10 MB); the wording is UNVERIFIED
TOO_LARGE = b'{"message":"Request Entity Too Large"}'
MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Route:
    """A route that matched: the trigger, its function and the decoded path parameters."""

    trigger: HttpTrigger
    function: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class MalformedResult(ValueError):
    """The function's result is not a response API Gateway can map (it answers 502)."""


def new_request_id() -> str:
    """An id shaped like HTTP API's (``bNtghjMCvHcEJMw=``): 11 random bytes in base64."""
    return base64.b64encode(os.urandom(11)).decode()


# ----------------------------------------------------------------------------- requests


def _forwarded(request: HttpRequest, port: int) -> list[tuple[str, str]]:
    """What API Gateway adds in front of the function: X-Forwarded-*, a trace id."""
    added = []
    sent = header(request, "x-forwarded-for")
    forwarded_for = f"{sent}, {request.source_ip}" if sent else request.source_ip
    added.append(("X-Forwarded-For", forwarded_for))
    added.append(("X-Forwarded-Port", str(port)))
    added.append(("X-Forwarded-Proto", "http"))
    if header(request, "x-amzn-trace-id") is None:
        epoch = int(request.time.timestamp())
        added.append(("X-Amzn-Trace-Id", f"Root=1-{epoch:08x}-{os.urandom(12).hex()}"))
    replaced = {name.lower() for name, _ in added}
    kept = [(k, v) for k, v in request.headers if k.lower() not in replaced]
    return kept + added


def handed_on(request: HttpRequest, port: int) -> HttpRequest:
    return replace(request, headers=tuple(_forwarded(request, port)))


def event_v2(request: HttpRequest, route: Route, *, account_id: str, port: int) -> dict:
    """Payload format 2.0 (``shapes.http_api_event``)."""
    return http_api_event(
        handed_on(request, port),
        route_key=route.trigger.route_key,
        path_parameters=route.params,
        account_id=account_id,
    )


def event_v1(request: HttpRequest, route: Route, *, account_id: str, port: int) -> dict:
    """Payload format 1.0 as HTTP API sends it (``shapes.http_api_event_v1``)."""
    return http_api_event_v1(
        handed_on(request, port),
        route_key=route.trigger.route_key,
        resource=route.trigger.path,
        path_parameters=route.params,
        account_id=account_id,
    )


def build_event(request: HttpRequest, route: Route, *, account_id: str, port: int) -> bytes:
    build = event_v1 if route.trigger.payload_format == "1.0" else event_v2
    event = build(request, route, account_id=account_id, port=port)
    return json.dumps(event, separators=(",", ":")).encode()


# ----------------------------------------------------------------------------- responses


def _status(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise MalformedResult(f"statusCode must be an integer from 100 to 599, not {value!r}")
    return value


def _header_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedResult(f"header {name!r} must be a string, not {value!r}")


def _headers(raw: object, key: str) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise MalformedResult(f"{key} must be an object")
    return [(str(name), _header_value(name, value)) for name, value in raw.items()]


def _multi_headers(raw: object) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise MalformedResult("multiValueHeaders must be an object of lists")
    pairs: list[tuple[str, str]] = []
    for name, values in raw.items():
        if not isinstance(values, list):
            raise MalformedResult(f"multiValueHeaders {name!r} must be a list")
        pairs.extend((str(name), _header_value(name, v)) for v in values)
    return pairs


def _response_body(result: Mapping, encoded_key: str = "isBase64Encoded") -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResult(f"body must be a string, not {type(body).__name__}")
    encoded = result.get(encoded_key, False)
    if not isinstance(encoded, bool):
        raise MalformedResult("isBase64Encoded must be true or false")
    if not encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedResult("isBase64Encoded is true but body is not base64") from None


def _finish(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> HttpResponse:
    headers = list(headers)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, tuple(headers), body)


def _parse(payload: bytes) -> object:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise MalformedResult("the result is not JSON") from None
    except RecursionError:
        raise MalformedResult("the result nests arrays and objects too deeply to read") from None


def response_v2(payload: bytes) -> HttpResponse:
    """Map a 2.0 result; raises ``MalformedResult`` for what HTTP API would answer 502."""
    result = _parse(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        # any JSON without statusCode is the body itself; a string is its own text
        body = result.encode("utf-8") if isinstance(result, str) else payload.strip()
        return HttpResponse(200, (("Content-Type", "application/json"),), body)
    status = _status(result["statusCode"])
    headers = _headers(result.get("headers"), "headers")
    cookies = result.get("cookies")
    if isinstance(cookies, list):
        headers.extend(("Set-Cookie", _header_value("cookies", c)) for c in cookies)
    return _finish(status, headers, _response_body(result))


def response_v1(payload: bytes) -> HttpResponse:
    """Map a 1.0 result: an object with statusCode; headers and multiValueHeaders merged."""
    result = _parse(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResult("a payload format 1.0 result must be an object with statusCode")
    status = _status(result["statusCode"])
    merged = _multi_headers(result.get("multiValueHeaders"))
    seen = {(name.lower(), value) for name, value in merged}
    for name, value in _headers(result.get("headers"), "headers"):
        if (name.lower(), value) not in seen:
            merged.append((name, value))
    return _finish(status, merged, _response_body(result))


def map_response(payload: bytes, payload_format: str) -> HttpResponse:
    return response_v1(payload) if payload_format == "1.0" else response_v2(payload)


def error_response(status: int, body: bytes) -> HttpResponse:
    return HttpResponse(status, (("Content-Type", "application/json"),), body)
