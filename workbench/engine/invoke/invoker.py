"""The invoke path: resolve what is invoked, check what the Invoke API checks, run it.

``prepare`` does everything Lambda does before it accepts a call (the function, version or alias
exists; the payload is JSON and within the limit) and returns a ``PreparedCall``, a complete,
immutable value; ``run`` admits it (``Concurrency``), takes an environment (``EnvironmentPool``),
starts it if cold, runs the invocation and records it. Every way in — the Invoke API, the CLI, the
TUI, the async dispatcher, the event sources, replay — goes through these two steps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from ..config.catalog import Catalog
from ..config.function import FunctionConfig
from ..config.settings import EngineSettings
from ..model.arns import FunctionRef, parse_function_ref
from ..model.errors import (
    AccessDenied,
    FunctionNotReady,
    InvalidParameterValue,
    InvalidRequestContent,
    LambdaError,
    ResourceNotFound,
)
from ..model.events import EnvironmentEvent, EventBus, InvokeEnd, InvokeStart
from ..model.ids import new_trace_id, new_uuid
from ..model.limits import check_payload_size
from ..model.records import InvocationType
from ..model.trace import continue_chain, current_chain
from ..registry.versions import LATEST, Registry, is_alias_qualifier, version_number
from ..runtime.environment import Environment, Outcome, SpawnError
from ..runtime.launch import LaunchError
from ..runtime.response_stream import ResponseStream
from ..runtime.runtime_api import Invocation
from ..storage.store import RecordStore
from .concurrency import Concurrency
from .init_retry import FailedInit, retries_init
from .platform_log import report_record
from .pool import EnvironmentPool
from .results import (
    InvocationCancelled,
    InvokeResult,
    build_result,
    cancelled_result,
    restore_of,
)

log = logging.getLogger("workbench.invoke")


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """One invocation the Invoke API has accepted, with everything needed to run it."""

    function: str  # the function's name
    fn: FunctionConfig  # the configuration that runs: $LATEST's or the published version's
    version: str  # "$LATEST" or the version number (an alias has picked one by its weights)
    qualifier: str | None  # as invoked: None, a version or an alias
    data: bytes  # the event, checked
    invocation_type: InvocationType
    request_id: str
    client_context: str | None = None
    trigger: str | None = None
    attempt: int = 1  # Event invocations: which attempt this is
    enqueued_at: float | None = None  # Event invocations: when it was accepted
    replay_of: str | None = None  # a replay: the request id it runs again
    chain: str | None = None  # the trace header of the chain it continues (model/trace.py)
    stream: ResponseStream | None = None  # InvokeWithResponseStream: chunks go there
    # set to the response the moment the runtime answers (answer_first.py), before extensions
    answered: asyncio.Future[bytes] | None = None


def check_payload(payload: bytes | str | None, event: bool = False) -> bytes:
    """The payload as the Invoke API accepts it: within the limit, and JSON."""
    data = payload.encode() if isinstance(payload, str) else (payload or b"")
    check_payload_size(len(data), event)
    if not data.strip():
        return b"{}"  # Lambda hands an empty payload to the function as {}
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidRequestContent(f"Could not parse request body into json: {e}") from None
    except RecursionError:  # 100,000 nested [ : a 4xx, as any other unparseable body
        raise InvalidRequestContent(
            "Could not parse request body into json: arrays and objects nest too deeply"
        ) from None
    return data


class Invoker:
    def __init__(
        self,
        *,
        catalog: Catalog,
        concurrency: Concurrency,
        pool: EnvironmentPool,
        settings: EngineSettings,
        bus: EventBus,
        registry: Callable[[], Registry],
        records: Callable[[], RecordStore | None],
    ) -> None:
        self.catalog = catalog
        self.concurrency = concurrency
        self.pool = pool
        self.settings = settings
        self.bus = bus
        self._registry = registry
        self._records = records
        # per function: how many invocations ran, and how the last one ended
        self.invocations: dict[str, int] = {}
        self.last_status: dict[str, str] = {}

    # ----------------------------------------------------------------- resolving

    def resolve(self, function: str, qualifier: str | None = None) -> tuple[str, str | None]:
        """Name, ``name:qualifier``, a full or partial ARN → (name, qualifier).

        An ARN of another Region is Lambda's 404; one of another account is refused
        (``AccessDenied``): it names a function this workbench does not have, and must never
        run the local function of the same name.
        """
        # not a reference at all (the API refuses those first): a name no function has
        ref = parse_function_ref(function) or FunctionRef(function)
        region = self.settings.region
        if ref.region is not None and ref.region != region:
            raise ResourceNotFound(
                f"Functions from '{ref.region}' are not reachable in this region ('{region}')"
            )
        account = self.settings.account_id
        if ref.account is not None and ref.account != account:
            resource = f"arn:aws:lambda:{ref.region or region}:{ref.account}:function:{ref.name}"
            if ref.qualifier:
                resource += f":{ref.qualifier}"
            raise AccessDenied(resource, f"arn:aws:iam::{account}:root")
        name, q = ref.name, ref.qualifier
        if qualifier and q and qualifier != q:
            raise InvalidParameterValue(
                "The derived qualifier from the function name does not match the specified "
                "qualifier."
            )
        return name, (qualifier or q)

    def target(self, name: str, qualifier: str | None) -> tuple[FunctionConfig, str]:
        """What an invocation runs: (the config to run, the version). An alias picks its
        version by weight, per invocation."""
        arn = self.settings.arn
        latest = self.catalog.functions.get(name)
        if latest is None and name not in self.catalog.problems:
            raise ResourceNotFound(f"Function not found: {arn(name, qualifier)}")
        version = qualifier or LATEST
        if is_alias_qualifier(version):
            alias = self._registry().alias(name, version)
            if alias is None:
                raise ResourceNotFound(f"Function not found: {arn(name, qualifier)}")
            version = alias.pick()
        if version == LATEST:
            if latest is None:
                raise FunctionNotReady(
                    f"The function {name} cannot be invoked: its configuration is invalid: "
                    f"{self.catalog.problems[name].error}"
                )
            return latest, version
        published = self._registry().version(name, version_number(version))
        if published is None:
            raise ResourceNotFound(f"Function not found: {arn(name, qualifier)}")
        return published.config, version

    def prepare(
        self,
        function: str,
        payload: bytes | str | None,
        *,
        qualifier: str | None = None,
        invocation_type: InvocationType = "RequestResponse",
        request_id: str | None = None,
        client_context: str | None = None,
        trigger: str | None = None,
        attempt: int = 1,
        enqueued_at: float | None = None,
        replay_of: str | None = None,
        answered: asyncio.Future[bytes] | None = None,
    ) -> PreparedCall:
        """Everything the Invoke API checks before it accepts a call (raises ``LambdaError``);
        ``answered``: see ``PreparedCall``."""
        if self.pool.closed or self._records() is None:
            raise RuntimeError("the engine is not running: use `async with Engine(...)`")
        name, qualifier = self.resolve(function, qualifier)
        fn, version = self.target(name, qualifier)
        return PreparedCall(
            function=name,
            fn=fn,
            version=version,
            qualifier=qualifier,
            data=check_payload(payload, invocation_type == "Event"),
            invocation_type=invocation_type,
            request_id=new_uuid() if request_id is None else request_id,
            client_context=client_context,
            trigger=trigger,
            attempt=attempt,
            enqueued_at=enqueued_at,
            replay_of=replay_of,
            chain=current_chain(),
            answered=answered,
        )

    # ----------------------------------------------------------------- running

    async def run(self, call: PreparedCall) -> InvokeResult:
        """Admit the call, run it in an environment, record it (raises ``TooManyRequests``)."""
        lease = self.concurrency.admit(call.function, call.fn)
        env: Environment | None = None
        try:
            env, cold, waited = await self.pool.take(call.fn, call.version)
            return await self._run(env, cold, call, waited)
        finally:
            self.concurrency.release(lease)
            if env is not None:
                self.pool.give_back(env)
            else:
                self.pool.changed(call.function)

    def _publish_failed_init(self, env: Environment, error_type: str) -> None:
        """The runtime could not even start (no process): say INIT failed and the environment
        ended, as a runtime that fails its INIT says it, so the lifecycle shows ``✕ INIT
        failed``, not a warm environment."""
        if not self.bus.wants(EnvironmentEvent):
            return
        fn, now = env.fn.name, time.time()
        duration = env.init_duration_ms
        event = EnvironmentEvent("init_error", env.id, fn, env.version, now, None, duration)
        self.bus.publish(replace(event, error_type=error_type, init_phase=env.init_phase))
        self.bus.publish(EnvironmentEvent("shutdown", env.id, fn, env.version, now, reason="error"))

    async def _run(
        self, env: Environment, cold: bool, call: PreparedCall, start_wait_s: float
    ) -> InvokeResult:
        started_at = time.time()
        handed_at: list[float] = []  # when the event went to the runtime (after INIT)
        try:
            result = await self._attempt(env, cold, call, started_at, handed_at)
        except asyncio.CancelledError:
            # Stopped by its caller (the TUI's escape, a closing engine): it was invoked, so it
            # is recorded, cancelled, with the time its handler ran; the caller is told with it.
            ran_ms = (time.time() - handed_at[0]) * 1000 if handed_at else 0.0
            result = cancelled_result(
                env, env.fn, call.request_id, started_at, cold, ran_ms, call.data,
                call.trigger, call.qualifier,
            )  # fmt: skip
            try:
                self._record(call, result, started_at, start_wait_s)
            except Exception:  # noqa: BLE001 - a closing engine's store may be gone: still cancel
                log.debug("cancelled %s not recorded", call.request_id, exc_info=True)
            raise InvocationCancelled(result) from None
        self._record(call, result, started_at, start_wait_s)
        return result

    async def _start(self, env: Environment, request_id: str, started_at: float) -> Outcome | None:
        """Start ``env``: None once INIT is done, else how INIT failed."""
        try:
            return await env.start()
        except SpawnError as e:
            raise LambdaError(str(e)) from e
        except LaunchError as e:  # no runtime to start: an init error, as in Lambda
            env.init_duration_ms = (time.time() - started_at) * 1000  # for its INIT_REPORT
            body = {"errorMessage": f"RequestId: {request_id} Error: {e.message}"}
            body["errorType"] = e.error_type
            self._publish_failed_init(env, e.error_type)
            return Outcome("init_error", json.dumps(body).encode(), e.error_type)

    async def _attempt(
        self,
        env: Environment,
        cold: bool,
        call: PreparedCall,
        started_at: float,
        handed_at: list[float],
    ) -> InvokeResult:
        request_id = call.request_id
        fn = env.fn
        init_outcome = None
        inv: Invocation | None = None
        first_init: FailedInit | None = None  # the INIT (Phase: init) this invocation retried
        timeout_s: float = fn.timeout
        if cold:
            init_outcome = await self._start(env, request_id, started_at)
            if init_outcome is not None and retries_init(env):
                # Lambda runs INIT again, in the invocation, bounded by its timeout
                first_init = FailedInit.of(env, init_outcome, started_at)
                env = await self.pool.replace(env)
                env.init_phase, env.init_limit_s = "invoke", fn.timeout
                init_outcome = await self._start(env, request_id, first_init.ended_at)
                first_init.retry_ms = (time.time() - first_init.ended_at) * 1000
                timeout_s = max(fn.timeout - first_init.retry_ms / 1000, 0.001)
        if self.bus.wants(InvokeStart):
            # after INIT: the timeline shows INIT, then this INVOKE
            self.bus.publish(
                InvokeStart(request_id, fn.name, env.version, env.id, cold, time.time())
            )
        if init_outcome is None:
            client_context = call.client_context
            inv = Invocation(
                request_id=request_id,
                payload=call.data,
                deadline_ms=int((time.time() + fn.timeout) * 1000),
                function_arn=self.settings.arn(fn.name, call.qualifier),
                trace_id=new_trace_id()
                if call.chain is None
                else continue_chain(call.chain, self.settings.arn(fn.name)),
                # passed through as Lambda does (a bad one is the runtime's to report); JSON's
                # insignificant line breaks cannot travel in an HTTP header
                client_context=client_context.replace("\r", " ").replace("\n", " ")
                if client_context
                else None,
                stream=call.stream,
                answered=call.answered,
            )
            handed_at.append(time.time())
            debugger = self.pool.debugger
            noted = debugger.invoking(request_id, call.trigger)  # an API caller's breakpoints
            try:
                outcome = await env.invoke(inv, timeout_s)
            finally:
                if noted:
                    debugger.invoked(request_id)
            if outcome.kind == "timeout":
                env.shutdown("timeout")
        else:
            outcome = init_outcome
            outcome.log_lines = []
        if first_init is not None:  # Duration covers the retried INIT
            retry_ms = first_init.retry_ms
            outcome.duration_ms = outcome.duration_ms + retry_ms if inv is not None else retry_ms
        result = build_result(
            env, fn, request_id, started_at, cold, outcome, call.data, call.trigger,
            call.qualifier, first_init,
        )  # fmt: skip
        if inv is not None and inv.stream is not None and inv.stream.streamed:
            result.record.stream_chunks = inv.stream.chunks  # the body: cut as any response
        if env.extensions is not None:  # the Telemetry API's platform.report (telemetry.py)
            if inv is not None:  # it ran: the extensions' post-invocation time
                result.record.extensions_ms = outcome.extensions_ms
            report = report_record(result.record, restore_of(env, cold))
            env.extensions.telemetry.report(report, result.record.duration_ms)
        return result

    def _record(
        self, call: PreparedCall, result: InvokeResult, started_at: float, start_wait_s: float
    ) -> None:
        """Count, store and stream the invocation's record."""
        fn = call.fn
        record = result.record
        record.invocation_type = call.invocation_type
        record.client_context = call.client_context
        record.attempt = call.attempt
        record.replay_of = call.replay_of
        record.start_wait_ms = start_wait_s * 1000
        if call.enqueued_at is not None:
            record.dwell_ms = (started_at - call.enqueued_at) * 1000
        self.invocations[fn.name] = self.invocations.get(fn.name, 0) + 1
        self.last_status[fn.name] = record.status
        store = self._records()
        assert store is not None
        store.add(record)
        if self.bus.wants(InvokeEnd):
            self.bus.publish(InvokeEnd(record))


class Running(Protocol):
    """What runs invocations: the ``Engine`` (its ``invoker``)."""

    @property
    def invoker(self) -> Invoker: ...


def invoker_of(engine: Running | Invoker) -> Invoker:
    """The invoker of ``engine`` (or ``engine`` itself): for the functions that start an
    invocation of their own (``streaming.py``, ``answer_first.py``)."""
    return engine if isinstance(engine, Invoker) else engine.invoker
