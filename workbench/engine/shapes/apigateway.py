"""API Gateway's Lambda proxy integration: an HTTP request as the event a function receives.

Three shapes, from one ``HttpRequest`` (plain values: the workbench's HTTP trigger server reads
one off the wire; ``generate-event`` makes one up):

- ``http_api_event``: HTTP API, payload format 2.0 (SAM's ``apigateway/HttpApi.json``). No
  ``multiValue*`` maps: repeated headers and query parameters are comma-joined, ``cookies`` come
  from the Cookie headers, and keys with nothing to say are left out.
- ``http_api_event_v1``: HTTP API, payload format 1.0: REST's shape plus ``version``,
  ``domainName``/``domainPrefix``, ``extendedRequestId`` (equal to ``requestId``) and the
  identity's ``cognitoAmr``/``principalOrgId``; ``resourceId`` is the route key; its
  requestContext lists keys in order of name, as captured events do.
- ``rest_api_event``: a REST API proxy request (SAM's ``apigateway/AwsProxy.json``, in its key
  order): the stage prefixes ``requestContext.path``.

Sources: AWS, "Create AWS Lambda proxy integrations for HTTP APIs"; captured HTTP API 1.0 events
as published in projects' tests (header names as the client sent them, no ``authorizer``
without one configured); which bodies are text was checked against AWS by ministack PR #766
(``text/*``, ``application/json``, ``application/xml``, ``application/javascript``; anything
else, a missing Content-Type included, is base64 with ``isBase64Encoded: true``).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .values import clf, epoch_ms

API_ID = "1234567890"  # one API id for samples and live events, so the two agree
DEFAULT_STAGE = "$default"
PROTOCOL = "HTTP/1.1"
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
# a REST API's identity, in SAM's order: only sourceIp and userAgent say anything here
_REST_IDENTITY = (
    "cognitoIdentityPoolId",
    "accountId",
    "cognitoIdentityId",
    "caller",
    "accessKey",
    "sourceIp",
    "cognitoAuthenticationType",
    "cognitoAuthenticationProvider",
    "userArn",
    "userAgent",
    "user",
)
_HTTP_API_IDENTITY_EXTRA = ("cognitoAmr", "principalOrgId")


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as API Gateway hands it on: headers in order, names as sent."""

    method: str
    path: str  # decoded, as HTTP API hands it over
    query: str  # raw, as sent, without the '?'
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    request_id: str
    time: dt.datetime  # UTC


def header(request: HttpRequest, name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in request.headers if k.lower() == name), None)


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in TEXT_TYPES


def body_of(request: HttpRequest) -> tuple[str | None, bool]:
    """The body as the event carries it, and whether it is base64."""
    if not request.body:
        return None, False
    if is_text(header(request, "content-type")):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # not text after all: base64 keeps it whole
    return base64.b64encode(request.body).decode("ascii"), True


def domain_of(request: HttpRequest) -> tuple[str, str]:
    """domainName and domainPrefix: the Host the client used (``127.0.0.1:3000`` locally, so
    links a function builds from them point back there); the prefix is its first label."""
    host = header(request, "host") or "localhost"
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name.replace(".", "").isdigit() or name.startswith("["):
        return host, name
    return host, name.split(".", 1)[0]


def _query(request: HttpRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.query, keep_blank_values=True)


def http_api_event(
    request: HttpRequest,
    *,
    route_key: str,
    path_parameters: Mapping[str, str] | None,
    account_id: str,
    api_id: str = API_ID,
    stage: str = DEFAULT_STAGE,
) -> dict:
    """Payload format 2.0. Keys with nothing to say are left out, as HTTP API does: cookies,
    queryStringParameters, body, pathParameters, stageVariables (and authentication/authorizer,
    sent only with mTLS or an authorizer)."""
    cookies: list[str] = []
    headers: dict[str, str] = {}
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    query: dict[str, str] = {}
    for name, value in _query(request):
        query[name] = f"{query[name]},{value}" if name in query else value
    domain, prefix = domain_of(request)
    event: dict = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": prefix,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": PROTOCOL,
            "sourceIp": request.source_ip,
            "userAgent": header(request, "user-agent") or "",
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": clf(request.time),
        "timeEpoch": epoch_ms(request.time),
    }
    body, encoded = body_of(request)
    if body is not None:
        event["body"] = body
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["isBase64Encoded"] = encoded
    return event


