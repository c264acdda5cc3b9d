"""InvokeWithResponseStream through boto3, as users call it: chunks read while the handler runs.

Each streaming handler here waits for a gate file the test creates only after it has read the
first chunk: boto3 can only see that chunk if it was sent while the handler was still running
(a buffered answer would hold it until the handler ended, which it cannot do before the gate).
The handler gives up after a long while and says so, so a broken stream fails, never hangs.
"""

from __future__ import annotations

import base64
import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import make_function, until_sync
from workbench.engine.runtime import response_stream

from .live_server import LiveServer

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

PY_GATED = """
import os, time
def handler(event, context):
    yield "first "
    gate = event["gate"]
    for _ in range(6000):  # 60 s, then say the stream never reached the test
        if os.path.exists(gate):
            break
        time.sleep(0.01)
    else:
        yield "gate never opened"
        return
    yield b"second "
    yield "third"
"""

PY_FAILS_MIDWAY = """
def handler(event, context):
    yield "partial"
    raise RuntimeError("broke mid-stream")
"""

PY_STALLS = """
import time
def handler(event, context):
    yield "before the timeout"
    time.sleep(30)
    yield "never"
"""

PY_LARGE = """
def handler(event, context):
    for _ in range(event["chunks"]):
        yield b"x" * event["size"]
"""

NODE_GATED = """
const fs = require('fs');
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write('first ');
  for (let i = 0; i < 6000 && !fs.existsSync(event.gate); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!fs.existsSync(event.gate)) {
    responseStream.end('gate never opened');
    return;
  }
  responseStream.write('second ');
  responseStream.end('third');
});
"""

NODE_FAILS_MIDWAY = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial');
  await new Promise((r) => setTimeout(r, 1));
  throw new TypeError('node broke mid-stream');
});
"""

NODE_HTTP = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'x-kind': 'streamed' },
  });
  stream.write('hello');
  stream.end();
});
"""

