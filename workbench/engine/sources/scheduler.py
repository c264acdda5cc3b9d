"""Schedule triggers: ``rate(...)`` / ``cron(...)`` → EventBridge Scheduled Events, async.

A Source (``sources.py``): one task per enabled ``[[triggers]] type = "schedule"`` of each
function's ``$LATEST``. Each task computes its next fire time from the wall clock every time
(no drift from summed sleeps), sleeps towards it in short steps (the loop's monotonic clock
stops while a laptop is suspended; the wall clock does not), and then sends one event with
``engine.invoke_event``. A schedule that wakes late — after a suspend — fires once, for the
time it was waiting for, and goes on from now: EventBridge does not backfill missed runs.

rate schedules count from an anchor: EventBridge's "starts when you create the scheduled event
rule" is here when the engine starts or when the trigger appears on a reload; ``time_scale``
multiplies the interval. cron follows the wall clock in UTC, unscaled. A trigger unchanged by
a reload keeps its task and its anchor.

The rule's name is the trigger's ``name``, or ``<function>-schedule`` (``-2``, ``-3`` … for a
function's second, third … unnamed schedule). Two functions may name the same rule: one rule
with two targets, as in EventBridge.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..config.triggers import ScheduleTrigger, triggers_of
from ..model.errors import LambdaError
from ..model.events import ScheduleFired
from ..shapes.eventbridge import scheduled_event

if TYPE_CHECKING:
    from ..config.function import FunctionConfig
    from .host import SourceHost

log = logging.getLogger("workbench.scheduler")

MAX_STEP_S = 30.0  # recheck the wall clock at least this often while waiting


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """One schedule trigger as the TUI, serve and the CLI show it (times are epoch seconds)."""

    function: str
    rule: str
    expression: str
    enabled: bool
    next_times: tuple[float, ...]
    last_fired_at: float | None = None
    last_request_id: str | None = None


@dataclass(eq=False)
class _Rule:
    function: str
    rule: str
    trigger: ScheduleTrigger
    anchor: float  # epoch seconds: rate intervals count from here
    task: asyncio.Task[None] | None = None
    last_scheduled: float | None = None  # the scheduled time of the last fire
    last_fired_at: float | None = None
    last_request_id: str | None = None
    key: tuple = field(default=())


def rule_names(function: str, triggers: list[ScheduleTrigger]) -> list[str]:
    """Each trigger's rule name: its ``name``, or ``<function>-schedule`` (``-2``, …)."""
    names, unnamed = [], 0
    for trigger in triggers:
        if trigger.name:
            names.append(trigger.name)
            continue
        unnamed += 1
        names.append(f"{function}-schedule" + (f"-{unnamed}" if unnamed > 1 else ""))
    return names


def schedule_triggers(fn: FunctionConfig) -> list[tuple[str, ScheduleTrigger]]:
    """The function's schedule triggers (enabled or not) with their rule names."""
    found = list(triggers_of(fn, ScheduleTrigger))
    return list(zip(rule_names(fn.name, found), found, strict=True))


