"""Concurrency, throttling, the engine event stream, no orphans, and the store after a restart.

Real runtimes in real processes: concurrent calls must really overlap in separate environments,
limits answer with Lambda's 429, every lifecycle phase reaches every subscriber, and no process a
handler starts survives the engine (on close, on a timeout, on SIGTERM or SIGINT).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil
import pytest

from workbench.engine import (
    ConcurrencyChanged,
    Engine,
    EngineSettings,
    EnvironmentEvent,
    InvokeEnd,
    InvokeResult,
    InvokeStart,
    LogLine,
    Subscription,
    Throttled,
    TooManyRequests,
    invoke_answer_first,
)
from workbench.engine.invoke.scaling import ScalingRate
from workbench.engine.storage.store import RecordStore

from ..helpers import WAIT_S, add_function, make_function, until_reaped, until_sync

REPO = Path(__file__).resolve().parents[2]

SLEEPER = """
import os, time

def handler(event, context):
    start = time.time()
    time.sleep(event.get("sleep", 0.5))
    return {"pid": os.getpid(), "start": start, "end": time.time()}
"""

CHATTY = """
import os, time

def handler(event, context):
    print("first line", flush=True)
    print("second line", context.aws_request_id, flush=True)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("crash"):
        os._exit(3)
    return {"pid": os.getpid()}
"""

# Starts three kinds of process a user's code really starts, and reports their pids.
SPAWNER = """
import json, os, subprocess, time

def daemon(setsid):
    # The classic double fork: the grandchild is re-parented away from the runtime.
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        if setsid:
            os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            os.close(w)
            time.sleep(300)
        os._exit(0)
    os.close(w)
    os.waitpid(child, 0)
    pid = int(os.read(r, 64))
    os.close(r)
    return pid

def handler(event, context):
    pids = {
        "group": subprocess.Popen(["sleep", "300"]).pid,
        "session": subprocess.Popen(["sleep", "300"], start_new_session=True).pid,
        "daemon": daemon(setsid=False),
        "setsid_daemon": daemon(setsid=True),
    }
    print("PIDS " + json.dumps(pids), flush=True)
    if event.get("hang"):
        time.sleep(60)
    return pids
