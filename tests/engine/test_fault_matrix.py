"""The fault matrix, under each sandbox: a handler that misbehaves gets Lambda's error, the
workbench keeps serving the function, and no process of it is left behind.

Every fault runs in namespaces with a cgroup (``isolation="auto"``, where the machine has them),
under a cgroup per environment without namespaces (``"cgroups"``) and under the rlimit fallback
(``"rlimits"``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import add_function, body, cgroups_here, until
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime.namespaces import probe

NOOP = "noop"

FAULTS = """
import ctypes, os, sys, threading, time

def handler(event, context):
    fault = event["fault"]
    if fault == "noop":
        return "fine"
    if fault == "raise":
        raise ValueError("bad input")
    if fault == "exit":
        sys.exit(3)
    if fault == "_exit":
        os._exit(0)
    if fault == "segfault":
        ctypes.string_at(0)
    if fault == "loop":
        while True:
            pass
    if fault == "burn":
        def burn():
            while True:
                pass
        for _ in range(4):
            threading.Thread(target=burn, daemon=True).start()
        time.sleep(60)
    if fault == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(8 * 1024 * 1024))
            hoard[-1][::4096] = b"x" * (len(hoard[-1]) // 4096)
    if fault == "creep":  # as sample_functions/memory-hog: 1 MB at a time, each page written
        chunks = []
        while True:
            chunk = bytearray(1024 * 1024)
            chunk[::4096] = b"x" * 256
            chunks.append(chunk)
    if fault == "threads":
        started = 0
        try:
            while started < 5000:
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
                started += 1
        except RuntimeError as e:
            return {"started": started, "error": str(e)}
        return {"started": started, "error": None}
    if fault == "files":
        held = []
        try:
            while True:
                held.append(open("/dev/null"))
        except OSError as e:
            return {"open": len(held), "errno": e.errno}
    if fault == "disk":
        path = os.path.join(os.environ["TMPDIR"], "fill")
        written = 0
        try:
            with open(path, "wb") as f:
                while True:
                    f.write(b"x" * (1024 * 1024))
                    written += 1
        except OSError as e:
            return {"mb": written, "errno": e.errno}
    if fault == "huge":
        return "x" * (7 * 1024 * 1024)
    if fault == "unmarshallable":
        return {1, 2, 3}
    if fault == "daemon":
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(600)
            os._exit(0)
        os.wait()
        return "left a daemon"
    raise AssertionError(fault)
"""


HAS_CGROUPS = cgroups_here()


@pytest.fixture(
    params=[
        pytest.param(
            "auto",
            marks=pytest.mark.skipif(
                not HAS_CGROUPS or bool(probe()), reason="no usable cgroups or namespaces here"
            ),
        ),
        pytest.param(
            "cgroups", marks=pytest.mark.skipif(not HAS_CGROUPS, reason="no usable cgroups here")
        ),
        "rlimits",
    ]
)
async def sandboxed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    root = tmp_path / "functions"
    root.mkdir()
    settings = EngineSettings(
        keep_alive_s=5.0,
        reap_interval_s=0.2,
        state_dir=tmp_path / "state",
        isolation=request.param,
        cpu="full",
    )
    async with Engine([root], settings) as eng:
        add_function(eng, "faulty", FAULTS, memory_size=128, timeout=2)
        # writing 512 MB takes a while on a busy disk
        add_function(eng, "patient", FAULTS, memory_size=128, timeout=60)
        yield eng


def leftovers(name: str) -> list[str]:
    """Live processes under this one that belong to function ``name``."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if child.environ().get("AWS_LAMBDA_FUNCTION_NAME") == name:
                found.append(f"{child.pid} {child.name()}")
        except psutil.Error:
            continue
    return found


async def run(engine: Engine, fault: str, function: str = "faulty") -> object:
    return await engine.invoke(function, json.dumps({"fault": fault}).encode())


async def still_serves_and_leaves_nothing(engine: Engine) -> None:
    after = await run(engine, NOOP)
    assert body(after) == "fine"
    for env in engine.environments("faulty"):
        env.shutdown("exit")
    await until(lambda: not leftovers("faulty"), "every process of the function to be gone")


def message(result: object) -> str:
    return str(body(result)["errorMessage"])


@pytest.mark.parametrize(
    ("fault", "error_type", "says"),
    [
        ("raise", "ValueError", "bad input"),
        ("exit", "Runtime.ExitError", "Runtime exited with error: exit status 3"),
        ("_exit", "Runtime.ExitError", "Runtime exited without providing a reason"),
        ("segfault", "Runtime.ExitError", "Runtime exited with error: signal: segmentation fault"),
        ("loop", "Sandbox.Timedout", "Task timed out after 2.00 seconds"),
        ("burn", "Sandbox.Timedout", "Task timed out after 2.00 seconds"),
        ("memory", "Runtime.ExitError", "Runtime exited with error: signal: killed"),
        (
            "huge",
            "Function.ResponseSizeTooLarge",
            "exceeded maximum allowed payload size (6291556 bytes)",
        ),
        ("unmarshallable", "Runtime.MarshalError", "Unable to marshal response"),
    ],
)
async def test_a_fault_gets_lambdas_error_and_the_workbench_goes_on(
    sandboxed: Engine, fault: str, error_type: str, says: str
) -> None:
    result = await run(sandboxed, fault)
    assert body(result)["errorType"] == error_type, body(result)
    assert says in message(result)
    await still_serves_and_leaves_nothing(sandboxed)


async def test_a_memory_bomb_is_stopped_at_the_memory_size(sandboxed: Engine) -> None:
    result = await run(sandboxed, "memory")
    assert 64 <= result.record.max_memory_mb <= 128, result.record.max_memory_mb
    await still_serves_and_leaves_nothing(sandboxed)


async def test_an_out_of_memory_kill_reports_no_more_than_the_memory_size(
    sandboxed: Engine,
) -> None:
    """Lambda never reports a Max Memory Used above Memory Size on an OOM kill; the runtime's
    last peak RSS can pass it by a few MB (pages outside RLIMIT_DATA), as 132/128 did."""
    result = await run(sandboxed, "creep")
    assert body(result)["errorType"] == "Runtime.ExitError", body(result)
    assert 64 <= result.record.max_memory_mb <= 128, result.record.max_memory_mb
    report = result.record.log_lines[-1]
    assert "\tMemory Size: 128 MB\tMax Memory Used: " in report
    used = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    assert used == result.record.max_memory_mb
    await still_serves_and_leaves_nothing(sandboxed)


async def test_a_thread_bomb_is_bounded(sandboxed: Engine) -> None:
    got = body(await run(sandboxed, "threads"))
    assert got["error"] is not None, got  # "can't start new thread"
    assert 10 <= got["started"] < 5000
    await still_serves_and_leaves_nothing(sandboxed)


async def test_file_descriptors_stop_at_lambdas_1024(sandboxed: Engine) -> None:
    got = body(await run(sandboxed, "files"))
    assert got["errno"] == 24  # EMFILE
    assert 1000 <= got["open"] < 1024
    await still_serves_and_leaves_nothing(sandboxed)


async def test_filling_tmp_stops_at_the_ephemeral_storage(sandboxed: Engine) -> None:
    got = body(await run(sandboxed, "disk", "patient"))
    assert got["errno"] == 27  # EFBIG: RLIMIT_FSIZE at ephemeral_storage (512 MB)
    assert got["mb"] == 512
    await still_serves_and_leaves_nothing(sandboxed)


async def test_a_daemonised_grandchild_does_not_outlive_its_environment(
    sandboxed: Engine,
) -> None:
    assert body(await run(sandboxed, "daemon")) == "left a daemon"
    assert leftovers("faulty")  # the daemon lives on while the environment does
    await still_serves_and_leaves_nothing(sandboxed)
