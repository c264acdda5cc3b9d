"""The per-environment Runtime API (LAMBDA_REFERENCE §1), driven over real sockets.

The tests play the runtime: they speak raw HTTP/1.1 to a ``RuntimeAPI`` on loopback, and a
recording listener stands in for the execution environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import until
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime.runtime_api import (
    MAX_PAYLOAD,
    Invocation,
    RuntimeAPI,
    RuntimeAPIListener,
)

NEXT = "/2018-06-01/runtime/invocation/next"
INIT_ERROR = "/2018-06-01/runtime/init/error"
ACCEPTED = {"status": "OK"}
INVALID_REQUEST_ID = b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}'
TOO_LARGE = (
    b'{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).",'
    b'"errorType":"RequestEntityTooLarge"}'
)


def transition_error(target: str) -> dict[str, str]:
    return {
        "errorType": "InvalidStateTransition",
        "errorMessage": f"State transition from RuntimeResponseSentState to {target} failed "
        "for runtime. Error: State transition is not allowed",
    }


def response_path(request_id: str) -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/response"


def error_path(request_id: str) -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/error"


class Recorder(RuntimeAPIListener):
    """Records every call the Runtime API makes on its listener."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_connect(self) -> None:
        self.calls.append(("connect",))

    def on_ready(self) -> None:
        self.calls.append(("ready",))

    def on_response(self, inv: Invocation, body: bytes, content_type: str) -> None:
        self.calls.append(("response", inv.request_id, body, content_type))

    def on_error(self, inv: Invocation, body: bytes, error_type: str | None) -> None:
        self.calls.append(("error", inv.request_id, body, error_type))

    def on_init_error(self, body: bytes, error_type: str | None) -> None:
        self.calls.append(("init_error", body, error_type))

    def on_response_too_large(self, inv: Invocation, size: int) -> None:
        self.calls.append(("too_large", inv.request_id, size))

    def named(self, name: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == name]


class Response:
    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case names
        self.body = body

    def json(self) -> object:
        return json.loads(self.body)


