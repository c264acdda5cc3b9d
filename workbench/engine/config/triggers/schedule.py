"""``type = "schedule"``: ``rate(...)`` / ``cron(...)`` → EventBridge Scheduled Events.

Keys: expression, input (a table: the event instead of the Scheduled Event), name (the rule's
name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..schedule_expr import ScheduleError, parse_expression
from .registry import TriggerError, TriggerType

if TYPE_CHECKING:
    from ..schedule_expr import Schedule

RULE_NAME_RE = re.compile(r"[\w.-]{1,64}")


@dataclass(frozen=True, slots=True)
class ScheduleTrigger:
    expression: str
    schedule: Schedule = field(compare=False, hash=False)
    input: Mapping[str, object] | None = field(default=None, compare=False, hash=False)
    name: str | None = None
    enabled: bool = True
    type: str = "schedule"


def _parse(raw: Mapping[str, Any], enabled: bool) -> ScheduleTrigger:
    expression = raw["expression"]
    if not isinstance(expression, str):
        raise TriggerError("expression", 'must be a string: "rate(5 minutes)" or "cron(...)"')
    try:
        schedule = parse_expression(expression)
    except ScheduleError as e:
        raise TriggerError("expression", str(e)) from None
    event = raw.get("input")
    if event is not None and not isinstance(event, dict):
        raise TriggerError(
            "input", "must be a table: the event to send instead of the Scheduled Event"
        )
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not RULE_NAME_RE.fullmatch(name)):
        raise TriggerError("name", "must be 1 to 64 of letters, digits, '.', '-' and '_'")
    frozen = MappingProxyType(dict(event)) if event is not None else None
    return ScheduleTrigger(expression, schedule, frozen, name, enabled)


SCHEDULE = TriggerType(
    name="schedule",
    cls=ScheduleTrigger,
    keys=("expression", "input", "name"),
    required="expression",
    parse=_parse,
    label=lambda t: f"schedule:{t.expression}",
    # the scheduler lists its rules itself, with their next fire times, when this engine runs
    # them (one engine per state dir does)
    describe=lambda t, function, roots: None,
)
