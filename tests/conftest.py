"""Shared fixtures: a temp function root and a started Engine over it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings

# The suite checks behaviour, not the speed of a 128 MB function: invocations run unthrottled
# (the CPU quota in proportion to memory has its own tests, tests/engine/test_isolation.py, which
# ask for it explicitly). Serve and TUI processes started by tests inherit it.
os.environ["WORKBENCH_CPU"] = "full"
# Handlers in many tests tell the test what they did by writing a file into its folder, which a
# handler in its own namespaces cannot reach: the suite runs without them (a cgroup per
# environment where there are cgroups). tests/engine/test_namespaces.py and the fault matrix
# ask for them (isolation="auto").
os.environ.setdefault("WORKBENCH_ISOLATION", "cgroups")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Tests run the engine on the loop the commands run it on (cli/event_loop.py): uvloop,
    or asyncio's own with ``WORKBENCH_LOOP=asyncio``."""
    from workbench.cli.event_loop import chosen, loop_factory

    return {chosen(): loop_factory()}


@pytest.fixture
def function_root(tmp_path: Path) -> Path:
    """An empty folder to hold function folders (fill it with ``tests.helpers.make_function``)."""
    root = tmp_path / "functions"
    root.mkdir()
    return root


@pytest.fixture
def engine_settings(tmp_path: Path) -> EngineSettings:
    """Settings for a test engine: short keep-alive, state kept under ``tmp_path``."""
    return EngineSettings(keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state")


@pytest.fixture
async def engine(function_root: Path, engine_settings: EngineSettings) -> AsyncIterator[Engine]:
    """A started ``Engine`` over ``function_root``, closed after the test.

    Write the functions (``make_function(function_root, ...)``) *before* the first invoke and
    call ``engine.load_functions()`` to pick them up; functions written before the fixture is
    requested are found when it starts.
    """
    async with Engine([function_root], engine_settings) as eng:
        yield eng
