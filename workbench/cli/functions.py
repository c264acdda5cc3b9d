"""``workbench list``: the functions under the roots, their configuration and triggers, the
interpreter each runs on, and the folders whose ``function.toml`` is broken (with the error), read
from disk without an engine."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, print_table, roots_of


def cmd_list(args: argparse.Namespace) -> int:
    from ..engine.config import discover, label, triggers_of
    from ..engine.runtime import Interpreters

    found = discover(roots_of(args))
    interpreters = Interpreters()  # as `serve` and the TUI choose them without --python/--node
    header = ("NAME", "RUNTIME", "RUNS ON", "HANDLER", "MEMORY", "TIMEOUT", "TRIGGERS", "STATUS")
    rows = [header]
    notices = []
    for name, fn in found.functions.items():
        triggers = ", ".join(label(t) for t in triggers_of(fn)) or "-"
        memory, timeout = f"{fn.memory_size} MB", f"{fn.timeout} s"
        interpreter = interpreters.find(fn.runtime)
        runs_on = interpreter.description if interpreter is not None else "-"
        if interpreter is not None and interpreter.notice is not None:
            runs_on += " (nearest)"
            notices.append(f"{name}: {interpreter.notice}")
        rows.append((name, fn.runtime, runs_on, fn.handler, memory, timeout, triggers, "ok"))
    for name, problem in found.problems.items():
        rows.append((name, "-", "-", "-", "-", "-", "-", f"config error: {problem.error}"))
    if len(rows) == 1:
        print("no functions found (a function is a folder with a function.toml)", file=sys.stderr)
        return EXIT_OK
    print_table(rows)
    for notice in notices:
        print(notice)
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``list`` on the ``workbench`` parser."""
    p = sub.add_parser("list", parents=[common], help="list the functions and their config")
    p.set_defaults(func=cmd_list)
