"""The ``workbench`` command.

Exit codes: 0 success, 1 the function failed (its error object is on stdout, as Lambda returns
it), 2 bad input (unknown function, invalid JSON, invalid config) with a one-line message.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shlex
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Alias, Engine, InvocationRecord, InvokeResult

EXIT_OK, EXIT_FUNCTION_ERROR, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A user error: printed as one line, exit 2."""


def _roots(args: argparse.Namespace) -> list[Path]:
    """The roots given as ROOT… (the TUI, serve) and with -r, in that order; default: here."""
    given = [*(getattr(args, "roots", None) or []), *(args.root or [])]
    roots = [Path(r) for r in given] or [Path.cwd()]
    for root in roots:
        if not root.exists():
            raise BadInput(f"function root not found: {root}")
        if not root.is_dir():
            raise BadInput(f"function root is not a directory: {root}")
    return roots


def _state_dir(args: argparse.Namespace, roots: list[Path]) -> Path:
    return Path(args.state_dir) if args.state_dir else roots[0].resolve() / ".workbench"


# --------------------------------------------------------------------------- list


def _table(rows: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell; the last one is left ragged."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])


def cmd_list(args: argparse.Namespace) -> int:
    from .engine.config import discover, label, triggers_of

    found = discover(_roots(args))
    rows = [("NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "TRIGGERS", "STATUS")]
    for name, fn in found.functions.items():
        triggers = ", ".join(label(t) for t in triggers_of(fn)) or "-"
        memory, timeout = f"{fn.memory_size} MB", f"{fn.timeout} s"
        rows.append((name, fn.runtime, fn.handler, memory, timeout, triggers, "ok"))
    for name, problem in found.problems.items():
        rows.append((name, "-", "-", "-", "-", "-", f"config error: {problem.error}"))
    if len(rows) == 1:
        print("no functions found (a function is a folder with a function.toml)", file=sys.stderr)
        return EXIT_OK
    _table(rows)
    return EXIT_OK


# --------------------------------------------------------------------------- invoke


def _read_payload(args: argparse.Namespace) -> bytes:
    if args.event is not None and args.payload is not None:
        raise BadInput("give the event with --event FILE or --payload JSON, not both")
    if args.payload is not None:
        return args.payload.encode()
    if args.event is None:
        return b"{}"
    if args.event == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(args.event).read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read event file {args.event}: {e.strerror}") from None


def _show_log(record: InvocationRecord) -> None:
    """The invocation's log on stderr, and the time it sat at a debugger prompt, if any."""
    from .engine.model import paused_text, terminal_text

    sys.stderr.write(terminal_text(record.log_lines) + "\n")
    if record.paused_ms:
        sys.stderr.write(paused_text(record.paused_ms) + "\n")
    sys.stderr.flush()


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
    payload = _read_payload(args)

    async def work(engine: Engine) -> int:
        if args.async_:
            return _invoke_async(engine, args.name, payload)
        return await run_and_print(engine, engine.invoke(args.name, payload, trigger="cli"), args)

    return _with_engine(args, work)


async def run_and_print(
    engine: Engine,
    invocation: Awaitable[InvokeResult],
    args: argparse.Namespace,
    note: Callable[[InvokeResult], str] | None = None,
) -> int:
    """Await a synchronous invocation (under this terminal's pdb with ``--debug``), then print it
    as ``invoke`` does: the log (and ``note``) on stderr, the payload on stdout; the exit code."""
    if args.debug:
        from .debug_terminal import debugged

        result = await debugged(engine, invocation)
    else:
        result = await invocation
    _show_log(result.record)
    if note is not None:
        print(note(result), file=sys.stderr)
    out = sys.stdout.buffer
    out.write(result.payload)
    if sys.stdout.isatty():
        out.write(b"\n")
    out.flush()
    return EXIT_FUNCTION_ERROR if result.function_error else EXIT_OK


def _invoke_async(engine: Engine, name: str, payload: bytes) -> int:
    """``--async``: accept the event into the durable queue (InvocationType Event)."""
    request_id = engine.invoke_event(name, payload, trigger="cli")
    print(json.dumps({"StatusCode": 202, "RequestId": request_id}))
    warn_if_not_served(engine.state_dir)
    return EXIT_OK


def warn_if_not_served(state_dir: Path) -> None:
    """Events were queued: say so if no serve or TUI runs on ``state_dir`` to run them."""
    from .engine.storage import dispatcher_running

    if not dispatcher_running(state_dir):
        print(
            f"queued; no workbench is running on {state_dir} to process it — start "
            "`workbench serve` (or the TUI) there",
            file=sys.stderr,
        )


def _run_interruptible(coro: object) -> int:
    """Run ``coro``; SIGINT or SIGTERM cancels it, so the engine shuts every environment down."""

    async def main() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received: list[int] = []

        def stop(signum: int) -> None:
            received.append(signum)
            task.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop, signum)
        try:
            return await coro  # type: ignore[misc]
        except asyncio.CancelledError:
            if received:
                return 128 + received[0]
            raise

    return asyncio.run(main())


# --------------------------------------------------------------------------- logs


def cmd_logs(args: argparse.Namespace) -> int:
    from .engine.model import terminal_text
    from .engine.storage import RecordStore

    roots = _roots(args)
    path = _state_dir(args, roots) / "workbench.db"
    if not path.exists():
        print("no invocations recorded yet", file=sys.stderr)
        return EXIT_OK
    store = RecordStore.open_readonly(path)
    try:
        if args.name:
            from .engine.config import discover

            found = discover(roots)
            if args.name not in found.functions and not store.count(args.name):
                raise BadInput(f"function not found: {args.name}")
        # enough invocations to fill --tail lines; each has at least three (START, END, REPORT)
        records = store.recent(args.name, limit=max(1, args.tail))
    finally:
        store.close()
    lines = [line for record in reversed(records) for line in record.log_lines]
    for line in lines[-args.tail :] if args.tail else lines:
        print(terminal_text([line]))
    return EXIT_OK


# --------------------------------------------------------------------------- versions, aliases


def _with_engine(args: argparse.Namespace, work: Callable[[Engine], Awaitable[int]]) -> int:
    """Run ``work`` on a started engine; Lambda's refusals become one line and exit 2."""
    from .engine import Engine, EngineSettings, LambdaError

    roots = _roots(args)

    async def main() -> int:
        settings = EngineSettings(state_dir=_state_dir(args, roots))
        async with Engine(roots, settings) as engine:
            try:
                return await work(engine)
            except LambdaError as e:
                raise BadInput(f"{e.code}: {e.message}") from None

    return _run_interruptible(main())


def _when(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_s))


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

    return _with_engine(args, work)


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
        _table(rows)
        return EXIT_OK

    return _with_engine(args, work)


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
            _table([("ALIAS", "VERSION", "ROUTING", "DESCRIPTION"), *map(_alias_line, aliases)])
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
        _table([("ALIAS", "VERSION", "ROUTING", "DESCRIPTION"), _alias_line(alias)])
        return EXIT_OK

    return _with_engine(args, work)


# --------------------------------------------------------------------------- generate-event


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _template_options(words: list[str]) -> dict[str, str]:
    """``--key value`` and ``--key=value`` pairs; ``-`` and ``_`` in a name mean the same."""
    options: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--") or word == "--":
            raise BadInput(f"expected --option value pairs after SERVICE EVENT, got {word!r}")
        name, has_value, value = word[2:].partition("=")
        if not has_value:
            if i + 1 == len(words):
                raise BadInput(f"option {word} needs a value")
            i += 1
            value = words[i]
        options[name.replace("-", "_")] = value
        i += 1
    return options


def _template_listing() -> str:
    from .templates import TEMPLATES

    lines = ["templates (workbench generate-event SERVICE EVENT [--option value …]):"]
    for t in TEMPLATES.values():
        lines.append(f"  {t.service} {t.event} — {t.description}")
        width = max((len(_flag(o)) for o in t.options), default=0)
        for option, default in t.options.items():
            lines.append(f"      {_flag(option).ljust(width)}  {shlex.quote(default)}")
    return "\n".join(lines)


def cmd_generate_event(args: argparse.Namespace) -> int:
    from .templates import TEMPLATES, generate

    if args.list or args.service is None:
        if args.template_options:
            raise BadInput(
                f"unexpected {' '.join(args.template_options)}: options follow SERVICE EVENT "
                "(workbench generate-event s3 put --bucket NAME)"
            )
        print(_template_listing())
        return EXIT_OK
    services = list(dict.fromkeys(service for service, _ in TEMPLATES))
    if args.service not in services:
        raise BadInput(f"unknown service {args.service!r}; accepted: {', '.join(services)}")
    events = [event for service, event in TEMPLATES if service == args.service]
    if args.event not in events:
        what = f"unknown event {args.event!r}" if args.event else "missing EVENT"
        raise BadInput(f"{what} for {args.service}; accepted: {', '.join(events)}")
    template = TEMPLATES[(args.service, args.event)]
    options = _template_options(args.template_options)
    unknown = [name for name in options if name not in template.options]
    if unknown:
        accepted = ", ".join(_flag(o) for o in template.options)
        raise BadInput(
            f"unknown option {_flag(unknown[0])} for {args.service} {args.event}; "
            f"accepted: {accepted}"
        )
    print(json.dumps(generate(args.service, args.event, **options), indent=2))
    return EXIT_OK


# --------------------------------------------------------------------------- parser


# --------------------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import ServeError, serve

    roots = _roots(args)
    try:
        return _run_interruptible(
            serve(
                roots,
                state_dir=_state_dir(args, roots),
                host=args.host,
                port=args.port,
                http_port=args.http_port,
                prewarm=args.prewarm,
                time_scale=args.time_scale,
                debug_port=args.debug_port,
            )
        )
    except ServeError as e:
        raise BadInput(str(e)) from None


def _time_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.0001 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"invalid time scale {text!r}: a number from 0.0001 to 1 (1 = Lambda's own timing)"
        )
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0 to 65535 (0: any free port), not {port}")
    return port