@dataclass(frozen=True)
class _V1:
    """What payload format 1.0 carries of a request, whichever API sent it: the single-value
    maps keep the last value, null where there is nothing."""

    headers: dict[str, str]
    multi_headers: dict[str, list[str]]
    query: dict[str, str] | None
    multi_query: dict[str, list[str]] | None
    body: str | None
    encoded: bool
    identity: dict[str, str | None]


def _v1(request: HttpRequest) -> _V1:
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}  # lower-case name -> the first spelling seen
    for name, value in request.headers:
        name = spelling.setdefault(name.lower(), name)
        headers[name] = value
        multi.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in _query(request):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    body, encoded = body_of(request)
    identity: dict[str, str | None] = dict.fromkeys(_REST_IDENTITY)
    identity.update(sourceIp=request.source_ip, userAgent=header(request, "user-agent") or "")
    return _V1(headers, multi, query or None, multi_query or None, body, encoded, identity)


def http_api_event_v1(
    request: HttpRequest,
    *,
    route_key: str,
    resource: str,
    path_parameters: Mapping[str, str] | None,
    account_id: str,
    api_id: str = API_ID,
    stage: str = DEFAULT_STAGE,
) -> dict:
    """Payload format 1.0 as HTTP API sends it: REST's shape, header names as sent."""
    v1 = _v1(request)
    domain, prefix = domain_of(request)
    identity = dict(v1.identity, **dict.fromkeys(_HTTP_API_IDENTITY_EXTRA))
    stage_prefix = "" if stage == DEFAULT_STAGE else f"/{stage}"
    return {
        "version": "1.0",
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": v1.headers,
        "multiValueHeaders": v1.multi_headers,
        "queryStringParameters": v1.query,
        "multiValueQueryStringParameters": v1.multi_query,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": prefix,
            "extendedRequestId": request.request_id,
            "httpMethod": request.method,
            "identity": dict(sorted(identity.items())),
            "path": stage_prefix + request.path,
            "protocol": PROTOCOL,
            "requestId": request.request_id,
            "requestTime": clf(request.time),
            "requestTimeEpoch": epoch_ms(request.time),
            "resourceId": route_key,
            "resourcePath": resource,
            "stage": stage,
        },
        "pathParameters": dict(path_parameters or {}) or None,
        "stageVariables": None,
        "body": v1.body,
        "isBase64Encoded": v1.encoded,
    }


def rest_api_event(
    request: HttpRequest,
    *,
    resource: str,
    path_parameters: Mapping[str, str] | None,
    account_id: str,
    stage: str,
    resource_id: str,
    api_id: str = API_ID,
) -> dict:
    """A REST API (v1) proxy request: the repeated query parameter keeps its last value in the
    single-value map and all of them in the multi-value one."""
    v1 = _v1(request)
    return {
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": v1.headers,
        "multiValueHeaders": v1.multi_headers,
        "queryStringParameters": v1.query,
        "multiValueQueryStringParameters": v1.multi_query,
        "pathParameters": dict(path_parameters or {}) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": account_id,
            "resourceId": resource_id,
            "stage": stage,
            "requestId": request.request_id,
            "requestTime": clf(request.time),
            "requestTimeEpoch": epoch_ms(request.time),
            "identity": v1.identity,
            "path": f"/{stage}{request.path}",
            "resourcePath": resource,
            "httpMethod": request.method,
            "apiId": api_id,
            "protocol": PROTOCOL,
        },
        "body": v1.body,
        "isBase64Encoded": v1.encoded,
    }
