"""What the engine's own process needs before it starts environments by the thousand."""

from __future__ import annotations

import logging
import resource

from . import processes

log = logging.getLogger("workbench.engine")


def raise_open_files_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; the new soft limit.

    Every environment holds a listening socket, a connection, a pipe and a pidfd here: at the
    usual soft limit of 1,024 a few hundred environments exhaust it. Environments themselves
    still get Lambda's 1,024 (``sandbox.apply_limits``).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as e:
            log.warning("could not raise the open files limit from %d: %s", soft, e)
    return soft


def prepare_host() -> None:
    """Become the child subreaper (no handler's process escapes) and raise the fd limit."""
    processes.become_subreaper()
    raise_open_files_limit()
