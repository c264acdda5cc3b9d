"""Cold starts beyond what the machine can start at once wait their turn, fairly, and the wait is
shown but never billed nor counted against the timeout (issue #14)."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings
from workbench.engine.invoke.start_gate import StartGate
from workbench.engine.runtime.host import raise_open_files_limit

from ..helpers import body, make_function

# A runtime that takes 0.6 s before it first connects, then answers how much time it has left.
SLOW_BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
sleep 0.6
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" -o /dev/null "$API/invocation/next"
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  DEADLINE=$(grep -Fi Lambda-Runtime-Deadline-Ms "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  NOW=$(date +%s%3N)
  curl -sS -o /dev/null "$API/invocation/$ID/response" -d "{\"remaining\": $((DEADLINE - NOW))}"
done
"""


async def test_the_gate_lets_limit_in_and_serves_the_rest_round_robin() -> None:
    gate = StartGate(2)
    order: list[str] = []

    async def start(function: str, tag: str) -> float:
        waited = await gate.enter(function)
        order.append(tag)
        return waited

    assert await start("a", "a1") == 0.0 and await start("a", "a2") == 0.0
    assert gate.starting == 2
    # a burst of "a", then one call of "b": b is served second, not after the whole burst
    waiting = [asyncio.create_task(start("a", f"a{i}")) for i in range(3, 6)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(start("b", "b1")))
    await asyncio.sleep(0)
    assert gate.queued == 4 and order == ["a1", "a2"]
    for _ in range(4):
        gate.leave()
        await asyncio.sleep(0)
    waited = await asyncio.gather(*waiting)
    assert order == ["a1", "a2", "a3", "b1", "a4", "a5"]
    assert all(w > 0 for w in waited)
    assert gate.starting == 2 and gate.queued == 0


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    gate = StartGate(1)
    await gate.enter("a")
    first = asyncio.create_task(gate.enter("a"))
    second = asyncio.create_task(gate.enter("a"))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    gate.leave()
    assert await asyncio.wait_for(second, 5) >= 0.0
    gate.leave()
    assert gate.starting == 0


def test_a_gate_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StartGate(0)


@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("curl") is None,
    reason="the runtime here is a bash bootstrap that uses curl",
)
async def test_queued_cold_starts_wait_without_timing_out_and_the_wait_is_shown(
    function_root: Path, tmp_path: Path
) -> None:
    """One runtime may start at a time, and this one takes 0.6 s before it connects (a slot is
    held until then). Three cold calls with a 1 s timeout: the third waits over a second for its
    turn; it must not time out, and its wait is on its record, not in Duration or Billed
    Duration; its deadline starts when it gets the event."""
    folder = function_root / "slowstart"
    folder.mkdir()
    (folder / "function.toml").write_text('runtime = "provided"\nhandler = "x.y"\ntimeout = 1\n')
    bootstrap = folder / "bootstrap"
    bootstrap.write_text(SLOW_BOOTSTRAP)
    bootstrap.chmod(0o755)
    settings = EngineSettings(state_dir=tmp_path / "state", start_concurrency=1)
    async with Engine([function_root], settings) as engine:
        results = await asyncio.gather(*(engine.invoke("slowstart") for _ in range(3)))
    results.sort(key=lambda r: r.record.start_wait_ms)
    records = [r.record for r in results]
    assert [r.status for r in records] == ["success"] * 3
    assert all(r.cold for r in records)
    assert records[0].start_wait_ms == 0.0
    assert records[2].start_wait_ms > 1000  # behind two runtimes' 0.6 s starts
    for result in results:
        record = result.record
        assert record.duration_ms < 500  # the handler's own time
        assert record.billed_ms <= record.duration_ms + (record.init_duration_ms or 0) + 1
        assert body(result)["remaining"] > 800  # the clock started when it got the event
    assert any(line.startswith("REPORT") for line in records[2].log_lines)
    assert not any("Waited" in line for line in records[2].log_lines)  # REPORT stays Lambda's


