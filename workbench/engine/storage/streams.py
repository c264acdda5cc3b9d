"""Local streams with Kinesis Data Streams' semantics, durable in the workbench's SQLite database.

A stream has a fixed number of shards, each owning an equal slice of the 128-bit hash key
space; a record goes to the shard whose slice holds the MD5 of its partition key (or its
explicit hash key), as in Kinesis. Within a shard records keep the order they were put in, and
each has a sequence number that grows with it: here a decimal string made from the record's row
id (56 digits, as long as Kinesis's, so they sort as numbers and as strings alike).

Records are kept for the stream's retention period (24 hours by default, as in Kinesis) and
deleted by a later put (at most once a minute per stream, by an index on arrival). A
``StreamStore`` has its own connection and a lock, so the engine's pollers, the API and the CLI
(another process) can all use one database at once.

Stream mappings keep a checkpoint per shard (and lane, see ``sources/stream_pollers.py``) here:
the id of the last record they are done with.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .database import Database
from .locked_store import LockedStore

HASH_SPACE = 2**128
SEQUENCE_BASE = 49 * 10**54  # 56-digit sequence numbers, like Kinesis's ("4959...")
MAX_SHARDS = 64  # a local limit (Kinesis's default shard quota per account is 200 or 500)
MAX_RECORD_BYTES = 1024 * 1024  # data + partition key (Kinesis's default MaxRecordSizeInKiB)
MAX_PARTITION_KEY = 256
NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
TRIM_EVERY_S = 60.0  # expired records are deleted by a put at most this often per stream


class StreamError(Exception):
    """A user's mistake, with the Kinesis error code the API answers it with."""

    code = "InvalidArgumentException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StreamNotFound(StreamError):
    code = "ResourceNotFoundException"


class StreamExists(StreamError):
    code = "ResourceInUseException"


@dataclass(frozen=True, slots=True)
class StreamInfo:
    name: str
    created_at: float
    shard_count: int
    retention_hours: int
    records: int = 0

    def shard_range(self, shard: int) -> tuple[int, int]:
        """The shard's hash key slice (first, last), inclusive, as DescribeStream lists it."""
        size = HASH_SPACE // self.shard_count
        start = shard * size
        end = HASH_SPACE - 1 if shard == self.shard_count - 1 else start + size - 1
        return start, end


@dataclass(frozen=True, slots=True)
class StreamRecord:
    id: int
    stream: str
    shard: int
    partition_key: str
    data: bytes
    arrived_at: float

    @property
    def sequence_number(self) -> str:
        return sequence_number(self.id)

    @property
    def shard_id(self) -> str:
        return shard_id(self.shard)


def sequence_number(record_id: int) -> str:
    return str(SEQUENCE_BASE + record_id)


def record_id(sequence: str) -> int:
    """The row id a sequence number stands for; a malformed one is a ``StreamError``."""
    if not isinstance(sequence, str) or not sequence.isdigit():
        raise StreamError(f"StartingSequenceNumber {sequence!r} is not a sequence number")
    return max(int(sequence) - SEQUENCE_BASE, 0)


def shard_id(shard: int) -> str:
    return f"shardId-{shard:012d}"


def shard_index(shard: str, shard_count: int) -> int:
    """``shardId-000000000001`` → 1; an unknown shard is ``StreamNotFound`` (Kinesis's
    ResourceNotFoundException)."""
    m = re.fullmatch(r"shardId-(\d{12})", shard or "")
    if m is None or int(m.group(1)) >= shard_count:
        known = ", ".join(shard_id(i) for i in range(shard_count))
        raise StreamNotFound(f"Shard {shard} does not exist (the stream's shards: {known})")
    return int(m.group(1))


