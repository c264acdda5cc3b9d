"""The event loop the benchmarks run an in-process engine on: the one ``workbench serve`` and the
TUI run it on (``workbench/cli/event_loop.py``: uvloop, or asyncio's own with
``WORKBENCH_LOOP=asyncio``), so a figure measures the engine as its users run it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from workbench.cli import event_loop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the workbench's loop."""
    with asyncio.Runner(loop_factory=event_loop.loop_factory()) as runner:
        return runner.run(main)


def new_loop() -> asyncio.AbstractEventLoop:
    """A new loop of that kind (for a script that drives it itself)."""
    return event_loop.loop_factory()()


def name() -> str:
    """``uvloop`` or ``asyncio``: the loop ``run`` uses (asyncio's where uvloop is missing)."""
    return "asyncio" if event_loop.loop_factory() is asyncio.new_event_loop else "uvloop"


def describe() -> str:
    """``/path/to/python (3.11.7, engine on uvloop)``: for a benchmark's first line."""
    return f"{sys.executable} ({sys.version.split()[0]}, engine on {name()})"
