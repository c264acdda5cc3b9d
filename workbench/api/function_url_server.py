"""Serving function URLs on the HTTP trigger port, as Lambda serves them.

A request is a function URL's when its Host is ``<url-id>.lambda-url.<region>.localhost[:port]``
(curl and browsers resolve ``*.localhost`` to loopback) or its path starts with
``/lambda-url/<function>[:<alias>]/`` (the rest is the function's ``rawPath``). Anything else
goes on to the HTTP API routes.

What Lambda does in front of the function, followed here (DG: urls-invocation, urls-auth,
urls-configuration "CORS"):
- ``AWS_IAM``: the request must carry a SigV4 signature for ``lambda`` (``sigv4.py``) by the
  workbench's own credentials; otherwise 403 ``{"Message":"Forbidden"}`` and the function is not
  invoked. The signer shows in ``requestContext.authorizer.iam``.
- CORS, when the URL has a ``Cors`` config: a preflight (``OPTIONS`` with ``Origin`` and
  ``Access-Control-Request-Method``) is answered from the config without invoking; other
  responses get the config's CORS headers in place of any the function set. Without a config,
  OPTIONS reaches the function like any method.
- the response: HTTP API 2.0's mapping (``apigw_events.response_v2``): a result without
  ``statusCode`` is a 200 JSON body; ``statusCode``/``headers``/``cookies``/``body``/
  ``isBase64Encoded`` otherwise.

UNVERIFIED: the exact bodies of Lambda's own error answers (403, 404 for an unknown url-id,
413, 429, 502) are as observed in user reports, not from AWS's documentation.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web

from ..engine import Engine, StreamingInvocation, invoke_stream
from ..engine.config import HOST_MARK, PATH_PREFIX, Cors, UrlEntry
from ..engine.model import LambdaError
from ..engine.runtime import CredentialsError, local_credentials
from ..engine.shapes import HttpRequest, function_url_event
from . import apigw_events as apigw
from . import sigv4
from .apigw_events import HttpResponse
from .function_urls import urls_of

log = logging.getLogger("workbench.api.url")

FORBIDDEN = b'{"Message":"Forbidden"}'
NOT_FOUND = b'{"Message":null}'
INTERNAL = b'{"Message":"Internal Server Error"}'
THROTTLED = b'{"Message":"Rate Exceeded."}'
TOO_LARGE = b'{"Message":"Request Entity Too Large"}'
_CORS_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
)


@dataclass(frozen=True)
class UrlRequest:
    """A request that is a function URL's: which URL, and the path the function sees."""

    entry: UrlEntry | None  # None: a URL host or prefix naming no URL (404)
    raw_path: str  # as sent, without the prefix
    domain: str


def match(engine: Engine, request: web.Request) -> UrlRequest | None:
    """The function URL ``request`` is for; None when it is not for a URL at all."""
    region = engine.settings.region
    host = request.headers.get("Host", "")
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else ""
    if name.endswith(f"{HOST_MARK}{region}.localhost") and name.count(".") == 3:
        url_id = name.split(".", 1)[0]
        entry = urls_of(engine).by_id(url_id)
        return UrlRequest(entry, request.rel_url.raw_path, host)
    raw = request.rel_url.raw_path
    if not raw.startswith(PATH_PREFIX):
        return None
    target, slash, rest = raw[len(PATH_PREFIX) :].partition("/")
    entry = urls_of(engine).by_target(unquote(target))
    port = engine.settings.http_port
    domain = entry.host(region) + (f":{port}" if port else "") if entry else host
    return UrlRequest(entry, "/" + rest if slash else "/", domain)


def _plain(status: int, body: bytes) -> HttpResponse:
    return HttpResponse(status, (("Content-Type", "application/json"),), body)


def _origin_allowed(cors: Cors, origin: str) -> bool:
    allowed = cors.allow_origins or ()
    return "*" in allowed or origin.lower() in (o.lower() for o in allowed)


def _allow_origin(cors: Cors, origin: str) -> str:
    if "*" in (cors.allow_origins or ()) and not cors.allow_credentials:
        return "*"
    return origin


