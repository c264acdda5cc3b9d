"""The TUI serves the functions' HTTP routes beside the Lambda API: requests show in its log."""

from __future__ import annotations

import asyncio
import functools
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.tui.pilot import wait_until
from workbench.api import start_api
from workbench.api.http_trigger import start_http
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.invocation_log import InvocationLog

from ..helpers import make_function


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    folder = make_function(
        root, "items", "def handler(event, context):\n    return event['pathParameters']\n"
    )
    with (folder / "function.toml").open("a") as f:
        f.write('\n[[triggers]]\ntype = "http"\nmethod = "GET"\npath = "/items/{id}"\n')
    return root


async def test_the_tui_serves_http_routes_beside_the_api(root: Path, tmp_path: Path) -> None:
    app = WorkbenchApp(
        [root],
        state_dir=tmp_path / "state",
        serve=functools.partial(start_api, host="127.0.0.1", port=0),
        serve_address="x",
        serve_http=functools.partial(start_http, host="127.0.0.1", port=0),
        serve_http_address="y",
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.http_server is not None)
        assert app.sub_title == (
            f"Lambda API {app.api_server.url} · HTTP routes {app.http_server.url}"
        )
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{app.http_server.url}/items/7") as response:
                assert response.status == 200
                assert await response.json() == {"id": "7"}
        log = app.query_one(InvocationLog)
        await wait_until(
            pilot,
            lambda: any(r.trigger == "http:GET /items/{id}" for r in log.records.values()),
        )
    # the server is closed with the app
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", app.http_server.port)


async def test_a_taken_http_port_is_a_warning_and_the_tui_runs_on(
    root: Path, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = WorkbenchApp(
            [root],
            state_dir=tmp_path / "state",
            serve=functools.partial(start_api, host="127.0.0.1", port=0),
            serve_address="x",
            serve_http=functools.partial(start_http, host="127.0.0.1", port=port),
            serve_http_address=f"127.0.0.1:{port}",
        )
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: bool(app._notifications))
            notes = [n.message for n in app._notifications]
            assert any(f"cannot listen on 127.0.0.1:{port}" in n for n in notes)
            assert any("--http-port" in n for n in notes)
            assert app.http_server is None
            assert app.api_server is not None  # the Lambda API still serves
            # the header says so for the whole run, after the toast is gone
            taken_note = f"✕ HTTP routes: 127.0.0.1:{port} in use"
            # first: a narrow header cuts the end
            assert app.sub_title == f"{taken_note} · Lambda API {app.api_server.url}"
            app.clear_notifications()
            await pilot.pause()
            assert taken_note in str(app.screen.query_one("HeaderTitle").render())
