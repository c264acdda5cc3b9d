"""SnapStart for Python: a published version's environment is initialised once and kept as a
stopped snapshot; each new environment of the version is a fork of it that runs the
after-restore hooks. A handler counts the hooks in files; real processes throughout."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import psutil
import pytest

from workbench.engine import Engine, EngineSettings, LambdaError

from ..helpers import add_function, body, make_function, report, until

HOOKS = """
import os, random
from snapshot_restore_py import register_after_restore, register_before_snapshot

OUT = os.environ["OUT"]


def note(what):
    with open(os.path.join(OUT, f"{what}-{os.getpid()}"), "w") as f:
        f.write(what)


note("init")


@register_before_snapshot
def before():
    note("before")


def after(tag):
    note(f"after{tag}")


register_after_restore(after, "!")


def handler(event, context):
    with open("/proc/self/cgroup") as f:
        cgroup = f.read()
    return {
        "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "pid": os.getpid(),
        "random": random.random(),
        "log_stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
        "cgroup": cgroup,
    }
"""


def notes(out: Path, what: str) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(what + "-"))


async def test_hooks_once_per_snapshot_and_once_per_restore(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    add_function(
        engine,
        "snap",
        HOOKS,
        runtime="python3.12",
        snap_start="PublishedVersions",
        environment={"OUT": str(out)},
    )
    await engine.publish("snap")
    # taken on publish, before any call: INIT and the before-snapshot hook ran once
    await until(lambda: engine.pool.snapshots.taken == 1, "the snapshot")
    snapshot = engine.pool.snapshots.environment("snap", "1")
    assert snapshot is not None
    assert notes(out, "init") == [f"init-{snapshot.pid}"]
    assert notes(out, "before") == [f"before-{snapshot.pid}"]
    assert notes(out, "after!") == []
    # kept stopped, in the function's sandbox (its rlimits)
    await until(lambda: psutil.Process(snapshot.pid).status() == psutil.STATUS_STOPPED)
    nofile = resource.prlimit(snapshot.pid, resource.RLIMIT_NOFILE)
    assert nofile == (1024, 1024)

    # three restores at once: each ran the after-restore hook once, none ran INIT again
    results = await asyncio.gather(*(engine.invoke("snap", b"{}", qualifier="1") for _ in range(3)))
    pids = {body(r)["pid"] for r in results}
    assert len(pids) == 3 and snapshot.pid not in pids
    assert notes(out, "after!") == sorted(f"after!-{pid}" for pid in pids)
    assert notes(out, "init") == [f"init-{snapshot.pid}"]
    assert notes(out, "before") == [f"before-{snapshot.pid}"]
    for result in results:
        answer = body(result)
        assert answer["type"] == "snap-start"
        assert answer["log_stream"] is None  # Lambda sets none for SnapStart functions
        line = report(result)
        assert "Init Duration" not in line
        assert "\tRestore Duration: " in line and "\tBilled Restore Duration: " in line
        assert result.record.cold and result.record.init_duration_ms is None
        assert result.record.log_lines[0].startswith("RESTORE_START Runtime Version: python:3.12")
        assert result.record.log_lines[1].startswith("RESTORE_REPORT Restore Duration: ")
    # the random module is re-seeded in each restore (it would repeat the snapshot's draws)
    assert len({body(r)["random"] for r in results}) == 3
    isolation = engine.pool.isolation
    if isolation is not None and isolation.cgroups is not None:  # a cgroup per environment:
        # each restore in one of its own, not the snapshot's
        cgroups = {body(r)["cgroup"] for r in results}
        assert len(cgroups) == 3
        assert snapshot.cgroup is not None
        assert Path(f"/proc/{snapshot.pid}/cgroup").read_text() not in cgroups

    # a warm call is neither restored nor initialised
    again = await engine.invoke("snap", b"{}", qualifier="1")
    assert not again.record.cold and "Restore Duration" not in report(again)
    assert len(notes(out, "after!")) == 3

    # $LATEST starts on demand: INIT, no hooks
    latest = await engine.invoke("snap", b"{}")
    assert body(latest)["type"] == "on-demand"
    assert "Init Duration" in report(latest) and "Restore Duration" not in report(latest)
    assert len(notes(out, "before")) == 1 and len(notes(out, "after!")) == 3


async def test_a_failing_hook(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    failing_before = HOOKS.replace('    note("before")', '    raise RuntimeError("no db yet")')
    add_function(
        engine,
        "before",
        failing_before,
        runtime="python3.13",
        snap_start="PublishedVersions",
        environment={"OUT": str(out)},
    )
    await engine.publish("before")
    with pytest.raises(LambdaError) as excinfo:
        await engine.invoke("before", b"{}", qualifier="1")
    assert excinfo.value.code == "SnapStartException"
    assert "Runtime.BeforeSnapshotError: no db yet" in str(excinfo.value)

    failing_after = HOOKS.replace('    note(f"after{tag}")', '    raise ValueError("stale")')
    add_function(
        engine,
        "after",
        failing_after,
        runtime="python3.12",
        snap_start="PublishedVersions",
        environment={"OUT": str(out)},
    )
    await engine.publish("after")
    result = await engine.invoke("after", b"{}", qualifier="1")
    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.AfterRestoreError"
    assert body(result)["errorMessage"] == "stale"


@pytest.mark.parametrize("runtime", ["python3.11", "nodejs20.x"])
async def test_refused_for_older_runtimes(engine: Engine, runtime: str) -> None:
    add_function(engine, "old", HOOKS, runtime=runtime, snap_start="PublishedVersions")
    problem = str(engine.problems["old"].error)
    assert f"{runtime} is not supported for SnapStart enabled functions." in problem


async def test_not_with_provisioned_concurrency(engine: Engine) -> None:
    add_function(
        engine,
        "both",
        HOOKS,
        runtime="python3.12",
        snap_start="PublishedVersions",
        provisioned_concurrency={"1": 1},
    )
    assert "SnapStart" in str(engine.problems["both"].error)


async def test_under_auto_isolation(tmp_path: Path, function_root: Path) -> None:
    """With namespaces available (``auto``), a SnapStart version still restores (its snapshot
    and restores run with cgroups and rlimits, outside namespaces: they share one image)."""
    make_function(
        function_root,
        "auto",
        HOOKS.replace('os.environ["OUT"]', 'os.environ["TMPDIR"]'),
        runtime="python3.12",
        snap_start="PublishedVersions",
    )
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation="auto"
    )
    async with Engine([function_root], settings) as engine:
        await engine.publish("auto")
        result = await engine.invoke("auto", b"{}", qualifier="1")
        assert body(result)["type"] == "snap-start"
        assert "\tRestore Duration: " in report(result)
        latest = await engine.invoke("auto", b"{}")  # $LATEST: on demand, in its namespaces
        assert body(latest)["type"] == "on-demand"