def preflight(cors: Cors, origin: str) -> HttpResponse:
    """Lambda's answer to a CORS preflight, from the config alone. An origin the config does
    not allow gets no Access-Control-* headers (the browser then refuses)."""
    headers: list[tuple[str, str]] = [("Vary", "Origin")]
    if _origin_allowed(cors, origin):
        headers.append(("Access-Control-Allow-Origin", _allow_origin(cors, origin)))
        if cors.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ", ".join(cors.allow_methods)))
        if cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ", ".join(cors.allow_headers)))
        if cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if cors.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return HttpResponse(200, tuple(headers), b"")


def with_cors(response: HttpResponse, cors: Cors, origin: str | None) -> HttpResponse:
    """The config's CORS headers in place of the function's own."""
    headers = [(k, v) for k, v in response.headers if k.lower() not in _CORS_HEADERS]
    if origin is not None and _origin_allowed(cors, origin):
        headers.append(("Access-Control-Allow-Origin", _allow_origin(cors, origin)))
        if cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if cors.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ", ".join(cors.expose_headers)))
        headers.append(("Vary", "Origin"))
    return HttpResponse(response.status, tuple(headers), response.body)


def _iam(engine: Engine, incoming: HttpRequest, raw_path: str) -> dict[str, object] | str:
    """``authorizer.iam`` for a valid signature, else why it is refused."""
    try:
        credentials = local_credentials(engine.state_dir)
    except CredentialsError as e:
        return str(e)
    secret = sigv4.Secret(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token
    )
    signed = sigv4.Signed(
        incoming.method, raw_path, incoming.query, incoming.headers, incoming.body
    )
    try:
        key = sigv4.verify(
            signed,
            secret,
            region=engine.settings.region,
            service="lambda",
            now=dt.datetime.now(dt.UTC),
        )
    except sigv4.SignatureError as e:
        return str(e)
    account = engine.settings.account_id
    # UNVERIFIED: what Lambda puts for an assumed role's session (here: the execution role's
    # shape, as the credentials are the ones handlers hold)
    return {
        "accessKey": key,
        "accountId": account,
        "callerId": f"AROA{key[4:]}:workbench",
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": f"arn:aws:sts::{account}:assumed-role/workbench/workbench",
        "userId": f"AROA{key[4:]}:workbench",
    }


async def answer(
    engine: Engine, request: web.Request, found: UrlRequest, body: bytes | None, request_id: str
) -> HttpResponse | web.StreamResponse:
    """What the URL answers (``body`` None: over the limit); a ``RESPONSE_STREAM`` URL's
    invocation is sent by ``stream_response`` itself."""
    entry = found.entry
    if entry is None:
        return _plain(404, NOT_FOUND)
    if body is None:
        return _plain(413, TOO_LARGE)
    config = entry.config
    # the signature covers the path as sent, prefix included
    incoming = HttpRequest(
        method=request.method,
        path=unquote(found.raw_path),
        query=request.rel_url.raw_query_string,
        headers=tuple(request.headers.items()),
        body=body,
        source_ip=request.remote or "127.0.0.1",
        request_id=request_id,
        time=dt.datetime.now(dt.UTC),
    )
    origin = request.headers.get("Origin")
    cors = config.cors
    if (
        cors is not None
        and request.method == "OPTIONS"
        and origin is not None
        and "Access-Control-Request-Method" in request.headers
    ):
        return preflight(cors, origin)
    iam: dict[str, object] | None = None
    if config.auth_type == "AWS_IAM":
        checked = _iam(engine, incoming, request.rel_url.raw_path)
        if isinstance(checked, str):
            log.warning("function URL %s refused a request: %s", entry.function, checked)
            response = _plain(403, FORBIDDEN)
            return with_cors(response, cors, origin) if cors else response
        iam = checked
    port = engine.settings.http_port or request.url.port or 0
    event = function_url_event(
        apigw.handed_on(incoming, port),
        url_id=entry.url_id,
        domain=found.domain,
        account_id=engine.settings.account_id,
        iam=iam,
    )
    data = json.dumps(event).encode()
    if config.invoke_mode == "RESPONSE_STREAM":
        return await stream_response(engine, entry, data, request, request_id, cors, origin)
    response = await invoke_buffered(engine, entry, data)
    return with_cors(response, cors, origin) if cors else response


