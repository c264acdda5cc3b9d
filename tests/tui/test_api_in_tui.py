"""The TUI serves the Lambda API on its own loop: invocations over HTTP show in its log."""

from __future__ import annotations

import asyncio
import functools
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.tui.pilot import wait_until
from workbench.api import start_api
from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.invocation_log import InvocationLog

from ..helpers import make_function


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "hello", "def handler(event, context):\n    return {'hi': event}\n")
    return root


async def test_the_tui_serves_the_api_and_logs_its_invocations(root: Path, tmp_path: Path) -> None:
    serve = functools.partial(start_api, host="127.0.0.1", port=0)
    app = WorkbenchApp([root], state_dir=tmp_path / "state", serve=serve, serve_address="x")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: app.api_server is not None)
        assert app.sub_title == f"Lambda API {app.api_server.url}"
        url = f"{app.api_server.url}/2015-03-31/functions/hello/invocations"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=b'{"n": 1}') as response:
                assert response.status == 200
                assert await response.json() == {"hi": {"n": 1}}
        log = app.query_one(InvocationLog)
        await wait_until(pilot, lambda: any(r.trigger == "api" for r in log.records.values()))
    # the server is closed with the app
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", int(app.api_server.url.rsplit(":", 1)[1]))


async def test_a_taken_port_is_a_warning_and_the_tui_runs_on(root: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = functools.partial(start_api, host="127.0.0.1", port=port)
        app = WorkbenchApp(
            [root], state_dir=tmp_path / "state", serve=serve, serve_address=f"127.0.0.1:{port}"
        )
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: bool(app._notifications))
            notes = [n.message for n in app._notifications]
            assert any(f"cannot listen on 127.0.0.1:{port}" in n for n in notes)
            assert app.api_server is None
            assert app.engine.functions  # the workbench itself works
            # the header says so for the whole run, after the toast is gone
            taken_note = f"✕ Lambda API: 127.0.0.1:{port} in use"
            assert app.sub_title == taken_note
            app.clear_notifications()
            await pilot.pause()
            assert taken_note in str(app.screen.query_one("HeaderTitle").render())