class RawClient:
    """One keep-alive connection speaking raw HTTP/1.1, as a runtime would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @staticmethod
    def build(
        method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body is not None and not any(k.lower() == "transfer-encoding" for k in headers or {}):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_response(self, timeout: float = 5.0) -> Response:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = lines[0].split(" ", 2)
        assert version == "HTTP/1.1"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        return Response(int(status), reason, headers, body)

    async def request(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> Response:
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        await self.send(self.build(method, path, body, hdrs))
        return await self.read_response()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


def invocation(n: int = 1, payload: bytes = b'{"n": 1}', **kw) -> Invocation:
    return Invocation(
        request_id=kw.pop("request_id", f"8476a536-e9f4-11e8-9739-2dfe598c3f{n:02d}"),
        payload=payload,
        deadline_ms=kw.pop("deadline_ms", 1542409706888 + n),
        function_arn=kw.pop("function_arn", "arn:aws:lambda:us-east-1:123456789012:function:f"),
        trace_id=kw.pop(
            "trace_id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
        ),
        **kw,
    )


@pytest.fixture
async def api() -> AsyncIterator[RuntimeAPI]:
    server = RuntimeAPI(Recorder())
    address = await server.start()
    assert address == f"127.0.0.1:{server.port}"
    yield server
    server.close()


@pytest.fixture
async def client(api: RuntimeAPI) -> AsyncIterator[RawClient]:
    c = await RawClient.connect(api.port)
    yield c
    await c.close()


def recorder(api: RuntimeAPI) -> Recorder:
    assert isinstance(api.listener, Recorder)
    return api.listener


async def parked(api: RuntimeAPI) -> None:
    """Until the server holds a /next with no event to give it (it answers once one comes)."""
    await until(lambda: api.waiting is not None, "the /next to be held")


async def first_event(api: RuntimeAPI, client: RawClient, inv: Invocation) -> Response:
    """Let the runtime finish init (first /next) and hand it ``inv``."""
    api.dispatch(inv)
    resp = await client.request("GET", NEXT)
    assert resp.status == 200
    return resp


# --------------------------------------------------------------------------- /next


async def test_next_blocks_until_dispatch_then_returns_the_event(
    api: RuntimeAPI, client: RawClient
) -> None:
    await client.send(client.build("GET", NEXT))
    pending = asyncio.ensure_future(client.read_response())
    await parked(api)
    assert not pending.done(), "/next answered before any event existed"
    assert recorder(api).named("ready") == [("ready",)]  # asking /next ends INIT

    payload = b'{"key": "v\xc3\xa4lue", "list": [1, 2, 3]}'
    inv = invocation(7, payload)
    api.dispatch(inv)
    resp = await pending
    assert resp.status == 200
    assert resp.body == payload  # the raw event bytes, untouched
    assert resp.headers["lambda-runtime-aws-request-id"] == inv.request_id
    assert resp.headers["lambda-runtime-deadline-ms"] == str(inv.deadline_ms)
    assert resp.headers["lambda-runtime-invoked-function-arn"] == inv.function_arn
    assert resp.headers["lambda-runtime-trace-id"] == inv.trace_id
    assert resp.headers["content-type"] == "application/json"
    assert "lambda-runtime-client-context" not in resp.headers
    assert "lambda-runtime-cognito-identity" not in resp.headers


async def test_next_returns_an_event_dispatched_before_it_asked(
    api: RuntimeAPI, client: RawClient
) -> None:
    inv = invocation(1, b'"early"')
    api.dispatch(inv)
    resp = await client.request("GET", NEXT)
    assert resp.status == 200
    assert resp.body == b'"early"'
    assert resp.headers["lambda-runtime-aws-request-id"] == inv.request_id


async def test_next_carries_client_context_and_content_type_when_set(
    api: RuntimeAPI, client: RawClient
) -> None:
    context = '{"custom":{"k":"v"},"env":{"e":"1"},"client":{"app_title":"t"}}'
    inv = invocation(2, b"raw bytes", client_context=context, content_type="application/unknown")
    resp = await first_event(api, client, inv)
    assert resp.headers["lambda-runtime-client-context"] == context
    assert resp.headers["content-type"] == "application/unknown"
    assert resp.body == b"raw bytes"


async def test_next_twice_without_a_response_returns_the_same_event(
    api: RuntimeAPI, client: RawClient
) -> None:
    inv = invocation(3)
    first = await first_event(api, client, inv)
    second = await client.request("GET", NEXT)
    assert second.status == 200
    assert second.body == first.body
    assert second.headers == first.headers
    # A new connection (a runtime that reconnected) gets it too.
    other = await RawClient.connect(api.port)
    try:
        third = await other.request("GET", NEXT)
    finally:
        await other.close()
    assert third.status == 200
    assert third.headers["lambda-runtime-aws-request-id"] == inv.request_id
    # ... and it can still be answered once.
    resp = await client.request("POST", response_path(inv.request_id), b"{}")
    assert resp.status == 202


# --------------------------------------------------------------------------- /response


async def test_response_is_accepted_and_reaches_the_listener(
    api: RuntimeAPI, client: RawClient
) -> None:
    inv = invocation(4)
    await first_event(api, client, inv)
    resp = await client.request(
        "POST", response_path(inv.request_id), b'{"result": 42}', Content_Type="application/json"
    )
    assert resp.status == 202
    assert resp.json() == ACCEPTED
    assert resp.headers["content-type"] == "application/json"
    assert recorder(api).named("response") == [
        ("response", inv.request_id, b'{"result": 42}', "application/json")
    ]


async def test_second_response_for_the_same_id_is_an_invalid_state_transition(
    api: RuntimeAPI, client: RawClient
) -> None:
    inv = invocation(5)
    await first_event(api, client, inv)
    assert (await client.request("POST", response_path(inv.request_id), b"1")).status == 202
    again = await client.request("POST", response_path(inv.request_id), b"2")
    assert again.status == 403
    assert again.json() == transition_error("InvocationResponse")
    assert again.headers["content-type"] == "application/json"
    error = await client.request("POST", error_path(inv.request_id), b"{}")
    assert error.status == 403
    assert error.json() == transition_error("InvocationErrorResponse")
    # The listener heard about the first response only.
    assert [c[2] for c in recorder(api).named("response")] == [b"1"]
    assert recorder(api).named("error") == []


async def test_response_after_error_is_an_invalid_state_transition(
    api: RuntimeAPI, client: RawClient
) -> None:
    inv = invocation(6)
    await first_event(api, client, inv)
    assert (await client.request("POST", error_path(inv.request_id), b"{}")).status == 202
    resp = await client.request("POST", response_path(inv.request_id), b"{}")
    assert resp.status == 403
    assert resp.json()["errorType"] == "InvalidStateTransition"
    assert recorder(api).named("response") == []


async def test_unknown_request_id_is_400_invalid_request_id(
    api: RuntimeAPI, client: RawClient
) -> None:
    # Before any event exists, and then for an id other than the current one.
    early = await client.request("POST", response_path("nope"), b"{}")
    assert early.status == 400
    assert early.body.rstrip(b"\n") == INVALID_REQUEST_ID
    inv = invocation(8)
    await first_event(api, client, inv)
    for path in (response_path("not-" + inv.request_id), error_path("not-" + inv.request_id)):
        resp = await client.request("POST", path, b"{}")
        assert resp.status == 400
        assert resp.body.rstrip(b"\n") == INVALID_REQUEST_ID
        assert resp.headers["content-type"] == "application/json"
    assert recorder(api).named("response") == recorder(api).named("error") == []
    # The real id still works afterwards.
    assert (await client.request("POST", response_path(inv.request_id), b"{}")).status == 202


# --------------------------------------------------------------------------- /error


async def test_error_is_accepted_with_its_error_type(api: RuntimeAPI, client: RawClient) -> None:
    inv = invocation(9)
    await first_event(api, client, inv)
    body = json.dumps(
        {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": ["  File x\n"]}
    ).encode()
    resp = await client.request(
        "POST",
        error_path(inv.request_id),
        body,
        Content_Type="application/json",
        Lambda_Runtime_Function_Error_Type="Unhandled",
    )
    assert resp.status == 202
    assert resp.json() == ACCEPTED
    assert recorder(api).named("error") == [("error", inv.request_id, body, "Unhandled")]


async def test_error_without_an_error_type_header(api: RuntimeAPI, client: RawClient) -> None:
    # AWS's own Python runtime client sends none on /invocation/{id}/error (reference §1).
    inv = invocation(10)
    await first_event(api, client, inv)
    resp = await client.request("POST", error_path(inv.request_id), b'{"errorType":"X"}')
    assert resp.status == 202
    assert recorder(api).named("error") == [("error", inv.request_id, b'{"errorType":"X"}', None)]


# --------------------------------------------------------------------------- /init/error


async def test_init_error_before_the_first_next(api: RuntimeAPI, client: RawClient) -> None:
    body = b'{"errorMessage":"Unable to import module","errorType":"Runtime.ImportModuleError"}'
    resp = await client.request(
        "POST", INIT_ERROR, body, Lambda_Runtime_Function_Error_Type="Runtime.ImportModuleError"
    )
    assert resp.status == 202
    assert resp.json() == ACCEPTED
    assert recorder(api).named("init_error") == [("init_error", body, "Runtime.ImportModuleError")]
    assert recorder(api).named("ready") == []
    # A runtime whose init failed may not go on to ask for events.
    after = await client.request("GET", NEXT)
    assert after.status == 403
    assert after.json()["errorType"] == "InvalidStateTransition"
    assert recorder(api).named("ready") == []


async def test_init_error_after_init_is_refused(api: RuntimeAPI, client: RawClient) -> None:
    inv = invocation(11)
    await first_event(api, client, inv)
    resp = await client.request("POST", INIT_ERROR, b"{}", Lambda_Runtime_Function_Error_Type="X")
    assert resp.status == 403
    assert resp.json()["errorType"] == "InvalidStateTransition"
    assert recorder(api).named("init_error") == []
    # The invocation is unaffected.
    assert (await client.request("POST", response_path(inv.request_id), b"{}")).status == 202


# --------------------------------------------------------------------------- payload limit


def chunked(body: bytes, size: int = 1 << 20) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


async def post_large(
    client: RawClient, request_id: str, body: bytes, use_chunked: bool
) -> Response:
    if use_chunked:
        head = client.build(
            "POST", response_path(request_id), None, {"Transfer-Encoding": "chunked"}
        )
        await client.send(head + chunked(body))
    else:
        await client.send(client.build("POST", response_path(request_id), body))
    return await client.read_response(timeout=30)


@pytest.mark.parametrize("use_chunked", [False, True], ids=["content-length", "chunked"])
async def test_response_above_the_limit_is_413(
    api: RuntimeAPI, client: RawClient, use_chunked: bool
) -> None:
    inv = invocation(12)
    await first_event(api, client, inv)
    resp = await post_large(client, inv.request_id, b"x" * (MAX_PAYLOAD + 1), use_chunked)
    assert resp.status == 413
    assert resp.body.rstrip(b"\n") == TOO_LARGE
    assert resp.headers["content-type"] == "application/json"
    assert recorder(api).named("too_large") == [("too_large", inv.request_id, MAX_PAYLOAD + 1)]
    assert recorder(api).named("response") == []
    # The connection is still usable: the oversized body was read to its end.
    again = await client.request("POST", response_path(inv.request_id), b"{}")
    assert again.status == 403


@pytest.mark.parametrize("use_chunked", [False, True], ids=["content-length", "chunked"])
async def test_response_of_exactly_the_limit_is_accepted(
    api: RuntimeAPI, client: RawClient, use_chunked: bool
) -> None:
    assert MAX_PAYLOAD == 6_291_556
    inv = invocation(13)
    await first_event(api, client, inv)
    body = os.urandom(MAX_PAYLOAD // 2).hex().encode()
    assert len(body) == MAX_PAYLOAD
    resp = await post_large(client, inv.request_id, body, use_chunked)
    assert resp.status == 202
    assert recorder(api).named("too_large") == []
    [(_, request_id, received, _)] = recorder(api).named("response")
    assert request_id == inv.request_id
    assert received == body


# --------------------------------------------------------------------------- HTTP details


async def test_pipelined_response_and_next_are_handled_in_order(
    api: RuntimeAPI, client: RawClient
) -> None:
    first = invocation(14, b'"one"')
    await first_event(api, client, first)
    # Our own runtime client does exactly this: the result and the next /next in one write.
    await client.send(
        client.build("POST", response_path(first.request_id), b'"ONE"') + client.build("GET", NEXT)
    )
    accepted = await client.read_response()
    assert accepted.status == 202
    assert accepted.json() == ACCEPTED
    assert recorder(api).named("response") == [
        ("response", first.request_id, b'"ONE"', "application/json")
    ]
    pending = asyncio.ensure_future(client.read_response())
    await parked(api)
    assert not pending.done(), "the pipelined /next must block until the next event"
    second = invocation(15, b'"two"')
    api.dispatch(second)
    resp = await pending
    assert resp.status == 200
    assert resp.body == b'"two"'
    assert resp.headers["lambda-runtime-aws-request-id"] == second.request_id


async def test_requests_split_across_writes_are_reassembled(
    api: RuntimeAPI, client: RawClient
) -> None:
    inv = invocation(16)
    await first_event(api, client, inv)
    data = client.build("POST", response_path(inv.request_id), b'{"split": true}')
    for i in range(0, len(data), 7):
        await client.send(data[i : i + 7])
        await asyncio.sleep(0)
    resp = await client.read_response()
    assert resp.status == 202
    assert recorder(api).named("response")[0][2] == b'{"split": true}'


async def test_expect_100_continue_gets_continue_before_the_body(
    api: RuntimeAPI, client: RawClient
) -> None:
    inv = invocation(17)
    await first_event(api, client, inv)
    body = b'{"after": "continue"}'
    await client.send(
        client.build(
            "POST",
            response_path(inv.request_id),
            None,
            {"Expect": "100-continue", "Content-Length": str(len(body))},
        )
    )
    interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert recorder(api).named("response") == []
    await client.send(body)
    resp = await client.read_response()
    assert resp.status == 202
    assert recorder(api).named("response")[0][2] == body


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/2018-06-01/runtime/invocation/nope"),
        ("GET", "/2018-06-01/nothing"),
        ("GET", "/2015-03-31/functions/f/invocations"),
        ("POST", "/2018-06-01/runtime/restore/next"),
        ("GET", "/"),
    ],
)
async def test_unknown_path_is_404(
    api: RuntimeAPI, client: RawClient, method: str, path: str
) -> None:
    resp = await client.request(method, path, b"" if method == "POST" else None)
    assert resp.status == 404
    assert recorder(api).named("ready") == []
    # The connection survives a 404.
    api.dispatch(invocation(18))
    assert (await client.request("GET", NEXT)).status == 200


async def test_connection_close_is_honoured_after_the_answer(
    api: RuntimeAPI, client: RawClient
) -> None:
    api.dispatch(invocation(30))
    resp = await client.request("GET", NEXT, Connection="close")
    assert resp.status == 200 and resp.headers["lambda-runtime-aws-request-id"].endswith("30")
    assert await asyncio.wait_for(client.reader.read(), 5) == b""  # then the server hangs up


async def test_a_blocked_next_with_connection_close_closes_after_its_event(
    api: RuntimeAPI, client: RawClient
) -> None:
    await client.send(RawClient.build("GET", NEXT, headers={"Connection": "close"}))
    await parked(api)
    api.dispatch(invocation(31))
    resp = await client.read_response()
    assert resp.body == b'{"n": 1}'
    assert await asyncio.wait_for(client.reader.read(), 5) == b""


def http10(method: str, path: str, body: bytes = b"", connection: str | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.0", f"Content-Length: {len(body)}"]
    if connection is not None:
        lines.append(f"Connection: {connection}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_http_1_0_closes_after_each_answer_as_go_does(
    api: RuntimeAPI, client: RawClient
) -> None:
    # A runtime with no HTTP library (bash's /dev/tcp, HTTP/1.0) reads each answer to EOF:
    # like Go's net/http in AWS's emulator, the server hangs up unless it asked for keep-alive.
    await client.send(http10("GET", NEXT))
    await parked(api)  # blocked in /next: it closes once its event has gone out
    api.dispatch(invocation(32))
    answer = await asyncio.wait_for(client.reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b'\r\n\r\n{"n": 1}')

    poster = await RawClient.connect(api.port)
    await poster.send(http10("POST", response_path(invocation(32).request_id), b'"ok"'))
    answer = await asyncio.wait_for(poster.reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert answer.endswith(b'{"status":"OK"}\n')
    assert recorder(api).named("response")[-1][2] == b'"ok"'


async def test_http_1_0_with_keep_alive_keeps_the_connection(
    api: RuntimeAPI, client: RawClient
) -> None:
    api.dispatch(invocation(33))
    await client.send(http10("GET", NEXT, connection="keep-alive"))
    resp = await client.read_response()
    assert resp.status == 200
    await client.send(http10("POST", response_path(invocation(33).request_id), b"1", "Keep-Alive"))
    assert (await client.read_response()).status == 202


# --------------------------------------------------------------------------- a third-party runtime

CUSTOM_RUNTIME = '''
"""A tiny Runtime API client: stdlib urllib, a new connection per request."""
import json
import os
import sys
import urllib.error
import urllib.request

os.read(0, 1)  # the engine's go-ahead: the sandbox's limits are in place
base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
print("custom runtime up", flush=True)
note = ""
while True:
    with urllib.request.urlopen(base + "next") as resp:
        request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
        event = resp.read()
    print("got", request_id, flush=True)
    if note:  # printed now, so it lands in this invocation's log
        print(note, flush=True)
    if b"fail" in event:
        error = {"errorMessage": "asked to fail", "errorType": "Custom.Failure"}
        req = urllib.request.Request(
            base + request_id + "/error",
            data=json.dumps(error).encode(),
            headers={"Lambda-Runtime-Function-Error-Type": "Custom.Failure"},
            method="POST",
        )
    else:
        req = urllib.request.Request(
            base + request_id + "/response", data=event.upper(), method="POST"
        )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 202, resp.status
        assert json.loads(resp.read()) == {"status": "OK"}
    # A second answer is refused, as Lambda refuses it.
    try:
        again = base + request_id + "/response"
        urllib.request.urlopen(urllib.request.Request(again, data=b"{}", method="POST"))
    except urllib.error.HTTPError as e:
        note = f"previous second answer: {e.code} {json.loads(e.read())['errorType']}"
'''


async def test_a_third_party_runtime_client_works_unchanged(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    fn = root / "shout"
    fn.mkdir(parents=True)
    (fn / "function.toml").write_text('runtime = "python3.11"\nhandler = "irrelevant.handler"\n')
    client = tmp_path / "custom_runtime.py"
    client.write_text(textwrap.dedent(CUSTOM_RUNTIME))
    launcher = tmp_path / "launch.sh"
    # Stands in for the interpreter: ignores the bootstrap it is given and runs our client.
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{client}"\n')
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)

    settings = EngineSettings(python=str(launcher), state_dir=tmp_path / "state")
    async with Engine([root], settings) as engine:
        cold = await engine.invoke("shout", b'{"greeting": "hello"}')
        assert cold.function_error is None, cold.payload
        assert cold.payload == b'{"GREETING": "HELLO"}'
        assert cold.record.cold
        assert cold.record.status == "success"
        assert "custom runtime up" in cold.record.log_lines
        assert f"got {cold.record.request_id}" in cold.record.log_lines

        warm = await engine.invoke("shout", b'"again"')
        assert warm.payload == b'"AGAIN"'
        assert not warm.record.cold
        assert warm.record.env_id == cold.record.env_id

        failed = await engine.invoke("shout", b'"please fail"')
        assert failed.function_error == "Unhandled"
        assert json.loads(failed.payload) == {
            "errorMessage": "asked to fail",
            "errorType": "Custom.Failure",
        }
        assert failed.record.error_type == "Custom.Failure"

        after = await engine.invoke("shout", b'"still alive"')
        assert after.payload == b'"STILL ALIVE"'
        assert after.record.env_id == cold.record.env_id
        # Each invocation's second answer was refused (reported in the next one's log): 403
        # while the id is still the current one, 400 once the engine handed out the next event.
        refusals = {
            "previous second answer: 403 InvalidStateTransition",
            "previous second answer: 400 InvalidRequestID",
        }
        for result in (warm, failed, after):
            assert refusals & set(result.record.log_lines), result.record.log_lines


# --------------------------------------------------------------------------- holding the server


@pytest.fixture
def short_deadlines(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO, logger="workbench.runtime_api")
    yield


async def started(**limits: Any) -> RuntimeAPI:
    server = RuntimeAPI(Recorder(), **limits)
    await server.start()
    return server


def peer_of(client: RawClient) -> str:
    host, port = client.writer.get_extra_info("sockname")[:2]
    return f"{host}:{port}"


def warnings_naming(caplog: pytest.LogCaptureFixture, who: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and who in r.getMessage()]


async def dribble_until_answered(client: RawClient, data: bytes, every: float = 0.05) -> bytes:
    """Send ``data`` a byte per ``every`` s until the server answers; then read to the close."""
    for byte in data:
        try:
            # read(n), not read(): a read to EOF cut by the timeout loses what it had read
            first = await asyncio.wait_for(client.reader.read(65536), every)
        except TimeoutError:
            pass
        else:
            return first + await asyncio.wait_for(client.reader.read(-1), 30)
        try:
            await client.send(bytes([byte]))
        except ConnectionError:
            break
    return await asyncio.wait_for(client.reader.read(-1), 30)


async def test_a_head_sent_a_byte_at_a_time_is_cut_off_and_the_runtime_served(
    short_deadlines, caplog
) -> None:
    api = await started(header_timeout=0.5)
    slow = await RawClient.connect(api.port)
    runtime = await RawClient.connect(api.port)
    try:
        await slow.send(b"POST " + response_path("x").encode() + b" HTTP/1.1\r\n")
        resp = await first_event(api, runtime, invocation(40))  # served meanwhile
        assert resp.headers["lambda-runtime-aws-request-id"].endswith("40")

        answer = await dribble_until_answered(slow, b"X-Slow: " + b"a" * 2000)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert b'"errorType":"RequestTimeout"' in answer
        [record] = warnings_naming(caplog, peer_of(slow))
        assert "did not finish a request head within 0.5 s" in record.getMessage()
        assert record.exc_info is None
        # the runtime's connection lives on
        ok = await runtime.request("POST", response_path(invocation(40).request_id), b"{}")
        assert ok.status == 202
    finally:
        await slow.close()
        await runtime.close()
        api.close()


async def test_a_body_that_never_completes_is_cut_off(short_deadlines, caplog) -> None:
    api = await started(body_timeout=0.5)
    runtime = await RawClient.connect(api.port)
    try:
        inv = invocation(41)
        await first_event(api, runtime, inv)
        head = RawClient.build(
            "POST", response_path(inv.request_id), None, {"Content-Length": "100"}
        )
        await runtime.send(head + b'{"ok"')  # 5 of 100 bytes, then nothing
        answer = await asyncio.wait_for(runtime.reader.read(-1), 30)
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        [record] = warnings_naming(caplog, peer_of(runtime))
        assert (
            "did not finish a request body within 0.5 s (5 bytes received)" in record.getMessage()
        )
        assert recorder(api).named("response") == []
    finally:
        await runtime.close()
        api.close()


async def test_a_blocked_next_and_an_idle_connection_are_never_cut_off(
    short_deadlines, caplog
) -> None:
    api = await started(header_timeout=0.3, body_timeout=0.3)
    waiting = await RawClient.connect(api.port)
    idle = await RawClient.connect(api.port)
    clock = await RawClient.connect(api.port)
    try:
        await waiting.send(RawClient.build("GET", NEXT))  # blocks: no event yet
        # a slow head on a third connection is cut off after the deadline: by then both the
        # blocked /next and the idle connection have outlived it
        await clock.send(b"GET /2018-06-01/ping HTTP/1.1\r\n")
        assert (await dribble_until_answered(clock, b"X: " + b"a" * 2000)).startswith(
            b"HTTP/1.1 408 "
        )
        api.dispatch(invocation(42))
        resp = await waiting.read_response()
        assert resp.status == 200 and resp.headers["lambda-runtime-aws-request-id"].endswith("42")
        assert (await idle.request("GET", "/2018-06-01/ping")).body == b"pong"
        assert warnings_naming(caplog, peer_of(waiting)) == []
        assert warnings_naming(caplog, peer_of(idle)) == []
    finally:
        for c in (waiting, idle, clock):
            await c.close()
        api.close()


async def test_past_the_cap_a_connection_waits_until_one_closes() -> None:
    api = await started(max_connections=2)
    first = await RawClient.connect(api.port)
    second = await RawClient.connect(api.port)
    third = await RawClient.connect(api.port)  # the kernel completes it; the server waits
    try:
        for c in (first, second):
            assert (await c.request("GET", "/2018-06-01/ping")).body == b"pong"
        await third.send(RawClient.build("GET", "/2018-06-01/ping"))
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(api.protocols) == 2  # the loop went round 50 times and took no third one
        await first.close()
        resp = await third.read_response(timeout=30)
        assert resp.body == b"pong"
    finally:
        for c in (second, third):
            await c.close()
        api.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"garbage\r\n\r\n",
        b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["request-line", "content-length", "chunk-size"],
)
async def test_a_malformed_request_is_a_400_and_one_log_line(
    api: RuntimeAPI, client: RawClient, short_deadlines, caplog, request_bytes: bytes
) -> None:
    await client.send(request_bytes)
    answer = await asyncio.wait_for(client.reader.read(-1), 30)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    [record] = warnings_naming(caplog, peer_of(client))
    assert "malformed HTTP request from" in record.getMessage()
    assert record.exc_info is None
    assert recorder(api).named("init_error") == []


RUNTIME_API_CHILD = """
import asyncio, logging, os, resource, sys
from workbench.engine.runtime.runtime_api import RuntimeAPI, RuntimeAPIListener

