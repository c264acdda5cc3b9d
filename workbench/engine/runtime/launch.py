"""How each runtime's process is started: its command line, its own variables, its memory limit.

Every runtime talks to the engine only through its environment's Runtime API, so a runtime is
just a command: our Python client, AWS's own Python client (``awslambdaric``, vendored in the
function folder as users do in a Lambda zip), our Node.js client, or the function's own
``bootstrap`` executable (``provided``).

The sandbox's rlimits are set on the runtime process from the parent (see ``sandbox.py``), after
it is exec'd but before it runs user code. Our Python client waits for the go-ahead on its stdin
itself; any other command is started behind a ``/bin/sh`` gate that reads the go-ahead and then
``exec``s it, so the limits are in place before its first instruction, for any runtime.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import early_start
from ..config.function import FunctionConfig, runtime_family
from . import exec_wrapper
from .debug_attach import INSTALL_HINT, DebugTarget, debugpy_folder, node_inspect_flag
from .interpreters import python_version

RUNTIMES_DIR = early_start.RUNTIMES_DIR  # (the probe's too)
PYTHON_BOOTSTRAP = RUNTIMES_DIR / "python" / "bootstrap.py"
# Our Python runtime, imported rather than run as a script: a script is compiled at every start
# (~6 ms for the bootstrap), a module's bytecode is cached. Its folder leaves sys.path again.
# (the standard library's bytecode linked into the cache first: workbench_pycache.py)
PYTHON_START = (
    f"import sys; sys.path.insert(0, {str(PYTHON_BOOTSTRAP.parent)!r}); import workbench_pycache; "
    "workbench_pycache.link(); import bootstrap; del sys.path[0]; bootstrap.start()"
)
# The same in its namespaces: entered first, while the interpreter is small (see there)
PYTHON_SANDBOXED_START = (
    f"import sys; sys.path.insert(0, {str(PYTHON_BOOTSTRAP.parent)!r}); "
    "import workbench_sandbox; workbench_sandbox.run()"
)
# Our Python runtime's module folders for the handler: the layers' (later layers first), then its
# own. Not PYTHONPATH, which is the function's (or a wrapper script's) to set: Lambda's bootstrap
# puts the layers' folders on the path only when PYTHONPATH is not set (bootstrap.py, main).
PYTHON_PATHS_VAR = "_WORKBENCH_PYTHON_PATHS"
# the same as a script, for a wrapper script (exec_wrapper.py): its last argument is the script
PYTHON_START_SCRIPT = RUNTIMES_DIR / "python" / "workbench_start.py"
NODE_BOOTSTRAP = RUNTIMES_DIR / "node" / "bootstrap.js"
# Reads one line (the engine's go-ahead, sent once the limits are set), moves itself into the
# cgroup's hierarchies named in JOIN_VAR (v1: ``EnvCgroup.join_files``; a shell is one thread, so
# it moves itself without the kernel lock that moving it from outside takes), then becomes the
# runtime: its first instruction runs inside its cgroup, or never.
JOIN_VAR = "_WORKBENCH_JOIN"
_GATE = (
    "/bin/sh",
    "-c",
    f'read -r _ || exit 1; for f in ${JOIN_VAR}; do echo 0 2>/dev/null > "$f" || '
    '{ echo "workbench: cannot move the runtime into its cgroup ($f)" >&2; exit 125; }; done; '
    f'unset {JOIN_VAR}; exec "$@"',
    "workbench-gate",
)
# V8's old generation is capped below the memory size, as AWS's Node.js bootstrap does, so the
# heap collects garbage before the process reaches its RLIMIT_DATA (derived, not quoted).
NODE_OLD_SPACE_SHARE = 0.9
# Node's own code pages stay resident (RssFile ~34 MB for node 20), outside RLIMIT_DATA: a Node
# function's Max Memory Used (its peak RSS) can exceed memory_size by about that much.
NODE_CODE_MB = 40
# breakpoint() opens pdb over the Runtime API (runtimes/python/workbench_debug.py): the sandbox has
# no terminal. Our bootstrap's own breakpointhook reads it (``-I`` hides it from CPython's).
PYTHON_BREAKPOINT = "workbench_debug.set_trace"


class LaunchError(Exception):
    """The runtime cannot be started at all; Lambda reports this as an init error."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(error_type, message)
        self.error_type = error_type
        self.message = message

    def __str__(self) -> str:
        return f"{self.error_type}: {self.message}"


