"""Replay: a stored invocation runs again with its event, qualifier and client context.

Real runtimes and a real store; the "old record" cases write the record as an older workbench
stored it (an excerpt, no whole event), straight through the store.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import body, make_function
from workbench.engine import Engine, InvocationRecord, LambdaError, ResourceNotFound
from workbench.engine.invoke.replay import AmbiguousRequestId, EventNotKept, UnknownRequestId
from workbench.engine.model.records import EXCERPT_BYTES

SEER = """
import hashlib, json
WORD = "one"
def handler(event, context):
    cc = context.client_context
    return {
        "word": WORD,
        "digest": hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest(),
        "size": len(json.dumps(event)),
        "arn": context.invoked_function_arn,
        "version": context.function_version,
        "request_id": context.aws_request_id,
        "client_context": None if cc is None else {"custom": cc.custom, "env": cc.env},
    }
"""


def big_event() -> bytes:
    """Over the excerpt, with spacing a re-encoding would not keep: bytes must match."""
    items = ",\n   ".join(f'{{"n": {i},  "pad": "{"x" * 40}"}}' for i in range(120))
    data = f'{{ "items": [ {items} ],\t"tail" : true }}'.encode()
    assert len(data) > EXCERPT_BYTES
    return data


async def test_replay_runs_the_same_event_and_links_to_the_original(
    engine: Engine, function_root: Path
) -> None:
    make_function(function_root, "seer", SEER)
    engine.load_functions()
    event = big_event()
    first = await engine.invoke("seer", event, trigger="test")
    assert first.record.payload == event  # the groundwork kept it whole

    again = await engine.replay(first.record.request_id)

    old, new = first.record, again.record
    assert new.request_id != old.request_id
    assert new.replay_of == old.request_id and old.replay_of is None
    assert (new.trigger, new.invocation_type) == ("replay", "RequestResponse")
    assert new.event() == event  # byte for byte
    seen, seen_again = body(first), body(again)
    assert seen_again["digest"] == seen["digest"] and seen_again["size"] == seen["size"]
    assert seen_again["request_id"] == new.request_id  # a new invocation, not a re-send
    stored = engine.store.get(new.request_id)
    assert stored is not None and stored.replay_of == old.request_id


async def test_replay_keeps_the_qualifier_and_the_client_context(
    engine: Engine, function_root: Path
) -> None:
    folder = make_function(function_root, "seer", SEER)
    engine.load_functions()
    await engine.publish("seer")  # version 1 says "one"
    engine.create_alias("seer", "live", "1")
    (folder / "app.py").write_text(SEER.replace('WORD = "one"', 'WORD = "two"'))
    engine.reload([folder / "app.py"])  # $LATEST now says "two"
    context = {"custom": {"cart": [1, 2]}, "env": {"locale": "fr"}}
    text = json.dumps(context, indent=2)  # line breaks, as a client may send them

    by_alias = await engine.invoke("seer:live", b"{}", client_context=text, trigger="test")
    by_version = await engine.invoke("seer", b'{"a": 1}', qualifier="1", trigger="test")
    latest = await engine.invoke("seer", b"{}", trigger="test")
    assert [body(r)["word"] for r in (by_alias, by_version, latest)] == ["one", "one", "two"]

    alias_again = await engine.replay(by_alias.record.request_id)
    assert alias_again.record.qualifier == "live" and alias_again.executed_version == "1"
    assert body(alias_again)["word"] == "one"
    assert body(alias_again)["arn"] == body(by_alias)["arn"]
    assert body(alias_again)["arn"].endswith(":seer:live")
    assert body(alias_again)["client_context"] == context == body(by_alias)["client_context"]
    assert alias_again.record.client_context == text

    version_again = await engine.replay(by_version.record.request_id)
    assert (version_again.record.qualifier, version_again.record.version) == ("1", "1")
    assert body(version_again)["client_context"] is None
    assert body(version_again)["digest"] == body(by_version)["digest"]

    latest_again = await engine.replay(latest.record.request_id)
    assert latest_again.record.qualifier is None and body(latest_again)["word"] == "two"


async def test_an_alias_is_weighed_again_on_replay(engine: Engine, function_root: Path) -> None:
    folder = make_function(function_root, "seer", SEER)
    engine.load_functions()
    await engine.publish("seer")
    (folder / "app.py").write_text(SEER.replace('WORD = "one"', 'WORD = "two"'))
    engine.reload([folder / "app.py"])
    await engine.publish("seer")
    engine.create_alias("seer", "live", "1")
    first = await engine.invoke("seer:live", b"{}")
    assert first.executed_version == "1"
    engine.update_alias("seer", "live", version="2")  # the alias moved on since

    again = await engine.replay(first.record.request_id)
    assert again.executed_version == "2" and body(again)["word"] == "two"


async def test_a_unique_prefix_names_the_record(engine: Engine, function_root: Path) -> None:
    make_function(function_root, "seer", SEER)
    engine.load_functions()
    first = await engine.invoke("seer", b'{"k": "v"}', request_id="abcdef01-1111-4111-8111-1")
    await engine.invoke("seer", b"{}", request_id="abcdef02-2222-4222-8222-2")
    await engine.invoke("seer", b"{}", request_id="abcdef02-3333-4333-8333-3")

    again = await engine.replay("abcdef01")
    assert again.record.replay_of == first.record.request_id
    assert body(again)["digest"] == body(first)["digest"]

    with pytest.raises(AmbiguousRequestId) as ambiguous:
        await engine.replay("abcdef02")
    message = ambiguous.value.message
    assert "abcdef02-2222-4222-8222-2" in message and "abcdef02-3333-4333-8333-3" in message
    assert "give more of it" in message

    with pytest.raises(AmbiguousRequestId, match="at least its first 8 characters"):
        await engine.replay("abcdef")


async def test_an_unknown_request_id_names_the_state_dir(engine: Engine) -> None:
    with pytest.raises(UnknownRequestId) as unknown:
        await engine.replay("0badc0de-0000-4000-8000-000000000000")
    assert isinstance(unknown.value, ResourceNotFound)  # a LambdaError the CLI shows in a line
    assert "0badc0de-0000-4000-8000-000000000000" in unknown.value.message
    assert str(engine.state_dir) in unknown.value.message


async def test_a_record_with_only_a_cut_excerpt_is_refused(
    engine: Engine, function_root: Path
) -> None:
    make_function(function_root, "seer", SEER)
    engine.load_functions()
    cut = big_event()[:EXCERPT_BYTES].decode()
    engine.store.add(InvocationRecord("old-0000-record", "seer", request=cut, payload=None))

    with pytest.raises(EventNotKept) as refused:
        await engine.replay("old-0000-record")
    assert isinstance(refused.value, LambdaError)
    assert "stored before whole events were kept" in refused.value.message
    assert engine.store.count("seer") == 1  # nothing ran


async def test_a_function_that_is_gone_is_refused(engine: Engine, function_root: Path) -> None:
    folder = make_function(function_root, "seer", SEER)
    engine.load_functions()
    first = await engine.invoke("seer", b"{}")
    shutil.rmtree(folder)
    engine.load_functions()

    with pytest.raises(ResourceNotFound) as gone:
        await engine.replay(first.record.request_id)
    assert "function seer no longer exists" in gone.value.message
    assert str(function_root) in gone.value.message


async def test_a_deleted_alias_is_refused(engine: Engine, function_root: Path) -> None:
    make_function(function_root, "seer", SEER)
    engine.load_functions()
    await engine.publish("seer")
    engine.create_alias("seer", "live", "1")
    first = await engine.invoke("seer:live", b"{}")
    engine.delete_alias("seer", "live")

    with pytest.raises(ResourceNotFound) as gone:
        await engine.replay(first.record.request_id)
    assert gone.value.message.startswith(f"Cannot replay {first.record.request_id} (seer:live)")
