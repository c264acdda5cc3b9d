"""Helpers for Pilot tests: wait on the app's state, never on a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot


async def wait_until(
    pilot: Pilot, check: Callable[[], object], timeout: float = 15.0, step: float = 0.02
) -> None:
    """Let the app run until ``check()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(step)
