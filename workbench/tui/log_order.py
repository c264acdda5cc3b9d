"""How the invocation log orders and sums up its rows: the sort column and direction, and the
duration percentiles of what it shows. No Textual: the widget asks, these answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..engine import InvocationRecord

# the value each column sorts by (the record's, not the cell's text: "9.5 ms" < "10 ms")
SORT_VALUES: dict[str, Callable[[InvocationRecord], object]] = {
    "time": lambda r: r.started_at,
    "function": lambda r: (r.function, r.version),
    "trigger": lambda r: (r.trigger or "", r.attempt),
    "request": lambda r: r.request_id,
    "status": lambda r: r.status,
    "duration": lambda r: r.duration_ms,
    "billed": lambda r: r.billed_ms,
    "memory": lambda r: r.max_memory_mb,
    "start": lambda r: r.cold,
    "cost": lambda r: r.cost,
}
# numbers (and time) read biggest first when first sorted by; names read A to Z
DESCENDING_FIRST = frozenset({"time", "duration", "billed", "memory", "start", "cost"})


@dataclass(frozen=True)
class SortOrder:
    """The column the log is sorted by and which way; newest first is the default."""

    column: str = "time"
    descending: bool = True

    @property
    def arrow(self) -> str:
        return "▼" if self.descending else "▲"

    def by(self, column: str) -> SortOrder:
        """A header clicked: the same column flips, another starts its natural way."""
        if column == self.column:
            return SortOrder(column, not self.descending)
        return SortOrder(column, column in DESCENDING_FIRST)

    def next_of(self, columns: Iterable[str]) -> SortOrder:
        """``s``: the next of ``columns`` (those shown), in its natural direction."""
        shown = [c for c in columns if c in SORT_VALUES]
        at = shown.index(self.column) if self.column in shown else -1
        column = shown[(at + 1) % len(shown)]
        return SortOrder(column, column in DESCENDING_FIRST)

    def flipped(self) -> SortOrder:
        return SortOrder(self.column, not self.descending)

    def key(self, r: InvocationRecord, order: tuple[float, int]) -> tuple[object, ...]:
        """What a row sorts by: the column's value, then its arrival (ties newest first when
        descending), so equal values keep a stable, time-ordered place."""
        if self.column == "time":
            return (order,)
        return (SORT_VALUES[self.column](r), order)


def percentile(ordered: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of an ascending, non-empty list: a value that was
    measured (p99 of 50 rows is their largest), as Lambda's console and CloudWatch show it."""
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Durations:
    """The count and p50/p99 durations of a set of rows."""

    count: int
    p50: float | None
    p99: float | None

    @classmethod
    def of(cls, records: Iterable[InvocationRecord]) -> Durations:
        ordered = sorted(r.duration_ms for r in records)
        if not ordered:
            return cls(0, None, None)
        return cls(len(ordered), percentile(ordered, 50), percentile(ordered, 99))
