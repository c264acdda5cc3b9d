"""A ``RESPONSE_STREAM`` function URL sends the function's response as it streams it: curl reads
the first bytes while the handler still waits, a Node ``HttpResponseStream.from`` prelude becomes
the status, headers and cookies, and a Python generator's chunks arrive as a plain 200."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import make_function

from .live_server import LiveServer

NODE_HTTP_GATED = """
const fs = require('fs');
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/plain', 'x-kind': 'streamed' },
    cookies: ['flavour=salt'],
  });
  stream.write('first ');
  const gate = process.env.GATE;
  for (let i = 0; i < 6000 && !fs.existsSync(gate); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  stream.end(fs.existsSync(gate) ? 'second' : 'gate never opened');
});
"""

PY_GENERATOR = """
def handler(event, context):
    def parts():
        yield "alpha "
        yield b"beta"
    return parts()
"""

STREAMED = '[url]\nauth_type = "NONE"\ninvoke_mode = "RESPONSE_STREAM"\n'


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    root = tmp_path / "functions"
    node = root / "node-stream"
    node.mkdir(parents=True)
    (node / "index.js").write_text(NODE_HTTP_GATED)
    (node / "function.toml").write_text(
        'runtime = "nodejs20.x"\nhandler = "index.handler"\n'
        f'[environment]\nGATE = "{tmp_path / "gate"}"\n\n' + STREAMED
    )
    folder = make_function(root, "py-stream", PY_GENERATOR)
    with (folder / "function.toml").open("a") as f:
        f.write("\n" + STREAMED)
    server = LiveServer(root, tmp_path / "state", http=True).start()
    try:
        yield server
    finally:
        server.stop()


def _head_and_body(raw: bytes) -> tuple[int, dict[str, list[str]], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(lines[0].split()[1]), headers, body


@pytest.mark.skipif(shutil.which("node") is None, reason="no node here")
def test_a_streamed_url_is_read_while_the_handler_runs(live: LiveServer, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{live.http_port}/lambda-url/node-stream/"
    curl = subprocess.Popen(
        ["curl", "-sS", "-N", "--max-time", "90", "-D", "-", url], stdout=subprocess.PIPE
    )
    try:
        assert curl.stdout is not None
        seen = b""
        while b"first " not in seen:  # (the handler waits for the gate until we have read it)
            piece = curl.stdout.read1(4096)
            assert piece, f"the stream ended before its first chunk: {seen!r}"
            seen += piece
        (tmp_path / "gate").touch()
        seen += curl.stdout.read()
    finally:
        curl.wait(60)
    status, headers, body = _head_and_body(seen)
    assert status == 201
    assert headers["x-kind"] == ["streamed"] and headers["content-type"] == ["text/plain"]
    assert headers["set-cookie"] == ["flavour=salt"]
    assert headers["x-amzn-requestid"]
    assert body == b"first second"


def test_a_python_generator_streams_as_a_plain_200(live: LiveServer) -> None:
    url = f"http://127.0.0.1:{live.http_port}/lambda-url/py-stream/"
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "60", "-D", "-", url], capture_output=True, check=True
    )
    status, _, body = _head_and_body(done.stdout)
    assert status == 200 and body == b"alpha beta"
