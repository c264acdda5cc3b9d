"""The execution environments of every function: which are idle, which are busy, and their ends.

An invocation takes the most recently used idle environment of its version, or a new one; when
it ends, the environment goes back to idle if it may serve again, and is shut down otherwise
(its code was replaced, it timed out, it died). Idle environments are reaped after the
keep-alive; a save retires the idle ones of the old code; a pre-warm parks a started one.
This is the one place the pool is edited; the TUI reads a snapshot (``FunctionState``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from ..config.api_functions import API_DIR
from ..config.catalog import Catalog
from ..config.function import FunctionConfig, runtime_family
from ..config.settings import EngineSettings
from ..model.events import ConcurrencyChanged, EventBus, ShutdownReason
from ..registry.versions import LATEST, Registry, version_number
from ..runtime import processes, watchdog
from ..runtime.credentials import (
    CredentialsError,
    LocalCredentials,
    aws_variables,
    local_credentials,
)
from ..runtime.debug_attach import DebugPorts
from ..runtime.debugger import Debugger
from ..runtime.environment import Environment, SpawnError
from ..runtime.forkserver import ForkServers
from ..runtime.interpreters import Interpreters
from ..runtime.isolation import Isolation
from ..runtime.launch import LaunchError, enters_namespaces, launch
from ..runtime.namespaces import etc_view
from ..runtime.snapshot_fork import InitType
from ..runtime.standby import Standbys
from ..runtime.tmp_dirs import EngineTmp
from .concurrency import Concurrency
from .provisioned import Provisioned
from .snapshots import Snapshots, uses_snap_start
from .start_gate import StartGate, default_limit

log = logging.getLogger("workbench.pool")


class EnvironmentPool:
    def __init__(
        self,
        *,
        catalog: Catalog,
        interpreters: Interpreters,
        concurrency: Concurrency,
        settings: EngineSettings,
        bus: EventBus,
        registry: Callable[[], Registry],
        tmp_root: Path,
        pycache_dir: Path,
        debugger: Debugger,
        debug_ports: DebugPorts,
        state_dir: Path,
    ) -> None:
        self.catalog = catalog
        self.interpreters = interpreters  # which python / node each declared runtime runs on
        self.concurrency = concurrency
        self.settings = settings
        self.bus = bus
        self._registry = registry
        self.tmp_root = tmp_root
        self.pycache_dir = pycache_dir
        self.debugger = debugger
        self.debug_ports = debug_ports
        self.state_dir = state_dir  # holds the local AWS credentials (runtime/credentials.py)
        self._credentials: LocalCredentials | None = None
        self._idle: dict[str, list[Environment]] = {}  # most recently used last
        self._busy: dict[str, set[Environment]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # every environment made here, retired ones too: one whose extensions are still in
        # their SHUTDOWN when the engine closes is waited for (their processes reaped)
        self._made: weakref.WeakSet[Environment] = weakref.WeakSet()
        self.gate = StartGate(settings.start_concurrency or default_limit())
        self.scratch: EngineTmp | None = None  # this engine's folder for its TMPDIRs
        # what limits its environments (cgroups where the machine allows): known once open
        self.isolation: Isolation | None = None
        # Python environments forked from a started interpreter, where they may be
        self.fork_servers = ForkServers(pycache_dir) if settings.fork_server else None
        self.standbys = Standbys() if settings.standby else None  # Node started ahead
        # environments kept initialised ahead of calls, and SnapStart's snapshots
        self.provisioned = Provisioned(self, state_dir / API_DIR)
        self.snapshots = Snapshots(self)
        self.started = False  # environments may be started (the engine runs)
        self.closed = False

    def open(self, tmp_root: Path) -> None:
        """The engine starts: environments may start, their TMPDIRs in a folder of its own
        under ``tmp_root`` (dead engines' folders there are swept meanwhile)."""
        self.scratch = EngineTmp(tmp_root)
        self.tmp_root = self.scratch.path
        self.catalog.checked.bind(self.scratch.path / "checked")  # hot reload's checked copies
        self.isolation = Isolation.detect(
            self.settings.isolation, self.settings.cpu, self.scratch.path, self.settings.network
        )
        families = {runtime_family(fn.runtime) for fn in self.catalog.functions.values()}
        self.interpreters.prepare(f for f in ("python", "nodejs") if f in families)
        self.started = True
        if self.isolation.cgroups is not None:  # the first start's cgroup, made beside the rest
            threading.Thread(
                target=self.isolation.cgroups.refill, name="workbench-cgroup-spare", daemon=True
            ).start()
        self.provisioned.reconcile()  # function.toml's and the API's, from the start
        if self.fork_servers is not None:
            self.fork_servers.base_dir = self.tmp_root  # (unmounted with it: tmp_dirs.py)
            self.fork_servers.prestart(self._fork_server_keys())

    def _fork_server_keys(self) -> Iterator[tuple[str, bool]]:
        """The fork servers the loaded functions' first cold starts will use (read in the
        fork servers' thread: finding an interpreter may list pyenv's)."""
        namespaces = bool(self.isolation and self.isolation.namespaces)
        if namespaces:  # their /etc, made here rather than on the loop at the first cold start
            etc_view(self.tmp_root)
        for fn in list(self.catalog.functions.values()):
            python = sys.executable  # (other runtimes' launcher in namespaces)
            if runtime_family(fn.runtime) == "python":
                interpreter = self.interpreters.find(fn.runtime)
                python = interpreter.path if interpreter is not None else python
            namespaced = namespaces and enters_namespaces(fn)
            try:
                forkable = launch(fn, python=python, namespaced=namespaced).forkable
            except LaunchError:
                continue
            if forkable:
                yield python, namespaced

    # ----------------------------------------------------------------- reading

    def idle(self, name: str) -> tuple[Environment, ...]:
        return tuple(self._idle.get(name, ()))

    def busy(self, name: str) -> tuple[Environment, ...]:
        return tuple(self._busy.get(name, ()))

    def environments(self, function: str | None = None) -> list[Environment]:
        names = list(dict.fromkeys([*self._busy, *self._idle])) if function is None else [function]
        envs: list[Environment] = []
        for name in names:
            envs.extend(self._busy.get(name, ()))
            envs.extend(self._idle.get(name, ()))
        return envs

    # ----------------------------------------------------------------- taking and giving back

    async def take(self, fn: FunctionConfig, version: str) -> tuple[Environment, bool, float]:
        """An environment for one invocation of ``fn`` at ``version``, marked busy; whether it
        is new (cold: the caller starts it at once), and how long it waited for its turn to
        start (``start_gate.py``)."""
        env = self._take_idle(fn.name, version)
        if env is not None:
            self._busy.setdefault(fn.name, set()).add(env)
            self.changed(fn.name)
            return env, False, 0.0
        self.concurrency.scale(fn.name)  # (Lambda's scaling rate, if asked for)
        if version != LATEST:
            self._registry().ensure_files(fn.name, version_number(version))
        forker = None
        if uses_snap_start(fn, version):  # restored from the version's snapshot
            forker = await self.snapshots.forker(fn, version)
        env, waited = await self._starting(fn, version, self.catalog.revision(fn.name))
        if forker is not None:
            env.init_type, env.restore_from = "snap-start", forker
        return env, True, waited

    async def replace(self, env: Environment) -> Environment:
        """A new environment, busy in the place of ``env``, whose on-demand INIT failed: the
        invocation retries INIT in it (``init_retry.py``); ``give_back(env)`` gives it back.
        A start like any other: its wait for its turn is in the invocation's Duration."""
        self._busy.get(env.fn.name, set()).discard(env)
        fresh, _ = await self._starting(env.fn, env.version, env.revision)
        env.replaced_by = fresh
        return fresh

    async def _starting(
        self, fn: FunctionConfig, version: str, revision: int
    ) -> tuple[Environment, float]:
        """A new environment, marked busy, once it has its turn to start (``start_gate.py``);
        and how long it waited for it."""
        waited = await self.gate.enter(fn.name)
        env = self._new(fn, version, revision)
        env.on_runtime_started = self.gate.leave  # the next cold start may begin
        env.spawn_inline = self.gate.starting == 1 and not self.gate.queued  # a lone start
        self._busy.setdefault(fn.name, set()).add(env)
        self.changed(fn.name)
        return env, waited

    def give_back(self, env: Environment) -> None:
        """The invocation ended: back to idle if it may serve again, else shut down."""
        while env.replaced_by is not None:  # its INIT was retried in another
            env = env.replaced_by
        name = env.fn.name
        self._busy.get(name, set()).discard(env)
        current = self.is_current(env)
        if env.state == "idle" and current and not self.closed:
            self._idle.setdefault(name, []).append(env)
        elif env.state != "dead":
            gone = not self.catalog.knows(name)  # deleted while it ran
            env.shutdown("exit" if current else ("removed" if gone else "reload"))
        self.changed(name)

    def registry(self) -> Registry:
        return self._registry()

    def new_environment(self, fn: FunctionConfig, version: str, init_type: InitType) -> Environment:
        """An environment not started yet, for the pool's helpers (provisioned, snapshots)."""
        env = self._new(fn, version, self.catalog.revision(fn.name))
        env.init_type = init_type
        return env

    def park(self, env: Environment) -> None:
        """A started environment waits idle for its first invocation."""
        self._idle.setdefault(env.fn.name, []).append(env)
        self.changed(env.fn.name)

    def forget_idle(self, env: Environment) -> None:
        idle = self._idle.get(env.fn.name)
        if idle and env in idle:
            idle.remove(env)
            self.changed(env.fn.name)

    def version_deleted(self, name: str, number: int) -> None:
        """A published version was deleted: its snapshot and provisioned concurrency go too."""
        self.snapshots.drop(name, str(number))
        self.provisioned.version_deleted(name, str(number))

    def _new(self, fn: FunctionConfig, version: str, revision: int) -> Environment:
        # $LATEST imports the sources as hot reload checked them; a version is immutable
        checked = None
        if version == LATEST:
            digests = self.catalog.checked_sources.get(fn.name, {})
            checked = {src: str(self.catalog.checked.path(d)) for src, d in digests.items()}
        interpreter = self.interpreters.find(fn.runtime)  # listed once per engine, then cached
        path = interpreter.path if interpreter is not None else None
        family = runtime_family(fn.runtime)
        env = Environment(
            fn,
            version,
            bus=self.bus,
            region=self.settings.region,
            tmp_root=self.tmp_root,
            python=path if family == "python" and path else sys.executable,
            node=path if family == "nodejs" else None,
            pycache_dir=self.pycache_dir,
            revision=revision,
            debugger=self.debugger,
            debug_ports=self.debug_ports,
            debug_port=self.settings.debug_port,
            checked_sources=checked,
            log_limit=self.settings.log_limit,
            isolation=self.isolation,
            fork_servers=self.fork_servers,
            standbys=self.standbys,
            aws=self.aws_variables(fn),
            account_id=self.settings.account_id,
        )
        if interpreter is not None:
            env.runs_as = interpreter.running  # INIT_START names what really runs
        processes.track(env)
        self._made.add(env)
        return env

    def aws_variables(self, fn: FunctionConfig) -> dict[str, str]:
        """The AWS credentials (and endpoints) an environment of ``fn`` starts with: the host's
        only if its function.toml or the engine's settings ask for them."""
        mode = fn.aws_credentials or self.settings.aws_credentials
        if mode == "local" and self._credentials is None:
            try:
                self._credentials = local_credentials(self.state_dir)
            except CredentialsError as e:  # still not the host's: the SDK finds none
                log.warning("%s; functions get no AWS credentials", e)
        return aws_variables(
            mode,
            self._credentials,
            endpoint_url=self.settings.aws_endpoint_url,
            function_env=fn.environment,
        )

    def _take_idle(self, name: str, version: str) -> Environment | None:
        """The most recently used idle environment of ``version``, if any.

        One whose runtime exited while idle (e.g. awslambdaric quits after its response was
        refused as too large; a Node runtime after an unhandled rejection) is dropped here, not
        handed out, even before the loop has seen its exit: the reaper would only notice it on
        its next tick. (A runtime that exits just after this check still fails the call.)
        """
        idle = self._idle.get(name)
        if not idle:
            return None
        if version != LATEST and name in self.provisioned.functions:  # a provisioned one first
            for index in range(len(idle) - 1, -1, -1):
                env = idle[index]
                if env.provisioned and env.version == version and not env.exited():
                    return idle.pop(index)
        last = idle[-1]
        if last.version == version and not last.exited():
            return idle.pop()  # the common case: one version in use
        idle[:] = [env for env in idle if not env.exited()]
        for index in range(len(idle) - 1, -1, -1):
            if idle[index].version == version:
                return idle.pop(index)
        return None

    def is_current(self, env: Environment) -> bool:
        """May this environment serve again? Not once its code or config was replaced."""
        if env.version == LATEST:
            return env.revision == self.catalog.revision(env.fn.name)
        return self.catalog.knows(env.fn.name)  # versions outlive reloads

    # ----------------------------------------------------------------- retiring

    def retire_idle(self, name: str, reason: ShutdownReason, *, latest_only: bool = True) -> None:
        """Shut idle environments down; busy ones finish their invocation, then retire."""
        idle = self._idle.get(name)
        if not idle:
            return
        if reason == "removed":  # the function is gone: its snapshots and provisioned ones too
            self.snapshots.drop(name)
            self.provisioned.dropped(name)
        keep = []
        for env in idle:
            if latest_only and env.version != LATEST:
                keep.append(env)
            else:
                env.shutdown(reason)
        idle[:] = keep

    def reap_idle(self) -> None:
        """Shut down environments idle for longer than the keep-alive; reap killed strays."""
        processes.reap_adopted()
        if self.isolation is not None:
            self.isolation.sweep()  # cgroups whose last process has since gone
        deadline = time.time() - self.settings.keep_alive_s
        for name, idle in self._idle.items():
            keep = []
            for env in idle:
                if env.state != "idle":
                    continue
                if env.provisioned:  # kept initialised for as long as its config asks
                    keep.append(env)
                    continue
                # an IDE's debugger stays attached for as long as its user wants
                if env.last_used < deadline and env.ide is None:
                    env.shutdown("idle")
                else:
                    keep.append(env)
            if len(keep) != len(idle):
                idle[:] = keep
                self.changed(name)
        self.provisioned.reconcile()  # a config changed, an alias moved, one died

    async def shutdown_all(self, timeout: float = 5.0) -> None:
        """The engine closes: every environment goes, busy or idle, and is reaped, with any
        process a handler left behind; its TMPDIRs' folder goes too."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        self.provisioned.close()
        self.snapshots.close()
        for env in self.environments():
            env.shutdown("exit")
        self._idle.clear()
        envs = list(self._made)  # those retired before, whose extensions may be shutting down
        if envs:
            reaped = [asyncio.ensure_future(env.wait_reaped()) for env in envs]
            await asyncio.wait(reaped, timeout=timeout)
        if self.standbys is not None:  # (before their cgroups go)
            self.standbys.close()
        processes.kill_strays()
        if self.isolation is not None:  # (its network namespaces' slirp4netns: adopted)
            self.isolation.close()
        processes.reap_adopted(wait_s=1.0)
        if self.fork_servers is not None:
            self.fork_servers.close()
        if self.scratch is not None:
            self.scratch.close()
        watchdog.stop_if_idle()

    # ----------------------------------------------------------------- pre-warming

    def prewarm(self, name: str) -> None:
        """Start one ``$LATEST`` environment of ``name`` in the background and park it idle, so
        the next call is warm (after a save, with ``EngineSettings.prewarm``)."""
        if not self.started or self.closed:
            return  # not started: nothing to warm yet
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._spawn(loop, self._prewarm(name, self.catalog.revision(name)))

    def _spawn(self, loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> None:
        task = loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _prewarm(self, name: str, revision: int) -> None:
        fn = self.catalog.latest_good[name]
        await self.gate.enter(name)
        env = self._new(fn, LATEST, revision)
        env.on_runtime_started = self.gate.leave
        try:
            failed = await env.start()
        except (SpawnError, LaunchError) as e:
            log.warning("pre-warm of %s failed: %s", name, e)
            return
        except asyncio.CancelledError:
            env.shutdown("exit")
            raise
        if failed is None and env.state == "idle":
            if self.catalog.revision(name) == revision and not self.closed:
                self._idle.setdefault(name, []).append(env)
                self.changed(name)
            else:  # saved again while it started
                env.shutdown("reload")

    # ----------------------------------------------------------------- reporting

    def changed(self, name: str) -> None:
        """Tell the gauge: in flight, busy and idle of ``name``, and the account's total."""
        if not self.bus.wants(ConcurrencyChanged):
            return
        concurrency = self.concurrency
        provisioned = provisioned_busy = 0
        if name in self.provisioned.functions:
            provisioned, provisioned_busy = self.provisioned.count(name)
        self.bus.publish(
            ConcurrencyChanged(
                name,
                concurrency.in_flight(name),
                concurrency.total_in_flight,
                len(self._busy.get(name, ())),
                len(self._idle.get(name, ())),
                concurrency.account_limit,
                concurrency.reserved(name),
                provisioned,
                provisioned_busy,
            )
        )
