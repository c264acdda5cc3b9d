"""External extensions inside their environment's namespaces, as on Lambda, where extensions
share the function's sandbox: ``/var/task`` read-only, the layers at ``/opt`` (so an extension
is ``/opt/extensions/NAME``), the same private ``/tmp``, no host paths, ``sbx_user1051``.

Each extension starts as the Node, custom and AWS-client runtimes do in namespaces
(``workbench_sandbox.exec_runtime``), with the runtime's own description of the environment
(``namespaces.spec``, the same ``/tmp`` folder), so what it sees is what the runtime sees and a
file it writes in ``/tmp`` is there for the handler: forked from the namespaced fork server
where there is one (``Extensions.launch``'s ``spawn``: no interpreter of its own to start, and
the first one's process is its namespaces' init, the engine's child), else behind the launcher
(``sandboxed_launch.py``), which is the engine's child and moves into the environment's cgroup
first (``extensions._JOIN``). Either way the extension's exit status is its own: a crash still
fails INIT with ``Extension.Crash``.

The first extension makes the namespaces from that description (their init is PID 1); the
other extensions, once that init is there, and then the runtime join them
(``workbench_sandbox``'s ``join`` record, ``joining`` here, ``namespaces.joined``): one pid
namespace, mount namespace, network and IPC for all, as on Lambda, where an extension sees the
runtime's processes and the runtime its extensions'. Where the first one's init cannot be found
(it ended, or took over ``extensions.FIRST_NAMESPACES_S``), each gets namespaces of its own,
built from the same description. UNVERIFIED: the working directory of an extension on Lambda;
here ``/var/task``, as the runtime's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..config.function import FunctionConfig
from . import namespaces
from .extensions import Command
from .sandboxed_launch import EXEC_START, EXEC_VAR, FIELD, OPT, TASK_ROOT


def inside_path(fn: FunctionConfig, path: Path) -> str:
    """Where extension ``path`` is inside: a layer's at ``/opt/extensions/NAME`` (the layers
    are merged at /opt, the winner of a name as ``find_extensions`` chose it); the function's
    own ``extensions/`` folder's at ``/var/task/extensions/NAME``."""
    if path.parent.parent.resolve() == fn.folder.resolve():
        return f"{TASK_ROOT}/extensions/{path.name}"
    return f"{OPT}/extensions/{path.name}"


def commands(
    fn: FunctionConfig, env: Mapping[str, str], *, python: str, pycache_dir: Path | None
) -> Command:
    """How each extension of ``fn`` starts in the namespaces ``env`` (the runtime's, holding
    ``namespaces.SPEC_VAR`` or the reason it could not be described) describes: the launcher's
    command and the variables it reads (it removes them before the extension runs)."""
    cache = ["-X", f"pycache_prefix={pycache_dir}"] if pycache_dir is not None else []
    argv = [python, "-I", "-S", *cache, "-c", EXEC_START]
    shared = {k: env[k] for k in (namespaces.SPEC_VAR, namespaces.SANDBOX_ERROR_VAR) if k in env}

    def command(path: Path) -> tuple[list[str], dict[str, str]]:
        inside = inside_path(fn, path)
        if FIELD in inside:
            raise OSError(f"a control character in the extension's name {path.name!r}")
        return argv, {**shared, EXEC_VAR: inside}

    return command


def joining(
    fn: FunctionConfig,
    env: Mapping[str, str],
    python: str,
    pycache_dir: Path | None,
    folder: str,
) -> Command:
    """``commands``, for the extensions after the first: each joins the namespaces the first
    one made (``folder``: its init's ``/proc/PID/ns``), so all of them, and then the
    runtime, share one pid namespace, as on Lambda."""
    return commands(fn, namespaces.joined(env, folder), python=python, pycache_dir=pycache_dir)
