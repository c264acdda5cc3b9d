"""Provisioned concurrency from ``function.toml``: environments initialised before the first call,
serving it warm, spilling over to on-demand ones, kept through a save of ``$LATEST`` and replaced
when one dies. Real runtimes, real processes."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings, EnvironmentEvent, InvokeResult

from ..helpers import add_function, body, make_function, report, until

SLOW = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {
        "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "pid": os.getpid(),
        "version": context.function_version,
    }
"""


def provisioned_envs(engine: Engine, name: str) -> list:
    return [e for e in engine.environments(name) if e.provisioned and e.state == "idle"]


async def publish_live(engine: Engine, name: str) -> None:
    await engine.publish(name)
    engine.create_alias(name, "live", "1")


async def test_initialised_before_the_first_call_and_spill_over(engine: Engine) -> None:
    events = engine.subscribe()
    add_function(engine, "pc", SLOW, provisioned_concurrency={"live": 2}, memory_size=128)
    await publish_live(engine, "pc")
    await until(lambda: len(provisioned_envs(engine, "pc")) == 2, "2 provisioned")
    ready = provisioned_envs(engine, "pc")
    provisioned = {e.id for e in ready}
    # their INIT ran, ahead of any call: init_start and init_done for each, of version 1
    seen: list[EnvironmentEvent] = [
        event
        for event in events.get_nowait()
        if isinstance(event, EnvironmentEvent) and event.env_id in provisioned
    ]
    assert sorted(e.phase for e in seen if e.phase in ("init_start", "init_done")) == [
        "init_done",
        "init_done",
        "init_start",
        "init_start",
    ]
    assert {e.version for e in seen} == {"1"}
    assert engine.pool.provisioned.states("pc")[0].status == "READY"

    # the first call is warm: no Init Duration; the environment says how it was initialised
    first = await engine.invoke("pc", b"{}", qualifier="live")
    assert not first.record.cold
    assert first.record.init_duration_ms is None
    assert "Init Duration" not in report(first)
    assert first.record.env_id in provisioned
    assert body(first)["type"] == "provisioned-concurrency"
    assert body(first)["version"] == "1"

    # three at once: two run on the provisioned ones, the third spills over to on-demand
    results: list[InvokeResult] = await asyncio.gather(
        *(engine.invoke("pc", b'{"sleep": 0.5}', qualifier="live") for _ in range(3))
    )
    kinds = sorted(body(r)["type"] for r in results)
    assert kinds == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"]
    [spilled] = [r for r in results if body(r)["type"] == "on-demand"]
    assert spilled.record.cold and "Init Duration" in report(spilled)
    assert spilled.record.env_id not in provisioned
    for r in results:
        if body(r)["type"] == "provisioned-concurrency":
            assert r.record.env_id in provisioned and not r.record.cold

    # $LATEST has none: it starts on demand
    latest = await engine.invoke("pc", b"{}")
    assert body(latest)["type"] == "on-demand" and latest.record.cold


async def test_kept_through_a_save_replaced_when_one_dies(engine: Engine) -> None:
    folder = add_function(engine, "keep", SLOW, provisioned_concurrency={"1": 1})
    await engine.publish("keep")
    [env] = await until(lambda: provisioned_envs(engine, "keep"), "a provisioned environment")
    pid = env.pid
    # a save of $LATEST changes $LATEST only: a published version's code never changes, so its
    # provisioned environment is not initialised again
    (folder / "app.py").write_text(SLOW + "\n# saved\n")
    engine.reload([folder / "app.py"])
    latest = await engine.invoke("keep", b"{}")  # $LATEST: the new code, on demand
    assert latest.record.cold and body(latest)["pid"] != pid
    answer = await engine.invoke("keep", b"{}", qualifier="1")
    assert body(answer)["pid"] == pid and not answer.record.cold
    # one that dies is replaced, initialised again ahead of the next call
    os.kill(pid, signal.SIGKILL)
    [again] = await until(
        lambda: [e for e in provisioned_envs(engine, "keep") if e.pid != pid],
        "a replacement",
    )
    answer = await engine.invoke("keep", b"{}", qualifier="1")
    assert body(answer)["pid"] == again.pid and not answer.record.cold


async def test_moves_with_its_alias(engine: Engine) -> None:
    folder = add_function(engine, "moves", SLOW, provisioned_concurrency={"live": 1})
    await publish_live(engine, "moves")
    [old] = await until(lambda: provisioned_envs(engine, "moves"), "a provisioned environment")
    assert old.version == "1"
    (folder / "app.py").write_text(SLOW + "\n# v2\n")
    engine.reload([folder / "app.py"])
    await until(lambda: "v2" in (folder / "app.py").read_text())
    await engine.publish("moves")
    engine.update_alias("moves", "live", version="2")
    [new] = await until(
        lambda: [e for e in provisioned_envs(engine, "moves") if e.version == "2"],
        "version 2's provisioned environment",
    )
    await until(lambda: old.state == "dead", "version 1's to be retired")
    answer = await engine.invoke("moves", b"{}", qualifier="live")
    assert (body(answer)["version"], answer.record.env_id) == ("2", new.id)


async def test_in_namespaces(tmp_path: Path, function_root: Path) -> None:
    """The environments are the function's own in its namespaces too (isolation ``auto``)."""
    make_function(function_root, "ns", SLOW, provisioned_concurrency={"1": 1})
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation="auto"
    )
    async with Engine([function_root], settings) as engine:
        await engine.publish("ns")
        [env] = await until(lambda: provisioned_envs(engine, "ns"), "a provisioned environment")
        answer = await engine.invoke("ns", b"{}", qualifier="1")
        assert answer.record.env_id == env.id and not answer.record.cold
        assert body(answer)["type"] == "provisioned-concurrency"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"provisioned_concurrency": {"$LATEST": 1}},
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        ),
        ({"provisioned_concurrency": {"live": 0}}, "must be an integer >= 1"),
        (
            {"provisioned_concurrency": {"live": 3}, "reserved_concurrency": 2},
            "exceed reserved_concurrency = 2",
        ),
    ],
)
async def test_refused_in_function_toml(engine: Engine, config: dict, message: str) -> None:
    add_function(engine, "bad", SLOW, **config)
    problem = str(engine.problems["bad"].error)
    assert message in problem
    assert "function.toml" in problem


async def test_an_api_config_outlives_the_engine(
    tmp_path: Path, function_root: Path, engine_settings: EngineSettings
) -> None:
    """PutProvisionedConcurrencyConfig is kept: the next engine initialises them at its start."""
    make_function(function_root, "kept", SLOW)
    async with Engine([function_root], engine_settings) as engine:
        await engine.publish("kept")
        state = engine.pool.provisioned.put("kept", "1", 2)
        assert (state.status, state.allocated) == ("IN_PROGRESS", 0)
        await until(lambda: len(provisioned_envs(engine, "kept")) == 2, "2 provisioned")
        assert engine.pool.provisioned.state("kept", "1").status == "READY"
    async with Engine([function_root], engine_settings) as engine:
        await until(lambda: len(provisioned_envs(engine, "kept")) == 2, "2 provisioned again")
        answer = await engine.invoke("kept", b"{}", qualifier="1")
        assert body(answer)["type"] == "provisioned-concurrency" and not answer.record.cold
        engine.pool.provisioned.delete("kept", "1")
        await until(lambda: not provisioned_envs(engine, "kept"), "them to be retired")
        assert engine.pool.provisioned.state("kept", "1") is None