@dataclass(frozen=True, slots=True)
class Launch:
    argv: list[str]
    env: dict[str, str]  # the runtime's own variables, over Lambda's (PYTHONPATH, NODE_PATH, …)
    gated: bool  # started behind the sh gate (it does not read the go-ahead itself)
    runtime_dir: str  # LAMBDA_RUNTIME_DIR
    # our Python runtime: it imports hot reload's checked copies of source files (see
    # config/checked_sources.py), named in _WORKBENCH_CHECKED_SOURCES
    pins_sources: bool = False
    # our Python runtime, which a fork server can start instead (forkserver.py)
    forkable: bool = False
    # in namespaces: the host folder mounted at /var/runtime (None: an empty one), and the
    # interpreters' install folders bound in place (namespaces.spec)
    sandbox_runtime: str | None = None
    sandbox_binds: tuple[str, ...] = ()

    @staticmethod
    def is_gated(command: Sequence[str]) -> bool:
        """Is ``command`` (a ``Launch.command``) started behind the gate?"""
        return tuple(command[: len(_GATE)]) == _GATE

    @property
    def command(self) -> list[str]:
        """What is spawned: ``argv``, behind the gate unless it reads the go-ahead itself."""
        return [*_GATE, *self.argv] if self.gated else self.argv


def python_layer_paths(
    fn: FunctionConfig, python: str = sys.executable, *, merged: bool = False
) -> list[str]:
    """Layers' Python folders, later layers first (files extracted later into /opt win);
    ``lib/pythonX.Y`` is the version of ``python``, the interpreter that runs them.
    ``merged``: the layers are merged at ``/opt`` (in namespaces), as on Lambda."""
    minor = "python{}.{}".format(*python_version(python))
    layers = [Path("/opt")] if merged and fn.layers else list(reversed(fn.layers))
    paths: list[str] = []
    for layer in layers:
        paths += [str(layer / "python" / "lib" / minor / "site-packages"), str(layer / "python")]
    return paths


def enters_namespaces(fn: FunctionConfig) -> bool:
    """Does ``fn``'s runtime enter its own namespaces (where the machine allows it)? Our
    Python runtime client does itself (``runtimes/python/workbench_sandbox.py``); AWS's client,
    Node and custom runtimes behind a launcher that enters them first (``sandboxed_launch.py``).
    Its external extensions enter the same (``extension_sandbox.py``). A wrapper script at a
    Lambda path (``/var/task/…``, ``/opt/…``) runs inside them, behind the launcher; one at a
    host path runs outside them, and so does the runtime it starts."""
    return not exec_wrapper.wants_wrapper(fn) or exec_wrapper.runs_inside(fn)


def launch(
    fn: FunctionConfig,
    *,
    python: str = sys.executable,
    node: str | None = None,
    pycache_dir: Path | None = None,
    debug: DebugTarget | None = None,
    namespaced: bool = False,
) -> Launch:
    """The command that runs ``fn``'s runtime; raises ``LaunchError`` if it cannot exist.

    With ``debug``, the runtime starts under that debugger and waits for an IDE to attach.
    ``namespaced``: it will enter its namespaces (``enters_namespaces``), where paths are
    Lambda's (``/var/runtime``, ``/opt``).
    """
    family = runtime_family(fn.runtime)
    ours = family == "python" and fn.runtime_client != "awslambdaric"
    if namespaced and ours and not exec_wrapper.wants_wrapper(fn):
        return _python_namespaced(fn, python, pycache_dir)
    if namespaced:
        from .sandboxed_launch import launch_in_namespaces

        return launch_in_namespaces(fn, python=python, node=node, pycache_dir=pycache_dir)
    if family == "python":
        how = _python(fn, python, pycache_dir, debug)
    elif family == "nodejs":
        how = _node(fn, node, debug)
    else:
        return _provided(fn)
    if not exec_wrapper.wants_wrapper(fn):
        return how
    wrapper = _wrapper(fn)
    if isinstance(wrapper, LaunchError):
        raise wrapper
    script = None
    if how.argv[-2:] == ["-c", PYTHON_START]:  # the wrapper gets the runtime's script last
        script = [*how.argv[:-2], str(PYTHON_START_SCRIPT)]
    return exec_wrapper.wrap(how, wrapper, script)


