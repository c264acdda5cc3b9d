"""``workbench schedules``, run as a user runs it: a real subprocess over real folders."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import make_function
from workbench.engine.config.schedule_expr import parse_expression

CODE = "def handler(event, context):\n    return event\n"


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "-r", str(root), "schedules", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def rows(out: str) -> list[list[str]]:
    """The table's cells (columns are separated by two or more spaces)."""
    return [re.split(r"\s{2,}", line.rstrip()) for line in out.splitlines()]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "functions"
    make_function(
        root,
        "report",
        CODE,
        triggers=[
            {"type": "schedule", "expression": "cron(0 2 * * ? *)"},
            {"type": "schedule", "expression": "rate(5 minutes)"},
            {"type": "schedule", "expression": "rate(1 hour)", "enabled": False},
            {"type": "schedule", "expression": "cron(0 0 1 1 ? 2020)", "name": "y2020"},
        ],
    )
    make_function(root, "plain", CODE)  # no schedules: not listed
    make_function(root, "web", CODE, triggers=[{"type": "http", "path": "/x"}])
    return root


def test_lists_every_schedule_with_its_next_fire_times(root: Path) -> None:
    before = datetime.now(UTC)
    done = run(root)
    after = datetime.now(UTC)
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    assert table[0] == ["FUNCTION", "RULE", "EXPRESSION", "NEXT (UTC)"]
    body = {row[1]: row for row in table[1:]}
    assert list(body) == ["report-schedule", "report-schedule-2", "report-schedule-3", "y2020"]
    assert all(row[0] == "report" for row in body.values())

    cron = body["report-schedule"]
    assert cron[2] == "cron(0 2 * * ? *)"
    expected = parse_expression("cron(0 2 * * ? *)").upcoming(before, 3)
    assert cron[3] == ", ".join(t.strftime("%Y-%m-%d %H:%M") for t in expected)
    assert all(t.hour == 2 and t.minute == 0 for t in expected)

    rate = body["report-schedule-2"]
    assert rate[2] == "rate(5 minutes)"
    assert rate[3].startswith("every 5 minutes from now: ")
    times = [
        datetime.strptime(t, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        for t in rate[3].removeprefix("every 5 minutes from now: ").split(", ")
    ]
    assert len(times) == 3
    step = timedelta(minutes=5)
    assert before.replace(microsecond=0) + step <= times[0] <= after + step
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [step, step]

    assert body["report-schedule-3"][2:] == ["rate(1 hour)", "disabled"]
    assert body["y2020"][2:] == ["cron(0 0 1 1 ? 2020)", "never: its years are over"]


def test_count_and_one_function(root: Path) -> None:
    make_function(
        root, "other", CODE, triggers=[{"type": "schedule", "expression": "cron(0 12 * * ? *)"}]
    )
    done = run(root, "other", "--count", "5")
    assert done.returncode == 0, done.stderr
    [header, only] = rows(done.stdout)
    assert only[:3] == ["other", "other-schedule", "cron(0 12 * * ? *)"]
    assert len(only[3].split(", ")) == 5
    assert len(rows(run(root, "-n", "1").stdout)) == 6  # header, four of report's, one of other's


def test_unknown_function_is_exit_2(root: Path) -> None:
    done = run(root, "nope")
    assert done.returncode == 2
    assert done.stdout == ""
    assert (
        done.stderr == "workbench: function not found: nope (workbench list shows the functions)\n"
    )


def test_a_function_without_schedules(root: Path) -> None:
    done = run(root, "plain")
    assert done.returncode == 0
    assert done.stdout == ""
    assert "plain has no schedule triggers" in done.stderr
    empty = root.parent / "empty"
    empty.mkdir()
    done = run(empty)
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == (
        'no function has a schedule trigger ([[triggers]] type = "schedule" in function.toml)\n'
    )


def test_a_broken_config_is_reported_not_hidden(root: Path) -> None:
    make_function(
        root, "broken", CODE, triggers=[{"type": "schedule", "expression": "rate(1 minutes)"}]
    )
    done = run(root)
    assert done.returncode == 0, done.stderr
    broken = next(row for row in rows(done.stdout) if row[0] == "broken")
    assert broken[1:3] == ["-", "-"]
    assert broken[3].startswith("config error: ")
    assert broken[3].endswith(
        'triggers[0].expression = "rate(1 minutes)": a rate of 1 takes the singular unit: '
        "rate(1 minute)"
    )
    # the others are still listed
    assert any(row[1] == "report-schedule" for row in rows(done.stdout))
    named = run(root, "broken")
    assert named.returncode == 2
    assert named.stderr.startswith("workbench: broken: config error: ")
    assert "a rate of 1 takes the singular unit: rate(1 minute)" in named.stderr


@pytest.mark.parametrize("count", ["0", "101", "x"])
def test_a_bad_count_is_refused(root: Path, count: str) -> None:
    done = run(root, "--count", count)
    assert done.returncode == 2
    assert f"invalid count '{count}': a whole number from 1 to 100" in done.stderr


def test_needs_no_engine_and_writes_no_state(root: Path) -> None:
    assert run(root).returncode == 0
    assert not (root / ".workbench").exists()
