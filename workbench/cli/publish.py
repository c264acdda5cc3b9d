"""``workbench publish NAME``: snapshot $LATEST as the next immutable version (Lambda's
PublishVersion: unchanged code and configuration give back the last version)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import EXIT_OK, with_engine

if TYPE_CHECKING:
    from ..engine import Engine


def cmd_publish(args: argparse.Namespace) -> int:
    async def work(engine: Engine) -> int:
        version, created = await engine.publish(args.name, args.description)
        print(version.number)
        if created:
            note = f"published {args.name} version {version.number}"
        else:
            note = (
                f"{args.name}: neither code nor configuration changed since version "
                f"{version.number}; that version stands"
            )
        print(
            f"{note} (CodeSha256 {version.code_sha256}, {version.code_size} bytes)", file=sys.stderr
        )
        return EXIT_OK

    return with_engine(args, work)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``publish`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "publish",
        parents=[common],
        help="publish $LATEST as a new immutable version; prints its number",
        description="Snapshot the function's code and configuration as the next version (1, 2, "
        "3…). When neither changed since the last version, that version is printed instead.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("-d", "--description", metavar="DESC", help="the version's description")
    p.set_defaults(func=cmd_publish)
