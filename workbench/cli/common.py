"""What every verb of the ``workbench`` command shares: the exit codes, the one-line user error,
the roots and state dir, tables, and running an engine (or an invocation) from the terminal.

Verb modules import from here, never from the package's ``__init__`` (which imports them).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import event_loop

if TYPE_CHECKING:
    from ..engine import Engine, InvocationRecord, InvokeResult
    from ..engine.config import Discovery

EXIT_OK, EXIT_FUNCTION_ERROR, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A user error: printed as one line, exit 2."""


def whole_number(text: str) -> int:
    """An argparse type: an integer, or argparse's error naming the text."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def roots_of(args: argparse.Namespace) -> list[Path]:
    """The roots given as ROOT… (the TUI, serve) and with -r, in that order; default: here."""
    given = [*(getattr(args, "roots", None) or []), *(args.root or [])]
    roots = [Path(r) for r in given] or [Path.cwd()]
    for root in roots:
        if not root.exists():
            raise BadInput(f"function root not found: {root}")
        if not root.is_dir():
            raise BadInput(f"function root is not a directory: {root}")
    return roots


def state_dir_of(args: argparse.Namespace, roots: list[Path]) -> Path:
    """``--state-dir``, else ``.workbench`` in the first root: where history lives."""
    return Path(args.state_dir) if args.state_dir else roots[0].resolve() / ".workbench"


def discover_of(args: argparse.Namespace) -> Discovery:
    """The functions under the roots, in the templates and created through the deploy API,
    read from disk without an engine."""
    from ..engine.config import API_DIR, ApiFunctions, discover
    from .options import template_options_of

    roots = roots_of(args)
    state_dir = state_dir_of(args, roots)
    templates = template_options_of(args, state_dir)
    return discover(roots, templates=templates, api=ApiFunctions(state_dir / API_DIR))


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell; the last one is left ragged."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])


def read_payload(args: argparse.Namespace) -> bytes:
    """The event from ``--event FILE`` (``-``: stdin) or ``--payload JSON``; ``{}`` if neither."""
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


def show_log(record: InvocationRecord) -> None:
    """The invocation's log on stderr, and the time it sat at a debugger prompt or waited for
    its turn to start a runtime, if any."""
    from ..engine.model import paused_text, start_wait_text, terminal_text

    sys.stderr.write(terminal_text(record.log_lines) + "\n")
    if record.start_wait_ms:
        sys.stderr.write(start_wait_text(record.start_wait_ms) + "\n")
    if record.paused_ms:
        sys.stderr.write(paused_text(record.paused_ms) + "\n")
    sys.stderr.flush()


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
    show_log(result.record)
    if note is not None:
        print(note(result), file=sys.stderr)
    out = sys.stdout.buffer
    out.write(result.payload)
    if sys.stdout.isatty():
        out.write(b"\n")
    out.flush()
    return EXIT_FUNCTION_ERROR if result.function_error else EXIT_OK


def warn_if_not_served(state_dir: Path) -> None:
    """Events were queued: say so if no serve or TUI runs on ``state_dir`` to run them."""
    from ..engine.storage import dispatcher_running

    if not dispatcher_running(state_dir):
        print(
            f"queued; no workbench is running on {state_dir} to process it — start "
            "`workbench serve` (or the TUI) there",
            file=sys.stderr,
        )


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """The engine's loop (``event_loop.py``); a ``WORKBENCH_LOOP`` we do not have is bad input."""
    try:
        return event_loop.loop_factory()
    except event_loop.LoopChoiceError as e:
        raise BadInput(str(e)) from None


def run_interruptible(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro``; SIGINT or SIGTERM cancels it, so the engine shuts every environment down."""
    try:
        factory = loop_factory()
    except BadInput:
        coro.close()  # (never awaited)
        raise

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
            return await coro
        except asyncio.CancelledError:
            if received:
                return 128 + received[0]
            raise

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


def with_engine(args: argparse.Namespace, work: Callable[[Engine], Awaitable[int]]) -> int:
    """Run ``work`` on a started engine; Lambda's refusals become one line and exit 2."""
    from ..engine import Engine, EngineSettings, LambdaError

    roots = roots_of(args)

    async def main() -> int:
        from .options import template_options_of

        state_dir = state_dir_of(args, roots)
        settings = EngineSettings(
            state_dir=state_dir,
            aws_credentials=getattr(args, "aws_credentials", "local"),  # verbs that run code
            templates=template_options_of(args, state_dir),
        )
        async with Engine(roots, settings) as engine:
            try:
                return await work(engine)
            except LambdaError as e:
                raise BadInput(f"{e.code}: {e.message}") from None

    return run_interruptible(main())
