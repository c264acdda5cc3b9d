"""``workbench replay REQUEST_ID``: run a logged invocation again, as ``invoke`` would print it.

The event, the qualifier as invoked and the client context come from the stored record; the
new record links to the old one (``replay_of``). Exit codes as ``invoke``'s.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .common import run_and_print, with_engine
from .options import aws_credentials_option

if TYPE_CHECKING:
    from ..engine import Engine


def cmd_replay(args: argparse.Namespace) -> int:
    async def work(engine: Engine) -> int:
        return await run_and_print(
            engine,
            engine.replay(args.request_id),
            args,
            note=lambda r: f"replay of {r.record.replay_of} -> {r.record.request_id}",
        )

    return with_engine(args, work)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``replay`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "replay",
        parents=[common],
        help="run a logged invocation again: same event, qualifier and client context",
        description="Invoke the function of a stored invocation again, synchronously, with its "
        "original event, qualifier (an alias picks its version again) and client context. "
        "Response on stdout, log on stderr; exit 0 on success, 1 when the function returns an "
        "error, 2 on bad input (unknown or ambiguous request id, a function that is gone).",
    )
    p.add_argument(
        "request_id",
        metavar="REQUEST_ID",
        help="the request id (workbench logs, the TUI's log), or its first 8 or more characters",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="connect a breakpoint() in the handler to this terminal's pdb (stdin/stdout)",
    )
    aws_credentials_option(p)
    p.set_defaults(func=cmd_replay)
