"""One connection of the Lambda API or the HTTP trigger: aiohttp's request handler, guarded.

aiohttp closes a keep-alive connection that idles past its timeout; the guard adds what it lacks:
a deadline for a request's head (a client sending its headers a byte every few seconds), one for
its body (a body that never completes), and one log line, naming the peer, instead of a
traceback for a malformed request. It reports to the ``Acceptor``, which counts connections
against the cap and closes idle ones to make room.

``guard_middleware`` must be the app's outermost middleware: it marks when a request is being
served and times its body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .acceptor import Acceptor

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SILENT = logging.Logger("workbench.api.silenced")  # for aiohttp's own traceback, once reported
_SILENT.disabled = True


def _http_408(message: str) -> bytes:
    body = message.encode() + b"\n"
    head = (
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def peer_name(transport: asyncio.BaseTransport | None) -> str:
    """``127.0.0.1:53122``, ``[::1]:53122``: who is on the other end, for log lines."""
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer) if peer else "an unknown peer"


def one_line(text: str, limit: int = 200) -> str:
    """aiohttp's parser errors span lines (the bad bytes, then a ``^`` under them): one line."""
    words = [line.strip() for line in text.splitlines() if line.strip() not in ("", "^")]
    line = " ".join(" ".join(words).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class GuardedHandler(web.RequestHandler):
    """aiohttp's ``RequestHandler`` with head and body deadlines and one-line error reports."""

    def __init__(self, server: web.Server, acceptor: Acceptor) -> None:
        super().__init__(
            server,
            loop=asyncio.get_running_loop(),
            keepalive_timeout=acceptor.limits.idle_timeout,
            access_log=None,  # type: ignore[arg-type]  # None turns it off, as AppRunner's does
        )
        self.acceptor = acceptor
        self.limits = acceptor.limits
        self.name = acceptor.name
        self.log = acceptor.log
        self.peer = "an unknown peer"
        # from the middleware's start to the end of the response and of the request's body
        # (aiohttp reads and drops a body the handler left unread): bytes that come meanwhile
        # are that body, or the next request
        self._in_request = False
        self._request: web.BaseRequest | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._pipelined = False  # bytes came after the request's body was complete

    # ----------------------------------------------------------------- the connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.peer = peer_name(transport)
        super().connection_made(transport)
        self.acceptor.opened(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_head_clock()
        self.acceptor.closed(self)
        super().connection_lost(exc)

    @property
    def in_request(self) -> bool:
        """A request is being served, or its body drained."""
        return self._in_request

    def idle(self) -> bool:
        transport = self.transport
        return (
            transport is not None
            and not self._in_request
            and self._head_timer is None
            and not transport.get_write_buffer_size()
        )

    def evict(self) -> None:
        self.force_close()

    def data_received(self, data: bytes) -> None:
        if data:
            if self._in_request:
                request = self._request
                if request is not None and request.content.is_eof():
                    self._pipelined = True  # the body is in: these begin the next request
            elif self._head_timer is None:
                self._start_head_clock()
            if self._head_timer is not None:
                self._head_bytes += len(data)
        super().data_received(data)

    # ----------------------------------------------------------------- a request's life

    def request_started(self, request: web.Request) -> None:
        """The head is in and the app has the request (called by ``guard_middleware``)."""
        self._in_request = True
        self._request = request
        self._pipelined = False
        self._stop_head_clock()
        self.acceptor.used(self)

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            if request is self._request and not request.content.is_eof():
                request.content.on_eof(self._request_over)  # once aiohttp drained the body
            else:
                self._request_over()

    def _request_over(self) -> None:
        self._in_request = False
        self._request = None
        if self._pipelined:  # the next request began meanwhile: its head is on the clock
            self._pipelined = False
            self._start_head_clock()

    def watch_body(self, request: web.Request) -> asyncio.TimerHandle | None:
        """Start the body's clock; it stops when the body is in (or by the caller)."""
        if not request.body_exists or request.content.is_eof():
            return None
        timer = asyncio.get_running_loop().call_later(
            self.limits.body_timeout, self._body_expired, request
        )
        request.content.on_eof(timer.cancel)
        return timer

    # ----------------------------------------------------------------- deadlines

    def _start_head_clock(self) -> None:
        self._head_bytes = 0
        self._head_timer = asyncio.get_running_loop().call_later(
            self.limits.header_timeout, self._head_expired
        )

    def _stop_head_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport is None or self._in_request:
            return
        timeout = self.limits.header_timeout
        self.log.warning(
            "%s: %s did not finish a request head within %g s (%d bytes received); answered "
            "408 and closed the connection",
            self.name,
            self.peer,
            timeout,
            self._head_bytes,
        )
        if not transport.get_write_buffer_size():
            transport.write(_http_408(f"request head not complete within {timeout:g} s"))
        self.force_close()

    def _body_expired(self, request: web.Request) -> None:
        transport = self.transport
        if transport is None:
            return
        timeout = self.limits.body_timeout
        declared = request.content_length
        self.log.warning(
            "%s: %s did not finish the body of %s %s within %g s (%d of %s bytes received); "
            "answered 408 and closed the connection",
            self.name,
            self.peer,
            request.method,
            request.path,
            timeout,
            request.content.total_bytes,
            declared if declared is not None else "?",
        )
        if not request.writer.output_size and not transport.get_write_buffer_size():
            transport.write(_http_408(f"request body not complete within {timeout:g} s"))
        # the handler's read fails with ConnectionResetError: guard_middleware ends it quietly
        self.force_close()

    # ----------------------------------------------------------------- malformed requests

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's answer to a request its parser refused: one line here, not a traceback."""
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        self._stop_head_clock()
        self.log.warning(
            "%s: malformed HTTP request from %s: %s; answered %d",
            self.name,
            self.peer,
            one_line(str(exc.message) if exc.message else repr(exc)),
            status,
        )
        logger, self.logger = self.logger, _SILENT
        try:
            return super().handle_error(request, status, exc, message)
        finally:
            self.logger = logger

    def malformed_body(self, request: web.Request, exc: Exception) -> None:
        self.log.warning(
            "%s: malformed body in %s %s from %s: %s; answered 400 and closed the connection",
            self.name,
            request.method,
            request.path,
            self.peer,
            one_line(str(exc)),
        )


def client_gone(request: web.BaseRequest) -> bool:
    """Has the connection closed (the client left, or a deadline cut it off)?"""
    transport = request.transport
    return transport is None or transport.is_closing()


async def _answer_and_close(request: web.Request, status: int, message: str) -> web.Response:
    """Send ``message`` with ``status`` now, then close: the request's framing cannot be
    trusted, so the connection cannot carry another one."""
    response = web.json_response({"message": message}, status=status)
    response.force_close()
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        pass
    if isinstance(request.protocol, GuardedHandler):
        request.protocol.force_close()
    return response


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    proto = request.protocol
    if not isinstance(proto, GuardedHandler):
        return await handler(request)
    proto.request_started(request)
    timer = proto.watch_body(request)
    try:
        return await handler(request)
    except web.RequestPayloadError as e:  # bad chunked framing, a body cut short
        proto.malformed_body(request, e)
        return await _answer_and_close(request, 400, f"malformed request body: {one_line(str(e))}")
    except ConnectionError:
        if not client_gone(request):
            raise
        # Gone mid-request (or cut off by a deadline above, which said so): nothing to answer;
        # aiohttp finds the transport closed and drops this response.
        proto.log.debug(
            "%s: %s left during %s %s", proto.name, proto.peer, request.method, request.path
        )
        return web.Response(status=400)
    finally:
        if timer is not None:
            timer.cancel()
