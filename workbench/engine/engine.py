"""The engine's public async API: functions, invocations, concurrency, the event stream.

Hot reload (``hot_reload.py``) and versions and aliases (``registry_api.py``) are mixed in; this
module holds the engine's lifecycle and the invoke path (replay, ``replay.py``, too).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config.discovery import ConfigProblem, discover
from .config.function import FunctionConfig
from .config.source_filter import SourceFilter
from .invoke.function_state import FunctionState
from .invoke.replay import Replay
from .invoke.results import InvokeResult, build_result
from .model.errors import (
    FunctionNotReady,
    InvalidParameterValue,
    InvalidRequestContent,
    LambdaError,
    ResourceNotFound,
    TooManyRequests,
)
from .model.events import (
    ConcurrencyChanged,
    EventBus,
    InvokeEnd,
    InvokeStart,
    RegistryChanged,
    Subscription,
    Throttled,
)
from .model.ids import new_trace_id, new_uuid
from .model.limits import check_payload_size
from .model.problems import CodeProblem
from .registry.control_api import CodeInfo, ControlAPI
from .registry.registry_api import RegistryAPI
from .registry.snapshots import CodeStore
from .registry.versions import LATEST, Registry, is_alias_qualifier
from .reload.hot_reload import HotReload
from .runtime import processes, watchdog
from .runtime.debug_attach import DebugPorts
from .runtime.debugger import Debugger
from .runtime.environment import Environment, Outcome, SpawnError
from .runtime.launch import LaunchError
from .runtime.runtime_api import Invocation
from .runtime.tmp_dirs import EngineTmp
from .sources import async_invoke
from .sources.manager import Sources
from .storage.async_queue import AsyncEvent, AsyncQueue, forget_owner, new_owner
from .storage.database import Database
from .storage.queues import QueueStore
from .storage.store import RecordStore

if TYPE_CHECKING:
    from .sources.scheduler import Scheduler

log = logging.getLogger("workbench.engine")

__all__ = ["Engine", "EngineSettings", "FunctionState", "InvokeResult", "LATEST"]


@dataclass
class EngineSettings:
    account_limit: int = 1000  # Lambda's default concurrent executions per Region
    keep_alive_s: float = 300.0  # idle environments are reaped after this long
    region: str = "us-east-1"
    account_id: str = "123456789012"
    state_dir: Path | None = None  # default: <first root>/.workbench
    python: str = sys.executable  # the interpreter Python runtimes run on
    node: str | None = None  # the Node.js that nodejs runtimes run on; default: `node` on PATH
    reap_interval_s: float = 1.0
    watch: bool = False  # hot reload: follow the roots with watchfiles
    prewarm: bool = False  # after a reload, start one environment so the next call is warm
    reload_step_ms: int = 50  # hot reload's quiet window
    # process the async queue and run the event sources (buckets, schedules, queue mappings)
    background: bool = False
    # multiplies the waits Lambda would make (retry delays, throttle backoff, maximum event age,
    # rate() schedules), so demos and tests need not wait minutes; 1.0 is Lambda's own timing
    time_scale: float = 1.0
    # IDE attach (--debug-port): every Python and Node.js environment starts under its debugger,
    # listening from this port up on 127.0.0.1 and waiting for the IDE; None: only functions
    # with `debug = ...` do, from debugpy's 5678 / Node's 9229 up (see debug_attach.py)
    debug_port: int | None = None


@dataclass(slots=True)
class _Call:
    """One accepted invocation on its way through the engine."""

    qualifier: str | None
    client_context: str | None
    trigger: str | None
    invocation_type: str
    request_id: str
    state: FunctionState | None = None
    fn: FunctionConfig | None = None
    version: str = LATEST
    data: bytes = b""
    attempt: int = 1  # Event invocations: which attempt this is
    enqueued_at: float | None = None  # Event invocations: when it was accepted
    replay_of: str | None = None  # a replay: the request id it runs again


class Engine(HotReload, RegistryAPI, ControlAPI, Replay):
    """Runs functions found under ``roots`` in sandboxed execution environments.

    Use as ``async with Engine([root]) as engine: await engine.invoke("hello", b"{}")``.
    """

    def __init__(self, roots: list[Path] | list[str], settings: EngineSettings | None = None):
        self.roots = [Path(r).resolve() for r in roots] or [Path.cwd()]
        self.settings = settings or EngineSettings()
        self.state_dir = (self.settings.state_dir or self.roots[0] / ".workbench").resolve()
        self.tmp_root = Path(tempfile.gettempdir()) / f"workbench-{os.getuid()}"
        self.pycache_dir = self.state_dir / "pycache"
        self.source_filter = SourceFilter([self.state_dir])
        self.bus = EventBus()
        self.debugger = Debugger(self.bus)  # pdb sessions of handlers paused at breakpoint()
        self.functions: dict[str, FunctionConfig] = {}
        self.problems: dict[str, ConfigProblem] = {}
        self._states: dict[str, FunctionState] = {}
        self.total_in_flight = 0
        self._unreserved_in_flight = 0
        self._reserved_total = 0
        self.database: Database | None = None
        self.scratch: EngineTmp | None = None
        self.store: RecordStore | None = None
        self.registry: Registry | None = None
        self.async_queue: AsyncQueue | None = None
        self.queues: QueueStore | None = None
        self.scheduler: Scheduler | None = None  # set while the background sources run
        self._registry_generation = 0
        self._reaper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._code_info: dict[str, tuple[int, FunctionConfig, CodeInfo]] = {}
        self._closed = False
        self.sources = Sources(self)
        self.debug_ports = DebugPorts()  # held by live environments under a debugger
        self._init_reload()
        self.load_functions()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> Engine:
        processes.become_subreaper()
        self.database = Database(self.state_dir / "workbench.db", bus=self.bus)
        self.store = RecordStore(self.database)
        self.registry = Registry(self.database, CodeStore(self.state_dir / "code"), self.arn)
        self._registry_generation = self.registry.generation()
        self.async_queue = AsyncQueue(self.database, new_owner(new_uuid()))
        self.queues = QueueStore(self.database)
        self.scratch = EngineTmp(self.tmp_root)  # our TMPDIRs' folder; dead engines' swept
        loop = asyncio.get_running_loop()
        self._reaper = loop.create_task(self._reap_idle())
        if self.settings.watch:
            self._start_watching(loop)
        if self.settings.background:
            await self.sources.start()
        return self

    async def close(self) -> None:
        """Shut every environment down, flush the store; no handler process survives this."""
        if self._closed:
            return
        self._closed = True
        self._stop_watching()
        await self.sources.close()
        if self._reaper is not None:
            self._reaper.cancel()
        for task in list(self._tasks):
            task.cancel()
        for state in self._states.values():
            for env in [*state.idle, *state.busy]:
                env.shutdown("exit")
            state.idle.clear()
        processes.kill_strays()
        processes.reap_adopted(wait_s=1.0)
        if self.scratch is not None:
            self.scratch.close()
        watchdog.stop_if_idle()
        if self.async_queue is not None:
            self.async_queue.close()
            forget_owner(self.async_queue.owner)
        if self.store is not None:
            self.store.close()
        if self.registry is not None:
            self.registry.close()
        if self.queues is not None:
            self.queues.close()
        if self.database is not None:
            self.database.close()

    async def __aenter__(self) -> Engine:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def load_functions(self) -> None:
        """(Re)discover the functions under the roots; a broken one never hides the others.

        A changed ``function.toml`` retires the function's idle environments. Code changes are
        only seen by the watcher (``reload``), which knows which files changed.
        """
        found = discover(self.roots, account_limit=self.settings.account_limit)
        self._apply(found, set())

    def _retire_idle(self, state: FunctionState, reason: str, *, latest_only: bool = True) -> None:
        """Shut idle environments down; busy ones finish their invocation, then retire."""
        keep = []
        for env in state.idle:
            if latest_only and env.version != LATEST:
                keep.append(env)
            else:
                env.shutdown(reason)
        state.idle[:] = keep

    def subscribe(self, maxsize: int = 100_000) -> Subscription:
        return self.bus.subscribe(maxsize)

    def function_state(self, name: str) -> FunctionState | None:
        return self._states.get(name)

    def problem(self, name: str) -> CodeProblem | None:
        """What is wrong with the function's latest save: a config error, a syntax error."""
        found = self.problems.get(name)
        if found is not None:
            err = found.error
            message = f"{err.key}: {err.message}" if err.key else err.message
            return CodeProblem(name, err.file, err.line, message, "config")
        state = self._states.get(name)
        if state is not None and state.syntax_errors and name in self.functions:
            path = min(state.syntax_errors)
            line, message = state.syntax_errors[path]
            return CodeProblem(name, path, line, message, "syntax")
        return None

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
            region = self.settings.region
            if parts[3] and parts[3] != region:
                raise ResourceNotFound(
                    f"Functions from '{parts[3]}' are not reachable in this region ('{region}')"
                )
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

    def _target(
        self, name: str, qualifier: str | None
    ) -> tuple[FunctionState, FunctionConfig, str]:
        """What an invocation runs: (the function's state, the config to run, the version).

        An alias picks its version by weight, per invocation.
        """
        latest = self.functions.get(name)
        if latest is None and name not in self.problems:
            raise ResourceNotFound(f"Function not found: {self.arn(name, qualifier)}")
        version = qualifier or LATEST
        if is_alias_qualifier(version):
            alias = self._registry().alias(name, version)
            if alias is None:
                raise ResourceNotFound(f"Function not found: {self.arn(name, qualifier)}")
            version = alias.pick()
        if version == LATEST:
            if latest is None:
                raise FunctionNotReady(
                    f"The function {name} cannot be invoked: its configuration is invalid: "
                    f"{self.problems[name].error}"
                )
            fn = latest
        else:
            published = self._registry().version(name, int(version))
            if published is None:
                raise ResourceNotFound(f"Function not found: {self.arn(name, qualifier)}")
            fn = published.config
        state = self._states.get(name)
        if state is None:  # a version of a function whose function.toml never loaded
            state = self._states[name] = FunctionState(fn)
        return state, fn, version

    @staticmethod
    def _check_payload(payload: bytes | str | None, event: bool = False) -> bytes:
        data = payload.encode() if isinstance(payload, str) else (payload or b"")
        check_payload_size(len(data), event)
        if not data.strip():
            return b"{}"  # Lambda hands an empty payload to the function as {}
        try:
            json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidRequestContent(f"Could not parse request body into json: {e}") from None
        return data

    def _admit(self, state: FunctionState) -> bool:
        """Count the invocation in, or throttle it as Lambda would (429 with its Reason).

        Returns whether it counts against the unreserved pool, for ``_release`` (the function's
        reserved concurrency may change while it runs).
        """
        fn = state.config
        reserved = fn.reserved_concurrency
        unreserved = reserved is None
        if not unreserved:
            if state.in_flight >= reserved:
                self._throttle(state, "ReservedFunctionConcurrentInvocationLimitExceeded")
        else:
            if self._unreserved_in_flight >= self.settings.account_limit - self._reserved_total:
                self._throttle(state, "ConcurrentInvocationLimitExceeded")
            self._unreserved_in_flight += 1
        state.in_flight += 1
        self.total_in_flight += 1
        return unreserved

    def _throttle(self, state: FunctionState, reason: str) -> None:
        state.throttles += 1
        if self.bus.active:
            self.bus.publish(Throttled(state.config.name, reason, time.time()))
        raise TooManyRequests(reason)

    def _release(self, state: FunctionState, unreserved: bool) -> None:
        state.in_flight -= 1
        self.total_in_flight -= 1
        if unreserved:
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

    def _new_environment(self, fn: FunctionConfig, version: str, revision: int) -> Environment:
        env = Environment(
            fn,
            version,
            bus=self.bus,
            region=self.settings.region,
            tmp_root=self.scratch.path if self.scratch is not None else self.tmp_root,
            python=self.settings.python,
            node=self.settings.node,
            pycache_dir=self.pycache_dir,
            revision=revision,
            debugger=self.debugger,
            debug_ports=self.debug_ports,
            debug_port=self.settings.debug_port,
        )
        processes.track(env)
        return env

    @staticmethod
    def _take_idle(state: FunctionState, version: str) -> Environment | None:
        """The most recently used idle environment of ``version``, if any.

        One whose runtime exited while idle (e.g. awslambdaric quits after its response was
        refused as too large; a Node runtime after an unhandled rejection) is dropped here, not
        handed out, even before the loop has seen its exit: the reaper would only notice it on
        its next tick. (A runtime that exits just after this check still fails the call.)
        """
        idle = state.idle
        last = idle[-1] if idle else None
        if last is not None and last.version == version and not last.exited():
            return idle.pop()  # the common case: one version in use
        idle[:] = [env for env in idle if not env.exited()]
        for index in range(len(idle) - 1, -1, -1):
            if idle[index].version == version:
                return idle.pop(index)
        return None

    def _is_current(self, state: FunctionState, env: Environment) -> bool:
        """May this environment serve again? Not once its code or config was replaced."""
        if env.version == LATEST:
            return env.revision == state.revision
        name = env.fn.name
        return name in self.functions or name in self.problems  # versions outlive reloads

    async def invoke(
        self,
        function: str,
        payload: bytes | str | None = None,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        trigger: str | None = None,
        invocation_type: str = "RequestResponse",
        request_id: str | None = None,
    ) -> InvokeResult:
        """An invocation of ``$LATEST``, a version or an alias, run to its end.

        Raises a ``LambdaError`` for what the Invoke API refuses (unknown function, version or
        alias, bad JSON, oversized payload, throttling); a function that fails still returns a
        result, with ``function_error`` set. ``invocation_type`` is what the record says
        (``Event`` also applies the Event payload limit); see ``invoke_event`` for 202-style
        background invocations.
        """
        call = self._prepare(
            function,
            payload,
            _Call(qualifier, client_context, trigger, invocation_type, request_id or new_uuid()),
        )
        return await self._invoke(call)

    def invoke_event(
        self,
        function: str,
        payload: bytes | str | None = None,
        *,
        qualifier: str | None = None,
        trigger: str | None = None,
    ) -> str:
        """Accept an ``Event`` invocation into the durable queue; its request id.

        What the Invoke API refuses (unknown function, bad JSON, a payload over 1 MB) raises
        here, before anything is accepted. Once this returns, the event is committed to SQLite
        and runs at least once: here if the engine has ``background``, else in a serve or TUI
        on the same state dir (``async_invoke.py`` holds the retry rules).
        """
        call = self._prepare(
            function, payload, _Call(qualifier, None, trigger, "Event", new_uuid())
        )
        return async_invoke.accept(self, call)

    def async_event(self, request_id: str) -> AsyncEvent | None:
        """An accepted Event invocation: its status, attempts, outcome and destination."""
        assert self.async_queue is not None
        return self.async_queue.get(request_id)

    def async_events(self, function: str | None = None, limit: int = 100) -> list[AsyncEvent]:
        """The newest accepted Event invocations (of one function), newest first."""
        assert self.async_queue is not None
        return self.async_queue.list(function, limit)

    def dry_run(self, function: str, qualifier: str | None = None) -> str:
        """``DryRun``: check the function and qualifier resolve; the version that would run."""
        call = self._prepare(function, None, _Call(qualifier, None, None, "DryRun", ""))
        return call.version

    def _prepare(self, function: str, payload: bytes | str | None, call: _Call) -> _Call:
        """Everything the Invoke API checks before it accepts a call (raises ``LambdaError``)."""
        if self._closed or self.store is None:
            raise RuntimeError("the engine is not running: use `async with Engine(...)`")
        name, call.qualifier = self.resolve(function, call.qualifier)
        call.state, call.fn, call.version = self._target(name, call.qualifier)
        call.data = self._check_payload(payload, call.invocation_type == "Event")
        return call

    async def _invoke(self, call: _Call) -> InvokeResult:
        state, fn, version = call.state, call.fn, call.version
        assert state is not None and fn is not None
        unreserved = self._admit(state)
        env: Environment | None = None
        try:
            env = self._take_idle(state, version)
            cold = env is None
            if env is None:
                if version != LATEST:
                    self._registry().ensure_files(fn.name, int(version))
                env = self._new_environment(fn, version, state.revision)
            state.busy.add(env)
            self._concurrency_changed(state)
            return await self._run(state, env, cold, call)
        finally:
            self._release(state, unreserved)
            if env is not None:
                state.busy.discard(env)
                current = self._is_current(state, env)
                if env.state == "idle" and current and not self._closed:
                    state.idle.append(env)
                elif env.state != "dead":
                    env.shutdown("exit" if current else "reload")
            self._concurrency_changed(state)

    async def _run(
        self, state: FunctionState, env: Environment, cold: bool, call: _Call
    ) -> InvokeResult:
        request_id, data, qualifier, client_context = (
            call.request_id,
            call.data,
            call.qualifier,
            call.client_context,
        )
        fn = env.fn
        started_at = time.time()
        init_outcome = None
        if cold:
            try:
                init_outcome = await env.start()
            except SpawnError as e:
                raise LambdaError(str(e)) from e
            except LaunchError as e:  # no runtime to start: an init error, as in Lambda
                env.init_duration_ms = (time.time() - started_at) * 1000  # for its INIT_REPORT
                body = {"errorMessage": f"RequestId: {request_id} Error: {e.message}"}
                body["errorType"] = e.error_type
                init_outcome = Outcome("init_error", json.dumps(body).encode(), e.error_type)
        if self.bus.active:
            # after INIT: the timeline shows INIT, then this INVOKE
            self.bus.publish(
                InvokeStart(request_id, fn.name, env.version, env.id, cold, time.time())
            )
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
        result = build_result(
            env, fn, request_id, started_at, cold, outcome, data, call.trigger, qualifier
        )
        result.record.invocation_type = call.invocation_type
        result.record.client_context = client_context
        result.record.attempt = call.attempt
        result.record.replay_of = call.replay_of
        if call.enqueued_at is not None:
            result.record.dwell_ms = (started_at - call.enqueued_at) * 1000
        state.invocations += 1
        state.last_status = result.record.status
        assert self.store is not None
        self.store.add(result.record)
        if self.bus.active:
            self.bus.publish(InvokeEnd(result.record))
        return result

    # ----------------------------------------------------------------- housekeeping

    async def _reap_idle(self) -> None:
        """Shut down environments idle for longer than the keep-alive; notice other processes'
        publishes and alias changes."""
        while True:
            await asyncio.sleep(self.settings.reap_interval_s)
            processes.reap_adopted()
            if self.database is not None:
                self.database.check()  # deleted or replaced under us: put back, or say where
            self._notice_registry_changes()
            deadline = time.time() - self.settings.keep_alive_s
            for state in self._states.values():
                keep = []
                for env in state.idle:
                    if env.state != "idle":
                        continue
                    # an IDE's debugger stays attached for as long as its user wants
                    if env.last_used < deadline and env.ide is None:
                        env.shutdown("idle")
                    else:
                        keep.append(env)
                if len(keep) != len(state.idle):
                    state.idle[:] = keep
                    self._concurrency_changed(state)

    def _notice_registry_changes(self) -> None:
        if self.registry is None:
            return
        try:
            generation = self.registry.generation()
        except Exception:  # noqa: BLE001 - a locked or vanished database: try next tick
            return
        if generation != self._registry_generation:
            self._registry_generation = generation
            if self.bus.active:
                self.bus.publish(RegistryChanged(None, "unknown", time.time()))

    def environments(self, function: str | None = None) -> list[Environment]:
        envs: list[Environment] = []
        for name, state in self._states.items():
            if function is None or name == function:
                envs.extend(state.busy)
                envs.extend(state.idle)
        return envs