def key_hash(partition_key: str) -> int:
    """The 128-bit hash key Kinesis maps a partition key to: MD5 as an unsigned integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise StreamError(
            f"stream name {name!r} is not valid: 1 to 128 characters of letters, digits, "
            "'_', '.' and '-'"
        )
    return name


_INFO = "name, created_at, shard_count, retention_hours"
_RECORD = "id, stream, shard, partition_key, data, arrived_at"


class StreamStore(LockedStore):
    """The local streams of one state dir. ``close()`` when done; ``add_listener`` hears of
    each put through this store (other processes' puts are seen by polling)."""

    def __init__(self, db: Path | Database) -> None:
        super().__init__(db)
        self._trimmed: dict[str, float] = {}  # stream → when a put last deleted expired records

    def _read(self, sql: str, args: Sequence[Any] = ()) -> builtins.list[Any]:
        with self._lock:
            return list(self._conn.execute(sql, tuple(args)).fetchall())

    # ----------------------------------------------------------------- streams

    def create(self, name: str, shard_count: int = 1) -> StreamInfo:
        check_name(name)
        if not isinstance(shard_count, int) or not 1 <= shard_count <= MAX_SHARDS:
            raise StreamError(f"ShardCount must be an integer from 1 to {MAX_SHARDS}")

        def work() -> None:
            if self._conn.execute("SELECT 1 FROM streams WHERE name = ?", (name,)).fetchone():
                raise StreamExists(f"Stream {name} already exists.")
            self._conn.execute(
                "INSERT INTO streams (name, created_at, shard_count) VALUES (?, ?, ?)",
                (name, time.time(), shard_count),
            )

        self._write(work)
        return self.get(name)

    def ensure(self, name: str, shard_count: int = 1) -> StreamInfo:
        """The stream, created with ``shard_count`` shards if missing (what a trigger does)."""
        try:
            return self.create(name, shard_count)
        except StreamExists:
            return self.get(name)

    def get(self, name: str) -> StreamInfo:
        rows = self._read(f"SELECT {_INFO} FROM streams WHERE name = ?", (name,))
        if not rows:
            known = ", ".join(i.name for i in self.list()) or "none yet"
            raise StreamNotFound(
                f"Stream {name} not found (streams: {known}; create one with "
                f"`workbench stream create {name}`, or name it in a kinesis trigger)"
            )
        count = self._read("SELECT COUNT(*) FROM stream_records WHERE stream = ?", (name,))[0][0]
        r = rows[0]
        return StreamInfo(r[0], r[1], r[2], r[3], records=count)

    def list(self) -> builtins.list[StreamInfo]:
        rows = self._read(f"SELECT {_INFO} FROM streams ORDER BY name")
        counts = dict(self._read("SELECT stream, COUNT(*) FROM stream_records GROUP BY stream"))
        return [StreamInfo(r[0], r[1], r[2], r[3], records=counts.get(r[0], 0)) for r in rows]

    def delete(self, name: str) -> None:
        def work() -> None:
            if not self._conn.execute("SELECT 1 FROM streams WHERE name = ?", (name,)).fetchone():
                raise StreamNotFound(f"Stream {name} not found.")
            for table, column in (
                ("streams", "name"),
                ("stream_records", "stream"),
                ("stream_checkpoints", "stream"),
            ):
                self._conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))

        self._write(work)

    # ----------------------------------------------------------------- records

    def put(
        self,
        name: str,
        entries: Sequence[tuple[bytes, str, str | None]],
    ) -> builtins.list[StreamRecord]:
        """Append ``(data, partition key, explicit hash key)`` entries in order, in one
        transaction; each is checked first, so a bad one puts none."""
        info = self.get(name)
        checked: builtins.list[tuple[bytes, str, int, int]] = []
        for data, key, explicit in entries:
            if not isinstance(key, str) or not 1 <= len(key) <= MAX_PARTITION_KEY:
                raise StreamError(
                    f"PartitionKey must be 1 to {MAX_PARTITION_KEY} characters, got {key!r}"
                )
            if len(data) + len(key.encode()) > MAX_RECORD_BYTES:
                raise StreamError(
                    f"a record's data and partition key are {len(data) + len(key.encode())} "
                    f"bytes; at most {MAX_RECORD_BYTES} are allowed"
                )
            hashed = key_hash(key)
            if explicit is not None:
                if not explicit.isdigit() or int(explicit) >= HASH_SPACE:
                    raise StreamError(
                        f"ExplicitHashKey {explicit!r} must be a decimal integer below 2^128"
                    )
                hashed = int(explicit)
            shard = min(hashed // (HASH_SPACE // info.shard_count), info.shard_count - 1)
            checked.append((data, key, shard, key_hash(key) % 2**31))
        now = time.time()

        trim = now - self._trimmed.get(name, 0.0) >= TRIM_EVERY_S

        def work() -> builtins.list[StreamRecord]:
            if trim:
                cutoff = now - info.retention_hours * 3600
                self._conn.execute(
                    "DELETE FROM stream_records WHERE stream = ? AND arrived_at < ?",
                    (name, cutoff),
                )
            out = []
            for data, key, shard, lane_hash in checked:
                cur = self._conn.execute(
                    "INSERT INTO stream_records (stream, shard, partition_key, key_hash, data, "
                    "arrived_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (name, shard, key, lane_hash, data, now),
                )
                assert cur.lastrowid is not None
                out.append(StreamRecord(cur.lastrowid, name, shard, key, data, now))
            return out

        records: list[StreamRecord] = self._write(work)
        if trim:
            self._trimmed[name] = now
        self._notify(name)
        return records

    def read(
        self,
        name: str,
        shard: int,
        after_id: int,
        limit: int,
        *,
        lanes: int = 1,
        lane: int = 0,
    ) -> builtins.list[StreamRecord]:
        """Up to ``limit`` records of one shard after ``after_id``, oldest first; with
        ``lanes`` > 1 only those whose partition key falls in ``lane``."""
        rows = self._read(
            f"SELECT {_RECORD} FROM stream_records WHERE stream = ? AND shard = ? AND id > ? "
            "AND key_hash % ? = ? ORDER BY id LIMIT ?",
            (name, shard, after_id, lanes, lane, limit),
        )
        return [StreamRecord(*r) for r in rows]

    def last_id(self, name: str, shard: int, before: float | None = None) -> int:
        """The id of the shard's newest record (arrived before ``before``), 0 if none: where
        LATEST and AT_TIMESTAMP start."""
        sql = "SELECT MAX(id) FROM stream_records WHERE stream = ? AND shard = ?"
        args: builtins.list[Any] = [name, shard]
        if before is not None:
            sql += " AND arrived_at < ?"
            args.append(before)
        row = self._read(sql, args)[0]
        return int(row[0] or 0)

    def trim_horizon(self, name: str, shard: int) -> int:
        """Just before the oldest record kept (TRIM_HORIZON)."""
        row = self._read(
            "SELECT MIN(id) FROM stream_records WHERE stream = ? AND shard = ?", (name, shard)
        )[0]
        return int(row[0]) - 1 if row[0] is not None else self.last_id(name, shard)

    # ----------------------------------------------------------------- checkpoints

    def checkpoint(self, consumer: str, name: str, shard: int, lane: int) -> int | None:
        rows = self._read(
            "SELECT done_id FROM stream_checkpoints WHERE consumer = ? AND stream = ? AND "
            "shard = ? AND lane = ?",
            (consumer, name, shard, lane),
        )
        return int(rows[0][0]) if rows else None

    def lowest_checkpoint(self, consumer: str, name: str, shard: int) -> int | None:
        """The checkpoint of the shard's slowest lane: where a new lane starts when a mapping's
        parallelization factor changed (its keys were some other lane's, done up to at least
        there; a few may run again, at least once as in Lambda)."""
        row = self._read(
            "SELECT MIN(done_id) FROM stream_checkpoints WHERE consumer = ? AND stream = ? AND "
            "shard = ?",
            (consumer, name, shard),
        )[0]
        return None if row[0] is None else int(row[0])

    def set_checkpoint(self, consumer: str, name: str, shard: int, lane: int, done: int) -> None:
        def work() -> None:
            self._conn.execute(
                "INSERT INTO stream_checkpoints (consumer, stream, shard, lane, done_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer, stream, shard, lane) "
                "DO UPDATE SET done_id = excluded.done_id",
                (consumer, name, shard, lane, done),
            )

        self._write(work)
