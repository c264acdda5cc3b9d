"""``workbench schedules``: every schedule trigger and its next fire times.

Read from the function folders alone (no engine, nothing started): a cron's next times are the
same for everyone; a rate counts from when a workbench starts, so here it counts from now.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .common import EXIT_OK, BadInput, discover_of, print_table

if TYPE_CHECKING:
    from ..engine.config import ScheduleTrigger

MAX_COUNT = 100


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"invalid count {text!r}: a whole number from 1 to {MAX_COUNT}"
        )
    return value


def _times(times: list[datetime], fmt: str) -> str:
    return ", ".join(t.strftime(fmt) for t in times)


def _next(trigger: ScheduleTrigger, count: int, now: datetime) -> str:
    if not trigger.enabled:
        return "disabled"
    schedule = trigger.schedule
    times = schedule.upcoming(now, count)
    if schedule.kind == "rate":
        return f"{schedule.describe()} from now: {_times(times, '%Y-%m-%d %H:%M:%S')}"
    if not times:
        return "never: its years are over"
    return _times(times, "%Y-%m-%d %H:%M")


def cmd_schedules(args: argparse.Namespace) -> int:
    from ..engine.sources import schedule_triggers

    found = discover_of(args)
    name = args.name
    if name is not None and name not in found.functions:
        if name in found.problems:
            raise BadInput(f"{name}: config error: {found.problems[name].error}")
        raise BadInput(f"function not found: {name} (workbench list shows the functions)")
    now = datetime.fromtimestamp(time.time(), UTC)
    rows: list[tuple[str, ...]] = [("FUNCTION", "RULE", "EXPRESSION", "NEXT (UTC)")]
    for fn_name, fn in found.functions.items():
        if name is not None and fn_name != name:
            continue
        for rule, trigger in schedule_triggers(fn):
            rows.append((fn_name, rule, trigger.expression, _next(trigger, args.count, now)))
    if name is None:
        for problem_name, problem in found.problems.items():
            rows.append((problem_name, "-", "-", f"config error: {problem.error}"))
    if len(rows) == 1:
        what = f"{name} has no schedule triggers" if name else "no function has a schedule trigger"
        print(f'{what} ([[triggers]] type = "schedule" in function.toml)', file=sys.stderr)
        return EXIT_OK
    print_table(rows)
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``schedules`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "schedules",
        parents=[common],
        help="list the schedule triggers and their next fire times (UTC)",
        description="List every schedule trigger (rate(...) or cron(...)) with its rule name "
        "and next fire times in UTC, read from the function folders. A rate counts from now "
        "here; a running workbench counts it from its start (or from the reload that added it).",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="only this function")
    p.add_argument(
        "--count",
        "-n",
        type=_count,
        default=3,
        metavar="N",
        help="how many fire times to show (default 3)",
    )
    p.set_defaults(func=cmd_schedules)
