"""``workbench stream …``: local (Kinesis-like) streams from the command line.

The verbs work straight on the state dir's SQLite database (WAL), so they run with or without a
``workbench serve`` on the same state dir; a running serve's kinesis triggers pick a put record
up within a poll interval.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import EXIT_OK, BadInput, print_table, roots_of, state_dir_of, whole_number

if TYPE_CHECKING:
    from ..engine.storage import StreamStore


def _open(args: argparse.Namespace) -> StreamStore:
    from ..engine.storage import StreamStore

    roots = roots_of(args)
    return StreamStore(state_dir_of(args, roots) / "workbench.db")


def _data(args: argparse.Namespace) -> list[bytes]:
    """The records to put: DATA, or --file's contents (one record, or one per line)."""
    if args.file is not None and args.data is not None:
        raise BadInput("give the record as DATA or with --file, not both")
    if args.data is not None:
        return [args.data.encode()]
    if args.file is None:
        raise BadInput("missing DATA: give it inline, or with --file FILE (- for stdin)")
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read record file {args.file}: {e.strerror}") from None
    if args.lines:
        return [line for line in raw.splitlines() if line]
    return [raw]


def cmd_stream(args: argparse.Namespace) -> int:
    from ..engine.storage import StreamError

    store = _open(args)
    try:
        return _run(args, store)
    except StreamError as e:
        raise BadInput(e.message) from None
    finally:
        store.close()


def _run(args: argparse.Namespace, store: StreamStore) -> int:
    action = args.stream_command
    if action == "list":
        infos = store.list()
        if not infos:
            print("no streams yet (workbench stream create NAME)", file=sys.stderr)
            return EXIT_OK
        rows = [("NAME", "SHARDS", "RECORDS", "RETENTION")]
        for s in infos:
            rows.append((s.name, str(s.shard_count), str(s.records), f"{s.retention_hours} h"))
        print_table(rows)
    elif action == "create":
        info = store.create(args.name, args.shards)
        print(f"stream {info.name} ready ({info.shard_count} shard(s))")
    elif action == "put":
        datas = _data(args)
        records = store.put(args.name, [(d, args.partition_key, None) for d in datas])
        for r in records:
            print(f"{r.shard_id} {r.sequence_number}")
    elif action == "get":
        from ..engine.storage import shard_index

        info = store.get(args.name)
        shard = shard_index(args.shard, info.shard_count)
        after = store.trim_horizon(args.name, shard)
        out = [
            {
                "SequenceNumber": r.sequence_number,
                "ApproximateArrivalTimestamp": r.arrived_at,
                "Data": base64.b64encode(r.data).decode(),
                "PartitionKey": r.partition_key,
            }
            for r in store.read(args.name, shard, after, args.max)
        ]
        print(json.dumps(out, indent=2))
    elif action == "delete":
        store.delete(args.name)
        print(f"deleted stream {args.name}", file=sys.stderr)
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``stream`` and its actions on the ``workbench`` parser."""
    p = sub.add_parser(
        "stream",
        parents=[common],
        help="local Kinesis-like streams: list, create, put, get, delete",
        description="Local streams live in the state dir's database; they work with or without "
        "a running `workbench serve`, whose kinesis triggers process what is put.",
    )
    p.set_defaults(func=cmd_stream)
    verbs = p.add_subparsers(dest="stream_command", metavar="ACTION", required=True)
    verbs.add_parser("list", parents=[common], help="streams with their shards and records")

    a = verbs.add_parser("create", parents=[common], help="create a stream")
    a.add_argument("name", metavar="NAME")
    a.add_argument(
        "--shards",
        type=whole_number,
        default=1,
        metavar="N",
        help="shard count, 1 to 64 (default 1)",
    )

    a = verbs.add_parser(
        "put", parents=[common], help="put a record; prints its shard and sequence number"
    )
    a.add_argument("name", metavar="NAME")
    a.add_argument("data", nargs="?", metavar="DATA", help="the record's data (text, e.g. JSON)")
    a.add_argument("--file", "-f", metavar="FILE", help="read the data from FILE (- for stdin)")
    a.add_argument(
        "--lines", action="store_true", help="with --file: one record per non-empty line"
    )
    a.add_argument(
        "--partition-key",
        "-k",
        default="workbench",
        metavar="KEY",
        help="decides the shard; records of one key stay in order (default: workbench)",
    )

    a = verbs.add_parser(
        "get", parents=[common], help="the records of a shard from the oldest, as JSON"
    )
    a.add_argument("name", metavar="NAME")
    a.add_argument("--shard", default="shardId-000000000000", metavar="SHARD_ID")
    a.add_argument("--max", "-n", type=whole_number, default=100, metavar="N", help="default 100")

    a = verbs.add_parser("delete", parents=[common], help="delete a stream and its records")
    a.add_argument("name", metavar="NAME")
