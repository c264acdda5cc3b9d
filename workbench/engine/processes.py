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
    """Kill (and reap) our descendants that were started inside a Lambda environment."""
    killed = 0
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    for child in children:
        try:
            environ = child.environ()
        except (psutil.Error, OSError):
            environ = {}
        if "AWS_LAMBDA_RUNTIME_API" not in environ and child.status() != psutil.STATUS_ZOMBIE:
            continue
        if "AWS_LAMBDA_RUNTIME_API" not in environ and child.ppid() != os.getpid():
            continue
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                child.kill()
                killed += 1
            if child.ppid() == os.getpid():
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
