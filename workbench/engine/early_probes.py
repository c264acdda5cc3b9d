"""The namespaces probe, which an engine's start waits for, started before the engine is even
imported.

Whether environments can enter their namespaces here is found by a real attempt in a process
of its own (``runtime/namespaces.probe``: ~25 ms, an interpreter's start and the sandbox's
set-up). ``serve`` and the TUI start it first thing (``start_namespaces_probe``), so it runs on
another core while they import (~0.5 s), and the engine's start finds it done instead of
waiting for it. Standard library only, and nothing of the engine: importing this costs nothing.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RUNTIMES_DIR = Path(__file__).resolve().parents[1] / "runtimes"
PROBE_TIMEOUT_S = 10.0
_PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1]); import workbench_sandbox as s; "
    "s.enter(s.parse('root\\x1f' + sys.argv[2])); import os; os.listdir('/var/task')"
)
_started: dict[str, tuple[subprocess.Popen[bytes], str]] = {}


def start_namespaces_probe(python: str = sys.executable) -> None:
    """Start the probe for environments run by ``python``, if not started yet (Linux only)."""
    if python in _started or sys.platform != "linux":
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
    if not _started:
        atexit.register(_discard_unused)
    _started[python] = (proc, root)


def _discard_unused() -> None:
    """A probe the process never asked for (it ended first: a bad option, a refused port)."""
    while _started:
        _, (proc, root) = _started.popitem()
        proc.kill()
        proc.communicate()
        try:
            os.rmdir(root)
        except OSError:
            pass


def namespaces_probe(python: str = sys.executable) -> str:
    """'' if an environment run by ``python`` can enter its namespaces here, else why not: the
    probe started earlier, or now, waited for."""
    try:
        start_namespaces_probe(python)
    except OSError as e:
        return f"the probe could not run: {e}"
    proc, root = _started.pop(python)
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
