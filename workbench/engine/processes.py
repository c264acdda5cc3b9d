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
import weakref
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from .environment import Environment

PR_SET_CHILD_SUBREAPER = 36
_live: weakref.WeakSet[Environment] = weakref.WeakSet()


def become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def track(env: Environment) -> None:
    _live.add(env)


def kill_strays() -> int:
    """Kill (and reap) our descendants that were started inside a Lambda environment.

    They are recognised by the ``AWS_LAMBDA_RUNTIME_API`` variable every environment has and
    its children inherit; other children of the host process are left alone.
    """
    killed = 0
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    me = os.getpid()
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if "AWS_LAMBDA_RUNTIME_API" not in child.environ():
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
