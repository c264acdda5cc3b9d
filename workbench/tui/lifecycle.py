"""The lifecycle model: what each execution environment went through, fed by engine events.

Pure data (no Textual), so the timeline widget and the record screen draw the same story and
tests can tell it with hand-made events. Memory is bounded: the newest ``max_environments``
environments are kept, each with its newest ``max_invokes`` invocations.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..engine import EnvironmentEvent, InvocationRecord, InvokeEnd, InvokeStart

MAX_ENVIRONMENTS = 64
MAX_INVOKES = 200


@dataclass(slots=True)
class Invoke:
    """One INVOKE in an environment; ``status`` is None while it runs."""

    request_id: str
    start: float  # epoch seconds, when the event was handed to the runtime
    cold: bool
    duration_ms: float | None = None
    status: str | None = None
    error_type: str | None = None
    extensions_ms: float | None = None  # extensions' post-invocation time, the end of duration

    def end(self, now: float) -> float:
        return now if self.duration_ms is None else self.start + self.duration_ms / 1000


@dataclass(slots=True)
class Segment:
    """A stretch of an environment's life, in the order it happened.

    kind: ``extension_init`` | ``runtime_init`` | ``function_init`` | ``init`` (Init Duration
    without its phases) | ``init_error`` | ``invoke`` | ``idle`` | ``shutdown`` (an instant:
    ``start == end``).
    """

    kind: str
    start: float
    end: float
    invoke: Invoke | None = None
    label: str = ""

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000


@dataclass
class EnvironmentLife:
    """One execution environment: INIT (and its phases), its INVOKEs, its SHUTDOWN."""

    env_id: str
    function: str
    version: str
    max_invokes: int = MAX_INVOKES
    pid: int | None = None
    init_start: float | None = None
    extension_init_ms: float | None = None  # external extensions' INIT, before the runtime's
    runtime_init_ms: float | None = None
    function_init_ms: float | None = None
    init_duration_ms: float | None = None
    init_error: str | None = None  # the error type, when INIT failed
    init_phase: str = "init"  # "invoke": an invocation's retry of an INIT that failed
    shutdown_at: float | None = None
    shutdown_reason: str | None = None
    invoke_count: int = 0  # every invoke seen, including those no longer kept
    last_at: float = 0.0  # the newest thing that happened
    rebuilt: bool = False  # from stored records, not events: its shutdown may be unknown
    invokes: deque[Invoke] = field(init=False)
    _by_request: dict[str, Invoke] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.invokes = deque(maxlen=self.max_invokes)

    # ----------------------------------------------------------------- state

    @property
    def short_id(self) -> str:
        return self.env_id[:8]

    @property
    def alive(self) -> bool:
        return self.shutdown_at is None

    @property
    def state(self) -> str:
        """``initializing`` | ``busy`` | ``idle`` | ``dead``."""
        if self.shutdown_at is not None:
            return "dead"
        if any(i.status is None for i in self.invokes):
            return "busy"
        if self.init_duration_ms is None and self.init_error is None and not self.invokes:
            return "initializing"
        return "idle"

    @property
    def start(self) -> float | None:
        """When the environment began, as far as we know."""
        if self.init_start is not None:
            return self.init_start
        if self.invokes:
            first = self.invokes[0]
            return first.start - (self.init_duration_ms or 0.0) / 1000
        return self.shutdown_at

    def init_end(self) -> float | None:
        start = self.init_start
        if start is None:
            if not self.invokes or self.init_duration_ms is None:
                return None
            return self.invokes[0].start
        if self.init_duration_ms is not None:
            return start + self.init_duration_ms / 1000
        known = (
            (self.extension_init_ms or 0.0)
            + (self.runtime_init_ms or 0.0)
            + (self.function_init_ms or 0.0)
        )
        return start + known / 1000

    def end(self, now: float) -> float:
        if self.shutdown_at is not None:
            return self.shutdown_at
        return self.last_at if self.rebuilt else max(now, self.last_at)

    # ----------------------------------------------------------------- feeding

    def _touch(self, at: float) -> None:
        self.last_at = max(self.last_at, at)

    def take_phase(self, event: EnvironmentEvent) -> None:
        self.pid = event.pid or self.pid
        phase = event.phase
        if phase in ("init_start", "init_done", "init_error"):
            self.init_phase = event.init_phase
        if phase == "init_start":
            self.init_start = event.at
        elif phase == "extension_init":
            self.extension_init_ms = event.duration_ms
        elif phase == "runtime_init":
            self.runtime_init_ms = event.duration_ms
            self._started_before(event)
        elif phase == "function_init":
            self.function_init_ms = event.duration_ms
        elif phase == "init_done":
            self.init_duration_ms = event.duration_ms
            self._started_before(event)
        elif phase == "init_error":
            self.init_duration_ms = event.duration_ms
            self.init_error = event.error_type or "Runtime.Unknown"
            self._started_before(event)
        elif phase == "shutdown":
            self.shutdown_at = event.at
            self.shutdown_reason = event.reason
        self._touch(event.at)

    def _started_before(self, event: EnvironmentEvent) -> None:
        """INIT began ``duration_ms`` before this phase ended: the durations are measured from
        the spawn itself, while ``init_start`` is announced a little after it."""
        if event.duration_ms is not None:
            self.init_start = event.at - event.duration_ms / 1000

    def _add(self, invoke: Invoke) -> Invoke:
        if len(self.invokes) == self.invokes.maxlen:
            self._by_request.pop(self.invokes[0].request_id, None)
        self.invokes.append(invoke)
        self._by_request[invoke.request_id] = invoke
        self.invoke_count += 1
        return invoke

    def take_start(self, event: InvokeStart) -> None:
        if event.request_id not in self._by_request:
            self._add(Invoke(event.request_id, event.at, event.cold))
        self._touch(event.at)

    def take_record(self, record: InvocationRecord) -> None:
        invoke = self._by_request.get(record.request_id)
        # an INIT retried in the invocation (Phase: invoke) is in its Duration: drawn as INIT
        retry_ms = (record.init_retry_ms or 0.0) if record.cold else 0.0
        if invoke is None:  # its start was not seen (dropped, or rebuilt from the store)
            start = record.started_at + retry_ms / 1000
            if record.cold and record.init_duration_ms is not None:
                start += record.init_duration_ms / 1000
            invoke = self._add(Invoke(record.request_id, start, record.cold))
        invoke.duration_ms = max(record.duration_ms - retry_ms, 0.0)
        invoke.status = record.status
        invoke.error_type = record.error_type
        invoke.extensions_ms = record.extensions_ms
        if record.cold and record.init_duration_ms is not None and self.init_duration_ms is None:
            self.init_duration_ms = record.init_duration_ms
        if record.status in ("timeout", "crash") and self.shutdown_at is None:
            # the engine retires such an environment; its shutdown event may have been lost
            self.shutdown_at = invoke.end(invoke.start)
            self.shutdown_reason = record.status
        self._touch(invoke.end(invoke.start))

    def invoke(self, request_id: str) -> Invoke | None:
        return self._by_request.get(request_id)

    # ----------------------------------------------------------------- story

    def _extension_segment(self, out: list[Segment], t: float) -> float:
        """Extension INIT, first of INIT's phases (if the environment has extensions)."""
        if self.extension_init_ms is None:
            return t
        out.append(Segment("extension_init", t, t + self.extension_init_ms / 1000))
        return t + self.extension_init_ms / 1000

    def segments(self, now: float) -> list[Segment]:
        """INIT phases, INVOKEs, the idle gaps between them and SHUTDOWN, oldest first."""
        out: list[Segment] = []
        cursor: float | None = None
        start = self.start
        init_end = self.init_end()
        if self.state == "initializing" and start is not None:
            t = self._extension_segment(out, start)
            if self.runtime_init_ms is not None:
                out.append(Segment("runtime_init", t, t + self.runtime_init_ms / 1000))
                t += self.runtime_init_ms / 1000
            kind = "function_init" if self.runtime_init_ms is not None else "init"
            out.append(Segment(kind, t, max(t, now), label="running"))
            return out
        if start is not None and init_end is not None:
            t = self._extension_segment(out, start)
            if self.runtime_init_ms is not None:
                out.append(Segment("runtime_init", t, t + self.runtime_init_ms / 1000))
                t += self.runtime_init_ms / 1000
            if self.init_error is not None:
                out.append(Segment("init_error", t, max(t, init_end), label=self.init_error))
            elif self.function_init_ms is not None:
                out.append(Segment("function_init", t, t + self.function_init_ms / 1000))
            elif self.init_duration_ms is not None:
                kind = "function_init" if self.runtime_init_ms is not None else "init"
                out.append(Segment(kind, t, max(t, init_end)))
            cursor = max(t, init_end)
        failed_init = self.init_error is not None
        for invoke in sorted(self.invokes, key=lambda i: i.start):
            # the cold invoke waited for INIT: no idle time between them
            if cursor is not None and invoke.start > cursor and not failed_init and not invoke.cold:
                out.append(Segment("idle", cursor, invoke.start))
            end = invoke.end(now)
            out.append(Segment("invoke", invoke.start, end, invoke=invoke))
            cursor = end if cursor is None else max(cursor, end)
        died = self.shutdown_reason in ("timeout", "crash", "error")  # right after its invoke
        if cursor is not None and not failed_init and not died and self.state != "busy":
            until = self.end(now)
            if until > cursor:
                out.append(Segment("idle", cursor, until))
        if self.shutdown_at is not None:
            at = self.shutdown_at
            out.append(Segment("shutdown", at, at, label=self.shutdown_reason or ""))
        return out


