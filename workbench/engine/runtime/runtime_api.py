"""The Runtime API (2018-06-01) an execution environment's runtime talks to.

Each environment gets its own endpoint on loopback, so any Runtime API client works as the
runtime: ours, a ``bootstrap`` shell script with curl, or AWS's own runtime interface clients.
Status codes and bodies follow AWS's emulator (LAMBDA_REFERENCE §1).

This is on the hot path of every invocation, so it is a bare ``asyncio.Protocol`` with a small
HTTP/1.1 parser (keep-alive, pipelining, Content-Length and chunked bodies, ``Expect:
100-continue``) rather than a framework.

The server takes at most ``max_connections`` at once (a runtime needs one or two: events, and a
debug session); past that, connections wait in the kernel's backlog. Out of file descriptors, its
accept loop waits for one to free up, with one warning a minute for all environments (asyncio's
own loop logs a traceback per failed ``accept()``). A request's head must arrive within
``header_timeout`` and its body within ``body_timeout`` (408, one log line, the connection
closed). There is no idle timeout, as in Lambda's own Runtime API: the runtime's connection is
idle for as long as its handler runs, its init takes or a debugger holds it, and our runtime does
not reconnect.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import json
import logging
import re
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .extensions import EXTENSION_PREFIX
from .logs_api import LOGS_PATH
from .telemetry import TELEMETRY_PATH

if TYPE_CHECKING:
    from .extensions import Extensions

from .loopback import listener
from .response_stream import ResponseStream

MAX_PAYLOAD = 6 * 1024 * 1024 + 100  # 6,291,556 bytes: AWS's emulator's MaxPayloadSize
MAX_HEAD = 64 * 1024
LINGER_S = 1.0  # after an error answer, how long a client's further bytes are read and dropped
PREFIX = "/2018-06-01"
_MODE = "lambda-runtime-function-response-mode"
MAX_CONNECTIONS = 16
# Generous: a runtime sends a request at once, but on a machine running a thousand environments
# it can be descheduled for seconds mid-send. These stop a connection from being held forever.
HEADER_TIMEOUT_S = 30.0
BODY_TIMEOUT_S = 120.0
_BACKOFF_FIRST_S = 0.05
_BACKOFF_MAX_S = 1.0
_WARN_EVERY_S = 60.0
_HEX_RE = re.compile(rb"[0-9A-Fa-f]{1,16}")  # a chunk's size (past 16 digits: not a real one)
# accept() failed for one connection only (reset before it was taken): take the next one
_ONE_CONNECTION = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EINTR})
log = logging.getLogger("workbench.runtime_api")
_warned_at = -_WARN_EVERY_S  # one accept() warning a minute across every environment

_REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}
ACCEPTED = b'{"status":"OK"}\n'


def error_body(error_type: str, message: str) -> bytes:
    # Go's json.Encoder: compact, errorMessage first, trailing newline (LAMBDA_REFERENCE §1).
    body = {"errorMessage": message, "errorType": error_type}
    return (json.dumps(body, separators=(",", ":")) + "\n").encode()


def http_response(
    status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()
) -> bytes:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    head.extend(f"{k}: {v}" for k, v in headers)
    if body or status not in (100,):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _not_found() -> bytes:
    # as Go's net/http answers an unknown path
    return http_response(
        404, b"404 page not found\n", (("Content-Type", "text/plain; charset=utf-8"),)
    )


def _json_response(status: int, body: bytes) -> bytes:
    return http_response(status, body, (("Content-Type", "application/json"),))


@dataclass(slots=True)
class Invocation:
    """One event handed to the runtime through ``/next``."""

    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    content_type: str = "application/json"
    responded: bool = False
    # where a streamed response goes (InvokeWithResponseStream); None: made when one arrives
    stream: ResponseStream | None = None
    # told the response once the runtime has answered, before extensions end the invocation
    answered: asyncio.Future[bytes] | None = None
    _wire: bytes = field(default=b"", repr=False)

    def wire(self) -> bytes:
        """The ``/next`` response carrying this event (built once, re-sent on a repeated /next)."""
        if not self._wire:
            headers = [
                ("Content-Type", self.content_type),
                ("Lambda-Runtime-Aws-Request-Id", self.request_id),
                ("Lambda-Runtime-Deadline-Ms", str(self.deadline_ms)),
                ("Lambda-Runtime-Invoked-Function-Arn", self.function_arn),
                ("Lambda-Runtime-Trace-Id", self.trace_id),
            ]
            if self.client_context:
                headers.append(("Lambda-Runtime-Client-Context", self.client_context))
            if self.cognito_identity:
                headers.append(("Lambda-Runtime-Cognito-Identity", self.cognito_identity))
            self._wire = http_response(200, self.payload, tuple(headers))
        return self._wire


class RuntimeAPIListener:
    """What the environment is told by its Runtime API (all called on the event loop)."""

    def on_connect(self) -> None: ...  # a connection (the runtime's, or an extension's)
    def on_runtime_connected(self, at: float) -> None: ...  # its connection's time (perf_counter)
    def on_ready(self) -> None: ...  # the runtime called /next: init is over, it waits for work
    def on_delivered(self, inv: Invocation) -> None: ...  # the runtime takes the event now
    def on_response(self, inv: Invocation, body: bytes, content_type: str) -> None: ...
    def on_error(self, inv: Invocation, body: bytes, error_type: str | None) -> None: ...
    def on_init_error(self, body: bytes, error_type: str | None) -> None: ...
    def on_response_too_large(self, inv: Invocation, size: int) -> None: ...
    def on_exiting(self) -> None: ...  # our runtime is about to kill itself (out of memory)
    def on_waiting(self) -> None: ...  # the runtime waits in /next with nothing to hand it
    def on_stream(self, inv: Invocation, stream: ResponseStream) -> None: ...  # streaming starts

    async def admits(self, peer_port: int, api_port: int) -> bool:
        """May the process connected from 127.0.0.1:``peer_port`` use this Runtime API? (An
        environment admits its own processes only: ``peers.py``.)"""
        return True

    def on_debug(self, inv: Invocation, link: DebugChannel) -> DebugSink | str:
        """A breakpoint in ``inv``'s handler: the sink for its pdb session, or why not (409)."""
        return "no debugger is attached"


