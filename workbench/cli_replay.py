"""``workbench replay REQUEST_ID``: run a logged invocation again, as ``invoke`` would print it.

The event, the qualifier as invoked and the client context come from the stored record; the
new record links to the old one (``replay_of``). Exit codes as ``invoke``'s.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .cli import EXIT_FUNCTION_ERROR, EXIT_OK, _show_log, _with_engine

if TYPE_CHECKING:
    from .engine import Engine


def cmd_replay(args: argparse.Namespace) -> int:
    async def work(engine: Engine) -> int:
        if args.debug:
            from .debug_terminal import debugged

            result = await debugged(engine, engine.replay(args.request_id))
        else:
            result = await engine.replay(args.request_id)
        _show_log(result.record)
        print(f"replay of {result.record.replay_of} -> {result.record.request_id}", file=sys.stderr)
        out = sys.stdout.buffer
        out.write(result.payload)
        if sys.stdout.isatty():
            out.write(b"\n")
        out.flush()
        return EXIT_FUNCTION_ERROR if result.function_error else EXIT_OK

    return _with_engine(args, work)


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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
    p.set_defaults(func=cmd_replay)
