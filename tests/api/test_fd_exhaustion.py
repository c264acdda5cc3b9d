"""1,000 idle clients against a Lambda API that has 256 file descriptors.

The server runs in a process of its own (``limited_server.py``) with ``RLIMIT_NOFILE`` 256; the
test opens 1,000 connections that never send a byte. Before, asyncio's accept loop logged a
traceback per failed ``accept()`` and every API call hung; now the server says so once, keeps
descriptors for the engine, and a normal call (and an invocation) is answered.
"""

from __future__ import annotations

import http.client
import json
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import make_function

IDLE_CLIENTS = 1000
SERVER_NOFILE = 256
REPO = Path(__file__).resolve().parents[2]


class LimitedServer:
    """``tests.api.limited_server`` in a child process; its log lines, as they come."""

    def __init__(self, root: Path, state_dir: Path, nofile: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.api.limited_server",
                str(root),
                str(state_dir),
                str(nofile),
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        first = self.proc.stdout.readline()
        assert first.startswith("port "), first + self.proc.stderr.read()
        self.port = int(first.split()[1])
        self.lines: list[str] = []
        self._pump = threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True)
        self._pump.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str) -> None:
        deadline = time.monotonic() + 120
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no {text!r} in:\n" + "\n".join(self.lines)
            time.sleep(0.02)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # its signal to shut down
        try:
            self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._pump.join(10)


@pytest.fixture
def enough_descriptors() -> Iterator[None]:
    """This process holds the 1,000 client sockets: raise its soft limit for the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE_CLIENTS + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the hard RLIMIT_NOFILE ({hard}) is below the {wanted} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_thousand_idle_clients_at_256_descriptors(tmp_path: Path, enough_descriptors) -> None:
    root = tmp_path / "functions"
    make_function(root, "echo", "def handler(event, context):\n    return event\n")
    server = LimitedServer(root, tmp_path / "state", SERVER_NOFILE)
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE_CLIENTS):  # connect and say nothing; never wait for the handshake
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
            idle.append(sock)
        server.wait_for_line("Too many open files")

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            conn.request("GET", "/2015-03-31/functions")
            listed = conn.getresponse()
            assert listed.status == 200
            assert [f["FunctionName"] for f in json.loads(listed.read())["Functions"]] == ["echo"]
            conn.request("POST", "/2015-03-31/functions/echo/invocations", body=b'{"n": 1}')
            invoked = conn.getresponse()
            assert (invoked.status, json.loads(invoked.read())) == (200, {"n": 1})
        finally:
            conn.close()
    finally:
        for sock in idle:
            sock.close()
        server.stop()

    log = server.lines
    out_of_fds = [line for line in log if "Too many open files" in line]
    assert len(out_of_fds) == 1, "\n".join(log)
    assert out_of_fds[0].startswith("WARNING workbench.api Lambda API: cannot accept connections")
    assert not [line for line in log if "Traceback" in line or line.startswith("ERROR")], log
