"""What an engine's start waits for, started before the engine is even imported, and how the
engine starts its helper processes. Standard library only, and nothing of the engine: importing
this costs nothing.

- **The namespaces probe.** Whether environments can enter their namespaces here is found by a
  real attempt in a process of its own (``runtime/namespaces.probe``: ~25 ms, an interpreter's
  start and the sandbox's set-up).
- **An unprivileged engine's network namespaces' maker** (``runtime/netns_maker.py``: ~30 ms
  until it is ready, an interpreter's start).

``serve`` and the TUI start both first thing (``start_namespaces_probe``, ``start_netns_maker``),
so they run on another core while the command imports (~0.5 s), and the engine's start finds
them done instead of waiting for them. One the process never asks for (it ended first: a bad
option, a refused port) is killed at exit.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

RUNTIMES_DIR = Path(__file__).resolve().parents[1] / "runtimes"
NETNS_MAKER = Path(__file__).resolve().parent / "runtime" / "netns_maker.py"
NETNS_HELPER_VAR = "WORKBENCH_NETNS_HELPER"  # =1: a root engine uses the maker too (netns_helper)
PROBE_TIMEOUT_S = 10.0
_PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1]); import workbench_sandbox as s; "
    "s.enter(s.parse('root\\x1f' + sys.argv[2])); import os; os.listdir('/var/task')"
)
_probes: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
_makers: list[tuple[subprocess.Popen[bytes], socket.socket]] = []


def start_helper(
    argv: Callable[[int], list[str]], env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """One of the engine's own helper processes (a fork server, the network namespaces'
    maker), in a session of its own, talking over a ``SOCK_SEQPACKET`` pair: ``argv`` is given
    the number of the helper's end; the engine's end is returned with the process."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        proc = subprocess.Popen(
            argv(theirs.fileno()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            pass_fds=(theirs.fileno(),),
            start_new_session=True,
        )
    except OSError:
        ours.close()
        raise
    finally:
        theirs.close()
    return proc, ours


@atexit.register
def _discard_unused() -> None:
    while _probes:
        _, (proc, root) = _probes.popitem()
        proc.kill()
        proc.communicate()
        try:
            os.rmdir(root)
        except OSError:
            pass
    while _makers:
        proc, sock = _makers.pop()
        sock.close()
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------ the namespaces probe


def start_namespaces_probe(python: str = sys.executable) -> None:
    """Start the probe for environments run by ``python``, if not started yet (Linux only)."""
    if python in _probes or sys.platform != "linux":
        return
    root = tempfile.mkdtemp(prefix="workbench-probe-")
    try:
        proc = subprocess.Popen(
            [python, "-I", "-S", "-c", _PROBE, str(RUNTIMES_DIR / "python"), root],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError:
        os.rmdir(root)
        raise
    _probes[python] = (proc, root)


def namespaces_probe(python: str = sys.executable) -> str:
    """'' if an environment run by ``python`` can enter its namespaces here, else why not: the
    probe started earlier, or now, waited for."""
    try:
        start_namespaces_probe(python)
    except OSError as e:
        return f"the probe could not run: {e}"
    proc, root = _probes.pop(python)
    try:
        _, err = proc.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.communicate()
        return f"the probe could not run: {e}"
    finally:
        try:
            os.rmdir(root)
        except OSError:
            pass
    if proc.returncode == 0:
        return ""
    lines = err.decode(errors="replace").strip().splitlines()
    why = lines[-1] if lines else f"the probe exited with {proc.returncode}"
    return why.removeprefix("workbench_sandbox.SandboxError: ")


# ------------------------------------------------------------------ the network's maker


def maker_forced() -> bool:
    """Does a root engine use the maker, as an unprivileged one does (``NETNS_HELPER_VAR=1``)?"""
    return os.environ.get(NETNS_HELPER_VAR, "") == "1"


def maker_needed() -> bool:
    """Do this engine's network namespaces come from the maker (``runtime/netns_helper.py``):
    an engine that is not root, or told to?"""
    return os.geteuid() != 0 or maker_forced()


def new_netns_maker() -> tuple[subprocess.Popen[bytes], socket.socket]:
    """A maker process, started now (it says ``ready`` on the socket once it is)."""
    uid, gid = str(os.geteuid()), str(os.getegid())
    return start_helper(
        lambda fd: [sys.executable, "-I", "-S", str(NETNS_MAKER), str(fd), uid, gid]
    )


def start_netns_maker() -> None:
    """Start the engine's maker now, if one will be needed and none is started (Linux only)."""
    if _makers or sys.platform != "linux" or not maker_needed():
        return
    _makers.append(new_netns_maker())


def netns_maker() -> tuple[subprocess.Popen[bytes], socket.socket]:
    """The maker started earlier, or a new one."""
    return _makers.pop() if _makers else new_netns_maker()
