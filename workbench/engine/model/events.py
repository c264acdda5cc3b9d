"""The engine's event stream: lifecycle phases, invocations, log lines, concurrency.

Any number of subscribers follow it (the TUI draws from it, ``serve`` prints it). Publishing costs
nothing when nobody listens; each subscriber gets its own queue, so a slow one never blocks the
engine. A subscriber that falls ``maxsize`` events behind loses the oldest and is told how many.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Literal

from .problems import CodeProblem
from .records import InvocationRecord

# An environment's lifecycle, as EnvironmentEvent.phase names it (see its docstring).
EnvironmentPhase = Literal[
    "init_start",
    "extension_init",
    "runtime_init",
    "function_init",
    "init_done",
    "init_error",
    "shutdown",
    "debug_wait",
]
# Why an environment was shut down.
# ("removed": its function was deleted; "reload": its code or configuration was replaced)
ShutdownReason = Literal["idle", "reload", "removed", "timeout", "crash", "exit", "error"]
DebugEventKind = Literal["output", "paused", "resumed", "ended"]
ReloadChange = Literal["added", "removed", "code", "config"]
# An Event invocation's state in the durable queue.
AsyncStatus = Literal["queued", "running", "succeeded", "failed", "expired", "discarded"]


@dataclass(slots=True, frozen=True)
class EnvironmentEvent:
    """A lifecycle phase of one execution environment.

    phase: ``init_start`` (process spawned), ``runtime_init`` (the runtime reached its Runtime
    API; ``duration_ms`` = runtime init), ``function_init`` (the handler is loaded: the runtime
    asked for work; ``duration_ms`` = function init), ``init_done`` (``duration_ms`` = Init
    Duration), ``init_error`` (with ``error_type``), ``shutdown`` (with ``reason``: idle,
    reload, removed, timeout, crash, exit, error), ``debug_wait`` (started under an IDE debugger
    that listens on ``port`` of 127.0.0.1 and waits for it to attach; ``runtime_init`` follows
    once it has). ``init_phase``: Lambda's Phase of its INIT, ``invoke`` when an invocation
    retries in it an on-demand INIT that failed.
    """

    phase: EnvironmentPhase
    env_id: str
    function: str
    version: str
    at: float
    pid: int | None = None
    duration_ms: float | None = None
    reason: ShutdownReason | None = None
    error_type: str | None = None
    port: int | None = None  # debug_wait: the debugger's port
    init_phase: Literal["init", "invoke"] = "init"


@dataclass(slots=True, frozen=True)
class DebugEvent:
    """A pdb session of a paused handler (``breakpoint()``), as the engine relays it.

    kind: ``output`` (``text``: what pdb printed), ``paused`` (pdb waits for a command at
    ``file``:``line`` in ``code`` with ``prompt``; the invocation's timeout clock is stopped),
    ``resumed`` (``text``: the command sent; pdb runs it, the clock still stopped until it steps
    into the handler's own code), ``ended`` (the session is over: continued with no breakpoint
    left, quit, detached, or the invocation ended).
    """

    kind: DebugEventKind
    request_id: str
    function: str
    env_id: str
    at: float
    text: str = ""
    file: str | None = None
    line: int | None = None
    code: str | None = None  # the function (code object) paused in
    prompt: str = "(Pdb) "


@dataclass(slots=True, frozen=True)
class InvokeStart:
    request_id: str
    function: str
    version: str
    env_id: str
    cold: bool
    at: float


@dataclass(slots=True, frozen=True)
class InvokeEnd:
    record: InvocationRecord


@dataclass(slots=True, frozen=True)
class LogLine:
    function: str
    env_id: str
    request_id: str | None  # None: printed during init or between invocations
    line: str
    at: float


@dataclass(slots=True, frozen=True)
class ResponseChunk:
    """A chunk of a streamed response, as the runtime sent it (the TUI shows them live)."""

    function: str
    env_id: str
    request_id: str
    index: int  # 1 for the first chunk
    size: int  # its bytes
    excerpt: bytes  # its first bytes (CHUNK_EXCERPT)
    at: float  # epoch seconds


CHUNK_EXCERPT = 256


@dataclass(slots=True, frozen=True)
class ConcurrencyChanged:
    function: str
    in_flight: int  # this function's invocations running now
    total_in_flight: int  # across all functions
    busy: int  # this function's environments serving an invocation
    idle: int  # this function's warm environments waiting
    account_limit: int
    reserved: int | None
    provisioned: int = 0  # of its environments, those kept initialised (provisioned.py)
    provisioned_busy: int = 0  # of those, serving an invocation (the rest of busy: on-demand)


@dataclass(slots=True, frozen=True)
class Throttled:
    function: str
    reason: str
    at: float


@dataclass(slots=True, frozen=True)
class FunctionReloaded:
    """A function's ``$LATEST`` changed on disk and the change has been applied.

    change: ``added``, ``removed``, ``code`` (its code or a layer's) or ``config`` (its
    ``function.toml``). ``problem``: what is now wrong with it (a file that does not compile,
    a config error), reported the moment the save is seen; None when it is fine.
    ``files``: the changed paths that belonged to it.
    """

    function: str
    change: ReloadChange
    files: tuple[str, ...]
    revision: int
    problem: CodeProblem | None
    at: float


@dataclass(slots=True, frozen=True)
class RegistryChanged:
    """A version was published or an alias created, changed or deleted.

    ``function`` is None when the change came from another process (``workbench publish``
    beside a running workbench) and is only known to have happened.
    """

    function: str | None
    what: Literal["version", "alias", "unknown"]
    at: float


@dataclass(slots=True, frozen=True)
class Dropped:
    """This subscriber fell behind and lost ``count`` events."""

    count: int


@dataclass(slots=True, frozen=True)
class BucketActivity:
    """A file in a bucket folder became an S3 event (``ObjectCreated:Put`` with its size, or
    ``ObjectRemoved:Delete``); ``functions``: those it was handed to (none: no filter matched)."""

    bucket: str
    key: str
    event_name: str
    size: int | None
    functions: tuple[str, ...]
    at: float


@dataclass(slots=True, frozen=True)
class RecursionStopped:
    """Lambda's recursive loop detection stopped an event: ``function`` already ran
    ``count`` times in the chain the event's trace header carries; ``source`` the event's
    (``queue:orders``), ``disposition`` what became of it (``moved to dead-letter queue
    orders-dlq``, ``dropped``)."""

    function: str
    source: str
    count: int
    disposition: str
    at: float


@dataclass(slots=True, frozen=True)
class ScheduleFired:
    """A schedule trigger sent its event: ``scheduled_time`` is the time it was due (the
    Scheduled Event's ``time``), ``next_time`` the one after (None: its cron years ran out);
    epoch seconds."""

    function: str
    rule: str
    request_id: str
    scheduled_time: float
    next_time: float | None
    at: float


@dataclass(slots=True, frozen=True)
class AsyncEventChanged:
    """An Event invocation in the durable queue moved on: accepted (``queued``), an attempt
    started (``running``), a retry or backoff scheduled (``queued`` again, due at ``due_at``),
    or it ended (``succeeded``, ``failed``, ``expired``, ``discarded``; ``condition`` as in the
    destination record, ``destination`` where that record went). ``attempt``: attempts so far."""

    request_id: str
    function: str
    status: AsyncStatus
    attempt: int
    due_at: float
    condition: str | None
    destination: str | None
    at: float


@dataclass(slots=True, frozen=True)
class DatabaseIncident:
    """The state dir's database was deleted, replaced or damaged while the engine ran.

    ``kind``: ``recreated`` (deleted: put back at ``path`` from the open connection, nothing
    lost), ``replaced`` (another file took its place: left untouched, this run goes on in
    ``now_in``) or ``damaged`` (corrupt or truncated: this run goes on in ``now_in``).
    ``message`` says what happened and what to do, for serve's log and the TUI.
    """

    kind: Literal["recreated", "replaced", "damaged"]
    path: str
    now_in: str
    message: str
    at: float


Event = (
    EnvironmentEvent
    | InvokeStart
    | InvokeEnd
    | LogLine
    | ResponseChunk
    | ConcurrencyChanged
    | Throttled
    | FunctionReloaded
    | RegistryChanged
    | AsyncEventChanged
    | BucketActivity
    | ScheduleFired
    | RecursionStopped
    | DebugEvent
    | DatabaseIncident
)


class Subscription:
    """An async iterator over events; ``close()`` (or ``async with``) to stop following.

    ``kinds``: only events of these classes (None: all); what no subscriber takes is not even
    made by the engine's busiest publishers (``EventBus.wants``)."""

    def __init__(self, bus: EventBus, maxsize: int, kinds: tuple[type, ...] | None = None) -> None:
        self._bus = bus
        self.kinds = kinds
        self._items: deque[Event | Dropped] = deque()
        self._maxsize = maxsize
        self._dropped = 0
        self._waiter: asyncio.Future[None] | None = None

    def _put(self, event: Event) -> None:
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self._dropped += 1
        self._items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> list[Event | Dropped]:
        """Everything queued so far (for consumers that batch on a timer)."""
        items = list(self._items)
        self._items.clear()
        if self._dropped:
            items.insert(0, Dropped(self._dropped))
            self._dropped = 0
        return items

    async def wait(self) -> None:
        """Until something is queued (returns at once if something is)."""
        while not self._items and not self._dropped:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def get(self) -> Event | Dropped:
        while not self._items:
            if self._dropped:
                break
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            return Dropped(dropped)
        return self._items.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event | Dropped:
        return await self.get()

    def close(self) -> None:
        self._bus._unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._wanted: dict[type, bool] = {}  # wants(), until the subscribers change

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    def wants(self, kind: type) -> bool:
        """Does any subscriber take events of ``kind``? (A publisher on a hot path asks before
        it makes one: ``serve`` follows a few kinds, the TUI all.)"""
        wanted = self._wanted.get(kind)
        if wanted is None:
            wanted = self._wanted[kind] = any(
                sub.kinds is None or issubclass(kind, sub.kinds) for sub in self._subscribers
            )
        return wanted

    def subscribe(
        self, maxsize: int = 100_000, kinds: tuple[type, ...] | None = None
    ) -> Subscription:
        sub = Subscription(self, maxsize, kinds)
        self._subscribers.add(sub)
        self._wanted.clear()
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        self._wanted.clear()

    def publish(self, event: Event) -> None:
        for sub in self._subscribers:
            if sub.kinds is None or isinstance(event, sub.kinds):
                sub._put(event)
