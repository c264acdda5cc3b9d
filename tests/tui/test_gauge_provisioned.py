"""The concurrency gauge tells provisioned environments from on-demand ones (spill-over)."""

from __future__ import annotations

from workbench.tui.widgets.gauge import FunctionGauge, function_lines


def test_busy_split_between_provisioned_and_on_demand() -> None:
    g = FunctionGauge(in_flight=3, busy=3, idle=1, provisioned=3, provisioned_busy=2)
    text = function_lines("pc", g).plain
    assert "3 busy (2 provisioned, 1 on-demand) · 1 idle · 3 provisioned" in text


def test_no_provisioned_no_split() -> None:
    text = function_lines("plain", FunctionGauge(in_flight=1, busy=1, idle=2)).plain
    assert "1 busy · 2 idle" in text and "provisioned" not in text
