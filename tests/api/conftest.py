"""Fixtures for the API tests: a live server over a folder of test functions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import make_function

from .live_server import LiveServer

ECHO = """
import json
def handler(event, context):
    return {
        "event": event,
        "function_name": context.function_name,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
        "client_context": None if context.client_context is None else {
            "custom": context.client_context.custom,
            "env": context.client_context.env,
        },
    }
"""

RAISER = """
def handler(event, context):
    print("about to fail")
    raise ValueError("bad order " + str(event.get("id")))
"""


@pytest.fixture
def api_root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(root, "echo", ECHO, description="echoes")
    make_function(root, "raiser", RAISER)
    return root


@pytest.fixture
def live(api_root: Path, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(api_root, tmp_path / "state").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(live: LiveServer):
    return live.client()
