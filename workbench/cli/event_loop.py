"""The event loop every command runs the engine on: uvloop, or asyncio's own on request.

uvloop (libuv under asyncio's interface) carries a warm invocation's socket writes, timers and
callbacks in C: 2,285 → 2,744 invocations/s over HTTP with 8 connections here (three rounds
alternating, ``benchmarks/throughput.py``). ``WORKBENCH_LOOP=asyncio`` runs on the standard
library's loop instead, for debugging the loop itself (``PYTHONASYNCIODEBUG``) or a platform
without uvloop; where uvloop cannot be imported, asyncio's loop is used and nothing else changes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

CHOICES = ("uvloop", "asyncio")


class LoopChoiceError(ValueError):
    """WORKBENCH_LOOP names no loop we have."""


def chosen() -> str:
    """``uvloop`` or ``asyncio``: what ``WORKBENCH_LOOP`` asks for (uvloop when unset)."""
    value = os.environ.get("WORKBENCH_LOOP", "").strip().lower() or "uvloop"
    if value not in CHOICES:
        raise LoopChoiceError(
            f"WORKBENCH_LOOP={os.environ['WORKBENCH_LOOP']!r} is not a loop the workbench runs "
            f"on: use {' or '.join(CHOICES)} (or leave it unset for uvloop)"
        )
    return value


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    if chosen() == "uvloop":
        try:
            import uvloop
        except ImportError:  # a platform without its wheel: the standard loop does the same work
            return asyncio.new_event_loop
        return uvloop.new_event_loop
    return asyncio.new_event_loop
