"""``workbench [ROOT…]``: with no verb, the command opens the TUI, serving the Lambda API and
the HTTP routes beside it as ``serve`` does."""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .common import BadInput, loop_factory, roots_of, state_dir_of
from .options import common_options, engine_options, served_settings
from .start_gc import imports_done

if TYPE_CHECKING:
    from ..engine import Engine
    from ..tui.app import Served


def build_tui_parser(verbs: tuple[str, ...]) -> argparse.ArgumentParser:
    """The parser of ``workbench [ROOT…]``; its description lists the other ``verbs``."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Open the workbench TUI on the functions under ROOT (default: here). "
        f"Other commands: {', '.join(verbs)} (workbench COMMAND --help).",
        parents=[common_options(None)],
    )
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="colour theme for this run, e.g. workbench-dark, workbench-light (see themes/); "
        "a theme picked in the TUI (ctrl+p, Theme) is remembered",
    )
    engine_options(parser)
    parser.set_defaults(func=cmd_tui)
    return parser


def cmd_tui(args: argparse.Namespace) -> int:
    roots = roots_of(args)
    factory = loop_factory()
    from ..engine.storage import check_database

    # the app starts the engine inside itself, where a refusal would be a traceback
    check_database(state_dir_of(args, roots) / "workbench.db")
    from ..tui import css_cache
    from ..tui.app import WorkbenchApp
    from ..tui.themes import ThemeError

    css_cache.install()  # (Textual's parsed CSS kept across starts: css_cache.py)
    imports_done()
    try:
        app = WorkbenchApp(
            roots,
            settings=served_settings(args, state_dir_of(args, roots)),
            theme=args.theme,
            serve=functools.partial(_start_api, host=args.host, port=args.port),
            serve_address=f"{args.host}:{args.port}",
            serve_http=functools.partial(_start_http, host=args.host, port=args.http_port),
            serve_http_address=f"{args.host}:{args.http_port}",
        )
    except ThemeError as e:  # an unknown --theme, or a broken theme file
        raise BadInput(str(e)) from None
    with asyncio.Runner(loop_factory=factory) as runner:  # closes the loop afterwards
        app.run(loop=runner.get_loop())
    return app.return_code or 0


# The APIs' servers, imported when the app starts serving (after its first frame), in a thread:
# their imports (aiohttp and the API's modules, ~350 ms here) are neither on the way to that
# frame nor on the loop after it. The package ``workbench.api`` imports its server on the first
# use of ``start_api``: that use is made in the thread too (it was on the loop: a 346 ms stall
# just after the first frame, the first keys waiting behind it).
def _api_start() -> Callable[..., Awaitable[Served]]:
    start: Callable[..., Awaitable[Served]] = importlib.import_module("workbench.api").start_api
    return start


async def _start_api(engine: Engine, *, host: str, port: int) -> Served:
    start = await asyncio.to_thread(_api_start)
    return await start(engine, host=host, port=port)


def _http_start() -> Callable[..., Awaitable[Served]]:
    _api_start()  # (aiohttp first as the API imports it: api/__init__)
    start: Callable[..., Awaitable[Served]] = importlib.import_module(
        "workbench.api.http_trigger"
    ).start_http
    return start


async def _start_http(engine: Engine, *, host: str, port: int) -> Served:
    start = await asyncio.to_thread(_http_start)
    return await start(engine, host=host, port=port)
