"""``workbench invoke NAME``: one invocation, as Lambda's Invoke returns it.

Synchronous by default (response on stdout, log on stderr, exit 1 when the function fails);
``--async`` queues it as an Event invocation for a serve or TUI on the same state dir;
``--debug`` connects a ``breakpoint()`` in the handler to this terminal's pdb.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from .common import EXIT_OK, BadInput, read_payload, run_and_print, warn_if_not_served, with_engine
from .options import aws_credentials_option

if TYPE_CHECKING:
    from ..engine import Engine


def cmd_invoke(args: argparse.Namespace) -> int:
    if args.debug and args.async_:
        raise BadInput(
            "--debug runs the handler here under pdb, --async queues it for a serve or TUI: "
            "give one of them"
        )
    if args.debug and args.event == "-":
        raise BadInput(
            "--debug reads pdb's commands from stdin: give the event with --event FILE or "
            "--payload JSON, not --event -"
        )
    payload = read_payload(args)

    async def work(engine: Engine) -> int:
        if args.async_:
            return _invoke_async(engine, args.name, payload)
        return await run_and_print(engine, engine.invoke(args.name, payload, trigger="cli"), args)

    return with_engine(args, work)


def _invoke_async(engine: Engine, name: str, payload: bytes) -> int:
    """``--async``: accept the event into the durable queue (InvocationType Event)."""
    request_id = engine.invoke_event(name, payload, trigger="cli")
    print(json.dumps({"StatusCode": 202, "RequestId": request_id}))
    warn_if_not_served(engine.state_dir)
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``invoke`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "invoke",
        parents=[common],
        help="invoke a function once: response on stdout, log on stderr",
        description="Invoke a function synchronously: exit 0 on success, 1 when the function "
        "returns an error, 2 on bad input. With --async, queue it as an Event invocation for the "
        "serve or TUI running on the state dir, print its request id, and exit 0.",
    )
    p.add_argument(
        "name",
        metavar="NAME[:QUALIFIER]",
        help="function name, NAME:VERSION, NAME:ALIAS, NAME:$LATEST, or an ARN",
    )
    p.add_argument("--event", "-e", metavar="FILE", help="event JSON file, or - for stdin")
    p.add_argument("--payload", "-p", metavar="JSON", help="event JSON given inline")
    p.add_argument(
        "--async",
        dest="async_",
        action="store_true",
        help="invoke asynchronously (InvocationType Event): queue the event, print its request "
        "id; a running serve or TUI on the same state dir runs it, with Lambda's retries",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="stop at breakpoint() / pdb.set_trace() in the handler: pdb on this terminal "
        "(its output on stdout, commands from stdin; end of input detaches)",
    )
    aws_credentials_option(p)
    p.set_defaults(func=cmd_invoke)
