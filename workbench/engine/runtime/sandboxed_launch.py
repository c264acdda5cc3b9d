"""Node.js, custom (``provided``) and AWS's Python client (``awslambdaric``) in their own
namespaces, as our Python runtime is (``namespaces.py``).

None of them can enter namespaces itself, so a small launcher does it for them: our Python
sandbox code (``runtimes/python/workbench_sandbox.py``'s ``exec_runtime``) waits for the
engine's go-ahead, enters the namespaces the engine describes, and in the new root (PID 2,
``/var/task``, no capabilities) ``exec``s the runtime's command. The command is written with
Lambda's paths: the function at ``/var/task``, its layers at ``/opt``, the runtime client at
``/var/runtime``; the interpreter (``node``, ``python``) where it is installed, bound read-only
in place when it lives outside ``/usr``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config.function import FunctionConfig, runtime_family
from . import exec_wrapper
from .launch import (
    PYTHON_BREAKPOINT,
    PYTHON_START_SCRIPT,
    RUNTIMES_DIR,
    Launch,
    LaunchError,
    bootstrap_of,
    find_node,
    missing_client,
    node_heap_flag,
    python_layer_paths,
    python_namespaced_env,
)

TASK_ROOT, OPT, RUNTIME_DIR = "/var/task", "/opt", "/var/runtime"
# the launcher: enter the namespaces, then become the command in EXEC_VAR (a fork server's
# environment does the same: runtimes/python/workbench_zygote.py)
EXEC_START = (
    f"import sys; sys.path.insert(0, {str(RUNTIMES_DIR / 'python')!r}); "
    "import workbench_sandbox; workbench_sandbox.exec_runtime()"
)
EXEC_VAR = "_WORKBENCH_EXEC"  # (workbench_sandbox.EXEC_VAR)
FIELD = "\x1f"
PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"


def _install_prefix(executable: str) -> str | None:
    """The folder an interpreter outside ``/usr`` is installed in (bound in place: a pyenv,
    nvm or uv install), or None where the system directories hold it already."""
    real = os.path.realpath(executable)
    if real.startswith(("/usr/", "/bin/", "/lib")):
        return None
    return os.path.dirname(os.path.dirname(real))


def launch_in_namespaces(
    fn: FunctionConfig, *, python: str, node: str | None, pycache_dir: Path | None
) -> Launch:
    """The command that runs ``fn``'s runtime in its namespaces, behind the launcher
    (``python`` runs it); raises ``LaunchError`` if the runtime cannot exist."""
    family = runtime_family(fn.runtime)
    binds: list[str] = []
    runtime_mount: str | None = None
    if family == "nodejs":
        node = os.path.realpath(find_node(fn, node))
        runtime_mount = str(RUNTIMES_DIR / "node")
        modules = [f"{OPT}/nodejs/node_modules"] if fn.layers else []
        env = {
            "PATH": f"{os.path.dirname(node)}:{PATH}",
            "NODE_PATH": ":".join([*modules, RUNTIME_DIR, TASK_ROOT]),
        }
        argv = [node, node_heap_flag(fn), f"{RUNTIME_DIR}/bootstrap.js"]
        binds.append(node)
    elif family == "python" and fn.runtime_client != "awslambdaric":  # ours, behind a wrapper
        # (without one, ours enters them itself: launch._python_namespaced); the wrapper gets
        # the runtime's script last, as in launch.launch
        runtime_mount = str(RUNTIMES_DIR / "python")
        env = python_namespaced_env(fn, python)
        script = f"{RUNTIME_DIR}/{PYTHON_START_SCRIPT.name}"
        argv = [os.path.realpath(python), "-I", "-S", script]
        binds.append(python)
    elif family == "python":  # AWS's client
        missing = missing_client(fn)
        if missing is not None:
            raise missing
        runtime_mount = str(RUNTIMES_DIR / "python")  # for PYTHONBREAKPOINT's module
        layers = python_layer_paths(fn, python, merged=True)
        env = {
            "PATH": f"{os.path.dirname(os.path.realpath(python))}:{PATH}",
            "PYTHONPATH": ":".join([TASK_ROOT, *layers, RUNTIME_DIR]),
            "PYTHONBREAKPOINT": PYTHON_BREAKPOINT,
        }
        argv = [os.path.realpath(python), "-S", "-m", "awslambdaric", fn.handler]
        binds.append(python)
    else:
        found = bootstrap_of(fn)
        if isinstance(found, LaunchError):
            raise found
        if found.parent == fn.folder:
            inside = f"{TASK_ROOT}/{found.name}"
        else:  # a layer's: the layers are merged at /opt
            inside = f"{OPT}/{found.name}"
        env = {"PATH": PATH}
        argv = [inside]
    if exec_wrapper.wants_wrapper(fn):  # runs_inside: at its Lambda path, seen as there
        wrapper = exec_wrapper.resolve(fn)
        if isinstance(wrapper, str):  # UNVERIFIED, as launch._wrapper: the runtime's exit
            raise LaunchError("Runtime.ExitError", wrapper)
        argv = [fn.environment[exec_wrapper.WRAPPER_VAR], *argv]
    cache = ["-X", f"pycache_prefix={pycache_dir}"] if pycache_dir is not None else []
    prefixes = [p for p in (_install_prefix(b) for b in binds) if p is not None]
    if any(FIELD in arg for arg in argv):
        raise LaunchError("Runtime.InvalidEntrypoint", f"a control character in {argv}")
    env[EXEC_VAR] = FIELD.join(argv)
    return Launch(
        [python, "-I", "-S", *cache, "-c", EXEC_START],
        env,
        gated=False,  # the launcher reads the go-ahead itself
        runtime_dir=RUNTIME_DIR,
        forkable=True,  # a fork of the namespaced fork server enters them and execs
        sandbox_runtime=runtime_mount,
        sandbox_binds=tuple(prefixes),
    )
