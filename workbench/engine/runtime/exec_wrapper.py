"""Wrapper scripts (``AWS_LAMBDA_EXEC_WRAPPER``): Lambda delegates the runtime's start to them.

On Lambda's managed runtimes (Python, Node.js, …; not the OS-only ``provided`` family, where the
user's ``bootstrap`` is the runtime), a function variable ``AWS_LAMBDA_EXEC_WRAPPER`` names an
executable that is started instead of the runtime, with the interpreter's path and all of the
runtime's original arguments; it changes the environment or the arguments and ``exec``s them
(AWS docs, "Modifying the runtime environment" → "Wrapper scripts"). AWS's Python example inserts
its options before the *last* argument, the runtime's script: so a wrapped Python runtime is
started from a script file (``runtimes/python/workbench_start.py``), not with ``-c``.

The path is a Lambda path: ``/var/task/…`` is the function's folder, ``/opt/…`` its layers (a
later layer's file wins, as files extracted later into ``/opt`` would); any other absolute path is
taken as it is. A wrapper at a Lambda path runs inside the function's namespaces (the launcher
enters them, then execs the wrapper: ``sandboxed_launch.py``); any other runs on the host's
paths. Either way it has the cgroup and rlimits, and starts only once they are in place, like
the runtime it starts.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.function import FunctionConfig, runtime_family

if TYPE_CHECKING:
    from .launch import Launch

WRAPPER_VAR = "AWS_LAMBDA_EXEC_WRAPPER"
TASK_ROOT = "/var/task"
OPT = "/opt"


def wants_wrapper(fn: FunctionConfig) -> bool:
    """Does Lambda start this function's runtime through a wrapper script? Only a managed
    runtime honours the variable (its bootstrap does); ``provided`` and AWS's own client
    (``awslambdaric``, the entry point of a container image) leave it to the user's program."""
    if not fn.environment.get(WRAPPER_VAR):
        return False
    family = runtime_family(fn.runtime)
    if family == "python":
        return fn.runtime_client != "awslambdaric"
    return family == "nodejs"


def runs_inside(fn: FunctionConfig) -> bool:
    """Does the wrapper run inside the function's namespaces (where it has them)? One named by
    its Lambda path (``/var/task/…``, ``/opt/…``): the launcher enters them, then execs it
    there with the runtime's command, as Lambda's bootstrap would (``sandboxed_launch.py``).
    Any other path is the host's, and runs outside them."""
    value = fn.environment.get(WRAPPER_VAR, "")
    return wants_wrapper(fn) and value.startswith((TASK_ROOT + "/", OPT + "/"))


def resolve(fn: FunctionConfig) -> Path | str:
    """The host path of the function's wrapper script, or why it cannot be started (a message
    that says what was looked for and what is accepted)."""
    value = fn.environment[WRAPPER_VAR]
    if not value.startswith("/"):
        return (
            f"{WRAPPER_VAR}={value}: not an absolute path (use /var/task/<file> for a file of "
            "the function's folder, /opt/<file> for one of its layers)"
        )
    candidates: list[Path]
    if value == TASK_ROOT or value.startswith(TASK_ROOT + "/"):
        candidates = [fn.folder / value[len(TASK_ROOT) + 1 :]]
    elif value.startswith(OPT + "/"):
        candidates = [layer / value[len(OPT) + 1 :] for layer in reversed(fn.layers)]
    else:
        candidates = [Path(value)]
    for path in candidates:
        if path.is_file():
            if not os.access(path, os.X_OK):
                return f"{WRAPPER_VAR}={value}: {path} is not executable (chmod +x it)"
            return path
    where = ", ".join(str(c) for c in candidates) or "no layer (the function has none)"
    return f"{WRAPPER_VAR}={value}: no such file (looked for {where})"


def wrap(how: Launch, wrapper: Path, script_argv: list[str] | None = None) -> Launch:
    """``how``, started through ``wrapper``: behind the gate (the wrapper does not read the
    go-ahead; our runtime finds its stdin at end of file and goes on), never forked.
    ``script_argv``: the runtime's arguments in their script form, where ``how`` uses ``-c``."""
    argv = script_argv if script_argv is not None else how.argv
    return replace(how, argv=[str(wrapper), *argv], gated=True, forkable=False)
