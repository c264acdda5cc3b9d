"""``workbench versions NAME``: a function's published versions, oldest first."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from .common import EXIT_OK, print_table, with_engine

if TYPE_CHECKING:
    from ..engine import Engine


def _when(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_s))


def cmd_versions(args: argparse.Namespace) -> int:
    async def work(engine: Engine) -> int:
        versions = engine.versions(args.name)
        if not versions:
            hint = f"workbench publish {args.name}"
            print(f"{args.name} has no published versions ({hint})", file=sys.stderr)
            return EXIT_OK
        rows = [("VERSION", "CODESHA256", "SIZE", "CREATED", "DESCRIPTION")]
        for v in versions:
            created = _when(v.created_at)
            rows.append((str(v.number), v.code_sha256, f"{v.code_size} B", created, v.description))
        print_table(rows)
        return EXIT_OK

    return with_engine(args, work)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``versions`` on the ``workbench`` parser."""
    p = sub.add_parser("versions", parents=[common], help="list a function's published versions")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_versions)
