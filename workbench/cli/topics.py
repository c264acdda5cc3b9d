"""``workbench publish-message TOPIC MESSAGE``: SNS-like topics, fanned out to subscribers.

The subscribers' events are accepted into the state dir's durable queue; a running ``workbench
serve`` or TUI on that state dir runs them (a warning says so when none is running).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from .common import EXIT_OK, BadInput, warn_if_not_served, with_engine

if TYPE_CHECKING:
    from ..engine import Engine


def cmd_publish_message(args: argparse.Namespace) -> int:
    from ..engine.sources import TopicError, parse_attribute, publish_message

    message = _read_message(args.message)
    try:
        attributes = dict(parse_attribute(a) for a in args.attribute or [])
    except TopicError as e:
        raise BadInput(f"--attribute: {e.message}") from None

    async def work(engine: Engine) -> int:
        try:
            message_id = publish_message(
                engine,
                args.topic,
                message,
                subject=args.subject,
                attributes=attributes,
                trace_header=args.trace_header or None,
            )
        except TopicError as e:
            raise BadInput(str(e)) from None
        print(message_id)
        warn_if_not_served(engine.state_dir)
        return EXIT_OK

    return with_engine(args, work)


def _read_message(text: str) -> str:
    if text != "-":
        return text
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"the message on stdin is not UTF-8 text: {e}") from None


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``publish-message`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "publish-message",
        parents=[common],
        help="publish a message to a topic: every subscribed function gets it (SNS event)",
        description="Publish MESSAGE to TOPIC, as SNS's Publish: each function with an enabled "
        '[[triggers]] type = "sns" on TOPIC is invoked asynchronously with the SNS event. '
        "Prints the MessageId. The events wait in the state dir's queue for a running "
        "`workbench serve` or TUI.",
    )
    p.add_argument("topic", metavar="TOPIC", help="a topic named by some function's sns trigger")
    p.add_argument("message", metavar="MESSAGE", help="the message text, or - to read stdin")
    p.add_argument("--subject", "-s", metavar="S", help="the Subject (up to 100 characters)")
    p.add_argument(
        "--attribute",
        "-a",
        action="append",
        metavar="NAME=VALUE",
        help="a String message attribute (repeatable)",
    )
    p.add_argument(
        "--trace-header",
        metavar="H",
        default=os.environ.get("_X_AMZN_TRACE_ID"),
        help="the X-Amzn-Trace-Id the subscribers' invocations continue (default: "
        "$_X_AMZN_TRACE_ID, as a handler's SDK forwards it): recursive loop detection counts "
        "the chain it carries",
    )
    p.set_defaults(func=cmd_publish_message)
