"""``workbench watch NAME``: invoke once, then again after every save, showing what changed.

The engine runs with hot reload on; ``engine/invoke/rerun.py`` re-invokes the function after each
reload that left it runnable. Each re-run prints a header (time, the saved files, status,
duration, cold/warm) and the new response beside the previous one (``watch_text.py``); the
invocation's log goes to stderr, as ``invoke`` prints it. A save that breaks the code prints the
problem and waits for the next one. ctrl+c stops it (exit 0) with every environment shut down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import TYPE_CHECKING

from .common import EXIT_OK, BadInput, read_payload, roots_of, run_interruptible, state_dir_of
from .options import aws_credentials_option

if TYPE_CHECKING:
    from ..engine import Engine


def _check_event(payload: bytes, args: argparse.Namespace) -> None:
    source = "--payload" if args.payload is not None else f"--event {args.event}"
    if not payload.strip():
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInput(f"{source} is not valid JSON: {e}") from None


def _check_name(engine: Engine, name: str) -> None:
    if ":" in name:
        raise BadInput(
            f"watch follows a function's $LATEST (what a save changes): give NAME, not {name!r}"
        )
    if name not in engine.functions and name not in engine.problems:
        known = sorted({*engine.functions, *engine.problems})
        accepted = f"; functions here: {', '.join(known)}" if known else "; no functions found"
        raise BadInput(f"function not found: {name}{accepted}")


def _event_source(engine: Engine, name: str, given: bytes | None) -> tuple[bytes, str]:
    """The event to re-run, and where it came from (said once at the start)."""
    from ..engine.invoke import stored_event

    if given is not None:
        return (given if given.strip() else b"{}"), "the event given"
    event, record = stored_event(engine, name)
    if record is not None:
        return event, f"the last stored invocation's ({record.request_id})"
    return event, "{} (no stored invocation to take it from)"


def cmd_watch(args: argparse.Namespace) -> int:
    from ..engine import Engine, EngineSettings

    given = read_payload(args) if args.event is not None or args.payload is not None else None
    if given is not None:
        _check_event(given, args)
    roots = roots_of(args)

    async def main() -> int:
        from ..engine.invoke import RerunOnSave
        from .options import template_options_of
        from .watch_text import Printer

        state_dir = state_dir_of(args, roots)
        settings = EngineSettings(
            state_dir=state_dir,
            watch=True,
            aws_credentials=args.aws_credentials,
            templates=template_options_of(args, state_dir),
        )
        async with Engine(roots, settings) as engine:
            _check_name(engine, args.name)
            await engine.wait_watching()
            event, source = _event_source(engine, args.name, given)
            printer = Printer(engine, args.name, log=not args.no_log)
            print(
                f"watching {args.name} ({printer.folder}): after each save it runs "
                f"{source} again; ctrl+c stops",
                file=sys.stderr,
                flush=True,
            )
            rerun = RerunOnSave(engine, args.name, printer.report, event=event)
            rerun.start(now="cli")
            try:
                await asyncio.Event().wait()  # until ctrl+c cancels us
            finally:
                await rerun.aclose()
        return EXIT_OK

    code = run_interruptible(main())
    if code == 128 + signal.SIGINT:  # ctrl+c is how a watch ends
        print(f"stopped watching {args.name}", file=sys.stderr)
        return EXIT_OK
    return code


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``watch`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "watch",
        parents=[common],
        help="invoke a function, then again after every save, showing what changed",
        description="Invoke NAME once and print the response; after every save of its code or "
        "function.toml, invoke it again with the same event and print the new response beside "
        "the previous one, differences marked (| changed, < removed, > added). Without --event "
        "or --payload it re-runs the function's last stored event ({} if none). A save that "
        "breaks the code is reported and not run. ctrl+c stops it.",
    )
    p.add_argument("name", metavar="NAME", help="the function to watch")
    p.add_argument("--event", "-e", metavar="FILE", help="event JSON file, or - for stdin")
    p.add_argument("--payload", "-p", metavar="JSON", help="event JSON given inline")
    p.add_argument(
        "--no-log", action="store_true", help="do not print each invocation's log on stderr"
    )
    aws_credentials_option(p)
    p.set_defaults(func=cmd_watch)
