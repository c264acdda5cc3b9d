"""Starting a runtime process without stalling the event loop.

fork/exec of the runtime, its rlimits (prlimit, ``sandbox.apply_limits``), the go-ahead on its
stdin and its pidfd are system calls that take a few milliseconds together; a thousand cold starts
at once made the loop stall for seconds (Invoke and ListFunctions waited behind them). They run
here, in a small pool of long-lived worker threads, and the loop only awaits the result.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from ..config.function import FunctionConfig
from .cgroups import EnvCgroup
from .forkserver import ForkedProcess
from .launch import JOIN_VAR, Launch
from .sandbox import ProcUsage, apply_limits

SPAWN_THREADS = 2
_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(SPAWN_THREADS, thread_name_prefix="workbench-spawn")
        return _executor


@dataclass(slots=True)
class Spawned:
    proc: subprocess.Popen[bytes] | ForkedProcess
    t_spawn: float  # perf_counter just before fork/exec: INIT is measured from here
    parent_peak_kb: int  # the engine's own peak RSS right after the exec (see ``Environment``)
    usage: ProcUsage
    pidfd: int
    stdout_fd: int  # non-blocking
    cgroup: EnvCgroup | None  # the environment's, with the runtime in it


class Forker(Protocol):
    """Where a process can be forked from instead of exec'd: a fork server
    (``forkserver.py``) or a SnapStart snapshot (``snapshot_fork.py``)."""

    def spawn(
        self, env: dict[str, str], cwd: str, *, join: list[str] | None = None
    ) -> ForkedProcess: ...


# the environment's cgroup, made in the spawning thread (None: rlimits only); raises OSError
MakeCgroup = Callable[[], "EnvCgroup | None"]


def _spawn(
    command: Sequence[str],
    env: dict[str, str],
    fn: FunctionConfig,
    guard_cpu: bool,
    make_cgroup: MakeCgroup | None,
    fork: Forker | None = None,
    before: Callable[[], None] | None = None,
) -> Spawned:
    if before is not None:  # (its TMPDIR mounted: tmp_images.py)
        before()
    cgroup = make_cgroup() if make_cgroup is not None else None
    join = cgroup.join_files() if cgroup is not None else None
    joins = False  # the runtime moves itself into its cgroup (it is a fork, or gated)
    t_spawn = time.perf_counter()
    proc: subprocess.Popen[bytes] | ForkedProcess | None = None
    if fork is not None:
        try:
            proc = fork.spawn(env, str(fn.folder), join=join)
            joins = proc.joined
        except OSError:
            proc = None  # exec'd instead
    try:
        if proc is None:
            if join and Launch.is_gated(command) and not any(" " in f for f in join):
                env, joins = {**env, JOIN_VAR: " ".join(join)}, True
            proc = _popen(command, env, fn)
    except OSError:
        if cgroup is not None:
            cgroup.remove()
        raise
    # The child's ru_maxrss (from wait4) starts at this process's peak RSS at exec time: exec
    # keeps the larger of the old and new address spaces' peaks. Popen has returned, so the
    # exec is done: only a figure above our peak now is the child's own. (A fork of the fork
    # server starts from the server's, a few MB.)
    if isinstance(proc, ForkedProcess):  # (a standby runtime: the engine's at its exec)
        parent_peak_kb = proc.parent_peak_kb
    else:
        parent_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert proc.stdin is not None and proc.stdout is not None
    if cgroup is not None and joins:  # it is in (a fork), or will be before it execs (gated)
        cgroup.joined()
    elif cgroup is not None:  # before any user code runs: it waits for the go-ahead
        try:
            cgroup.add(proc.pid)
        except OSError as e:  # never run a function outside the limits it was given
            proc.kill()
            proc.wait()
            proc.stdin.close()
            proc.stdout.close()
            cgroup.remove()
            raise OSError(e.errno, f"cannot move the runtime into its cgroup: {e.strerror}") from e
    try:
        apply_limits(proc.pid, fn, guard_cpu=guard_cpu, memory_rlimit=cgroup is None)
    except OSError:
        pass  # the process already died: its exit is reported by its pidfd
    try:
        proc.stdin.write(b"\n")  # the go-ahead: the limits are in place
        proc.stdin.close()
    except OSError:
        pass
    stdout_fd = proc.stdout.fileno()
    os.set_blocking(stdout_fd, False)
    usage, pidfd = ProcUsage(proc.pid), os.pidfd_open(proc.pid)
    return Spawned(proc, t_spawn, parent_peak_kb, usage, pidfd, stdout_fd, cgroup)


def _popen(
    command: Sequence[str], env: dict[str, str], fn: FunctionConfig
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=fn.folder,
        env=env,
        start_new_session=True,
        close_fds=True,
    )


async def spawn(
    command: Sequence[str],
    env: dict[str, str],
    fn: FunctionConfig,
    *,
    guard_cpu: bool,
    inline: bool = False,
    make_cgroup: MakeCgroup | None = None,
    fork: Forker | None = None,
    before: Callable[[], None] | None = None,
) -> Spawned:
    """Start ``command`` in its own session, limited for ``fn``; raises ``OSError``.

    ``before``: called first, in the same thread (what the runtime needs in place).
    ``inline``: on the loop itself, for a lone cold start (the worker thread's hand-off costs
    ~1 ms of latency, and with nothing else starting there is nothing to stall). Cancelling the
    caller does not orphan the process: the spawn finishes, and its process is killed and reaped.
    """
    if inline:
        return _spawn(command, env, fn, guard_cpu, make_cgroup, fork, before)
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(
        _pool(), _spawn, command, env, fn, guard_cpu, make_cgroup, fork, before
    )
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_discard)
        raise


def _discard(future: asyncio.Future[Spawned]) -> None:
    if not future.cancelled() and future.exception() is None:
        _pool().submit(_kill_and_reap, future.result())


def _kill_and_reap(spawned: Spawned) -> None:
    try:
        os.killpg(spawned.proc.pid, signal.SIGKILL)
    except OSError:
        pass
    if spawned.cgroup is not None:
        spawned.cgroup.kill()
    spawned.proc.wait()
    if spawned.cgroup is not None:
        spawned.cgroup.remove()
    spawned.usage.close()
    os.close(spawned.pidfd)
    if spawned.proc.stdout is not None:
        spawned.proc.stdout.close()
