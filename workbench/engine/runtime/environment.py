"""Execution environments: one runtime process group per environment, reused warm.

An environment lives the Lambda lifecycle: INIT (runtime init, then function init, ending when
the runtime first asks ``/next``) → INVOKE × n, one at a time → SHUTDOWN (idle, reload, timeout,
crash, exit).  Each phase change is published on the engine's event stream.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from ..config.function import FunctionConfig
from ..model.events import EnvironmentEvent, EnvironmentPhase, EventBus, LogLine, ShutdownReason
from . import extension_sandbox, namespaces, netns, peers, processes, watchdog
from .cgroups import EnvCgroup
from .debug_attach import LISTENING, DebugPorts, DebugTarget, debugger_for
from .debugger import Debugger, DebugSession
from .extensions import (
    Extensions,
    ShutdownReasonWire,
    Spawn,
    extension_environment,
    find_extensions,
)
from .forkserver import ForkedProcess, ForkServers
from .freezing import Freezer
from .isolation import Isolation
from .launch import LaunchError, enters_namespaces, launch
from .output import DEFAULT_LOG_LIMIT, NOTE_PREFIX, CappedLog, RuntimeOutput
from .response_stream import ResponseStream, announce_chunks
from .runtime_api import DebugChannel, Invocation, RuntimeAPI, RuntimeAPIListener, error_body
from .sandbox import ProcUsage, arm_cpu_guard, cpu_guard, lambda_environment, log_stream_name
from .snapshot_fork import SNAPSHOT_VAR, InitType, RestoredProcess
from .spawning import Forker, MakeCgroup, spawn
from .standby import StandbyProcess, Standbys
from .standby import refusal as standby_refusal
from .tmp_images import TmpImages

# our Python runtime imports these copies instead of the live files (config/checked_sources.py)
CHECKED_SOURCES_VAR = "_WORKBENCH_CHECKED_SOURCES"
INIT_TIMEOUT_S = 10.0  # Lambda bounds the INIT phase at 10 s
# An event not taken by the runtime within its timeout and this much more times out anyway (a
# runtime that never asks /next again after its last response).
DELIVERY_GRACE_S = 10.0
READ_BYTES = 65536  # a pipe's default capacity: one read per loop turn keeps the loop free
# The most CPUs a runtime's threads can use at once: its CPU time grows at most this many
# seconds per second (unknown: as if there were very many, so the time is read every time).
CPUS = os.cpu_count() or 1_000_000

# How Go (and so Lambda's own error text) names the signals a runtime dies of.
_SIGNAL_NAMES: dict[int, str] = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
}


def describe_exit(status: int) -> str:
    """``exit status 3`` / ``signal: killed``, as Lambda words a runtime's end."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "signal: " + _SIGNAL_NAMES.get(sig, f"signal {sig}")
    return f"exit status {os.WEXITSTATUS(status)}"


@dataclass(slots=True)
class Outcome:
    """How one invocation ended, from the environment's point of view.

    kind: ``response`` | ``error`` (the runtime posted an error) | ``init_error`` | ``too_large``
    (the response exceeded the payload limit) | ``timeout`` | ``exit`` (the runtime died);
    ``ready`` ends INIT only.
    """

    kind: OutcomeKind
    body: bytes = b""
    error_type: str | None = None
    content_type: str = "application/json"
    exit_description: str = ""
    size: int = 0
    duration_ms: float = 0.0  # without paused_ms
    log_lines: list[str] | None = None
    paused_ms: float = 0.0  # at a debugger prompt (the timeout clock was stopped)
    extensions_ms: float = 0.0  # extensions' time after the runtime answered (in duration_ms)

    def posted_error_type(self) -> str | None:
        """The error type of an ``error`` / ``init_error``: the posted body's ``errorType``,
        else the runtime's header (or the engine's own)."""
        try:
            return json.loads(self.body).get("errorType") or self.error_type
        except (ValueError, AttributeError):
            return self.error_type


OutcomeKind = Literal["ready", "response", "error", "init_error", "too_large", "timeout", "exit"]
EnvState = Literal["new", "initializing", "idle", "busy", "dead"]


class SpawnError(Exception):
    pass


