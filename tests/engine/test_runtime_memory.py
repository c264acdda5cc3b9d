"""The Python runtime's memory stays flat over many warm invocations, and ``_X_AMZN_TRACE_ID``
still reads as each invocation's trace header, in ``os.environ`` and in a subprocess.

glibc's ``setenv`` keeps every value ever set: setting a fresh trace id per invocation through
``os.environ`` grew the runtime by ~144 bytes each time (2.8 MB over 20,000 calls). After
``TRACE_IN_PLACE_AFTER`` invocations the runtime writes the variable into buffers of its own
(``TraceIdVariable`` in ``bootstrap.py``); both ways are checked here.
``benchmarks/runtime_memory.py`` measures the memory over 100,000 calls.
"""

from __future__ import annotations

import asyncio
import json
import re

from workbench.engine import Engine
from workbench.runtimes.python.bootstrap import TRACE_IN_PLACE_AFTER

from ..helpers import add_function, body

WARM_UP = TRACE_IN_PLACE_AFTER + 500  # past the switch to writing the trace id in place
CALLS = 20_000
# The old runtime grew ~2,800 KB over CALLS; a flat one stays within pymalloc's and the
# allocator's noise (a fresh arena, a page or two of bookkeeping).
GROWTH_BOUND_KB = 512

TRACE_HEADER = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")

READER = """
import os
import subprocess
import sys

def handler(event, context):
    if event.get("quick"):
        return None
    if event.get("tamper") == "delete":
        del os.environ["_X_AMZN_TRACE_ID"]
    elif event.get("tamper") == "overwrite":
        os.environ["_X_AMZN_TRACE_ID"] = "Root=mine"
    elif event.get("tamper") == "putenv":
        os.putenv("_X_AMZN_TRACE_ID", "Root=c-level")
    child = subprocess.run(
        [sys.executable, "-I", "-S", "-c",
         "import os; print(os.environ.get('_X_AMZN_TRACE_ID'))"],
        capture_output=True, text=True, check=True,
    )
    return {
        "environ": os.environ.get("_X_AMZN_TRACE_ID"),
        "getenv": os.getenv("_X_AMZN_TRACE_ID"),
        "child": child.stdout.strip(),
    }
"""


def rss_kb(pid: int) -> int:
    """The process's resident set (VmRSS), in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


async def test_rss_stays_flat_over_20000_warm_invocations(engine: Engine) -> None:
    add_function(engine, "noop", "def handler(event, context):\n    return None\n")
    for _ in range(WARM_UP):
        await engine.invoke("noop", b"{}")
    [env] = engine.environments("noop")
    before = rss_kb(env.pid)
    for _ in range(CALLS):
        result = await engine.invoke("noop", b"{}")
    assert result.record.env_id == env.id  # one warm environment throughout
    growth = rss_kb(env.pid) - before
    assert growth < GROWTH_BOUND_KB, f"the runtime grew {growth} kB over {CALLS} invocations"


async def warm_past_the_switch(engine: Engine, name: str, served: int) -> None:
    """Invoke until the environment has served ``TRACE_IN_PLACE_AFTER`` invocations and one."""
    for _ in range(TRACE_IN_PLACE_AFTER + 1 - served):
        await engine.invoke(name, b'{"quick": true}')


async def read_views(engine: Engine, n: int, env_ids: set[str]) -> list[str]:
    """n invocations' trace ids, each checked to be the same in every view a handler has."""
    seen = []
    for _ in range(n):
        result = await asyncio.wait_for(engine.invoke("reader", b"{}"), 20)
        views = body(result)
        assert TRACE_HEADER.fullmatch(views["environ"]), views
        assert views["getenv"] == views["environ"]
        assert views["child"] == views["environ"]  # the C environment a child inherits
        seen.append(views["environ"])
        env_ids.add(result.record.env_id)
    return seen


async def test_each_invocation_sees_its_own_trace_id_in_environ_and_subprocesses(
    engine: Engine,
) -> None:
    add_function(engine, "reader", READER)
    env_ids: set[str] = set()
    seen = await read_views(engine, 3, env_ids)  # the cold call and warm ones: setenv
    await warm_past_the_switch(engine, "reader", served=3)
    seen += await read_views(engine, 3, env_ids)  # written in place
    assert len(env_ids) == 1
    assert len(set(seen)) == len(seen)  # a fresh one each time, not an earlier one kept


async def test_a_handler_that_changes_the_variable_does_not_keep_it_for_the_next_call(
    engine: Engine,
) -> None:
    add_function(engine, "reader", READER)
    await warm_past_the_switch(engine, "reader", served=0)  # the variable is written in place
    for tamper in ("delete", "overwrite", "putenv", "delete"):
        event = json.dumps({"tamper": tamper})
        tampered = body(await asyncio.wait_for(engine.invoke("reader", event), 20))
        if tamper == "overwrite":
            assert tampered["environ"] == tampered["child"] == "Root=mine"
        elif tamper == "delete":
            assert tampered["environ"] is None and tampered["child"] == "None"
        else:  # os.putenv changes what a child inherits, not os.environ (as in CPython)
            assert tampered["child"] == "Root=c-level"
        after = body(await asyncio.wait_for(engine.invoke("reader", b"{}"), 20))
        assert TRACE_HEADER.fullmatch(after["environ"]), (tamper, after)
        assert after["child"] == after["getenv"] == after["environ"], (tamper, after)
