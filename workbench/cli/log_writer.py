"""serve's log on its stdout, written by a thread of its own so the engine never waits for it.

A terminal paused with ctrl+s, or a pipe nobody reads, blocks a write once its buffer is full:
written from the event loop, that stopped every invocation with it. The loop only hands lines
over (at most every ``FLUSH_S``, so a burst goes out in one write); the thread writes them.
While the output does not move, lines wait in memory up to ``MAX_PENDING`` bytes; past that
they are dropped and counted, and a line says how many once it moves again (every invocation's
log is in its record: ``workbench logs``, the TUI).
"""

from __future__ import annotations

import asyncio
import threading
from typing import TextIO

FLUSH_S = 0.005  # how long the loop gathers lines before the thread is woken
MAX_PENDING = 8 << 20  # bytes of lines waiting for a stalled output before lines are dropped


class LogWriter:
    """``line`` from the event loop; ``close`` writes what is left (within its timeout)."""

    def __init__(self, out: TextIO, max_pending: int = MAX_PENDING) -> None:
        self._out = out
        self._max = max_pending
        self._cond = threading.Condition()
        self._lines: list[str] = []  # handed over, not written yet
        self._size = 0
        self._dropped = 0
        self._closed = False
        self._wake: asyncio.TimerHandle | None = None
        self._failed: OSError | None = None  # raised by the next line, as a print would
        self._thread = threading.Thread(target=self._run, name="workbench-serve-log", daemon=True)
        self._thread.start()

    def line(self, text: str) -> None:
        if self._failed is not None:
            raise self._failed
        with self._cond:
            if self._size + len(text) > self._max:
                self._dropped += text.count("\n") + 1
                return
            self._lines.append(text)
            self._size += len(text) + 1
        if self._wake is None:
            self._wake = asyncio.get_running_loop().call_later(FLUSH_S, self._notify)

    def _notify(self) -> None:
        self._wake = None
        with self._cond:
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._lines and not self._dropped and not self._closed:
                    self._cond.wait()
                if not self._lines and not self._dropped:
                    return  # closed, and all written
                lines, self._lines, self._size = self._lines, [], 0
                dropped, self._dropped = self._dropped, 0
            if dropped:
                lines.append(
                    f"[workbench] {dropped:,} log lines not printed here: serve's output was not "
                    "read as fast as they came (each invocation's log is in its record: "
                    "`workbench logs`)"
                )
            try:
                self._out.write("\n".join(lines) + "\n")
                self._out.flush()
            except (OSError, ValueError) as e:  # a closed pipe: serve ends on its next line
                self._failed = e if isinstance(e, OSError) else OSError(str(e))
                return

    def close(self, timeout: float = 2.0) -> None:
        """Write what is left, waiting up to ``timeout`` s for an output that does not move."""
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)
