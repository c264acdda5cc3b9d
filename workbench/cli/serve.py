"""``workbench serve``: the engine and the Lambda API, headless, with logs on stdout.

For scripts, CI and SDK work (``boto3.client("lambda", endpoint_url=...)``). Hot reload is on,
as in the TUI. Each invocation's log (``START`` … ``REPORT``; of a flood, its first and last part)
is printed in one piece when it ends, so concurrent invocations never interleave their lines.
Beside the Lambda API, the functions' ``http`` triggers are served as API Gateway routes
(``--http-port``, 3000 as ``sam local start-api``); the routes are printed at start and again when
a reload changes them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .common import BadInput, roots_of, run_interruptible, state_dir_of
from .log_writer import LogWriter
from .options import engine_options, served_settings
from .start_gc import imports_done

if TYPE_CHECKING:
    from ..api.http_trigger import HttpTriggerServer
    from ..engine import EngineSettings, FunctionReloaded


class ServeError(Exception):
    """The server could not start (the port is taken): one line for the user."""


def _routes(http: HttpTriggerServer) -> list[str]:
    lines = http.routes.lines() + http.url_lines()
    return [f"  {line}" for line in lines] or ['  (none yet: add [[triggers]] type = "http")']


def _describe(event: FunctionReloaded) -> str:
    line = f"reloaded {event.function} ({event.change})"
    if event.problem is not None:
        line += f": {event.problem.kind} error at {event.problem.file}:{event.problem.line}: "
        line += event.problem.message
    return line


async def serve(
    roots: list[Path],
    settings: EngineSettings,  # options.served_settings: hot reload and event sources on
    *,
    host: str,
    port: int,
    http_port: int,
    out: TextIO = sys.stdout,
) -> int:
    """Serve until cancelled (ctrl+c, SIGTERM); the engine then shuts every environment down."""
    from ..engine import Engine, FunctionReloaded, InvokeEnd
    from .serve_text import (
        SERVED_EVENTS,
        credentials_line,
        debug_lines,
        event_line,
        interpreter_lines,
        log_text,
        source_lines,
        template_lines,
    )

    log: LogWriter | None = None
    async with Engine(roots, settings) as engine:
        # the API's imports (aiohttp's server: ~70 ms) come once the engine has started: its
        # fork server's start (a process: ~30 ms) runs on another core meanwhile, not between
        # the API's line and the first cold start
        from ..api import start_api
        from ..api.http_trigger import start_http
        from ..api.security import is_loopback, split_host

        imports_done()
        subscription = engine.subscribe(kinds=SERVED_EVENTS)
        # the banner below says the functions are served: from then on a save is seen
        await engine.wait_watching()
        try:
            server = await start_api(engine, host, port)
        except OSError as e:
            raise ServeError(
                f"cannot listen on {host}:{port}: {e.strerror or e} (is another workbench or "
                "`sam local start-lambda` running there? choose another port with --port)"
            ) from None
        try:
            http = await start_http(engine, host, http_port)
        except OSError as e:
            await server.close()
            raise ServeError(
                f"cannot listen on {host}:{http_port}: {e.strerror or e} (is another workbench or "
                "`sam local start-api` running there? choose another port with --http-port)"
            ) from None
        try:
            names = ", ".join(sorted(engine.functions)) or "none"
            print(f"functions: {names}", file=out)
            for name, problem in sorted(engine.problems.items()):
                print(f"config error in {name}: {problem.error}", file=out)
            if not is_loopback(split_host(host)):
                print(
                    f"warning: the Lambda API listens on {host}, reachable from the network, "
                    "with no authentication",
                    file=out,
                )
            print(f"Lambda API on {server.url} (endpoint_url for boto3 and the AWS CLI)", file=out)
            routes = _routes(http)
            print(f"HTTP routes on {http.url}", file=out)
            print("\n".join(routes), file=out)
            sources = source_lines(engine)
            print("event sources:", file=out)
            print("\n".join(sources or ["  (none)"]), file=out)
            if templated := template_lines(engine):
                print("from templates:", file=out)
                print("\n".join(templated), file=out)
            if engine.pool.isolation is not None:
                isolation = engine.pool.isolation
                print(f"isolation: {isolation.describe()}", file=out)
                print(f"  {isolation.describe_namespaces()}", file=out)
                print(f"  {isolation.network.describe()}", file=out)
                print(f"  {isolation.not_stopped()}", file=out)
                print(f"  {isolation.describe_tmp()}", file=out)
                if isolation.namespaces:  # what a function with a host-path wrapper gets
                    print(f"  without namespaces, {isolation.not_stopped(False)}", file=out)
            print(credentials_line(engine), file=out)
            if engine.concurrency.scaling is not None:
                print(f"scaling: {engine.concurrency.scaling.describe()}", file=out)
            for line in [*interpreter_lines(engine), *debug_lines(engine)]:
                print(line, file=out)
            out.flush()
            log = LogWriter(out)
            while True:
                event = await subscription.get()
                if isinstance(event, InvokeEnd):
                    log.line(log_text(event.record))
                elif isinstance(event, FunctionReloaded):
                    log.line(_describe(event))
                    if _routes(http) != routes:
                        routes = _routes(http)
                        log.line(f"HTTP routes on {http.url} now")
                        log.line("\n".join(routes))
                    if source_lines(engine) != sources:
                        sources = source_lines(engine)
                        log.line("event sources now:")
                        log.line("\n".join(sources or ["  (none)"]))
                elif (text := event_line(event)) is not None:
                    log.line(text)
        finally:
            if log is not None:
                log.close()  # what is left, unless its output does not move
            subscription.close()
            await http.close()
            await server.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    roots = roots_of(args)
    try:
        return run_interruptible(
            serve(
                roots,
                served_settings(args, state_dir_of(args, roots)),
                host=args.host,
                port=args.port,
                http_port=args.http_port,
            )
        )
    except ServeError as e:
        raise BadInput(str(e)) from None


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``serve`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "serve",
        parents=[common],
        help="run headless: the engine and the Lambda API, with logs on stdout",
    )
    engine_options(p)
    p.set_defaults(func=cmd_serve)