class Lifecycle:
    """Every environment the engine told us about (the newest ``max_environments``)."""

    def __init__(
        self, max_environments: int = MAX_ENVIRONMENTS, max_invokes: int = MAX_INVOKES
    ) -> None:
        self.max_environments = max_environments
        self.max_invokes = max_invokes
        self._envs: OrderedDict[str, EnvironmentLife] = OrderedDict()  # oldest first
        self.changes = 0  # bumped whenever something changed: the widget redraws on it

    def __len__(self) -> int:
        return len(self._envs)

    def _env(self, env_id: str, function: str, version: str) -> EnvironmentLife:
        env = self._envs.get(env_id)
        if env is None:
            env = EnvironmentLife(env_id, function, version, self.max_invokes)
            self._envs[env_id] = env
            self._evict()
        return env

    def _evict(self) -> None:
        """Forget the oldest environments: the dead ones first, then the oldest live ones."""
        excess = len(self._envs) - self.max_environments
        if excess <= 0:
            return
        dead = [k for k, e in self._envs.items() if not e.alive][:excess]
        for key in dead:
            del self._envs[key]
        while len(self._envs) > self.max_environments:
            self._envs.popitem(last=False)

    def take(self, events: Iterable[object]) -> bool:
        """Feed a batch of engine events (others are ignored); True if anything changed."""
        changed = False
        for event in events:
            if isinstance(event, EnvironmentEvent):
                self._env(event.env_id, event.function, event.version).take_phase(event)
            elif isinstance(event, InvokeStart):
                self._env(event.env_id, event.function, event.version).take_start(event)
            elif isinstance(event, InvokeEnd):
                r = event.record
                if not r.env_id:
                    continue
                self._env(r.env_id, r.function, r.version).take_record(r)
            else:
                continue
            changed = True
        if changed:
            self.changes += 1
        return changed

    def environment(self, env_id: str) -> EnvironmentLife | None:
        return self._envs.get(env_id)

    def newest(self, limit: int | None = None) -> list[EnvironmentLife]:
        """Environments, the most recently started first."""

        def started(env: EnvironmentLife) -> float:
            start = env.start
            return start if start is not None else env.last_at

        envs = sorted(self._envs.values(), key=started, reverse=True)
        return envs if limit is None else envs[:limit]


