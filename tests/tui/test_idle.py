"""An idle TUI is idle: nothing wakes it while the engine has nothing to say, and the first
event after a quiet spell is still shown (issue 17: < 0.5 % CPU when idle)."""

from __future__ import annotations

from pathlib import Path

from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.gauge import ConcurrencyGauge

from ..helpers import make_function
from .pilot import wait_until

SLOW = """
import time

def handler(event, context):
    time.sleep(0.5)
    return "done"
"""


async def test_quiet_gauge_stops_sampling_and_the_next_invocation_wakes_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "functions"
    make_function(root, "slow", SLOW, timeout=10)
    app = WorkbenchApp([root], state_dir=tmp_path / "state")
    async with app.run_test(size=(160, 45)) as pilot:
        gauge = app.query_one(ConcurrencyGauge)
        assert gauge._sampler is not None
        sampler = gauge._sampler
        # nothing in flight: the history stays all zeros, and sampling pauses
        await wait_until(pilot, lambda: sampler._active.is_set() is False)
        assert set(gauge.history) == {0}
        # the bridge posts no batch while the engine is quiet
        assert app.bridge.subscription is not None and not app.bridge.subscription._items

        await pilot.press("ctrl+r")  # an invocation of 0.5 s: one in flight
        await wait_until(pilot, lambda: gauge.total == 1)
        assert sampler._active.is_set()  # woken by the change
        await wait_until(pilot, lambda: 1 in gauge.history)  # the peak is drawn
        await wait_until(pilot, lambda: gauge.total == 0)
        assert sampler._active.is_set()  # (it pauses once the peak has scrolled out)