async def stream_response(
    engine: Engine,
    entry: UrlEntry,
    event: bytes,
    request: web.Request,
    request_id: str,
    cors: Cors | None,
    origin: str | None,
) -> HttpResponse | web.StreamResponse:
    """A ``RESPONSE_STREAM`` URL's answer, sent as the function streams it (``invoke_stream``).

    A response made with ``awslambda.HttpResponseStream.from`` (content type
    ``application/vnd.awslambda.http-integration-response``) starts with a JSON prelude
    (``statusCode``, ``headers``, ``cookies``) and eight NUL bytes: the prelude becomes the
    status and headers, the rest the body. Any other is sent as it comes, 200, with the
    function's content type. An error after the first byte ends the body where it is (the
    status is sent already); before it, it is the URL's 502."""
    trigger = _trigger(entry)
    try:
        call = await invoke_stream(
            engine, entry.function, event, qualifier=entry.qualifier, trigger=trigger
        )
    except LambdaError as e:
        refused = _refused(trigger, e)
        return with_cors(refused, cors, origin) if cors else refused
    try:
        head, first = await _stream_head(call)
        if head is None:
            return with_cors(_plain(502, INTERNAL), cors, origin) if cors else _plain(502, INTERNAL)
        if cors:
            head = with_cors(head, cors, origin)
        out = web.StreamResponse(status=head.status)
        for name, value in head.headers:
            out.headers.add(name, value)
        out.headers["x-amzn-RequestId"] = request_id
        await out.prepare(request)
        if first:
            await out.write(first)
        async for chunk in call:
            await out.write(chunk)
        await out.write_eof()
        return out
    finally:
        call.close()


HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
_PRELUDE_END = b"\0" * 8
_PRELUDE_MAX = 64 * 1024  # (a prelude is a status and headers)


async def _stream_head(call: StreamingInvocation) -> tuple[HttpResponse | None, bytes]:
    """The response's status and headers, and the body's first bytes; None: a 502 (the
    function failed before its first byte, or its prelude is not one)."""
    if call.content_type != HTTP_INTEGRATION:
        first = b""
        async for chunk in call:
            first = chunk
            break
        end = call.end
        if not first and end is not None and end.error_code:
            return None, b""
        # UNVERIFIED: Lambda's content type for a streamed body without a prelude
        kind = call.content_type or "application/octet-stream"
        return HttpResponse(200, (("Content-Type", kind),), b""), first
    seen = b""
    async for chunk in call:
        seen += chunk
        if _PRELUDE_END in seen or len(seen) > _PRELUDE_MAX:
            break
    prelude, found, first = seen.partition(_PRELUDE_END)
    try:
        meta = json.loads(prelude) if found else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        log.warning("%s: the streamed response's prelude is not one", call.request_id)
        return None, b""
    status = meta.get("statusCode", 200)
    raw_headers = meta.get("headers") or {}
    cookies = meta.get("cookies") or []
    if not isinstance(status, int) or not isinstance(raw_headers, dict):
        return None, b""
    headers = [(str(k), str(v)) for k, v in raw_headers.items()]
    headers += [("Set-Cookie", str(c)) for c in cookies if isinstance(c, str)]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/octet-stream"))  # UNVERIFIED
    return HttpResponse(status, tuple(headers), b""), first


def _trigger(entry: UrlEntry) -> str:
    return "url:" + entry.function + (f":{entry.qualifier}" if entry.qualifier else "")


def _refused(trigger: str, e: LambdaError) -> HttpResponse:
    """A URL's answer when Lambda refuses the invocation before it runs."""
    log.warning("%s: Lambda refused the invocation: %s: %s", trigger, e.code, e)
    if e.status == 429:
        return _plain(429, THROTTLED)
    if e.status == 413:
        return _plain(413, TOO_LARGE)
    return _plain(502, INTERNAL)


async def invoke_buffered(engine: Engine, entry: UrlEntry, event: bytes) -> HttpResponse:
    """Invoke the URL's function and map its whole result (``BUFFERED`` URLs)."""
    trigger = _trigger(entry)
    try:
        result = await engine.invoke(
            entry.function, event, qualifier=entry.qualifier, trigger=trigger
        )
    except LambdaError as e:
        return _refused(trigger, e)
    if result.function_error is not None:
        return _plain(502, INTERNAL)
    try:
        return apigw.response_v2(result.payload)
    except apigw.MalformedResult as e:
        log.warning("%s: the function's result is not a URL response: %s", trigger, e)
        return _plain(502, INTERNAL)
