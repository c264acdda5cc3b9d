"""Local queues with SQS's semantics, durable in the workbench's SQLite database (WAL).

A ``QueueStore`` has its own connection and a lock, so the engine's pollers (from worker
threads), the API and the CLI (another process, while a serve runs) can all use the same
database at once. Every change that must not interleave (receive, redrive) is one
``BEGIN IMMEDIATE`` transaction, so two consumers never receive the same message at once.

SQS's rules as followed here:
- a received message is invisible for the visibility timeout, then visible again with its
  ``ApproximateReceiveCount`` one higher; each receive gives a new receipt handle;
- redrive: a message whose receive count already reached ``max_receive_count`` is moved to the
  dead-letter queue instead of being received again;
- ``delete_message`` with a handle that is no longer the message's latest (it was received
  again since), or of a message already deleted, succeeds without deleting (SQS: "the request
  will still succeed, but the message might not be deleted"); a handle that was never issued is
  ``ReceiptHandleIsInvalid``;
- a message body is at most 1 MiB (SQS's ``MaximumMessageSize`` limit and default since
  August 2025, as botocore's model says; it was 256 KiB before), or the queue's own
  ``MaximumMessageSize``; a send without a delay waits the queue's ``DelaySeconds``.

FIFO queues (``fifo``, a name ending in ``.fifo``): every message has a ``MessageGroupId``; a
group is delivered in the order sent and one batch at a time: while any message of a group is
in flight, no other message of that group is received, and a receive first takes as many
messages of one group as it can. A message whose deduplication id (given, or the SHA-256 of its
body with ``ContentBasedDeduplication``) was sent in the last five minutes is accepted and not
enqueued again (its first MessageId is returned). A message may not have its own delay.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .database import Database
from .locked_store import LockedStore
from .queue_rules import (  # noqa: F401 - re-exported: the queues' vocabulary
    DEDUP_WINDOW_S,
    FIFO_ID_RE,
    MAX_DELAY_SECONDS,
    MAX_MESSAGE_BYTES,
    MAX_RECEIVE_BATCH,
    MAX_TAGS,
    MAX_VISIBILITY_TIMEOUT,
    InvalidAttributeName,
    InvalidAttributeValue,
    Message,
    MessageNotInflight,
    MissingParameter,
    QueueError,
    QueueExists,
    QueueInfo,
    QueueNotFound,
    ReceiptHandleInvalid,
    Sent,
    check_attributes,
    check_fifo_name,
    check_int,
    check_name,
    check_tags,
    handle_message_id,
    md5_of_attributes,
    new_handle,
    normalize_attributes,
    not_for_this_queue_type,
)

_INFO = (
    "name, created_at, visibility_timeout, dead_letter_queue, max_receive_count, fifo, "
    "attributes, tags, modified_at"
)
_MESSAGE = (
    "message_id, receipt_handle, body, md5_of_body, attributes, sent_at, receive_count, "
    "first_received_at, group_id, dedup_id, trace_header"
)


class QueueStore(LockedStore):
    """The local queues of one state dir. ``close()`` when done; ``add_listener`` hears of each
    send through this store (other processes' sends are seen by polling)."""

    def __init__(self, db: Path | Database) -> None:
        super().__init__(db)
        self.path = self._db.home

    def _row(self, name: str) -> tuple | None:
        return self._conn.execute(f"SELECT {_INFO} FROM queues WHERE name = ?", (name,)).fetchone()

    def _require(self, name: str) -> tuple:
        row = self._row(name)
        if row is None:
            names = [r[0] for r in self._conn.execute("SELECT name FROM queues ORDER BY name")]
            known = ", ".join(names) if names else "none yet"
            raise QueueNotFound(
                f"queue not found: {name!r} (queues: {known}; create one with "
                f"`workbench queue create {name}`, or name it in a queue trigger)"
            )
        return row

    # ----------------------------------------------------------------- queues

    def create(
        self,
        name: str,
        visibility_timeout: int = 30,
        dead_letter_queue: str | None = None,
        max_receive_count: int | None = None,
        *,
        fifo: bool | None = None,
        attributes: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> QueueInfo:
        """Create a queue; the same call again is a no-op, different settings an error.

        ``fifo``: a FIFO queue (None: as its name says, ``.fifo`` or not); ``attributes``:
        SQS's others (``check_attributes``), compared with the existing queue's when it exists.
        A dead-letter queue named here is created too (with default settings) if missing.
        """
        fifo = name.endswith(".fifo") if fifo is None else fifo
        settings = self._check_settings(
            name, visibility_timeout, dead_letter_queue, max_receive_count
        )
        check_fifo_name(name, fifo)
        if dead_letter_queue is not None and dead_letter_queue.endswith(".fifo") != fifo:
            kind = "FIFO" if fifo else "standard"
            raise QueueError(f"The dead-letter queue of a {kind} queue must also be a {kind} queue")
        extra = check_attributes(attributes or {}, fifo)
        tagged = check_tags(tags or {})

        def work() -> None:
            row = self._row(name)
            if row is not None:
                existing = self._infos([row])[0]
                if tuple(row[2:5]) != settings or existing.fifo != fifo:
                    raise QueueExists(
                        f"queue {name!r} already exists with different settings: "
                        f"{_describe(tuple(row[2:5]), existing.fifo)} (asked for "
                        f"{_describe(settings, fifo)}); delete it first or use the same settings"
                    )
                for key, value in extra.items():
                    if existing.attribute(key) != value:
                        raise QueueExists(
                            "A queue already exists with the same name and a different value "
                            f"for attribute {key}"
                        )
                return
            self._insert(name, *settings, fifo=fifo, attributes=extra, tags=tagged)

        self._write(work)
        return self.get(name)

    def ensure(
        self,
        name: str,
        visibility_timeout: int = 30,
        dead_letter_queue: str | None = None,
        max_receive_count: int | None = None,
    ) -> QueueInfo:
        """The queue, created with these settings if it does not exist (an existing queue keeps
        its own): what triggers and destinations do for the queues they name. A name ending in
        ``.fifo`` is a FIFO queue's, as in SQS."""
        settings = self._check_settings(
            name, visibility_timeout, dead_letter_queue, max_receive_count
        )

        def work() -> None:
            if self._row(name) is None:
                self._insert(name, *settings, fifo=name.endswith(".fifo"))

        self._write(work)
        return self.get(name)

    def _check_settings(
        self, name: str, vt: int, dlq: str | None, max_receive: int | None
    ) -> tuple[int, str | None, int | None]:
        check_name(name)
        check_int(vt, 0, MAX_VISIBILITY_TIMEOUT, "visibility timeout (seconds)")
        if (dlq is None) != (max_receive is None):
            raise QueueError(
                "a redrive policy needs both a dead-letter queue and a max receive count"
            )
        if dlq is not None:
            check_name(dlq, "dead-letter queue name")
            if dlq == name:
                raise QueueError(f"queue {name!r} cannot be its own dead-letter queue")
            check_int(max_receive, 1, 1000, "max receive count")
        return (vt, dlq, max_receive)

    def _insert(
        self,
        name: str,
        vt: int,
        dlq: str | None,
        max_receive: int | None,
        *,
        fifo: bool = False,
        attributes: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        now = time.time()
        self._conn.execute(
            "INSERT INTO queues (name, created_at, visibility_timeout, dead_letter_queue, "
            "max_receive_count, fifo, attributes, tags, modified_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                now,
                vt,
                dlq,
                max_receive,
                int(fifo),
                json.dumps(dict(attributes or {})),
                json.dumps(dict(tags or {})),
                now,
            ),
        )
        if dlq is not None and self._row(dlq) is None:
            self._insert(dlq, 30, None, None, fifo=dlq.endswith(".fifo"))

    def set_attributes(
        self,
        name: str,
        attributes: Mapping[str, object],
        *,
        visibility_timeout: int | None = None,
        redrive: tuple[str, int] | None | bool = False,
    ) -> QueueInfo:
        """SetQueueAttributes: ``attributes`` (``check_attributes``) over those set; the
        visibility timeout if given; ``redrive`` (dead-letter queue, max receive count), None to
        remove it, False to leave it."""
        if visibility_timeout is not None:
            check_int(visibility_timeout, 0, MAX_VISIBILITY_TIMEOUT, "visibility timeout")

        def work() -> None:
            info = self._settings(name)
            extra = {**info.attributes, **check_attributes(attributes, info.fifo)}
            vt = info.visibility_timeout if visibility_timeout is None else visibility_timeout
            dlq, count = info.dead_letter_queue, info.max_receive_count
            if redrive is None:
                dlq, count = None, None
            elif redrive is not False:
                assert isinstance(redrive, tuple)
                dlq, count = redrive
                self._check_settings(name, vt, dlq, count)
                if dlq.endswith(".fifo") != info.fifo:
                    kind = "FIFO" if info.fifo else "standard"
                    raise QueueError(
                        f"The dead-letter queue of a {kind} queue must also be a {kind} queue"
                    )
                if self._row(dlq) is None:
                    self._insert(dlq, 30, None, None, fifo=info.fifo)
            self._conn.execute(
                "UPDATE queues SET visibility_timeout = ?, dead_letter_queue = ?, "
                "max_receive_count = ?, attributes = ?, modified_at = ? WHERE name = ?",
                (vt, dlq, count, json.dumps(extra), time.time(), name),
            )

        self._write(work)
        return self.get(name)

    def tag(self, name: str, tags: Mapping[str, object]) -> None:
        """TagQueue: add or replace these tags (at most 50 on a queue)."""
        new = check_tags(tags)

        def work() -> None:
            merged = {**self._settings(name).tags, **new}
            if len(merged) > MAX_TAGS:
                raise QueueError(
                    f"Too many tags: a queue has at most {MAX_TAGS} (it would have {len(merged)})"
                )
            self._set_tags(name, merged)

        self._write(work)

    def untag(self, name: str, keys: builtins.list[str]) -> None:
        """UntagQueue: remove these tag keys (absent ones are no error)."""

        def work() -> None:
            tags = self._settings(name).tags
            self._set_tags(name, {k: v for k, v in tags.items() if k not in set(keys)})

        self._write(work)

    def _set_tags(self, name: str, tags: Mapping[str, str]) -> None:
        self._conn.execute("UPDATE queues SET tags = ? WHERE name = ?", (json.dumps(tags), name))

    def delete(self, name: str) -> int:
        """Delete the queue and its messages; how many messages went with it."""

        def work() -> int:
            self._require(name)
            count = self._conn.execute("DELETE FROM queue_messages WHERE queue = ?", (name,))
            self._conn.execute("DELETE FROM queues WHERE name = ?", (name,))
            return count.rowcount

        return self._write(work)

    def get(self, name: str) -> QueueInfo:
        with self._lock:
            row = self._require(name)
            return self._infos([row])[0]

    def exists(self, name: str) -> bool:
        with self._lock:
            return self._row(name) is not None

    def list(self) -> list[QueueInfo]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_INFO} FROM queues ORDER BY name").fetchall()
            return self._infos(rows)

    def settings(self, name: str) -> QueueInfo:
        """``get`` without the message counts: cheap, whatever the queue holds."""
        with self._lock:
            return self._settings(name)

    def _settings(self, name: str) -> QueueInfo:
        """The queue's settings without its message counts (which cost a scan of the
        messages): what a send or a receive needs. ``QueueNotFound`` if there is none."""
        return self._infos([self._require(name)], counted=False)[0]

    def _infos(
        self, rows: builtins.list[tuple], *, counted: bool = True
    ) -> builtins.list[QueueInfo]:
        now = time.time()
        counts: dict[str, tuple[int, int, int]] = {}
        if counted:
            counts = {
                queue: (visible or 0, in_flight or 0, delayed or 0)
                for queue, visible, in_flight, delayed in self._conn.execute(
                    "SELECT queue, SUM(visible_at <= ?), "
                    "SUM(visible_at > ? AND receive_count > 0), "
                    "SUM(visible_at > ? AND receive_count = 0) FROM queue_messages GROUP BY queue",
                    (now, now, now),
                )
            }
        infos = []
        for name, created, vt, dlq, max_receive, fifo, attrs, tags, modified in rows:
            depth, in_flight, delayed = counts.get(name, (0, 0, 0))
            dlq_depth = counts.get(dlq, (0, 0, 0))[0] if dlq is not None else None
            infos.append(
                QueueInfo(
                    name,
                    created,
                    vt,
                    dlq,
                    max_receive,
                    depth,
                    in_flight,
                    delayed,
                    dlq_depth,
                    bool(fifo),
                    json.loads(attrs),
                    json.loads(tags),
                    modified,
                )
            )
        return infos

    # ----------------------------------------------------------------- messages

    def send(
        self,
        name: str,
        body: str,
        attributes: Mapping[str, Any] | None = None,
        delay_seconds: int | None = None,
        *,
        group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> str:
        """Put a message on the queue; its MessageId."""
        return self.put(
            name, body, attributes, delay_seconds, group_id=group_id, dedup_id=dedup_id
        ).message_id

    def send_message(
        self,
        name: str,
        body: str,
        attributes: Mapping[str, Any] | None = None,
        delay_seconds: int | None = None,
    ) -> tuple[str, str, str | None]:
        """``send``, with the MD5s SQS returns: (MessageId, MD5OfMessageBody, MD5OfAttributes)."""
        sent = self.put(name, body, attributes, delay_seconds)
        return sent.message_id, sent.md5_of_body, sent.md5_of_attributes

    def put(
        self,
        name: str,
        body: str,
        attributes: Mapping[str, Any] | None = None,
        delay_seconds: int | None = None,
        *,
        group_id: str | None = None,
        dedup_id: str | None = None,
        trace_header: str | None = None,
    ) -> Sent:
        """Put a message on the queue, as SendMessage does: ``delay_seconds`` None waits the
        queue's DelaySeconds; a FIFO queue needs ``group_id`` and deduplicates (see the module's
        docstring)."""
        if not isinstance(body, str):
            raise QueueError("a message body must be a string (text, e.g. JSON)")
        if not body:
            raise QueueError("a message body must not be empty (SQS needs at least 1 character)")
        attrs = normalize_attributes(attributes)
        size = len(body.encode()) + sum(
            len(k.encode()) + sum(len(v.encode()) for v in a.values()) for k, a in attrs.items()
        )
        if delay_seconds is not None:
            check_int(delay_seconds, 0, MAX_DELAY_SECONDS, "delay (seconds)")
        ids = ((group_id, "MessageGroupId"), (dedup_id, "MessageDeduplicationId"))
        for value, parameter in ids:
            if value is not None and not (isinstance(value, str) and FIFO_ID_RE.fullmatch(value)):
                raise QueueError(
                    f"Value {value} for parameter {parameter} is invalid. Reason: {parameter} can "
                    "only include alphanumeric and punctuation characters. 1 to 128 in length."
                )
        message_id = str(uuid.uuid4())
        md5 = hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's checksum
        md5_attributes = md5_of_attributes(attrs)
        now = time.time()

        def work() -> Sent:
            info = self._settings(name)
            limit = info.number("MaximumMessageSize")
            if size > limit:
                raise QueueError(
                    f"message of {size} bytes (body and attributes) is too long: a message on "
                    f"{name} must be at most {limit} bytes (its MaximumMessageSize)"
                )
            delay = delay_seconds
            key = stored_dedup = None
            if info.fifo:
                if delay is not None:
                    raise not_for_this_queue_type(delay, "DelaySeconds")
                if group_id is None:
                    raise MissingParameter("The request must contain the parameter MessageGroupId.")
                dedup = dedup_id
                if dedup is None and info.attribute("ContentBasedDeduplication") == "true":
                    dedup = hashlib.sha256(body.encode()).hexdigest()
                if dedup is None:
                    raise QueueError(
                        "The queue should either have ContentBasedDeduplication enabled or "
                        "MessageDeduplicationId provided explicitly"
                    )
                stored_dedup = dedup
                scoped = info.attribute("DeduplicationScope") == "messageGroup"
                key = f"{group_id}\x00{dedup}" if scoped else dedup
                self._conn.execute(
                    "DELETE FROM queue_dedup WHERE queue = ? AND sent_at <= ?",
                    (name, now - DEDUP_WINDOW_S),
                )
                seen = self._conn.execute(
                    "SELECT message_id, sequence FROM queue_dedup WHERE queue = ? AND key = ?",
                    (name, key),
                ).fetchone()
                if seen is not None:
                    # a duplicate within the window: accepted, not enqueued; SQS answers with
                    # the first message's id (UNVERIFIED: which id it returns)
                    return Sent(seen[0], md5, md5_attributes, seen[1])
            else:
                if dedup_id is not None:
                    raise not_for_this_queue_type(dedup_id, "MessageDeduplicationId")
                # a standard queue takes a MessageGroupId (SQS fair queues, 2025) and keeps
                # it, without FIFO's ordering
            if delay is None:
                delay = info.number("DelaySeconds")
            cursor = self._conn.execute(
                "INSERT INTO queue_messages (queue, message_id, body, attributes, md5_of_body, "
                "sent_at, visible_at, group_id, dedup_id, trace_header) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    message_id,
                    body,
                    json.dumps(attrs),
                    md5,
                    now,
                    now + delay,
                    group_id,
                    stored_dedup,
                    trace_header,
                ),
            )
            sequence = None
            if info.fifo:
                sequence = _sequence_number(cursor.lastrowid)
                self._conn.execute(
                    "INSERT INTO queue_dedup (queue, key, message_id, sequence, sent_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, key, message_id, sequence, now),
                )
            return Sent(message_id, md5, md5_attributes, sequence)

        sent = self._write(work)
        self._notify(name)
        return sent

    def has_visible(self, name: str) -> bool:
        """Is a message ready to receive? A cheap indexed read, for pollers."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM queue_messages WHERE queue = ? AND visible_at <= ? LIMIT 1",
                (name, time.time()),
            ).fetchone()
            return row is not None

    def receive(
        self,
        name: str,
        max_messages: int = 1,
        visibility_timeout: int | None = None,
        *,
        dead_letter_queue: str | None = None,
        max_receive_count: int | None = None,
    ) -> builtins.list[Message]:
        """Up to ``max_messages`` (1..10) visible messages, now in flight for the visibility
        timeout (the queue's unless given). Redrive uses the queue's policy, or the one given
        (a queue trigger's own ``max_receive_count`` and ``dead_letter_queue``)."""
        check_int(max_messages, 1, MAX_RECEIVE_BATCH, "number of messages to receive")
        if visibility_timeout is not None:
            check_int(visibility_timeout, 0, MAX_VISIBILITY_TIMEOUT, "visibility timeout")

        def work() -> builtins.list[Message]:
            info = self._settings(name)
            dlq, max_receive = info.dead_letter_queue, info.max_receive_count
            if max_receive_count is not None:
                dlq, max_receive = dead_letter_queue, max_receive_count
            timeout = info.visibility_timeout if visibility_timeout is None else visibility_timeout
            now = time.time()
            received: builtins.list[Message] = []
            while len(received) < max_messages:
                wanted = max_messages - len(received)
                if info.fifo:
                    rows = self._fifo_candidates(name, now, wanted)
                else:
                    rows = self._conn.execute(
                        f"SELECT seq, {_MESSAGE} FROM queue_messages WHERE queue = ? AND "
                        "visible_at <= ? ORDER BY seq LIMIT ?",
                        (name, now, wanted),
                    ).fetchall()
                if not rows:
                    break
                for row in rows:
                    seq, message_id, _, body, md5, attrs, sent, count, first = row[:9]
                    group, dedup, trace = row[9:]
                    if dlq is not None and max_receive is not None and count >= max_receive:
                        self._redrive(seq, dlq, now)
                        continue
                    handle = new_handle(message_id)
                    first = first if first is not None else now
                    self._conn.execute(
                        "UPDATE queue_messages SET receipt_handle = ?, receive_count = ?, "
                        "first_received_at = ?, visible_at = ? WHERE seq = ?",
                        (handle, count + 1, first, now + timeout, seq),
                    )
                    received.append(
                        Message(
                            message_id,
                            handle,
                            body,
                            md5,
                            json.loads(attrs),
                            sent,
                            count + 1,
                            first,
                            name,
                            group,
                            dedup,
                            _sequence_number(seq) if info.fifo else None,
                            trace,
                        )
                    )
                if info.fifo:
                    break  # one pass: what a FIFO queue can give now, it gave
            return received

        return self._write(work)

    def _fifo_candidates(self, name: str, now: float, wanted: int) -> builtins.list[tuple]:
        """The messages a FIFO receive may take, in the order it takes them: no group with a
        message in flight; from each other group its oldest messages, up to the first still
        delayed; as many of the group with the oldest message as it has, then the next's."""
        in_flight = {
            group
            for (group,) in self._conn.execute(
                "SELECT DISTINCT group_id FROM queue_messages WHERE queue = ? AND visible_at > ? "
                "AND receive_count > 0",
                (name, now),
            )
        }
        heads = self._conn.execute(
            "SELECT group_id, MIN(seq) FROM queue_messages WHERE queue = ? GROUP BY group_id",
            (name,),
        ).fetchall()
        chosen: builtins.list[int] = []
        for group, _ in sorted(heads, key=lambda head: head[1]):
            if group in in_flight:
                continue
            for seq, visible_at in self._conn.execute(
                "SELECT seq, visible_at FROM queue_messages WHERE queue = ? AND group_id = ? "
                "ORDER BY seq LIMIT ?",
                (name, group, wanted - len(chosen)),
            ).fetchall():
                if visible_at > now:
                    break  # delayed: neither it nor what was sent after it, yet
                chosen.append(seq)
            if len(chosen) >= wanted:
                break
        if not chosen:
            return []
        marks = ", ".join("?" * len(chosen))
        rows = self._conn.execute(
            f"SELECT seq, {_MESSAGE} FROM queue_messages WHERE seq IN ({marks})", chosen
        ).fetchall()
        order = {seq: i for i, seq in enumerate(chosen)}
        return sorted(rows, key=lambda row: order[row[0]])

    def _redrive(self, seq: int, dlq: str, now: float) -> None:
        """Move a message to the dead-letter queue (created if missing), as a fresh message
        there: visible, never received (UNVERIFIED whether SQS keeps the receive count)."""
        if self._row(dlq) is None:
            self._insert(dlq, 30, None, None, fifo=dlq.endswith(".fifo"))
        self._conn.execute(
            "UPDATE queue_messages SET queue = ?, visible_at = ?, receive_count = 0, "
            "first_received_at = NULL, receipt_handle = NULL WHERE seq = ?",
            (dlq, now, seq),
        )

    def dead_letter(self, name: str, receipt_handle: str, dlq: str | None) -> str | None:
        """Take a received message off the queue for good: to ``dlq`` (redrive's way) when there
        is one (None: the queue's own redrive policy's), else deleted. The dead-letter queue it
        went to (None: deleted, or the handle was stale: received again since, or gone)."""
        handle_message_id(receipt_handle)

        def work() -> str | None:
            target = dlq or self._settings(name).dead_letter_queue
            row = self._conn.execute(
                "SELECT seq FROM queue_messages WHERE queue = ? AND receipt_handle = ?",
                (name, receipt_handle),
            ).fetchone()
            if row is None:
                return None
            if target is None:
                self._conn.execute("DELETE FROM queue_messages WHERE seq = ?", (row[0],))
            else:
                self._redrive(row[0], target, time.time())
            return target

        return self._write(work)

    def delete_message(self, name: str, receipt_handle: str) -> bool:
        """Delete the message received with this handle; False if the handle is stale (the
        message was received again since) or the message is already gone: SQS succeeds then."""
        handle_message_id(receipt_handle)

        def work() -> bool:
            self._require(name)
            cursor = self._conn.execute(
                "DELETE FROM queue_messages WHERE queue = ? AND receipt_handle = ?",
                (name, receipt_handle),
            )
            return cursor.rowcount > 0

        return self._write(work)

    def delete_messages(self, name: str, receipt_handles: builtins.list[str]) -> int:
        """``delete_message`` for several handles in one transaction; how many were deleted."""
        for handle in receipt_handles:
            handle_message_id(handle)

        def work() -> int:
            self._require(name)
            deleted = 0
            for handle in receipt_handles:
                deleted += self._conn.execute(
                    "DELETE FROM queue_messages WHERE queue = ? AND receipt_handle = ?",
                    (name, handle),
                ).rowcount
            return deleted

        return self._write(work) if receipt_handles else 0

    def change_visibility(self, name: str, receipt_handle: str, visibility_timeout: int) -> None:
        """Make an in-flight message visible again after ``visibility_timeout`` seconds from now
        (0: at once)."""
        message_id = handle_message_id(receipt_handle)
        check_int(visibility_timeout, 0, MAX_VISIBILITY_TIMEOUT, "visibility timeout")

        def work() -> None:
            self._require(name)
            now = time.time()
            row = self._conn.execute(
                "SELECT receipt_handle, visible_at FROM queue_messages WHERE queue = ? AND "
                "message_id = ?",
                (name, message_id),
            ).fetchone()
            if row is None or row[0] != receipt_handle:
                raise ReceiptHandleInvalid(
                    f"The receipt handle has expired: message {message_id} was deleted or "
                    "received again since."
                )
            if row[1] <= now:
                raise MessageNotInflight(f"Message {message_id} is not in flight.")
            self._conn.execute(
                "UPDATE queue_messages SET visible_at = ? WHERE queue = ? AND message_id = ?",
                (now + visibility_timeout, name, message_id),
            )

        self._write(work)

    def purge(self, name: str) -> int:
        """Delete every message of the queue (in flight too); how many."""

        def work() -> int:
            self._require(name)
            return self._conn.execute(
                "DELETE FROM queue_messages WHERE queue = ?", (name,)
            ).rowcount

        return self._write(work)


def _sequence_number(seq: int | None) -> str:
    """A FIFO message's SequenceNumber: SQS's are large, increasing, not consecutive numbers
    as strings; ours are the message's row number, padded as SQS's 20 digits are."""
    return f"{seq or 0:020d}"


def _describe(settings: tuple[int, str | None, int | None], fifo: bool) -> str:
    vt, dlq, max_receive = settings
    redrive = f"dead-letter queue {dlq} after {max_receive} receives" if dlq else "no redrive"
    return f"{'FIFO, ' if fifo else ''}visibility timeout {vt} s, {redrive}"
