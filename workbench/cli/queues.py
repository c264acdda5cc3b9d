"""``workbench queue …``: local (SQS-like) queues from the command line.

The verbs work straight on the state dir's SQLite database (WAL), so they run with or without
a ``workbench serve`` on the same state dir; a running serve's queue triggers pick a sent
message up within a poll interval.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import EXIT_OK, BadInput, print_table, roots_of, state_dir_of, whole_number

if TYPE_CHECKING:
    from ..engine.storage import QueueStore


def _open(args: argparse.Namespace) -> QueueStore:
    from ..engine.storage import QueueStore

    roots = roots_of(args)
    return QueueStore(state_dir_of(args, roots) / "workbench.db")


def _attributes(items: list[str] | None) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise BadInput(
                f"--attribute {item!r}: expected NAME=VALUE, e.g. --attribute kind=order"
            )
        attributes[name] = value
    return attributes


def _body(args: argparse.Namespace) -> str:
    if args.file is not None and args.message is not None:
        raise BadInput("give the message as MESSAGE or with --file, not both")
    if args.message is not None:
        return args.message
    if args.file is None:
        raise BadInput("missing MESSAGE: give it inline, or with --file FILE (- for stdin)")
    if args.file == "-":
        return sys.stdin.read()
    try:
        return Path(args.file).read_text()
    except OSError as e:
        raise BadInput(f"cannot read message file {args.file}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"message file {args.file} is not UTF-8 text") from None


def cmd_queue(args: argparse.Namespace) -> int:
    from ..engine.storage import QueueError

    store = _open(args)
    try:
        return _run(args, store)
    except QueueError as e:
        raise BadInput(e.message) from None
    finally:
        store.close()


def _run(args: argparse.Namespace, store: QueueStore) -> int:
    action = args.queue_command
    if action == "list":
        infos = store.list()
        if not infos:
            print("no queues yet (workbench queue create NAME)", file=sys.stderr)
            return EXIT_OK
        rows = [("NAME", "VISIBLE", "IN FLIGHT", "DELAYED", "VISIBILITY", "DEAD-LETTER QUEUE")]
        for q in infos:
            dlq = "-"
            if q.dead_letter_queue:
                dlq = (
                    f"{q.dead_letter_queue} after {q.max_receive_count} receives "
                    f"({q.dead_letter_depth} messages)"
                )
            row = (q.name, str(q.depth), str(q.in_flight), str(q.delayed))
            rows.append((*row, f"{q.visibility_timeout} s", dlq))
        print_table(rows)
    elif action == "create":
        extra = {"ContentBasedDeduplication": "true"} if args.content_based_deduplication else {}
        info = store.create(
            args.name,
            args.visibility_timeout,
            args.dead_letter_queue,
            args.max_receive_count,
            attributes=extra,
        )
        kind = "FIFO queue" if info.fifo else "queue"
        print(f"{kind} {info.name} ready (visibility timeout {info.visibility_timeout} s)")
    elif action == "send":
        sent = store.put(
            args.name,
            _body(args),
            _attributes(args.attribute),
            args.delay,
            group_id=args.group_id,
            dedup_id=args.deduplication_id,
        )
        print(sent.message_id)
    elif action == "receive":
        messages = store.receive(args.name, args.max, args.visibility_timeout)
        out = []
        for m in messages:
            out.append(
                {
                    "MessageId": m.message_id,
                    "ReceiptHandle": m.receipt_handle,
                    "Body": m.body,
                    "MD5OfBody": m.md5_of_body,
                    "Attributes": {"ApproximateReceiveCount": str(m.receive_count)},
                    "MessageAttributes": m.attributes,
                }
            )
        if args.delete:
            store.delete_messages(args.name, [m.receipt_handle for m in messages])
        print(json.dumps(out, indent=2))
        if not messages:
            print(f"no message visible on {args.name}", file=sys.stderr)
    elif action == "purge":
        print(f"purged {store.purge(args.name)} messages from {args.name}", file=sys.stderr)
    elif action == "delete":
        count = store.delete(args.name)
        print(f"deleted queue {args.name} ({count} messages)", file=sys.stderr)
    return EXIT_OK


def _seconds(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``queue`` and its actions on the ``workbench`` parser."""
    p = sub.add_parser(
        "queue",
        parents=[common],
        help="local SQS-like queues: list, create, send, receive, purge, delete",
        description="Local queues live in the state dir's database; they work with or without "
        "a running `workbench serve`, whose queue triggers process what is sent.",
    )
    p.set_defaults(func=cmd_queue)
    verbs = p.add_subparsers(dest="queue_command", metavar="ACTION", required=True)
    verbs.add_parser("list", parents=[common], help="queues with visible, in-flight, DLQ counts")

    a = verbs.add_parser("create", parents=[common], help="create a queue")
    a.add_argument("name", metavar="NAME")
    a.add_argument(
        "--visibility-timeout",
        type=_seconds,
        default=30,
        metavar="S",
        help="seconds a received message stays invisible (default 30)",
    )
    a.add_argument("--dead-letter-queue", metavar="QUEUE", help="where poison messages go")
    a.add_argument(
        "--max-receive-count",
        type=whole_number,
        metavar="N",
        help="receives before a message moves to the dead-letter queue",
    )
    a.add_argument(
        "--content-based-deduplication",
        action="store_true",
        help="a FIFO queue (a NAME ending in .fifo) deduplicates by the body's SHA-256",
    )

    a = verbs.add_parser("send", parents=[common], help="send a message; prints its MessageId")
    a.add_argument("name", metavar="NAME")
    a.add_argument("message", nargs="?", metavar="MESSAGE", help="the body (text, e.g. JSON)")
    a.add_argument("--file", "-f", metavar="FILE", help="read the body from FILE (- for stdin)")
    a.add_argument(
        "--attribute",
        "-a",
        action="append",
        metavar="NAME=VALUE",
        help="a String message attribute (repeatable)",
    )
    a.add_argument(
        "--delay",
        type=_seconds,
        default=None,
        metavar="S",
        help="DelaySeconds, 0 to 900 (default: the queue's; not on a FIFO queue)",
    )
    a.add_argument(
        "--group-id",
        metavar="ID",
        help="MessageGroupId: needed on a FIFO queue, whose groups are delivered in order",
    )
    a.add_argument(
        "--deduplication-id",
        metavar="ID",
        help="MessageDeduplicationId on a FIFO queue: a second send of it within 5 minutes is "
        "not enqueued again",
    )

    a = verbs.add_parser("receive", parents=[common], help="receive messages; prints them as JSON")
    a.add_argument("name", metavar="NAME")
    a.add_argument(
        "--max", "-n", type=whole_number, default=1, metavar="N", help="1 to 10 (default 1)"
    )
    a.add_argument(
        "--visibility-timeout", type=_seconds, metavar="S", help="instead of the queue's"
    )
    a.add_argument("--delete", action="store_true", help="delete what was received (consume it)")

    a = verbs.add_parser("purge", parents=[common], help="delete every message of a queue")
    a.add_argument("name", metavar="NAME")
    a = verbs.add_parser("delete", parents=[common], help="delete a queue and its messages")
    a.add_argument("name", metavar="NAME")