def _wrapper(fn: FunctionConfig) -> Path | LaunchError:
    found = exec_wrapper.resolve(fn)
    if isinstance(found, str):
        # UNVERIFIED: Lambda's bootstrap fails to exec it, and the runtime's exit is the error
        return LaunchError("Runtime.ExitError", found)
    return found


def _debugpy(python: str, debug: DebugTarget, env: dict[str, str]) -> list[str]:
    """Put a Python runtime's variables (``env``, changed in place) under debugpy; the
    interpreter options it needs.

    The runtime imports debugpy from the folder named here and takes that folder off
    ``sys.path`` again (see ``runtimes/python/workbench_debugpy.py``): the host's
    site-packages never reach the handler's imports. ``breakpoint()`` stops in the IDE
    (debugpy's own hook), so our ``PYTHONBREAKPOINT`` goes.
    """
    folder = debugpy_folder(python)
    if folder is None:
        raise LaunchError(
            "Runtime.DebuggerNotFound",
            f'this function starts under debugpy (debug = "debugpy" or --debug-port), and '
            f"debugpy is not installed for {python}: {INSTALL_HINT}",
        )
    del env["PYTHONBREAKPOINT"]
    env.update({"_WORKBENCH_DEBUGPY": debug.address, "_WORKBENCH_DEBUGPY_PATH": folder})
    # frozen stdlib modules would make debugpy miss breakpoints in them (and warn on each start)
    return ["-X", "frozen_modules=off"]


def cannot_start(fn: FunctionConfig) -> LaunchError | None:
    """What ``launch`` would refuse in the function's own folder, found without starting
    anything, so a front end can say it before the first invoke fails: AWS's client not vendored,
    no executable ``bootstrap``, a wrapper script that is not there. (A missing interpreter is
    the interpreters' notice.)"""
    family = runtime_family(fn.runtime)
    if exec_wrapper.wants_wrapper(fn):
        wrapper = _wrapper(fn)
        if isinstance(wrapper, LaunchError):
            return wrapper
    if family == "python":
        return missing_client(fn) if fn.runtime_client == "awslambdaric" else None
    if family == "nodejs":
        return None
    found = bootstrap_of(fn)
    return found if isinstance(found, LaunchError) else None


def missing_client(fn: FunctionConfig) -> LaunchError | None:
    if (fn.folder / "awslambdaric").is_dir():
        return None
    return LaunchError(
        "Runtime.InvalidEntrypoint",
        f'runtime_client = "awslambdaric" needs AWS\'s client vendored in the function '
        f"folder, as in a Lambda zip: pip install --target {fn.folder} awslambdaric",
    )


def _python(
    fn: FunctionConfig, python: str, pycache_dir: Path | None, debug: DebugTarget | None
) -> Launch:
    cache = ["-X", f"pycache_prefix={pycache_dir}"] if pycache_dir is not None else []
    runtime_dir = str(RUNTIMES_DIR / "python")
    layers = python_layer_paths(fn, python)
    path = {"PATH": f"{os.path.dirname(python)}:/usr/local/bin:/usr/bin/:/bin:/opt/bin"}
    if fn.runtime_client == "awslambdaric":
        missing = missing_client(fn)
        if missing is not None:
            raise missing
        # No -I: the client and its dependencies are found through PYTHONPATH (the task root
        # first), and -S keeps the host's site-packages out, as in Lambda.
        env = {
            **path,
            "PYTHONPATH": ":".join([str(fn.folder), *layers, runtime_dir]),
            "PYTHONBREAKPOINT": PYTHON_BREAKPOINT,
        }
        argv = [python, "-S", *cache, "-m", "awslambdaric", fn.handler]
        if debug is not None:  # our shim waits for the IDE, then runs the client as -m would
            argv[1:1] = _debugpy(python, debug, env)
            argv[-2:-1] = ["workbench_debugpy", "awslambdaric"]
        return Launch(argv, env, gated=True, runtime_dir=runtime_dir)
    # Isolated (-I: no PYTHON* variables, no script folder on sys.path; -S: no site-packages):
    # the bootstrap sets sys.path itself, task root first, as Lambda's does.
    env = {
        **path,
        PYTHON_PATHS_VAR: ":".join([*layers, runtime_dir]),
        "PYTHONBREAKPOINT": PYTHON_BREAKPOINT,
    }
    argv = [python, "-I", "-S", *cache, "-c", PYTHON_START]
    if debug is not None:
        argv[1:1] = _debugpy(python, debug, env)
    # a fork server's interpreter read LD_LIBRARY_PATH at its start: a function (or layer)
    # shipping native libraries in lib/ needs its own
    forkable = debug is None and not any((d / "lib").is_dir() for d in (fn.folder, *fn.layers))
    return Launch(
        argv, env, gated=False, runtime_dir=runtime_dir, pins_sources=True, forkable=forkable
    )


