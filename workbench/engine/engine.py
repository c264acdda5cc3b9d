"""The engine's public async API: functions, invocations, concurrency, the event stream."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import processes
from .config import FunctionConfig
from .discovery import ConfigProblem, discover
from .environment import Environment, Outcome, SpawnError
from .errors import (
    FunctionNotReady,
    InvalidParameterValue,
    InvalidRequestContent,
    InvalidRuntime,
    LambdaError,
    RequestTooLarge,
    ResourceNotFound,
    TooManyRequests,
)
from .events import ConcurrencyChanged, EventBus, InvokeEnd, InvokeStart, Subscription, Throttled
from .records import (
    STATUS_CRASH,
    STATUS_ERROR,
    STATUS_SUCCESS,
    STATUS_TIMEOUT,
    InvocationRecord,
    billed_duration_ms,
    cost_usd,
    end_line,
    init_report_line,
    init_start_line,
    report_line,
    start_line,
    timeout_line,
)
from .runtime_api import MAX_PAYLOAD, Invocation
from .store import RecordStore

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # 6,291,456 bytes: the Invoke API's request limit
EXCERPT = 4096
LATEST = "$LATEST"


@dataclass
class EngineSettings:
    account_limit: int = 1000  # Lambda's default concurrent executions per Region
    keep_alive_s: float = 300.0  # idle environments are reaped after this long
    region: str = "us-east-1"
    account_id: str = "123456789012"
    state_dir: Path | None = None  # default: <first root>/.workbench
    python: str = sys.executable  # the interpreter Python runtimes run on
    reap_interval_s: float = 1.0


@dataclass
class InvokeResult:
    """What a synchronous invoke returns: the Invoke API's response, and the record."""

    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed, as X-Amz-Function-Error
    executed_version: str
    record: InvocationRecord

    @property
    def log(self) -> str:
        return "\n".join(self.record.log_lines) + "\n"

    def log_tail(self) -> str:
        """X-Amz-Log-Result: base64 of the last 4 KB of the log."""
        return base64.b64encode(self.log.encode()[-4096:]).decode()


@dataclass
class FunctionState:
    """Live state of one function: its environments and what runs in them."""

    config: FunctionConfig
    idle: list[Environment] = field(default_factory=list)  # most recently used last
    busy: set[Environment] = field(default_factory=set)
    in_flight: int = 0
    throttles: int = 0
    invocations: int = 0
    last_status: str | None = None


