"""Execution environments: one runtime process group per environment, reused warm.

An environment lives the Lambda lifecycle: INIT (runtime init, then function init, ending when
the runtime first asks ``/next``) → INVOKE × n, one at a time → SHUTDOWN (idle, reload, timeout,
crash, exit).  Each phase change is published on the engine's event stream.
"""

from __future__ import annotations

import asyncio
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..config.function import FunctionConfig
from ..model.events import EnvironmentEvent, EventBus, LogLine
from . import processes
from .debug_attach import LISTENING, DebugPorts, DebugTarget, debugger_for
from .debugger import Debugger, DebugSession
from .launch import LaunchError, launch
from .runtime_api import DebugChannel, Invocation, RuntimeAPI, RuntimeAPIListener
from .sandbox import (
    ProcUsage,
    apply_limits,
    arm_cpu_guard,
    cpu_guard,
    lambda_environment,
    log_stream_name,
)

INIT_TIMEOUT_S = 10.0  # Lambda bounds the INIT phase at 10 s

# How Go (and so Lambda's own error text) names the signals a runtime dies of.
_SIGNAL_NAMES = {
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
    (the response exceeded the payload limit) | ``timeout`` | ``exit`` (the runtime died).
    """

    kind: str
    body: bytes = b""
    error_type: str | None = None
    content_type: str = "application/json"
    exit_description: str = ""
    size: int = 0
    duration_ms: float = 0.0  # without paused_ms
    log_lines: list[str] | None = None
    paused_ms: float = 0.0  # at a debugger prompt (the timeout clock was stopped)


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
        self.pycache_dir = pycache_dir
        self.debugger = debugger
        self._debug_ports = debug_ports if debug_ports is not None else DebugPorts()
        self._debug_port_base = debug_port
        # Started under an IDE's debugger (see debug_attach.py): no timeout, no CPU guard.
        self.ide: DebugTarget | None = None
        self.waiting_for_debugger = False  # listening, and no debugger has attached yet
        self._listening_line: str | None = None  # the debugger's "listening" line, until seen
        self._held_port: int | None = None  # the debug port, until given back
        self.api = RuntimeAPI(self)
        self.state = "new"  # new → initializing → idle ⇄ busy → dead
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.tmpdir = ""
        self.created_at = 0.0
        self.last_used = 0.0
        self.invocations = 0
        self.init_duration_ms: float | None = None
        self.init_lines: list[str] = []
        self.peak_kb = 0
        self.shutdown_reason: str | None = None
        self.exit_description = ""
        self._lines: list[str] = self.init_lines
        self._request_id: str | None = None
        self._partial = b""
        self._waiter: asyncio.Future[Outcome] | None = None
        self._stdout_fd = -1
        self._pidfd = -1
        self._t_spawn = 0.0
        self._t_connect = 0.0
        self._usage: ProcUsage | None = None
        self._parent_peak_kb = 0
        self._cpu_soft = 0  # the RLIMIT_CPU soft limit last set
        self._output_backlog = False  # the last pipe read filled its buffer: more may wait
        self._loop: asyncio.AbstractEventLoop | None = None
        # the invocation's timeout clock, stopped while a debugger session is paused
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0  # loop time
        self._remaining: float | None = None  # seconds left when a running clock stopped
        self._pauses = 0
        self._paused_since = 0.0
        self._paused_s = 0.0

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def exited(self) -> bool:
        """Has the runtime process ended (even if the loop has not yet run ``_on_exit``)?"""
        if self.state == "dead" or self._pidfd < 0:
            return True
        readable, _, _ = select.select([self._pidfd], [], [], 0)
        return bool(readable)

    def _publish(self, phase: str, **kw: object) -> None:
        if self.bus.active:
            self.bus.publish(
                EnvironmentEvent(
                    phase, self.id, self.fn.name, self.version, time.time(), self.pid or None, **kw
                )
            )

    # ----------------------------------------------------------------- INIT

    async def start(self) -> Outcome | None:
        """Spawn the runtime and wait for INIT to end. None if ready, else how it failed."""
        loop = self._loop = asyncio.get_running_loop()
        self.state = "initializing"
        try:
            self.ide = await self._take_debugger()
            how = launch(
                self.fn,
                python=self.python,
                node=self.node,
                pycache_dir=self.pycache_dir,
                debug=self.ide,
            )
        except LaunchError:
            self._release_debugger()
            self.state = "dead"
            raise
        address = await self.api.start()
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        self.tmpdir = tempfile.mkdtemp(prefix=f"{self.fn.name}-{self.short_id}-", dir=self.tmp_root)
        env = lambda_environment(
            self.fn,
            how,
            version=self.version,
            runtime_api=address,
            tmpdir=self.tmpdir,
            region=self.region,
            log_stream=log_stream_name(self.version, self.id),
        )
        self.created_at = time.time()
        self._t_spawn = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                how.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self.fn.folder,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            self._cleanup_files()
            self._release_debugger()
            self.api.close()
            self.state = "dead"
            raise SpawnError(f"could not start the runtime ({how.argv[0]}): {e}") from e
        proc = self.proc
        self.pid = proc.pid
        # The child's ru_maxrss (from wait4) starts at this process's peak RSS at exec time: exec
        # keeps the larger of the old and new address spaces' peaks. Popen has returned, so the
        # exec is done: only a figure above our peak now is the child's own.
        self._parent_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert proc.stdin is not None and proc.stdout is not None
        try:
            apply_limits(self.pid, self.fn, guard_cpu=self.ide is None)
        except OSError:
            pass  # the process already died: its exit is reported below
        try:
            proc.stdin.write(b"\n")
            proc.stdin.close()
        except OSError:
            pass
        self._stdout_fd = proc.stdout.fileno()
        os.set_blocking(self._stdout_fd, False)
        loop.add_reader(self._stdout_fd, self._read_output)
        self._usage = ProcUsage(self.pid)
        self._pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self._pidfd, self._on_exit)
        self._publish("init_start")
        if self.ide is not None:  # debug_wait once it listens (_take_output)
            self._listening_line = LISTENING[self.ide.kind]
        self._waiter = loop.create_future()
        # an IDE attaches (and its user steps through module code) in their own time
        timer = None if self.ide else loop.call_later(INIT_TIMEOUT_S, self._on_init_timeout)
        try:
            outcome = await self._waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiter = None
        if outcome.kind == "ready":
            self.state = "idle"
            self.last_used = time.time()
            self.peak_kb = self._usage.read()[0]
            return None
        self.init_duration_ms = (time.perf_counter() - self._t_spawn) * 1000
        self.drain_output()
        self._publish(
            "init_error", duration_ms=self.init_duration_ms, error_type=outcome.error_type
        )
        if self.state != "dead":
            self.shutdown("error")
        return outcome

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
        if not self._t_connect:
            self._t_connect = time.perf_counter()
            self._publish("runtime_init", duration_ms=(self._t_connect - self._t_spawn) * 1000)

    def on_ready(self) -> None:
        now = time.perf_counter()
        self.init_duration_ms = (now - self._t_spawn) * 1000
        function_init = (now - (self._t_connect or self._t_spawn)) * 1000
        self._publish("function_init", duration_ms=function_init)
        self._publish("init_done", duration_ms=self.init_duration_ms)
        self._resolve(Outcome("ready"))

    def on_exiting(self) -> None:
        self._sample_peak()

    def _sample_peak(self) -> None:
        if self._usage is not None:  # the runtime waits for our answer: it is still alive
            self.peak_kb = max(self.peak_kb, self._usage.read()[0])

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
        lines: list[str] = []
        self._lines = lines
        self._request_id = inv.request_id
        waiter = self._waiter = loop.create_future()
        t0 = time.perf_counter()
        self._pauses, self._paused_s = 0, 0.0
        self.api.dispatch(inv)
        self._deadline = loop.time() + timeout_s
        # under an IDE's debugger the handler may sit at a breakpoint for as long as it likes
        self._timer = None if self.ide else loop.call_later(timeout_s, self._on_timeout)
        try:
            outcome = await waiter
        finally:
            self._waiter = None
            if self.debugger is not None:  # a session still open ends with its invocation
                self.debugger.end_invocation(inv.request_id)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        outcome.paused_ms = self._paused_s * 1000
        outcome.duration_ms = (time.perf_counter() - t0) * 1000 - outcome.paused_ms
        if outcome.kind in ("response", "error", "too_large"):
            # The runtime wrote its output before its answer, so epoll reported the pipe no
            # later than the socket and it has been read, unless a read filled the buffer.
            if self._output_backlog:
                self.drain_output()
            assert self._usage is not None
            peak_kb, cpu = self._usage.read()
            if peak_kb:
                self.peak_kb = peak_kb
            soft = cpu_guard(cpu, timeout_s)
            if soft != self._cpu_soft and self.ide is None:  # no CPU, no syscall
                self._cpu_soft = soft
                try:
                    arm_cpu_guard(self.pid, soft)
                except OSError:
                    pass
            self.state = "idle"
        self.flush_partial()
        self._lines = []
        self._request_id = None
        self.last_used = time.time()
        outcome.log_lines = lines
        return outcome

    def on_debug(self, inv: Invocation, link: DebugChannel) -> DebugSession | str:
        if self.debugger is None:
            return "no debugger is attached"
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

    def on_response(self, inv: Invocation, body: bytes, content_type: str) -> None:
        self._resolve(Outcome("response", body, content_type=content_type))

    def on_error(self, inv: Invocation, body: bytes, error_type: str | None) -> None:
        self._resolve(Outcome("error", body, error_type))

    def on_response_too_large(self, inv: Invocation, size: int) -> None:
        self._resolve(Outcome("too_large", size=size))

    def _on_timeout(self) -> None:
        if self._usage is not None:
            self.peak_kb = max(self.peak_kb, self._usage.read()[0])
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
            data = os.read(self._stdout_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            if self._loop is not None:
                self._loop.remove_reader(self._stdout_fd)
            return
        self._output_backlog = len(data) == 65536
        self._take_output(data)

    def drain_output(self) -> None:
        """Read what the runtime wrote before it answered, so it lands in this invocation's log."""
        self._output_backlog = False
        fd = self._stdout_fd
        while fd >= 0:
            try:
                data = os.read(fd, 65536)
            except OSError:  # BlockingIOError: nothing more for now
                return
            if not data:
                return
            self._take_output(data)

    def _take_output(self, data: bytes) -> None:
        if self._partial:
            data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        if not complete:
            return
        text = [c.decode("utf-8", "replace") for c in complete]
        self._lines.extend(text)
        if self._listening_line is not None and any(self._listening_line in t for t in text):
            self._listening_line = None
            if self.ide is not None and not self._t_connect:  # not attached already
                self.waiting_for_debugger = True
                self._publish("debug_wait", port=self.ide.port)
        if self.bus.active:
            now = time.time()
            for line in text:
                self.bus.publish(LogLine(self.fn.name, self.id, self._request_id, line, now))

    def flush_partial(self) -> None:
        if self._partial:
            partial, self._partial = self._partial, b""
            self._take_output(partial + b"\n")

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
        if self.proc is not None:
            self.proc.returncode = (
                -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            )
        self._note_exit_usage(usage)
        self.exit_description = describe_exit(status)
        self.drain_output()
        self.flush_partial()
        self._resolve(Outcome("exit", exit_description=self.exit_description))
        if self.state != "dead":
            self.shutdown(self.shutdown_reason or ("exit" if status == 0 else "crash"))

    def _note_exit_usage(self, usage: resource.struct_rusage | None) -> None:
        """Take the reaped runtime's peak RSS when it is really its own (see ``start``)."""
        if usage is not None and usage.ru_maxrss > self._parent_peak_kb:
            self.peak_kb = max(self.peak_kb, usage.ru_maxrss)

    def _kill(self) -> None:
        if self.pid:
            processes.kill_environment(self.pid, f"127.0.0.1:{self.api.port}")

    def shutdown(self, reason: str) -> None:
        """Retire the environment now (Lambda gives a runtime without extensions 0 ms)."""
        if self.state == "dead":
            return
        self.state = "dead"
        self.shutdown_reason = self.shutdown_reason or reason
        self._kill()
        self.api.close()
        loop = self._loop
        if loop is not None:
            if self._stdout_fd >= 0:
                loop.remove_reader(self._stdout_fd)
            if self._pidfd >= 0:
                loop.remove_reader(self._pidfd)
        if self.proc is not None and self.proc.returncode is None:
            try:  # reap now: the group was SIGKILLed, this returns at once
                _, status, usage = os.wait4(self.pid, 0)
                self.proc.returncode = -9 if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                self._note_exit_usage(usage)  # e.g. after an init error
            except ChildProcessError:
                self.proc.returncode = -9
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        if self._usage is not None:
            self._usage.close()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
            self._stdout_fd = -1
        self._cleanup_files()
        self._release_debugger()
        self._publish("shutdown", reason=self.shutdown_reason)
        self._resolve(Outcome("exit", exit_description=self.exit_description or "signal: killed"))

    def _cleanup_files(self) -> None:
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
