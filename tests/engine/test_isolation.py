"""Isolation: a cgroup per environment where the machine has cgroups (memory for the whole
environment, CPU in proportion to memory, Lambda's 1,024 processes, a kill nothing escapes),
the rlimit fallback (forced here with ``isolation="rlimits"``), and freezing between invocations.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import add_function, body, cgroups_here, report, until, until_reaped
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime.cgroups import CFS_PERIOD_US, FULL_VCPU_MB, LAMBDA_PIDS

MB = 1024 * 1024


needs_cgroups = pytest.mark.skipif(
    not cgroups_here(), reason="this machine gives the workbench no usable cgroups"
)


def settings(tmp_path: Path, **extra: object) -> EngineSettings:
    return EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", **extra
    )  # type: ignore[arg-type]


@pytest.fixture
async def full_cpu(function_root: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine whose invocations are not throttled (memory tests fill memory fast)."""
    async with Engine([function_root], settings(tmp_path, cpu="full")) as eng:
        yield eng


@pytest.fixture
async def proportional(function_root: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    """Lambda's CPU: in proportion to memory during invocations (the suite's default is full)."""
    async with Engine([function_root], settings(tmp_path, cpu="proportional")) as eng:
        yield eng


@pytest.fixture
async def rlimits_only(function_root: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    async with Engine([function_root], settings(tmp_path, isolation="rlimits")) as eng:
        yield eng


PROBE = """
import os, threading, time

def handler(event, context):
    kind = event["kind"]
    if kind == "where":
        return {"pid": os.getpid(), "cgroup": open("/proc/self/cgroup").read()}
    if kind == "threads":
        threads = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(event["n"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"threads": len(threads)}
    if kind == "fork":
        children = []
        for _ in range(event["n"]):
            pid = os.fork()
            if pid == 0:
                block = bytearray(event["mb"] * 1024 * 1024)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(0.5)
                os._exit(0)
            children.append(pid)
        return {"status": [os.waitpid(pid, 0)[1] for pid in children]}
    if kind == "daemon":
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(600)
            os._exit(0)
        os.wait()
        return "ok"
    if kind == "storm":
        started = 0
        try:
            for _ in range(5000):
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                started += 1
        except OSError as e:
            return {"started": started, "error": type(e).__name__}
        return {"started": started, "error": None}
    return "noop"
"""


def call(kind: str, **extra: object) -> bytes:
    return json.dumps({"kind": kind, **extra}).encode()


def _cgroup_file(env: object, controller: str, name: str) -> str:
    cgroup = env.cgroup  # type: ignore[attr-defined]
    assert cgroup is not None
    return Path(cgroup.dirs[controller], name).read_text().strip()


# ---------------------------------------------------------------------------- cgroups


@needs_cgroups
async def test_an_environment_runs_in_its_own_cgroup_with_lambdas_limits(
    proportional: Engine,
) -> None:
    engine = proportional
    add_function(engine, "probe", PROBE, memory_size=256)
    result = await engine.invoke("probe", call("where"))
    [env] = engine.environments("probe")
    assert body(result)["pid"] == env.pid
    assert env.cgroup is not None
    memory_folder = env.cgroup.dirs["memory"]
    assert memory_folder.split("/")[-1] in body(result)["cgroup"]
    assert _cgroup_file(env, "memory", "memory.limit_in_bytes") == str(256 * MB)
    assert _cgroup_file(env, "pids", "pids.max") == str(LAMBDA_PIDS)
    # INIT ran unthrottled; invocations get 256/1,769 of a CPU
    assert _cgroup_file(env, "cpu", "cpu.cfs_quota_us") == str(
        int(CFS_PERIOD_US * 256 / FULL_VCPU_MB)
    )
    # memory is the cgroup's: no per-process data limit, so thread stacks do not count
    assert "unlimited" in Path(f"/proc/{env.pid}/limits").read_text().split("Max data size")[1]
    isolation = engine.pool.isolation
    assert isolation is not None and isolation.kind == "cgroup v1"
    assert "memory for the whole environment" in isolation.describe(256)
    assert isolation.for_function(256, True) == (
        "cgroup v1 · 256 MB for all its processes · 0.14 vCPU · frozen when idle"
    )
    assert isolation.for_function(256, False).endswith("not frozen (freeze = false)")


@needs_cgroups
async def test_cpu_full_sets_no_quota(full_cpu: Engine) -> None:
    add_function(full_cpu, "probe", PROBE)
    await full_cpu.invoke("probe", call("where"))
    [env] = full_cpu.environments("probe")
    assert _cgroup_file(env, "cpu", "cpu.cfs_quota_us") == "-1"


@needs_cgroups
async def test_a_small_function_may_start_its_threads(proportional: Engine) -> None:
    # 64 threads of 8 MiB stacks: under RLIMIT_DATA a 128 MB Python function could not
    add_function(proportional, "probe", PROBE, memory_size=128, timeout=20)
    result = await proportional.invoke("probe", call("threads", n=64))
    assert body(result) == {"threads": 64}


@needs_cgroups
async def test_memory_size_is_for_the_whole_environment_children_included(
    full_cpu: Engine,
) -> None:
    """Six children of 100 MB each in a 128 MB function: the kernel kills the ones past the
    limit, and Max Memory Used is the environment's, not the runtime process's."""
    add_function(full_cpu, "probe", PROBE, memory_size=128, timeout=30)
    result = await full_cpu.invoke("probe", call("fork", n=6, mb=100))
    statuses = body(result)["status"]
    killed = [s for s in statuses if os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9]
    assert len(killed) >= 5, statuses
    assert result.record.max_memory_mb >= 100, report(result)
    assert result.record.max_memory_mb <= 128, report(result)
    # the workbench goes on serving it
    assert body(await full_cpu.invoke("probe", call("noop"))) == "noop"


@needs_cgroups
async def test_a_fork_storm_stops_at_lambdas_process_limit(full_cpu: Engine) -> None:
    add_function(full_cpu, "probe", PROBE, memory_size=1024, timeout=60)
    result = await full_cpu.invoke("probe", call("storm"))
    storm = body(result)
    assert storm["error"] == "BlockingIOError", storm  # fork: Resource temporarily unavailable
    assert storm["started"] < LAMBDA_PIDS
    [env] = full_cpu.environments("probe")
    pids = [int(p) for p in _cgroup_file(env, "pids", "cgroup.procs").split()]
    assert len(pids) > 100
    env.shutdown("exit")
    for pid in pids[:50]:
        await until_reaped(pid)


@needs_cgroups
async def test_a_daemonised_grandchild_dies_with_its_environment(engine: Engine) -> None:
    add_function(engine, "probe", PROBE)
    assert body(await engine.invoke("probe", call("daemon"))) == "ok"
    [env] = engine.environments("probe")
    inside = [int(p) for p in _cgroup_file(env, "pids", "cgroup.procs").split()]
    daemons = [p for p in inside if p != env.pid]
    assert daemons, "the daemon should be in its environment's cgroup"
    assert all(os.getsid(p) != env.pid for p in daemons)  # it left the session
    folders = list(env.cgroup.dirs.values())  # type: ignore[union-attr]
    env.shutdown("exit")
    for pid in daemons:
        await until_reaped(pid)
    await until(lambda: not any(Path(f).exists() for f in folders))


@needs_cgroups
async def test_the_engines_cgroups_are_removed_when_it_closes(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine([function_root], settings(tmp_path)) as eng:
        add_function(eng, "probe", PROBE)
        await eng.invoke("probe", call("daemon"))
        assert eng.pool.isolation is not None and eng.pool.isolation.cgroups is not None
        bases = list(eng.pool.isolation.cgroups.bases.values())
        assert all(Path(b).is_dir() for b in bases)
    assert not any(Path(b).exists() for b in bases)


@needs_cgroups
async def test_a_start_takes_the_spare_cgroup_made_ahead_with_its_own_memory_limit(
    full_cpu: Engine,
) -> None:
    engine = full_cpu
    isolation = engine.pool.isolation
    assert isolation is not None and isolation.cgroups is not None
    cgroups = isolation.cgroups
    await until(lambda: cgroups.spares, "the spare made as the engine started")
    [spare] = cgroups.spares
    add_function(engine, "small", PROBE, memory_size=128)
    add_function(engine, "large", PROBE, memory_size=512)
    await engine.invoke("small", call("where"))
    [small] = engine.environments("small")
    assert small.cgroup is not None and small.cgroup.dirs == spare  # taken, not made
    assert _cgroup_file(small, "memory", "memory.limit_in_bytes") == str(128 * MB)
    assert _cgroup_file(small, "pids", "pids.max") == str(LAMBDA_PIDS)
    await until(lambda: cgroups.spares, "the next spare, made after the start")
    [following] = cgroups.spares
    await engine.invoke("large", call("where"))
    [large] = engine.environments("large")
    assert large.cgroup is not None and large.cgroup.dirs == following
    assert _cgroup_file(large, "memory", "memory.limit_in_bytes") == str(512 * MB)
    await until(lambda: cgroups.spares, "another spare")
    left = [Path(folder) for folder in cgroups.spares[0].values()]
    cgroups.close()  # (as the engine's close does) the spare goes with the rest
    assert not any(folder.exists() for folder in left)
    cgroups.refill()  # closed: nothing is made
    assert cgroups.spares == []


# ---------------------------------------------------------------------------- the fallback


async def test_forced_rlimits_fall_back_and_say_so(rlimits_only: Engine) -> None:
    add_function(rlimits_only, "probe", PROBE, memory_size=256)
    result = await rlimits_only.invoke("probe", call("where"))
    [env] = rlimits_only.environments("probe")
    assert env.cgroup is None
    assert "workbench-" not in body(result)["cgroup"]
    data = Path(f"/proc/{env.pid}/limits").read_text().split("Max data size")[1].split()
    assert data[:2] == [str(256 * MB), str(256 * MB)]
    isolation = rlimits_only.pool.isolation
    assert isolation is not None and isolation.kind == "rlimits"
    assert isolation.describe() == (
        "rlimits: memory per process, CPU time, file size, open files "
        "(asked for with --isolation rlimits)"
    )


def test_an_unknown_isolation_is_refused(tmp_path: Path) -> None:
    from workbench.engine.runtime import Isolation

    with pytest.raises(ValueError, match="must be one of auto, cgroups, rlimits"):
        Isolation.detect("docker")
    with pytest.raises(ValueError, match="must be one of proportional, full"):
        Isolation.detect("auto", "half")


# ---------------------------------------------------------------------------- freezing

TICKER = """
import threading, time

ticks = []

def tick():
    while True:
        ticks.append(time.monotonic())
        time.sleep(0.01)

threading.Thread(target=tick, daemon=True).start()

def handler(event, context):
    if event.get("late"):
        def late():
            time.sleep(0.05)
            print("printed after the handler returned", flush=True)
        threading.Thread(target=late).start()
        return "started"
    time.sleep(event.get("sleep", 0))
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    return {"max_gap": max(gaps) if gaps else 0}
"""


def _thread_states(pid: int) -> list[str]:
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # a thread that has just ended
            continue
        states.append(stat[stat.rindex(")") + 2])
    return states


async def test_an_idle_environment_is_frozen_until_its_next_invocation(engine: Engine) -> None:
    add_function(engine, "ticker", TICKER, timeout=10)
    # (each call sleeps a little: on a loaded machine the ticker thread must get to tick at
    # all before the freeze, and again after the thaw, for the gap to be measured)
    await engine.invoke("ticker", b'{"sleep": 0.05}')
    [env] = engine.environments("ticker")
    await until(lambda: env.frozen, "the environment to freeze", explain=lambda: env.state)
    # stopped, every thread (a stop is delivered asynchronously): its ticker does not run
    await until(
        lambda: set(_thread_states(env.pid)) == {"T"},
        "every thread to stop",
        explain=lambda: _thread_states(env.pid),
    )
    await asyncio.sleep(0.5)
    assert set(_thread_states(env.pid)) == {"T"}, _thread_states(env.pid)
    gap = body(await engine.invoke("ticker", b'{"sleep": 0.05}'))["max_gap"]
    assert gap >= 0.4, gap  # the ticker stood still while the environment was idle


async def test_freeze_false_keeps_an_idle_environment_running(engine: Engine) -> None:
    add_function(engine, "ticker", TICKER, timeout=10, freeze=False)
    await engine.invoke("ticker", b"{}")
    [env] = engine.environments("ticker")
    await asyncio.sleep(0.5)
    assert not env.frozen and env.freezes == 0
    gap = body(await engine.invoke("ticker", b"{}"))["max_gap"]
    assert gap < 0.4


@pytest.mark.parametrize("freeze", [True, False])
async def test_output_after_a_response_goes_into_the_next_invocations_log(
    engine: Engine, freeze: bool
) -> None:
    add_function(engine, "ticker", TICKER, timeout=10, freeze=freeze)
    first = await engine.invoke("ticker", json.dumps({"late": True}).encode())
    assert body(first) == "started"
    await asyncio.sleep(0.3)  # unfrozen, it prints now; frozen, once thawed
    second = await engine.invoke("ticker", json.dumps({"sleep": 0.3}).encode())
    assert any("printed after the handler returned" in line for line in second.record.log_lines)
    assert not any("printed after the handler" in line for line in first.record.log_lines)


# ---------------------------------------------------------------------------- the Runtime API

VICTIM = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "genuine"
"""

ATTACKER = """
import os, urllib.request

def victims_runtime_api(name):
    # as the issue's attacker did: another environment's address, from /proc/PID/environ
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\\0")
        except OSError:
            continue
        if f"AWS_LAMBDA_FUNCTION_NAME={name}".encode() in environ:
            for item in environ:
                if item.startswith(b"AWS_LAMBDA_RUNTIME_API="):
                    return item.split(b"=", 1)[1].decode()
    return None

def handler(event, context):
    target = victims_runtime_api(event["victim"])
    if target is None:
        if not event.get("guess"):
            return {"found": None}
        target = event["guess"]  # in its namespaces it cannot see the victim: told its port
    base = f"http://{target}/2018-06-01/runtime/invocation"
    try:
        with urllib.request.urlopen(f"{base}/next", timeout=5) as answer:
            stolen = answer.read().decode()
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        forged = urllib.request.Request(
            f"{base}/{request_id}/response", data=b'"forged"', method="POST"
        )
        urllib.request.urlopen(forged, timeout=5).read()
        return {"found": target, "stolen": stolen}
    except Exception as e:
        return {"found": target, "refused": type(e).__name__}
"""


@pytest.mark.parametrize("isolation", ["auto", "cgroups", "rlimits"])
async def test_another_environment_cannot_use_an_environments_runtime_api(
    function_root: Path, tmp_path: Path, isolation: str
) -> None:
    """The issue's attack: a handler finds another environment's Runtime API in /proc, takes
    its in-flight event (a card number) from /next and posts a forged response. Refused: the
    connection is closed. In namespaces (``auto``) it cannot even see the victim; told its
    address, it is refused all the same (the loopback is still shared)."""
    if isolation != "rlimits" and not cgroups_here():
        pytest.skip("no usable cgroups here")
    async with Engine([function_root], settings(tmp_path, isolation=isolation)) as engine:
        namespaced = engine.pool.isolation is not None and engine.pool.isolation.namespaces
        name = f"victim-{isolation}"  # (not another test's victim, running beside this one)
        add_function(engine, name, VICTIM, timeout=10)
        add_function(engine, "attacker", ATTACKER, timeout=10)
        card = {"card": "4111 1111 1111 1111", "sleep": 1.5}
        victim = asyncio.create_task(engine.invoke(name, json.dumps(card).encode()))
        [env] = await until(lambda: engine.environments(name))
        await until(lambda: env.state == "busy" and env.api.current is not None)
        address = f"127.0.0.1:{env.api.port}"
        look = {"victim": name}
        if namespaced:
            # another environment's processes are not there to read ...
            assert body(await engine.invoke("attacker", json.dumps(look).encode())) == {
                "found": None
            }
            if engine.pool.isolation.network.private:  # (type narrowed by ``namespaced``)
                # ... and in a network of its own its Runtime API is at 127.0.0.1:9001 there:
                # the same address is the attacker's own, nothing of the victim's (test_netns.py)
                assert address == "127.0.0.1:9001"
                assert body(await victim) == "genuine"
                return
            look["guess"] = address
            got = body(await engine.invoke("attacker", json.dumps(look).encode()))
        else:
            got = body(await engine.invoke("attacker", json.dumps(look).encode()))
            # without namespaces, reading another environment's variables is not stopped ...
        assert got["found"] == address, got
        # ... and its Runtime API answers no one else
        assert "stolen" not in got, got
        assert got["refused"] in ("RemoteDisconnected", "ConnectionResetError", "URLError")
        result = await victim
        assert body(result) == "genuine"
        assert any(
            "refused a connection to this environment's Runtime API" in line
            for line in result.record.log_lines
        )


@pytest.mark.skipif(
    not Path("/sys/fs/cgroup/unified/cgroup.controllers").exists(),
    reason="no cgroup v2 tree beside v1 here",
)
def test_a_v2_tree_without_the_controllers_is_refused_with_the_reason() -> None:
    """The hybrid layout (v1 controllers, a v2 tree holding none of them): the v2 path says why
    it cannot be used instead of failing later."""
    from workbench.engine.runtime.cgroups import _own_cgroups, _v2

    available = Path("/sys/fs/cgroup/unified/cgroup.controllers").read_text().split()
    if {"memory", "cpu", "pids"} <= set(available):
        pytest.skip("this v2 tree has the controllers")
    why = _v2(("/sys/fs/cgroup/unified", "/"), _own_cgroups().get("", "/"))
    assert isinstance(why, str)
    assert why.startswith("cgroup v2: /sys/fs/cgroup/unified")
    assert "controller(s)" in why
