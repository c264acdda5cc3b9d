"""EventBridge schedule expressions: what is accepted, the exact refusals, next fire times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.engine.test_config import error
from workbench.engine.config.schedule_expr import ScheduleError, parse_expression


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def refusal(text: str) -> str:
    with pytest.raises(ScheduleError) as info:
        parse_expression(text)
    return str(info.value)


def upcoming(text: str, after: datetime, count: int = 4) -> list[str]:
    return [t.strftime("%Y-%m-%d %a %H:%M") for t in parse_expression(text).upcoming(after, count)]


# ----------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43200),
        ("rate(1 day)", 86400),
        ("rate(7 days)", 604800),
        ("  rate(10 minutes)  ", 600),
    ],
)
def test_rates(text: str, seconds: int) -> None:
    schedule = parse_expression(text)
    assert (schedule.kind, schedule.interval_s, schedule.cron) == ("rate", seconds, None)
    assert schedule.expression == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "cron(0 12 * * ? *)",
        "cron(15 10 ? * 6L 2019-2022)",
        "cron(0/15 * * * ? *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 9 L * ? *)",
        "cron(0 9 LW * ? *)",
        "cron(0 9 15W * ? *)",
        "cron(0 9 ? * 6#3 *)",
        "cron(0 9 ? * L *)",
        "cron(0 0 1 JAN,jul ? */2)",
        "cron(30 2 ? * sun *)",
        "cron(1,2,3 4 5 6 ? 1970,2199)",
        "cron(10-30/10 * * 1-12/3 ? *)",
    ],
)
def test_crons(text: str) -> None:
    schedule = parse_expression(text)
    assert (schedule.kind, schedule.interval_s) == ("cron", None)
    assert schedule.cron is not None


# ----------------------------------------------------------------------------- refused

DOM_DOW = "e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON-FRI *)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("every 5 minutes", 'must be "rate(VALUE UNIT)" or "cron(MIN HOUR DOM MONTH DOW YEAR)"'),
        ("rate 5 minutes", 'must be "rate(VALUE UNIT)" or "cron(MIN HOUR DOM MONTH DOW YEAR)"'),
        ("Rate(5 minutes)", 'must be "rate(VALUE UNIT)" or "cron(MIN HOUR DOM MONTH DOW YEAR)"'),
        ("rate(1 minutes)", "a rate of 1 takes the singular unit: rate(1 minute)"),
        ("rate(1 hours)", "a rate of 1 takes the singular unit: rate(1 hour)"),
        ("rate(5 minute)", "a rate above 1 takes the plural unit: rate(5 minutes)"),
        ("rate(2 day)", "a rate above 1 takes the plural unit: rate(2 days)"),
        ("rate(0 minutes)", "the rate value '0' must be a whole number of 1 or more"),
        ("rate(-5 minutes)", "the rate value '-5' must be a whole number of 1 or more"),
        ("rate(1.5 hours)", "the rate value '1.5' must be a whole number of 1 or more"),
        (
            "rate(30 seconds)",
            "the rate unit 'seconds' must be one of: minute | minutes | hour | hours | day | "
            "days (EventBridge's finest rate is a minute)",
        ),
        (
            "rate(2 Minutes)",
            "the rate unit 'Minutes' must be one of: minute | minutes | hour | hours | day | "
            "days (EventBridge's finest rate is a minute)",
        ),
        (
            "rate(5)",
            "rate() takes a value and a unit separated by a space, e.g. rate(5 minutes) or "
            "rate(1 hour)",
        ),
        (
            "rate()",
            "rate() takes a value and a unit separated by a space, e.g. rate(5 minutes) or "
            "rate(1 hour)",
        ),
        (
            "cron(0 12 * * ?)",
            "cron() takes 6 fields (minutes hours day-of-month month day-of-week year) "
            "separated by spaces, got 5; EventBridge's cron has a sixth field, the year (* for "
            "every year)",
        ),
        (
            "cron(0 0 12 * * ? *)",
            "cron() takes 6 fields (minutes hours day-of-month month day-of-week year) "
            "separated by spaces, got 7",
        ),
        (
            "cron(0 12 * * * *)",
            "day-of-month is '*' and day-of-week is '*': one of them must be ? (EventBridge "
            f"cannot take both), {DOM_DOW}",
        ),
        (
            "cron(0 12 1 * MON *)",
            "day-of-month is '1' and day-of-week is 'MON': one of them must be ? (EventBridge "
            f"cannot take both), {DOM_DOW}",
        ),
        (
            "cron(0 12 ? * ? *)",
            "day-of-month and day-of-week are both ?: give one of them a value or * and keep ? "
            f"in the other, {DOM_DOW}",
        ),
        (
            "cron(60 12 * * ? *)",
            "cron minutes '60': 60 is out of range: minutes accepts 0-59 and the wildcards , - * /",
        ),
        (
            "cron(0 24 * * ? *)",
            "cron hours '24': 24 is out of range: hours accepts 0-23 and the wildcards , - * /",
        ),
        (
            "cron(0 12 0 * ? *)",
            "cron day-of-month '0': 0 is out of range: day-of-month accepts 1-31 and the "
            "wildcards , - * ? / L W",
        ),
        (
            "cron(0 12 32 * ? *)",
            "cron day-of-month '32': 32 is out of range: day-of-month accepts 1-31 and the "
            "wildcards , - * ? / L W",
        ),
        (
            "cron(0 12 * 13 ? *)",
            "cron month '13': 13 is out of range: month accepts 1-12 (or JAN-DEC) and the "
            "wildcards , - * /",
        ),
        (
            "cron(0 12 * FOO ? *)",
            "cron month 'FOO': 'FOO' is not a value: month accepts 1-12 (or JAN-DEC) and the "
            "wildcards , - * /",
        ),
        (
            "cron(0 12 ? * 0 *)",
            "cron day-of-week '0': 0 is out of range: day-of-week accepts 1-7 (1 = SUN, or "
            "SUN-SAT) and the wildcards , - * ? L #",
        ),
        (
            "cron(0 12 ? * 8 *)",
            "cron day-of-week '8': 8 is out of range: day-of-week accepts 1-7 (1 = SUN, or "
            "SUN-SAT) and the wildcards , - * ? L #",
        ),
        (
            "cron(0 12 ? * MONDAY *)",
            "cron day-of-week 'MONDAY': 'MONDAY' is not a value: day-of-week accepts 1-7 (1 = "
            "SUN, or SUN-SAT) and the wildcards , - * ? L #",
        ),
        (
            "cron(0 12 * * ? 1969)",
            "cron year '1969': 1969 is out of range: year accepts 1970-2199 and the wildcards "
            ", - * /",
        ),
        (
            "cron(0 12 * * ? 2200)",
            "cron year '2200': 2200 is out of range: year accepts 1970-2199 and the wildcards "
            ", - * /",
        ),
        (
            "cron(L 12 * * ? *)",
            "cron minutes 'L': 'L' is not allowed here: minutes accepts 0-59 and the wildcards "
            ", - * /",
        ),
        (
            "cron(0 ? * * ? *)",
            "cron hours '?': '?' is not allowed here: hours accepts 0-23 and the wildcards , - * /",
        ),
        (
            "cron(0 12 ? * 2/2 *)",
            "cron day-of-week '2/2': / is not allowed here: day-of-week accepts 1-7 (1 = SUN, "
            "or SUN-SAT) and the wildcards , - * ? L #",
        ),
        (
            "cron(0/0 12 * * ? *)",
            "cron minutes '0/0': the increment after / must be a whole number from 1 to 59",
        ),
        (
            "cron(0/x 12 * * ? *)",
            "cron minutes '0/X': the increment after / must be a whole number from 1 to 59",
        ),
        (
            "cron(0 12 20-10 * ? *)",
            "cron day-of-month '20-10': the range 20-10 runs backwards: write low-high, or two "
            "ranges to wrap around (e.g. 22-23,0-2)",
        ),
        (
            "cron(0 1,,2 * * ? *)",
            "cron hours '1,,2': a list needs a value between each pair of commas",
        ),
        (
            "cron(0 12 L,15 * ? *)",
            "cron day-of-month 'L,15': L, LW and nW stand alone in the field (no lists or ranges)",
        ),
        (
            "cron(0 12 1-15W * ? *)",
            "cron day-of-month '1-15W': W takes one day and stands alone, e.g. 15W",
        ),
        (
            "cron(0 12 32W * ? *)",
            "cron day-of-month '32W': 32 is out of range: day-of-month accepts 1-31 and the "
            "wildcards , - * ? / L W",
        ),
        (
            "cron(0 12 ? * 3#1,6#3 *)",
            "cron day-of-week '3#1,6#3': with # the field holds one expression only (3#1,6#3 is "
            "two), e.g. 6#3",
        ),
        (
            "cron(0 12 ? * 6#6 *)",
            "cron day-of-week '6#6': the week after # must be 1 to 5, e.g. 6#3",
        ),
        (
            "cron(0 12 ? * 6#0 *)",
            "cron day-of-week '6#0': the week after # must be 1 to 5, e.g. 6#3",
        ),
        (
            "cron(0 12 ? * 2,6L *)",
            "cron day-of-week '2,6L': nL takes one day and stands alone, e.g. 6L",
        ),
        (
            "cron(0 12 ? * L,2 *)",
            "cron day-of-week 'L,2': L and nL stand alone in the field (no lists or ranges)",
        ),
        (
            "cron(0 12 ? * 8L *)",
            "cron day-of-week '8L': 8 is out of range: day-of-week accepts 1-7 (1 = SUN, or "
            "SUN-SAT) and the wildcards , - * ? L #",
        ),
    ],
)
def test_refusals_say_what_is_wrong_and_what_is_accepted(text: str, message: str) -> None:
    assert refusal(text) == message


def test_a_bad_expression_is_a_config_error_with_line_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # so the message names fn/function.toml
    message = str(error('[[triggers]]\ntype = "schedule"\nexpression = "rate(1 minutes)"\n'))
    assert message == (
        'fn/function.toml:3: triggers[0].expression = "rate(1 minutes)": a rate of 1 takes the '
        "singular unit: rate(1 minute)"
    )


# ----------------------------------------------------------------------------- cron: next times


def test_next_after_is_strictly_after_and_on_whole_minutes() -> None:
    noon = parse_expression("cron(0 12 * * ? *)")
    assert noon.next_after(utc(2024, 3, 1, 11, 59, 59, 999999)) == utc(2024, 3, 1, 12)
    assert noon.next_after(utc(2024, 3, 1, 12)) == utc(2024, 3, 2, 12)
    every = parse_expression("cron(* * * * ? *)")
    assert every.next_after(utc(2024, 3, 1, 12, 0, 30)) == utc(2024, 3, 1, 12, 1)
    assert every.next_after(utc(2024, 12, 31, 23, 59)) == utc(2025, 1, 1, 0, 0)


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        # L: the last day of each month, leap February included
        (
            "cron(0 12 L * ? *)",
            utc(2024, 1, 31, 13),
            ["2024-02-29 Thu 12:00", "2024-03-31 Sun 12:00", "2024-04-30 Tue 12:00"],
        ),
        (
            "cron(0 12 L 2 ? *)",
            utc(2023, 1, 1),
            ["2023-02-28 Tue 12:00", "2024-02-29 Thu 12:00", "2025-02-28 Fri 12:00"],
        ),
        # LW: the last weekday (Aug 2024 ends on a Saturday, Mar 2024 on a Sunday)
        (
            "cron(0 9 LW * ? *)",
            utc(2024, 3, 1),
            ["2024-03-29 Fri 09:00", "2024-04-30 Tue 09:00", "2024-05-31 Fri 09:00"],
        ),
        # nW: the weekday nearest the day, never leaving the month (1 Jun 2024 is a Saturday:
        # Monday the 3rd, not Friday 31 May; 15 Sep 2024 is a Sunday: Monday the 16th; 30 Nov
        # 2024 a Saturday: Friday the 29th)
        ("cron(0 9 1W 6 ? 2024)", utc(2024, 1, 1), ["2024-06-03 Mon 09:00"]),
        ("cron(0 9 15W 9 ? 2024)", utc(2024, 1, 1), ["2024-09-16 Mon 09:00"]),
        ("cron(0 9 30W 11 ? 2024)", utc(2024, 1, 1), ["2024-11-29 Fri 09:00"]),
        # 31 Mar 2024 is a Sunday, the month's last day: Friday the 29th
        ("cron(0 9 31W 3 ? 2024)", utc(2024, 1, 1), ["2024-03-29 Fri 09:00"]),
        # 31W in a 30-day month: not that month
        ("cron(0 9 31W 4,5 ? 2024)", utc(2024, 1, 1), ["2024-05-31 Fri 09:00"]),
        # n#k: the third Friday; the fifth Monday only in months that have one
        (
            "cron(0 9 ? * 6#3 *)",
            utc(2024, 1, 1),
            ["2024-01-19 Fri 09:00", "2024-02-16 Fri 09:00", "2024-03-15 Fri 09:00"],
        ),
        (
            "cron(0 9 ? * MON#5 2024)",
            utc(2024, 1, 1),
            ["2024-01-29 Mon 09:00", "2024-04-29 Mon 09:00", "2024-07-29 Mon 09:00"],
        ),
        # nL: the month's last Thursday
        (
            "cron(0 9 ? * 5L *)",
            utc(2024, 2, 1),
            ["2024-02-29 Thu 09:00", "2024-03-28 Thu 09:00", "2024-04-25 Thu 09:00"],
        ),
        # L alone in day-of-week: the week's last day, Saturday
        (
            "cron(0 0 ? * L *)",
            utc(2024, 3, 4),
            ["2024-03-09 Sat 00:00", "2024-03-16 Sat 00:00", "2024-03-23 Sat 00:00"],
        ),
        # 1 = SUN; names and numbers mean the same
        ("cron(0 0 ? * 1 *)", utc(2024, 3, 4), ["2024-03-10 Sun 00:00"]),
        ("cron(0 0 ? * SUN *)", utc(2024, 3, 4), ["2024-03-10 Sun 00:00"]),
        (
            "cron(0 18 ? * MON-FRI *)",
            utc(2024, 3, 8, 18),
            ["2024-03-11 Mon 18:00", "2024-03-12 Tue 18:00", "2024-03-13 Wed 18:00"],
        ),
        # ranges with steps, lists, month names
        (
            "cron(10-30/10 8-9 ? * * *)",
            utc(2024, 3, 1, 8, 25),
            ["2024-03-01 Fri 08:30", "2024-03-01 Fri 09:10", "2024-03-01 Fri 09:20"],
        ),
        (
            "cron(0/20 * * * ? *)",
            utc(2024, 3, 1, 23, 41),
            ["2024-03-02 Sat 00:00", "2024-03-02 Sat 00:20", "2024-03-02 Sat 00:40"],
        ),
        (
            "cron(0 0 1 JAN,JUL ? *)",
            utc(2024, 3, 1),
            ["2024-07-01 Mon 00:00", "2025-01-01 Wed 00:00", "2025-07-01 Tue 00:00"],
        ),
        (
            "cron(0 0 1 */4 ? *)",
            utc(2024, 2, 1),
            ["2024-05-01 Wed 00:00", "2024-09-01 Sun 00:00", "2025-01-01 Wed 00:00"],
        ),
        # 29 February: leap years only (2100 is not one)
        (
            "cron(0 0 29 2 ? *)",
            utc(2096, 3, 1),
            ["2104-02-29 Fri 00:00", "2108-02-29 Wed 00:00"],
        ),
        # years: a step, and a list
        (
            "cron(0 0 1 1 ? 2030/5)",
            utc(2024, 1, 1),
            ["2030-01-01 Tue 00:00", "2035-01-01 Mon 00:00", "2040-01-01 Sun 00:00"],
        ),
    ],
)
def test_next_fire_times(text: str, after: datetime, expected: list[str]) -> None:
    assert upcoming(text, after, len(expected)) == expected


def test_a_cron_whose_years_are_over_has_no_next_time() -> None:
    once = parse_expression("cron(0 0 1 1 ? 2030)")
    assert once.next_after(utc(2029, 6, 1)) == utc(2030, 1, 1)
    assert once.next_after(utc(2030, 1, 1)) is None
    assert once.upcoming(utc(2029, 6, 1), 5) == [utc(2030, 1, 1)]
    last = parse_expression("cron(59 23 31 12 ? 2199)")
    assert last.next_after(utc(2199, 12, 31, 23, 59)) is None
    never = parse_expression("cron(0 0 30 2 ? *)")  # 30 February
    assert never.next_after(utc(2024, 1, 1)) is None


def test_cron_is_utc_whatever_the_given_zone() -> None:
    noon = parse_expression("cron(0 12 * * ? *)")
    # 11:30 in New York's winter is 16:30 UTC: past noon UTC, so tomorrow
    new_york = timezone(timedelta(hours=-5))
    assert noon.next_after(datetime(2024, 3, 1, 11, 30, tzinfo=new_york)) == utc(2024, 3, 2, 12)
    # a naive time is taken as UTC; no daylight-saving shift across late March or October
    assert noon.next_after(datetime(2024, 3, 30, 13)) == utc(2024, 3, 31, 12)
    assert upcoming("cron(30 1 * * ? *)", utc(2024, 10, 26), 3) == [
        "2024-10-26 Sat 01:30",
        "2024-10-27 Sun 01:30",
        "2024-10-28 Mon 01:30",
    ]


# ----------------------------------------------------------------------------- rate: anchors


def test_a_rate_counts_from_its_anchor_and_scales() -> None:
    five = parse_expression("rate(5 minutes)")
    anchor = utc(2024, 3, 1, 10, 0, 0)
    # without an anchor, the rule was created at t
    assert five.next_after(utc(2024, 3, 1, 10, 2)) == utc(2024, 3, 1, 10, 7)
    # with one: every interval from it, strictly after t
    assert five.next_after(utc(2024, 3, 1, 10, 2), anchor=anchor) == utc(2024, 3, 1, 10, 5)
    assert five.next_after(utc(2024, 3, 1, 10, 5), anchor=anchor) == utc(2024, 3, 1, 10, 10)
    assert five.next_after(utc(2024, 3, 1, 9, 0), anchor=anchor) == utc(2024, 3, 1, 10, 5)
    # after a long gap (a suspend): the next one from now, not the missed ones
    later = utc(2024, 3, 1, 13, 1)
    assert five.next_after(later, anchor=anchor) == utc(2024, 3, 1, 13, 5)
    # time_scale multiplies the interval: 5 minutes at 0.001 is 300 ms
    scaled = five.upcoming(anchor, 3, anchor=anchor, time_scale=0.001)
    assert [round((t - anchor).total_seconds(), 6) for t in scaled] == [0.3, 0.6, 0.9]
    # cron ignores both
    noon = parse_expression("cron(0 12 * * ? *)")
    assert noon.next_after(anchor, anchor=anchor, time_scale=0.001) == utc(2024, 3, 1, 12)


def test_describe() -> None:
    assert parse_expression("rate(1 minute)").describe() == "every minute"
    assert parse_expression("rate(5 minutes)").describe() == "every 5 minutes"
    assert parse_expression("rate(1 day)").describe() == "every day"
    assert parse_expression("cron(0 12 * * ? *)").describe() == "cron(0 12 * * ? *)"