class Environment(RuntimeAPIListener):
    """One execution environment of one function version."""

    def __init__(
        self,
        fn: FunctionConfig,
        version: str,
        *,
        bus: EventBus,
        region: str,
        tmp_root: Path,
        python: str = sys.executable,
        node: str | None = None,
        pycache_dir: Path | None = None,
        revision: int = 0,
        debugger: Debugger | None = None,
        debug_ports: DebugPorts | None = None,
        debug_port: int | None = None,  # EngineSettings.debug_port: every one under a debugger
        checked_sources: Mapping[str, str] | None = None,  # source file -> its checked copy
        log_limit: int = DEFAULT_LOG_LIMIT,  # EngineSettings.log_limit: what a record keeps
        isolation: Isolation | None = None,  # the engine's: a cgroup per environment, if any
        fork_servers: ForkServers | None = None,  # Python environments forked, where they may be
        standbys: Standbys | None = None,  # Node environments from a started Node (standby.py)
        aws: Mapping[str, str] | None = None,  # its AWS credentials and endpoints (credentials.py)
        account_id: str = "123456789012",  # told to an extension that asks (extensions.py)
    ) -> None:
        self.id = os.urandom(16).hex()
        self.fn = fn
        self.version = version  # "$LATEST" or a published version number
        self.revision = revision  # which save of $LATEST it runs (see FunctionState.revision)
        self.bus = bus
        self.region = region
        self.tmp_root = tmp_root
        self.python = python
        self.node = node
        self.runs_as = fn.runtime  # the runtime that really runs, as INIT_START names it
        self.pycache_dir = pycache_dir
        self.debugger = debugger
        self.checked_sources = dict(checked_sources or {})
        self.isolation = isolation
        self.fork_servers = fork_servers
        self.forked = False  # its process came from a fork server
        self.standbys = standbys
        self.from_standby = False  # its process was a standby runtime, started ahead
        # how Lambda would have started it (AWS_LAMBDA_INITIALIZATION_TYPE); a provisioned one
        # is kept initialised ahead of calls, a SnapStart one is forked from its version's
        # snapshot (``restore_from``) and ``restored`` once it was; ``snapshot_socket`` makes
        # this environment that snapshot (invoke/snapshots.py)
        self.init_type: InitType = "on-demand"
        # Phase: invoke when it retries, inside an invocation, an on-demand INIT that failed
        # (invoke/init_retry.py), bounded then by the function's timeout, not INIT's 10 s
        self.init_phase: Literal["init", "invoke"] = "init"
        self.init_limit_s: float | None = None  # None: INIT_TIMEOUT_S
        self.replaced_by: Environment | None = None  # the one that retried its INIT
        self.provisioned = False
        self.restore_from: Forker | None = None
        self.restored = False
        self.snapshot_socket: str | None = None
        self.cgroup: EnvCgroup | None = None
        self.namespaced = False  # its runtime entered its own namespaces (namespaces.py)
        # stopped while it waits for its next event, as Lambda freezes an idle environment
        self.freezer = Freezer(self._idle_in_next)
        self._spawned = asyncio.Event()  # its process (and cgroup) are known, or never will be
        self._cpu_unthrottled = False  # the quota is lifted while a debugger session runs
        self.aws = dict(aws or {})
        self.account_id = account_id
        self._debug_ports = debug_ports if debug_ports is not None else DebugPorts()
        self._debug_port_base = debug_port
        # Started under an IDE's debugger (see debug_attach.py): no timeout, no CPU guard.
        self.ide: DebugTarget | None = None
        self.waiting_for_debugger = False  # listening, and no debugger has attached yet
        self._listening_line: str | None = None  # the debugger's "listening" line, until seen
        self._listening_tail = b""  # the output's last bytes, while it is looked for
        self._held_port: int | None = None  # the debug port, until given back
        self.api = RuntimeAPI(self)
        self.extensions: Extensions | None = None  # its external extensions, if any
        self._extensions_done: asyncio.Task[None] | None = None  # their SHUTDOWN, under way
        self.state: EnvState = "new"  # new → initializing → idle ⇄ busy → dead
        self.proc: subprocess.Popen[bytes] | ForkedProcess | None = None
        self.pid = 0
        self.tmpdir = ""
        self._tmp_images: TmpImages | None = None  # where its TMPDIR is mounted from, if any
        self.created_at = 0.0
        self.last_used = 0.0
        self.invocations = 0
        self.init_duration_ms: float | None = None
        self.function_init_ms = 0.0  # of INIT, the part after the runtime connected
        self.extension_init_ms = 0.0  # of INIT, the extensions' part before the runtime's
        self.peak_kb = 0
        self.shutdown_reason: ShutdownReason | None = None
        self.exit_description = ""
        self._request_id: str | None = None
        self._output = RuntimeOutput(
            log_limit, live=self._publish_lines, listening=lambda: self.bus.wants(LogLine)
        )
        self.init_log: CappedLog = self._output.log  # the INIT phase's output
        self._waiter: asyncio.Future[Outcome] | None = None
        self._stdout_fd = -1
        self._pidfd = -1
        # called once the runtime process runs (it connected, or INIT ended): the pool's
        # start gate lets the next cold start in
        self.on_runtime_started: Callable[[], None] | None = None
        self.spawn_inline = False  # spawned on the loop itself: no other start is under way
        self._t_spawn = 0.0
        self._t_connect = 0.0
        self._usage: ProcUsage | None = None
        self._runtime_pid = 0
        self.netns: netns.NetNamespace | None = None  # its own network, if it has one
        self._parent_peak_kb = 0
        self._cpu_soft = 0  # the RLIMIT_CPU soft limit last set
        self._cpu_guard_holds_until = 0.0  # (monotonic) the guard cannot need moving before
        self._cpu_guard_budget_s = 0.0  # the timeout it was last worked out for
        self._loop: asyncio.AbstractEventLoop | None = None
        # the invocation's timeout clock, stopped while a debugger session is paused
        self._timer: asyncio.TimerHandle | None = None
        self._timeout_s = 0.0
        self._delivered = False  # the runtime has taken the current event
        self._t_delivered = 0.0  # perf_counter when it did: Duration is measured from here
        self._reaped: asyncio.Future[None] | None = None  # done once the process is reaped
        self._deadline = 0.0  # loop time
        self._remaining: float | None = None  # seconds left when a running clock stopped
        self._pauses = 0
        self._paused_since = 0.0
        self._paused_s = 0.0

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def exited(self) -> bool:
        """Has the runtime process ended (even if the loop has not yet run ``_on_exit``)?

        ``poll``, not ``select``: a pidfd past 1024 (a thousand environments) is fine.
        """
        if self.state == "dead" or self._pidfd < 0:
            return True
        poller = select.poll()
        poller.register(self._pidfd, select.POLLIN)
        return bool(poller.poll(0))

    def _publish(
        self,
        phase: EnvironmentPhase,
        *,
        duration_ms: float | None = None,
        reason: ShutdownReason | None = None,
        error_type: str | None = None,
        port: int | None = None,
    ) -> None:
        if self.bus.wants(EnvironmentEvent):
            self.bus.publish(
                EnvironmentEvent(
                    phase,
                    self.id,
                    self.fn.name,
                    self.version,
                    time.time(),
                    self.pid or None,
                    duration_ms,
                    reason,
                    error_type,
                    port,
                    self.init_phase,
                )
            )

    # ----------------------------------------------------------------- INIT

    async def start(self) -> Outcome | None:
        """Spawn the runtime and wait for INIT to end. None if ready, else how it failed.

        The process is spawned and limited in a worker thread (``spawning.py``): fork/exec,
        prlimit and pidfd_open never stall the loop, which may be serving a thousand others.
        ``on_runtime_started`` (if set) is called once the runtime has connected, or INIT ended.
        """
        loop = self._loop = asyncio.get_running_loop()
        self.state = "initializing"
        try:
            self.ide = await self._take_debugger()
            isolation = self.isolation
            # in its own namespaces where the machine allows it (not under an IDE: its paths
            # are the host's)
            self.namespaced = bool(isolation and isolation.namespaces and self.ide is None)
            self.namespaced = self.namespaced and enters_namespaces(self.fn)
            # a snapshot and its restores share a process image: no namespaces (UNVERIFIED gap)
            self.namespaced = self.namespaced and self.init_type != "snap-start"
            # with extensions: they run in the same namespaces, or with the host's paths
            ext_paths = find_extensions(self.fn)
            how = launch(
                self.fn,
                python=self.python,
                node=self.node,
                pycache_dir=self.pycache_dir,
                debug=self.ide,
                namespaced=self.namespaced,
            )
        except LaunchError:
            self._release_debugger()
            self.state = "dead"
            self._runtime_started()
            raise
        network = isolation.network if isolation is not None else None
        if self.namespaced and network is not None and network.private:
            try:  # its own network: its Runtime API at 127.0.0.1:9001 inside it (netns.py)
                self.netns = await network.take(self._relay_ports())
                self.netns.serve_relays()
            except OSError as e:
                self._never_started()
                raise SpawnError(f"could not make its network namespace: {e}") from e
        address = await self.api.start(self.netns.take_runtime() if self.netns else None)
        mount_tmp = self._make_tmpdir(isolation)
        env = lambda_environment(
            self.fn,
            how,
            version=self.version,
            runtime_api=address,
            tmpdir=self.tmpdir,
            region=self.region,
            log_stream=log_stream_name(self.version, self.id),
            aws=self.aws,
            task_root=namespaces.TASK_ROOT if self.namespaced else None,
        )
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = self.init_type
        if self.init_type == "snap-start":  # Lambda sets neither for SnapStart functions
            env.pop("AWS_LAMBDA_LOG_GROUP_NAME", None)
            env.pop("AWS_LAMBDA_LOG_STREAM_NAME", None)
        if self.snapshot_socket is not None:
            env[SNAPSHOT_VAR] = self.snapshot_socket
        if self.namespaced:
            env["TMPDIR"] = namespaces.TMP
            # (made ahead as the engine starts; never waited for on the loop)
            etc_made = namespaces.etc_view_made(self.tmp_root)
            if etc_made is None:
                etc_made = await asyncio.to_thread(namespaces.etc_view, self.tmp_root)
            try:
                env[namespaces.SPEC_VAR] = namespaces.spec(
                    self.fn,
                    runtime_dir=how.sandbox_runtime,
                    tmpdir=self.tmpdir,
                    root=namespaces.mount_point(self.tmp_root),
                    etc=etc_made,
                    uid=namespaces.environment_uid(),
                    checked_sources=self.checked_sources,
                    in_place=how.sandbox_binds,
                    net=self.netns.path if self.netns is not None else None,
                    net_user=self.netns.user_path if self.netns is not None else None,
                    resolv_conf=network.resolv_conf if network is not None else None,
                )
            except ValueError as e:  # INIT fails with it (workbench_sandbox.run)
                env[namespaces.SANDBOX_ERROR_VAR] = f"cannot describe the namespaces: {e}"
                if self.netns is not None:  # where its Runtime API is, to say so
                    env[namespaces.SPEC_VAR] = namespaces.network_only(
                        self.netns.path, self.netns.user_path
                    )
        elif how.pins_sources and self.checked_sources:
            env[CHECKED_SOURCES_VAR] = json.dumps(self.checked_sources)
        self.created_at = time.time()
        make_cgroup: MakeCgroup | None = None
        if isolation is not None and isolation.cgroups is not None:
            env_id, memory = self.id[:16], self.fn.memory_size

            def make_cgroup() -> EnvCgroup | None:
                return isolation.create(env_id, memory)

        if self.netns is not None:  # outbound traffic can go before any of its code runs
            why = await self.netns.outbound_ready()
            if why:
                self._output.note(f"{NOTE_PREFIX}no outbound network in this environment: {why}")
        if ext_paths:  # Extension INIT, before the runtime starts, in the cgroup made now
            cgroup = await asyncio.to_thread(make_cgroup) if make_cgroup is not None else None
            if cgroup is not None:
                make_cgroup = lambda: cgroup  # noqa: E731 (the runtime joins the same)
            ext_env = extension_environment(env, self.fn, how.env)
            command = joining = None
            if self.namespaced:  # their /tmp is the runtime's: mounted before they start
                if mount_tmp is not None:
                    await asyncio.to_thread(mount_tmp)
                    mount_tmp = None
                command = extension_sandbox.commands(
                    self.fn, env, python=self.python, pycache_dir=self.pycache_dir
                )
                joining = partial(
                    extension_sandbox.joining, self.fn, env, self.python, self.pycache_dir
                )
            ext_spawn = None  # (in namespaces: forked from the namespaced fork server)
            if command is not None and self.fork_servers is not None:
                ext_spawn = self.fork_servers.get(self.python, True).spawn
            failed = await self._start_extensions(
                ext_paths, ext_env, cgroup, command, joining, ext_spawn
            )
            if failed is not None:
                return failed
            self._join_extensions(env)
        fork: Forker | None = self.restore_from
        if fork is None and self.fork_servers is not None and how.forkable:
            fork = self.fork_servers.get(self.python, self.namespaced)
        if fork is None and self.standbys is not None:
            debug, ext = self.ide is not None, bool(ext_paths)
            refused = standby_refusal(self.fn, how, debug=debug, extensions=ext) is not None
            if standby := self.standbys.take(self.fn, how, isolation, refused=refused):
                fork, make_cgroup = standby, standby.make_cgroup
        try:
            spawned = await spawn(
                how.command,
                env,
                self.fn,
                guard_cpu=self.ide is None,
                inline=self.spawn_inline,
                make_cgroup=make_cgroup,
                fork=fork,
                before=mount_tmp,
            )
        except OSError as e:
            if self.extensions is not None:
                self.extensions.kill()
            self._never_started()
            raise SpawnError(f"could not start the runtime ({how.argv[0]}): {e}") from e
        except BaseException:  # cancelled: the spawn is undone by spawning.py
            self._spawned.set()
            raise
        if spawned.cgroup is not None and isolation is not None and isolation.cgroups:
            loop.run_in_executor(None, isolation.cgroups.refill)  # the next start's, made now
        self.proc, self.pid, self._t_spawn = spawned.proc, spawned.proc.pid, spawned.t_spawn
        self.forked = isinstance(spawned.proc, ForkedProcess)
        self.from_standby = isinstance(spawned.proc, StandbyProcess)
        self.restored = isinstance(spawned.proc, RestoredProcess)
        self._runtime_pid = self.pid  # the runtime's own (see _measure)
        self._parent_peak_kb, self._usage = spawned.parent_peak_kb, spawned.usage
        self._pidfd, self._stdout_fd = spawned.pidfd, spawned.stdout_fd
        self.cgroup = spawned.cgroup
        self.freezer.pgid = self.pid
        self._spawned.set()  # its processes are known: connections can be checked
        if self.state == "dead":  # shut down while it was being spawned
            self._kill()
            self._close_process()
            return Outcome("exit", exit_description="signal: killed")
        watchdog.watch(self.pid, self.id)  # kills the group if the engine dies (kill -9)
        loop.add_reader(self._stdout_fd, self._read_output)
        loop.add_reader(self._pidfd, self._on_exit)
        self._publish("init_start")
        if self.ide is not None:  # debug_wait once it listens (_take_output)
            self._listening_line = LISTENING[self.ide.kind]
        self._waiter = loop.create_future()
        # an IDE attaches (and its user steps through module code) in their own time
        # Extension INIT, Runtime INIT and Function INIT share Lambda's 10 s
        init_left = self._init_limit() - self.extension_init_ms / 1000
        timer = None if self.ide else loop.call_later(init_left, self._on_init_timeout)
        try:
            outcome = await self._waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiter = None
            self._runtime_started()
        if outcome.kind == "ready":
            self.state = "idle"
            self.last_used = time.time()
            self.peak_kb = self._usage.peak_kb()
            return None
        self.init_duration_ms = (time.perf_counter() - self._t_spawn) * 1000
        self.drain_output()
        self._publish(
            "init_error", duration_ms=self.init_duration_ms, error_type=outcome.error_type
        )
        if self.extensions is not None:  # the Telemetry API's initRuntimeDone and initReport
            self.extensions.init_failed(
                self.init_type, self.init_duration_ms, outcome.kind, outcome.error_type
            )
        if self.state != "dead":
            self.shutdown("error")
        return outcome

    def _init_limit(self) -> float:
        """How long INIT may take: Lambda's 10 s, or what is left of the function's timeout."""
        return INIT_TIMEOUT_S if self.init_limit_s is None else self.init_limit_s

    def _never_started(self) -> None:
        """The runtime will not run (its spawn failed, or Extension INIT did): undo what was
        made for it, and end the environment."""
        self._spawned.set()
        self._cleanup_files()
        self._release_debugger()
        self.api.close()
        self._close_network()
        self.state = "dead"
        self._runtime_started()

    async def _start_extensions(
        self,
        paths: list[Path],
        env: dict[str, str],
        cgroup: EnvCgroup | None,
        command: extension_sandbox.Command | None,
        joining: Callable[[str], extension_sandbox.Command] | None = None,
        ext_spawn: Spawn | None = None,
    ) -> Outcome | None:
        """Start the extensions (in ``cgroup``) and wait for each to register; the INIT
        failure if one did not."""
        self.extensions = Extensions(
            self.fn,
            self.version,
            paths,
            on_output=self._feed,
            on_crash=self._extension_crashed,
            account_id=self.account_id,
            init_type=self.init_type,
            runtime=self.runs_as,
        )
        self.extensions.telemetry.phase = self.init_phase
        if self.netns is not None:  # their listeners are in its network namespace
            self.extensions.telemetry.connect = self.netns.open_connection
        self.api.extensions = self.extensions
        t0 = time.perf_counter()
        join = cgroup.self_join_files() if cgroup is not None else None
        await self.extensions.launch(env, str(self.fn.folder), join, command, joining, ext_spawn)
        failed = await self.extensions.registered(self._init_limit())
        if failed is None:
            self.extension_init_ms = (time.perf_counter() - t0) * 1000
            self._publish("extension_init", duration_ms=self.extension_init_ms)
            return None
        self.extensions.kill()
        if cgroup is not None and self.isolation is not None and self.isolation.cgroups:
            self.isolation.cgroups.retire(cgroup)  # once the killed extensions have left it
        self._never_started()
        self.init_duration_ms = (time.perf_counter() - t0) * 1000
        self.drain_output()
        self._publish("init_error", duration_ms=self.init_duration_ms, error_type=failed[0])
        self.shutdown_reason = "error"
        self._publish("shutdown", reason="error")
        return Outcome("init_error", error_body(*failed), failed[0])

    def _join_extensions(self, env: dict[str, str]) -> None:
        """In namespaces, the runtime joins its extensions' (the first one's: its pid
        namespace, files, network), as on Lambda, where they see each other's processes."""
        if not self.namespaced or self.extensions is None:
            return
        folder = self.extensions.namespaces_folder()
        if folder is not None:
            env.update(namespaces.joined(env, folder))

    def _extension_crashed(self, ext: object) -> None:
        """An extension died after INIT: Lambda resets the environment."""
        if self.state != "dead":
            self._output.note(f"{NOTE_PREFIX}an extension exited: the environment is reset")
            self.shutdown("crash")

    async def _ready_after_extensions(self) -> None:
        """INIT ends once every extension, too, waits for its next event."""
        assert self.extensions is not None
        failed = await self.extensions.all_waiting(self._init_limit())
        if failed is None:
            self.extensions.init_done(self.init_type, self.init_duration_ms or 0.0)  # phase "ready"
            self._resolve(Outcome("ready"))
        else:
            self._resolve(Outcome("init_error", error_body(*failed), failed[0]))

    def _runtime_started(self) -> None:
        callback, self.on_runtime_started = self.on_runtime_started, None
        if callback is not None:
            callback()

    async def _take_debugger(self) -> DebugTarget | None:
        """The debugger and port this environment starts under, if any (its port is held)."""
        wanted = debugger_for(self.fn, self._debug_port_base)
        if wanted is None:
            return None
        kind, base = wanted
        try:
            port = await self._debug_ports.take(base)
        except OSError as e:
            raise LaunchError("Runtime.DebuggerUnavailable", f"{kind} has no port: {e}") from None
        self._held_port = port
        return DebugTarget(kind, port)

    def _release_debugger(self) -> None:
        self.waiting_for_debugger = False
        if self._held_port is not None:
            self._debug_ports.release(self._held_port)
            self._held_port = None

    def on_connect(self) -> None:
        self.waiting_for_debugger = False  # under a debugger, the runtime gets here once attached
        if not self._t_spawn:
            return  # an extension's, in Extension INIT: the runtime is not spawned yet
        self._runtime_started()

    def on_runtime_connected(self, at: float) -> None:
        """Its first Runtime API request came, on a connection made ``at``: runtime INIT ends
        there (not at the first connection after the spawn, which may be an extension's)."""
        if self._t_spawn and not self._t_connect:
            self._t_connect = max(at, self._t_spawn)
            self._publish("runtime_init", duration_ms=(self._t_connect - self._t_spawn) * 1000)

    def on_ready(self) -> None:
        if self.namespaced and self._tmp_images is not None:
            # the runtime asks for its first event, so it has its /tmp bound (and its extensions
            # before it started): the host's mount of it can go (tmp_images.py). (Not at its
            # connect: an extension's connection made after the runtime's spawn looks the same.)
            self._tmp_images.entered(self.tmpdir)
        if self.cgroup is not None and self.isolation is not None:
            # INIT ran unthrottled (cold starts measure the workbench, not the quota);
            # invocations get Lambda's share of a CPU for their memory (a new cgroup has none)
            vcpus = self.isolation.vcpus(self.fn.memory_size)
            if vcpus is not None:
                self.cgroup.limit_cpu(vcpus)
        now = time.perf_counter()
        # Lambda's Init Duration counts Extension INIT too
        self.init_duration_ms = (now - self._t_spawn) * 1000 + self.extension_init_ms
        function_init = (now - (self._t_connect or self._t_spawn)) * 1000
        self.function_init_ms = function_init
        self._publish("function_init", duration_ms=function_init)
        self._publish("init_done", duration_ms=self.init_duration_ms)
        if self.extensions is not None and self._loop is not None:
            self.extensions.telemetry.init_runtime_done(self.init_type)
            self._loop.create_task(self._ready_after_extensions())
            return
        self._resolve(Outcome("ready"))

    def on_exiting(self) -> None:
        self._sample_peak()

    def on_waiting(self) -> None:
        """The runtime waits for its next event and there is none: freeze it soon (``freezing.py``);
        what its threads print once thawed goes into the next invocation's log."""
        if self.fn.freeze and self.ide is None and self.state != "dead" and self._loop:
            self.freezer.waiting(self._loop)

    @property
    def frozen(self) -> bool:
        return self.freezer.frozen

    @property
    def freezes(self) -> int:
        return self.freezer.freezes

    async def admits(self, peer_port: int, api_port: int) -> bool:
        """Only this environment's own processes may use its Runtime API: another environment's
        handler could otherwise take its event from /next and answer in its name. (The runtime
        can connect before the loop has heard that its spawn, in a worker thread, is done.)"""
        inode = peers.peer_inode(peer_port, api_port, self.netns.diag if self.netns else None)
        if inode is not None and self.extensions is not None and self.extensions.holds(inode):
            return True  # an extension (they connect before the runtime is spawned)
        if not self._spawned.is_set():
            await self._spawned.wait()
        if inode is None:
            return False
        if self.cgroup is not None:
            members = self.cgroup.members()
        else:
            members = [self.pid, *processes.descendants_of(self.pid)] if self.pid else []
        holder = peers.holder_of(members, inode)
        if holder is not None:
            if self.namespaced and self._runtime_pid == self.pid and holder != self.pid:
                self._measure(holder)  # the runtime's first connection: it is this process
            return True
        self._output.note(
            f"{NOTE_PREFIX}refused a connection to this environment's Runtime API from a "
            "process outside it (only the environment's own processes may use it)"
        )
        return False

    def _measure(self, runtime_pid: int) -> None:
        """Measure the runtime (memory, CPU time, its CPU guard) in ``runtime_pid``: in its
        namespaces, the process the engine started waits outside them for the one that runs
        the function (see ``runtimes/python/workbench_sandbox.py``)."""
        try:
            usage = ProcUsage(runtime_pid)
        except OSError:
            return
        if self._usage is not None:
            self._usage.close()
        self._usage, self._runtime_pid = usage, runtime_pid

    def _idle_in_next(self) -> bool:
        return self.state != "dead" and self.api.waiting is not None and self.api.pending is None

    def _sample_peak(self) -> None:
        if self._usage is not None:  # the runtime waits for our answer: it is still alive
            self.peak_kb = max(self.peak_kb, self._usage.peak_kb())
        if self.cgroup is not None:
            self.peak_kb = self.cgroup.whole_peak_kb(self.peak_kb)

    def on_init_error(self, body: bytes, error_type: str | None) -> None:
        self._sample_peak()
        self._resolve(Outcome("init_error", body, error_type or "Runtime.Unknown"))

    def _on_init_timeout(self) -> None:
        self._kill()
        self.shutdown_reason = "timeout"
        self._resolve(Outcome("timeout"))

    # ----------------------------------------------------------------- INVOKE

    async def invoke(self, inv: Invocation, timeout_s: float) -> Outcome:
        """Run one invocation in this (idle, warm) environment."""
        loop = self._loop or asyncio.get_running_loop()
        self.state = "busy"
        self.invocations += 1
        self._output.begin()
        self._request_id = inv.request_id
        waiter = self._waiter = loop.create_future()
        self._t_delivered = time.perf_counter()
        self._timeout_s, self._delivered = timeout_s, False
        self._pauses, self._paused_s = 0, 0.0
        # The clock starts when the runtime takes the event (``on_delivered``), at once when it
        # waits in /next; until then only a backstop runs, for a runtime that never asks again.
        if not self.ide:
            self._timer = loop.call_later(timeout_s + DELIVERY_GRACE_S, self._on_timeout)
        self.freezer.thaw()
        self.api.dispatch(inv)
        if self.extensions is not None:
            self.extensions.invoke(inv, timeout_s)
        try:
            outcome = await waiter
            answered = inv.answered
            if outcome.kind == "response" and answered is not None and not answered.done():
                answered.set_result(outcome.body)  # the caller has it now (answer_first.py)
            if self.extensions is not None and outcome.kind in ("response", "error", "too_large"):
                outcome = await self._extensions_settled(inv, outcome, timeout_s)
        finally:
            self._waiter = None
            if self.debugger is not None:  # a session still open ends with its invocation
                self.debugger.end_invocation(inv.request_id)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        outcome.paused_ms = self._paused_s * 1000
        outcome.duration_ms = (time.perf_counter() - self._t_delivered) * 1000 - outcome.paused_ms
        if outcome.kind in ("response", "error", "too_large"):
            # The runtime wrote its output before its answer, but the loop may have handled the
            # answer first (a streamed one ends in a later read than its first chunk; a read may
            # have filled the buffer): what the pipe holds now is this invocation's (one ioctl).
            self.drain_output()
            assert self._usage is not None
            now = time.monotonic()
            if now < self._cpu_guard_holds_until and timeout_s == self._cpu_guard_budget_s:
                # no CPU second could have been completed since the CPU time was last read:
                # the guard would stay where it is (one /proc read, not two)
                peak_kb, cpu = self._usage.peak_kb(), None
            else:
                peak_kb, cpu = self._usage.read()
            if self.cgroup is not None:  # every process of the environment, not only the runtime
                peak_kb = self.cgroup.whole_peak_kb(peak_kb)
            if peak_kb:
                self.peak_kb = peak_kb
            if cpu is not None:
                self._cpu_guard_budget_s = timeout_s
                # till then, even with every CPU busy, the runtime is within its CPU second
                self._cpu_guard_holds_until = now + (int(cpu) + 1 - cpu) / CPUS
                soft = cpu_guard(cpu, timeout_s)
                if soft != self._cpu_soft and self.ide is None:  # no CPU, no syscall
                    self._cpu_soft = soft
                    try:
                        arm_cpu_guard(self._runtime_pid, soft)
                    except OSError:
                        pass
            self.state = "idle"
        log = self._output.end()
        self._request_id = None
        self.last_used = time.time()
        outcome.log_lines = log.text_lines()
        if self._cpu_unthrottled and self.cgroup is not None and self.isolation is not None:
            self._cpu_unthrottled = False
            self.cgroup.limit_cpu(self.isolation.vcpus(self.fn.memory_size))
        return outcome

    async def _extensions_settled(
        self, inv: Invocation, outcome: Outcome, timeout_s: float
    ) -> Outcome:
        """The invocation ends once every extension asked for its next event: Duration counts
        that post-runtime time, as Lambda bills it. The caller of a synchronous Invoke has its
        response already (``inv.answered``: ``invoke/answer_first.py``)."""
        assert self.extensions is not None
        self.extensions.runtime_answered(
            inv, outcome.kind, outcome.error_type, outcome.size or len(outcome.body),
            self._t_delivered,
        )  # fmt: skip
        left = max(0.0, self._deadline - (self._loop or asyncio.get_running_loop()).time())
        failed = await self.extensions.settled(left if self._timer is not None else timeout_s)
        outcome.extensions_ms = self.extensions.post_runtime_ms
        if failed is not None and self.state != "dead":
            self._output.note(f"{NOTE_PREFIX}{failed[0]}: {failed[1]}")
            self.shutdown("timeout" if failed[0] == "Extension.TimeoutError" else "crash")
        return outcome

    def on_delivered(self, inv: Invocation) -> None:
        """The runtime takes the event now: its deadline and the timeout clock start here, so
        time the engine spent getting it there is never billed nor counted as a timeout."""
        if self._delivered or self._waiter is None:
            return
        self._delivered = True
        loop = self._loop or asyncio.get_running_loop()
        self._t_delivered = time.perf_counter()
        inv.deadline_ms = int((time.time() + self._timeout_s) * 1000)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline = loop.time() + self._timeout_s
        # under an IDE's debugger the handler may sit at a breakpoint for as long as it likes
        if not self.ide:
            self._timer = loop.call_later(self._timeout_s, self._on_timeout)

    def on_debug(self, inv: Invocation, link: DebugChannel) -> DebugSession | str:
        if self.debugger is None:
            return "no debugger is attached"
        if self.cgroup is not None and not self._cpu_unthrottled:
            # the debugger's own work (pdb, stepping) is the workbench's, not the function's:
            # unthrottled until the invocation ends
            self._cpu_unthrottled = True
            self.cgroup.limit_cpu(None)
        return self.debugger.open(inv.request_id, self.fn.name, self.id, link, self)

    def pause_clock(self) -> None:
        """A debugger session is paused: stop the timeout clock, keep the time left."""
        self._pauses += 1
        if self._pauses > 1:
            return
        self._paused_since = time.perf_counter()
        self._remaining = None  # no clock runs (an IDE's environment has none): none to re-arm
        if self._timer is not None and self._loop is not None:
            self._timer.cancel()
            self._timer = None
            self._remaining = max(self._deadline - self._loop.time(), 0.0)

    def credit_pause(self, seconds: float) -> None:
        """The handler reached its debugger session ``seconds`` after calling ``breakpoint()``
        (the runtime measured it): the debugger's time, paused like the rest, not Duration."""
        if not self._pauses:
            return
        self._paused_since -= seconds
        if self._remaining is not None:
            self._remaining += seconds

    def resume_clock(self) -> None:
        """The session resumed (or ended): count the pause, re-arm with the time that was left."""
        if not self._pauses:
            return
        self._pauses -= 1
        if self._pauses:
            return
        self._paused_s += time.perf_counter() - self._paused_since
        remaining, self._remaining = self._remaining, None
        loop = self._loop
        if remaining is not None and self._waiter is not None and not self._waiter.done() and loop:
            self._deadline = loop.time() + remaining
            self._timer = loop.call_later(remaining, self._on_timeout)

    def on_stream(self, inv: Invocation, stream: ResponseStream) -> None:
        announce_chunks(stream, self.bus, self.fn.name, self.id, inv.request_id)

    def on_response(self, inv: Invocation, body: bytes, content_type: str) -> None:
        self._resolve(Outcome("response", body, content_type=content_type))

    def on_error(self, inv: Invocation, body: bytes, error_type: str | None) -> None:
        self._resolve(Outcome("error", body, error_type))

    def on_response_too_large(self, inv: Invocation, size: int) -> None:
        self._resolve(Outcome("too_large", size=size))

    def _on_timeout(self) -> None:
        loop = self._loop
        if self._delivered and loop is not None and self._waiter is not None:
            # uvloop times timers from its turn's clock, in whole ms: one can fire a little
            # early, and a timeout must come no sooner than the function's timeout, as Duration
            # (perf_counter) counts it
            early = self._timeout_s - (time.perf_counter() - self._t_delivered - self._paused_s)
            if early > 0:
                self._timer = loop.call_later(early + 0.001, self._on_timeout)
                return
        self._sample_peak()
        self.shutdown_reason = "timeout"
        self._kill()
        self._resolve(Outcome("timeout"))

    def _resolve(self, outcome: Outcome) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    # ----------------------------------------------------------------- output

    def _read_output(self) -> None:
        try:
            data = os.read(self._stdout_fd, READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            if self._loop is not None:
                self._loop.remove_reader(self._stdout_fd)
            return
        self._feed_runtime(data)

    def drain_output(self) -> None:
        """Read what the runtime wrote before it answered, so it lands in this invocation's log:
        what the pipe holds now and no more (a writer that goes on is the loop's to read)."""
        fd = self._stdout_fd
        if fd < 0:
            return
        try:
            waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return
        while waiting > 0:
            try:
                data = os.read(fd, min(waiting, READ_BYTES))
            except OSError:  # BlockingIOError: another reader was first
                return
            if not data:
                return
            waiting -= len(data)
            self._feed_runtime(data)

    def _feed_runtime(self, data: bytes) -> None:
        """The runtime's output (the extensions' comes through ``_feed`` alone): the Telemetry
        API's ``function`` lines too."""
        if self.extensions is not None:
            self.extensions.telemetry.function_output(data)
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        self._output.feed(data)
        if self._listening_line is None:
            return
        # an IDE is told the port once the debugger says it listens (see debug_attach.py)
        self._listening_tail = (self._listening_tail + data)[-4096:]
        if self._listening_line.encode() in self._listening_tail:
            self._listening_line, self._listening_tail = None, b""
            if self.ide is not None and not self._t_connect:  # not attached already
                self.waiting_for_debugger = True
                self._publish("debug_wait", port=self.ide.port)

    def _publish_lines(self, lines: list[str]) -> None:
        """The live stream's share of the output (``RuntimeOutput`` bounds its rate)."""
        now = time.time()
        for line in lines:
            self.bus.publish(LogLine(self.fn.name, self.id, self._request_id, line, now))

    # ----------------------------------------------------------------- SHUTDOWN

    def _on_exit(self) -> None:
        """The runtime process ended (pidfd readable): reap it and report."""
        loop = self._loop
        if loop is not None and self._pidfd >= 0:
            loop.remove_reader(self._pidfd)
        try:
            _, status, usage = os.wait4(self.pid, 0)
        except ChildProcessError:
            status, usage = 0, None
        status = self._runtime_status(status)
        if self.proc is not None:
            self.proc.returncode = (
                -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            )
        self._note_exit_usage(usage)
        if self.cgroup is not None:  # an out-of-memory kill: the peak was the limit
            self.peak_kb = self.cgroup.whole_peak_kb(self.peak_kb)
        self.exit_description = describe_exit(status)
        self.drain_output()
        self._output.flush()
        self._resolve(Outcome("exit", exit_description=self.exit_description))
        if self.state != "dead":
            self.shutdown(self.shutdown_reason or ("exit" if status == 0 else "crash"))

    def _note_exit_usage(self, usage: resource.struct_rusage | None) -> None:
        """Take the reaped runtime's peak RSS when it is really its own (see ``start``)."""
        if usage is not None and usage.ru_maxrss > self._parent_peak_kb:
            self.peak_kb = max(self.peak_kb, usage.ru_maxrss)

    def _kill(self) -> None:
        if not self.pid:
            return
        if self.cgroup is None:
            # (in its own network its address is every such environment's: nothing escapes
            # its pid namespace anyway)
            api = None if self.netns is not None else f"127.0.0.1:{self.api.port}"
            processes.kill_environment(self.pid, api)
            return
        # everything in its cgroup, daemons that left its process group and session included:
        # listed before any dies (a dead one leaves the list, and becomes ours to reap)
        # but the extensions (our children, reaped by extensions.py): they have SHUTDOWN's 2 s
        spare = self.extensions.pids() if self.extensions is not None else set()
        processes.adopt([pid for pid in self.cgroup.kill(spare) if pid != self.pid])
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def shutdown(self, reason: ShutdownReason) -> None:
        """Retire the environment now (Lambda gives a runtime without extensions 0 ms).

        Nothing here waits: the process group is SIGKILLed, reaped when its pidfd says it is
        gone, and its TMPDIR is moved aside and removed in a worker thread.
        """
        if self.state == "dead":
            return
        self.state = "dead"
        self.shutdown_reason = self.shutdown_reason or reason
        self.freezer.cancel()
        self._runtime_started()  # a start that never ran gives its turn back
        self._kill()
        if self.pid:
            watchdog.forget(self.pid)
        if not self._shut_down_extensions():
            self.api.close()
        self._close_process()
        if self.proc is None:  # (its start stopped before a process: nothing will be reaped)
            self._close_network()
        self._cleanup_files()
        self._release_debugger()
        self._publish("shutdown", reason=self.shutdown_reason)
        self._resolve(Outcome("exit", exit_description=self.exit_description or "signal: killed"))

    def _shut_down_extensions(self) -> bool:
        """SHUTDOWN to the extensions (up to 2 s, the API open meanwhile); whether it was sent."""
        ext = self.extensions
        if ext is None:
            return False
        reason = self.shutdown_reason
        wire: ShutdownReasonWire = "spindown"  # idle, reload, removed, exit
        if reason == "timeout":
            wire = "timeout"
        elif reason in ("crash", "error"):
            wire = "failure"
        if ext.phase == "shutdown" or self._loop is None or not ext.shutdown(wire):
            ext.kill()
            return False

        cgroup = self.cgroup

        async def finish() -> None:
            try:
                await ext.shut_down()
            finally:
                ext.kill()
                if cgroup is not None:  # what the extensions left behind in it
                    spare = {e.proc.pid for e in ext.members if e.proc is not None}
                    processes.adopt(cgroup.kill(spare))
                self.api.close()

        self._extensions_done = self._loop.create_task(finish())
        return True

    def _close_process(self) -> None:
        """Stop reading the runtime; reap it now if it is gone, else once its pidfd says so."""
        loop = self._loop
        if self._stdout_fd >= 0:
            if loop is not None:
                loop.remove_reader(self._stdout_fd)
            if self.proc is not None and self.proc.stdout is not None:
                self.proc.stdout.close()
            self._stdout_fd = -1
        if self._pidfd < 0:
            return
        if loop is not None:
            loop.remove_reader(self._pidfd)
        if self.proc is None or self.proc.returncode is not None or self._reap(os.WNOHANG):
            self._release_process()
        elif loop is not None and not loop.is_closed():
            self._reaped = loop.create_future()
            loop.add_reader(self._pidfd, self._reap_later)
        else:
            self._reap(0)
            self._release_process()

    async def wait_reaped(self) -> None:
        """Until a shut-down environment's process has been reaped (and its extensions have
        had their SHUTDOWN)."""
        if self._extensions_done is not None:
            await asyncio.shield(self._extensions_done)
        if self._reaped is not None:
            await asyncio.shield(self._reaped)

    def _runtime_status(self, status: int) -> int:
        """The runtime's wait status, given its process's (``wait4``): through the fork server
        that process is its init, which wrote the runtime's (``ForkedProcess.runtime_status``)."""
        if isinstance(self.proc, ForkedProcess):
            return self.proc.runtime_status(status)
        return status

    def _reap(self, flags: int) -> bool:
        """wait4 the runtime (it was SIGKILLed); whether it has been reaped."""
        assert self.proc is not None
        try:
            pid, status, usage = os.wait4(self.pid, flags)
        except ChildProcessError:
            self.proc.returncode = -9
            return True
        if pid == 0:
            return False
        status = self._runtime_status(status)
        self.proc.returncode = -9 if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        self._note_exit_usage(usage)  # e.g. after an init error
        return True

    def _reap_later(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._pidfd)
        self._reap(os.WNOHANG)
        self._release_process()

    def _relay_ports(self) -> list[int]:
        """The host's loopback ports its endpoints name (the workbench's APIs, or an emulator
        of the function's own ``AWS_ENDPOINT_URL``): reachable at the same address inside its
        network namespace."""
        ports = []
        for name, value in (*self.aws.items(), *self.fn.environment.items()):
            if not name.startswith("AWS_ENDPOINT_URL"):
                continue
            try:
                url = urlsplit(value)
                port = url.port
            except ValueError:
                continue
            if url.hostname in ("127.0.0.1", "localhost") and port and port not in ports:
                ports.append(port)
        return ports

    def _close_network(self) -> None:
        if self.netns is not None:
            self.netns.close()

    def _release_process(self) -> None:
        self._close_network()
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        if self._reaped is not None and not self._reaped.done():
            self._reaped.set_result(None)
        if self._usage is not None:
            self._usage.close()
        if self.cgroup is not None and self.isolation is not None and self.isolation.cgroups:
            self.isolation.cgroups.retire(self.cgroup)  # now, or once its last process is gone
            self.cgroup = None

    def _make_tmpdir(self, isolation: Isolation | None) -> Callable[[], None] | None:
        """Its TMPDIR: a filesystem of its own, capped in total at its ephemeral storage, where
        the machine allows (``tmp_images.py``; the returned call mounts it, off the loop, if no
        mounted one was ready), else a private folder."""
        if isolation is not None and isolation.tmp is not None:
            self._tmp_images = isolation.tmp
            self.tmpdir, mount = isolation.tmp.take(self.fn.ephemeral_storage)
            return mount
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        self.tmpdir = tempfile.mkdtemp(prefix=f"{self.fn.name}-{self.short_id}-", dir=self.tmp_root)
        return None

    def _cleanup_files(self) -> None:
        """Remove the TMPDIR: renamed away at once (the path is free), deleted off the loop."""
        if not self.tmpdir:
            return
        if self._tmp_images is not None:  # unmounted and removed by its thread
            self._tmp_images.release(self.tmpdir)
            self.tmpdir, self._tmp_images = "", None
            return
        doomed = f"{self.tmpdir}.removing"
        try:
            os.rename(self.tmpdir, doomed)
        except OSError:
            return  # already gone
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.run_in_executor(None, shutil.rmtree, doomed, True)
        else:
            shutil.rmtree(doomed, ignore_errors=True)
