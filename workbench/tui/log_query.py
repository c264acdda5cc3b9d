"""What the invocation log asks the store: a filter (function, status, text, time range) and
the newest records that pass it, or the page of records older than the ones on screen.

Plain functions over the engine's ``RecordStore`` (blocking SQLite: the log calls them in a
thread), with no Textual, so they are tested on their own.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Literal

from ..engine import InvocationRecord

SEARCH_DEPTH = 50_000  # how far back a text filter looks in the store

Span = Literal["all", "5m", "1h", "today"]
# the time range picker's choices, as (label, value)
SPANS: tuple[tuple[str, Span], ...] = (
    ("all time", "all"),
    ("last 5 min", "5m"),
    ("last hour", "1h"),
    ("today", "today"),
)
_SPAN_SECONDS = {"5m": 300.0, "1h": 3600.0}


def span_start(span: Span, now: float | None = None) -> float | None:
    """The epoch second a span starts at, seen from ``now``: None for "all"; "today" is
    local midnight (the log's times are local)."""
    now = time.time() if now is None else now
    if span == "all":
        return None
    if span == "today":
        day = time.localtime(now)
        return time.mktime((day.tm_year, day.tm_mon, day.tm_mday, 0, 0, 0, 0, 0, -1))
    return now - _SPAN_SECONDS[span]


@dataclass(frozen=True)
class LogFilter:
    """Which records the log shows: one function, one status, text to find, and those started
    at or after ``since`` (a span's start, fixed when the span is picked)."""

    function: str | None = None
    status: str | None = None
    text: str = ""
    since: float | None = None

    def matches(self, r: InvocationRecord) -> bool:
        if self.function is not None and r.function != self.function:
            return False
        if self.status is not None and r.status != self.status:
            return False
        if self.since is not None and r.started_at < self.since:
            return False
        if not self.text:
            return True
        needle = self.text.lower()
        return any(needle in hay.lower() for hay in searchable(r))


def searchable(r: InvocationRecord) -> Iterator[str]:
    """What the text filter looks at: request id, function, trigger, error type, the log text."""
    yield r.request_id
    yield f"{r.function}:{r.version}"
    if r.trigger:
        yield r.trigger
    if r.error_type:
        yield r.error_type
    yield from r.log_lines


def search(
    store: object,
    flt: LogFilter,
    want: int,
    depth: int = SEARCH_DEPTH,
    *,
    until: float | None = None,
    skip: Collection[str] = (),
) -> list[InvocationRecord]:
    """The newest ``want`` stored records that pass ``flt`` (newest first). Blocking: SQLite.

    The store filters function, status and the time range itself; text is matched here, over a
    window of the newest records that grows until enough match or ``depth`` records were
    looked at. ``until`` (inclusive) pages back from the oldest record shown; ``skip`` holds
    the ids already shown that started at that very moment.
    """
    recent = store.recent  # type: ignore[attr-defined]
    extra = len(skip)  # the store's answer can hold these: ask for as many more

    def rows(limit: int) -> tuple[int, list[InvocationRecord]]:
        found = recent(flt.function, limit, status=flt.status, since=flt.since, until=until)
        return len(found), [r for r in found if r.request_id not in skip]

    if not flt.text:
        return rows(want + extra)[1][:want]
    limit = min(max(want * 4, 1000), depth)
    while True:
        got, batch = rows(limit + extra)
        hits = [r for r in batch if flt.matches(r)]
        if len(hits) >= want or got < limit + extra or limit >= depth:
            return hits[:want]
        limit = min(limit * 8, depth)


def older(
    store: object, flt: LogFilter, shown: Collection[InvocationRecord], want: int
) -> list[InvocationRecord]:
    """The ``want`` records that come after ``shown`` (newest first), for paging back."""
    if not shown:
        return search(store, flt, want)
    oldest = min(r.started_at for r in shown)
    at_oldest = {r.request_id for r in shown if r.started_at == oldest}
    return search(store, flt, want, until=oldest, skip=at_oldest)
