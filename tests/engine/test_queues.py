"""``QueueStore``: SQS's semantics on a real SQLite database."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from tests.helpers import until_sync
from workbench.engine.sources.sqs_events import failed_items
from workbench.engine.storage.queues import (
    MAX_MESSAGE_BYTES,
    MessageNotInflight,
    QueueError,
    QueueExists,
    QueueNotFound,
    QueueStore,
    ReceiptHandleInvalid,
    md5_of_attributes,
)


@pytest.fixture
def store(tmp_path: Path):
    s = QueueStore(tmp_path / "state" / "workbench.db")
    yield s
    s.close()


def test_send_receive_delete(store: QueueStore) -> None:
    store.create("orders")
    message_id = store.send("orders", "hello", {"kind": "greeting"})
    [m] = store.receive("orders", 10)
    assert m.message_id == message_id
    assert m.body == "hello"
    assert m.md5_of_body == hashlib.md5(b"hello").hexdigest()
    assert m.attributes == {"kind": {"DataType": "String", "StringValue": "greeting"}}
    assert m.receive_count == 1
    info = store.get("orders")
    assert (info.depth, info.in_flight) == (0, 1)
    assert store.receive("orders") == []  # in flight: invisible
    assert store.delete_message("orders", m.receipt_handle) is True
    assert store.get("orders").in_flight == 0
    # deleting again (the message is gone) succeeds, as in SQS, without deleting anything
    assert store.delete_message("orders", m.receipt_handle) is False


def test_order_and_max_messages(store: QueueStore) -> None:
    store.create("q")
    ids = [store.send("q", f"m{i}") for i in range(12)]
    first = store.receive("q", 10)
    assert [m.message_id for m in first] == ids[:10]
    rest = store.receive("q", 10)
    assert [m.message_id for m in rest] == ids[10:]
    with pytest.raises(QueueError, match="from 1 to 10"):
        store.receive("q", 11)


def test_visibility_timeout_and_new_receipt_handles(store: QueueStore) -> None:
    store.create("q", visibility_timeout=1)
    store.send("q", "x")
    [first] = store.receive("q")
    until_sync(lambda: store.get("q").depth == 1, "the message to be visible again")
    [second] = store.receive("q")
    assert second.message_id == first.message_id
    assert second.receipt_handle != first.receipt_handle
    assert second.receive_count == 2
    assert second.first_received_at == first.first_received_at
    # the stale handle succeeds but does not delete: the message belongs to its new receiver
    assert store.delete_message("q", first.receipt_handle) is False
    assert store.get("q").in_flight == 1
    with pytest.raises(ReceiptHandleInvalid, match="expired"):
        store.change_visibility("q", first.receipt_handle, 0)
    store.change_visibility("q", second.receipt_handle, 0)
    assert store.get("q").depth == 1
    [third] = store.receive("q", visibility_timeout=0)
    with pytest.raises(MessageNotInflight):
        store.change_visibility("q", third.receipt_handle, 10)
    assert store.delete_message("q", third.receipt_handle) is True


def test_receive_visibility_override(store: QueueStore) -> None:
    store.create("q", visibility_timeout=300)
    store.send("q", "x")
    store.receive("q", visibility_timeout=1)
    until_sync(lambda: store.get("q").depth == 1, "the message to be visible again")


def test_redrive_moves_after_max_receive_count(store: QueueStore) -> None:
    store.create("jobs", visibility_timeout=0, dead_letter_queue="jobs-dlq", max_receive_count=2)
    assert store.exists("jobs-dlq")  # created with it
    message_id = store.send("jobs", "poison")
    assert store.receive("jobs")[0].receive_count == 1
    assert store.receive("jobs")[0].receive_count == 2
    assert store.receive("jobs") == []  # a third receive would exceed 2: moved instead
    info = store.get("jobs")
    assert (info.depth, info.in_flight, info.dead_letter_depth) == (0, 0, 1)
    [dead] = store.receive("jobs-dlq")
    assert dead.message_id == message_id
    assert dead.body == "poison"


def test_redrive_given_by_the_receiver(store: QueueStore) -> None:
    store.create("q", visibility_timeout=0)  # no redrive of its own
    store.send("q", "x")
    kw = {"dead_letter_queue": "mine-dlq", "max_receive_count": 1}
    assert len(store.receive("q", **kw)) == 1
    assert store.receive("q", **kw) == []
    assert store.get("mine-dlq").depth == 1


def test_delay_seconds(store: QueueStore) -> None:
    store.create("q")
    store.send("q", "later", delay_seconds=1)
    info = store.get("q")
    assert (info.depth, info.delayed, info.in_flight) == (0, 1, 0)
    assert store.receive("q") == []
    until_sync(lambda: store.get("q").depth == 1, "the delayed message to be visible")
    with pytest.raises(QueueError, match="from 0 to 900"):
        store.send("q", "x", delay_seconds=901)


def test_purge_and_delete(store: QueueStore) -> None:
    store.create("q")
    for i in range(3):
        store.send("q", str(i))
    store.receive("q")
    assert store.purge("q") == 3  # in-flight ones too
    assert store.get("q").depth == 0
    store.send("q", "x")
    assert store.delete("q") == 1
    assert not store.exists("q")
    with pytest.raises(QueueNotFound):
        store.purge("q")


def test_create_is_idempotent_but_refuses_other_settings(store: QueueStore) -> None:
    store.create("q", visibility_timeout=10)
    store.create("q", visibility_timeout=10)
    with pytest.raises(QueueExists, match="visibility timeout 10 s"):
        store.create("q", visibility_timeout=20)
    # ensure keeps the existing queue's settings
    assert store.ensure("q", visibility_timeout=99).visibility_timeout == 10
    assert store.ensure("new", visibility_timeout=5).visibility_timeout == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "has space"}, "invalid queue name"),
        ({"name": "x" * 81}, "invalid queue name"),
        ({"name": ""}, "invalid queue name"),
        ({"name": "q", "visibility_timeout": 43201}, "from 0 to 43200"),
        ({"name": "q", "dead_letter_queue": "d"}, "needs both"),
        ({"name": "q", "dead_letter_queue": "q", "max_receive_count": 3}, "its own"),
        ({"name": "q", "dead_letter_queue": "d", "max_receive_count": 0}, "from 1 to 1000"),
    ],
)
def test_bad_settings(store: QueueStore, kwargs: dict, match: str) -> None:
    with pytest.raises(QueueError, match=match):
        store.create(**kwargs)


def test_fifo_names_are_accepted(store: QueueStore) -> None:
    assert store.create("orders.fifo").name == "orders.fifo"


def test_unknown_queue_names_the_existing_ones(store: QueueStore) -> None:
    store.create("alpha")
    store.create("beta")
    with pytest.raises(QueueNotFound, match=r"'gamma' \(queues: alpha, beta"):
        store.send("gamma", "x")
    with pytest.raises(QueueNotFound, match="gamma"):
        store.receive("gamma")


def test_oversized_and_empty_bodies(store: QueueStore) -> None:
    store.create("q")
    store.send("q", "x" * MAX_MESSAGE_BYTES)
    with pytest.raises(QueueError, match=f"at most {MAX_MESSAGE_BYTES} bytes"):
        store.send("q", "x" * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(QueueError, match="must not be empty"):
        store.send("q", "")


def test_bad_receipt_handle(store: QueueStore) -> None:
    store.create("q")
    with pytest.raises(ReceiptHandleInvalid, match="not a valid receipt handle"):
        store.delete_message("q", "garbage")


def test_bad_message_attributes(store: QueueStore) -> None:
    store.create("q")
    with pytest.raises(QueueError, match="DataType"):
        store.send("q", "x", {"a": {"DataType": "Weird", "StringValue": "1"}})
    with pytest.raises(QueueError, match="attribute name"):
        store.send("q", "x", {"bad name": "v"})


def test_md5_of_attributes_matches_sqs() -> None:
    # the value SQS computes for {"a": String "b"}, from its documented algorithm
    digest = hashlib.md5(
        b"\x00\x00\x00\x01a" + b"\x00\x00\x00\x06String" + b"\x01" + b"\x00\x00\x00\x01b"
    ).hexdigest()
    assert md5_of_attributes({"a": {"DataType": "String", "StringValue": "b"}}) == digest
    assert md5_of_attributes({}) is None


def test_two_stores_never_receive_the_same_message(tmp_path: Path) -> None:
    """Two connections (as the CLI and a serve): each message is received exactly once."""
    path = tmp_path / "workbench.db"
    a, b = QueueStore(path), QueueStore(path)
    a.create("q")
    for i in range(200):
        a.send("q", str(i))
    got: dict[str, list[str]] = {"a": [], "b": []}

    def drain(name: str, s: QueueStore) -> None:
        while batch := s.receive("q", 10):
            got[name].extend(m.message_id for m in batch)

    threads = [threading.Thread(target=drain, args=(n, s)) for n, s in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got["a"]) + len(got["b"]) == 200
    assert len(set(got["a"]) | set(got["b"])) == 200
    a.close()
    b.close()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"null", set()),
        (b"", set()),
        (b"{}", set()),
        (b'{"batchItemFailures": []}', set()),
        (b'{"batchItemFailures": null}', set()),
        (b'{"batchItemFailures": [{"itemIdentifier": "m2"}]}', {"m2"}),
        (b'{"batchItemFailures": [{"itemIdentifier": "nope"}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', None),
        (b'{"batchItemFailures": [{"id": "m1"}]}', None),
        (b'{"batchItemFailures": "m1"}', None),
        (b'"done"', None),
        (b"not json", None),
    ],
)
def test_batch_item_failures_rules(reply: bytes, expected: set[str] | None) -> None:
    assert failed_items(reply, ["m1", "m2"]) == expected


def test_queues_from_before_fifo_upgrade_as_standard_queues(tmp_path: Path) -> None:
    """A state dir of schema 6 (no FIFO, attributes or tags): its queues and messages stay,
    standard, and take the new settings."""
    import sqlite3

    from workbench.engine.storage.db import MIGRATIONS

    db = tmp_path / "workbench.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(";".join(MIGRATIONS[v] for v in range(1, 7)) + ";PRAGMA user_version=6;")
    conn.execute(
        "INSERT INTO queues (name, created_at, visibility_timeout) VALUES ('old', 1.0, 12)"
    )
    conn.execute(
        "INSERT INTO queue_messages (queue, message_id, body, md5_of_body, sent_at, visible_at) "
        "VALUES ('old', '6f1c4a52-7d4e-4a57-9c3c-2b1f4e1a0c11', 'kept', 'x', 1.0, 1.0)"
    )
    conn.close()
    store = QueueStore(db)
    try:
        info = store.get("old")
        assert (info.fifo, info.visibility_timeout, info.depth, info.tags) == (False, 12, 1, {})
        assert info.attribute("DelaySeconds") == "0"
        [message] = store.receive("old")
        assert (message.body, message.group_id, message.sequence_number) == ("kept", None, None)
        store.set_attributes("old", {"DelaySeconds": "5"})
        store.tag("old", {"team": "a"})
        assert store.get("old").attributes == {"DelaySeconds": "5"}
        assert store.get("old").tags == {"team": "a"}
    finally:
        store.close()