class DebugChannel(Protocol):
    """The engine's end of a debug connection (a ``RuntimeAPIProtocol``): JSON lines out."""

    def send(self, message: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class DebugSink(Protocol):
    """Where a debug connection's messages from the runtime go (a ``debugger.DebugSession``)."""

    def on_message(self, message: dict[str, Any]) -> None: ...
    def on_close(self) -> None: ...


def _warn_accept(port: int, e: OSError) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= _WARN_EVERY_S:
        _warned_at = now
        code = errno.errorcode.get(e.errno or 0, "?")
        log.warning(
            "Runtime API 127.0.0.1:%d: cannot accept the runtime's connection: %s (%s); it "
            "waits in the kernel's backlog until descriptors free up (said once a minute for "
            "all environments)",
            port,
            e.strerror or e,
            code,
        )


class RuntimeAPI:
    """The per-environment Runtime API state machine; ``RuntimeAPIProtocol`` feeds it requests."""

    def __init__(
        self,
        listener: RuntimeAPIListener,
        *,
        max_connections: int = MAX_CONNECTIONS,
        header_timeout: float = HEADER_TIMEOUT_S,
        body_timeout: float = BODY_TIMEOUT_S,
    ) -> None:
        self.listener = listener
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.sock: socket.socket | None = None
        self.port = 0
        self.current: Invocation | None = None  # the event last handed out
        self.pending: Invocation | None = None  # an event waiting for the runtime to ask
        self.waiting: RuntimeAPIProtocol | None = None  # a connection blocked in /next
        self.initialised = False
        self.init_failed = False
        self.protocols: set[RuntimeAPIProtocol] = set()
        self._room = asyncio.Event()  # set when a connection closes
        self._accepting: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.extensions: Extensions | None = None  # the Extensions API's side (extensions.py)
        self.runtime_connected = False  # a Runtime API request came (not an extension's)

    async def start(self, sock: socket.socket | None = None) -> str:
        """Listen (on the host's loopback, or on ``sock``: a listening socket in the
        environment's own network namespace, ``netns.py``); returns the address to give the
        runtime."""
        if sock is None:
            sock = listener(0)
        self.sock = sock
        self.port = sock.getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._accepting = self._loop.create_task(self._accept_forever(sock))
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                # as asyncio's Server.close: off the selector before the descriptor is reused
                self._loop.remove_reader(sock.fileno())
            sock.close()
        if self._accepting is not None:
            self._accepting.cancel()
            self._accepting = None
        for proto in list(self.protocols):
            if proto.transport is not None:
                proto.transport.abort()
        self.protocols.clear()

    async def _accept_forever(self, sock: socket.socket) -> None:
        """Accept while fewer than ``max_connections`` are open; never a busy loop: a failed
        ``accept()`` waits for a connection to close or a back-off of up to a second."""
        loop = asyncio.get_running_loop()
        delay = _BACKOFF_FIRST_S
        while True:
            while len(self.protocols) >= self.max_connections:
                self._room.clear()
                await self._room.wait()
            try:
                conn, peer = await loop.sock_accept(sock)
            except OSError as e:
                if sock.fileno() < 0:
                    return  # closed
                if e.errno in _ONE_CONNECTION:
                    continue
                _warn_accept(self.port, e)  # EMFILE, ENFILE, ENOBUFS, ENOMEM, or unexpected
                self._room.clear()
                try:
                    # not wait_for: on 3.11 it can swallow a cancellation that comes as the
                    # event is set, and this task would outlive close()
                    async with asyncio.timeout(delay):
                        await self._room.wait()
                except TimeoutError:
                    pass
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            delay = _BACKOFF_FIRST_S
            if not await self.listener.admits(peer[1], self.port):
                conn.close()  # another environment's process (or anyone else's)
                continue
            try:
                await loop.connect_accepted_socket(lambda: RuntimeAPIProtocol(self), conn)
            except OSError:
                conn.close()  # it went away before it could be set up

    def dispatch(self, inv: Invocation) -> None:
        """Hand an event to the runtime: now if it waits in /next, else when it next asks."""
        self.current = inv
        waiting, self.waiting = self.waiting, None
        if waiting is not None and waiting.transport is not None:
            self.listener.on_delivered(inv)
            waiting.write(inv.wire())
            waiting.flush()  # with any answer still queued: one send
            waiting.resume()
        else:
            self.pending = inv

    # ----------------------------------------------------------------- requests

    def handle_next(self, proto: RuntimeAPIProtocol) -> bool:
        """GET /next: answer with an event or block. Returns True if it answered."""
        if self.init_failed:
            proto.write(_json_response(403, _transition("RuntimeInitErrorState", "Ready")))
            return True
        if not self.initialised:
            self.initialised = True
            self.listener.on_ready()
        inv = self.pending
        if inv is not None:
            self.pending = None
            self.listener.on_delivered(inv)
            proto.write(inv.wire())
            return True
        if self.current is not None and not self.current.responded:
            proto.write(self.current.wire())  # /next twice without a response: the same event
            return True
        self.waiting = proto
        self.listener.on_waiting()
        return False

    def check_invocation(self, request_id: str, target: str) -> tuple[Invocation | None, bytes]:
        inv = self.current
        if inv is None or not request_id or request_id != inv.request_id:
            return None, _json_response(400, error_body("InvalidRequestID", "Invalid request ID"))
        if inv.responded:
            return None, _json_response(403, _transition("RuntimeResponseSentState", target))
        return inv, b""

    def handle_response(self, request_id: str, body: bytes, size: int, content_type: str) -> bytes:
        inv, refusal = self.check_invocation(request_id, "InvocationResponse")
        if inv is None:
            return refusal
        if size > MAX_PAYLOAD:
            inv.responded = True
            self.listener.on_response_too_large(inv, size)
            return _json_response(
                413,
                error_body(
                    "RequestEntityTooLarge",
                    f"Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).",
                ),
            )
        inv.responded = True
        self.listener.on_response(inv, body, content_type)
        return _json_response(202, ACCEPTED)

    def begin_stream(self, request_id: str, content_type: str) -> ResponseStream | None:
        """A ``/response`` in streaming mode starts: its chunks go to the invocation's stream
        as they arrive. None if it is refused (answered as a buffered one is, once read)."""
        inv, _ = self.check_invocation(request_id, "InvocationResponse")
        if inv is None:
            return None
        inv.responded = True
        if inv.stream is None:
            inv.stream = ResponseStream(reader=False)  # plain Invoke: buffered whole
        inv.stream.streamed = True
        inv.stream.content_type = content_type
        self.listener.on_stream(inv, inv.stream)
        return inv.stream

    def end_stream(self, stream: ResponseStream, trailers: bytes) -> bytes:
        """The streamed body is over: tell the environment how it ended (trailers: an error)."""
        inv = self.current
        error_type, error = _trailer_error(trailers)
        stream.finish_body(error_type, error)
        if inv is None or inv.stream is not stream:
            return _json_response(202, ACCEPTED)  # its invocation already ended (timed out)
        if error_type is not None:
            self.listener.on_error(inv, error, error_type)
        elif stream.over_limit:
            # UNVERIFIED: the error type and wording Lambda gives a stream past its 200 MB
            self.listener.on_error(
                inv,
                error_body(
                    "Function.ResponseSizeTooLarge",
                    f"Response payload size exceeded maximum allowed payload size "
                    f"({stream.limit} bytes).",
                ),
                "Function.ResponseSizeTooLarge",
            )
        elif not stream.reader and stream.size > MAX_PAYLOAD:
            self.listener.on_response_too_large(inv, stream.size)
        else:
            self.listener.on_response(inv, bytes(stream.kept), stream.content_type)
        return _json_response(202, ACCEPTED)

    def handle_error(self, request_id: str, body: bytes, error_type: str | None) -> bytes:
        inv, refusal = self.check_invocation(request_id, "InvocationErrorResponse")
        if inv is None:
            return refusal
        inv.responded = True
        self.listener.on_error(inv, body, error_type)
        return _json_response(202, ACCEPTED)

    def handle_debug(
        self, request_id: str | None, channel: DebugChannel
    ) -> tuple[bytes, DebugSink | None]:
        """POST /runtime/workbench/debug (not Lambda's): a breakpoint wants a pdb session.

        409 when it cannot have one (no debugger attached, no invocation running); else 200,
        and the connection carries the session's newline-delimited JSON from then on.
        """
        inv = self.current
        if inv is None or inv.responded:
            return _conflict(
                "breakpoints outside an invocation (in init code) are skipped: "
                "put breakpoint() in the handler",
                request_id,
            ), None
        if request_id and request_id != inv.request_id:
            return _conflict(f"{request_id} is not the invocation running", request_id), None
        sink = self.listener.on_debug(inv, channel)
        if isinstance(sink, str):
            return _conflict(sink, inv.request_id), None
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {inv.request_id}\r\n\r\n"
        )
        return head.encode("latin-1"), sink

    def handle_init_error(self, body: bytes, error_type: str | None) -> bytes:
        if self.initialised:
            return _json_response(403, _transition("RuntimeReadyState", "InitError"))
        self.init_failed = True
        self.listener.on_init_error(body, error_type)
        return _json_response(202, ACCEPTED)