async def test_many_concurrent_cold_starts_all_succeed(function_root: Path, tmp_path: Path) -> None:
    """More cold starts than the gate admits at once: every one runs, none is throttled or
    times out, and the engine ends with one environment per call."""
    make_function(
        function_root,
        "sleeper",
        "import time\ndef handler(event, context):\n    time.sleep(0.3)\n    return 1\n",
    )
    settings = EngineSettings(state_dir=tmp_path / "state", start_concurrency=2)
    async with Engine([function_root], settings) as engine:
        results = await asyncio.gather(*(engine.invoke("sleeper") for _ in range(12)))
        assert [r.record.status for r in results] == ["success"] * 12
        assert len(engine.environments("sleeper")) == 12
        assert engine.pool.gate.starting == 0 and engine.pool.gate.queued == 0


# After each response, the runtime works 1.5 s more before it asks for the next event (as a
# runtime flushing telemetry might).
LINGERING_BOOTSTRAP = SLOW_BOOTSTRAP.replace("sleep 0.6\n", "").replace(
    '-d "{\\"remaining\\": $((DEADLINE - NOW))}"\n',
    '-d "{\\"remaining\\": $((DEADLINE - NOW))}"\n  sleep 1.5\n',
)


@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("curl") is None,
    reason="the runtime here is a bash bootstrap that uses curl",
)
async def test_the_timeout_runs_from_when_the_runtime_takes_the_event(engine: Engine) -> None:
    """A warm call handed to a runtime that is still busy after its last response waits for
    it to ask; its 1 s timeout starts only then, so it does not time out."""
    assert "sleep 1.5" in LINGERING_BOOTSTRAP
    folder = engine.roots[0] / "lingers"
    folder.mkdir()
    (folder / "function.toml").write_text('runtime = "provided"\nhandler = "x.y"\ntimeout = 1\n')
    (folder / "bootstrap").write_text(LINGERING_BOOTSTRAP)
    (folder / "bootstrap").chmod(0o755)
    engine.load_functions()
    first = await engine.invoke("lingers")
    second = await engine.invoke("lingers")  # the runtime lingers 1.5 s before it asks
    assert (first.record.status, second.record.status) == ("success", "success")
    assert not second.record.cold
    assert body(second)["remaining"] > 800
    assert second.record.duration_ms < 500


def test_the_engine_raises_its_open_files_limit_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        raised = raise_open_files_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raised
        assert raised == (hard if hard != resource.RLIM_INFINITY else raised) and raised > 256
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_warm_calls_work_once_descriptors_pass_1024(engine: Engine) -> None:
    """An environment whose pidfd is past 1,024 (a few hundred environments in) is checked with
    poll, not select: warm calls keep working (they were all 500s)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        pytest.skip(f"needs an open files limit of 2048, this process has {soft}")
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert max(filler) > 1024
        make_function(engine.roots[0], "hi", "def handler(event, context):\n    return 1\n")
        engine.load_functions()
        cold = await engine.invoke("hi")
        warm = await engine.invoke("hi")
        assert (cold.record.status, warm.record.status) == ("success", "success")
        assert cold.record.cold and not warm.record.cold
    finally:
        for fd in filler:
            os.close(fd)


def test_descendants_are_found_from_the_process_itself() -> None:
    """Killing an environment walks its own process tree (/proc/PID/task/*/children), not every
    process on the machine: the same tree psutil finds by scanning them all."""
    import subprocess
    import time

    import psutil

    from workbench.engine.runtime.processes import descendants_of

    tree = subprocess.Popen(
        ["sh", "-c", "sleep 60 & (sleep 60 & sleep 60 & wait) & wait"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        expected: set[int] = set()
        while len(expected) < 5 and time.monotonic() < deadline:  # 3 sleeps, 1 subshell, ...
            expected = {p.pid for p in psutil.Process(tree.pid).children(recursive=True)}
            time.sleep(0.02)
        assert len(expected) >= 4
        assert set(descendants_of(tree.pid)) == expected
    finally:
        os.killpg(tree.pid, 9)
        tree.wait()
