"""Telemetry delivery (runtime/telemetry.py) against a real HTTP destination on this host's
loopback: batches by bytes, a destination that falls behind loses events and is told how many."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from workbench.engine.runtime.telemetry import DROPPED_REASON, Subscriber, Subscription

from ..helpers import until


@dataclass
class Destination:
    """An HTTP listener that records each POSTed batch; it answers only while ``gate`` is set."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    batches: list[list[Any]] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        self.batches.append(json.loads(await reader.readexactly(length)))
        await self.gate.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def destination() -> AsyncIterator[Destination]:
    dest = Destination()
    server = await asyncio.start_server(dest.serve, "127.0.0.1", 0)
    dest.port = server.sockets[0].getsockname()[1]
    async with server:
        yield dest
        dest.gate.set()


def _subscriber(port: int, max_items: int = 1000, max_bytes: int = 262_144) -> Subscriber:
    sub = Subscription(
        frozenset({"function"}), max_items, max_bytes, 30_000, "127.0.0.1", port, "/"
    )
    return Subscriber("ext", sub, warn=lambda message: None)


def _event(i: int, size: int = 10) -> bytes:
    return json.dumps({"time": "t", "type": "function", "record": f"{i:0{size}d}"}).encode()


async def test_a_batch_closes_at_max_bytes(destination: Destination) -> None:
    destination.gate.set()
    subscriber = _subscriber(destination.port)
    for i in range(4):
        subscriber.add(_event(i, 100_000))  # the third passes 256 KiB: the batch goes at once
    batches = await until(lambda: destination.batches, "a batch")
    assert [[e["record"] for e in b] for b in batches] == [[f"{i:0100000d}" for i in range(3)]]
    assert len(subscriber.waiting) == 1  # the fourth waits for its timeout (30 s) or more
    subscriber.close()


async def test_a_destination_that_falls_behind_loses_events_and_is_told(
    destination: Destination,
) -> None:
    subscriber = _subscriber(destination.port)
    for i in range(1000):  # a full batch: sent now, not answered yet
        subscriber.add(_event(i))
    await until(lambda: destination.batches, "the first batch")
    for i in range(1000, 3500):  # two batches' worth may wait; the last 500 are dropped
        subscriber.add(_event(i))
    assert len(subscriber.waiting) == 2000 and subscriber.dropped_records == 500
    destination.gate.set()
    await subscriber.drained()
    first, second, third = destination.batches
    assert [e["record"] for e in first] == [f"{i:010d}" for i in range(1000)]
    # the next batch starts by saying what was lost [DG:telemetry-schema-reference]
    assert second[0] == {
        "time": second[0]["time"],
        "type": "platform.logsDropped",
        "record": {
            "droppedBytes": 500 * len(_event(0)),
            "droppedRecords": 500,
            "reason": DROPPED_REASON,
        },
    }
    delivered = [e["record"] for e in second[1:] + third]
    assert delivered == [f"{i:010d}" for i in range(1000, 3000)]
    assert len(second) - 1 <= 1000 and len(third) <= 1000
    subscriber.close()


async def test_a_dead_destination_is_warned_about_once() -> None:
    import socket

    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    warnings: list[str] = []
    sub = Subscription(frozenset({"function"}), 1000, 262_144, 25, "127.0.0.1", port, "/t")
    subscriber = Subscriber("ext", sub, warn=warnings.append)
    subscriber.add(_event(1))
    await until(lambda: warnings, "the warning")
    subscriber.add(_event(2))
    await subscriber.drained()
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"telemetry for extension ext dropped: its destination http://127.0.0.1:{port}/t could "
        "not be reached"
    )
    assert not subscriber.waiting  # given up on, not kept
    subscriber.close()