"""


def settings(tmp_path: Path, **kw) -> EngineSettings:
    kw.setdefault("state_dir", tmp_path / "state")
    return EngineSettings(**kw)


def payload(result: InvokeResult) -> dict:
    assert result.function_error is None, result.payload
    return json.loads(result.payload)


def running(pid: int) -> bool:
    """The pid is in the process table: a zombie counts, since nobody reaped it."""
    return psutil.pid_exists(pid)


def really_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until_gone(pids: list[int], timeout: float = WAIT_S) -> list[int]:
    """Pids still present (running or unreaped) once they are all gone or ``timeout`` passed.

    A process started after this call is another one that reuses a pid (pids wrap around at
    32768, and the suite runs in parallel): it does not count, and is never killed.
    """
    # now, on the clock psutil's create_time() is read from (clock ticks since boot), to the tick
    asked = psutil.boot_time() + float(Path("/proc/uptime").read_text().split()[0]) + 0.02

    def present(pid: int) -> bool:
        try:
            return psutil.Process(pid).create_time() <= asked
        except psutil.NoSuchProcess:
            return False

    with contextlib.suppress(AssertionError):
        until_sync(lambda: not any(present(p) for p in pids), "them to go", timeout=timeout)
    return [p for p in pids if present(p)]


def describe(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            out.append(f"{pid} {p.name()} {p.status()} ppid={p.ppid()}")
        except psutil.NoSuchProcess:
            out.append(f"{pid} gone")
    return out


def assert_all_gone(pids: list[int]) -> None:
    """Every pid is gone (killed and reaped); a failing check still kills what it found."""
    left = wait_until_gone(pids)
    report = describe(left)
    for pid in left:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
    assert left == [], report


def pids_from_log(result: InvokeResult) -> dict[str, int]:
    [line] = [x for x in result.record.log_lines if x.startswith("PIDS ")]
    return json.loads(line[len("PIDS ") :])


async def next_matching(sub: Subscription, match: Callable[[object], bool], timeout: float = 5.0):
    async def find():
        while True:
            event = await sub.get()
            if match(event):
                return event

    return await asyncio.wait_for(find(), timeout)


def is_shutdown(env_id: str) -> Callable[[object], bool]:
    return lambda e: (
        isinstance(e, EnvironmentEvent) and e.env_id == env_id and e.phase == "shutdown"
    )


# --------------------------------------------------------------------------- running at once


async def test_concurrent_invokes_run_in_separate_environments_at_once(engine: Engine) -> None:
    add_function(engine, "sleeper", SLEEPER)
    a, b = await asyncio.gather(
        engine.invoke("sleeper", b'{"sleep": 0.5}'), engine.invoke("sleeper", b'{"sleep": 0.5}')
    )
    pa, pb = payload(a), payload(b)
    assert pa["pid"] != pb["pid"]
    assert a.record.env_id != b.record.env_id
    assert a.record.cold and b.record.cold
    # The two handler runs overlapped in time: neither waited for the other.
    assert pa["start"] < pb["end"] and pb["start"] < pa["end"], (pa, pb)
    assert len(engine.environments("sleeper")) == 2
    state = engine.function_state("sleeper")
    assert state is not None and state.in_flight == 0 and len(state.idle) == 2
    assert engine.total_in_flight == 0

    # Both stay warm: two more concurrent calls reuse both environments.
    c, d = await asyncio.gather(
        engine.invoke("sleeper", b'{"sleep": 0.2}'), engine.invoke("sleeper", b'{"sleep": 0.2}')
    )
    assert {payload(c)["pid"], payload(d)["pid"]} == {pa["pid"], pb["pid"]}
    assert not c.record.cold and not d.record.cold


# --------------------------------------------------------------------------- throttling


def assert_throttle(error: BaseException, reason: str) -> None:
    assert isinstance(error, TooManyRequests), error
    assert error.reason == reason
    assert error.status == 429
    assert error.code == "TooManyRequestsException"
    expected = {"Reason": reason, "Type": "User", "message": "Rate Exceeded."}
    assert error.body() == expected
    assert json.loads(error.to_json()) == expected


async def test_reserved_concurrency_throttles_past_the_limit(engine: Engine) -> None:
    add_function(engine, "single", SLEEPER, reserved_concurrency=1)
    sub = engine.subscribe()
    results = await asyncio.gather(
        engine.invoke("single", b'{"sleep": 0.3}'),
        engine.invoke("single", b'{"sleep": 0.3}'),
        return_exceptions=True,
    )
    ok = [r for r in results if isinstance(r, InvokeResult)]
    errors = [r for r in results if not isinstance(r, InvokeResult)]
    assert len(ok) == 1 and len(errors) == 1, results
    payload(ok[0])
    assert_throttle(errors[0], "ReservedFunctionConcurrentInvocationLimitExceeded")
    state = engine.function_state("single")
    assert state is not None and state.throttles == 1 and state.in_flight == 0
    assert len(engine.environments("single")) == 1  # the throttled call started nothing
    throttles = [e for e in sub.get_nowait() if isinstance(e, Throttled)]
    assert [(t.function, t.reason) for t in throttles] == [
        ("single", "ReservedFunctionConcurrentInvocationLimitExceeded")
    ]
    # Once the slot is free again, a call goes through.
    assert not (await engine.invoke("single", b'{"sleep": 0}')).record.cold


async def test_reserved_concurrency_zero_throttles_everything(engine: Engine) -> None:
    add_function(engine, "off", SLEEPER, reserved_concurrency=0)
    for _ in range(2):
        with pytest.raises(TooManyRequests) as info:
            await engine.invoke("off", b'{"sleep": 0}')
        assert_throttle(info.value, "ReservedFunctionConcurrentInvocationLimitExceeded")
    assert engine.environments("off") == []
    state = engine.function_state("off")
    assert state is not None and state.in_flight == 0 and state.throttles == 2


async def test_a_throttle_answered_first_is_the_callers_and_logged_nowhere_else(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The Invoke API's path (``invoke_answer_first``): a throttle is raised to its caller (a
    429), and is not also logged as an invocation that failed after its answer went out."""
    add_function(engine, "off", SLEEPER, reserved_concurrency=0)
    with caplog.at_level(logging.WARNING, logger="workbench.invoke"):
        with pytest.raises(TooManyRequests) as info:
            await invoke_answer_first(engine, "off", b'{"sleep": 0}')
        assert_throttle(info.value, "ReservedFunctionConcurrentInvocationLimitExceeded")
        add_function(engine, "on", SLEEPER)
        answer = await invoke_answer_first(engine, "on", b'{"sleep": 0}')  # (and one that runs)
        assert answer.result is not None and json.loads(answer.payload)["pid"] > 0
        await asyncio.sleep(0)  # (the ended task's callback)
    assert "after its answer" not in caplog.text, caplog.text


