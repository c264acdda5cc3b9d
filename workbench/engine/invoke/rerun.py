"""Re-run on save: after each hot reload of one function, invoke its last event again.

The shortest loop from editing a handler to seeing what changed: ``workbench watch`` and the
TUI's ``w`` both follow the engine's event stream with a ``RerunOnSave``. A reload that left
the function broken (a file that does not compile, a bad ``function.toml``) is reported, not
invoked; the next good save is. A burst of saves never piles invocations up: at most one runs
and one waits, and the waiting one takes every save seen meanwhile (it runs the newest code).

The event is the one given; else the function's newest stored record's whole event; else
``{}``. Looked up at each re-run, so an invocation from elsewhere in between (the TUI's ctrl+r
with another event) becomes the one re-run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..config.function import FunctionConfig
from ..model.errors import LambdaError
from ..model.events import Dropped, FunctionReloaded, Subscription
from ..model.problems import CodeProblem
from ..model.records import InvocationRecord
from ..storage.store import RecordStore
from .function_state import FunctionState
from .results import InvocationCancelled, InvokeResult

log = logging.getLogger("workbench.rerun")


class RerunHost(Protocol):
    """What a re-run needs of the engine (``Engine`` is one)."""

    @property
    def store(self) -> RecordStore | None: ...

    @property
    def functions(self) -> Mapping[str, FunctionConfig]: ...

    def subscribe(self, maxsize: int = ...) -> Subscription: ...

    def function_state(self, name: str) -> FunctionState | None: ...

    def problem(self, name: str) -> CodeProblem | None: ...

    def keep(self, task: asyncio.Task[Any]) -> None: ...

    async def invoke(
        self, function: str, payload: bytes | str | None = ..., *, trigger: str | None = ...
    ) -> InvokeResult: ...


TRIGGER = "rerun"
STARTED, FINISHED, BROKEN, REFUSED = "started", "finished", "broken", "refused"


@dataclass(frozen=True, slots=True)
class RerunReport:
    """What a save led to.

    kind: ``started`` (the re-run invocation began), ``finished`` (with its ``result``; one
    ``cancel_run`` stopped has a record with status ``cancelled``),
    ``broken`` (the save left the function with ``problem``: not invoked), ``refused`` (the
    engine would not run it: ``message``, e.g. the function was removed, or throttled).
    ``files``: the saved files it answers (several when saves were coalesced; none for the
    run ``start(now=…)`` asked for). ``trigger``: the invocation's (``rerun`` after a save).
    """

    function: str
    kind: str
    files: tuple[str, ...]
    at: float
    trigger: str = TRIGGER
    result: InvokeResult | None = None
    problem: CodeProblem | None = None
    message: str = ""


def relative_files(files: Iterable[str], folder: Path) -> list[str]:
    """The saved files as a user names them: relative to the function's folder when inside."""
    shown = []
    for name in files:
        try:
            shown.append(str(Path(name).relative_to(folder)))
        except ValueError:
            shown.append(str(name))
    return shown


def stored_event(engine: RerunHost, name: str) -> tuple[bytes, InvocationRecord | None]:
    """The function's newest stored record's whole event and that record; else ``{}``, None."""
    store = engine.store
    records = store.recent(name, 1) if store is not None else []
    event = records[0].event() if records else None
    if event is None:
        return b"{}", None
    return (event if event.strip() else b"{}"), records[0]


def last_event(engine: RerunHost, name: str) -> bytes:
    """The function's newest stored record's whole event, else ``{}``."""
    return stored_event(engine, name)[0]