def _python_namespaced(fn: FunctionConfig, python: str, pycache_dir: Path | None) -> Launch:
    """Our runtime, as it runs in its namespaces: the paths are the environment's. The
    ``pycache_prefix`` serves the runtime client's own import, before it enters them
    (``workbench_sandbox.run``); inside, the engine's cache is not there."""
    cache = ["-X", f"pycache_prefix={pycache_dir}"] if pycache_dir is not None else []
    env = python_namespaced_env(fn, python)
    argv = [python, "-I", "-S", *cache, "-c", PYTHON_SANDBOXED_START]
    runtime = str(PYTHON_BOOTSTRAP.parent)
    return Launch(
        argv, env, gated=False, runtime_dir="/var/runtime", forkable=True, sandbox_runtime=runtime
    )


def python_namespaced_env(fn: FunctionConfig, python: str) -> dict[str, str]:
    """Our Python runtime's variables in its namespaces (started by itself, or by a wrapper
    behind the launcher: sandboxed_launch.py): the paths are the environment's."""
    bin_dir = os.path.dirname(os.path.realpath(python))  # the interpreter's, bound in place
    return {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        PYTHON_PATHS_VAR: ":".join([*python_layer_paths(fn, python, merged=True), "/var/runtime"]),
        "PYTHONBREAKPOINT": PYTHON_BREAKPOINT,
    }


def find_node(fn: FunctionConfig, node: str | None) -> str:
    """The ``node`` that runs ``fn`` (the one found for its runtime, else the PATH's); raises
    ``LaunchError`` when there is none."""
    node = node or shutil.which("node")
    if node is None:
        raise LaunchError(
            "Runtime.InvalidEntrypoint",
            f"runtime {fn.runtime} needs Node.js, and none was found (`node` on the PATH, "
            "nvm, fnm, volta)",
        )
    return node


def node_heap_flag(fn: FunctionConfig) -> str:
    """V8's old generation capped below the memory size (``NODE_OLD_SPACE_SHARE``)."""
    return f"--max-old-space-size={max(int(fn.memory_size * NODE_OLD_SPACE_SHARE), 16)}"


def _node(fn: FunctionConfig, node: str | None, debug: DebugTarget | None) -> Launch:
    node = find_node(fn, node)
    runtime_dir = str(RUNTIMES_DIR / "node")
    # As Lambda's NODE_PATH: the layers' node_modules, the runtime's, then the task root.
    modules = [str(layer / "nodejs" / "node_modules") for layer in reversed(fn.layers)]
    env = {
        "PATH": f"{os.path.dirname(node)}:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "NODE_PATH": ":".join([*modules, runtime_dir, str(fn.folder)]),
    }
    argv = [node, node_heap_flag(fn), str(NODE_BOOTSTRAP)]
    if debug is not None:  # the inspector waits for a client before the bootstrap runs
        argv[1:1] = [node_inspect_flag(node, debug.address)]
    return Launch(argv, env, gated=True, runtime_dir=runtime_dir)


def _provided(fn: FunctionConfig) -> Launch:
    bootstrap = bootstrap_of(fn)
    if isinstance(bootstrap, LaunchError):
        raise bootstrap
    env = {"PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin"}
    return Launch([str(bootstrap)], env, gated=True, runtime_dir=str(fn.folder))


def bootstrap_of(fn: FunctionConfig) -> Path | LaunchError:
    candidates = [fn.folder / "bootstrap", *(layer / "bootstrap" for layer in fn.layers)]
    for bootstrap in candidates:  # Lambda looks in /var/task, then /opt
        if bootstrap.is_file() and os.access(bootstrap, os.X_OK):
            return bootstrap
    found = [str(c) for c in candidates if c.is_file()]
    hint = f" ({', '.join(found)} is not executable: chmod +x it)" if found else ""
    return LaunchError(
        "Runtime.InvalidEntrypoint",
        f"Couldn't find valid bootstrap(s): [{' '.join(str(c) for c in candidates)}]{hint}",
    )
