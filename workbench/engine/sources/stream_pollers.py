"""Event source mappings from local streams to functions: Lambda's Kinesis poller, locally.

For each enabled ``[[triggers]] type = "kinesis"`` a ``StreamMapping`` runs one poller per
shard (``parallelization_factor`` N: N per shard, each taking the partition keys whose hash
falls in its lane, so records of one key stay in order, as Lambda's concurrent batches per
shard keep them). A poller reads from its checkpoint, gathers up to ``batch_size`` records
within ``maximum_batching_window`` seconds (and under Lambda's 6 MB payload), invokes the
function synchronously with the Kinesis event, and only then moves on: a shard is processed in
order, one batch at a time. Then, as Lambda does (DG: with-kinesis, kinesis-on-failure-
destination, kinesis-batchfailurereporting):

- success → the checkpoint moves past the batch;
- a function error → the batch is retried (backing off) until it succeeds, until
  ``maximum_retry_attempts`` retries failed, or until a record is older than
  ``maximum_record_age``; then it is discarded, its failure record (metadata, not the data)
  sent to the ``on_failure`` queue if there is one, and the shard goes on;
- ``bisect_batch_on_function_error`` → a failed batch is split in two and each half retried
  on its own, first half first; splitting does not use up the retry quota;
- ``report_batch_item_failures`` → the checkpoint moves to just before the lowest sequence
  number the reply names and the batch is retried from there (a retry); an invalid reply fails
  the whole batch;
- throttled, or the function cannot be invoked → the same batch again after a backoff, not a
  retry, until its records expire.

The checkpoints live in the state dir (``stream_checkpoints``), so a restarted serve goes on
where it stopped; a new mapping starts at its ``starting_position`` (LATEST: after the records
already there; TRIM_HORIZON: the oldest kept; AT_TIMESTAMP: the first that arrived at or after
it). One engine per state dir runs the mappings (two would process each record twice).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING

from ..config.triggers import KinesisTrigger, triggers_of
from ..invoke.results import InvokeResult
from ..model.errors import LambdaError, TooManyRequests
from ..storage.streams import StreamRecord, StreamStore, sequence_number
from .destinations import deliver
from .kinesis_events import (
    RECORD_AGE_EXCEEDED,
    RETRY_ATTEMPTS_EXHAUSTED,
    failure_record,
    first_failure,
    kinesis_event,
)
from .stream_status import LaneState, ShardStatus

if TYPE_CHECKING:
    from .host import SourceHost

log = logging.getLogger("workbench.streams")

# How often a poller looks for another process's records (this process's puts wake it at once):
# soon after records came, then backing off to once a second, Lambda's base rate per shard, so
# many idle shards and lanes cost little.
POLL_INTERVAL_S = (0.1, 1.0)
BACKOFF_S = (0.1, 2.0)  # first and longest wait before a batch is invoked again
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
RECORD_OVERHEAD = 700  # the JSON around one record's data in the event, generously


class ShardPoller:
    """One shard (or one lane of it): batches in order, each finished before the next."""

    def __init__(self, mapping: StreamMapping, shard: int, lane: int) -> None:
        self.mapping = mapping
        self.shard = shard
        self.lane = lane
        self.status = LaneState(f"shardId-{shard:012d}", lane)
        self.wake = asyncio.Event()

    @property
    def store(self) -> StreamStore:
        return self.mapping.store

    async def run(self) -> None:
        done = await asyncio.to_thread(self._start_position)
        while True:
            try:
                batch = await self._gather(done)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a locked database, a deleted stream: again
                log.exception("reading stream %s failed", self.mapping.trigger.stream)
                await asyncio.sleep(1.0)
                continue
            done = await self._process(batch)

    # ----------------------------------------------------------------- positions

    def _start_position(self) -> int:
        m, t = self.mapping, self.mapping.trigger
        saved = self.store.checkpoint(m.consumer, t.stream, self.shard, self.lane)
        if saved is None:
            saved = self.store.lowest_checkpoint(m.consumer, t.stream, self.shard)
            if saved is not None:  # the parallelization factor changed: a new lane
                self._save(saved)
        if saved is not None:
            self.status.checkpoint = saved
            return saved
        if t.starting_position == "TRIM_HORIZON":
            start = self.store.trim_horizon(t.stream, self.shard)
        elif t.starting_position == "AT_TIMESTAMP":
            start = self.store.last_id(t.stream, self.shard, before=t.starting_position_timestamp)
        else:
            start = self.store.last_id(t.stream, self.shard)
        # kept at once: a restart goes on from here, not from a later LATEST
        self._save(start)
        return start

    def _save(self, done: int) -> None:
        m = self.mapping
        self.store.set_checkpoint(m.consumer, m.trigger.stream, self.shard, self.lane, done)
        self.status.checkpoint = done

    async def _checkpoint(self, done: int) -> None:
        await asyncio.to_thread(self._save, done)
        self.status.done.set()
        self.status.done = asyncio.Event()

    # ----------------------------------------------------------------- batching

    async def _gather(self, after: int) -> list[StreamRecord]:
        t = self.mapping.trigger
        lanes = t.parallelization_factor
        batch: list[StreamRecord] = []
        size = 0
        deadline = 0.0
        full = False
        idle = POLL_INTERVAL_S[0]
        self.status.state = "Polling"
        while True:
            self.wake.clear()
            start = batch[-1].id if batch else after
            got = await asyncio.to_thread(
                self.store.read,
                t.stream,
                self.shard,
                start,
                t.batch_size - len(batch),
                lanes=lanes,
                lane=self.lane,
            )
            for record in got:
                cost = len(record.data) * 4 // 3 + len(record.partition_key) + RECORD_OVERHEAD
                if batch and size + cost > MAX_EVENT_BYTES:
                    full = True  # the rest waits for the next batch
                    break
                if not batch:
                    deadline = time.monotonic() + t.maximum_batching_window
                batch.append(record)
                size += cost
            self.status.oldest_pending = batch[0].arrived_at if batch else None
            now = time.monotonic()
            if batch and (full or len(batch) >= t.batch_size or now >= deadline):
                return batch
            if got:
                idle = POLL_INTERVAL_S[0]
            wait = idle if not batch else min(POLL_INTERVAL_S[0], deadline - now)
            idle = min(idle * 2, POLL_INTERVAL_S[1])
            try:
                await asyncio.wait_for(self.wake.wait(), max(wait, 0.0))
            except TimeoutError:
                pass

    # ----------------------------------------------------------------- processing

    async def _process(self, batch: list[StreamRecord]) -> int:
        """Run ``batch`` to its end (success, or discarded); the new checkpoint."""
        t = self.mapping.trigger
        pending: deque[tuple[list[StreamRecord], int, InvokeResult | None]] = deque()
        pending.append((batch, 0, None))
        while pending:
            records, retries, last = pending.popleft()
            records = await self._drop_expired(records, retries, last)
            if not records:
                continue
            result = await self._invoke(records)
            if result is None:  # expired before the function could take them
                pending.appendleft((records, retries, last))
                continue
            failed_at: int | None
            if result.function_error:
                failed_at = 0
            elif t.report_batch_item_failures:
                verdict = first_failure(result.payload, [r.sequence_number for r in records])
                failed_at = 0 if verdict is False else verdict
                if verdict is False:
                    log.warning(
                        "stream %s → %s: the reply is not a valid batchItemFailures response; "
                        "the whole batch is retried",
                        t.stream,
                        self.mapping.function,
                    )
            else:
                failed_at = None
            if failed_at is None:
                await self._checkpoint(records[-1].id)
                self.status.retries = 0
                continue
            if failed_at > 0:
                await self._checkpoint(records[failed_at - 1].id)
            failed = records[failed_at:]
            self.status.last_error = result.function_error or "partial batch failure"
            if result.function_error and t.bisect_batch_on_function_error and len(failed) > 1:
                half = len(failed) // 2
                pending.appendleft((failed[half:], retries, result))
                pending.appendleft((failed[:half], retries, result))
                continue
            if 0 <= t.maximum_retry_attempts <= retries:
                await self._discard(failed, RETRY_ATTEMPTS_EXHAUSTED, retries + 1, result)
                await self._checkpoint(failed[-1].id)
                continue
            self.status.state = "Retrying"
            self.status.retries = retries + 1
            await self._backoff(retries)
            pending.appendleft((failed, retries + 1, result))
        return self.status.checkpoint

    async def _drop_expired(
        self, records: list[StreamRecord], retries: int, last: InvokeResult | None
    ) -> list[StreamRecord]:
        """Records past ``maximum_record_age`` are discarded before an invoke (records arrive
        in order, so the expired ones are the first)."""
        age = self.mapping.trigger.maximum_record_age
        if age < 0:
            return records
        cutoff = time.time() - age
        expired = [r for r in records if r.arrived_at < cutoff]
        if not expired:
            return records
        count = max(retries, 1) if last is not None else 0  # the invokes that included them
        await self._discard(expired, RECORD_AGE_EXCEEDED, count, last)
        await self._checkpoint(expired[-1].id)
        return records[len(expired) :]

    def _expired(self, records: list[StreamRecord]) -> bool:
        age = self.mapping.trigger.maximum_record_age
        return age >= 0 and records[0].arrived_at < time.time() - age

    async def _invoke(self, records: list[StreamRecord]) -> InvokeResult | None:
        """The function's result; None when the records expired while it could not be invoked
        (throttled, removed, broken), for the caller to discard."""
        m = self.mapping
        s = m.engine.settings
        event = kinesis_event(records, s.region, s.account_id)
        trigger = f"kinesis:{m.trigger.stream}"
        backoff = BACKOFF_S[0]
        while True:
            self.status.state = "Invoking"
            try:
                return await m.engine.invoke(m.function, event, trigger=trigger)
            except TooManyRequests:
                self.status.last_error = "throttled"
            except LambdaError as e:  # the function was removed, its config broke, ...
                self.status.last_error = e.message
                log.warning("stream %s → %s: %s", m.trigger.stream, m.function, e.message)
            self.status.state = "Retrying"
            await asyncio.sleep(backoff * s.time_scale)
            backoff = min(backoff * 2, BACKOFF_S[1])
            if self._expired(records):
                return None

    async def _backoff(self, retries: int) -> None:
        wait = min(BACKOFF_S[0] * 2**retries, BACKOFF_S[1])
        await asyncio.sleep(wait * self.mapping.engine.settings.time_scale)

    async def _discard(
        self,
        records: list[StreamRecord],
        condition: str,
        invoke_count: int,
        result: InvokeResult | None,
    ) -> None:
        m, t = self.mapping, self.mapping.trigger
        self.status.discarded += len(records)
        log.warning(
            "stream %s → %s: %d record(s) from %s discarded (%s)%s",
            t.stream,
            m.function,
            len(records),
            records[0].sequence_number,
            condition,
            f"; their record goes to queue {t.on_failure}" if t.on_failure else "",
        )
        if t.on_failure is None:
            return
        s = m.engine.settings
        record = failure_record(
            records,
            request_id=result.record.request_id if result is not None else str(uuid.uuid4()),
            function_arn=m.engine.arn(m.function),
            condition=condition,
            invoke_count=invoke_count,
            at=time.time(),
            region=s.region,
            account_id=s.account_id,
            executed_version=result.executed_version if result is not None else None,
            function_error=result.function_error if result is not None else None,
        )
        await asyncio.to_thread(
            deliver, m.engine, f"queue:{t.on_failure}", record, f"kinesis:{t.stream}"
        )


class StreamMapping:
    """One stream → one function: a poller per shard and lane."""

    def __init__(self, engine: SourceHost, function: str, trigger: KinesisTrigger) -> None:
        self.engine = engine
        self.function = function
        self.trigger = trigger
        self.consumer = function  # the checkpoints' owner
        self.pollers: list[ShardPoller] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._loop = asyncio.get_running_loop()
        self._unlisten = lambda: None

    @property
    def store(self) -> StreamStore:
        assert self.engine.streams is not None
        return self.engine.streams

    def start(self) -> None:
        t = self.trigger
        info = self.store.ensure(t.stream, t.shards)
        if t.on_failure is not None and self.engine.queues is not None:
            self.engine.queues.ensure(t.on_failure)
        self.pollers = [
            ShardPoller(self, shard, lane)
            for shard in range(info.shard_count)
            for lane in range(t.parallelization_factor)
        ]
        self._unlisten = self.store.add_listener(self._on_put)
        for p in self.pollers:
            name = f"kinesis:{t.stream}/{p.status.shard}/{p.lane}->{self.function}"
            self._tasks.append(self._loop.create_task(p.run(), name=name))

    def _on_put(self, stream: str) -> None:
        if stream == self.trigger.stream:
            for p in self.pollers:
                try:
                    self._loop.call_soon_threadsafe(p.wake.set)
                except RuntimeError:  # the loop is closed: nothing to wake
                    pass

    async def close(self) -> None:
        """Stop; a batch in flight is cancelled and runs again from the checkpoint next time
        (at least once, as in Lambda)."""
        self._unlisten()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class StreamPollers:
    """The Source (``registry.py``) that runs a ``StreamMapping`` per enabled kinesis trigger."""

    def __init__(self, engine: SourceHost) -> None:
        self.engine = engine
        self.mappings: dict[tuple[str, KinesisTrigger], StreamMapping] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.refresh()

    def _wanted(self) -> list[tuple[str, KinesisTrigger]]:
        wanted = []
        for name, fn in self.engine.functions.items():
            if fn.reserved_concurrency == 0:
                continue  # throttled: Lambda's mapping does not read either
            wanted += [(name, t) for t in triggers_of(fn, KinesisTrigger) if t.enabled]
        return wanted

    def refresh(self) -> None:
        if self.engine.streams is None:
            return
        wanted = self._wanted()
        for key in [k for k in self.mappings if k not in wanted]:
            task = asyncio.get_running_loop().create_task(self.mappings.pop(key).close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        for key in wanted:
            if key not in self.mappings:
                mapping = StreamMapping(self.engine, *key)
                try:
                    mapping.start()
                except Exception:  # noqa: BLE001 - one bad stream must not stop the others
                    log.exception("starting the pollers of stream %s failed", key[1].stream)
                    continue
                self.mappings[key] = mapping

    def statuses(self) -> list[ShardStatus]:
        out = []
        for (function, trigger), mapping in sorted(self.mappings.items(), key=lambda kv: kv[0][0]):
            for p in mapping.pollers:
                st = p.status
                out.append(
                    ShardStatus(
                        function,
                        trigger.stream,
                        st.shard,
                        st.lane,
                        st.state,
                        st.iterator_age_ms,
                        sequence_number(st.checkpoint) if st.checkpoint else "",
                        st.retries,
                        st.discarded,
                        st.last_error,
                    )
                )
        return out

    async def close(self) -> None:
        mappings = list(self.mappings.values())
        self.mappings.clear()
        await asyncio.gather(*(m.close() for m in mappings), *self._closing, return_exceptions=True)
