"""``workbench serve`` with HTTP routes: served on --http-port, listed, relisted on reload."""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

from tests.helpers import make_function
from tests.test_cli_serve import serve_command, start_serve, until_line

ROUTE = """
def handler(event, context):
    return {"route": event["routeKey"], "params": event.get("pathParameters")}
"""


def with_route(root: Path, name: str, path: str, method: str = "GET") -> None:
    folder = make_function(root, name, ROUTE)
    with (folder / "function.toml").open("a") as f:
        f.write(f'\n[[triggers]]\ntype = "http"\nmethod = "{method}"\npath = "{path}"\n')


def lines_until(output: queue.Queue[str], pattern: str) -> str:
    """The first of serve's lines that matches ``pattern`` (30 s at most)."""
    return until_line(output, lambda line: re.search(pattern, line) is not None)[-1]


def test_serve_prints_and_serves_the_routes_and_follows_reloads(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    with_route(root, "items", "/items/{id}")
    proc, _, output = start_serve(root, tmp_path / "state")  # on a free port (0)
    try:
        routes_on = lines_until(output, "HTTP routes on")
        bound = re.fullmatch(r"HTTP routes on http://127\.0\.0\.1:(\d+)", routes_on)
        assert bound, routes_on
        port = int(bound[1])
        assert output.get(timeout=30) == "  GET /items/{id} -> items (payload 2.0)"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/items/42", timeout=30) as response:
            assert response.status == 200
            assert response.headers["apigw-requestid"]
            assert json.loads(response.read()) == {
                "route": "GET /items/{id}",
                "params": {"id": "42"},
            }
        lines_until(output, r"^REPORT RequestId:")  # its log, as any invocation's
        # a new route saved while serve runs is listed and served (serve printed its banner
        # once its watcher followed the folder)
        with_route(root, "orders", "/orders", method="POST")
        lines_until(output, "HTTP routes on .* now")
        listed = [output.get(timeout=30), output.get(timeout=30)]
        assert listed == [
            "  GET /items/{id} -> items (payload 2.0)",
            "  POST /orders -> orders (payload 2.0)",
        ]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/orders", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["route"] == "POST /orders"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_a_taken_http_port_is_one_clear_line(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    with_route(root, "items", "/items/{id}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            serve_command(root, tmp_path / "state", "--http-port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "--http-port" in line


def test_serve_prints_each_function_url(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    folder = make_function(root, "hook", ROUTE)
    with (folder / "function.toml").open("a") as f:
        f.write('\n[url]\nauth_type = "NONE"\n')
    proc, _, output = start_serve(root, tmp_path / "state")
    try:
        line = lines_until(output, r"^  URL hook -> ")
        found = re.fullmatch(
            r"  URL hook -> (http://[a-z2-7]{32}\.lambda-url\.us-east-1\.localhost:(\d+)/) "
            r"\(NONE, BUFFERED; or (http://127\.0\.0\.1:\d+/lambda-url/hook/)\)",
            line,
        )
        assert found, line
        for url in (found[1], found[3]):  # both ways in reach the function
            done = subprocess.run(
                ["curl", "-sS", "--max-time", "30", url + "x"], capture_output=True, check=True
            )
            assert json.loads(done.stdout)["route"] == "$default"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
