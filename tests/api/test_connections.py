"""Clients that hold a server: idle crowds, slow heads, stalled bodies, malformed requests.

Real servers on port 0, real sockets; short ``ConnectionLimits`` so the deadlines pass quickly.
The Lambda API and the HTTP trigger share the guard, so each case runs against both.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import make_function
from workbench.api.limits import ConnectionLimits
from workbench.engine import Engine

from .live_server import LiveServer

INVOKE = "/2015-03-31/functions/echo/invocations"
# which server, and a route on it that reads a request body
ROUTES = {"api": INVOKE, "http": "/echo"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    folder = make_function(root, "echo", "def handler(event, context):\n    return event\n")
    with (folder / "function.toml").open("a") as f:
        f.write('\n[[triggers]]\ntype = "http"\npath = "/echo"\nmethod = "POST"\n')
    return root


@pytest.fixture
def serve(root: Path, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start the Lambda API and the HTTP trigger with the given ``ConnectionLimits`` fields."""
    started: list[LiveServer] = []

    def start(**limits: float) -> LiveServer:
        state = tmp_path / f"state{len(started)}"
        live = LiveServer(root, state, limits=ConnectionLimits(**limits), http=True)  # type: ignore[arg-type]
        started.append(live.start())
        return live

    yield start
    for live in started:
        live.stop()


@pytest.fixture(autouse=True)
def _warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="workbench.api")


def port_of(live: LiveServer, which: str) -> int:
    return live.port if which == "api" else live.http_port


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def peer(sock: socket.socket) -> str:
    return f"127.0.0.1:{sock.getsockname()[1]}"


