"""Schedule expressions, as EventBridge writes them: ``rate(5 minutes)``, ``cron(0 12 * * ? *)``.

``parse_expression(text)`` returns a ``Schedule`` or raises ``ScheduleError`` with a message
saying what is wrong and what is accepted (``triggers.py`` turns it into a config error with
the file, line and key). ``Schedule.next_after(t)`` is the next fire time strictly after ``t``.

The rules, from the EventBridge User Guide (scheduled rules):

- rate (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html):
  ``rate(value unit)``, value a positive number, unit ``minute | minutes | hour | hours | day |
  days``; "If the value is equal to 1, then the unit must be singular. If the value is greater
  than 1, the unit must be plural" (``rate(1 hours)`` and ``rate(5 hour)`` are invalid). "A rate
  expression starts when you create the scheduled event rule": here, when the engine starts or
  the trigger appears on a reload (the *anchor*); it fires every interval after it, and the
  engine's ``time_scale`` multiplies the interval.
- cron (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html):
  six required fields separated by white space:

  | field        | values           | wildcards       |
  |--------------|------------------|-----------------|
  | minutes      | 0-59             | , - * /         |
  | hours        | 0-23             | , - * /         |
  | day-of-month | 1-31             | , - * ? / L W   |
  | month        | 1-12 or JAN-DEC  | , - * /         |
  | day-of-week  | 1-7 or SUN-SAT   | , - * ? L #     |
  | year         | 1970-2199        | , - * /         |

  ``/`` gives increments (``0/15``: 0, 15, 30, 45; ``*/10`` from the field's first value;
  ``10-30/5`` within a range; the guide's own ``1/10`` example lists "the 11th, 21st, and 31st
  minute, and so on": Quartz, and the workbench, also fire at minute 1). ``?`` is "any" and
  only fits day-of-month and day-of-week: "You can't specify the Day-of-month and Day-of-week
  fields in the same cron expression. If you specify a value or a * (asterisk) in one of the
  fields, you must use a ? (question mark) in the other". ``L`` is the last day of the month
  (day-of-month) or of the week (day-of-week: ``L`` alone is 7, SAT; ``5L`` the month's last
  Thursday); ``3W`` the weekday closest to the 3rd, within the month (``LW``: the month's last
  weekday); ``3#2`` the month's second Tuesday, and "If you use a '#' character, you can define
  only one expression in the day-of-week field" (``3#1,6#3`` is invalid). Day-of-week 1 is
  SUN. Cron schedules are in UTC.

Where the guide is silent the workbench follows Quartz's ``CronExpression`` (the syntax
EventBridge's is modelled on), and says so in its message: ``L``, ``LW`` and ``nW`` stand alone
in day-of-month (no lists), ``nL`` and ``n#k`` alone in day-of-week; ``k`` in ``n#k`` is 1-5.
UNVERIFIED: ranges that run backwards (``FRI-MON``) are refused here (write ``FRI-SAT,SUN-MON``);
names are accepted in any case; ``nW`` on a day the month does not have never fires that month.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_SHAPE = re.compile(r"(rate|cron)\((.*)\)", re.DOTALL)
SHAPE_MESSAGE = 'must be "rate(VALUE UNIT)" or "cron(MIN HOUR DOM MONTH DOW YEAR)"'

RATE_UNITS: dict[str, int] = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # 1 = SUN, as in EventBridge
CRON_FIELDS = "minutes hours day-of-month month day-of-week year"
DAY_EXAMPLES = "e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON-FRI *)"


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    wildcards: str  # the wildcards EventBridge lists for the field
    names: tuple[str, ...] = ()  # JAN..DEC or SUN..SAT, numbered from ``low``

    @property
    def accepted(self) -> str:
        values = f"{self.low}-{self.high}"
        if self.names:
            first = "1 = SUN, " if self.name == "day-of-week" else ""
            values += f" ({first}or {self.names[0]}-{self.names[-1]})"
        return f"{self.name} accepts {values} and the wildcards {self.wildcards}"


MINUTES = _Field("minutes", 0, 59, ", - * /")
HOURS = _Field("hours", 0, 23, ", - * /")
DAY_OF_MONTH = _Field("day-of-month", 1, 31, ", - * ? / L W")
MONTH = _Field("month", 1, 12, ", - * /", MONTHS)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, ", - * ? L #", DAYS)
YEAR = _Field("year", 1970, 2199, ", - * /")


@dataclass(frozen=True, slots=True)
class Days:
    """Which days of a month a cron's day-of-month or day-of-week field picks.

    kind: ``dom`` (``values`` are days of the month), ``last`` (L), ``last-weekday`` (LW),
    ``nearest-weekday`` (``values[0]``W), ``dow`` (``values`` are days of the week, 1 = SUN),
    ``last-dow`` (``values[0]``L), ``nth-dow`` (``values[0]``#``nth``).
    """

    kind: str
    values: tuple[int, ...] = ()
    nth: int = 0

    def of_month(self, year: int, month: int) -> list[int]:
        first_weekday, length = calendar.monthrange(year, month)  # Monday = 0

        def dow(day: int) -> int:  # 1 = SUN .. 7 = SAT
            return (first_weekday + day) % 7 + 1

        kind = self.kind
        if kind == "dom":
            return [d for d in self.values if d <= length]
        if kind == "last":
            return [length]
        if kind == "last-weekday":
            day = length
            while dow(day) in (1, 7):
                day -= 1
            return [day]
        if kind == "nearest-weekday":
            day = self.values[0]
            if day > length:
                return []
            if dow(day) == 7:  # Saturday: the Friday before, unless that leaves the month
                day = day - 1 if day > 1 else day + 2
            elif dow(day) == 1:  # Sunday: the Monday after, unless that leaves the month
                day = day + 1 if day < length else day - 2
            return [day]
        if kind == "dow":
            return [d for d in range(1, length + 1) if dow(d) in self.values]
        matching = [d for d in range(1, length + 1) if dow(d) == self.values[0]]
        if kind == "last-dow":
            return matching[-1:]
        return matching[self.nth - 1 : self.nth]  # nth-dow: none when the month is short of it


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: Days
    months: tuple[int, ...]
    years: tuple[int, ...]

    def next_after(self, t: datetime) -> datetime | None:
        """The first whole minute after ``t`` the fields match; None once the years run out."""
        start = t.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        y0, m0, d0, h0, min0 = start.year, start.month, start.day, start.hour, start.minute
        for year in self.years:
            if year < y0:
                continue
            for month in self.months:
                if (year, month) < (y0, m0):
                    continue
                for day in self.days.of_month(year, month):
                    if (year, month, day) < (y0, m0, d0):
                        continue
                    today = (year, month, day) == (y0, m0, d0)
                    for hour in self.hours:
                        if today and hour < h0:
                            continue
                        this_hour = today and hour == h0
                        for minute in self.minutes:
                            if this_hour and minute < min0:
                                continue
                            return datetime(year, month, day, hour, minute, tzinfo=UTC)
        return None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed expression. ``interval_s`` for rate (unscaled), ``cron`` for cron."""

    expression: str
    kind: str  # "rate" | "cron"
    interval_s: int | None = None
    cron: Cron | None = None

    def next_after(
        self, t: datetime, *, anchor: datetime | None = None, time_scale: float = 1.0
    ) -> datetime | None:
        """The next fire time strictly after ``t`` (UTC); None when a cron's years are over.

        rate: the first ``anchor + k * interval * time_scale`` (k >= 1) after ``t``; ``anchor``
        defaults to ``t`` (the rule was just created). cron follows the wall clock, unscaled.
        """
        t = _utc(t)
        if self.cron is not None:
            return self.cron.next_after(t)
        assert self.interval_s is not None
        interval = self.interval_s * time_scale
        base = t if anchor is None else _utc(anchor)
        k = max(1, math.floor((t - base).total_seconds() / interval) + 1)
        fire = base + timedelta(seconds=k * interval)
        while fire <= t:  # float rounding at a boundary
            k += 1
            fire = base + timedelta(seconds=k * interval)
        return fire

    def upcoming(
        self,
        t: datetime,
        count: int,
        *,
        anchor: datetime | None = None,
        time_scale: float = 1.0,
    ) -> list[datetime]:
        """The next ``count`` fire times after ``t`` (fewer when a cron's years run out)."""
        if anchor is None and self.kind == "rate":
            anchor = _utc(t)
        times: list[datetime] = []
        while len(times) < count:
            fire = self.next_after(t, anchor=anchor, time_scale=time_scale)
            if fire is None:
                break
            times.append(fire)
            t = fire
        return times

    def describe(self) -> str:
        """``every 5 minutes``, ``every hour``; a cron reads as its fields."""
        if self.interval_s is None:
            return self.expression
        value, unit = self.expression.strip()[5:-1].split()
        return f"every {unit}" if int(value) == 1 else f"every {int(value)} {unit}"


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


# ----------------------------------------------------------------------------- parsing


def parse_expression(text: str) -> Schedule:
    """The schedule ``text`` describes, or ``ScheduleError`` saying what is wrong."""
    expression = text.strip()
    m = _SHAPE.fullmatch(expression)
    if m is None:
        raise ScheduleError(SHAPE_MESSAGE)
    if m.group(1) == "rate":
        return Schedule(expression, "rate", interval_s=_rate(m.group(2)))
    return Schedule(expression, "cron", cron=_cron(m.group(2)))


def _rate(body: str) -> int:
    parts = body.split()
    if len(parts) != 2:
        raise ScheduleError(
            "rate() takes a value and a unit separated by a space, e.g. rate(5 minutes) or "
            "rate(1 hour)"
        )
    value_text, unit = parts
    if not value_text.isdigit() or int(value_text) < 1:
        raise ScheduleError(f"the rate value {value_text!r} must be a whole number of 1 or more")
    if unit not in RATE_UNITS:
        raise ScheduleError(
            f"the rate unit {unit!r} must be one of: {' | '.join(RATE_UNITS)} (EventBridge's "
            "finest rate is a minute)"
        )
    value = int(value_text)
    plural = unit.endswith("s")
    if value == 1 and plural:
        raise ScheduleError(f"a rate of 1 takes the singular unit: rate(1 {unit[:-1]})")
    if value > 1 and not plural:
        raise ScheduleError(f"a rate above 1 takes the plural unit: rate({value} {unit}s)")
    return value * RATE_UNITS[unit]


def _cron(body: str) -> Cron:
    parts = body.split()
    if len(parts) != 6:
        hint = ""
        if len(parts) == 5:
            hint = "; EventBridge's cron has a sixth field, the year (* for every year)"
        raise ScheduleError(
            f"cron() takes 6 fields ({CRON_FIELDS}) separated by spaces, got {len(parts)}{hint}"
        )
    minutes, hours, dom, month, dow, year = (p.upper() for p in parts)
    if dom == "?" and dow == "?":
        raise ScheduleError(
            "day-of-month and day-of-week are both ?: give one of them a value or * and keep ? "
            f"in the other, {DAY_EXAMPLES}"
        )
    if dom != "?" and dow != "?":
        raise ScheduleError(
            f"day-of-month is {dom!r} and day-of-week is {dow!r}: one of them must be ? "
            f"(EventBridge cannot take both), {DAY_EXAMPLES}"
        )
    days = _day_of_month(dom) if dow == "?" else _day_of_week(dow)
    return Cron(
        _values(minutes, MINUTES),
        _values(hours, HOURS),
        days,
        _values(month, MONTH),
        _values(year, YEAR),
    )


def _day_of_month(text: str) -> Days:
    if text == "L":
        return Days("last")
    if text == "LW":
        return Days("last-weekday")
    if text.endswith("W"):
        if "," in text or "-" in text or "/" in text or "*" in text:
            raise _bad(DAY_OF_MONTH, text, "W takes one day and stands alone, e.g. 15W")
        return Days("nearest-weekday", (_number(text[:-1], DAY_OF_MONTH, text),))
    if "L" in text or "W" in text:
        raise _bad(DAY_OF_MONTH, text, "L, LW and nW stand alone in the field (no lists or ranges)")
    return Days("dom", _values(text, DAY_OF_MONTH))


def _day_of_week(text: str) -> Days:
    if "#" in text:
        if "," in text or "-" in text:
            raise _bad(
                DAY_OF_WEEK,
                text,
                "with # the field holds one expression only (3#1,6#3 is two), e.g. 6#3",
            )
        day, _, nth = text.partition("#")
        number = _number(day, DAY_OF_WEEK, text)
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise _bad(DAY_OF_WEEK, text, "the week after # must be 1 to 5, e.g. 6#3")
        return Days("nth-dow", (number,), int(nth))
    if text == "L":
        return Days("dow", (7,))  # the last day of the week: SAT
    if text.endswith("L"):
        if "," in text or "-" in text:
            raise _bad(DAY_OF_WEEK, text, "nL takes one day and stands alone, e.g. 6L")
        return Days("last-dow", (_number(text[:-1], DAY_OF_WEEK, text),))
    if "L" in text:  # e.g. L,2 (no day's name holds an L)
        raise _bad(DAY_OF_WEEK, text, "L and nL stand alone in the field (no lists or ranges)")
    return Days("dow", _values(text, DAY_OF_WEEK))


def _values(text: str, field: _Field) -> tuple[int, ...]:
    """A field of numbers (names), ``*``, ``a-b``, ``a/n``, ``*/n``, ``a-b/n`` and lists."""
    found: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _bad(field, text, "a list needs a value between each pair of commas")
        base, slash, step_text = item.partition("/")
        if slash:
            if "/" not in field.wildcards:
                raise _bad(field, text, f"/ is not allowed here: {field.accepted}")
            if not step_text.isdigit() or not 1 <= int(step_text) <= field.high:
                raise _bad(
                    field,
                    text,
                    f"the increment after / must be a whole number from 1 to {field.high}",
                )
        step = int(step_text) if slash else 1
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _number(first, field, text), _number(last, field, text)
            if low > high:
                raise _bad(
                    field,
                    text,
                    f"the range {base} runs backwards: write low-high, or two "
                    "ranges to wrap around (e.g. 22-23,0-2)",
                )
        else:
            low = _number(base, field, text)
            high = field.high if slash else low
        found.update(range(low, high + 1, step))
    return tuple(sorted(found))


def _number(word: str, field: _Field, text: str) -> int:
    if word.isdigit():
        value = int(word)
        if not field.low <= value <= field.high:
            raise _bad(field, text, f"{value} is out of range: {field.accepted}")
        return value
    if word in field.names:
        return field.low + field.names.index(word)
    if word in ("?", "L", "W", "#", "*") or any(c in word for c in "?LW#*"):
        reason = f"{word!r} is not allowed here"
    else:
        reason = f"{word!r} is not a value"
    raise _bad(field, text, f"{reason}: {field.accepted}")


def _bad(field: _Field, text: str, reason: str) -> ScheduleError:
    return ScheduleError(f"cron {field.name} {text!r}: {reason}")