async def test_account_limit_throttles_the_call_past_it(
    function_root: Path, tmp_path: Path
) -> None:
    make_function(function_root, "busy", SLEEPER)
    async with Engine([function_root], settings(tmp_path, account_limit=2)) as engine:
        results = await asyncio.gather(
            *(engine.invoke("busy", b'{"sleep": 0.3}') for _ in range(3)),
            return_exceptions=True,
        )
        errors = [r for r in results if not isinstance(r, InvokeResult)]
        assert len(errors) == 1, results
        assert_throttle(errors[0], "ConcurrentInvocationLimitExceeded")
        assert len({payload(r)["pid"] for r in results if isinstance(r, InvokeResult)}) == 2
        assert engine.total_in_flight == 0
        # The limit counts what runs now, not what ran: three calls in a row all succeed.
        for _ in range(3):
            payload(await engine.invoke("busy", b'{"sleep": 0}'))


async def test_the_scaling_rate_throttles_new_environments_past_it_not_warm_ones(
    function_root: Path, tmp_path: Path
) -> None:
    """--scaling-rate 2: three calls at once need three new environments; two start, the third
    is throttled as Lambda throttles a burst it cannot scale to. Calls that find an idle
    environment are never limited by it, and other functions have allowances of their own."""
    make_function(function_root, "burst", SLEEPER)
    make_function(function_root, "other", SLEEPER)
    # (time_scale 100: one environment comes back every 500 s, none within this test however
    # slow the machine)
    async with Engine(
        [function_root], settings(tmp_path, scaling_rate=2, time_scale=100.0)
    ) as engine:
        sub = engine.subscribe()
        results = await asyncio.gather(
            *(engine.invoke("burst", b'{"sleep": 0.3}') for _ in range(3)),
            return_exceptions=True,
        )
        errors = [r for r in results if not isinstance(r, InvokeResult)]
        assert len(errors) == 1, results
        assert_throttle(errors[0], "FunctionInvocationRateLimitExceeded")
        assert len(engine.environments("burst")) == 2  # the throttled call started nothing
        throttles = [e for e in sub.get_nowait() if isinstance(e, Throttled)]
        assert [(t.function, t.reason) for t in throttles] == [
            ("burst", "FunctionInvocationRateLimitExceeded")
        ]
        state = engine.function_state("burst")
        assert state is not None and state.throttles == 1 and state.in_flight == 0
        # the two warm environments serve any number of calls; a third new one is refused
        for _ in range(4):
            assert not (await engine.invoke("burst", b'{"sleep": 0}')).record.cold
        results = await asyncio.gather(
            *(engine.invoke("burst", b'{"sleep": 0.3}') for _ in range(3)),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, InvokeResult) for r in results) == 1, results
        # another function scales on its own allowance
        both = await asyncio.gather(*(engine.invoke("other", b'{"sleep": 0.3}') for _ in range(2)))
        assert all(r.record.cold for r in both)


