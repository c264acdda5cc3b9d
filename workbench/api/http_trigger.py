"""The API Gateway-style HTTP trigger: ``[[triggers]] type = "http"`` routes, served over HTTP.

Like ``sam local start-api`` (port 3000), but routed as HTTP API routes: the most specific
route wins (http-api-develop-routes, "Routing API requests"): a static segment beats a
``{param}``, which beats a greedy ``{proxy+}`` (which needs at least one segment); on the same
path an exact method beats ANY. An unmatched request, a wrong method included, is HTTP API's
404 ``{"message":"Not Found"}``.

The route table is rebuilt when ``engine.functions`` is a different dict (every reload makes a
new one), so a route saved in ``function.toml`` serves at the next request. Two functions
claiming one route key: the first by name serves it, and a warning is logged.

No Host/Origin guard here, unlike the Lambda API: this server stands in for a public API, and
pages in a browser calling it (a front end on another localhost port) is its normal use. It
binds to loopback; what it exposes is what the functions choose to answer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web

from ..engine import Engine, FunctionConfig
from ..engine.config import HttpTrigger, triggers_of
from ..engine.model import LambdaError, new_uuid
from . import apigw_events as apigw
from . import function_url_server as urls
from .apigw_events import HttpRequest, HttpResponse, Route
from .guard import client_gone, guard_middleware
from .limits import ConnectionLimits
from .listen import Served

DEFAULT_HTTP_PORT = 3000  # as `sam local start-api`
DRAIN_LIMIT = 64 * 1024 * 1024  # as the Lambda API's Invoke (api/invoke.py)
log = logging.getLogger("workbench.api.http")

_STATIC, _PARAM, _GREEDY = 0, 1, 2


@dataclass(frozen=True)
class _Entry:
    trigger: HttpTrigger
    function: str
    segments: tuple[tuple[int, str], ...]  # (kind, text or parameter name)

    @property
    def rank(self) -> tuple:
        """Smaller is more specific: a full match before a greedy one, then segment by segment
        (static before ``{param}``), then an exact method before ANY."""
        kinds = tuple(kind for kind, _ in self.segments)
        return (_GREEDY in kinds, kinds, self.trigger.method == "ANY")

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        if self.trigger.method not in ("ANY", method):
            return None
        params: dict[str, str] = {}
        for index, (kind, text) in enumerate(self.segments):
            if kind == _GREEDY:
                rest = parts[index:]
                if not rest or rest == [""]:
                    return None
                params[text] = unquote("/".join(rest))
                return params
            if index >= len(parts):
                return None
            if kind == _STATIC:
                if unquote(parts[index]) != text:
                    return None
            else:
                if parts[index] == "":
                    return None
                params[text] = unquote(parts[index])
        return params if len(parts) == len(self.segments) else None


def _segments(path: str) -> tuple[tuple[int, str], ...]:
    out = []
    for part in path.split("/")[1:]:
        if part.startswith("{") and part.endswith("+}"):
            out.append((_GREEDY, part[1:-2]))
        elif part.startswith("{") and part.endswith("}"):
            out.append((_PARAM, part[1:-1]))
        else:
            out.append((_STATIC, part))
    return tuple(out)


class RouteTable:
    """Every enabled http trigger of the loaded functions, keyed by route key."""

    def __init__(self, functions: Mapping[str, FunctionConfig]) -> None:
        self.functions = functions
        self.entries: list[_Entry] = []
        self.conflicts: list[str] = []
        owners: dict[str, str] = {}
        for name in sorted(functions):
            for trigger in triggers_of(functions[name], HttpTrigger):
                if not trigger.enabled:
                    continue
                key = trigger.route_key
                if key in owners:
                    if owners[key] != name:
                        self.conflicts.append(
                            f"route {key} is claimed by {owners[key]} and {name}; "
                            f"{owners[key]} serves it (the first by name)"
                        )
                    continue
                owners[key] = name
                self.entries.append(_Entry(trigger, name, _segments(trigger.path)))
        self.entries.sort(key=lambda e: (e.trigger.path, e.trigger.method))

    def lines(self) -> list[str]:
        """``GET /items/{id} -> items (payload 2.0)``, one per route."""
        return [
            f"{e.trigger.route_key} -> {e.function} (payload {e.trigger.payload_format})"
            for e in self.entries
        ]

    def find(self, method: str, raw_path: str) -> Route | None:
        parts = raw_path.split("/")[1:]
        best: tuple[tuple, _Entry, dict[str, str]] | None = None
        for entry in self.entries:
            params = entry.match(method, parts)
            if params is not None and (best is None or entry.rank < best[0]):
                best = (entry.rank, entry, params)
        if best is None:
            return None
        return Route(best[1].trigger, best[1].function, best[2])


class HttpTriggerServer(Served):
    """A running HTTP trigger server; ``close()`` stops it."""

    name = "HTTP trigger"
    log = logging.getLogger("workbench.api.http")

    def __init__(self, engine: Engine, host: str, limits: ConnectionLimits | None = None) -> None:
        super().__init__(host, limits)
        self.engine = engine
        self._table: RouteTable | None = None

    @property
    def routes(self) -> RouteTable:
        """The table for the engine's current functions (rebuilt after a reload)."""
        functions = self.engine.functions
        if self._table is None or self._table.functions is not functions:
            self._table = RouteTable(functions)
            for conflict in self._table.conflicts:
                log.warning("%s", conflict)
        return self._table

    def url_lines(self) -> list[str]:
        """``URL echo -> http://<id>.lambda-url.us-east-1.localhost:3000/ (NONE, BUFFERED; or
        http://127.0.0.1:3000/lambda-url/echo/)``, one per function URL."""
        settings = self.engine.settings
        return [
            f"URL {e.function}{':' + e.qualifier if e.qualifier else ''} -> "
            f"{e.url(settings.region, self.port)} ({e.config.auth_type}, {e.config.invoke_mode};"
            f" or {e.path_url(self.port)})"
            for e in urls.urls_of(self.engine).all()
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        found = urls.match(self.engine, request)
        if found is not None:  # a function URL's (function_url_server.py)
            return await self._serve_url(request, found)
        request_id = apigw.new_request_id()
        try:
            response = await self._answer(request, request_id)
        except web.RequestPayloadError:
            raise  # a broken body: guard_middleware answers it and closes the connection
        except ConnectionError:
            if client_gone(request):
                raise  # nobody to answer: guard_middleware ends it quietly
            log.exception("HTTP trigger error on %s %s", request.method, request.path)
            response = apigw.error_response(500, apigw.INTERNAL_ERROR)
        except Exception:  # noqa: BLE001 - a bug here must not take the server down
            log.exception("HTTP trigger error on %s %s", request.method, request.path)
            response = apigw.error_response(500, apigw.INTERNAL_ERROR)
        return _send(response, "apigw-requestid", request_id)  # as HTTP API names it

    async def _serve_url(self, request: web.Request, found: urls.UrlRequest) -> web.StreamResponse:
        request_id = new_uuid()
        try:
            body = await _read_body(request)
            response = await urls.answer(self.engine, request, found, body, request_id)
        except web.RequestPayloadError:
            raise
        except ConnectionError:
            if client_gone(request):
                raise
            log.exception("function URL error on %s %s", request.method, request.path)
            response = apigw.error_response(500, urls.INTERNAL)
        except Exception:  # noqa: BLE001 - a bug here must not take the server down
            log.exception("function URL error on %s %s", request.method, request.path)
            response = apigw.error_response(500, urls.INTERNAL)
        if isinstance(response, web.StreamResponse):
            return response  # a RESPONSE_STREAM URL's, sent as it streamed
        return _send(response, "x-amzn-RequestId", request_id)  # as function URLs name it

    async def _answer(self, request: web.Request, request_id: str) -> HttpResponse:
        raw_path = request.rel_url.raw_path
        route = self.routes.find(request.method, raw_path)
        if route is None:
            return apigw.error_response(404, apigw.NOT_FOUND)
        body = await _read_body(request)
        if body is None:
            return apigw.error_response(413, apigw.TOO_LARGE)
        incoming = HttpRequest(
            method=request.method,
            path=request.path,
            query=request.rel_url.raw_query_string,
            headers=tuple(request.headers.items()),
            body=body,
            source_ip=request.remote or "127.0.0.1",
            request_id=request_id,
            time=dt.datetime.now(dt.UTC),
        )
        event = apigw.build_event(
            incoming, route, account_id=self.engine.settings.account_id, port=self.port
        )
        trigger = f"http:{route.trigger.route_key}"
        try:
            result = await self.engine.invoke(route.function, event, trigger=trigger)
        except LambdaError as e:
            # Lambda refused the invocation (throttled, event over 6 MB, function broken or
            # gone): API Gateway answers 500 (services-apigateway-errors)
            log.warning("%s -> %s: Lambda refused it: %s: %s", trigger, route.function, e.code, e)
            return apigw.error_response(500, apigw.INTERNAL_ERROR)
        if result.function_error is not None:
            return apigw.error_response(502, apigw.INTERNAL_ERROR)
        try:
            return apigw.map_response(result.payload, route.trigger.payload_format)
        except apigw.MalformedResult as e:
            log.warning("%s -> %s: malformed Lambda proxy response: %s", trigger, route.function, e)
            return apigw.error_response(502, apigw.INTERNAL_ERROR)


async def _read_body(request: web.Request) -> bytes | None:
    """The body, or None past HTTP API's 10 MB. An oversized body is read to its end (and
    dropped), so the client sees the 413 rather than a reset, but not forever: past
    ``DRAIN_LIMIT`` the connection is closed instead."""
    chunks: list[bytes] = []
    size = 0
    while size <= DRAIN_LIMIT:
        chunk = await request.content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size <= apigw.MAX_BODY:
            chunks.append(chunk)
        else:
            chunks.clear()
    if size > DRAIN_LIMIT and request.transport is not None:
        request.transport.close()
    return None if size > apigw.MAX_BODY else b"".join(chunks)


def _send(response: HttpResponse, id_header: str, request_id: str) -> web.Response:
    """``response`` as sent: its own headers only (aiohttp's Content-Type default dropped), and
    the request id under the header the front door names it by."""
    out = web.Response(status=response.status, body=response.body)
    out.headers.popall("Content-Type", None)
    for name, value in response.headers:
        out.headers.add(name, value)
    out.headers[id_header] = request_id
    return out


async def start_http(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = DEFAULT_HTTP_PORT,
    limits: ConnectionLimits | None = None,
) -> HttpTriggerServer:
    """Serve ``engine``'s http triggers on ``host:port`` (port 0: any free port).

    ``limits``: connections and timeouts (``ConnectionLimits()``'s defaults when None).
    Raises ``OSError`` when the port cannot be bound (in use, or not allowed).
    """
    server = HttpTriggerServer(engine, host, limits)
    app = web.Application(middlewares=[guard_middleware], client_max_size=apigw.MAX_BODY)
    app.router.add_route("*", "/{tail:.*}", server.handle)
    await server.listen(app, port)
    engine.settings.http_port = server.port  # function URLs are served here
    return server