def _debug_port(text: str) -> int:
    port = _port(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"the debug port must be 1 to 65535, not {port}")
    return port


def _engine_options(parser: argparse.ArgumentParser) -> None:
    """ROOT…, --prewarm, --port, --http-port, --host, --time-scale and --debug-port: what the
    TUI and `serve` both take."""
    from .api import DEFAULT_HOST, DEFAULT_PORT

    parser.add_argument("roots", nargs="*", metavar="ROOT", help="folders holding functions")
    parser.add_argument(
        "--prewarm",
        action="store_true",
        help="after each hot reload, start one environment of the new code, so the first "
        "invocation after a save is warm",
    )

    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port of the Lambda API for boto3 and the AWS CLI (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--http-port",
        type=_port,
        default=3000,
        help="port of the API Gateway-style HTTP trigger (default: 3000)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, loopback only); another address "
        "makes the API reachable from the network, without authentication",
    )
    parser.add_argument(
        "--time-scale",
        type=_time_scale,
        default=1.0,
        metavar="FACTOR",
        help="multiply Lambda's waits (async retry delays, throttle backoff, maximum event age, "
        "rate() schedules) by FACTOR, e.g. 0.01 for demos (default: 1, Lambda's timing)",
    )
    parser.add_argument(
        "--debug-port",
        type=_debug_port,
        default=None,
        metavar="PORT",
        help="start every Python environment under debugpy and every Node.js one under "
        "--inspect, listening on 127.0.0.1 from PORT up (one port per environment) and waiting "
        "for your IDE to attach; timeouts are suspended for them. Without it, only functions "
        "with debug = ... in function.toml do, from 5678 (debugpy) / 9229 (Node) up. "
        "Python needs debugpy: pip install 'workbench[debug]'",
    )


