"""What changed between two responses: line rows for a side-by-side view, and the status.

Pure (no I/O, no UI): ``workbench watch`` prints it and the TUI's compare view draws it.

JSON is pretty-printed in the handler's own key order (the order the user wrote, which is what
they look for; sorting would move keys they did not touch), two-space indented, so one value
is one line and a changed value is a changed line. Lines are compared without their trailing
comma: adding a key after the last one changes nothing else. Equal lines sit side by side; a
run of changed lines pairs up line by line, the longer side's rest shows as added or removed.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model.records import InvocationRecord
    from .results import InvokeResult

SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"
# each row's marker between the two sides, as sdiff marks them: readable without colour
MARKS = {SAME: " ", CHANGED: "|", REMOVED: "<", ADDED: ">"}
MAX_LINES = 5000  # per side: a huge response is compared on its first lines, and says so


@dataclass(frozen=True, slots=True)
class Response:
    """What is compared of one invocation: its payload and how it ended."""

    payload: bytes
    status: str = "success"
    error_type: str | None = None

    @classmethod
    def of(cls, result: InvokeResult) -> Response:
        r = result.record
        return cls(result.payload, r.status, r.error_type)

    @classmethod
    def of_record(cls, record: InvocationRecord) -> Response:
        """From a stored record: only its response excerpt survives (cut at 4 KB)."""
        return cls(record.response.encode("utf-8"), record.status, record.error_type)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the comparison; ``left``/``right`` is None where that side has no line."""

    left: str | None
    right: str | None
    mark: str  # same | changed | added | removed


@dataclass(frozen=True, slots=True)
class ResponseDiff:
    rows: list[Row]
    status: tuple[str, str] | None  # (before, after) when it changed
    error_type: tuple[str | None, str | None] | None  # (before, after) when it changed

    @property
    def changed(self) -> bool:
        return self.status is not None or self.error_type is not None or bool(self.lines_changed)

    @property
    def lines_changed(self) -> int:
        return sum(1 for row in self.rows if row.mark != SAME)


def pretty_lines(payload: bytes) -> list[str]:
    """The payload as lines: JSON pretty-printed in its own key order, anything else as text."""
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        text = payload.decode("utf-8", "replace")
    else:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    lines = text.splitlines() or [""]
    if len(lines) > MAX_LINES:
        more = len(lines) - MAX_LINES
        lines = [*lines[:MAX_LINES], f"… {more} more line{'s' * (more != 1)} not compared"]
    return lines


def _key(line: str) -> str:
    return line[:-1] if line.endswith(",") else line


def diff_lines(before: list[str], after: list[str]) -> list[Row]:
    """Line rows of ``before`` against ``after`` (difflib's alignment)."""
    matcher = difflib.SequenceMatcher(
        None, [_key(x) for x in before], [_key(x) for x in after], autojunk=False
    )
    rows: list[Row] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(Row(before[i1 + k], after[j1 + k], SAME) for k in range(i2 - i1))
            continue
        left, right = before[i1:i2], after[j1:j2]
        paired = min(len(left), len(right))
        rows.extend(Row(left[k], right[k], CHANGED) for k in range(paired))
        rows.extend(Row(line, None, REMOVED) for line in left[paired:])
        rows.extend(Row(None, line, ADDED) for line in right[paired:])
    return rows


def diff_responses(before: Response, after: Response) -> ResponseDiff:
    """Compare two responses: their lines, and their status and error type."""
    rows = diff_lines(pretty_lines(before.payload), pretty_lines(after.payload))
    status = (before.status, after.status) if before.status != after.status else None
    error_type = (
        (before.error_type, after.error_type) if before.error_type != after.error_type else None
    )
    return ResponseDiff(rows, status, error_type)


def skipped_text(count: int) -> str:
    """What stands for a run of unchanged lines ``collapse`` folded."""
    return f"… {count} unchanged line{'s' * (count != 1)}"


def collapse(rows: list[Row], context: int = 3) -> list[Row | int]:
    """Rows with long runs of unchanged lines replaced by their count (an ``int``): the
    ``context`` lines on either side of a change are kept, and runs only a little longer."""
    out: list[Row | int] = []
    run: list[Row] = []

    def close_run(at_start: bool, at_end: bool) -> None:
        head = 0 if at_start else context
        tail = 0 if at_end else context
        if len(run) - head - tail <= context:  # folding so few would hide more than it saves
            out.extend(run)
        else:
            out.extend(run[:head])
            out.append(len(run) - head - tail)
            out.extend(run[len(run) - tail :])
        run.clear()

    started = False
    for row in rows:
        if row.mark == SAME:
            run.append(row)
            continue
        if run:
            close_run(at_start=not started, at_end=False)
        started = True
        out.append(row)
    if run:
        if not started:  # nothing changed: keep it all
            out.extend(run)
        else:
            close_run(at_start=False, at_end=True)
    return out
