"""The ``workbench`` command: with a verb (``workbench invoke …``) it runs that verb; without
one it opens the TUI.

One module per verb (each declares its parser with ``add_parser`` and runs it with ``cmd_*``);
what they share is in ``common`` and ``options``. This module only assembles the parser and
dispatches; no module of the package imports it back.

Exit codes: 0 success, 1 the function failed (its error object is on stdout, as Lambda returns
it), 2 bad input (unknown function, invalid JSON, invalid config) with a one-line message.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..engine.early_start import start_namespaces_probe, start_netns_maker
from . import (
    alias,
    credentials,
    deploy,
    functions,
    generate_event,
    invoke,
    logs,
    package,
    publish,
    queues,
    replay,
    schedules,
    serve,
    streams,
    topics,
    versions,
    watch,
)
from . import tui as _tui
from .common import EXIT_BAD_INPUT, BadInput
from .options import common_options, cpu_from_environment
from .start_gc import pause as pause_gc

# each verb's module, in the order ``workbench --help`` lists them
VERB_MODULES = {
    "list": functions,
    "serve": serve,
    "invoke": invoke,
    "logs": logs,
    "publish": publish,
    "versions": versions,
    "alias": alias,
    "generate-event": generate_event,
    "queue": queues,
    "stream": streams,
    "publish-message": topics,
    "schedules": schedules,
    "replay": replay,
    "watch": watch,
    "credentials": credentials,
    "package": package,
    "deploy": deploy,
}
# in the order the TUI's --help names them
VERBS = (
    "list",
    "invoke",
    "logs",
    "publish",
    "versions",
    "alias",
    "generate-event",
    "serve",
    "queue",
    "stream",
    "publish-message",
    "schedules",
    "replay",
    "watch",
    "credentials",
    "package",
    "deploy",
)
_VALUE_OPTIONS = (
    "-r",
    "--root",
    "--state-dir",
    "--theme",
    "--port",
    "--http-port",
    "--host",
    "--time-scale",
    "--debug-port",
    "--log-limit",
    "--aws-credentials",
    "-t",
    "--template",
    "--parameter-overrides",
    "--env-vars",
)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``workbench VERB …``: with ``verb``, that verb's alone (what a command
    parses its line with: the other sixteen are ~5 ms of its start); every verb's for
    ``workbench --help``."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Run AWS Lambda-style functions locally, with Lambda's real semantics.",
        parents=[common_options(None)],
    )
    common = common_options(argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in VERB_MODULES.items():
        if verb is None or name == verb:
            module.add_parser(sub, common)
    return parser


def build_tui_parser() -> argparse.ArgumentParser:
    """The parser of ``workbench [ROOT…]`` (no verb: the TUI)."""
    return _tui.build_tui_parser(VERBS)


def _verb(argv: list[str]) -> str | None:
    """The first word that is not an option or an option's value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def runs_an_engine(argv: list[str]) -> bool:
    """Is this ``serve`` or the TUI (no verb: ``workbench``, ``workbench sample_functions/``)?
    Their start pauses the collector and starts what the engine will wait for, first thing."""
    verb = _verb(argv)
    return verb == "serve" or verb not in VERBS


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    verb, engine, helps = _verb(argv), runs_an_engine(argv), bool({"-h", "--help"} & set(argv))
    if engine and not helps:
        pause_gc()  # until their imports are done (start_gc)
    if verb in VERBS:
        parser = build_parser(verb)
    elif verb is None and helps:
        parser = build_parser()
    else:
        parser = build_tui_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "template_options_allowed", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.template_options = extra  # free-form --key value pairs, for generate-event
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        cpu_from_environment()  # every engine's default --cpu: refused here, not as a traceback
    except ValueError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if engine and _isolation(args) == "auto":
        # the engine's start waits for these: run them on another core while the command imports
        start_namespaces_probe()
        if _network(args) != "host":
            start_netns_maker()  # (only for an engine that is not root)
    try:
        return args.func(args)
    except BadInput as e:
        print(f"workbench: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if not isinstance(e, _state_error()):
            raise
        print(f"workbench: {e}", file=sys.stderr)  # the state dir's database is unusable
        return EXIT_BAD_INPUT


def _isolation(args: argparse.Namespace) -> str:
    return getattr(args, "isolation", None) or os.environ.get("WORKBENCH_ISOLATION") or "auto"


def _network(args: argparse.Namespace) -> str:
    return getattr(args, "network", None) or os.environ.get("WORKBENCH_NETWORK") or "auto"


def _state_error() -> type[Exception]:
    """The engine's "database unusable" error, imported only once something has failed."""
    from ..engine.storage import StateDatabaseError

    return StateDatabaseError


__all__ = ["VERBS", "build_parser", "build_tui_parser", "main"]
