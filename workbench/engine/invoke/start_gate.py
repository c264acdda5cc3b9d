"""How many runtimes may be starting at once, and a fair queue for the rest.

Starting a runtime costs CPU (an interpreter starts and imports our client: ~15-25 ms of a core
for Python); a burst of a thousand cold starts on a two-core machine, all at once, makes every
one of them slow, stretches INIT past Lambda's 10 s limit and starves the engine's loop. Lambda
itself scales a function by at most 1,000 new environments per 10 s. So a cold start first takes
a slot here; at most ``limit`` runtimes start together, each holding its slot until its runtime
has connected to the Runtime API (the interpreter is up) or INIT has ended. Waiters are served
round robin across functions (one function's burst never starves another's single call), first
come first served within a function. The wait is the caller's to show: it is not INIT, and not
billed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque


def default_limit() -> int:
    """Four per CPU, at least 8: enough to keep every core busy while some starts wait on I/O
    (measured with ``benchmarks/concurrency.py``: 8 starts 300 runtimes on 2 CPUs as fast as
    no limit at all, and a thousand at once no longer push INIT past 10 s)."""
    return max(8, 4 * (os.cpu_count() or 1))


class StartGate:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the start limit must be at least 1, not {limit}")
        self.limit = limit
        self.starting = 0  # slots held
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}  # per function, FIFO
        self._turns: deque[str] = deque()  # functions with waiters, round robin

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    async def enter(self, function: str) -> float:
        """Take a slot (waiting for one if none is free); the seconds waited."""
        if self.starting < self.limit and not self._waiting:
            self.starting += 1
            return 0.0
        waiter = asyncio.get_running_loop().create_future()
        queue = self._waiting.get(function)
        if queue is None:
            queue = self._waiting[function] = deque()
            self._turns.append(function)
        queue.append(waiter)
        t0 = time.monotonic()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # the slot came as it was cancelled: pass it on
            raise
        return time.monotonic() - t0

    def leave(self) -> None:
        """Give a slot back: the next waiter (round robin over functions) takes it over."""
        while self._turns:
            function = self._turns.popleft()
            queue = self._waiting[function]
            waiter = queue.popleft()
            if queue:
                self._turns.append(function)
            else:
                del self._waiting[function]
            if not waiter.done():  # not cancelled while it waited
                waiter.set_result(None)
                return
        self.starting -= 1