def from_records(env_id: str, records: Iterable[InvocationRecord]) -> EnvironmentLife | None:
    """An environment's life rebuilt from stored records (when its events are long gone).

    The records tell INIT's total (on the cold one), each INVOKE, and a shutdown only when a
    timeout or a crash ended it; the INIT phases and other shutdowns were never stored.
    """
    mine = sorted((r for r in records if r.env_id == env_id), key=lambda r: r.started_at)
    if not mine:
        return None
    first = mine[0]
    env = EnvironmentLife(env_id, first.function, first.version, max(MAX_INVOKES, len(mine)))
    env.rebuilt = True
    for record in mine:
        if record.cold and record.init_duration_ms is not None:
            env.init_start = record.started_at
            env.init_duration_ms = record.init_duration_ms
            if record.duration_ms == 0 and record.status == "error":
                env.init_error = record.error_type or "Runtime.Unknown"
                env.shutdown_at = record.started_at + record.init_duration_ms / 1000
                env.shutdown_reason = "error"  # the engine retires a failed INIT at once
        elif record.cold and record.init_retry_ms is not None:  # this INIT was the retry
            # (from the invocation's start: the failed INIT before it is not in the record)
            env.init_phase, env.init_start = "invoke", record.started_at
            env.init_duration_ms = record.init_retry_ms
            if record.duration_ms == record.init_retry_ms and record.status != "success":
                env.init_error = record.error_type or "Runtime.Unknown"  # it failed too
                env.shutdown_at = record.started_at + record.init_retry_ms / 1000
                env.shutdown_reason = "error"
        env.take_record(record)
    return env
