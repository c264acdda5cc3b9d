"""Recursive loop detection through topics: a publish carrying a trace header continues its
chain; a subscriber that already ran 16 times in it is not invoked, its event goes to the
on-failure destination, and the engine says so (log line, ``RecursionStopped``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import make_function, until
from workbench.engine import Engine, EngineSettings, RecursionStopped
from workbench.engine.model.trace import MAX_CHAIN, chain_count, continue_chain
from workbench.engine.sources.topics import publish_message

TRACER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"trace": os.environ.get("_X_AMZN_TRACE_ID")}) + "\\n")
"""


@pytest.fixture
async def engine(function_root: Path, tmp_path: Path):
    make_function(
        function_root,
        "audit",
        TRACER,
        environment={"OUT": str(tmp_path / "audit.jsonl")},
        triggers=[{"type": "sns", "topic": "orders"}],
        **{"async": {"on_failure": "queue:stopped"}},
    )
    settings = EngineSettings(state_dir=tmp_path / "state", background=True, time_scale=0.001)
    async with Engine([function_root], settings) as eng:
        yield eng


def chain_at(engine: Engine, count: int) -> str:
    header = None
    for _ in range(count):
        header = continue_chain(header, engine.arn("audit"))
    assert header is not None
    return header


def runs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_a_publish_continues_the_chain(engine: Engine, tmp_path: Path) -> None:
    header = chain_at(engine, MAX_CHAIN - 1)
    publish_message(engine, "orders", "hi", trace_header=header)
    [run] = await until(lambda: runs(tmp_path / "audit.jsonl"), "the subscriber ran")
    assert run["trace"].split(";")[0] == header.split(";")[0]  # the same Root
    assert chain_count(run["trace"], engine.arn("audit")) == MAX_CHAIN
    # a publish without a header starts a chain of its own
    publish_message(engine, "orders", "again")
    second = await until(lambda: runs(tmp_path / "audit.jsonl")[1:], "the second run")
    assert chain_count(second[0]["trace"], engine.arn("audit")) == 1


async def test_the_17th_is_stopped_to_the_on_failure_destination(
    engine: Engine, tmp_path: Path
) -> None:
    events = engine.subscribe()
    publish_message(engine, "orders", "hi", trace_header=chain_at(engine, MAX_CHAIN))
    [ended] = await until(
        lambda: [
            e for e in engine.async_events() if e.status != "queued" and e.status != "running"
        ],
        "the event ended",
    )
    assert ended.status == "failed" and ended.condition == "RecursiveInvocationException"
    assert ended.destination == "queue:stopped"
    assert runs(tmp_path / "audit.jsonl") == []  # never invoked
    assert engine.queues is not None
    [message] = engine.queues.receive("stopped")
    record = json.loads(message.body)
    assert record["requestContext"]["condition"] == "RecursiveInvocationException"
    stopped = await until(
        lambda: [e for e in events.get_nowait() if isinstance(e, RecursionStopped)],
        "RecursionStopped",
    )
    assert stopped[0].function == "audit" and stopped[0].source == "sns:orders"
    assert stopped[0].count == MAX_CHAIN
    assert stopped[0].disposition == "sent to queue:stopped"
