"""The Invoke API on the wire: what curl, other SDKs and browsers send, and the loopback guard."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from workbench.api.security import HostPolicy

from .live_server import LiveServer

INVOKE = "/2015-03-31/functions/{}/invocations"


def request(live: LiveServer, method: str, path: str, body: bytes = b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_no_content_type_needed_and_keep_alive(live: LiveServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        for n in range(3):  # one connection, three invocations
            conn.request("POST", INVOKE.format("echo"), body=json.dumps({"n": n}).encode())
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Type") == "application/json"
            assert response.getheader("X-Amz-Executed-Version") == "$LATEST"
            assert json.loads(response.read())["event"] == {"n": n}
    finally:
        conn.close()


def test_percent_encoded_arn_and_qualifier(live: LiveServer) -> None:
    name = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho"
    status, headers, body = request(live, "POST", INVOKE.format(name) + "?Qualifier=%24LATEST")
    assert status == 200
    assert json.loads(body)["function_name"] == "echo"


def test_function_error_header(live: LiveServer) -> None:
    status, headers, body = request(live, "POST", INVOKE.format("raiser"), b"{}")
    assert status == 200
    assert headers["X-Amz-Function-Error"] == "Unhandled"
    assert json.loads(body)["errorType"] == "ValueError"


def test_errors_carry_the_error_type_header_and_json_body(live: LiveServer) -> None:
    status, headers, body = request(live, "POST", INVOKE.format("nope"), b"{}")
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert json.loads(body) == {
        "Message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope",
        "Type": "User",
    }
    assert headers["x-amzn-RequestId"]


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def test_oversized_body_is_read_to_its_end_and_answered_413(live: LiveServer) -> None:
    """The client sends all 7 MB and gets the 413, not a reset, and the connection lives on."""
    size = 7 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        head = (
            f"POST {INVOKE.format('echo')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {size}\r\n\r\n"
        ).encode()
        sock.sendall(head)
        chunk = b"x" * 65536
        for _ in range(size // len(chunk)):
            sock.sendall(chunk)  # a reset here would raise ConnectionResetError
        answer = _read_response(sock)
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b"x-amzn-ErrorType: RequestEntityTooLargeException" in answer
        assert b"Request must be smaller than 6291456 bytes" in answer
        # the same connection still serves
        again = f"POST {INVOKE.format('echo')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        sock.sendall(again.encode() + b"Content-Length: 2\r\n\r\n{}")
        assert _read_response(sock).startswith(b"HTTP/1.1 200 ")


def test_oversized_chunked_body_is_413(live: LiveServer) -> None:
    def chunks():
        for _ in range(7 * 16):
            yield b"y" * 65536

    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        conn.request("POST", INVOKE.format("echo"), body=chunks(), encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 413
        assert response.getheader("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    finally:
        conn.close()


def test_a_payload_just_under_the_limit_is_accepted(live: LiveServer) -> None:
    body = b'"' + b"z" * (6 * 1024 * 1024 - 2) + b'"'
    assert len(body) == 6291456
    status, _, answer = request(live, "POST", INVOKE.format("echo"), body)
    # the handler echoes it back, which is over the 6 MB response limit: a function error, not a
    # refusal of the request
    assert status == 200
    assert json.loads(answer)["errorType"] == "Function.ResponseSizeTooLarge"


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:3001", "127.0.0.1.nip.io", "localhost.evil.com:3001"]
)
def test_a_host_that_is_not_loopback_is_refused(live: LiveServer, host: str) -> None:
    status, headers, body = request(live, "POST", INVOKE.format("echo"), b"{}", {"Host": host})
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert "not a loopback name" in json.loads(body)["message"]
    live.sync(lambda engine: engine.store.flush())
    assert live.sync(lambda engine: engine.store.count("echo")) == 0  # nothing ran


@pytest.mark.parametrize("host", ["localhost:3001", "127.0.0.1", "[::1]:3001", "app.localhost"])
def test_loopback_hosts_are_served(live: LiveServer, host: str) -> None:
    status, _, _ = request(live, "POST", INVOKE.format("echo"), b"{}", {"Host": host})
    assert status == 200


def test_a_web_page_is_refused_by_its_origin(live: LiveServer) -> None:
    headers = {"Host": "127.0.0.1:3001", "Origin": "https://evil.example"}
    status, _, body = request(live, "POST", INVOKE.format("echo"), b"{}", headers)
    assert status == 403
    assert "Origin" in json.loads(body)["message"]
    headers["Origin"] = "null"  # a sandboxed iframe or a file:// page
    assert request(live, "POST", INVOKE.format("echo"), b"{}", headers)[0] == 403
    headers["Origin"] = "http://localhost:8080"  # a page served from this machine
    assert request(live, "POST", INVOKE.format("echo"), b"{}", headers)[0] == 200


def test_host_policy_when_bound_elsewhere() -> None:
    policy = HostPolicy("192.168.1.5")
    assert policy.allows_host("192.168.1.5:3001")
    assert policy.allows_host("10.0.0.2")  # an IP literal cannot be rebound
    assert policy.allows_host("localhost")
    assert not policy.allows_host("evil.example")
    loopback = HostPolicy("127.0.0.1")
    assert not loopback.allows_host("192.168.1.5")
    assert not loopback.allows_host("evil.example")


def test_unknown_operation_is_a_clear_404(live: LiveServer) -> None:
    status, headers, body = request(live, "GET", "/2020-04-22/code-signing-configs")
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "does not implement GET /2020-04-22/code-signing-configs" in json.loads(body)["message"]


def test_an_oversized_control_plane_body_is_a_lambda_413(live: LiveServer) -> None:
    body = b'{"Description": "' + b"d" * (2 * 1024 * 1024) + b'"}'
    status, headers, answer = request(live, "PUT", "/2015-03-31/functions/echo/configuration", body)
    assert status == 413
    assert headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    assert "smaller than 1048576 bytes" in json.loads(answer)["message"]


def test_a_control_plane_body_that_is_not_json_is_400(live: LiveServer) -> None:
    status, headers, answer = request(
        live, "PUT", "/2015-03-31/functions/echo/configuration", b"{oops"
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
