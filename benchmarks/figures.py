"""What the benchmarks print their figures with: a percentile, and a row of p50 / p99 in ms
beside a baseline (imported by the scripts here, which run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import statistics


def pct(xs: list[float], p: float) -> float:
    """The ``p``-th percentile of ``xs`` (nearest rank); nan for none."""
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def row(
    name: str, xs: list[float], base: float | None = None, *, width: int = 40, digits: int = 3
) -> str:
    """``  name  p50 … ms   p99 … ms   ratio   (n=…)``: the ratio of p50 to ``base``, blank
    without one."""
    p50, p99 = statistics.median(xs), pct(xs, 99)
    ratio = f"{p50 / base:6.2f}x" if base else "       "
    return (
        f"  {name:<{width}} p50 {p50:8.{digits}f} ms   p99 {p99:8.{digits}f} ms   {ratio}"
        f"   (n={len(xs)})"
    )
