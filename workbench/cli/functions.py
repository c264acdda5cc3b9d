"""``workbench list``: the functions under the roots and in their templates, where each came
from, their configuration and triggers, the interpreter each runs on, what a template asks for
that is not run here, and the folders or templates that are broken (with the error), read from
disk without an engine."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, discover_of, print_table


def cmd_list(args: argparse.Namespace) -> int:
    from ..engine.config import label, triggers_of
    from ..engine.runtime import Interpreters, enters_namespaces, namespaces_here, network_here

    found = discover_of(args)
    interpreters = Interpreters()  # as `serve` and the TUI choose them without --python/--node
    why_not = namespaces_here()  # as `serve` and the TUI would run them ($WORKBENCH_ISOLATION)
    header = (
        "NAME",
        "RUNTIME",
        "RUNS ON",
        "NAMESPACES",
        "HANDLER",
        "FROM",
        "MEMORY",
        "TIMEOUT",
        "TRIGGERS",
        "STATUS",
    )
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
        origin = fn.origin
        isolated = "yes" if not why_not and enters_namespaces(fn) else "no"
        rows.append(
            (
                name,
                fn.runtime,
                runs_on,
                isolated,
                fn.handler,
                origin,
                memory,
                timeout,
                triggers,
                "ok",
            )
        )
        notices.extend(f"{name}: {note}" for note in fn.notes)
    for name, problem in found.problems.items():
        rows.append(
            (name, "-", "-", "-", "-", "-", "-", "-", "-", f"config error: {problem.error}")
        )
    if len(rows) == 1:
        print(
            "no functions found (a function is a folder with a function.toml, or a function "
            "resource of a template.yaml, cdk.out/ or --template)",
            file=sys.stderr,
        )
        return EXIT_OK
    print_table(rows)
    print(
        "namespaces: every function gets its own (/var/task read-only, a private /tmp, "
        "nothing else of the host; its extensions share them), except one whose wrapper script "
        "is a host path"
        if not why_not
        else f"namespaces: none ({why_not})"
    )
    print(network_here(not why_not))
    print("cgroups and what each sandbox does not stop: `workbench serve` prints them at start")
    for notice in notices:
        print(notice)
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``list`` on the ``workbench`` parser."""
    p = sub.add_parser("list", parents=[common], help="list the functions and their config")
    p.set_defaults(func=cmd_list)
