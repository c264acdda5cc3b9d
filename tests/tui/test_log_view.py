"""The invocation log for real sessions, driven by Pilot: follow/pause under load, sorting by
any column, the count and p50/p99 of what is shown, paging older rows in from the store, and
the time range. Records are made up and fed through the app's own batch handler (live) or put
in the engine's real SQLite store (history); waits poll the app's state, never sleep.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Select, Static

from tests.tui.pilot import wait_until
from workbench.engine import InvocationRecord, InvokeEnd
from workbench.tui.app import WorkbenchApp
from workbench.tui.bridge import EngineEvents
from workbench.tui.widgets.invocation_log import InvocationLog

from ..helpers import make_function

ECHO = "def handler(event, context):\n    return event\n"
T0 = time.time() - 3600  # the made-up records start an hour ago, one a millisecond


@pytest.fixture
def app(tmp_path: Path) -> WorkbenchApp:
    root = tmp_path / "functions"
    make_function(root, "echo", ECHO, timeout=5)
    make_function(root, "other", ECHO, timeout=5)
    return WorkbenchApp([root], state_dir=tmp_path / "state", isolation="rlimits")


def record(i: int, *, at: float | None = None, **kw: object) -> InvocationRecord:
    rid = f"{i:08x}-0000-4000-8000-000000000000"
    fields: dict[str, object] = dict(
        request_id=rid,
        function="echo" if i % 3 else "other",
        started_at=T0 + i / 1000 if at is None else at,
        duration_ms=float((i * 37) % 101),  # 0..100 ms, in no order
        billed_ms=1,
        status="success",
        log_lines=[f"START RequestId: {rid} Version: $LATEST", f"END RequestId: {rid}"],
        env_id="e" * 32,
    )
    fields.update(kw)
    return InvocationRecord(**fields)  # type: ignore[arg-type]


def log_of(app: WorkbenchApp) -> InvocationLog:
    return app.query_one(InvocationLog)


def status(app: WorkbenchApp) -> str:
    return str(app.query_one("#log-count", Static).render())


def live(app: WorkbenchApp, records: list[InvocationRecord]) -> None:
    """Records as the bridge posts them when invocations end."""
    app.on_engine_events(EngineEvents([InvokeEnd(r) for r in records]))


async def started(pilot: Pilot) -> InvocationLog:
    """The engine runs and the log has asked the store once."""
    app = pilot.app
    assert isinstance(app, WorkbenchApp)
    await wait_until(pilot, lambda: app.engine.store is not None)
    log = log_of(app)
    await wait_until(pilot, lambda: not log.searching and log.engine is not None)
    return log


async def stored(pilot: Pilot, records: list[InvocationRecord]) -> InvocationLog:
    """``records`` in the engine's store (a previous run's history), and the log asked again."""
    app = pilot.app
    assert isinstance(app, WorkbenchApp)
    log = await started(pilot)
    store = app.engine.store
    assert store is not None
    for r in records:
        store.add(r)
    store.flush()
    log.requery()
    await wait_until(pilot, lambda: not log.searching)
    return log


def durations(log: InvocationLog) -> list[float]:
    return [log.records[rid].duration_ms for rid in log.request_ids()]


async def test_moving_off_the_top_pauses_the_rows_and_counts_what_arrives(
    app: WorkbenchApp,
) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = await started(pilot)
        live(app, [record(i) for i in range(50)])
        log.flush()
        assert log.following and log.table.cursor_row == 0
        log.table.focus()
        await pilot.press("j", "j")  # as down would; the cursor leaves the newest
        assert not log.following and log.table.cursor_row == 2
        before = log.request_ids()
        under_cursor = before[2]

        for batch in range(10):  # a flood while paused: 500 more, as the bridge posts them
            live(app, [record(50 + batch * 50 + i) for i in range(50)])
            await pilot.pause()
        log.flush()
        assert log.request_ids() == before  # the rows did not move
        assert log.request_ids()[log.table.cursor_row] == under_cursor
        assert "paused, 500 new" in status(app) and "f follows" in status(app)

        await pilot.press("f")  # follow again: the newest on top, the window kept
        assert log.following and log.table.cursor_row == 0
        assert log.request_ids()[0] == record(549).request_id
        assert len(log.records) == log.table.row_count == log.window
        assert "paused" not in status(app)
        live(app, [record(550)])
        log.flush()
        assert log.request_ids()[0] == record(550).request_id and log.table.cursor_row == 0


async def test_back_on_the_top_row_follows_and_f_pauses_in_place(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = await started(pilot)
        live(app, [record(i) for i in range(20)])
        log.flush()
        log.table.focus()
        await pilot.press("down")
        assert not log.following
        live(app, [record(20)])
        assert record(20).request_id not in log.records
        await pilot.press("up")  # back on the top row: following, with what arrived
        assert log.following and log.request_ids()[0] == record(20).request_id

        await pilot.press("f")  # paused where it is: the newest stays on top, nothing moves
        assert not log.following and log.table.cursor_row == 0
        live(app, [record(21)])
        log.flush()
        assert log.request_ids()[0] == record(20).request_id
        assert "paused, 1 new" in status(app)
        await pilot.press("up")  # already on the top row: still paused (only f, or moving
        assert not log.following  # back from below, follows)
        await pilot.press("f")
        assert log.request_ids()[0] == record(21).request_id


async def test_any_column_sorts_by_key_or_header_click_and_says_so(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        log = await started(pilot)
        live(app, [record(i) for i in range(1, 61)])  # 1..100 ms
        log.flush()
        table = log.table
        assert str(table.columns["time"].label) == "Time ▼"  # type: ignore[index]
        table.focus()

        await pilot.press("s")  # the next column: Function, A to Z
        assert str(table.columns["function"].label) == "Function ▲"  # type: ignore[index]
        assert str(table.columns["time"].label) == "Time"  # type: ignore[index]
        functions = [log.records[rid].function for rid in log.request_ids()]
        assert functions == sorted(functions) and functions[0] == "echo"

        # a click on the Duration header: longest first; again: shortest first
        x = sum(
            column.get_render_width(table)
            for column in table.ordered_columns[: table.get_column_index("duration")]
        )
        await pilot.click("#log-table", offset=(x + 2, 0))
        assert str(table.columns["duration"].label) == "Duration ▼"  # type: ignore[index]
        assert durations(log) == sorted(durations(log), reverse=True)
        await pilot.click("#log-table", offset=(x + 2, 0))
        assert str(table.columns["duration"].label) == "Duration ▲"  # type: ignore[index]
        assert durations(log) == sorted(durations(log))

        # live rows go to their sorted place; S reverses
        live(app, [record(1000, duration_ms=0.001), record(1001, duration_ms=5000.0)])
        log.flush()
        assert durations(log)[0] == 0.001 and durations(log) == sorted(durations(log))
        await pilot.press("S")
        assert durations(log)[0] == 5000.0
        assert durations(log) == sorted(durations(log), reverse=True)
        # a narrow column's header keeps its arrow: shorter label, not cut
        log.set_sort(log.sort.by("memory"))
        assert str(table.columns["memory"].label) == "Mem ▼"  # type: ignore[index]


async def test_the_status_line_counts_what_is_shown_with_p50_and_p99(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        # 100 records, 1..100 ms; every tenth (10, 20, .. 100 ms) failed
        log = await stored(
            pilot,
            [
                record(i, duration_ms=float(i), status="error" if i % 10 == 0 else "success")
                for i in range(1, 101)
            ],
        )
        assert status(app) == "100 rows · p50 50.00 ms · p99 99.00 ms"
        app.query_one("#log-status", Select).value = "error"  # of what the filter shows
        await wait_until(pilot, lambda: log.filter.status == "error" and not log.searching)
        assert status(app) == "10 rows · p50 50.00 ms · p99 100.00 ms"
        app.query_one("#log-status", Select).value = "timeout"
        await wait_until(pilot, lambda: log.filter.status == "timeout" and not log.searching)
        assert status(app) == "0 rows"


async def test_the_last_row_pages_older_rows_in_from_the_store(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        everything = [record(i) for i in range(700)]
        log = await stored(pilot, everything)
        newest_first = [r.request_id for r in reversed(everything)]
        assert log.request_ids() == newest_first[:300]
        assert status(app).startswith("300 rows (newest 300)")
        log.table.focus()

        await pilot.press("G")  # the last row: the next page comes from the store
        assert not log.following
        await wait_until(pilot, lambda: len(log.records) == 600 and not log.loading)
        assert log.request_ids() == newest_first[:600]
        assert log.request_ids()[log.table.cursor_row] == newest_first[299]  # it stays put
        await pilot.press("G")
        await wait_until(pilot, lambda: len(log.records) == 700 and not log.loading)
        assert log.request_ids() == newest_first  # all of it, once each, in order
        assert log.exhausted and status(app).startswith("paused · f follows · 700 rows · p50")
        await pilot.press("G")  # nothing older: no more asking
        assert not log.loading and len(log.records) == 700

        # a live record meanwhile is held; following again shows the newest window
        live(app, [record(5000, at=time.time())])
        await pilot.press("f")
        assert log.following and len(log.records) == log.table.row_count == 300
        assert log.request_ids() == [record(5000).request_id, *newest_first[:299]]


async def test_a_time_range_shows_what_started_in_it(app: WorkbenchApp) -> None:
    async with app.run_test(size=(160, 45)) as pilot:
        now = time.time()
        old = [record(i, at=now - 7200 + i) for i in range(20)]  # two hours ago
        recent = [record(100 + i, at=now - 60 + i) for i in range(5)]  # this last minute
        log = await stored(pilot, [*old, *recent])
        assert len(log.records) == 25

        app.query_one("#log-range", Select).value = "5m"
        await wait_until(pilot, lambda: log.filter.since is not None and not log.searching)
        assert set(log.records) == {r.request_id for r in recent}
        # live records obey it: a late one (an Event retry's start) stays out
        late = [record(200, at=time.time()), record(201, at=now - 3600)]
        for r in late:  # stored, as the engine stores what it streams
            app.engine.store.add(r)  # type: ignore[union-attr]
        live(app, late)
        log.flush()
        assert record(200).request_id in log.records and record(201).request_id not in log.records

        log.table.focus()
        await pilot.press("t")  # the next range: the last hour
        await wait_until(pilot, lambda: log.span == "1h" and not log.searching)
        assert app.query_one("#log-range", Select).value == "1h"
        assert set(log.records) == {r.request_id for r in [*recent, record(200)]}
        await pilot.press("t", "t")  # today, then all time
        await wait_until(pilot, lambda: log.span == "all" and not log.searching)
        assert log.filter.since is None and len(log.records) == 27


async def test_at_80_columns_the_status_line_drops_whole_fields(app: WorkbenchApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        log = await stored(pilot, [record(i) for i in range(400)])
        log.table.focus()
        await pilot.press("j")
        live(app, [record(1000 + i, at=time.time()) for i in range(12)])
        line = status(app)
        fields = line.split(" · ")
        assert fields[0] == "paused, 12 new"  # the most important first
        full = ["paused, 12 new", "f follows", "300 rows (newest 300)"]
        assert fields == full[: len(fields)] or fields[:3] == full
        assert len(line) <= app.query_one("#log-count", Static).size.width
        assert "…" not in line
        # wider (a resize, a zoom): the fields left out come back
        await pilot.resize_terminal(160, 45)
        await wait_until(pilot, lambda: "p99" in status(app))
        assert status(app).startswith("paused, 12 new · f follows · 300 rows (newest 300) · p50")


async def test_following_again_while_a_page_is_read_leaves_paging_usable(
    app: WorkbenchApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``f`` while the store is still reading a page: that page is dropped, and the next time
    the cursor reaches the last row a page is read again (it is not stuck "loading")."""
    import threading

    from workbench.tui.widgets import invocation_log

    release = threading.Event()
    real_older = invocation_log.older

    def slow_older(*args: object) -> list[InvocationRecord]:
        release.wait(timeout=30)
        return real_older(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(invocation_log, "older", slow_older)
    async with app.run_test(size=(160, 45)) as pilot:
        log = await stored(pilot, [record(i) for i in range(700)])
        log.table.focus()
        await pilot.press("G")
        assert log.loading and "loading older…" in status(app)
        await pilot.press("f")  # following again before the store answers
        release.set()
        await wait_until(pilot, lambda: not log.loading)
        assert log.following and len(log.records) == 300  # the page was not merged
        await pilot.press("G")
        await wait_until(pilot, lambda: len(log.records) == 600 and not log.loading)


async def test_the_wheel_down_over_the_rows_pauses_them(app: WorkbenchApp) -> None:
    from textual.events import MouseScrollDown

    async with app.run_test(size=(160, 45)) as pilot:
        log = await started(pilot)
        live(app, [record(i) for i in range(100)])
        log.flush()
        # Pilot has no wheel of its own: its mouse-event poster (what click uses) sends one
        await pilot._post_mouse_events([MouseScrollDown], "#log-table", offset=(5, 5))
        await wait_until(pilot, lambda: log.table.scroll_y > 0 and not log.following)
        top = log.request_ids()
        live(app, [record(100)])
        log.flush()
        assert log.request_ids() == top and "paused, 1 new" in status(app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)])
async def test_the_find_hint_is_whole_words_that_fit(
    app: WorkbenchApp, size: tuple[int, int]
) -> None:
    """The find field's hint is never cut mid-word: the longest of its forms that fits."""
    from workbench.tui.widgets.invocation_log import FIND_HINTS

    async with app.run_test(size=size) as pilot:
        find = app.query_one("#log-text")

        def fits() -> bool:
            hint = find.placeholder
            return find.size.width > 0 and (len(hint) < find.size.width or hint == FIND_HINTS[-1])

        await wait_until(pilot, fits)
        assert find.placeholder in FIND_HINTS
        longer = FIND_HINTS[: FIND_HINTS.index(find.placeholder)]
        assert all(len(h) >= find.size.width for h in longer)  # the longest that fits
