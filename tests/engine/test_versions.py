"""Published versions and aliases through the engine: Lambda's rules, real snapshots, SQLite."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from tests.helpers import LAYER_USER, add_function, make_function, make_layer, next_event
from workbench.engine import (
    Engine,
    EngineSettings,
    FunctionNotReady,
    InvalidParameterValue,
    LambdaError,
    RegistryChanged,
    ResourceConflict,
    ResourceNotFound,
    ValidationError,
)

REPORTS = """
import os
VERSION = {version}
def handler(event, context):
    return {{
        "code": VERSION,
        "function_version": context.function_version,
        "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "memory": context.memory_limit_in_mb,
        "stream": context.log_stream_name,
        "arn": context.invoked_function_arn,
        "greeting": os.environ.get("GREETING"),
    }}
"""


def code(version: int) -> str:
    return REPORTS.format(version=version)


async def run(engine: Engine, target: str) -> dict:
    result = await engine.invoke(target)
    assert result.function_error is None, result.payload
    return json.loads(result.payload)


# --------------------------------------------------------------------------- publish


async def test_publish_numbers_versions_and_code_sha256_is_that_of_the_zip(engine: Engine) -> None:
    folder = add_function(engine, "f", code(1))
    first, created = await engine.publish("f", "first cut")
    assert created and first.number == 1 and first.description == "first cut"
    digest = base64.b64decode(first.code_sha256)
    stored = engine.state_dir / "code" / f"{digest.hex()}.zip"
    data = stored.read_bytes()
    assert first.code_sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert len(first.code_sha256) == 44 and first.code_size == len(data)
    with zipfile.ZipFile(stored) as zf:
        assert zf.namelist() == ["app.py"]  # function.toml is configuration, not code
        assert zf.read("app.py") == (folder / "app.py").read_bytes()
    assert first.config.folder == engine.state_dir / "code" / digest.hex()
    assert first.config.folder != folder
    assert first.last_modified.endswith("+0000") and len(first.last_modified) == 28

    (folder / "app.py").write_text(code(2))
    second, created = await engine.publish("f")
    assert created and second.number == 2 and second.code_sha256 != first.code_sha256
    assert [v.number for v in engine.versions("f")] == [1, 2]


async def test_publishing_unchanged_code_and_config_returns_the_last_version(
    engine: Engine,
) -> None:
    add_function(engine, "f", code(1))
    first, _ = await engine.publish("f")
    again, created = await engine.publish("f", "another description")
    assert not created and again == first  # the description alone is not a change
    assert len(engine.versions("f")) == 1


async def test_a_config_change_publishes_but_reserved_concurrency_does_not(
    engine: Engine,
) -> None:
    add_function(engine, "f", code(1), memory_size=128)
    await engine.publish("f")
    add_function(engine, "f", code(1), memory_size=128, reserved_concurrency=3)
    same, created = await engine.publish("f")
    assert not created and same.number == 1  # a function-level setting, not a version's
    add_function(engine, "f", code(1), memory_size=256, reserved_concurrency=3)
    new, created = await engine.publish("f")
    assert created and new.number == 2 and new.config.memory_size == 256


async def test_a_version_description_defaults_to_the_functions(engine: Engine) -> None:
    add_function(engine, "f", code(1), description="Says hello")
    version, _ = await engine.publish("f")
    assert version.description == "Says hello"


async def test_a_published_version_is_immutable(engine: Engine) -> None:
    folder = add_function(engine, "f", code(1), memory_size=128, environment={"GREETING": "hi"})
    await engine.publish("f")
    make_function(engine.roots[0], "f", code(2), memory_size=512, environment={"GREETING": "yo"})
    (folder / "extra.py").write_text("X = 1\n")
    engine.reload([folder / "app.py", folder / "function.toml", folder / "extra.py"])

    latest = await run(engine, "f")
    assert latest["code"] == 2 and latest["memory"] == "512" and latest["greeting"] == "yo"
    result = await engine.invoke("f:1")
    one = json.loads(result.payload)
    assert one["code"] == 1 and one["memory"] == "128" and one["greeting"] == "hi"
    assert one["function_version"] == one["env_version"] == "1"
    assert "/[1]" in one["stream"]
    assert one["arn"] == engine.arn("f", "1")
    assert result.executed_version == "1" and result.record.version == "1"
    assert result.record.qualifier == "1"
    assert f"START RequestId: {result.record.request_id} Version: 1" in result.record.log_lines
    # the snapshot's files are read-only, as /var/task is
    snapshot = engine.version("f", 1).config.folder
    assert not (snapshot / "app.py").stat().st_mode & 0o222


async def test_versions_and_latest_keep_their_own_warm_environments(engine: Engine) -> None:
    folder = add_function(engine, "f", code(1))
    await engine.publish("f")
    (folder / "app.py").write_text(code(2))
    engine.reload([folder / "app.py"])
    for target, expected in (("f", 2), ("f:1", 1), ("f", 2), ("f:1", 1)):
        assert (await run(engine, target))["code"] == expected
    versions = sorted(env.version for env in engine.environments("f"))
    assert versions == ["$LATEST", "1"]
    # a save retires $LATEST environments only
    (folder / "app.py").write_text(code(3))
    engine.reload([folder / "app.py"])
    assert [env.version for env in engine.environments("f")] == ["1"]


async def test_a_version_runs_even_when_its_folder_was_deleted_from_the_store(
    engine: Engine,
) -> None:
    add_function(engine, "f", code(1))
    version, _ = await engine.publish("f")
    shutil.rmtree(version.config.folder)
    assert (await run(engine, "f:1"))["code"] == 1  # re-extracted from the zip
    assert (version.config.folder / "app.py").is_file()


async def test_a_layer_is_snapshotted_with_the_version(engine: Engine) -> None:
    layer = make_layer(engine.roots[0], "words", "words", "WORD = 'one'\n")
    add_function(engine, "f", LAYER_USER.format(module="words"), layers=["../layers/words"])
    version, _ = await engine.publish("f")
    layer.write_text("WORD = 'two'\n")
    engine.reload([layer])
    assert (await engine.invoke("f")).payload == b'"two"'
    assert (await engine.invoke("f:1")).payload == b'"one"'
    assert version.config.layers[0].parent == engine.state_dir / "code"
    changed, created = await engine.publish("f")  # the layer's content changed: a new version
    assert created and changed.number == 2


async def test_publish_refuses_unknown_and_broken_functions(engine: Engine) -> None:
    with pytest.raises(ResourceNotFound, match="Function not found: arn:aws:lambda:.*:nope"):
        await engine.publish("nope")
    folder = add_function(engine, "f", code(1))
    await engine.publish("f")
    (folder / "function.toml").write_text("timeout = 0\n")
    engine.load_functions()
    with pytest.raises(FunctionNotReady, match="cannot be published"):
        await engine.publish("f")
    # its published versions still run, as on Lambda
    assert (await run(engine, "f:1"))["code"] == 1


async def test_unknown_versions_are_not_found(engine: Engine) -> None:
    add_function(engine, "f", code(1))
    with pytest.raises(ResourceNotFound, match=r"Function not found: arn:.*:function:f:7$"):
        await engine.invoke("f:7")
    with pytest.raises(ResourceNotFound):
        engine.version("f", 7)


# --------------------------------------------------------------------------- aliases


async def published(engine: Engine, count: int) -> None:
    folder = add_function(engine, "f", code(1))
    for number in range(1, count + 1):
        (folder / "app.py").write_text(code(number))
        version, created = await engine.publish("f")
        assert created and version.number == number


async def test_an_alias_routes_by_weight_per_invocation(engine: Engine) -> None:
    await published(engine, 2)
    alias = engine.create_alias("f", "live", "1", routing={"2": 0.3})
    assert alias.share("1") == pytest.approx(0.7) and alias.share("2") == pytest.approx(0.3)
    runs = 2000
    seen = {"1": 0, "2": 0}
    for _ in range(runs):
        result = await engine.invoke("f:live")
        record = result.record
        ran = json.loads(result.payload)["code"]
        assert str(ran) == result.executed_version == record.version
        assert record.qualifier == "live"
        start = f"START RequestId: {record.request_id} Version: {record.version}"
        assert start in record.log_lines
        seen[record.version] += 1
    share = seen["2"] / runs
    sigma = math.sqrt(0.3 * 0.7 / runs)  # about 0.01
    assert abs(share - 0.3) < 5 * sigma, seen


async def test_alias_invocations_pass_the_alias_arn_and_run_the_version(engine: Engine) -> None:
    await published(engine, 2)
    engine.create_alias("f", "stable", "1")
    body = await run(engine, "f:stable")
    assert body["code"] == 1 and body["function_version"] == "1"
    assert body["arn"] == engine.arn("f", "stable")
    engine.update_alias("f", "stable", version="2")
    assert (await run(engine, "f:stable"))["code"] == 2
    # an ARN with the alias, and the qualifier given apart
    assert (await run(engine, engine.arn("f", "stable")))["code"] == 2
    result = await engine.invoke("f", qualifier="stable")
    assert result.executed_version == "2"


async def test_an_alias_on_latest_follows_hot_reload(engine: Engine) -> None:
    folder = add_function(engine, "f", code(1))
    engine.create_alias("f", "dev", "$LATEST")
    assert (await run(engine, "f:dev"))["code"] == 1
    (folder / "app.py").write_text(code(2))
    engine.reload([folder / "app.py"])
    body = await run(engine, "f:dev")
    assert body["code"] == 2 and body["function_version"] == "$LATEST"


async def test_update_keeps_what_is_not_given_and_removes_routing_with_empty(
    engine: Engine,
) -> None:
    await published(engine, 3)
    engine.create_alias("f", "live", "1", routing={"2": 0.1}, description="prod")
    moved = engine.update_alias("f", "live", version="3")
    assert moved.function_version == "3" and dict(moved.routing) == {"2": 0.1}
    assert moved.description == "prod"
    weighted = engine.update_alias("f", "live", routing={"1": 0.5})
    assert dict(weighted.routing) == {"1": 0.5} and weighted.function_version == "3"
    plain = engine.update_alias("f", "live", routing={})
    assert dict(plain.routing) == {}
    assert {a.name: a.function_version for a in engine.aliases("f")} == {"live": "3"}
    engine.delete_alias("f", "live")
    assert engine.aliases("f") == []
    with pytest.raises(ResourceNotFound, match=r"Function not found: arn:.*:function:f:live$"):
        await engine.invoke("f:live")


@pytest.mark.parametrize(
    ("name", "version", "routing", "error", "message"),
    [
        ("123", "1", None, ValidationError, r"Value '123' at 'name' failed to satisfy"),
        ("has space", "1", None, ValidationError, "regular expression pattern"),
        ("a" * 129, "1", None, ValidationError, "length between 1 and 128"),
        ("live", "9", None, ResourceNotFound, r"Function not found: arn:.*:function:f:9$"),
        ("live", "latest", None, ValidationError, r"\(\\\$LATEST\|\[0-9\]\+\)"),
        ("live", "1", {"2": 1.5}, ValidationError, "less than or equal to 1.0"),
        ("live", "1", {"2": -0.1}, ValidationError, "greater than or equal to 0.0"),
        ("live", "1", {"2": math.nan}, ValidationError, "less than or equal to 1.0"),
        ("live", "1", {"x": 0.5}, ValidationError, r"\[0-9\]\+"),
        ("live", "1", {"9": 0.5}, ResourceNotFound, r"function:f:9$"),
        ("live", "1", {"1": 0.5}, InvalidParameterValue, "the alias's own version"),
        ("live", "1", {"2": 0.1, "3": 0.1}, InvalidParameterValue, "at most one additional"),
        ("live", "$LATEST", {"2": 0.1}, InvalidParameterValue, "not \\$LATEST"),
    ],
)
async def test_bad_aliases_are_refused_with_lambdas_errors(
    engine: Engine,
    name: str,
    version: str,
    routing: dict | None,
    error: type[Exception],
    message: str,
) -> None:
    await published(engine, 3)
    with pytest.raises(error, match=message):
        engine.create_alias("f", name, version, routing=routing)
    assert engine.aliases("f") == []


async def test_alias_conflicts_and_unknowns(engine: Engine) -> None:
    await published(engine, 1)
    engine.create_alias("f", "live", "1")
    with pytest.raises(ResourceConflict, match=r"Alias already exists: arn:.*:function:f:live$"):
        engine.create_alias("f", "live", "1")
    with pytest.raises(ResourceNotFound, match=r"Alias not found: arn:.*:function:f:nope$"):
        engine.update_alias("f", "nope", version="1")
    with pytest.raises(ResourceNotFound, match="Alias not found"):
        engine.delete_alias("f", "nope")
    with pytest.raises(ResourceNotFound, match="Function not found"):
        engine.create_alias("ghost", "live", "1")
    with pytest.raises(ValidationError):  # an update is checked as a create is
        engine.update_alias("f", "live", routing={"1": 2.0})
    assert dict(engine.alias("f", "live").routing) == {}


# --------------------------------------------------------------------------- persistence


async def test_versions_and_aliases_survive_a_restart(
    function_root: Path, engine_settings: EngineSettings
) -> None:
    folder = make_function(function_root, "f", code(1))
    async with Engine([function_root], engine_settings) as engine:
        first, _ = await engine.publish("f", "one")
        (folder / "app.py").write_text(code(2))
        await engine.publish("f", "two")
        engine.create_alias("f", "live", "1", routing={"2": 0.25}, description="prod")
    (folder / "app.py").write_text(code(3))
    async with Engine([function_root], engine_settings) as engine:
        assert [(v.number, v.description) for v in engine.versions("f")] == [(1, "one"), (2, "two")]
        assert engine.versions("f")[0] == first
        [alias] = engine.aliases("f")
        assert (alias.function_version, dict(alias.routing), alias.description) == (
            "1",
            {"2": 0.25},
            "prod",
        )
        assert (await run(engine, "f:1"))["code"] == 1
        assert (await run(engine, "f"))["code"] == 3
        again, created = await engine.publish("f")
        assert created and again.number == 3


async def test_another_process_publishing_is_noticed(
    function_root: Path, engine_settings: EngineSettings
) -> None:
    make_function(function_root, "f", code(1))
    async with Engine([function_root], engine_settings) as engine:
        events = engine.subscribe()
        async with Engine([function_root], engine_settings) as other:
            await other.publish("f")
        await next_event(events, RegistryChanged)  # the other process's publish was noticed
        assert [v.number for v in engine.versions("f")] == [1]


async def test_the_schema_migrates_a_version_1_database(
    function_root: Path, engine_settings: EngineSettings
) -> None:
    """A state folder from before versions existed: its records stay, the new tables appear."""
    from workbench.engine.storage.db import MIGRATIONS

    assert engine_settings.state_dir is not None
    engine_settings.state_dir.mkdir(parents=True)
    db = engine_settings.state_dir / "workbench.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(MIGRATIONS[1] + ";PRAGMA user_version=1;")
    conn.close()
    make_function(function_root, "f", code(1))
    async with Engine([function_root], engine_settings) as engine:
        await engine.invoke("f")
        await engine.publish("f")
        assert engine.store is not None and engine.store.recent()[0].qualifier is None


async def test_a_version_whose_code_vanished_from_the_store_says_so(engine: Engine) -> None:
    add_function(engine, "f", code(1))
    version, _ = await engine.publish("f")
    shutil.rmtree(version.config.folder)
    for stored in (engine.state_dir / "code").glob("*.zip"):
        stored.unlink()
    with pytest.raises(LambdaError, match="is missing from the code store"):
        await engine.invoke("f:1")
    assert (await run(engine, "f"))["code"] == 1  # $LATEST is unaffected


async def test_links_and_special_files_do_not_break_a_publish(engine: Engine) -> None:
    folder = add_function(engine, "f", code(1))
    (folder / "secret.py").symlink_to(folder / "gone")  # a dangling link is skipped
    (folder / "loop").symlink_to(folder / "loop")  # and so is a link loop
    version, _ = await engine.publish("f")
    assert version.number == 1
    (folder / "blocked").mkdir()
    (folder / "blocked" / "x.py").write_text("x = 1\n")
    os.mkfifo(folder / "pipe")  # not a regular file: left out, not read (it would block)
    second, created = await engine.publish("f")
    assert created
    with zipfile.ZipFile(
        engine.state_dir / "code" / f"{base64.b64decode(second.code_sha256).hex()}.zip"
    ) as zf:
        assert zf.namelist() == ["app.py", "blocked/x.py"]
