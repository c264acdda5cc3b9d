"""pdb on this terminal, for a handler run by this process's engine (``invoke --debug``).

The handler's pdb runs in its sandbox and talks to the engine (``engine.debugger``); this is the
front end that gives it the terminal back: what pdb prints goes to stdout, and at each prompt one
command is read from stdin with ``input()`` (in a thread, so the engine runs on meanwhile and a
TTY gets readline's line editing and history). A script on stdin works as it does with pdb
itself; at the end of stdin the session is detached (its breakpoints cleared) and the handler
runs to its end.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..engine import DebugEvent, Engine

T = TypeVar("T")


async def debugged(engine: Engine, invocation: Awaitable[T]) -> T:
    """Await ``invocation`` with this terminal attached as the engine's debugger."""
    terminal = _Terminal(engine)
    engine.debugger.attach()
    sub = engine.subscribe()
    task = asyncio.ensure_future(invocation)
    getter: asyncio.Future[Any] | None = None
    try:
        while True:
            if getter is None:
                getter = asyncio.ensure_future(sub.get())
            waiting: set[asyncio.Future[Any]] = {getter, task}
            if terminal.answer is not None:
                waiting.add(terminal.answer)
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                terminal.on_event(getter.result())
                getter = None
            if terminal.answer is not None and terminal.answer.done():
                terminal.on_answer()
            if task.done():
                for event in sub.get_nowait():  # what pdb printed last (its ``ended``, say)
                    terminal.on_event(event)
                break
    finally:
        if getter is not None:
            getter.cancel()
        if not task.done():
            task.cancel()
        sub.close()
        engine.debugger.detach()
        terminal.finish()
    return await task


class _Terminal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.paused: dict[str, DebugEvent] = {}  # sessions waiting for a command
        self.answer: asyncio.Future[str | None] | None = None  # the line being read
        self.asking: str | None = None  # for which session
        self.eof = False
        self.wrote = False
        self.last = "\n"

    def on_event(self, event: object) -> None:
        if not isinstance(event, DebugEvent):
            return
        if event.kind == "output":
            self.write(event.text)
        elif event.kind == "paused":
            self.paused[event.request_id] = event
            if self.eof:
                self.engine.debugger.detach_session(event.request_id)
            else:
                self.ask()
        else:  # resumed, ended
            self.paused.pop(event.request_id, None)

    def ask(self) -> None:
        """Read one command for the oldest paused session (one reader at a time)."""
        if self.answer is not None or not self.paused:
            return
        request_id, event = next(iter(self.paused.items()))
        self.asking = request_id
        self.answer = _read_line(event.prompt)
        self.wrote = True  # input() writes the prompt

    def on_answer(self) -> None:
        assert self.answer is not None
        line = self.answer.result()
        self.answer, request_id, self.asking = None, self.asking, None
        # on a terminal the user's enter ended the line; a script's lines are not echoed
        self.last = "\n" if _interactive() else " "
        if line is None:  # end of stdin: detach, let every paused handler run on
            self.eof = True
            self.finish()
            print("debugger: end of input, detached; the handler runs on", file=sys.stderr)
            for paused in list(self.paused):
                self.engine.debugger.detach_session(paused)
            return
        # answered: running until the next stop
        if request_id is not None and self.paused.pop(request_id, None) is not None:
            try:
                self.engine.debugger.send(request_id, line)
            except (KeyError, ValueError):
                pass  # the session ended while the line was typed
        self.ask()

    def write(self, text: str) -> None:
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
            self.wrote = True
            self.last = text[-1]

    def finish(self) -> None:
        """Leave stdout at the start of a line, for the response that follows."""
        if self.wrote and self.last != "\n":
            self.write("\n")


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


class _Script:
    """Lines from a non-terminal stdin, read from fd 0 itself: a daemon thread blocked in
    ``sys.stdin.readline()`` holds its lock, and the interpreter aborts at exit over it."""

    def __init__(self) -> None:
        self.buf = b""
        self.eof = False

    def readline(self) -> str | None:
        while b"\n" not in self.buf and not self.eof:
            chunk = os.read(0, 65536)
            self.eof = not chunk
            self.buf += chunk
        if not self.buf:
            return None
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8", "replace").removesuffix("\r")


_script = _Script()


def _read_line(prompt: str) -> asyncio.Future[str | None]:
    """One command in a daemon thread (ctrl+c never waits for it); None at end of input.

    A terminal gets ``input(prompt)``, with readline's editing and history."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()
    if _interactive():
        try:
            import readline  # noqa: F401 - gives input() line editing and history
        except ImportError:
            pass

    def settle(line: str | None) -> None:
        if not future.done():
            future.set_result(line)

    interactive = _interactive()
    if not interactive:
        sys.stdout.write(prompt)
        sys.stdout.flush()

    def run() -> None:
        try:
            line: str | None = input(prompt) if interactive else _script.readline()
        except (EOFError, OSError, ValueError):
            line = None
        try:
            loop.call_soon_threadsafe(settle, line)
        except RuntimeError:  # the loop is gone: the command is over
            pass

    threading.Thread(target=run, name="pdb-input", daemon=True).start()
    return future
