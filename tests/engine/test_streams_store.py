"""The stream store on a real SQLite file: shards by hash key, order, retention, checkpoints."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from workbench.engine.storage.streams import (
    HASH_SPACE,
    StreamError,
    StreamExists,
    StreamNotFound,
    StreamStore,
    key_hash,
)


@pytest.fixture
def store(tmp_path: Path):
    s = StreamStore(tmp_path / "workbench.db")
    yield s
    s.close()


def test_a_record_goes_to_the_shard_whose_hash_range_holds_its_key(store: StreamStore) -> None:
    info = store.create("s", 4)
    for key in ("a", "b", "c", "user-42"):
        [r] = store.put("s", [(b"x", key, None)])
        low, high = info.shard_range(r.shard)
        assert low <= key_hash(key) <= high
    [r] = store.put("s", [(b"x", "any", str(HASH_SPACE - 1))])  # ExplicitHashKey wins
    assert r.shard == 3
    with pytest.raises(StreamError, match="below 2\\^128"):
        store.put("s", [(b"x", "k", str(HASH_SPACE))])


def test_order_sequence_numbers_and_refusals(store: StreamStore) -> None:
    store.create("s")
    records = store.put("s", [(f"{i}".encode(), "k", None) for i in range(5)])
    assert [r.data for r in store.read("s", 0, 0, 10)] == [b"0", b"1", b"2", b"3", b"4"]
    seqs = [r.sequence_number for r in records]
    assert seqs == sorted(seqs) and [int(s) for s in seqs] == sorted(int(s) for s in seqs)
    assert store.read("s", 0, records[2].id, 10)[0].data == b"3"
    with pytest.raises(StreamExists):
        store.create("s")
    with pytest.raises(StreamNotFound, match="streams: s"):
        store.put("other", [(b"x", "k", None)])
    with pytest.raises(StreamError, match="PartitionKey"):
        store.put("s", [(b"x", "", None)])
    with pytest.raises(StreamError, match="ShardCount"):
        store.create("t", 0)


def test_records_past_retention_are_deleted_by_a_put(tmp_path: Path) -> None:
    db = tmp_path / "workbench.db"
    store = StreamStore(db)
    store.create("s")
    store.put("s", [(b"old", "k", None)])
    store.close()
    with sqlite3.connect(db) as conn:  # a day and a bit ago
        conn.execute("UPDATE stream_records SET arrived_at = arrived_at - 90000")
    store = StreamStore(db)
    store.put("s", [(b"new", "k", None)])
    assert [r.data for r in store.read("s", 0, 0, 10)] == [b"new"]
    assert store.trim_horizon("s", 0) == store.read("s", 0, 0, 1)[0].id - 1
    store.close()


def test_checkpoints_per_consumer_and_lane(store: StreamStore) -> None:
    store.create("s")
    assert store.checkpoint("f", "s", 0, 0) is None
    store.set_checkpoint("f", "s", 0, 0, 7)
    store.set_checkpoint("f", "s", 0, 1, 3)
    store.set_checkpoint("g", "s", 0, 0, 1)
    assert store.checkpoint("f", "s", 0, 0) == 7
    assert store.lowest_checkpoint("f", "s", 0) == 3
    store.delete("s")  # a deleted stream's checkpoints go with it
    assert store.checkpoint("f", "s", 0, 0) is None
