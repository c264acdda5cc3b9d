"""An environment's own view of the machine, as on Lambda: what the engine tells its runtime to
mount, and whether this machine lets it.

The runtime itself enters the namespaces (``runtimes/python/workbench_sandbox.py``, standard
library only) once its limits and cgroup are in place and before any of the function's code
runs. Here the engine decides what it sees — the function's folder read-only at ``/var/task``
(hot reload's checked copies over their live files), its layers merged at ``/opt``, our runtime
at ``/var/runtime``, its private ``TMPDIR`` at ``/tmp`` — and passes that in one variable, which
the runtime removes from the handler's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config.function import FunctionConfig
from .launch import RUNTIMES_DIR

SPEC_VAR = "_WORKBENCH_SANDBOX"
SANDBOX_ERROR_VAR = "_WORKBENCH_SANDBOX_ERROR"  # INIT fails with it (bootstrap.py)
RECORD, FIELD = "\x1e", "\x1f"  # runtimes/python/workbench_sandbox.py's: no JSON parser there
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
OPT = "/opt"
TMP = "/tmp"
PROBE_TIMEOUT_S = 10.0
_probed: dict[str, str] = {}


def probe(python: str = sys.executable) -> str:
    """'' if an environment can enter its namespaces on this machine, else why not (once per
    interpreter and process: a real attempt, as a runtime makes it, ~30 ms)."""
    if python in _probed:
        return _probed[python]
    if sys.platform != "linux":
        _probed[python] = "namespaces are Linux's"
        return _probed[python]
    root = tempfile.mkdtemp(prefix="workbench-probe-")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import workbench_sandbox as s; "
        "s.enter(s.parse('root\\x1f' + sys.argv[2])); import os; os.listdir('/var/task')"
    )
    try:
        done = subprocess.run(
            [python, "-I", "-S", "-c", code, str(RUNTIMES_DIR / "python"), root],
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
        if done.returncode == 0:
            why = ""
        else:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            why = lines[-1] if lines else f"the probe exited with {done.returncode}"
            why = why.removeprefix("workbench_sandbox.SandboxError: ")
    except (OSError, subprocess.TimeoutExpired) as e:
        why = f"the probe could not run: {e}"
    finally:
        try:
            os.rmdir(root)
        except OSError:
            pass
    _probed[python] = why
    return why


def mount_point(tmp_root: Path) -> str:
    """An empty folder every environment mounts its new root on (each in its own mount
    namespace, so one serves them all)."""
    path = tmp_root / ".root"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(path)


def spec(
    fn: FunctionConfig,
    *,
    runtime_dir: Path | str | None,
    tmpdir: str,
    root: str,
    checked_sources: Mapping[str, str],
    in_place: Sequence[str] = (),
) -> str:
    """The ``SPEC_VAR`` value for an environment of ``fn`` (records of fields, as
    ``workbench_sandbox.parse`` reads them); raises ``ValueError`` for a path it cannot hold.
    ``runtime_dir``: the runtime client's folder, at ``/var/runtime`` (None: left empty);
    ``in_place``: folders bound read-only at their own path (an interpreter's install)."""
    folder = fn.folder.resolve()
    binds: list[tuple[str, str, str]] = [(str(folder), TASK_ROOT, "ro")]
    if runtime_dir is not None:
        binds.append((str(runtime_dir), RUNTIME_DIR, "ro"))
    binds.append((tmpdir, TMP, "rw"))
    binds += [(path, path, "ro") for path in in_place]
    over: list[tuple[str, str]] = []  # hot reload's checked copies, over their live files
    for source, copy in checked_sources.items():
        try:
            relative = Path(source).resolve().relative_to(folder)
        except ValueError:
            continue  # outside the folder: not part of /var/task
        over.append((copy, f"{TASK_ROOT}/{relative}"))
    layers = [str(layer.resolve()) for layer in fn.layers if layer.is_dir()]
    records: list[tuple[str, ...]] = [("root", root)]
    records += [("bind", *bind) for bind in binds]
    records += [("over", *item) for item in over]
    records += [("opt", layer) for layer in layers]
    for record in records:
        if any(RECORD in field or FIELD in field for field in record):
            raise ValueError(f"a path the environment mounts holds a control character: {record}")
    return RECORD.join(FIELD.join(record) for record in records)
