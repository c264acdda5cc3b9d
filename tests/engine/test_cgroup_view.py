"""In its namespaces an environment sees its own cgroups at /sys/fs/cgroup (read-only, in a
cgroup namespace): runtimes that size themselves from their cgroup find the function's memory,
not the host's RAM, and /proc/self/cgroup names no host path."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import add_function, body, cgroups_here
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime.namespaces import probe

from .test_node_runtime import node_function

pytestmark = pytest.mark.skipif(
    bool(probe()) or not cgroups_here(), reason="needs namespaces and cgroups"
)
MB = 1024 * 1024

PYTHON = """
import os
def handler(event, context):
    lines = open("/proc/self/cgroup").read().splitlines()
    v1 = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    limit = open(v1 if os.path.exists(v1) else "/sys/fs/cgroup/memory.max").read().strip()
    try:
        open(v1 if os.path.exists(v1) else "/sys/fs/cgroup/memory.max", "w").write("1")
        write = "written"
    except OSError as e:
        write = e.errno
    return {"paths": sorted({line.split(":", 2)[2] for line in lines}), "limit": int(limit),
            "write": write}
"""


@pytest.fixture
async def sandboxed(function_root: Path, tmp_path: Path) -> AsyncIterator[Engine]:
    settings = EngineSettings(state_dir=tmp_path / "state", isolation="auto")
    async with Engine([function_root], settings) as engine:
        yield engine


async def test_a_python_environment_sees_its_own_memory_limit(sandboxed: Engine) -> None:
    add_function(sandboxed, "sized", PYTHON, memory_size=256)
    result = body(await sandboxed.invoke("sized", b"{}"))
    assert result["paths"] == ["/"]  # every hierarchy at its namespace's root: no host path
    assert result["limit"] == 256 * MB
    assert result["write"] == 30  # EROFS: a handler cannot lift its own limit


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
async def test_node_sizes_itself_from_the_functions_memory(sandboxed: Engine) -> None:
    code = """
    const os = require('os');
    exports.handler = async () => ({
      constrained: process.constrainedMemory ? process.constrainedMemory() : null,
      total: os.totalmem(),
    });
    """
    node_function(sandboxed, "nodesized", {"index.js": code}, memory_size=512)
    result = body(await sandboxed.invoke("nodesized", b"{}"))
    assert result["constrained"] == 512 * MB  # libuv reads the cgroup (Node >= 19.6)
