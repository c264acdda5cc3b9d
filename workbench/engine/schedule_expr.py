"""Schedule expressions, as EventBridge writes them: ``rate(5 minutes)``, ``cron(0 12 * * ? *)``.

PLACEHOLDER (issue 6): only the outer shape is checked; the schedules helper replaces this with
the full AWS syntax and next-fire computation. The interface stays: ``parse_expression(text)``
returns a ``Schedule`` or raises ``ScheduleError`` with a message saying what is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SHAPE = re.compile(r"(rate|cron)\((.+)\)")


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Schedule:
    expression: str
    kind: str  # "rate" | "cron"


def parse_expression(text: str) -> Schedule:
    m = _SHAPE.fullmatch(text.strip())
    if m is None:
        raise ScheduleError('must be "rate(VALUE UNIT)" or "cron(MIN HOUR DOM MONTH DOW YEAR)"')
    return Schedule(text.strip(), m.group(1))