def _common(default: object) -> argparse.ArgumentParser:
    """Options taken before or after the verb (the verb's copy must not reset the other)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-r",
        "--root",
        action="append",
        metavar="DIR",
        default=default,
        help="a folder holding functions (repeatable; default: the current directory)",
    )
    common.add_argument(
        "--state-dir",
        metavar="DIR",
        default=default,
        help="where history lives (default: <first root>/.workbench)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Run AWS Lambda-style functions locally, with Lambda's real semantics.",
        parents=[_common(None)],
    )
    common = _common(argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", parents=[common], help="list the functions and their config")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="run headless: the engine and the Lambda API, with logs on stdout",
    )
    _engine_options(p)
    p.set_defaults(func=cmd_serve)

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
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("logs", parents=[common], help="print stored invocation logs")
    p.add_argument("name", nargs="?", metavar="NAME", help="only this function")
    p.add_argument(
        "--tail", "-n", type=int, default=100, metavar="N", help="the last N lines (default 100)"
    )
    p.set_defaults(func=cmd_logs)

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

    p = sub.add_parser("versions", parents=[common], help="list a function's published versions")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_versions)

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

    p = sub.add_parser(
        "generate-event",
        allow_abbrev=False,  # --l must not pass for --list: template options are free-form
        usage="workbench generate-event [-h] [--list] [SERVICE EVENT [--option value …]]",
        help="print a sample event (S3, SNS, SQS, API Gateway, …) as JSON",
        description="Print a fresh sample event for SERVICE EVENT as JSON, with new ids and "
        "timestamps. Set a template's options with --option value (or --option=value). With no "
        "arguments, or --list, list the templates with their options and defaults.",
    )
    p.add_argument("service", nargs="?", metavar="SERVICE", help="e.g. s3, sqs, apigateway")
    p.add_argument("event", nargs="?", metavar="EVENT", help="e.g. put, receive-message")
    p.add_argument("--list", action="store_true", help="list the templates and their options")
    p.set_defaults(func=cmd_generate_event)

    from . import cli_queue, cli_replay, cli_schedules, cli_topics, cli_watch

    for module in (cli_queue, cli_topics, cli_schedules, cli_replay, cli_watch):
        module.add_parsers(sub, common)
    return parser


# --------------------------------------------------------------------------- the TUI

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
    "publish-message",
    "schedules",
    "replay",
    "watch",
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
)


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


def build_tui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Open the workbench TUI on the functions under ROOT (default: here). "
        f"Other commands: {', '.join(VERBS)} (workbench COMMAND --help).",
        parents=[_common(None)],
    )
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="colour theme for this run, e.g. workbench-dark, workbench-light (see themes/); "
        "a theme picked in the TUI (ctrl+p, Theme) is remembered",
    )
    _engine_options(parser)
    return parser


def cmd_tui(args: argparse.Namespace) -> int:
    roots = _roots(args)
    from .engine.storage import check_database

    # the app starts the engine inside itself, where a refusal would be a traceback
    check_database(_state_dir(args, roots) / "workbench.db")
    from .api import start_api
    from .api.http_trigger import start_http
    from .tui.app import WorkbenchApp
    from .tui.themes import ThemeError

    try:
        app = WorkbenchApp(
            roots,
            state_dir=_state_dir(args, roots),
            theme=args.theme,
            prewarm=args.prewarm,
            time_scale=args.time_scale,
            debug_port=args.debug_port,
            serve=functools.partial(start_api, host=args.host, port=args.port),
            serve_address=f"{args.host}:{args.port}",
            serve_http=functools.partial(start_http, host=args.host, port=args.http_port),
            serve_http_address=f"{args.host}:{args.http_port}",
        )
    except ThemeError as e:  # an unknown --theme, or a broken theme file
        raise BadInput(str(e)) from None
    app.run()
    return app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if _verb(argv) in VERBS or (_verb(argv) is None and {"-h", "--help"} & set(argv)):
        parser = build_parser()
    else:
        parser = build_tui_parser()
        parser.set_defaults(func=cmd_tui)
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "func", None) is not cmd_generate_event:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.template_options = extra  # free-form --key value pairs, for generate-event
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
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


def _state_error() -> type[Exception]:
    """The engine's "database unusable" error, imported only once something has failed."""
    from .engine.storage import StateDatabaseError

    return StateDatabaseError


if __name__ == "__main__":
    sys.exit(main())