class Scheduler:
    """Runs the schedule triggers; ``engine.scheduler`` while the engine's sources run.

    ``clock`` (epoch seconds) is the wall clock and ``max_step_s`` how often a waiting task
    looks at it; tests may pass their own.
    """

    def __init__(
        self,
        engine: SourceHost,
        clock: Callable[[], float] = time.time,
        max_step_s: float = MAX_STEP_S,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.max_step_s = max_step_s
        self._rules: dict[tuple, _Rule] = {}

    async def start(self) -> None:
        self.refresh()

    async def close(self) -> None:
        tasks = [r.task for r in self._rules.values() if r.task is not None]
        self._rules.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def refresh(self) -> None:
        """Start, stop or replace tasks so they match the functions' schedule triggers now."""
        wanted: dict[tuple, tuple[str, str, ScheduleTrigger]] = {}
        for name, fn in sorted(self.engine.functions.items()):
            for rule, trigger in schedule_triggers(fn):
                key = _key(name, rule, trigger)
                while key in wanted:  # two identical triggers on one function
                    key = (*key, "again")
                wanted[key] = (name, rule, trigger)
        for key in [k for k in self._rules if k not in wanted]:
            gone = self._rules.pop(key)
            if gone.task is not None:
                gone.task.cancel()
        now = self.clock()
        for key, (name, rule, trigger) in wanted.items():
            if key in self._rules:
                continue
            entry = _Rule(name, rule, trigger, anchor=now, key=key)
            if trigger.enabled:
                entry.task = asyncio.get_running_loop().create_task(self._run(entry))
            self._rules[key] = entry

    def upcoming(self, count: int = 3, function: str | None = None) -> list[ScheduleInfo]:
        """Every schedule trigger with its next ``count`` fire times (none when disabled)."""
        now = self.clock()
        infos = []
        for entry in self._rules.values():
            if function is not None and entry.function != function:
                continue
            times = self._upcoming(entry, now, count) if entry.trigger.enabled else []
            infos.append(
                ScheduleInfo(
                    entry.function,
                    entry.rule,
                    entry.trigger.expression,
                    entry.trigger.enabled,
                    tuple(times),
                    entry.last_fired_at,
                    entry.last_request_id,
                )
            )
        return sorted(infos, key=lambda i: (i.function, i.rule))

    # ----------------------------------------------------------------- per rule

    def _upcoming(self, entry: _Rule, after: float, count: int) -> list[float]:
        schedule = entry.trigger.schedule
        times = schedule.upcoming(
            _dt(after),
            count,
            anchor=_dt(entry.anchor),
            time_scale=self.engine.settings.time_scale,
        )
        return [t.timestamp() for t in times]

    def next_fire(self, entry: _Rule, now: float) -> float | None:
        """The next fire time after ``now`` (never at or before the last one: a wall clock
        stepped back must not fire a scheduled time twice)."""
        after = now if entry.last_scheduled is None else max(now, entry.last_scheduled)
        times = self._upcoming(entry, after, 1)
        return times[0] if times else None

    async def _run(self, entry: _Rule) -> None:
        due = self.next_fire(entry, self.clock())
        while due is not None:
            while (left := due - self.clock()) > 0:
                await asyncio.sleep(min(left, self.max_step_s))
            entry.last_scheduled = due
            following = self.next_fire(entry, self.clock())
            self._fire(entry, due, following)
            due = following
        log.info("schedule %s of %s has no more fire times", entry.rule, entry.function)

    def _fire(self, entry: _Rule, scheduled: float, following: float | None) -> None:
        engine, trigger = self.engine, entry.trigger
        if trigger.input is not None:
            event = dict(trigger.input)
        else:
            event = scheduled_event(
                entry.rule,
                scheduled,
                region=engine.settings.region,
                account=engine.settings.account_id,
            )
        try:
            request_id = engine.invoke_event(
                entry.function, json.dumps(event, default=str), trigger=f"schedule:{entry.rule}"
            )
        except LambdaError as e:  # e.g. its config broke since; the next reload stops the rule
            log.warning("schedule %s could not invoke %s: %s", entry.rule, entry.function, e)
            return
        except RuntimeError:  # the engine is closing
            return
        except Exception:  # noqa: BLE001 - e.g. a locked database: this run is lost, not the rule
            log.exception("schedule %s could not invoke %s", entry.rule, entry.function)
            return
        entry.last_fired_at = self.clock()
        entry.last_request_id = request_id
        if engine.bus.wants(ScheduleFired):
            engine.bus.publish(
                ScheduleFired(
                    entry.function,
                    entry.rule,
                    request_id,
                    scheduled,
                    following,
                    entry.last_fired_at,
                )
            )


def _key(function: str, rule: str, trigger: ScheduleTrigger) -> tuple:
    """What makes a trigger the same across a reload (the schedule and event it sends)."""
    event = (
        None
        if trigger.input is None
        else json.dumps(dict(trigger.input), sort_keys=True, default=str)
    )
    return (function, rule, trigger.expression.strip(), event, trigger.enabled)


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
