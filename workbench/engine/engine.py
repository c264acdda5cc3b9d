"""``Engine``: the headless core's one public facade over the services ``wiring.py`` builds
(catalog, concurrency, pool, invoker, replay, versions, control plane, reload, sources)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .config.discovery import ConfigProblem
from .config.function import FunctionConfig
from .config.settings import EngineSettings
from .config.source_filter import SourceFilter
from .invoke.function_state import FunctionState, snapshot
from .invoke.results import InvokeResult
from .model.events import EventBus, FunctionReloaded, Subscription
from .model.problems import CodeProblem
from .model.records import InvocationType
from .registry.control_plane import CodeInfo
from .registry.versions import Alias, Version
from .runtime.debug_attach import DebugPorts
from .runtime.debugger import Debugger
from .runtime.environment import Environment
from .runtime.host import prepare_host
from .runtime.tmp_dirs import EngineTmp
from .sources.async_invoke import accept
from .sources.scheduler import Scheduler
from .storage.async_queue import AsyncEvent, AsyncQueue
from .storage.database import Database
from .storage.stores import QueueStore, RecordStore, StreamStore, close_stores, open_stores
from .wiring import compose


class Engine:
    """Runs functions found under ``roots`` in sandboxed execution environments.

    Use as ``async with Engine([root]) as engine: await engine.invoke("hello", b"{}")``.
    """

    def __init__(self, roots: list[Path] | list[str], settings: EngineSettings | None = None):
        self.roots = [Path(r).resolve() for r in roots] or [Path.cwd()]
        self.settings = s = settings or EngineSettings()
        self.state_dir = (s.state_dir or self.roots[0] / ".workbench").resolve()
        self.tmp_root = Path(tempfile.gettempdir()) / f"workbench-{os.getuid()}"
        self.source_filter = SourceFilter([self.state_dir])
        self.bus = EventBus()
        self.debugger = Debugger(self.bus)  # pdb sessions of handlers paused at breakpoint()
        self.debug_ports = DebugPorts()  # held by live environments under a debugger
        self.database: Database | None = None  # workbench.db, watched (deleted, replaced, damaged)
        self.store: RecordStore | None = None
        self.async_queue: AsyncQueue | None = None
        self.queues: QueueStore | None = None
        self.streams: StreamStore | None = None
        services = compose(self)
        self.catalog, self.concurrency = services.catalog, services.concurrency
        self.versioning, self.pool = services.versioning, services.pool
        self.invoker, self.replayer = services.invoker, services.replayer
        self.sources, self.hot_reload = services.sources, services.hot_reload
        self.control, self.interpreters = services.control, services.interpreters  # which runs
        self._housekeeping: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.load_functions()

    async def start(self) -> Engine:
        prepare_host()
        self.database = Database(self.state_dir / "workbench.db", bus=self.bus)
        self.store, self.async_queue, self.queues, self.streams = open_stores(self.database)
        self.versioning.open(self.database)
        self.pool.open(self.tmp_root)
        loop = asyncio.get_running_loop()
        self._housekeeping = loop.create_task(self._tick())
        if self.settings.watch:
            self.hot_reload.start_watching(loop)
        if self.settings.background:
            await self.sources.start()
        return self

    async def close(self) -> None:
        """Shut every environment down, flush the store; no handler process survives this."""
        if self.hot_reload.closed:
            return
        self.hot_reload.close()
        await self.sources.close()  # their attempts in flight end on an engine still running
        self.pool.closed = True
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.pool.shutdown_all()
        self.versioning.close()
        close_stores(self.store, self.async_queue, self.queues, self.streams, self.database)

    async def __aenter__(self) -> Engine:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold ``task`` among the engine's own: closing the engine cancels it."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tick(self) -> None:
        """Reap idle environments and adopted strays; notice others' publishes and aliases."""
        while True:
            await asyncio.sleep(self.settings.reap_interval_s)
            if self.database is not None:
                self.database.check()  # deleted or replaced under us: put back, or say where
            self.versioning.notice_changes()
            self.pool.reap_idle()

    @property
    def scratch(self) -> EngineTmp | None:
        """This engine's own folder for its environments' TMPDIRs, while it runs."""
        return self.pool.scratch

    @property
    def functions(self) -> dict[str, FunctionConfig]:
        return self.catalog.functions

    @property
    def problems(self) -> dict[str, ConfigProblem]:
        return self.catalog.problems

    def load_functions(self) -> None:
        self.hot_reload.load_functions()

    def reload(self, changed: Iterable[Path | str]) -> list[FunctionReloaded]:
        return self.hot_reload.reload(changed)

    async def wait_watching(self, timeout: float = 5.0) -> None:
        await self.hot_reload.wait_watching(timeout)

    def problem(self, name: str) -> CodeProblem | None:
        return self.catalog.problem(name)

    def require_function(self, name: str) -> None:
        self.catalog.require(name)

    def latest(self, name: str) -> FunctionConfig:
        return self.control.latest(name)

    def function_state(self, name: str) -> FunctionState | None:
        """A snapshot of the function's live state; None for a function never loaded or run."""
        return snapshot(name, self.catalog, self.concurrency, self.pool, self.invoker)

    def environments(self, function: str | None = None) -> list[Environment]:
        return self.pool.environments(function)

    @property
    def total_in_flight(self) -> int:
        return self.concurrency.total_in_flight

    @property
    def unreserved_concurrency(self) -> int:
        return self.concurrency.unreserved_limit

    @property
    def scheduler(self) -> Scheduler | None:
        return self.sources.scheduler

    def subscribe(
        self, maxsize: int = 100_000, kinds: tuple[type, ...] | None = None
    ) -> Subscription:
        """The engine's events (``kinds``: only those; None: all), ``maxsize`` kept unread."""
        return self.bus.subscribe(maxsize, kinds)

    def arn(self, name: str, qualifier: str | None = None) -> str:
        return self.settings.arn(name, qualifier)

    def resolve(self, function: str, qualifier: str | None = None) -> tuple[str, str | None]:
        return self.invoker.resolve(function, qualifier)

    async def invoke(
        self,
        function: str,
        payload: bytes | str | None = None,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        trigger: str | None = None,
        invocation_type: InvocationType = "RequestResponse",
        request_id: str | None = None,
    ) -> InvokeResult:
        """Run ``$LATEST``, a version or an alias to its end; ``LambdaError`` for what the Invoke
        API refuses, a result with ``function_error`` set for a function that fails."""
        call = self.invoker.prepare(
            function,
            payload,
            qualifier=qualifier,
            client_context=client_context,
            trigger=trigger,
            invocation_type=invocation_type,
            request_id=request_id,
        )
        return await self.invoker.run(call)

    def invoke_event(
        self,
        function: str,
        payload: bytes | str | None = None,
        *,
        qualifier: str | None = None,
        trigger: str | None = None,
    ) -> str:
        """Accept an ``Event`` invocation into the durable queue (SQLite); its request id. It
        runs at least once: here with ``background``, else in a serve or TUI on the state dir."""
        call = self.invoker.prepare(
            function, payload, qualifier=qualifier, trigger=trigger, invocation_type="Event"
        )
        assert self.async_queue is not None  # prepare refuses a stopped engine
        return accept(self.async_queue, self.bus, call)

    def dry_run(self, function: str, qualifier: str | None = None) -> str:
        """``DryRun``: check the function and qualifier resolve; the version that would run."""
        return self.invoker.prepare(function, None, qualifier=qualifier, request_id="").version

    def async_event(self, request_id: str) -> AsyncEvent | None:
        assert self.async_queue is not None
        return self.async_queue.get(request_id)

    def async_events(self, function: str | None = None, limit: int = 100) -> list[AsyncEvent]:
        assert self.async_queue is not None
        return self.async_queue.list(function, limit)

    async def replay(self, request_id: str) -> InvokeResult:
        return await self.replayer.replay(request_id)

    async def publish(self, name: str, description: str | None = None) -> tuple[Version, bool]:
        return await self.versioning.publish(name, description)

    def versions(self, name: str) -> list[Version]:
        return self.versioning.versions(name)

    def version(self, name: str, number: int) -> Version:
        return self.versioning.version(name, number)

    def aliases(self, name: str) -> list[Alias]:
        return self.versioning.aliases(name)

    def alias(self, name: str, alias: str) -> Alias:
        return self.versioning.alias(name, alias)

    def create_alias(
        self,
        name: str,
        alias: str,
        version: str,
        *,
        routing: Mapping[str, object] | None = None,
        description: str = "",
    ) -> Alias:
        return self.versioning.create_alias(
            name, alias, version, routing=routing, description=description
        )

    def update_alias(
        self,
        name: str,
        alias: str,
        *,
        version: str | None = None,
        routing: Mapping[str, object] | None = None,
        description: str | None = None,
    ) -> Alias:
        return self.versioning.update_alias(
            name, alias, version=version, routing=routing, description=description
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self.versioning.delete_alias(name, alias)

    async def latest_code(self, name: str) -> CodeInfo:
        return await self.control.latest_code(name)

    async def check_revision(self, name: str, revision_id: object) -> None:
        await self.control.check_revision(name, revision_id)

    async def update_configuration(
        self, name: str, changes: Mapping[str, object | None], *, revision_id: str | None = None
    ) -> FunctionConfig:
        return await self.control.update_configuration(name, changes, revision_id=revision_id)

    async def latest_zip(self, fn: FunctionConfig) -> bytes:
        return await self.control.latest_zip(fn)

    def code_zip_path(self, version: Version) -> Path:
        return self.control.code_zip_path(version)

    def reserved_concurrency(self, name: str) -> int | None:
        return self.control.reserved_concurrency(name)

    async def put_reserved_concurrency(self, name: str, value: int) -> int:
        return await self.control.put_reserved_concurrency(name, value)

    async def delete_reserved_concurrency(self, name: str) -> None:
        await self.control.delete_reserved_concurrency(name)
