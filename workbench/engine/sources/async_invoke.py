"""The async dispatcher: runs the durable Event queue with Lambda's retry rules (§7).

A Source (``manager.py``) of background engines. Each attempt goes through the engine's own
invoke path (``Invoker.prepare``/``run``, invocation type ``Event``), so records, logs, the bus and
concurrency are as for any call. Every delay is multiplied by ``settings.time_scale``:

- a function error is retried after 60 s, then 120 s, up to ``maximum_retry_attempts``
  (default 2), then goes to ``on_failure`` as ``RetriesExhausted``;
- a throttle (or another service error) puts the event back with a backoff of
  ``min(2**n, 300)`` s, not counted as an attempt;
- an event older than ``maximum_event_age`` (default 21600 s) when it would start is not run:
  ``EventAgeExceeded``; reserved concurrency 0 sends it to ``on_failure`` at once
  (``ZeroReservedConcurrency``, LocalStack's condition);
- success goes to ``on_success``; an event whose function or qualifier is gone is discarded with
  a warning.

Dispatch is capacity-aware (the rule is ``Concurrency``'s): it starts no more of a function's
events than the function can admit, so a burst drains at full speed instead of throttling. It
claims a few rows ahead (``BUFFER``, leased like any claim) so the next attempt starts the
moment a slot frees; outcomes and claims are written together, one transaction per turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque

from ..config.function import FunctionConfig
from ..invoke.invoker import PreparedCall
from ..invoke.results import InvokeResult
from ..model.errors import LambdaError, ResourceNotFound, TooManyRequests
from ..model.events import AsyncEventChanged, AsyncStatus, EventBus
from ..model.trace import in_chain
from ..storage.async_queue import AsyncQueue, Claimed, DispatcherLock, Outcome
from . import destinations, recursion
from .host import SourceHost

log = logging.getLogger("workbench.async")

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 21600
RETRY_DELAYS_S = (60, 120)  # before the 2nd and the 3rd attempt
MAX_BACKOFF_S = 300
POLL_S = 0.1  # how often another process's enqueues are looked for ...
IDLE_POLL_MAX_S = 0.8  # ... doubling up to this while none come (an idle serve is idle)
MAINTAIN_S = 2.0  # how often leases are renewed and dead engines' rows taken back
CLOSE_GRACE_S = 2.0  # close waits this long for attempts in flight, then puts them back
EXPIRE_BATCH = 100  # rows expired per turn while their function has no capacity
BUFFER = 32  # rows per function claimed ahead of a free slot: fewer, larger claims
DISPATCH_LIMIT = 64  # attempts in flight at once from this engine (a local machine, not AWS)


def accept(queue: AsyncQueue, bus: EventBus, call: PreparedCall) -> str:
    """Commit a validated Event invocation to the queue; its request id."""
    now = time.time()
    name = call.function
    queue.enqueue(call.request_id, name, call.qualifier, call.data, call.trigger, now, call.chain)
    if bus.wants(AsyncEventChanged):
        bus.publish(AsyncEventChanged(call.request_id, name, "queued", 0, now, None, None, now))
    return call.request_id


def _setting(fn: FunctionConfig, key: str, default: int) -> int:
    """One of the function's ``[async]`` numbers (validated as it loaded)."""
    value = fn.async_config.get(key, default)
    return int(value) if isinstance(value, int | float) else default


def _error_summary(payload: bytes) -> str:
    try:
        body = json.loads(payload)
        return f"{body.get('errorType', 'Error')}: {body.get('errorMessage', '')}"[:1024]
    except (ValueError, AttributeError):
        return payload[:1024].decode("utf-8", "replace")


