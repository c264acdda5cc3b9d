"""``workbench list``: the functions under the roots, their configuration and triggers, and the
folders whose ``function.toml`` is broken (with the error), read from disk without an engine."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, print_table, roots_of


def cmd_list(args: argparse.Namespace) -> int:
    from ..engine.config import discover, label, triggers_of

    found = discover(roots_of(args))
    rows = [("NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "TRIGGERS", "STATUS")]
    for name, fn in found.functions.items():
        triggers = ", ".join(label(t) for t in triggers_of(fn)) or "-"
        memory, timeout = f"{fn.memory_size} MB", f"{fn.timeout} s"
        rows.append((name, fn.runtime, fn.handler, memory, timeout, triggers, "ok"))
    for name, problem in found.problems.items():
        rows.append((name, "-", "-", "-", "-", "-", f"config error: {problem.error}"))
    if len(rows) == 1:
        print("no functions found (a function is a folder with a function.toml)", file=sys.stderr)
        return EXIT_OK
    print_table(rows)
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``list`` on the ``workbench`` parser."""
    p = sub.add_parser("list", parents=[common], help="list the functions and their config")
    p.set_defaults(func=cmd_list)
