"""Keeping every process a handler starts inside the workbench's reach.

The engine becomes a child subreaper, so a process that a handler double-forks away from its
environment's process group is re-parented to the engine instead of to init; on close the
engine kills whatever is left that carries a Lambda environment (``AWS_LAMBDA_RUNTIME_API``).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import time
import weakref
from typing import Protocol


class _Endpoint(Protocol):
    port: int


class Tracked(Protocol):
    """An execution environment (``environment.py``, which imports this module) as tracked."""

    pid: int

    @property
    def state(self) -> str: ...

    @property
    def api(self) -> _Endpoint: ...  # its Runtime API: what its processes' variable names


PR_SET_CHILD_SUBREAPER = 36
_live: weakref.WeakSet[Tracked] = weakref.WeakSet()
_adopted: dict[int, int] = {}  # killed descendants still to reap → reaper ticks left to try


def become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def track(env: Tracked) -> None:
    _live.add(env)


def children_of(pid: int) -> list[int]:
    """``pid``'s children, from its tasks' ``/proc/PID/task/TID/children``: O(its own), where
    psutil finds children by reading every process's parent (O(all processes) per call)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(child) for child in f.read().split())
        except (OSError, ValueError):
            continue
    return found


def descendants_of(pid: int) -> list[int]:
    found: list[int] = []
    stack = children_of(pid)
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children_of(child))
    return found


def kill_environment(root_pid: int, runtime_api: str | None) -> None:
    """SIGKILL an environment: its process group, its descendants that left the group, and
    processes that came from it and were already re-parented to us (double-forked daemons).

    The work is the environment's own: its tree is walked from its root, and of the engine's
    direct children (one read of /proc/self/task/*/children) only those that are not another
    environment's runtime have their variables read. (psutil found children by reading every
    process on the machine, at each kill: with a thousand environments, a million reads.)
    """
    victims = descendants_of(root_pid)
    roots = {env.pid for env in list(_live)}
    # (one whole variable: NULs around it; not the block split into a list, which a fork
    # server's, padded with 64 KB of NULs for its environments' own, made 65,000 entries long)
    marker = f"\0AWS_LAMBDA_RUNTIME_API={runtime_api}\0".encode()
    # (``runtime_api`` None: its address is not its own, 127.0.0.1:9001 in a network namespace
    # of its own, and nothing it started can have left its pid namespace)
    for child in children_of(os.getpid()) if runtime_api is not None else ():
        if child in roots or child in _adopted:
            continue
        try:
            with open(f"/proc/{child}/environ", "rb") as f:
                environ = b"\0" + f.read() + b"\0"
        except OSError:
            continue
        if marker in environ:
            victims.append(child)
            victims.extend(descendants_of(child))
    try:
        os.killpg(root_pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for victim in victims:
        try:
            os.kill(victim, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        _adopted[victim] = 20


def adopt(pids: list[int]) -> None:
    """Killed processes of an environment (its cgroup's): reaped here if they are our children
    by then (a double-forked daemon is re-parented to us, the subreaper)."""
    for pid in pids:
        _adopted.setdefault(pid, 20)


def reap_adopted(wait_s: float = 0.0) -> None:
    """Reap killed descendants once they have been re-parented to us (no zombies pile up).

    The reaper calls this each tick without waiting; on close it waits up to ``wait_s`` for
    the last ones, which are re-parented only once their own parent has died.
    """
    deadline = time.monotonic() + wait_s
    while True:
        last = time.monotonic() >= deadline
        for pid, tries in list(_adopted.items()):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not (yet) our child, or reaped by its own parent
                done = 0 if pid_alive(pid) else pid
            if done or (last and tries <= 1):
                del _adopted[pid]
            elif last:  # a try is a call (a reaper tick), not each pass of the wait below
                _adopted[pid] = tries - 1
        if not _adopted or last:
            return
        time.sleep(0.01)


def pid_alive(pid: int) -> bool:
    """Is there a process ``pid`` (a zombie counts; one of another user's too)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_strays() -> int:
    """Kill (and reap) our descendants that were started inside a Lambda environment that is
    no longer alive.

    They are recognised by the ``AWS_LAMBDA_RUNTIME_API`` variable every environment has and
    its children inherit; other children of the host process are left alone, and so are the
    processes of environments still alive (another engine in this process, e.g. in tests).
    """
    import psutil

    killed = 0
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    # (an environment in a network of its own has 127.0.0.1:9001, its port there: its
    # processes are left alone while one such lives; a dead one's died with its pid namespace)
    alive = {f"127.0.0.1:{env.api.port}" for env in list(_live) if env.state != "dead"}
    me = os.getpid()
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            api = child.environ().get("AWS_LAMBDA_RUNTIME_API")
            if api is None or api in alive:
                continue
            parent = child.ppid()
            child.kill()
            killed += 1
            if parent == me:
                os.waitpid(child.pid, 0)
        except (psutil.Error, ChildProcessError, OSError):
            pass
    return killed


@atexit.register
def _kill_live_environments() -> None:
    """Last resort on interpreter exit: no environment's process group outlives us."""
    for env in list(_live):
        if env.pid and env.state != "dead":
            try:
                os.killpg(env.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