class AsyncDispatcher:
    def __init__(self, engine: SourceHost) -> None:
        self.engine = engine
        assert engine.async_queue is not None  # a running engine's
        self.queue: AsyncQueue = engine.async_queue
        self._wake = asyncio.Event()
        self._outcomes: list[Outcome] = []  # attempts ended, their records not yet committed
        self._ready: list[Outcome] = []  # their records are in the store: ready to settle
        self._flushing: asyncio.Task[None] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self._rows: dict[int, Claimed] = {}  # the rows of the attempts in _running
        self._starting: dict[str, int] = {}  # claimed, not yet admitted: per function
        self._starting_unreserved = 0
        self._starting_rows: dict[int, tuple[str, bool]] = {}
        self._buffer: dict[str, deque[Claimed]] = {}  # claimed, waiting for a free slot
        self._task: asyncio.Task[None] | None = None
        self._lock: DispatcherLock | None = None
        self._closing = False

    # --- Source ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._lock = DispatcherLock(self.engine.state_dir)
        recovered = self.queue.recover(time.time())
        if recovered:
            log.warning(
                "%d async event(s) left running by a stopped workbench: re-queued", recovered
            )
        self.queue.on_enqueue = self._wake.set
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def refresh(self) -> None:
        self._wake.set()  # a function came back, or its concurrency changed

    async def close(self) -> None:
        """Stop claiming; let attempts in flight finish briefly, put the rest back."""
        self._closing = True
        self.queue.on_enqueue = None
        self._wake.set()
        if self._task is not None:
            await self._task
        now = time.time()
        for rows in self._buffer.values():  # claimed, never started: back, due now
            self._outcomes.extend(Outcome(r.id, "queued", due_at=now, uncount=True) for r in rows)
        self._buffer.clear()
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=CLOSE_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._flushing is not None:
            await self._flushing
        await self._flush()
        self._write()
        if self._lock is not None:
            self._lock.release()

    # --- the loop -------------------------------------------------------------------------

    async def _loop(self) -> None:
        queue = self.queue
        seen_version = queue.data_version()
        last_maintain = 0.0
        next_due: float | None = 0.0
        dirty = True
        idle = POLL_S
        while not self._closing:
            now = time.time()
            if now - last_maintain >= MAINTAIN_S:
                last_maintain = now
                dirty = True  # a full turn now and then, whatever the wake-ups said
                try:
                    queue.renew(now)
                    queue.recover(now)
                except Exception:  # noqa: BLE001 - a locked database: next time
                    log.exception("async queue maintenance failed")
            if self._outcomes and self._flushing is None:
                self._flushing = asyncio.get_running_loop().create_task(self._flush())
            if dirty or self._ready:
                dirty = False
                try:
                    next_due = self._turn(now)
                except Exception:  # noqa: BLE001 - e.g. the database busy for 5 s: try again
                    log.exception("async dispatcher: claiming failed; retrying")
                    next_due = now + POLL_S
            self._wake.clear()
            timeout = idle
            if next_due is not None and next_due > now:
                timeout = min(idle, next_due - time.time())
            try:
                await asyncio.wait_for(self._wake.wait(), max(timeout, 0.0))
                dirty = True
            except TimeoutError:
                version = queue.data_version()
                if self._wake.is_set():  # set while wait_for was cancelling its wait (3.11)
                    dirty = True
                elif version != seen_version:
                    seen_version, dirty = version, True
                elif next_due is not None and next_due <= time.time():
                    dirty = True
            # nothing came: look less often, up to IDLE_POLL_MAX_S; anything: often again
            busy = dirty or self._ready or self._outcomes
            idle = POLL_S if busy else min(idle * 2, IDLE_POLL_MAX_S)

    async def _flush(self) -> None:
        """Wait (off the loop) until the records of the ended attempts are committed: a row
        is marked done only once its record is stored, so a kill in between loses neither."""
        batch, self._outcomes = self._outcomes, []
        store = self.engine.store
        try:
            if store is not None:
                await asyncio.to_thread(store.flush)
        except Exception:  # noqa: BLE001 - a stuck store must not stall the queue
            log.exception("async dispatcher: the invocation store did not flush")
        finally:
            self._ready.extend(batch)
            self._flushing = None
            self._wake.set()

    def _turn(self, now: float) -> float | None:
        """Write the finished attempts and claim what can run now, plus a few to have at hand
        (``BUFFER``); start what capacity allows. When the next row is due."""
        outcomes, self._ready = self._ready, []
        claimed: list[Claimed] = []
        expired: list[Claimed] = []
        queue = self.queue
        try:
            with queue.transaction():
                queue.settle(outcomes, now)
                for function in queue.due_functions(now):
                    want = self._wanted(function)
                    if want > 0:
                        claimed.extend(queue.claim(function, want, now))
                    elif not self._free(function):  # only those too old to run: expire them
                        expired.extend(
                            queue.claim(function, EXPIRE_BATCH, now, self._too_old(function))
                        )
        except BaseException:
            self._ready[:0] = outcomes
            raise
        for row in claimed:
            self._buffer.setdefault(row.function, deque()).append(row)
        for row in expired:
            self._launch(row)
        self._pump()
        return queue.next_due()

    def _pump(self, function: str | None = None) -> None:
        """Start claimed rows while their function can admit them."""
        names = [function] if function is not None else list(self._buffer)
        for name in names:
            rows = self._buffer.get(name)
            while rows and self._free(name) > 0:
                self._launch(rows.popleft())
            if not rows:
                self._buffer.pop(name, None)

    def _write(self) -> None:
        pending, self._ready = self._ready + self._outcomes, []
        self._outcomes = []
        if pending:
            with self.queue.transaction():
                self.queue.settle(pending, time.time())

    def _free(self, name: str) -> int:
        """How many more of ``name``'s events could be admitted now (``Concurrency``'s rule,
        less the rows this dispatcher is already starting)."""
        room = DISPATCH_LIMIT - len(self._running)
        fn = self.engine.functions.get(name)
        if fn is None or room <= 0 or fn.reserved_concurrency == 0:
            return max(room, 0)  # unknown, broken or reserved 0: ends without running
        free = self.engine.concurrency.free(
            name,
            starting=self._starting.get(name, 0),
            starting_unreserved=self._starting_unreserved,
        )
        return min(free, room)

    def _wanted(self, name: str) -> int:
        """How many of ``name``'s due rows to claim: what can start, plus ``BUFFER`` in hand
        while we are draining it (a row blocked by someone else's calls stays queued)."""
        free = self._free(name)
        draining = free > 0 or any(row.function == name for row in self._claimed_running())
        if not draining:
            return 0
        return max(0, free + BUFFER - len(self._buffer.get(name, ())))

    def _claimed_running(self) -> list[Claimed]:
        return list(self._rows.values())

    def _too_old(self, name: str) -> float:
        """Events of ``name`` accepted before this are past their maximum event age."""
        fn = self.engine.functions.get(name)
        age = _setting(fn, "maximum_event_age", DEFAULT_MAX_AGE_S) if fn else DEFAULT_MAX_AGE_S
        return time.time() - age * self.engine.settings.time_scale

    def _count_starting(self, row: Claimed) -> None:
        """Claimed, not yet admitted: capacity it holds until ``_admitted``."""
        fn = self.engine.functions.get(row.function)
        unreserved = fn is not None and fn.reserved_concurrency is None
        self._starting_rows[row.id] = (row.function, unreserved)
        self._starting[row.function] = self._starting.get(row.function, 0) + 1
        self._starting_unreserved += unreserved

    def _admitted(self, row: Claimed) -> None:
        entry = self._starting_rows.pop(row.id, None)
        if entry is None:
            return
        name, unreserved = entry
        self._starting[name] -= 1
        if not self._starting[name]:
            del self._starting[name]
        self._starting_unreserved -= unreserved

    def _launch(self, row: Claimed) -> None:
        self._count_starting(row)
        task = asyncio.get_running_loop().create_task(self._attempt(row))
        self._running[row.id] = task
        self._rows[row.id] = row

    # --- one attempt ----------------------------------------------------------------------

    async def _attempt(self, row: Claimed) -> None:
        outcome: Outcome | None = None
        try:
            outcome = await self._run(row)
        except asyncio.CancelledError:  # closing: it goes back, uncounted, due now
            outcome = Outcome(row.id, "queued", due_at=time.time(), uncount=True)
            raise
        except Exception:  # noqa: BLE001 - never lose the event over our own bug
            log.exception("async event %s: attempt failed unexpectedly", row.request_id)
            outcome = self._backoff(row, time.time())
        finally:
            self._admitted(row)
            self._running.pop(row.id, None)
            self._rows.pop(row.id, None)
            if outcome is not None:
                self._outcomes.append(outcome)
            if not self._closing:
                self._pump(row.function)  # its slot is free: the next one starts now
            self._wake.set()

    async def _run(self, row: Claimed) -> Outcome:
        engine = self.engine
        now = time.time()
        try:
            with in_chain(row.chain) if row.chain is not None else contextlib.nullcontext():
                call = engine.invoker.prepare(
                    row.function,
                    row.payload,
                    qualifier=row.qualifier,
                    invocation_type="Event",
                    request_id=row.request_id,
                    trigger=row.trigger,
                    attempt=row.attempts,
                    enqueued_at=row.enqueued_at,
                )
        except ResourceNotFound as e:
            log.warning(
                "async event %s discarded: %s (it was accepted for %s)",
                row.request_id,
                e.message,
                engine.arn(row.function, row.qualifier),
            )
            return self._end(row, "discarded", None, e.message, uncount=True)
        except LambdaError as e:  # e.g. its function.toml is broken right now: try later
            log.warning("async event %s not run yet: %s", row.request_id, e.message)
            return self._backoff(row, now, e.message)
        max_age = float(_setting(call.fn, "maximum_event_age", DEFAULT_MAX_AGE_S))
        max_age *= engine.settings.time_scale
        if now - row.enqueued_at > max_age:
            return self._finish(row, call, "expired", destinations.EVENT_AGE_EXCEEDED, None)
        count = recursion.stops(engine, call.function, row.chain) if row.chain else None
        if count is not None:  # to the on-failure destination, as Lambda does
            outcome = self._finish(row, call, "failed", destinations.RECURSIVE_LOOP, None)
            where = f"sent to {outcome.destination}" if outcome.destination else "dropped"
            recursion.report(engine, call.function, row.trigger or "event", count, where)
            return outcome
        if engine.concurrency.reserved(call.function, call.fn) == 0:
            return self._finish(row, call, "failed", destinations.ZERO_RESERVED_CONCURRENCY, None)
        self._publish(row, "running", now)
        self._admitted(row)  # run admits it before its first await
        try:
            result = await engine.invoker.run(call)
        except TooManyRequests:
            return self._backoff(row, time.time(), max_age=max_age)
        except LambdaError as e:  # a service error (the runtime would not start): as Lambda
            log.warning("async event %s: %s; retrying", row.request_id, e.message)
            return self._backoff(row, time.time(), e.message, max_age=max_age)
        if result.function_error is None:
            return self._finish(row, call, "succeeded", destinations.SUCCESS, result)
        retries = _setting(call.fn, "maximum_retry_attempts", DEFAULT_RETRIES)
        if row.attempts <= retries:
            delay = RETRY_DELAYS_S[min(row.attempts, len(RETRY_DELAYS_S)) - 1]
            due = time.time() + delay * engine.settings.time_scale
            self._publish(row, "queued", due)
            return Outcome(
                row.id,
                "queued",
                due_at=due,
                last_error=_error_summary(result.payload),
                last_response=result.payload,
                last_version=result.executed_version,
            )
        return self._finish(row, call, "failed", destinations.RETRIES_EXHAUSTED, result)

    def _backoff(
        self, row: Claimed, now: float, error: str | None = None, max_age: float | None = None
    ) -> Outcome:
        """Back to the queue, not counted: 1 s, 2 s, 4 s … 300 s (scaled); past the maximum
        event age it is due at once, to expire."""
        delay = min(2**row.throttles, MAX_BACKOFF_S) * self.engine.settings.time_scale
        due = now + delay
        if max_age is not None:
            due = min(due, row.enqueued_at + max_age + 0.001)
        self._publish(row, "queued", due, attempt=row.attempts - 1)
        return Outcome(row.id, "queued", due_at=due, uncount=True, throttled=True, last_error=error)

    def _finish(
        self,
        row: Claimed,
        call: PreparedCall,
        status: AsyncStatus,
        condition: str,
        result: InvokeResult | None,
    ) -> Outcome:
        """End the event; its record to on_success / on_failure, if the function has one."""
        engine = self.engine
        ran = result is not None
        count = row.attempts if ran else row.attempts - 1
        response, version = (result.payload, result.executed_version) if result else (None, None)
        if not ran and condition == destinations.EVENT_AGE_EXCEEDED and row.last_version:
            response, version = row.last_response, row.last_version  # its last failed attempt
        key = "on_success" if condition == destinations.SUCCESS else "on_failure"
        target = call.fn.async_config.get(key)
        delivered = None
        if isinstance(target, str):
            record = destinations.invocation_record(
                request_id=row.request_id,
                function_arn=engine.arn(row.function, row.qualifier or "$LATEST"),
                condition=condition,
                invoke_count=count,
                request_payload=row.payload,
                at=time.time(),
                executed_version=version,
                response_payload=response,
                function_error=(result.function_error if result else "Unhandled")
                if version
                else None,
            )
            if destinations.deliver(engine, target, record, row.function):
                delivered = target
        error = _error_summary(result.payload) if result and result.function_error else None
        return self._end(row, status, condition, error, uncount=not ran, destination=delivered)

    def _end(
        self,
        row: Claimed,
        status: AsyncStatus,
        condition: str | None,
        error: str | None,
        *,
        uncount: bool,
        destination: str | None = None,
    ) -> Outcome:
        now = time.time()
        attempt = row.attempts - 1 if uncount else row.attempts
        self._publish(row, status, now, condition, destination, attempt=attempt)
        return Outcome(
            row.id,
            status,
            uncount=uncount,
            condition=condition,
            destination=destination,
            last_error=error,
        )

    def _publish(
        self,
        row: Claimed,
        status: AsyncStatus,
        due_at: float,
        condition: str | None = None,
        destination: str | None = None,
        *,
        attempt: int | None = None,
    ) -> None:
        bus = self.engine.bus
        if bus.wants(AsyncEventChanged):
            bus.publish(
                AsyncEventChanged(
                    row.request_id,
                    row.function,
                    status,
                    row.attempts if attempt is None else attempt,
                    due_at,
                    condition,
                    destination,
                    time.time(),
                )
            )
