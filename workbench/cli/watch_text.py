"""What ``workbench watch`` prints: a header per save, the new response beside the previous.

Side by side when the terminal is wide enough, else a unified diff. The markers are readable
without colour (as ``sdiff`` marks lines): ``|`` changed, ``<`` only before, ``>`` only now;
the unified form uses ``-`` and ``+``. Colour (ANSI) is added only for a terminal.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from ..engine import CodeProblem, Engine
from ..engine.invoke import (
    BROKEN,
    FINISHED,
    MARKS,
    REFUSED,
    SAME,
    TRIGGER,
    RerunReport,
    Response,
    ResponseDiff,
    Row,
    collapse,
    diff_responses,
    pretty_lines,
    relative_files,
    skipped_text,
)
from ..engine.model import terminal_text

MIN_COLUMN = 30  # side by side needs this much per side
RED, GREEN, YELLOW, DIM, BOLD, RESET = (
    "\x1b[31m",
    "\x1b[32m",
    "\x1b[33m",
    "\x1b[2m",
    "\x1b[1m",
    "\x1b[0m",
)


def paint(text: str, style: str, colour: bool) -> str:
    return f"{style}{text}{RESET}" if colour and style and text else text


def fit(text: str, width: int) -> str:
    """Cut to ``width`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def header(when: float, what: str, parts: list[str], width: int, colour: bool) -> str:
    """``── 14:03:07 · saved app.py · success · 3.10 ms · warm ─────``, as wide as the terminal."""
    text = " · ".join([time.strftime("%H:%M:%S", time.localtime(when)), what, *parts])
    line = f"── {text} "
    line += "─" * max(width - len(line), 2)
    return paint(line, BOLD, colour)


def files_label(files: tuple[str, ...], folder: Path) -> str:
    """``saved app.py, lib/util.py``: the changed files, relative to the function's folder."""
    shown = relative_files(files, folder)
    return "saved " + ", ".join(shown) if shown else "saved"


def side_by_side(diff: ResponseDiff, width: int, colour: bool) -> list[str]:
    """Two columns, previous on the left, the new response on the right, a marker between."""
    rows = collapse(diff.rows)
    longest = max((len(r.left or "") for r in rows if isinstance(r, Row)), default=0)
    column = max(min((width - 3) // 2, max(longest, len("previous"))), 1)
    right_width = max(width - column - 3, 1)
    lines = [paint(f"{'previous'.ljust(column)}   now", DIM, colour)]
    for row in rows:
        if isinstance(row, int):
            lines.append(paint(skipped_text(row), DIM, colour))
            continue
        left = fit(row.left or "", column).ljust(column)
        right = fit(row.right or "", right_width)
        mark = MARKS[row.mark]
        if row.mark != SAME:
            left = paint(left, RED if row.left is not None else "", colour)
            right = paint(right, GREEN, colour)
            mark = paint(mark, YELLOW, colour)
        lines.append(f"{left} {mark} {right}".rstrip())
    return lines


def unified(diff: ResponseDiff, colour: bool) -> list[str]:
    """``-`` lines of the previous response before ``+`` lines of the new one, per change."""
    lines: list[str] = []
    gone: list[str] = []
    new: list[str] = []

    def flush() -> None:
        lines.extend(paint(f"- {x}", RED, colour) for x in gone)
        lines.extend(paint(f"+ {x}", GREEN, colour) for x in new)
        gone.clear()
        new.clear()

    for row in collapse(diff.rows):
        if isinstance(row, int):
            flush()
            lines.append(paint(f"  {skipped_text(row)}", DIM, colour))
        elif row.mark == SAME:
            flush()
            lines.append(f"  {row.left}")
        else:
            if row.left is not None:
                gone.append(row.left)
            if row.right is not None:
                new.append(row.right)
    flush()
    return lines


def diff_text(diff: ResponseDiff, width: int, colour: bool) -> list[str]:
    """The comparison for a terminal ``width`` columns wide."""
    if not diff.lines_changed:
        count = len(diff.rows)
        return [paint(f"response unchanged ({count} line{'s' * (count != 1)})", DIM, colour)]
    if width >= 2 * MIN_COLUMN + 3:
        return side_by_side(diff, width, colour)
    return unified(diff, colour)


def status_text(diff: ResponseDiff | None, status: str, error_type: str | None) -> str:
    """``success``, ``error (ValueError)``, or ``success → error (ValueError)`` when it changed."""
    now = status + (f" ({error_type})" if error_type else "")
    if diff is None or (diff.status is None and diff.error_type is None):
        return now
    before_status = diff.status[0] if diff.status else status
    before_type = diff.error_type[0] if diff.error_type else error_type
    before = before_status + (f" ({before_type})" if before_type else "")
    return f"{before} → {now}"


class Printer:
    """Turns re-run reports into terminal text (stdout; the log on stderr)."""

    def __init__(self, engine: Engine, name: str, *, log: bool) -> None:
        self.engine = engine
        self.name = name
        self.log = log
        self.colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        self.previous: Response | None = None

    @property
    def width(self) -> int:
        return shutil.get_terminal_size().columns

    @property
    def folder(self) -> Path:
        fn = self.engine.functions.get(self.name)
        if fn is not None:
            return fn.folder
        problem = self.engine.problems.get(self.name)
        return problem.folder if problem is not None else Path.cwd()

    def out(self, lines: list[str]) -> None:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()

    def report(self, report: RerunReport) -> None:
        what = "first run" if report.trigger != TRIGGER else files_label(report.files, self.folder)
        if report.kind == BROKEN:
            assert report.problem is not None
            self.broken(report.at, what, report.problem)
        elif report.kind == REFUSED:
            head = header(report.at, what, ["not run"], self.width, self.colour)
            self.out([head, report.message])
        elif report.kind == FINISHED:
            self.finished(report, what)

    def broken(self, when: float, what: str, problem: CodeProblem) -> None:
        kind = "syntax error" if problem.kind == "syntax" else "config error"
        where = files_label((str(problem.file),), self.folder).removeprefix("saved ")
        if problem.line:
            where += f":{problem.line}"
        self.out(
            [
                header(when, what, [kind], self.width, self.colour),
                paint(f"{where}: {problem.message}", RED, self.colour),
                "not run; waiting for the next save",
            ]
        )

    def finished(self, report: RerunReport, what: str) -> None:
        result = report.result
        assert result is not None
        record = result.record
        now = Response.of(result)
        diff = diff_responses(self.previous, now) if self.previous is not None else None
        parts = [
            status_text(diff, record.status, record.error_type),
            f"{record.duration_ms:.2f} ms",
            "warm"
            if not record.cold
            else "cold"
            + (f" (init {record.init_duration_ms:.2f} ms)" if record.init_duration_ms else ""),
        ]
        self.out([header(report.at, what, parts, self.width, self.colour)])
        if self.log:
            sys.stderr.write(terminal_text(record.log_lines) + "\n")
            sys.stderr.flush()
        if diff is None:
            self.out(pretty_lines(now.payload))
        else:
            self.out(diff_text(diff, self.width, self.colour))
        self.previous = now