def test_the_scaling_rate_refills_continuously_and_banks_nothing() -> None:
    """Lambda's rule (its scaling-behavior page): 1,000 new environments per function every
    10 s, refilled continuously, never more than 1,000 at hand."""
    now = [0.0]
    rate = ScalingRate(1000, clock=lambda: now[0])
    assert sum(rate.take("f") for _ in range(1001)) == 1000  # a burst: 1,000, then throttled
    assert rate.take("g")  # each function its own allowance
    now[0] = 0.5
    assert sum(rate.take("f") for _ in range(100)) == 50  # 100 a second come back, not 1,000
    now[0] = 3600.0  # an hour idle banks nothing past 1,000
    assert sum(rate.take("f") for _ in range(2000)) == 1000
    scaled = ScalingRate(5, time_scale=0.01, clock=lambda: now[0])  # --time-scale 0.01
    assert sum(scaled.take("f") for _ in range(10)) == 5
    now[0] += 0.1  # ten seconds of Lambda's time
    assert sum(scaled.take("f") for _ in range(10)) == 5
    with pytest.raises(ValueError, match="at least 1"):
        ScalingRate(0)


# --------------------------------------------------------------------------- the event stream


async def test_event_stream_of_a_cold_then_warm_invoke(engine: Engine) -> None:
    add_function(engine, "chatty", CHATTY)
    first, second = engine.subscribe(), engine.subscribe()
    result = await engine.invoke("chatty", b"{}")
    rid, env_id = result.record.request_id, result.record.env_id
    events = first.get_nowait()
    assert second.get_nowait() == events  # every subscriber gets every event

    def index(match: Callable[[object], bool]) -> int:
        return next(i for i, e in enumerate(events) if match(e))

    phases = [e for e in events if isinstance(e, EnvironmentEvent)]
    assert [e.phase for e in phases] == ["init_start", "runtime_init", "function_init", "init_done"]
    assert all(e.env_id == env_id and e.function == "chatty" for e in phases)
    assert all(e.pid == payload(result)["pid"] for e in phases)
    init_done = phases[-1]
    assert init_done.duration_ms == pytest.approx(result.record.init_duration_ms)

    starts = [e for e in events if isinstance(e, InvokeStart)]
    assert [(s.request_id, s.env_id, s.cold) for s in starts] == [(rid, env_id, True)]
    logs = [e for e in events if isinstance(e, LogLine)]
    assert [(x.request_id, x.line) for x in logs] == [
        (rid, "first line"),
        (rid, f"second line {rid}"),
    ]
    ends = [e for e in events if isinstance(e, InvokeEnd)]
    assert [e.record for e in ends] == [result.record]
    concurrency = [e for e in events if isinstance(e, ConcurrencyChanged)]
    assert [(c.in_flight, c.total_in_flight) for c in concurrency] == [(1, 1), (0, 0)]
    assert (concurrency[0].busy, concurrency[-1].busy, concurrency[-1].idle) == (1, 0, 1)

    i_init = index(lambda e: e is init_done)
    i_start = index(lambda e: isinstance(e, InvokeStart))
    i_logs = [index(lambda e, x=x: e is x) for x in logs]
    i_end = index(lambda e: isinstance(e, InvokeEnd))
    i_busy = index(lambda e: isinstance(e, ConcurrencyChanged) and e.in_flight == 1)
    i_free = index(lambda e: isinstance(e, ConcurrencyChanged) and e.in_flight == 0)
    assert i_busy < i_start
    assert i_init < i_start < min(i_logs) <= max(i_logs) < i_end < i_free

    # Warm: no lifecycle phases, a warm InvokeStart.
    warm = await engine.invoke("chatty", b"{}")
    events = first.get_nowait()
    assert second.get_nowait() == events
    assert not [e for e in events if isinstance(e, EnvironmentEvent)]
    [start] = [e for e in events if isinstance(e, InvokeStart)]
    assert (start.request_id, start.env_id, start.cold) == (warm.record.request_id, env_id, False)

    # A subscriber that closed gets nothing more; the other still does.
    second.close()
    await engine.close()
    [shutdown] = [e for e in first.get_nowait() if isinstance(e, EnvironmentEvent)]
    assert (shutdown.phase, shutdown.reason, shutdown.env_id) == ("shutdown", "exit", env_id)
    assert second.get_nowait() == []
    assert not running(payload(result)["pid"])