def _trailer_error(trailers: bytes) -> tuple[str | None, bytes]:
    """``Lambda-Runtime-Function-Error-Type`` / ``-Body`` (base64) from a streamed body's
    trailers: (None, b"") when the stream ended well."""
    if not trailers:
        return None, b""
    fields: dict[str, str] = {}
    for line in trailers.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    error_type = fields.get("lambda-runtime-function-error-type")
    if not error_type:
        return None, b""
    raw = fields.get("lambda-runtime-function-error-body", "")
    try:
        body = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        body = raw.encode()
    return error_type, body or error_body(error_type, "")


def _conflict(message: str, request_id: str | None) -> bytes:
    headers = [("Content-Type", "application/json")]
    if request_id:
        headers.append(("Lambda-Runtime-Aws-Request-Id", request_id))
    return http_response(409, error_body("DebuggerUnavailable", message), tuple(headers))


def _transition(source: str, target: str) -> bytes:
    return error_body(
        "InvalidStateTransition",
        f"State transition from {source} to {target} failed for runtime. "
        "Error: State transition is not allowed",
    )


READ_SIZE = 64 * 1024


class RuntimeAPIProtocol(asyncio.BufferedProtocol):
    """One connection from the runtime: parses requests in order and answers each.

    A buffered protocol: the transport reads into one buffer kept for the connection. A plain
    ``Protocol`` gets a fresh 256 KiB ``bytes`` per read, which glibc may serve with an
    mmap/munmap pair every time (its dynamic mmap threshold never rises for a buffer that is
    shrunk before it is freed): ~30 us of page faults per invocation on the warm path.
    """

    def __init__(self, api: RuntimeAPI) -> None:
        self.api = api
        self.transport: asyncio.Transport | None = None
        self._chunk = memoryview(bytearray(READ_SIZE))
        self.buf = bytearray()
        self.out: list[bytes] = []
        self.close_when_answered = False  # the client sent ``Connection: close``
        self.blocked = False  # a /next is waiting: later pipelined requests wait behind it
        self.req: _Request | None = None
        self.debug: DebugSink | None = None  # a debug connection: JSON lines from here on
        self.peer = "an unknown peer"
        self.connected_at = 0.0  # perf_counter at connection_made
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self.lingering = False  # answered an error; reading to the client's close (``_fail``)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        self.api.protocols.add(self)
        self.connected_at = time.perf_counter()
        self.api.listener.on_connect()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clocks()
        self.api.protocols.discard(self)
        self.api._room.set()
        if self.api.waiting is self:
            self.api.waiting = None
        if self.api.extensions is not None:
            self.api.extensions.forget(self)
        self.transport = None
        debug, self.debug = self.debug, None
        if debug is not None:
            debug.on_close()

    def write(self, data: bytes) -> None:
        """Queue an answer; it goes out at the end of this loop turn, or with the next event.

        The runtime pipelines its result and its next ``/next``; holding the 202 briefly lets it
        share one send with the next event when the engine dispatches at once.
        """
        if not self.out:
            asyncio.get_running_loop().call_soon(self.flush)
        self.out.append(data)

    def flush(self) -> None:
        out = self.out
        if out and self.transport is not None:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    def resume(self) -> None:
        self.blocked = False
        if self.close_when_answered:
            self._close_after_flush()
        elif self.buf:
            self.process()

    def _close_after_flush(self) -> None:
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._chunk

    def buffer_updated(self, nbytes: int) -> None:
        if self.lingering:
            return  # after an error answer: dropped until the client closes (``_fail``)
        self.buf += self._chunk[:nbytes]
        if self.debug is not None:
            self._debug_lines()
        elif not self.blocked:
            self.process()

    # ----------------------------------------------------------------- a debug connection

    def send(self, message: dict[str, Any]) -> None:
        """To the runtime's pdb: one JSON line (after any answer still queued)."""
        self.flush()
        if self.transport is not None:
            self.transport.write(json.dumps(message).encode() + b"\n")

    def close(self) -> None:
        """End the debug connection (what was written still goes out)."""
        self.debug = None
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def _debug_lines(self) -> None:
        buf = self.buf
        while self.debug is not None:
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > MAX_PAYLOAD:
                    self.close()
                return
            line = bytes(buf[:end])
            del buf[: end + 1]
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                self.debug.on_message(message)

    def process(self) -> None:
        self._process()
        self._update_clocks()

    # ----------------------------------------------------------------- deadlines

    def _update_clocks(self) -> None:
        """Time a head from its first byte, a body from the end of its head; nothing else (a
        connection idle, blocked in /next or carrying a debug session is never timed)."""
        if self.transport is None or self.debug is not None or self.blocked:
            self._stop_clocks()
        elif self.req is not None and self.req.stream is not None:
            self._stop_clocks()  # a streamed body lasts as long as its handler (its timeout)
        elif self.req is not None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            if self._body_timer is None:
                self._body_timer = asyncio.get_running_loop().call_later(
                    self.api.body_timeout, self._expired, "body"
                )
        elif self.buf:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
            if self._head_timer is None:
                self._head_timer = asyncio.get_running_loop().call_later(
                    self.api.header_timeout, self._expired, "head"
                )
        elif self._head_timer is not None or self._body_timer is not None:
            self._stop_clocks()

    def _stop_clocks(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _expired(self, part: str) -> None:
        self._head_timer = self._body_timer = None
        if self.transport is None:
            return
        timeout = self.api.header_timeout if part == "head" else self.api.body_timeout
        received = len(self.buf) if part == "head" else (self.req.size if self.req else 0)
        log.warning(
            "Runtime API 127.0.0.1:%d: %s did not finish a request %s within %g s (%d bytes "
            "received); answered 408 and closed the connection",
            self.api.port,
            self.peer,
            part,
            timeout,
            received,
        )
        self._fail(408, "RequestTimeout", f"request {part} not complete within {timeout:g} s")

    # ----------------------------------------------------------------- parsing

    def _malformed(self, what: str) -> None:
        log.warning(
            "Runtime API 127.0.0.1:%d: malformed HTTP request from %s: %s; answered 400",
            self.api.port,
            self.peer,
            what,
        )

    def _process(self) -> None:
        buf = self.buf
        while buf and not self.blocked and self.transport is not None:
            if self.debug is not None:
                self._debug_lines()
                return
            req = self.req
            if req is None:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        self._malformed(f"a request head over {MAX_HEAD} bytes")
                        self._fail(400, "TruncatedHTTPRequest", "request head too large")
                    return
                head = bytes(buf[:end])
                req = _Request.parse(head)
                del buf[: end + 4]
                if req is None:
                    line = head.split(b"\r\n", 1)[0][:120]
                    self._malformed(f"cannot parse the request head starting {line!r}")
                    self._fail(400, "InvalidRequest", "malformed HTTP request")
                    return
                self.req = req
                if req.method == "POST" and req.headers.get(_MODE) == "streaming":
                    self._begin_stream(req)
                if req.expect_continue and not buf:
                    self.write(http_response(100))
            try:
                complete = req.feed(buf)
            except ValueError as e:
                self._malformed(f"{req.method} {req.path[:120]}: {e}")
                self._fail(400, "InvalidRequest", f"malformed chunked body: {e}")
                return
            if not complete:
                return
            self.req = None
            self.dispatch(req)
            if req.close:
                if self.blocked:  # a /next: close once its event has gone out
                    self.close_when_answered = True
                else:
                    self._close_after_flush()
                return

    def _begin_stream(self, req: _Request) -> None:
        path = req.path.split("?", 1)[0]
        request_id, _, action = path.removeprefix(PREFIX + "/runtime/invocation/").rpartition("/")
        if action != "response" or not path.startswith(PREFIX + "/runtime/invocation/"):
            return
        stream = self.api.begin_stream(
            request_id, req.headers.get("content-type", "application/octet-stream")
        )
        transport = self.transport
        if stream is not None and transport is not None:
            stream.pause, stream.resume = transport.pause_reading, transport.resume_reading
        req.stream = stream

    def dispatch(self, req: _Request) -> None:
        api = self.api
        if req.stream is not None:
            self.write(api.end_stream(req.stream, req.trailers))
            return
        path = req.path.split("?", 1)[0]
        if path.rstrip("/") == TELEMETRY_PATH:  # the Telemetry API: extensions.py's too
            path = EXTENSION_PREFIX + "/telemetry"
        elif path.rstrip("/") == LOGS_PATH:  # and the Logs API
            path = EXTENSION_PREFIX + "/logs"
        if path.startswith(EXTENSION_PREFIX) and api.extensions is not None:
            rest, body = path[len(EXTENSION_PREFIX) :], bytes(req.body)
            answer = api.extensions.handle(self, req.method, rest, req.headers, body, api.port)
            if answer is None:
                self.blocked = True  # event/next: answered when an event comes
            else:
                self.write(answer)
            return
        if not path.startswith(PREFIX):
            self.write(_not_found())
            return
        if not api.runtime_connected:  # the runtime's INIT began when this connection was made
            api.runtime_connected = True
            api.listener.on_runtime_connected(self.connected_at)
        path = path[len(PREFIX) :]
        if path == "/runtime/invocation/next":
            if req.method != "GET":
                self.write(http_response(405))
            elif not api.handle_next(self):
                self.blocked = True
            return
        if path.startswith("/runtime/invocation/") and req.method == "POST":
            rest = path[len("/runtime/invocation/") :]
            request_id, _, action = rest.rpartition("/")
            if action == "response":
                if req.headers.get("lambda-runtime-function-response-mode", "") not in (
                    "",
                    "streaming",
                ):
                    self.write(
                        _json_response(
                            400,
                            error_body(
                                "InvalidFunctionResponseMode", "Invalid function response mode"
                            ),
                        )
                    )
                    return
                self.write(
                    api.handle_response(
                        request_id,
                        bytes(req.body),
                        req.size,
                        req.headers.get("content-type", "application/json"),
                    )
                )
                return
            if action == "error":
                self.write(
                    api.handle_error(
                        request_id,
                        bytes(req.body),
                        req.headers.get("lambda-runtime-function-error-type"),
                    )
                )
                return
        if path == "/runtime/init/error" and req.method == "POST":
            self.write(
                api.handle_init_error(
                    bytes(req.body), req.headers.get("lambda-runtime-function-error-type")
                )
            )
            return
        if path == "/runtime/workbench/exiting" and req.method == "POST":
            # not Lambda's: our runtime says it is about to die (out of memory), so its peak RSS
            # can be read while it waits for this answer
            api.listener.on_exiting()
            self.write(_json_response(202, ACCEPTED))
            return
        if path == "/runtime/workbench/debug" and req.method == "POST":
            # not Lambda's: a breakpoint() in the handler asks for a pdb session (debugger.py)
            answer, sink = api.handle_debug(
                req.headers.get("lambda-runtime-aws-request-id") or None, self
            )
            self.write(answer)
            if sink is not None:
                self.flush()
                self.debug = sink
            return
        if path == "/ping" or path == "/runtime/ping":
            self.write(http_response(200, b"pong"))
            return
        self.write(_not_found())

    def _fail(self, status: int, error_type: str, message: str) -> None:
        """Answer, then close as HTTP servers do after an error (a lingering close): our side
        ends after the answer, and what the client still sends is read and dropped for up to
        ``LINGER_S``. Closed at once, a socket with unread bytes resets the connection, and the
        reset can discard the answer before the client reads it."""
        self._stop_clocks()
        self.write(_json_response(status, error_body(error_type, message)))
        self.flush()
        self.buf.clear()
        self.req = None
        transport = self.transport
        if transport is None:
            return
        self.lingering = True
        if transport.can_write_eof():
            transport.write_eof()
            # on the clocks' slot: cancelled with them when the client closes first
            self._head_timer = asyncio.get_running_loop().call_later(LINGER_S, transport.close)
        else:
            transport.close()


class _Request:
    """A parsed request head plus its body as it arrives (bodies past the limit are counted,
    not kept, so an oversized response is answered 413 after reading it to its end)."""

    __slots__ = (
        "method",
        "path",
        "headers",
        "need",
        "chunked",
        "body",
        "size",
        "expect_continue",
        "close",
        "stream",
        "trailers",
    )

    def __init__(
        self, method: str, path: str, headers: dict[str, str], version: str = "HTTP/1.1"
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        # Close once answered when asked to, and for HTTP/1.0 unless it asks for keep-alive, as
        # Go's net/http (AWS's emulator) does: an HTTP/1.0 client may read its answer to EOF.
        connection = headers.get("connection", "").lower()
        self.close = "close" in connection or (
            version == "HTTP/1.0" and "keep-alive" not in connection
        )
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self.need = 0 if self.chunked else int(headers.get("content-length") or 0)
        self.body = bytearray()
        self.size = 0
        self.expect_continue = headers.get("expect", "").lower() == "100-continue"
        self.stream: ResponseStream | None = None  # a streamed response: chunks go there
        self.trailers = b""

    @classmethod
    def parse(cls, head: bytes) -> _Request | None:
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, path, version = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            req = cls(method, path, headers, version)
            if req.need < 0:
                return None
            return req
        except ValueError:
            return None

    def _keep(self, data: bytes | bytearray) -> None:
        self.size += len(data)
        if self.stream is not None:
            self.stream.feed(bytes(data))
        elif self.size <= MAX_PAYLOAD:
            self.body += data

    def feed(self, buf: bytearray) -> bool:
        """Consume body bytes from ``buf``; True once the whole body is in."""
        if not self.chunked:
            take = min(self.need, len(buf))
            if take:
                self._keep(buf[:take])
                del buf[:take]
                self.need -= take
            return self.need == 0
        while True:
            if self.need > 0:  # inside a chunk (need counts its data plus the CRLF after it)
                take = min(self.need, len(buf))
                data = buf[:take]
                data_part = data[: max(0, min(take, self.need - 2))]
                self._keep(data_part)
                del buf[:take]
                self.need -= take
                if self.need > 0:
                    return False
                continue
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            if not _HEX_RE.fullmatch(size_text):
                raise ValueError(f"bad chunk size {size_text[:40]!r}")
            size = int(size_text, 16)
            if size == 0:  # the last chunk, then optional trailers, then a blank line
                if buf[end : end + 4] == b"\r\n\r\n":
                    del buf[: end + 4]
                    return True
                trailers_end = buf.find(b"\r\n\r\n", end + 2)
                if trailers_end < 0:
                    return False
                self.trailers = bytes(buf[end + 2 : trailers_end])
                del buf[: trailers_end + 4]
                return True
            del buf[: end + 2]
            self.need = size + 2
