"""``workbench logs [NAME]``: the stored invocation logs, read straight from the state dir's
database (read-only), so it works beside a running serve or TUI."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, BadInput, discover_of, roots_of, state_dir_of


def cmd_logs(args: argparse.Namespace) -> int:
    from ..engine.model import terminal_text
    from ..engine.storage import RecordStore

    roots = roots_of(args)
    path = state_dir_of(args, roots) / "workbench.db"
    if not path.exists():
        print("no invocations recorded yet", file=sys.stderr)
        return EXIT_OK
    store = RecordStore.open_readonly(path)
    try:
        if args.name:
            found = discover_of(args)
            if args.name not in found.functions and not store.count(args.name):
                raise BadInput(f"function not found: {args.name}")
        # enough invocations to fill --tail lines; each has at least three (START, END, REPORT)
        records = store.recent(args.name, limit=max(1, args.tail))
    finally:
        store.close()
    lines = [line for record in reversed(records) for line in record.log_lines]
    for line in lines[-args.tail :] if args.tail else lines:
        print(terminal_text([line]))
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``logs`` on the ``workbench`` parser."""
    p = sub.add_parser("logs", parents=[common], help="print stored invocation logs")
    p.add_argument("name", nargs="?", metavar="NAME", help="only this function")
    p.add_argument(
        "--tail", "-n", type=int, default=100, metavar="N", help="the last N lines (default 100)"
    )
    p.set_defaults(func=cmd_logs)