def new_request_id() -> str:
    """A version-4 UUID, as Lambda's request ids are (os.urandom: cheaper than uuid4())."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda passes it to the runtime (``Lambda-Runtime-Trace-Id``)."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=0"


def _compact(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Engine:
    """Runs functions found under ``roots`` in sandboxed execution environments.

    Use as ``async with Engine([root]) as engine: await engine.invoke("hello", b"{}")``.
    """

    def __init__(self, roots: list[Path] | list[str], settings: EngineSettings | None = None):
        self.roots = [Path(r).resolve() for r in roots] or [Path.cwd()]
        self.settings = settings or EngineSettings()
        self.state_dir = self.settings.state_dir or self.roots[0] / ".workbench"
        self.tmp_root = Path(tempfile.gettempdir()) / f"workbench-{os.getuid()}"
        self.bus = EventBus()
        self.functions: dict[str, FunctionConfig] = {}
        self.problems: dict[str, ConfigProblem] = {}
        self._states: dict[str, FunctionState] = {}
        self.total_in_flight = 0
        self._unreserved_in_flight = 0
        self._reserved_total = 0
        self.store: RecordStore | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        self.load_functions()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> Engine:
        processes.become_subreaper()
        self.store = RecordStore(self.state_dir / "workbench.db")
        self._reaper = asyncio.get_running_loop().create_task(self._reap_idle())
        return self

    async def close(self) -> None:
        """Shut every environment down, flush the store; no handler process survives this."""
        if self._closed:
            return
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        for state in self._states.values():
            for env in [*state.idle, *state.busy]:
                env.shutdown("exit")
            state.idle.clear()
        processes.kill_strays()
        processes.reap_adopted(wait_s=1.0)
        if self.store is not None:
            self.store.close()

    async def __aenter__(self) -> Engine:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def load_functions(self) -> None:
        """(Re)discover the functions under the roots; a broken one never hides the others."""
        found = discover(self.roots, account_limit=self.settings.account_limit)
        self.functions = found.functions
        self.problems = found.problems
        for name, fn in self.functions.items():
            state = self._states.get(name)
            if state is None:
                self._states[name] = FunctionState(fn)
            elif state.config != fn:  # changed config: new environments from now on
                state.config = fn
                self._retire_idle(state, "reload")
        for name, state in self._states.items():
            if name not in self.functions:  # removed, or now broken
                self._retire_idle(state, "reload")
        # concurrency reserved by functions is not available to the others
        self._reserved_total = sum(fn.reserved_concurrency or 0 for fn in self.functions.values())

    def _retire_idle(self, state: FunctionState, reason: str) -> None:
        """Shut idle environments down; busy ones finish their invocation, then retire."""
        for env in state.idle:
            env.shutdown(reason)
        state.idle.clear()

    def subscribe(self, maxsize: int = 100_000) -> Subscription:
        return self.bus.subscribe(maxsize)

    def function_state(self, name: str) -> FunctionState | None:
        return self._states.get(name)

    def arn(self, name: str, qualifier: str | None = None) -> str:
        s = self.settings
        base = f"arn:aws:lambda:{s.region}:{s.account_id}:function:{name}"
        return f"{base}:{qualifier}" if qualifier else base

    # ----------------------------------------------------------------- invoke

    def resolve(self, function: str, qualifier: str | None = None) -> tuple[str, str | None]:
        """Name, ``name:qualifier``, a full or partial ARN → (name, qualifier)."""
        name, q = function, None
        if function.startswith("arn:"):
            parts = function.split(":")
            if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
                raise ResourceNotFound(f"Function not found: {function}")
            name, q = parts[6], (parts[7] if len(parts) > 7 else None)
        elif ":function:" in function:
            _, _, rest = function.partition(":function:")
            name, _, q = rest.partition(":")
        elif ":" in function:
            name, _, q = function.partition(":")
        q = q or None
        if qualifier and q and qualifier != q:
            raise InvalidParameterValue(
                "The derived qualifier from the function name does not match the specified "
                "qualifier."
            )
        return name, (qualifier or q)

    def _function(self, name: str, qualifier: str | None) -> FunctionConfig:
        fn = self.functions.get(name)
        if fn is None:
            if name in self.problems:
                raise FunctionNotReady(
                    f"The function {name} cannot be invoked: its configuration is invalid: "
                    f"{self.problems[name].error}"
                )
            raise ResourceNotFound(f"Function not found: {self.arn(name, qualifier)}")
        if qualifier not in (None, LATEST):
            raise ResourceNotFound(f"Function not found: {self.arn(name, qualifier)}")
        if not fn.runtime.startswith("python"):
            raise InvalidRuntime(
                f"The runtime {fn.runtime} of function {name} is not supported yet; "
                "supported: python3.8 … python3.13"
            )
        return fn

    @staticmethod
    def _check_payload(payload: bytes | str | None) -> bytes:
        data = payload.encode() if isinstance(payload, str) else (payload or b"")
        if len(data) > MAX_SYNC_PAYLOAD:
            raise RequestTooLarge(
                f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction "
                "operation"
            )
        if not data.strip():
            return b"{}"  # Lambda hands an empty payload to the function as {}
        try:
            json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidRequestContent(f"Could not parse request body into json: {e}") from None
        return data

    def _admit(self, state: FunctionState) -> None:
        """Count the invocation in, or throttle it as Lambda would (429 with its Reason)."""
        fn = state.config
        reserved = fn.reserved_concurrency
        if reserved is not None:
            if state.in_flight >= reserved:
                self._throttle(state, "ReservedFunctionConcurrentInvocationLimitExceeded")
        else:
            if self._unreserved_in_flight >= self.settings.account_limit - self._reserved_total:
                self._throttle(state, "ConcurrentInvocationLimitExceeded")
            self._unreserved_in_flight += 1
        state.in_flight += 1
        self.total_in_flight += 1

    def _throttle(self, state: FunctionState, reason: str) -> None:
        state.throttles += 1
        if self.bus.active:
            self.bus.publish(Throttled(state.config.name, reason, time.time()))
        raise TooManyRequests(reason)

    def _release(self, state: FunctionState) -> None:
        state.in_flight -= 1
        self.total_in_flight -= 1
        if state.config.reserved_concurrency is None:
            self._unreserved_in_flight -= 1

    def _concurrency_changed(self, state: FunctionState) -> None:
        if self.bus.active:
            self.bus.publish(
                ConcurrencyChanged(
                    state.config.name,
                    state.in_flight,
                    self.total_in_flight,
                    len(state.busy),
                    len(state.idle),
                    self.settings.account_limit,
                    state.config.reserved_concurrency,
                )
            )

    async def invoke(
        self,
        function: str,
        payload: bytes | str | None = None,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        trigger: str | None = None,
    ) -> InvokeResult:
        """A synchronous (RequestResponse) invocation of ``$LATEST``.

        Raises a ``LambdaError`` for what the Invoke API refuses (unknown function, bad JSON,
        oversized payload, throttling); a function that fails still returns a result, with
        ``function_error`` set.
        """
        if self._closed or self.store is None:
            raise RuntimeError("the engine is not running: use `async with Engine(...)`")
        name, qualifier = self.resolve(function, qualifier)
        fn = self._function(name, qualifier)
        data = self._check_payload(payload)
        state = self._states[name]
        self._admit(state)
        env: Environment | None = None
        try:
            cold = not state.idle
            if cold:
                env = Environment(
                    fn,
                    LATEST,
                    bus=self.bus,
                    region=self.settings.region,
                    tmp_root=self.tmp_root,
                    python=self.settings.python,
                    pycache_dir=self.state_dir / "pycache",
                )
                processes.track(env)
            else:
                env = state.idle.pop()
            state.busy.add(env)
            self._concurrency_changed(state)
            return await self._run(state, env, cold, data, qualifier, client_context, trigger)
        finally:
            self._release(state)
            if env is not None:
                state.busy.discard(env)
                current = self.functions.get(env.fn.name) is env.fn
                if env.state == "idle" and current and not self._closed:
                    state.idle.append(env)
                elif env.state != "dead":
                    env.shutdown("exit" if current else "reload")
            self._concurrency_changed(state)

    async def _run(
        self,
        state: FunctionState,
        env: Environment,
        cold: bool,
        data: bytes,
        qualifier: str | None,
        client_context: str | None,
        trigger: str | None,
    ) -> InvokeResult:
        fn = env.fn
        request_id = new_request_id()
        started_at = time.time()
        init_outcome: Outcome | None = None
        if cold:
            try:
                init_outcome = await env.start()
            except SpawnError as e:
                raise LambdaError(str(e)) from e
        if self.bus.active:
            # after INIT: the timeline shows INIT, then this INVOKE
            self.bus.publish(InvokeStart(request_id, fn.name, LATEST, env.id, cold, time.time()))
        if init_outcome is None:
            inv = Invocation(
                request_id=request_id,
                payload=data,
                deadline_ms=int((time.time() + fn.timeout) * 1000),
                function_arn=self.arn(fn.name, qualifier),
                trace_id=new_trace_id(),
                # passed through as Lambda does (a bad one is the runtime's to report); JSON's
                # insignificant line breaks cannot travel in an HTTP header
                client_context=client_context.replace("\r", " ").replace("\n", " ")
                if client_context
                else None,
            )
            outcome = await env.invoke(inv, fn.timeout)
            if outcome.kind == "timeout":
                env.shutdown("timeout")
        else:
            outcome = init_outcome
            outcome.log_lines = []
        result = self._result(env, fn, request_id, started_at, cold, outcome, data, trigger)
        state.invocations += 1
        state.last_status = result.record.status
        assert self.store is not None
        self.store.add(result.record)
        if self.bus.active:
            self.bus.publish(InvokeEnd(result.record))
        return result

    def _result(
        self,
        env: Environment,
        fn: FunctionConfig,
        request_id: str,
        started_at: float,
        cold: bool,
        outcome: Outcome,
        data: bytes,
        trigger: str | None,
    ) -> InvokeResult:
        """Turn how the invocation ended into Lambda's payload, log and record."""
        kind = outcome.kind
        status, error_type, function_error = STATUS_SUCCESS, None, None
        payload = outcome.body
        in_init = cold and env.invocations == 0  # it failed before the event was handed over
        if kind == "error" or kind == "init_error":
            status, function_error = STATUS_ERROR, "Unhandled"
            error_type = outcome.error_type
            try:
                error_type = json.loads(payload).get("errorType") or error_type
            except (ValueError, AttributeError):
                pass
        elif kind == "too_large":
            status, function_error = STATUS_ERROR, "Unhandled"
            error_type = "Function.ResponseSizeTooLarge"
            payload = _compact(
                {
                    "errorType": error_type,
                    "errorMessage": f"Response payload size ({outcome.size} bytes) exceeded "
                    f"maximum allowed payload size ({MAX_PAYLOAD} bytes).",
                }
            )
        elif kind == "timeout":
            status, function_error, error_type = STATUS_TIMEOUT, "Unhandled", "Sandbox.Timedout"
            payload = _compact(
                {
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                    f"{fn.timeout:.2f} seconds",
                    "errorType": error_type,
                }
            )
        elif kind == "exit":
            status, function_error, error_type = STATUS_CRASH, "Unhandled", "Runtime.ExitError"
            how = outcome.exit_description or "signal: killed"
            reason = (
                "Runtime exited without providing a reason"
                if how == "exit status 0"
                else f"Runtime exited with error: {how}"
            )
            payload = _compact(
                {
                    "errorType": error_type,
                    "errorMessage": f"RequestId: {request_id} Error: {reason}",
                }
            )
        duration = outcome.duration_ms
        init_ms = env.init_duration_ms if cold else None
        if in_init:
            duration = 0.0
        record = InvocationRecord(
            request_id=request_id,
            function=fn.name,
            version=LATEST,
            trigger=trigger,
            started_at=started_at,
            duration_ms=duration,
            billed_ms=billed_duration_ms(duration, init_ms),
            init_duration_ms=init_ms,
            memory_size=fn.memory_size,
            max_memory_mb=(env.peak_kb + 512) // 1024,
            cold=cold,
            status=status,
            error_type=error_type,
            request=data[:EXCERPT].decode("utf-8", "replace"),
            response=payload[:EXCERPT].decode("utf-8", "replace"),
            env_id=env.id,
        )
        record.cost = cost_usd(fn.memory_size, record.billed_ms)
        lines: list[str] = []
        if cold:
            lines.append(init_start_line(fn.runtime))
            lines.extend(env.init_lines)
            if in_init and init_ms is not None:
                init_status = "timeout" if kind == "timeout" else "error"
                lines.append(init_report_line(init_ms, "init", init_status, error_type))
        lines.append(start_line(request_id, LATEST))
        lines.extend(outcome.log_lines or ())
        if kind == "timeout":
            lines.append(timeout_line(request_id, fn.timeout, time.time()))
        lines.append(end_line(request_id))
        record.log_lines = lines
        lines.append(report_line(record))
        return InvokeResult(payload, function_error, LATEST, record)

    # ----------------------------------------------------------------- housekeeping

    async def _reap_idle(self) -> None:
        """Shut down environments idle for longer than the keep-alive."""
        while True:
            await asyncio.sleep(self.settings.reap_interval_s)
            processes.reap_adopted()
            deadline = time.time() - self.settings.keep_alive_s
            for state in self._states.values():
                keep = []
                for env in state.idle:
                    if env.state != "idle":
                        continue
                    if env.last_used < deadline:
                        env.shutdown("idle")
                    else:
                        keep.append(env)
                if len(keep) != len(state.idle):
                    state.idle[:] = keep
                    self._concurrency_changed(state)

    def environments(self, function: str | None = None) -> list[Environment]:
        envs: list[Environment] = []
        for name, state in self._states.items():
            if function is None or name == function:
                envs.extend(state.busy)
                envs.extend(state.idle)
        return envs