class RerunOnSave:
    """Follows ``engine``'s reloads of ``function`` and re-invokes it (see the module docstring).

    ``on_report`` is called on the engine's loop for every ``RerunReport``. Start it (``start``)
    before the saves it should see; ``close`` stops it (a running re-run is cancelled).
    """

    def __init__(
        self,
        engine: RerunHost,
        function: str,
        on_report: Callable[[RerunReport], None],
        *,
        event: bytes | None = None,
    ) -> None:
        self.engine = engine
        self.function = function
        self.event = event  # None: the newest stored record's (see ``last_event``)
        self.on_report = on_report
        self.runs = 0  # re-run invocations started
        self._pending: list[str] | None = None  # files of saves not yet run
        self._trigger = TRIGGER  # of the pending run
        self._wake = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._current: asyncio.Task[InvokeResult] | None = None  # the re-run invocation running
        self._subscription: Subscription | None = None
        state = engine.function_state(function)
        self._revision = state.revision if state else 0

    @property
    def running(self) -> bool:
        return self._follower is not None and not self._follower.done()

    @property
    def waiting(self) -> bool:
        """A re-run is queued behind the running one (or about to start)."""
        return self._pending is not None

    def start(self, now: str | None = None) -> RerunOnSave:
        """Follow the reloads from here on; ``now``: also run once at once, with that trigger
        (``workbench watch``'s first run; reported broken instead if the function is)."""
        loop = asyncio.get_running_loop()
        self._subscription = self.engine.subscribe()
        self._follower = loop.create_task(self._follow(), name=f"rerun-follow:{self.function}")
        self._runner = loop.create_task(self._run(), name=f"rerun-run:{self.function}")
        for task in (self._follower, self._runner):
            self._track(task)
        if now is not None:
            problem = self.engine.problem(self.function)
            if problem is not None:
                self._report(BROKEN, (), problem=problem, trigger=now)
            else:
                self._queue((), trigger=now)
        return self

    def _track(self, task: asyncio.Task[object]) -> None:
        """Among the engine's tasks: closing the engine stops it too."""
        self.engine.keep(task)

    def close(self) -> None:
        for task in (self._follower, self._runner):
            if task is not None:
                task.cancel()
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    @property
    def invoking(self) -> bool:
        """A re-run invocation is running now."""
        return self._current is not None and not self._current.done()

    def cancel_run(self) -> bool:
        """Stop the re-run invocation running now (its environment is shut down, as for any
        cancelled invocation); whether one was running. Reported ``finished``, its record
        ``cancelled`` (``refused`` if it had not reached the engine yet)."""
        if not self.invoking:
            return False
        assert self._current is not None
        self._current.cancel()
        return True

    async def aclose(self) -> None:
        """``close``, then wait until both tasks have stopped."""
        self.close()
        tasks = [t for t in (self._follower, self._runner) if t is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    def event_bytes(self) -> bytes:
        """The event the next re-run sends."""
        return self.event if self.event is not None else last_event(self.engine, self.function)

    # ----------------------------------------------------------------- following

    async def _follow(self) -> None:
        assert self._subscription is not None
        async for event in self._subscription:
            if isinstance(event, FunctionReloaded) and event.function == self.function:
                self._revision = event.revision
                self._saw(event)
            elif isinstance(event, Dropped):
                self._caught_up()

    def _saw(self, event: FunctionReloaded) -> None:
        """One reload of the function: report it broken, or queue a re-run."""
        if event.change == "removed":
            self._pending = None  # nothing to run any more
            self._report(REFUSED, event.files, message=f"{self.function} was removed")
        elif event.problem is not None:
            self._pending = None  # the waiting re-run would run broken code: drop it
            self._report(BROKEN, event.files, problem=event.problem)
        else:
            self._queue(event.files)

    def _caught_up(self) -> None:
        """Events were lost (a flood); if the function was reloaded meanwhile, act on it."""
        state = self.engine.function_state(self.function)
        if state is None or state.revision == self._revision:
            return
        self._revision = state.revision
        problem = self.engine.problem(self.function)
        if problem is not None:
            self._pending = None
            self._report(BROKEN, (), problem=problem)
        elif self.function in self.engine.functions:
            self._queue(())

    def _queue(self, files: tuple[str, ...], trigger: str = TRIGGER) -> None:
        if self._pending is None:
            self._pending = []
            self._trigger = trigger
        self._pending.extend(f for f in files if f not in self._pending)
        self._wake.set()

    # ----------------------------------------------------------------- running

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._pending is None:
                continue
            files, self._pending = tuple(self._pending), None
            await self._invoke(files, self._trigger)

    async def _invoke(self, files: tuple[str, ...], trigger: str) -> None:
        try:  # a store read (it waits for the record writer): off the loop
            payload = await asyncio.to_thread(self.event_bytes)
        except Exception as e:  # noqa: BLE001 - a store that cannot be read: say so, go on
            message = f"the last event could not be read: {e}"
            self._report(REFUSED, files, message=message, trigger=trigger)
            return
        self.runs += 1
        self._report(STARTED, files, trigger=trigger)
        # its own task, so ``cancel_run`` can stop it and this loop go on
        current = asyncio.get_running_loop().create_task(self._invocation(payload, trigger))
        self._current = current
        self._track(current)
        try:
            await asyncio.wait({current})
        finally:
            self._current = None
            if not current.done():  # we were closed: stop it too
                current.cancel()
        if current.cancelled():  # before the engine had it
            message = "Cancelled before it started."
            self._report(REFUSED, files, message=message, trigger=trigger)
            return
        try:
            result = current.result()
        except LambdaError as e:
            self._report(REFUSED, files, message=f"{e.code}: {e.message}", trigger=trigger)
            return
        except RuntimeError as e:  # the engine closed under us
            log.debug("re-run of %s stopped: %s", self.function, e)
            return
        self._report(FINISHED, files, result=result, trigger=trigger)

    async def _invocation(self, payload: bytes, trigger: str) -> InvokeResult:
        """The re-run's invocation; one ``cancel_run`` stopped is reported finished with its
        record (status ``cancelled``, how long it ran), as the engine recorded it."""
        try:
            return await self.engine.invoke(self.function, payload, trigger=trigger)
        except InvocationCancelled as e:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # handled: this task ends with the record, not cancelled
            return e.result

    def _report(self, kind: str, files: tuple[str, ...], **fields: object) -> None:
        report = RerunReport(self.function, kind, tuple(files), time.time(), **fields)  # type: ignore[arg-type]
        try:
            self.on_report(report)
        except Exception:  # a front end's bug must not stop the loop
            log.exception("re-run report of %s failed", self.function)
