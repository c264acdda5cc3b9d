"""What the invocation log asks the store (``log_query``) and how it orders and sums up the
rows (``log_order``): over a real SQLite store, no Textual."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.engine import InvocationRecord
from workbench.engine.storage import RecordStore
from workbench.tui.log_order import Durations, SortOrder, percentile
from workbench.tui.log_query import LogFilter, older, search, span_start

NOW = 1_700_000_000.0


def made(i: int, *, at: float, **kw: object) -> InvocationRecord:
    rid = f"{i:08x}-0000-4000-8000-000000000000"
    fields: dict[str, object] = dict(
        request_id=rid,
        function="echo",
        started_at=at,
        duration_ms=float(i),
        log_lines=[f"START RequestId: {rid} Version: $LATEST", f"line {i}"],
        env_id="e" * 32,
    )
    fields.update(kw)
    return InvocationRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    s = RecordStore(tmp_path / "workbench.db")
    yield s
    s.close()


def test_a_time_range_is_asked_of_the_store_and_checked_on_live_records(store) -> None:
    for i in range(10):  # one a minute, the newest at NOW
        store.add(made(i, at=NOW - (9 - i) * 60))
    last_5_min = LogFilter(since=span_start("5m", now=NOW))
    # NOW - 300 is in (inclusive, as the store asks)
    assert [r.duration_ms for r in search(store, last_5_min, 50)] == [9, 8, 7, 6, 5, 4]
    assert last_5_min.matches(made(99, at=NOW + 1))
    assert not last_5_min.matches(made(98, at=NOW - 301))
    # with the other filters and the text too
    flt = LogFilter(since=NOW - 3 * 60, text="line 8")
    assert [r.duration_ms for r in search(store, flt, 50)] == [8]
    assert search(store, LogFilter(since=NOW + 1), 50) == []
    assert span_start("all", now=NOW) is None
    assert span_start("1h", now=NOW) == NOW - 3600


def test_today_starts_at_local_midnight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        # 2023-11-14 23:13:20 in Paris (UTC+1): today began at 23:00 UTC the day before
        assert span_start("today", now=NOW) == NOW - (23 * 3600 + 13 * 60 + 20)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_older_pages_back_through_everything_once_even_across_equal_starts(store) -> None:
    starts = [NOW - i // 3 for i in range(50)]  # three records per second: ties everywhere
    for i, at in enumerate(starts):
        store.add(made(i, at=at, function="echo" if i % 5 else "other"))
    flt = LogFilter(function="echo")
    shown = search(store, flt, 7)
    while True:
        page = older(store, flt, shown, 7)
        assert len(page) <= 7
        if not page:
            break
        shown += page
    expected = [i for i in range(50) if i % 5]
    assert sorted(int(r.duration_ms) for r in shown) == expected
    assert len({r.request_id for r in shown}) == len(shown) == len(expected)
    assert [r.started_at for r in shown] == sorted((r.started_at for r in shown), reverse=True)


def test_older_with_text_looks_past_the_non_matching_records(store) -> None:
    for i in range(3000):
        store.add(made(i, at=NOW + i))
    flt = LogFilter(text="line 1")  # line 1, 10..19, 100..199, 1000..1999
    first = search(store, flt, 500)
    assert len(first) == 500 and int(first[0].duration_ms) == 1999
    second = older(store, flt, first, 500)
    assert len(second) == 500
    last = older(store, flt, [*first, *second], 500)
    assert len(last) == 111  # the end: fewer than asked for
    got = sorted(int(r.duration_ms) for r in [*first, *second, *last])
    assert got == [i for i in range(3000) if str(i).startswith("1")]
    assert older(store, flt, [*first, *second, *last], 500) == []


def test_sort_orders_cycle_and_flip() -> None:
    default = SortOrder()
    assert (default.column, default.descending, default.arrow) == ("time", True, "▼")
    by_function = default.by("function")
    assert (by_function.column, by_function.descending, by_function.arrow) == (
        "function",
        False,
        "▲",
    )
    assert by_function.by("function").descending is True  # clicked again: flipped
    assert default.by("duration") == SortOrder("duration", True)  # numbers: biggest first
    shown = ("time", "function", "status", "duration")
    assert default.next_of(shown) == SortOrder("function", False)
    assert SortOrder("duration").next_of(shown) == SortOrder("time", True)  # wraps around
    assert SortOrder("cost").next_of(shown) == SortOrder("time", True)  # a column now hidden
    assert SortOrder("status", False).flipped() == SortOrder("status", True)


def test_sort_keys_compare_values_not_their_text() -> None:
    fast, slow = made(1, at=NOW, duration_ms=9.5), made(2, at=NOW, duration_ms=10.25)
    by_duration = SortOrder("duration")
    assert by_duration.key(fast, (NOW, 1)) < by_duration.key(slow, (NOW, 2))
    # equal values: the arrival order decides, so the order is stable
    assert by_duration.key(fast, (NOW, 1)) < by_duration.key(fast, (NOW, 2))


def test_percentiles_are_measured_values_by_nearest_rank() -> None:
    ordered = [float(i) for i in range(1, 101)]  # 1..100
    assert percentile(ordered, 50) == 50 and percentile(ordered, 99) == 99
    assert percentile([7.0], 50) == percentile([7.0], 99) == 7
    assert percentile([1.0, 2.0, 3.0], 99) == 3  # p99 of a few rows is their largest
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2
    d = Durations.of(made(i, at=NOW, duration_ms=float(i % 10)) for i in range(200))
    assert (d.count, d.p50, d.p99) == (200, 4.0, 9.0)
    assert Durations.of([]) == Durations(0, None, None)