async def test_timeout_shuts_the_environment_down_with_reason_timeout(engine: Engine) -> None:
    add_function(engine, "slow", CHATTY, timeout=1)
    sub = engine.subscribe()
    warm_up = await engine.invoke("slow", b"{}")
    pid = payload(warm_up)["pid"]
    result = await engine.invoke("slow", b'{"sleep": 10}')
    assert result.record.status == "timeout"
    shutdown = await next_matching(sub, is_shutdown(result.record.env_id))
    assert shutdown.reason == "timeout"
    assert shutdown.pid == pid
    await until_reaped(pid)  # killed and reaped
    assert engine.environments("slow") == []


async def test_crash_shuts_the_environment_down_with_reason_crash(engine: Engine) -> None:
    add_function(engine, "crashy", CHATTY)
    sub = engine.subscribe()
    warm_up = await engine.invoke("crashy", b"{}")
    result = await engine.invoke("crashy", b'{"crash": true}')
    assert result.record.status == "crash"
    shutdown = await next_matching(sub, is_shutdown(result.record.env_id))
    assert shutdown.reason == "crash"
    assert not running(payload(warm_up)["pid"])
    assert engine.environments("crashy") == []


async def test_idle_environments_are_reaped(function_root: Path, tmp_path: Path) -> None:
    make_function(function_root, "idler", CHATTY)
    s = settings(tmp_path, keep_alive_s=0.3, reap_interval_s=0.1)
    async with Engine([function_root], s) as engine:
        sub = engine.subscribe()
        result = await engine.invoke("idler", b"{}")
        pid = payload(result)["pid"]
        shutdown = await next_matching(sub, is_shutdown(result.record.env_id))
        assert shutdown.reason == "idle"
        assert engine.environments("idler") == []
        await until_reaped(pid)  # killed and reaped
        # The gauge heard that the warm environment is gone.
        after = sub.get_nowait()
        assert any(isinstance(e, ConcurrencyChanged) and e.idle == 0 for e in after)
        again = await engine.invoke("idler", b"{}")
        assert again.record.cold and payload(again)["pid"] != pid


async def test_an_environment_in_use_is_not_reaped(function_root: Path, tmp_path: Path) -> None:
    make_function(function_root, "worker", CHATTY)
    s = settings(tmp_path, keep_alive_s=0.3, reap_interval_s=0.1)
    async with Engine([function_root], s) as engine:
        first = await engine.invoke("worker", b"{}")
        # Busy for longer than the keep-alive, with reaper ticks in between.
        second = await engine.invoke("worker", b'{"sleep": 0.6}')
        assert second.record.status == "success"
        assert second.record.env_id == first.record.env_id


# --------------------------------------------------------------------------- no orphans


@pytest.fixture(params=["cgroups", "rlimits"])
async def either(
    function_root: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Engine]:
    """An engine with a cgroup per environment (whose processes go with it), and one with
    the rlimits alone, where processes that left the environment's group and were re-parented
    to the engine are found by its variables."""
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation=request.param
    )
    async with Engine([function_root], settings) as eng:
        yield eng


async def test_no_handler_process_survives_engine_close(either: Engine) -> None:
    engine = either
    add_function(engine, "spawner", SPAWNER)
    result = await engine.invoke("spawner", b"{}")
    pids = payload(result)
    for name, pid in pids.items():
        assert really_running(pid), f"{name} ({pid}) should be running before close"
    await engine.close()
    await asyncio.to_thread(assert_all_gone, list(pids.values()))


