"""Schedule triggers end to end: a real engine, real handler processes, real (short) rates.

A cron schedule cannot be waited for in real time, so its tests give a Scheduler a wall clock
set just before the fire time (or jumped forward, like a laptop waking from suspend).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import make_function, toml_value, until
from workbench.engine import Engine, EngineSettings
from workbench.engine.model.events import ScheduleFired
from workbench.engine.sources.scheduler import ScheduleInfo, Scheduler, scheduled_event

ACCOUNT, REGION = "123456789012", "us-east-1"
# rate(1 minute) fires every 120 ms: a wake more than one interval late skips a fire (as
# EventBridge does not backfill), and a loaded 2-core CI machine stalls a loop for ~60 ms
SCALE = 0.002
INTERVAL = 60 * SCALE
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Each invocation leaves its event in OUT/<request id>.json (written whole, then renamed).
RECORDER = """
import json, os

def handler(event, context):
    path = os.path.join(os.environ["OUT"], context.aws_request_id + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(event, f)
    os.rename(path + ".tmp", path)
    return "ok"
"""


def schedule_function(
    root: Path, name: str, out: Path, triggers: list[dict[str, Any]], **config: Any
) -> Path:
    """A recording function with these ``[[triggers]]`` tables."""
    out.mkdir(parents=True, exist_ok=True)
    folder = make_function(root, name, RECORDER, environment={"OUT": str(out)}, **config)
    tables = "".join(
        "\n[[triggers]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in t.items())
        for t in triggers
    )
    with (folder / "function.toml").open("a") as f:
        f.write(tables)
    return folder


def recorded(out: Path) -> dict[str, Any]:
    """request id → the event the handler received."""
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def history(engine: Engine, function: str) -> str:
    """What became of a function's invocations, for a timeout's message."""
    records = [(r.request_id, r.status, r.error_type) for r in engine.store.recent(function)]
    events = getattr(engine, "async_events", None)
    queued = [(e.request_id, e.status) for e in events(function)] if events else []
    return f"records {records}, async events {queued}"


@pytest.fixture
def settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(
        background=True, time_scale=SCALE, state_dir=tmp_path / "state", reap_interval_s=0.2
    )


@pytest.fixture
async def started(
    function_root: Path, settings: EngineSettings
) -> AsyncIterator[Callable[[], Any]]:
    """Start an engine over ``function_root`` (write the functions first); closed after."""
    engines: list[Engine] = []

    async def start() -> Engine:
        engine = await Engine([function_root], settings).start()
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        await engine.close()


def fired(events: list[Any], function: str | None = None) -> list[ScheduleFired]:
    return [
        e
        for e in events
        if isinstance(e, ScheduleFired) and (function is None or e.function == function)
    ]


async def collect(engine: Engine, into: list[Any]) -> None:
    async for event in engine.subscribe():
        into.append(event)


# ----------------------------------------------------------------------------- rate


async def test_a_rate_fires_repeatedly_with_the_scheduled_event(
    function_root: Path, tmp_path: Path, started: Callable[[], Any]
) -> None:
    out = tmp_path / "out"
    schedule_function(
        function_root, "tick", out, [{"type": "schedule", "expression": "rate(1 minute)"}]
    )
    before = time.time()
    engine = await started()
    events: list[Any] = []
    follower = asyncio.get_running_loop().create_task(collect(engine, events))
    try:
        await until(lambda: len(fired(events)) >= 4, "four fires")
        first = [s.request_id for s in fired(events)[:4]]
        await until(
            lambda: set(first) <= set(recorded(out)),
            "their four invocations",
            explain=lambda: history(engine, "tick"),
        )
    finally:
        follower.cancel()
    shots = fired(events)
    scheduled = [s.scheduled_time for s in shots]
    # every interval from the anchor (the engine's start), none twice, each fire announcing the
    # next; one is skipped only when the scheduler woke more than an interval late (EventBridge
    # does not backfill), which a loaded machine's stalled loop can make it
    for a, b in zip(shots, shots[1:], strict=False):
        steps = round((b.scheduled_time - a.scheduled_time) / INTERVAL)
        assert steps >= 1
        assert b.scheduled_time - a.scheduled_time == pytest.approx(steps * INTERVAL, abs=1e-4)
        assert a.next_time == pytest.approx(b.scheduled_time, abs=1e-4)
        if steps > 1:
            assert a.at > a.scheduled_time + (steps - 1.5) * INTERVAL, "a fire skipped on time"
    assert before < scheduled[0] - INTERVAL + 1e-4 < time.time()
    for shot in shots:
        assert shot.function == "tick" and shot.rule == "tick-schedule"
        assert shot.at >= shot.scheduled_time
    seen = recorded(out)
    ids = set()
    for shot in shots[:4]:
        event = seen[shot.request_id]
        assert list(event) == [
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail",
        ]
        assert event["version"] == "0"
        assert UUID.fullmatch(event["id"])
        ids.add(event["id"])
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.events"
        assert event["account"] == ACCOUNT
        assert event["region"] == REGION
        assert event["resources"] == [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/tick-schedule"]
        assert event["detail"] == {}
        # the scheduled time, to the second, not the time it was sent
        when = datetime.fromtimestamp(shot.scheduled_time, UTC)
        assert event["time"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
        record = await until(
            lambda s=shot: engine.store.get(s.request_id), f"the record of {shot.request_id}"
        )
        assert record.trigger == "schedule:tick-schedule"
        assert record.invocation_type == "Event"
        assert record.status == "success"
    assert len(ids) == 4  # a new id per event


async def test_input_replaces_the_scheduled_event_and_name_names_the_rule(
    function_root: Path, tmp_path: Path, started: Callable[[], Any]
) -> None:
    out = tmp_path / "out"
    trigger = {
        "type": "schedule",
        "expression": "rate(1 minute)",
        "name": "cleanup-rule",
        "input": {"job": "cleanup", "limit": 2},
    }
    schedule_function(function_root, "janitor", out, [trigger])
    engine = await started()
    events: list[Any] = []
    follower = asyncio.get_running_loop().create_task(collect(engine, events))
    try:
        await until(
            lambda: len(recorded(out)) >= 2,
            "two invocations",
            explain=lambda: history(engine, "janitor"),
        )
    finally:
        follower.cancel()
    assert list(recorded(out).values())[:2] == [{"job": "cleanup", "limit": 2}] * 2
    assert {s.rule for s in fired(events)} == {"cleanup-rule"}
    record = await until(lambda: engine.store.get(fired(events)[0].request_id), "the first record")
    assert record.trigger == "schedule:cleanup-rule"


async def test_a_disabled_schedule_never_fires(
    function_root: Path, tmp_path: Path, started: Callable[[], Any]
) -> None:
    on, off = tmp_path / "on", tmp_path / "off"
    schedule_function(
        function_root, "on", on, [{"type": "schedule", "expression": "rate(1 minute)"}]
    )
    schedule_function(
        function_root,
        "off",
        off,
        [{"type": "schedule", "expression": "rate(1 minute)", "enabled": False}],
    )
    engine = await started()
    await until(
        lambda: len(recorded(on)) >= 5,
        "five invocations of the enabled one",
        explain=lambda: history(engine, "on"),
    )
    assert recorded(off) == {}
    assert engine.store.count("off") == 0
    [info] = engine.scheduler.upcoming(function="off")
    assert info == ScheduleInfo("off", "off-schedule", "rate(1 minute)", False, ())


async def test_a_reload_stops_removed_schedules_and_starts_added_ones(
    function_root: Path, tmp_path: Path, started: Callable[[], Any]
) -> None:
    out = tmp_path / "out"
    rate = {"type": "schedule", "expression": "rate(1 minute)"}
    schedule_function(function_root, "tick", out, [rate])
    engine = await started()
    events: list[Any] = []
    follower = asyncio.get_running_loop().create_task(collect(engine, events))
    try:
        await until(lambda: len(fired(events)) >= 2, "two fires")

        tasks = [rule.task for rule in engine.scheduler._rules.values()]
        schedule_function(function_root, "tick", out, [])  # the trigger is gone
        engine.load_functions()
        assert engine.scheduler.upcoming() == []
        before = {s.request_id for s in fired(events)}
        await until(
            lambda: before <= set(recorded(out)),
            "the fires accepted before it ran",
            explain=lambda: history(engine, "tick"),
        )
        # its task has ended: nothing is left that could fire the removed schedule
        await until(lambda: all(t is None or t.done() for t in tasks), "the rule's task to end")
        assert {s.request_id for s in fired(events)} == before, "a removed schedule fired"
        assert set(recorded(out)) == before

        added = [rate, {**rate, "expression": "rate(2 minutes)"}]
        schedule_function(function_root, "tick", out, added)
        engine.load_functions()
        rules = [(i.rule, i.expression) for i in engine.scheduler.upcoming()]
        assert rules == [
            ("tick-schedule", "rate(1 minute)"),
            ("tick-schedule-2", "rate(2 minutes)"),
        ]
        await until(
            lambda: (
                {"tick-schedule", "tick-schedule-2"}
                <= {s.rule for s in fired(events) if s.request_id not in before}
            ),
            "both added schedules firing",
        )
    finally:
        follower.cancel()
    new = [s for s in fired(events) if s.request_id not in before]
    assert {s.rule for s in new} == {"tick-schedule", "tick-schedule-2"}
    two = [s.scheduled_time for s in new if s.rule == "tick-schedule-2"]
    for a, b in zip(two, two[1:], strict=False):
        assert b - a == pytest.approx(2 * INTERVAL, abs=1e-4)


async def test_upcoming_lists_fire_times_and_an_unchanged_trigger_keeps_its_anchor(
    function_root: Path, tmp_path: Path, settings: EngineSettings, started: Callable[[], Any]
) -> None:
    settings.time_scale = 1.0  # nothing fires during this test
    out = tmp_path / "out"
    triggers = [
        {"type": "schedule", "expression": "rate(1 day)"},
        {"type": "schedule", "expression": "cron(0 12 * * ? *)", "name": "noon"},
    ]
    schedule_function(function_root, "daily", out, triggers, description="one")
    before = time.time()
    engine = await started()
    after = time.time()
    rate, noon = engine.scheduler.upcoming(count=3)
    assert (rate.function, rate.rule, rate.enabled) == ("daily", "daily-schedule", True)
    assert len(rate.next_times) == 3
    assert before + 86400 <= rate.next_times[0] <= after + 86400
    assert [b - a for a, b in zip(rate.next_times, rate.next_times[1:], strict=False)] == [
        pytest.approx(86400)
    ] * 2
    assert rate.last_fired_at is None and rate.last_request_id is None
    assert noon.rule == "noon" and len(noon.next_times) == 3
    for t in noon.next_times:
        assert datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S") == "12:00:00"
    assert 0 < noon.next_times[0] - after <= 86400

    # an unrelated change to function.toml: the rate keeps counting from the same anchor
    schedule_function(function_root, "daily", out, triggers, description="two")
    engine.load_functions()
    assert engine.functions["daily"].description == "two"
    assert engine.scheduler.upcoming(count=3)[0].next_times == rate.next_times
    # a changed expression is a new rule: it counts from the reload (a later time than the
    # first anchor, which was taken before `after`)
    await until(lambda: time.time() > after, "the clock to pass the first anchor")
    changed = [{**triggers[0], "expression": "rate(2 days)"}, triggers[1]]
    schedule_function(function_root, "daily", out, changed, description="two")
    reloaded = time.time()
    engine.load_functions()
    first = engine.scheduler.upcoming(count=1)[0].next_times[0]
    assert first == pytest.approx(reloaded + 2 * 86400, abs=1.0)
    assert first > rate.next_times[0] - 86400 + 2 * 86400


async def test_the_scheduler_is_the_engines_only_while_it_runs(
    function_root: Path, settings: EngineSettings, started: Callable[[], Any]
) -> None:
    engine = await started()
    assert isinstance(engine.scheduler, Scheduler)
    assert engine.scheduler.upcoming() == []
    await engine.close()
    assert engine.scheduler is None


# ----------------------------------------------------------------------------- cron


class Clock:
    """A wall clock set to ``at`` now, running at real speed; ``jump`` moves it.

    It counts its ``reads`` and keeps the ``last`` time it told: a test sees that the
    scheduler looked at the clock (and what it saw) instead of sleeping and hoping it did.
    """

    def __init__(self, at: datetime) -> None:
        self.shift = at.timestamp() - time.time()
        self.reads = 0
        self.last = 0.0
        self.step_back: tuple[float, float] | None = None

    def __call__(self) -> float:
        self.reads += 1
        self.last = time.time() + self.shift
        if self.step_back is not None and self.last >= self.step_back[0]:
            self.shift -= self.step_back[1]  # from the next read on
            self.step_back = None
        return self.last

    def step_back_after(self, at: datetime, seconds: float) -> None:
        """Right after the first read at or past ``at``, step the clock back ``seconds``."""
        self.step_back = (at.timestamp(), seconds)

    async def read_again(self, times: int = 3) -> None:
        """Until the scheduler has looked at the clock ``times`` more times: it has gone round
        its wait (``max_step_s``) and decided again."""
        target = self.reads + times
        await until(lambda: self.reads >= target, f"{times} more reads of the clock")

    def jump(self, to: datetime) -> None:
        self.shift = to.timestamp() - time.time()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_a_cron_schedule_sleeps_until_its_next_fire_time(
    function_root: Path, tmp_path: Path, started: Callable[[], Any]
) -> None:
    out = tmp_path / "out"
    trigger = {"type": "schedule", "expression": "cron(0 12 * * ? *)", "name": "noon"}
    schedule_function(function_root, "report", out, [trigger])
    engine = await started()
    events: list[Any] = []
    follower = asyncio.get_running_loop().create_task(collect(engine, events))
    clock = Clock(utc(2030, 1, 1, 11, 59, 59, 700000))  # 0.3 s before noon
    scheduler = Scheduler(engine, clock=clock, max_step_s=0.05)
    await scheduler.start()
    try:
        [info] = scheduler.upcoming(count=2)
        assert info.next_times == (utc(2030, 1, 1, 12).timestamp(), utc(2030, 1, 2, 12).timestamp())
        shots = await until(lambda: fired(events), "the noon fire")
        event = await until(
            lambda: recorded(out).get(shots[0].request_id),
            "its invocation",
            explain=lambda: history(engine, "report"),
        )
    finally:
        await scheduler.close()
        follower.cancel()
    assert shots[0].scheduled_time == utc(2030, 1, 1, 12).timestamp()
    assert shots[0].next_time == utc(2030, 1, 2, 12).timestamp()
    assert clock() >= shots[0].scheduled_time  # not early
    assert event == {
        **event,
        "time": "2030-01-01T12:00:00Z",
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/noon"],
    }
    assert len(fired(events)) == 1


async def test_a_late_wake_fires_once_and_does_not_backfill(
    function_root: Path, tmp_path: Path, started: Callable[[], Any]
) -> None:
    out = tmp_path / "out"
    trigger = {"type": "schedule", "expression": "cron(0 12 * * ? *)", "name": "noon"}
    schedule_function(function_root, "report", out, [trigger])
    engine = await started()
    events: list[Any] = []
    follower = asyncio.get_running_loop().create_task(collect(engine, events))
    clock = Clock(utc(2030, 1, 1, 11, 0))  # an hour before noon
    scheduler = Scheduler(engine, clock=clock, max_step_s=0.05)
    await scheduler.start()
    try:
        await clock.read_again()  # it looked at the clock: noon is an hour away
        assert fired(events) == []
        clock.jump(utc(2030, 1, 4, 13, 0))  # the laptop slept through three noons
        shots = await until(lambda: fired(events), "the late fire")
        await clock.read_again()  # back to waiting (for Jan 5), nothing more to fire
    finally:
        await scheduler.close()
        follower.cancel()
    assert len(fired(events)) == 1
    assert shots[0].scheduled_time == utc(2030, 1, 1, 12).timestamp()  # what it waited for
    assert shots[0].next_time == utc(2030, 1, 5, 12).timestamp()  # then on from now


async def test_a_wall_clock_stepped_back_does_not_fire_a_time_twice(
    function_root: Path, tmp_path: Path, started: Callable[[], Any]
) -> None:
    out = tmp_path / "out"
    trigger = {"type": "schedule", "expression": "cron(* * * * ? *)", "name": "minutely"}
    schedule_function(function_root, "report", out, [trigger])
    engine = await started()
    events: list[Any] = []
    follower = asyncio.get_running_loop().create_task(collect(engine, events))
    clock = Clock(utc(2030, 1, 1, 11, 59, 59, 800000))
    # NTP steps the clock back 0.1 s the moment it shows 12:00: the scheduler, which saw 12:00
    # come, next reads 11:59:59.9 (as it works out its next fire time)
    clock.step_back_after(utc(2030, 1, 1, 12), 0.1)
    scheduler = Scheduler(engine, clock=clock, max_step_s=0.05)
    await scheduler.start()
    try:
        await until(lambda: fired(events), "the 12:00 fire")
        assert clock.step_back is None  # it did step back
        noon = utc(2030, 1, 1, 12).timestamp()
        # 12:00 comes round again, and the scheduler looks at the clock past it
        await until(lambda: clock.last > noon + 0.05, "the clock to pass 12:00 again")
        await clock.read_again()
    finally:
        await scheduler.close()
        follower.cancel()
    assert [s.scheduled_time for s in fired(events)] == [utc(2030, 1, 1, 12).timestamp()]


def test_the_scheduled_event_matches_the_generate_event_template() -> None:
    from workbench.engine.shapes import generate

    mine = scheduled_event(
        "nightly", utc(2019, 10, 8, 16, 53, 6, 500).timestamp(), region=REGION, account=ACCOUNT
    )
    template = generate("cloudwatch", "scheduled-event", rule="nightly", region=REGION)
    assert list(mine) == list(template)
    assert {k: v for k, v in mine.items() if k not in ("id", "time")} == {
        k: v for k, v in template.items() if k not in ("id", "time")
    }
    assert mine["time"] == "2019-10-08T16:53:06Z"
