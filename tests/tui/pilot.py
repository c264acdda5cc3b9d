"""Helpers for Pilot tests: wait on the app's state, never on a fixed sleep."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from tests.helpers import until


async def wait_until(
    pilot: Pilot, check: Callable[[], object], timeout: float = 15.0, step: float = 0.02
) -> None:
    """Let the app run until ``check()`` is true; fail after ``timeout`` seconds.

    ``until`` pausing with ``pilot.pause``, so the app keeps handling its messages meanwhile.
    """
    await until(check, "the app", timeout=timeout, step=step, pause=pilot.pause)