async def main():
    api = RuntimeAPI(RuntimeAPIListener(), max_connections=64)
    await api.start()
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()
    loop.add_reader(0, lambda: stdin_closed.done() or stdin_closed.set_result(None))
    fillers = []
    try:  # use up every descriptor but three
        while True:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    for fd in fillers[-3:]:
        os.close(fd)
    print(api.port, flush=True)
    await stdin_closed

resource.setrlimit(resource.RLIMIT_NOFILE, (128, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
asyncio.run(main())
"""


async def test_out_of_descriptors_the_accept_loop_waits_and_recovers(tmp_path: Path) -> None:
    """The server's process has three descriptors left and ten clients come: three are taken,
    the rest wait in the backlog with one warning (asyncio's own accept loop logged a traceback
    per attempt), and as the first ones leave the others are taken in turn."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUNTIME_API_CHILD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None and child.stdin is not None and child.stderr is not None
    port = int(await asyncio.wait_for(child.stdout.readline(), 60))
    clients = [await RawClient.connect(port) for _ in range(10)]
    log: list[str] = []
    try:
        for c in clients:
            await c.send(RawClient.build("GET", "/2018-06-01/ping"))
        while not any("Too many open files" in line for line in log):  # none has left yet
            line = await asyncio.wait_for(child.stderr.readline(), 60)
            assert line, log
            log.append(line.decode().rstrip("\n"))
        for c in clients:  # in turn: each is answered once the ones before it have gone
            resp = await c.read_response(timeout=60)
            assert resp.body == b"pong"
            await c.close()
    finally:
        for c in clients:
            await c.close()
        child.stdin.close()
        await asyncio.wait_for(child.wait(), 60)
    log += (await child.stderr.read()).decode().splitlines()
    warnings = [line for line in log if "Too many open files" in line]
    assert len(warnings) == 1, log
    assert warnings[0].startswith("WARNING workbench.runtime_api Runtime API 127.0.0.1:")
    assert not [line for line in log if "Traceback" in line or line.startswith("ERROR")], log


async def test_an_error_answer_reaches_a_client_that_is_still_sending() -> None:
    # a malformed head with 300 KB behind it: closed at once, the unread bytes made the kernel
    # reset the connection, and the client read ECONNRESET instead of the 400
    api = await started()
    try:
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
            writer.write(b"GARBAGE\r\n\r\n" + b"x" * 300_000)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            await asyncio.sleep(0.05)  # the server has answered and closed its side by now
            answer = await asyncio.wait_for(reader.read(65536), 5)
            assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
            assert b'"errorType":"InvalidRequest"' in answer
            assert await asyncio.wait_for(reader.read(), 5) == b""  # then our side's end
            writer.close()
    finally:
        api.close()
