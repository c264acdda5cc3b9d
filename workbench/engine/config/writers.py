"""Is some process still writing this file? Linux's ``/proc/PID/fd`` says.

A bucket folder reports a file only once it is complete; a writer that pauses longer than the
settle window (a slow download, a copy over the network) still holds the file open for writing,
and that is what this finds. Only our own user's processes can be inspected, which is all that
can write into our folders in practice. Without ``/proc`` (macOS) it finds nothing, and the
settle window alone decides.
"""

from __future__ import annotations

import os
from collections.abc import Collection

_O_ACCMODE = 0o3
_WRITING = (os.O_WRONLY, os.O_RDWR)


def open_for_writing(paths: Collection[str]) -> set[str]:
    """Those of ``paths`` (real, absolute paths) that a process has open for writing."""
    if not paths:
        return set()
    wanted = set(paths)
    found: set[str] = set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # another user's process, or it just exited
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target in wanted and target not in found and _writing(pid, fd):
                found.add(target)
    return found


def _writing(pid: str, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
            for line in info:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & _O_ACCMODE in _WRITING
    except (OSError, ValueError):
        pass
    return False