# A custom runtime as AWS documents it: any client posting a chunked response in streaming mode.
SHELL_BOOTSTRAP = """\
#!/bin/sh
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/next")
  ID=$(grep -i '^lambda-runtime-aws-request-id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  GATE=$(printf '%s' "$EVENT" | sed 's/.*"gate": *"\\([^"]*\\)".*/\\1/')
  {
    printf 'first '
    i=0
    while [ ! -e "$GATE" ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i + 1)); done
    printf 'second'
  } | curl -sS -X POST "$API/$ID/response" -H 'Transfer-Encoding: chunked' \\
      -H 'Lambda-Runtime-Function-Response-Mode: streaming' \\
      -H 'Content-Type: text/plain' -T - >/dev/null
done
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "py-gated", PY_GATED)
    make_function(root, "py-fails", PY_FAILS_MIDWAY)
    make_function(root, "py-large", PY_LARGE, timeout=60)
    make_function(root, "py-stalls", PY_STALLS, timeout=1)
    make_function(root, "py-plain", "def handler(event, context):\n    return {'plain': 1}\n")
    for name, code in (
        ("node-gated", NODE_GATED),
        ("node-fails", NODE_FAILS_MIDWAY),
        ("node-http", NODE_HTTP),
    ):
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "function.toml").write_text('runtime = "nodejs20.x"\nhandler = "index.handler"\n')
        (folder / "index.js").write_text(textwrap.dedent(code).lstrip("\n"))
    shell = make_function(root, "shell-stream", "", runtime="provided.al2023", handler="x")
    (shell / "bootstrap").write_text(SHELL_BOOTSTRAP)
    (shell / "bootstrap").chmod(0o755)
    return root


@pytest.fixture
def live(root: Path, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(root, tmp_path / "state").start()
    try:
        yield server
    finally:
        server.stop()


def stream_events(live: LiveServer, name: str, event: dict[str, Any], **kw: Any) -> Iterator[Any]:
    response = live.client().invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps(event).encode(), **kw
    )
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/vnd.amazon.eventstream"
    )
    assert response["ExecutedVersion"] == "$LATEST"
    return iter(response["EventStream"])


def read_gated(live: LiveServer, name: str, gate: Path) -> tuple[bytes, bytes, dict[str, str]]:
    """(the first chunk, the rest, InvokeComplete), the gate opened only after chunk one."""
    events = stream_events(live, name, {"gate": str(gate)})
    first = next(events)
    assert not gate.exists()
    gate.touch()  # only now may the handler go on
    rest, complete = b"", None
    for event in events:
        if "PayloadChunk" in event:
            rest += event["PayloadChunk"]["Payload"]
        else:
            complete = event["InvokeComplete"]
    assert complete is not None
    return first["PayloadChunk"]["Payload"], rest, complete


def test_python_generator_streams_while_the_handler_runs(live: LiveServer, tmp_path: Path) -> None:
    first, rest, complete = read_gated(live, "py-gated", tmp_path / "gate-py")
    assert first == b"first "
    assert rest == b"second third"
    assert "ErrorCode" not in complete


@needs_node
def test_node_streamify_streams_while_the_handler_runs(live: LiveServer, tmp_path: Path) -> None:
    first, rest, complete = read_gated(live, "node-gated", tmp_path / "gate-node")
    assert first == b"first "
    assert rest == b"second third"
    assert "ErrorCode" not in complete


@needs_curl
def test_shell_custom_runtime_streams_with_curl(live: LiveServer, tmp_path: Path) -> None:
    first, rest, complete = read_gated(live, "shell-stream", tmp_path / "gate-shell")
    assert first == b"first "
    assert rest == b"second"
    assert "ErrorCode" not in complete


@pytest.mark.parametrize(
    ("name", "error_type", "message"),
    [
        ("py-fails", "RuntimeError", "broke mid-stream"),
        pytest.param("node-fails", "TypeError", "node broke mid-stream", marks=needs_node),
    ],
)
def test_mid_stream_error_ends_in_invoke_complete(
    live: LiveServer, name: str, error_type: str, message: str
) -> None:
    events = list(stream_events(live, name, {}, LogType="Tail"))
    chunks = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    assert chunks == b"partial"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == error_type
    details = json.loads(complete["ErrorDetails"])
    assert details["errorType"] == error_type
    assert details["errorMessage"] == message
    assert message in base64.b64decode(complete["LogResult"]).decode()
    record = live.sync(lambda engine: engine.store.recent(name, 1)[0])  # type: ignore[union-attr]
    assert record.status == "error"
    assert record.error_type == error_type


def test_stream_over_the_limit_is_cut_and_says_so(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(response_stream, "STREAM_LIMIT", 1024 * 1024)
    events = list(stream_events(live, "py-large", {"chunks": 4, "size": 512 * 1024}))
    received = sum(len(e["PayloadChunk"]["Payload"]) for e in events if "PayloadChunk" in e)
    assert 0 < received <= 1024 * 1024
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Function.ResponseSizeTooLarge"


def test_plain_invoke_of_a_streaming_handler_returns_the_whole(live: LiveServer) -> None:
    client = live.client()
    response = client.invoke(FunctionName="py-large", Payload=b'{"chunks": 3, "size": 5}')
    assert "FunctionError" not in response
    assert response["Payload"].read() == b"x" * 15
    # buffered, the ordinary 6 MB limit holds
    response = client.invoke(FunctionName="py-large", Payload=b'{"chunks": 7, "size": 1048576}')
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"


def test_buffered_handler_comes_as_one_chunk(live: LiveServer) -> None:
    events = list(stream_events(live, "py-plain", {}))
    assert events[0] == {"PayloadChunk": {"Payload": b'{"plain": 1}'}}
    assert events[1] == {"InvokeComplete": {}}


@needs_node
def test_http_response_stream_prelude_passes_through(live: LiveServer) -> None:
    events = list(stream_events(live, "node-http", {}))
    body = b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)
    prelude, _, rest = body.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-kind": "streamed"}}
    assert rest == b"hello"


def test_unknown_function_is_a_404_before_any_stream(live: LiveServer) -> None:
    with pytest.raises(ClientError) as caught:
        live.client().invoke_with_response_stream(FunctionName="nope", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_record_keeps_the_streamed_body(live: LiveServer, tmp_path: Path) -> None:
    read_gated(live, "py-gated", tmp_path / "gate-record")
    record = live.sync(lambda engine: engine.store.recent("py-gated", 1)[0])  # type: ignore[union-attr]
    assert record.status == "success"
    assert record.response == "first second third"
    assert record.stream_chunks is not None and record.stream_chunks >= 3
    buffered = live.client().invoke(FunctionName="py-plain", Payload=b"{}")
    assert buffered["StatusCode"] == 200
    record = live.sync(lambda engine: engine.store.recent("py-plain", 1)[0])  # type: ignore[union-attr]
    assert record.stream_chunks is None


def test_streams_from_a_namespaced_sandbox(root: Path, tmp_path: Path) -> None:
    """Under ``auto`` isolation (namespaces where the machine allows them) the runtime's
    streamed /response reaches boto3 the same way."""
    server = LiveServer(root, tmp_path / "state-auto", isolation="auto").start()
    try:
        events = list(stream_events(server, "py-large", {"chunks": 3, "size": 4}))
        chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
        assert b"".join(chunks) == b"xxxx" * 3
        assert events[-1] == {"InvokeComplete": {}}
    finally:
        server.stop()


def test_timeout_mid_stream_ends_the_stream_with_the_timeout(live: LiveServer) -> None:
    events = list(stream_events(live, "py-stalls", {}))
    assert events[0] == {"PayloadChunk": {"Payload": b"before the timeout"}}
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]


def test_a_reader_gone_mid_stream_leaves_the_function_usable(
    live: LiveServer, tmp_path: Path
) -> None:
    gate = tmp_path / "gate-gone"
    stream = live.client().invoke_with_response_stream(
        FunctionName="py-gated", Payload=json.dumps({"gate": str(gate)}).encode()
    )["EventStream"]
    assert next(iter(stream)) == {"PayloadChunk": {"Payload": b"first "}}
    stream.close()  # the connection goes with it
    gate.touch()

    def finished(engine: Any) -> bool:
        records = engine.store.recent("py-gated", 1)
        return bool(records) and records[0].status == "success"

    until_sync(lambda: live.sync(finished))
    first, rest, _ = read_gated(live, "py-gated", tmp_path / "gate-again")
    assert first + rest == b"first second third"
