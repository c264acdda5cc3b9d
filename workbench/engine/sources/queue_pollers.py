"""Event source mappings from local queues to functions: Lambda's SQS poller, locally.

For each enabled ``[[triggers]] type = "queue"`` a ``QueueMapping`` polls its queue, gathers up
to ``batch_size`` messages within ``maximum_batching_window`` seconds, and invokes the function
synchronously with the SQS event, as Lambda's ESM does. Then:

- success → the batch is deleted;
- a function error → nothing is deleted: the messages reappear after the visibility timeout
  and are retried until redrive moves them to the dead-letter queue (``max_receive_count``);
- with ``report_batch_item_failures`` → all but the reported items are deleted (an invalid
  reply fails the whole batch, ``sqs_events.failed_items``);
- throttled → the same batch is invoked again after a short backoff while its messages are
  still invisible; past that they are left to reappear.

Up to ``DEFAULT_POLLERS`` batches run at once per mapping (Lambda starts with five), fewer if
the function's reserved concurrency is lower (reserved concurrency 0: no polling). Sends from
this process wake the poller at once; another process's (``workbench queue send`` while a
serve runs) are seen by a cheap indexed read every ``POLL_INTERVAL_S``, backing off to
``IDLE_POLL_MAX_S`` while none come.

The trigger's queue settings are Lambda's queue settings: the queue is created with them if
missing; an existing queue with other settings keeps them for other consumers (the CLI, the
API), and this mapping receives with the trigger's visibility timeout and redrive (a warning
says so).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..config.triggers import QueueTrigger, triggers_of
from ..model.errors import LambdaError, TooManyRequests
from ..model.trace import in_chain
from ..storage.queues import Message, QueueStore
from . import recursion
from .sqs_events import failed_items, sqs_event

if TYPE_CHECKING:
    from .host import SourceHost

log = logging.getLogger("workbench.queues")

DEFAULT_POLLERS = 5  # concurrent batches per mapping (Lambda's initial poller count)
POLL_INTERVAL_S = 0.1  # how often a poller looks for another process's messages ...
IDLE_POLL_MAX_S = 1.0  # ... doubling up to this while it finds none (an idle serve is idle)
RECEIVE_MAX = 10  # messages per ReceiveMessage
THROTTLE_BACKOFF_S = (0.1, 2.0)  # first and longest wait before re-invoking a throttled batch


class QueueMapping:
    """One queue → one function: a poller task and the batches it started."""

    def __init__(self, engine: SourceHost, function: str, trigger: QueueTrigger, pollers: int):
        self.engine = engine
        self.function = function
        self.trigger = trigger
        self.pollers = pollers
        self.batches: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(pollers)
        self._loop = asyncio.get_running_loop()
        self._unlisten = lambda: None

    @property
    def store(self) -> QueueStore:
        assert self.engine.queues is not None
        return self.engine.queues

    def start(self) -> None:
        t = self.trigger
        info = self.store.ensure(
            t.queue, t.visibility_timeout, t.dead_letter_queue, t.max_receive_count
        )
        if t.dead_letter_queue is not None:
            self.store.ensure(t.dead_letter_queue)
        mine = (t.visibility_timeout, t.dead_letter_queue, t.max_receive_count)
        theirs = (info.visibility_timeout, info.dead_letter_queue, info.max_receive_count)
        if mine != theirs:
            log.warning(
                "queue %s exists with visibility timeout %s s and redrive %s/%s; the trigger "
                "of %s receives with its own: %s s and %s/%s",
                t.queue,
                *theirs,
                self.function,
                *mine,
            )
        self._unlisten = self.store.add_listener(self._on_send)
        self._task = self._loop.create_task(self._poll(), name=f"queue:{t.queue}->{self.function}")

    def _on_send(self, queue: str) -> None:
        if queue == self.trigger.queue:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop is closed: nothing to wake
                pass

    def stop(self) -> None:
        """Stop polling; batches already running finish (their messages are theirs)."""
        self._unlisten()
        if self._task is not None:
            self._task.cancel()

    async def close(self) -> None:
        """Stop polling and cancel running batches: their undeleted messages reappear after
        their visibility timeout, so none is lost."""
        self.stop()
        tasks = [t for t in (self._task, *self.batches) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ----------------------------------------------------------------- polling

    async def _poll(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                batch = await self._gather()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except Exception:  # noqa: BLE001 - a locked database, a deleted queue: try again
                self._slots.release()
                log.exception("polling queue %s failed", self.trigger.queue)
                await asyncio.sleep(1.0)
                continue
            task = self._loop.create_task(self._run(batch))
            self.batches.add(task)
            task.add_done_callback(self._batch_done)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self.batches.discard(task)
        self._slots.release()

    async def _gather(self) -> list[Message]:
        """Up to ``batch_size`` messages: at once when the window is 0, else until the batch is
        full or the window (from the first message) has passed."""
        t = self.trigger
        batch: list[Message] = []
        deadline = 0.0
        idle = POLL_INTERVAL_S
        while True:
            self._wake.clear()
            if await asyncio.to_thread(self.store.has_visible, t.queue):
                idle = POLL_INTERVAL_S
                got = await asyncio.to_thread(
                    self.store.receive,
                    t.queue,
                    min(RECEIVE_MAX, t.batch_size - len(batch)),
                    t.visibility_timeout,
                    dead_letter_queue=t.dead_letter_queue,
                    max_receive_count=t.max_receive_count,
                )
                if got and not batch:
                    deadline = time.monotonic() + t.maximum_batching_window
                # a window longer than the visibility timeout sees its own messages again:
                # keep each once, with its latest receipt handle
                again = {m.message_id for m in got}
                batch = [m for m in batch if m.message_id not in again] + got
            now = time.monotonic()
            if batch and (len(batch) >= t.batch_size or now >= deadline):
                return batch
            wait = idle if not batch else min(POLL_INTERVAL_S, deadline - now)
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
                idle = POLL_INTERVAL_S  # a send from this process
            except TimeoutError:
                idle = min(idle * 2, IDLE_POLL_MAX_S)

    async def _stop_loops(self, batch: list[Message]) -> list[Message]:
        """The batch without the messages recursive loop detection stops (each moved to the
        dead-letter queue, or dropped without one: ``sources/recursion.py``)."""
        t = self.trigger
        kept = []
        for m in batch:
            count = recursion.stops(self.engine, self.function, m.trace_header)
            if count is None:
                kept.append(m)
                continue
            target = await asyncio.to_thread(
                self.store.dead_letter, t.queue, m.receipt_handle, t.dead_letter_queue
            )
            disposition = f"moved to dead-letter queue {target}" if target else "dropped"
            recursion.report(self.engine, self.function, f"queue:{t.queue}", count, disposition)
        return kept

    async def _run(self, batch: list[Message]) -> None:
        t = self.trigger
        settings = self.engine.settings
        batch = await self._stop_loops(batch)
        if not batch:
            return
        # the chain the invocation continues: the first traced message's (Lambda's batches
        # mix chains; UNVERIFIED which one it counts)
        chain = next((m.trace_header for m in batch if m.trace_header), None)
        event = sqs_event(batch, t.queue, settings.region, settings.account_id)
        ids = [m.message_id for m in batch]
        invisible_until = time.time() + t.visibility_timeout
        backoff = THROTTLE_BACKOFF_S[0]
        while True:
            try:
                with in_chain(chain):
                    result = await self.engine.invoke(
                        self.function, event, trigger=f"queue:{t.queue}"
                    )
                break
            except TooManyRequests:
                wait = backoff * settings.time_scale
                if time.time() + wait >= invisible_until:
                    return  # left to reappear after the visibility timeout
                await asyncio.sleep(wait)
                backoff = min(backoff * 2, THROTTLE_BACKOFF_S[1])
            except LambdaError as e:  # the function was removed, its config broke, ...
                log.warning("queue %s → %s: %s", t.queue, self.function, e.message)
                return
        if result.function_error:
            return
        failed: set[str] | None = set()
        if t.report_batch_item_failures:
            failed = failed_items(result.payload, ids)
            if failed is None:
                log.warning(
                    "queue %s → %s: the reply is not a valid batchItemFailures response; "
                    "the whole batch is retried",
                    t.queue,
                    self.function,
                )
                return
        done = [m.receipt_handle for m in batch if m.message_id not in (failed or ())]
        await asyncio.to_thread(self.store.delete_messages, t.queue, done)


class QueuePollers:
    """The Source (``sources.py``) that runs a ``QueueMapping`` per enabled queue trigger."""

    def __init__(self, engine: SourceHost) -> None:
        self.engine = engine
        self.mappings: dict[tuple[str, QueueTrigger, int], QueueMapping] = {}
        self._retired: set[QueueMapping] = set()

    async def start(self) -> None:
        self.refresh()

    def _wanted(self) -> dict[tuple[str, QueueTrigger, int], None]:
        wanted: dict[tuple[str, QueueTrigger, int], None] = {}
        for name, fn in self.engine.functions.items():
            reserved = fn.reserved_concurrency
            pollers = DEFAULT_POLLERS if reserved is None else min(DEFAULT_POLLERS, reserved)
            if pollers == 0:
                continue  # reserved concurrency 0: the function is throttled; do not receive
            for trigger in triggers_of(fn, QueueTrigger):
                if trigger.enabled:
                    wanted[(name, trigger, pollers)] = None
        return wanted

    def refresh(self) -> None:
        self._create_template_queues()
        wanted = self._wanted()
        for key in [k for k in self.mappings if k not in wanted]:
            mapping = self.mappings.pop(key)
            mapping.stop()
            if mapping.batches:
                self._retired.add(mapping)
        self._retired = {m for m in self._retired if m.batches}
        for key in wanted:
            if key not in self.mappings:
                mapping = QueueMapping(self.engine, key[0], key[1], key[2])
                try:
                    mapping.start()
                except Exception:  # noqa: BLE001 - one bad queue must not stop the others
                    log.exception("starting the poller of queue %s failed", key[1].queue)
                    continue
                self.mappings[key] = mapping

    def _create_template_queues(self) -> None:
        """The templates' ``AWS::SQS::Queue`` resources exist locally, as a deployed stack's
        would, even with no function consuming them (a handler may send to one)."""
        store = self.engine.queues
        if store is None:
            return
        for queue in self.engine.catalog.queues.values():
            try:
                store.ensure(
                    queue.name,
                    queue.visibility_timeout,
                    queue.dead_letter_queue,
                    queue.max_receive_count,
                )
            except Exception as e:  # noqa: BLE001 - a bad name or setting: the others still
                log.warning("cannot create the template's queue %s: %s", queue.name, e)

    async def close(self) -> None:
        mappings = [*self.mappings.values(), *self._retired]
        self.mappings.clear()
        self._retired.clear()
        await asyncio.gather(*(m.close() for m in mappings), return_exceptions=True)
