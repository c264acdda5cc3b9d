"""``workbench alias create|update|list|delete``: aliases name a version, optionally sending a
weighted share of their invocations to a second one (Lambda's RoutingConfig)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import EXIT_OK, BadInput, print_table, with_engine

if TYPE_CHECKING:
    from ..engine import Alias, Engine

HEADER = ("ALIAS", "VERSION", "ROUTING", "DESCRIPTION")


def _routing(weights: list[str] | None) -> dict[str, object] | None:
    """``--weight 3=0.1`` (repeatable: Lambda refuses more than one) → ``{"3": 0.1}``."""
    if weights is None:
        return None
    routing: dict[str, object] = {}
    for item in weights:
        version, sep, weight = item.partition("=")
        if not sep or not version or not weight:
            raise BadInput(f"--weight {item!r}: expected VERSION=WEIGHT, e.g. --weight 3=0.1")
        try:
            routing[version.strip()] = float(weight)
        except ValueError:
            raise BadInput(
                f"--weight {item!r}: the weight must be a number from 0.0 to 1.0"
            ) from None
    return routing


def _alias_line(alias: Alias) -> tuple[str, ...]:
    routing = ", ".join(
        f"{version}: {weight:g} ({weight:.0%})" for version, weight in alias.routing.items()
    )
    target = alias.function_version
    if routing:
        target += f" ({alias.share(alias.function_version):.0%})"
    return (alias.name, target, routing or "-", alias.description)


def cmd_alias(args: argparse.Namespace) -> int:
    async def work(engine: Engine) -> int:
        if args.alias_command == "list":
            aliases = engine.aliases(args.name)
            if not aliases:
                print(f"{args.name} has no aliases", file=sys.stderr)
                return EXIT_OK
            print_table([HEADER, *map(_alias_line, aliases)])
            return EXIT_OK
        if args.alias_command == "delete":
            engine.delete_alias(args.name, args.alias)
            print(f"deleted alias {args.alias} of {args.name}", file=sys.stderr)
            return EXIT_OK
        routing = _routing(args.weight)
        if getattr(args, "no_weight", False):
            if routing is not None:
                raise BadInput("give --weight or --no-weight, not both")
            routing = {}
        if args.alias_command == "create":
            description = args.description or ""
            alias = engine.create_alias(
                args.name, args.alias, args.version, routing=routing, description=description
            )
        else:
            if args.version is None and routing is None and args.description is None:
                raise BadInput("nothing to update: give --version, --weight, --no-weight or -d")
            alias = engine.update_alias(
                args.name,
                args.alias,
                version=args.version,
                routing=routing,
                description=args.description,
            )
        print_table([HEADER, _alias_line(alias)])
        return EXIT_OK

    return with_engine(args, work)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``alias`` and its actions on the ``workbench`` parser."""
    p = sub.add_parser(
        "alias",
        parents=[common],
        help="create, update, list or delete aliases (with weighted routing)",
        description="Aliases name a version; --weight V=W sends the share W (0.0 to 1.0) of the "
        "alias's invocations to version V instead.",
    )
    p.set_defaults(func=cmd_alias)
    verbs = p.add_subparsers(dest="alias_command", metavar="ACTION", required=True)
    for action, text in (("create", "create an alias"), ("update", "change an alias")):
        a = verbs.add_parser(action, parents=[common], help=text)
        a.add_argument("name", metavar="NAME")
        a.add_argument("alias", metavar="ALIAS")
        a.add_argument(
            "--version",
            "-v",
            required=action == "create",
            metavar="N",
            help="the version it points to (a number, or $LATEST)",
        )
        a.add_argument(
            "--weight",
            "-w",
            action="append",
            metavar="V=W",
            help="route the share W (0.0-1.0) of invocations to published version V",
        )
        if action == "update":
            a.add_argument(
                "--no-weight", action="store_true", help="remove the routing: all to --version"
            )
        a.add_argument("-d", "--description", metavar="DESC")
    a = verbs.add_parser("list", parents=[common], help="list a function's aliases")
    a.add_argument("name", metavar="NAME")
    a = verbs.add_parser("delete", parents=[common], help="delete an alias")
    a.add_argument("name", metavar="NAME")
    a.add_argument("alias", metavar="ALIAS")
