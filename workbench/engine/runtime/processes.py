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

import psutil


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


def kill_environment(root_pid: int, runtime_api: str) -> None:
    """SIGKILL an environment: its process group, its descendants that left the group, and
    processes that came from it and were already re-parented to us (double-forked daemons)."""
    victims: list[psutil.Process] = []
    try:
        victims = psutil.Process(root_pid).children(recursive=True)
    except psutil.Error:
        pass
    roots = {env.pid for env in _live}
    try:
        for child in psutil.Process().children():
            if child.pid in roots:
                continue
            try:
                if child.environ().get("AWS_LAMBDA_RUNTIME_API") == runtime_api:
                    victims.append(child)
                    victims.extend(child.children(recursive=True))
            except (psutil.Error, OSError):
                pass
    except psutil.Error:
        pass
    try:
        os.killpg(root_pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for victim in victims:
        try:
            victim.kill()
        except psutil.Error:
            continue
        _adopted[victim.pid] = 20


def reap_adopted(wait_s: float = 0.0) -> None:
    """Reap killed descendants once they have been re-parented to us (no zombies pile up).

    The reaper calls this each tick without waiting; on close it waits up to ``wait_s`` for
    the last ones, which are re-parented only once their own parent has died.
    """
    deadline = time.monotonic() + wait_s
    while True:
        for pid, tries in list(_adopted.items()):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not (yet) our child, or reaped by its own parent
                done = 0 if psutil.pid_exists(pid) else pid
            if done or tries <= 1:
                del _adopted[pid]
            else:
                _adopted[pid] = tries - 1
        if not _adopted or time.monotonic() >= deadline:
            return
        time.sleep(0.01)


def kill_strays() -> int:
    """Kill (and reap) our descendants that were started inside a Lambda environment that is
    no longer alive.

    They are recognised by the ``AWS_LAMBDA_RUNTIME_API`` variable every environment has and
    its children inherit; other children of the host process are left alone, and so are the
    processes of environments still alive (another engine in this process, e.g. in tests).
    """
    killed = 0
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
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
