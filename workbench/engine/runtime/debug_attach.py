"""IDE attach: which environments start under a debugger, on which port, and where debugpy is.

A function with ``debug = "debugpy"`` / ``debug = "inspect"`` in its ``function.toml``, or every
Python and Node.js function when the engine has ``debug_port`` (``--debug-port``), starts its
environments under the family's debugger, listening on loopback and waiting for an IDE before
any of the function's code runs. Each environment takes the first free port from the base up;
the engine holds the ports it gave out, so two live environments never share one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from ..config.function import DEBUGGERS, FunctionConfig, runtime_family

HOST = "127.0.0.1"  # debuggers listen on loopback only: an attached debugger runs any code
DEFAULT_PORTS = {"debugpy": 5678, "inspect": 9229}  # debugpy's and Node's own defaults
# What each says on the log once it listens (ours, once debugpy.listen() returned; Node's own).
# Only then is an IDE told the port: debugpy's adapter accepts a client before it has finished
# starting, and fails the attach of one that comes that early (debugpy 1.8: "module
# 'debugpy.adapter.clients' has no attribute 'listener'").
LISTENING = {"debugpy": "debugpy listening on ", "inspect": "Debugger listening on ws://"}
PORT_SPAN = 100  # how far above the base an environment looks for a free port
RELEASE_GRACE_S = 1.0  # a port just given back may still be held by a dying debug adapter
INSTALL_HINT = "pip install 'workbench[debug]'"


@dataclass(frozen=True, slots=True)
class DebugTarget:
    """The debugger one environment starts under: ``kind`` (debugpy | inspect) on ``port``."""

    kind: str
    port: int

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


def debugger_for(fn: FunctionConfig, debug_port: int | None) -> tuple[str, int] | None:
    """(kind, base port) when ``fn``'s environments start under a debugger, else None."""
    kind = DEBUGGERS.get(runtime_family(fn.runtime))
    if kind is None or (fn.debug is None and debug_port is None):
        return None
    return kind, debug_port if debug_port is not None else DEFAULT_PORTS[kind]


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as the debuggers bind (both set SO_REUSEADDR): a port in TIME_WAIT is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


class DebugPorts:
    """The debug ports the engine's live environments hold."""

    def __init__(self) -> None:
        self._taken: set[int] = set()
        self._released: dict[int, float] = {}  # port -> when it was given back

    def __contains__(self, port: int) -> bool:
        return port in self._taken

    async def take(self, base: int) -> int:
        """The first port from ``base`` up that no environment holds and nothing listens on."""
        for port in range(base, min(base + PORT_SPAN, 65536)):
            if port in self._taken:
                continue
            if _bindable(port) or await self._freed(port):
                self._taken.add(port)
                return port
        raise OSError(f"no free port from {base} to {min(base + PORT_SPAN, 65536) - 1}")

    async def _freed(self, port: int) -> bool:
        """A port one of ours gave back moments ago: its debug adapter (a process of its own)
        was killed with the environment and lets go of it within milliseconds."""
        released = self._released.get(port)
        if released is None:
            return False
        deadline = released + RELEASE_GRACE_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            if port not in self._taken and _bindable(port):
                return True
        return False

    def release(self, port: int) -> None:
        self._taken.discard(port)
        now = time.monotonic()
        self._released = {p: t for p, t in self._released.items() if now - t < RELEASE_GRACE_S}
        self._released[port] = now


# ----------------------------------------------------------------------------- debugpy

_DEBUGPY_FOLDERS: dict[str, str] = {}  # interpreter -> the folder holding its debugpy
_FIND_DEBUGPY = (
    "import importlib.util as u; s = u.find_spec('debugpy'); "
    "print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')"
)


def debugpy_folder(python: str) -> str | None:
    """The folder holding the ``debugpy`` package ``python`` would import, or None.

    The runtime runs ``python -I -S`` (no site-packages), so the launch passes this folder in
    explicitly. The engine's own interpreter is asked in-process; another (``EngineSettings.
    python``) once, in a subprocess: debugpy must suit the interpreter that runs it. Only a
    found folder is remembered, so installing debugpy takes effect at the next start.
    """
    found = _DEBUGPY_FOLDERS.get(python)
    if found is not None:
        return found
    if python == sys.executable:
        spec = importlib.util.find_spec("debugpy")
        locations = spec.submodule_search_locations if spec is not None else None
        package = locations[0] if locations else ""
    else:
        try:
            package = subprocess.run(
                [python, "-c", _FIND_DEBUGPY],
                capture_output=True,
                text=True,
                timeout=30,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            package = ""
    if not package:
        return None
    found = _DEBUGPY_FOLDERS[python] = os.path.dirname(package)
    return found


# ----------------------------------------------------------------------------- node

_NODE_WAIT: dict[str, bool] = {}  # node -> does it take --inspect-wait?


def node_inspect_flag(node: str, address: str) -> str:
    """``--inspect-wait=ADDRESS`` (Node 20.15+, 22.2+), else ``--inspect-brk=ADDRESS``.

    Both wait for a debugger before the bootstrap runs; ``--inspect-brk`` also pauses on its
    first line, which the IDE then continues.
    """
    wait = _NODE_WAIT.get(node)
    if wait is None:
        try:
            out = subprocess.run(
                [node, "-p", "process.allowedNodeEnvironmentFlags.has('--inspect-wait')"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        wait = _NODE_WAIT[node] = out == "true"
    return f"--inspect-wait={address}" if wait else f"--inspect-brk={address}"
