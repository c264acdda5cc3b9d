"""What the engine's own process needs before it starts environments by the thousand."""

from __future__ import annotations

import gc
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
    """Become the child subreaper (no handler's process escapes), raise the fd limit, and take
    what is loaded so far out of the garbage collector's sight.

    ``gc.freeze()``: the modules, classes and constants loaded at start (a few hundred thousand
    objects) never become garbage, yet every full collection walked them all: measured with a
    thousand environments starting at once, a 74 ms pause of the loop (every call waited).
    """
    processes.become_subreaper()
    raise_open_files_limit()
    gc.freeze()