async def test_no_handler_process_survives_a_timeout(either: Engine) -> None:
    engine = either
    add_function(engine, "spawner", SPAWNER, timeout=1)
    result = await engine.invoke("spawner", b'{"hang": true}')
    assert result.record.status == "timeout"
    pids = pids_from_log(result)
    # Gone while the engine runs on, not only once it closes.
    await asyncio.to_thread(assert_all_gone, list(pids.values()))
    # The engine is fine afterwards.
    again = await engine.invoke("spawner", b"{}")
    assert again.record.cold
    await engine.close()
    await asyncio.to_thread(assert_all_gone, list(payload(again).values()))


HOST_SCRIPT = """
import asyncio, json, signal, sys
from pathlib import Path
from workbench.engine import Engine, EngineSettings

async def main():
    root, state = Path(sys.argv[1]), Path(sys.argv[2])
    engine = Engine([root], EngineSettings(state_dir=state))
    await engine.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # as the CLI does
        loop.add_signal_handler(sig, stop.set)
    result = await engine.invoke("spawner", b"{}")
    print(json.dumps(json.loads(result.payload)), flush=True)
    await stop.wait()
    await engine.close()
    print("closed", flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_no_handler_process_survives_a_signal_to_the_host(
    function_root: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    make_function(function_root, "spawner", SPAWNER)
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(HOST_SCRIPT))
    host = subprocess.Popen(
        [sys.executable, str(script), str(function_root), str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        text=True,
    )
    try:
        line = host.stdout.readline()
        assert line, host.stderr.read()
        pids = json.loads(line)
        for name, pid in pids.items():
            assert really_running(pid), f"{name} ({pid}) should be running"
        host.send_signal(sig)
        out, err = host.communicate(timeout=15)
        assert host.returncode == 0, err
        assert out == "closed\n"
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    assert_all_gone(list(pids.values()))


# --------------------------------------------------------------------------- the store


async def test_records_are_readable_after_a_restart(function_root: Path, tmp_path: Path) -> None:
    make_function(function_root, "chatty", CHATTY)
    s = settings(tmp_path)
    async with Engine([function_root], s) as engine:
        ok = await engine.invoke("chatty", b'{"n": 1}', trigger="http")
        crashed = await engine.invoke("chatty", b'{"crash": true}')
    assert crashed.record.status == "crash"

    async with Engine([function_root], settings(tmp_path)) as reopened:
        assert reopened.store is not None
        for result in (ok, crashed):
            stored = reopened.store.get(result.record.request_id)
            assert stored == result.record  # every field, the log lines included
        assert ok.record.trigger == "http" and ok.record.cold and ok.record.log_lines
        assert f"second line {ok.record.request_id}" in ok.record.log_lines
        recent = reopened.store.recent("chatty")
        assert [r.request_id for r in recent] == [
            crashed.record.request_id,
            ok.record.request_id,
        ]
        # New records join the old ones.
        await reopened.invoke("chatty", b"{}")
        assert reopened.store.count("chatty") == 3

    # And another process (the CLI) can read them without an engine.
    with RecordStore.open_readonly(s.state_dir / "workbench.db") as store:
        assert store.get(ok.record.request_id) == ok.record
        assert store.count() == 3


def test_default_state_dir_is_beside_the_root(function_root: Path) -> None:
    engine = Engine([function_root])
    assert engine.state_dir == function_root.resolve() / ".workbench"


# --------------------------------------------------------------------------- sanity of helpers


def test_running_counts_an_unreaped_zombie() -> None:
    child = subprocess.Popen(["true"])
    until_sync(lambda: not really_running(child.pid), "the child to exit", step=0.01)
    assert running(child.pid) and not really_running(child.pid)  # a zombie until reaped
    child.wait()
    assert not running(child.pid)