def exchange(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (the socket's timeout bounds the wait)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def dribble_until_closed(sock: socket.socket, data: bytes, every: float = 0.2) -> bytes:
    """Send ``data`` a byte at a time, one per ``every`` s, until the server answers; then read
    to the close. A deadline between bytes would never fire: only one for the whole head can."""
    for byte in data:
        readable, _, _ = select.select([sock], [], [], every)
        if readable:
            break
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
    return read_until_closed(sock)


def warnings_naming(caplog: pytest.LogCaptureFixture, who: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and who in r.getMessage()]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def acceptor_state(live: LiveServer, which: str) -> tuple[int, int, int]:
    """(open, accepted, idle) connections of one server, read on its loop."""
    server = live.server if which == "api" else live.http
    assert server is not None and server.acceptor is not None
    acceptor = server.acceptor

    def read(_engine: Engine) -> tuple[int, int, int]:
        idle = sum(1 for conn in acceptor.open if conn.idle())
        return len(acceptor.open), acceptor.accepted, idle

    return live.sync(read)


# --------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize("which", ["api", "http"])
def test_a_head_sent_a_byte_at_a_time_is_cut_off_while_others_are_served(
    serve, caplog, which: str
) -> None:
    live = serve(header_timeout=1.0)
    port = port_of(live, which)
    slow = connect(port)
    slow.sendall(f"POST {ROUTES[which]} HTTP/1.1\r\n".encode())

    assert exchange(port, "POST", ROUTES[which], b'{"n": 1}')[0] == 200  # served meanwhile

    answer = dribble_until_closed(slow, b"X-Slow: " + b"a" * 1000)
    assert answer.startswith(b"HTTP/1.1 408 ")
    [record] = warnings_naming(caplog, peer(slow))
    assert "did not finish a request head within 1 s" in record.getMessage()
    no_tracebacks(caplog)
    assert exchange(port, "POST", ROUTES[which], b'{"n": 2}')[0] == 200


@pytest.mark.parametrize("which", ["api", "http"])
def test_a_body_that_never_completes_is_cut_off_while_others_are_served(
    serve, caplog, which: str
) -> None:
    live = serve(body_timeout=1.0)
    port = port_of(live, which)
    stalled = connect(port)
    head = f"POST {ROUTES[which]} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
    stalled.sendall(head.encode() + b'{"n": ')  # 6 of the 100 bytes, then nothing

    assert exchange(port, "POST", ROUTES[which], b'{"n": 1}')[0] == 200  # served meanwhile

    answer = read_until_closed(stalled)
    assert answer.startswith(b"HTTP/1.1 408 ")
    [record] = warnings_naming(caplog, peer(stalled))
    assert (
        f"did not finish the body of POST {ROUTES[which]} within 1 s (6 of 100 bytes received)"
        in record.getMessage()
    )
    no_tracebacks(caplog)


def test_an_idle_connection_is_closed_quietly_after_the_idle_timeout(serve, caplog) -> None:
    live = serve(idle_timeout=0.5)
    never_spoke = connect(live.port)
    kept_alive = connect(live.port)
    kept_alive.sendall(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = read_until_closed(kept_alive)  # its answer, then the close after the idle timeout
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"Functions"' in answer
    assert read_until_closed(never_spoke) == b""
    # an idle client did nothing wrong: nothing to say about it
    assert warnings_naming(caplog, peer(never_spoke)) == []
    assert warnings_naming(caplog, peer(kept_alive)) == []


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One response on a keep-alive connection: (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(v) for k, _, v in (x.partition(":") for x in lines) if k.lower() == "content-length"
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(lines[0].split()[1]), body


def in_request(live: LiveServer, which: str) -> bool:
    server = live.server if which == "api" else live.http
    assert server is not None and server.acceptor is not None
    acceptor = server.acceptor
    return live.sync(lambda _engine: any(c.in_request for c in acceptor.open))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "which,path,status",
    [
        ("api", INVOKE, 200),
        ("api", "/nowhere", 404),
        ("http", "/echo", 200),
        ("http", "/nowhere", 404),
    ],
)
def test_a_body_that_came_after_its_head_is_not_taken_for_the_next_slow_head(
    serve, caplog, which: str, path: str, status: int
) -> None:
    """Body bytes that arrive while the request is served (read by the handler, or drained by
    aiohttp after an answer that did not need them) are not the start of another request: the
    idle keep-alive connection is not cut off for a head it never began."""
    live = serve(header_timeout=0.5)
    port = port_of(live, which)
    sock = connect(port)
    body = b'{"n": 1}'
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    sock.sendall(head.encode())
    wait_for(lambda: in_request(live, which), "the server is serving the request")
    sock.sendall(body)
    assert read_response(sock)[0] == status
    # longer than the head deadline: a slow head on another connection is cut off meanwhile
    clock = connect(port)
    clock.sendall(b"GET / HTTP/1.1\r\n")
    assert dribble_until_closed(clock, b"X: " + b"a" * 1000).startswith(b"HTTP/1.1 408 ")
    sock.sendall(head.encode() + body)  # the same connection serves the next request
    assert read_response(sock)[0] == status
    assert warnings_naming(caplog, peer(sock)) == []


# --------------------------------------------------------------------------- the cap


@pytest.mark.parametrize("which", ["api", "http"])
def test_at_the_cap_the_oldest_idle_connection_makes_room(serve, which: str) -> None:
    live = serve(max_connections=4)
    port = port_of(live, which)
    idle = [connect(port) for _ in range(4)]
    wait_for(lambda: acceptor_state(live, which)[0] == 4, "the server holds the 4 idle ones")

    assert exchange(port, "POST", ROUTES[which], b'{"n": 1}')[0] == 200

    assert read_until_closed(idle[0]) == b""  # the least recently used went
    assert acceptor_state(live, which)[0] <= 4


def test_past_the_cap_a_connection_waits_in_the_backlog_until_one_closes(serve) -> None:
    live = serve(max_connections=2, header_timeout=60.0)
    busy = [connect(live.port) for _ in range(2)]
    for sock in busy:  # each has begun a request: neither is idle, neither may be evicted
        sock.sendall(b"GET /2015-03-31/functions HTTP/1.1\r\n")
    wait_for(lambda: acceptor_state(live, "api")[::2] == (2, 0), "both connections are busy")

    waiting = connect(live.port)  # the kernel completes the handshake; the server waits
    waiting.sendall(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    async def accepted_after_50_turns(_engine: Engine) -> int:
        for _ in range(50):
            await asyncio.sleep(0)
        assert live.server is not None and live.server.acceptor is not None
        return live.server.acceptor.accepted

    assert (
        live.call(accepted_after_50_turns) == 2
    )  # the loop went round 50 times and took no third one
    busy[0].close()
    waiting.settimeout(60)
    assert waiting.recv(65536).startswith(b"HTTP/1.1 200 ")


# --------------------------------------------------------------------------- malformed input

MALFORMED = {
    "tls-hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    "bad-request-line": b"GET\r\n\r\n",
    "bad-header": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
    "bad-content-length": b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
    "bad-version": b"GET / HTTP/9.9.9\r\nHost: 127.0.0.1\r\n\r\n",
}


@pytest.mark.parametrize("which", ["api", "http"])
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_request_is_a_400_and_one_log_line(
    serve, caplog, which: str, kind: str
) -> None:
    live = serve()
    port = port_of(live, which)
    sock = connect(port)
    sock.sendall(MALFORMED[kind])
    answer = read_until_closed(sock)
    assert answer.split(b" ", 2)[1] == b"400", answer[:100]
    [record] = warnings_naming(caplog, peer(sock))
    assert "malformed HTTP request from" in record.getMessage()
    assert "\n" not in record.getMessage()
    no_tracebacks(caplog)
    assert exchange(port, "POST", ROUTES[which], b'{"n": 1}')[0] == 200


@pytest.mark.parametrize("which", ["api", "http"])
def test_a_malformed_chunked_body_is_a_400_and_one_log_line(serve, caplog, which: str) -> None:
    live = serve()
    port = port_of(live, which)
    sock = connect(port)
    head = f"POST {ROUTES[which]} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    sock.sendall(head.encode() + b'5\r\n{"n":\r\nzz-not-a-size\r\n')
    answer = read_until_closed(sock)
    assert answer.split(b" ", 2)[1] == b"400", answer[:100]
    [record] = warnings_naming(caplog, peer(sock))
    assert "malformed" in record.getMessage()
    no_tracebacks(caplog)


@pytest.mark.parametrize("which", ["api", "http"])
def test_a_client_that_leaves_mid_body_is_no_error(serve, caplog, which: str) -> None:
    live = serve()
    port = port_of(live, which)
    sock = connect(port)
    head = f"POST {ROUTES[which]} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
    sock.sendall(head.encode() + b'{"n": ')
    gone = peer(sock)
    sock.close()
    wait_for(lambda: acceptor_state(live, which)[0] == 0, "the server saw it go")
    assert exchange(port, "POST", ROUTES[which], b'{"n": 1}')[0] == 200
    assert warnings_naming(caplog, gone) == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
