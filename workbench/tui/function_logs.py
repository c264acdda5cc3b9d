"""A record's log lines as the screen shows them: the response pane's "Function Logs" (as the
Lambda console's test tab shows them under the result) and the record screen's log box."""

from __future__ import annotations

from textual.content import Content

from . import log_lines
from .log_lines import Level


def log_view(lines: list[str], at_least: Level | None = None) -> Content:
    """The log lines: text as stored (a carriage return starts a new screen line), JSON
    readably (log_lines.py); ``at_least``: only lines of that level and above."""
    if not lines:
        return Content.styled("(no log lines)", "dim")
    out: list[Content] = []
    for stored in lines:
        line = log_lines.parse(stored)
        if log_lines.shown(line, at_least):
            out.extend(log_lines.render(line))
    if not out:
        return Content.styled(f"(no log lines at {at_least} or above)", "dim")
    return Content("\n").join(out)


# The response pane's log keeps the tail of a long log (as the console shows the log's last 4 KB):
# a Static re-laid out with a 1 MB log (the record's cap) would hold the screen up.
TAIL_LINES = 500


def tail_view(lines: list[str], keep: int = TAIL_LINES) -> Content:
    """The last ``keep`` stored lines, said so above them when there were more."""
    if len(lines) <= keep:
        return log_view(lines)
    note = Content.styled(
        f"… {len(lines) - keep:,} earlier lines not shown here: the record (enter on its row in "
        "the log) shows them all, l copies them all",
        "dim italic",
    )
    return note + Content("\n") + log_view(lines[-keep:])


def log_text(lines: list[str]) -> str:
    """The log as Lambda's CloudWatch stream holds it (what a copy of it gives): one stored line
    a line, exactly as the function wrote it."""
    return "".join(line + "\n" for line in lines)
