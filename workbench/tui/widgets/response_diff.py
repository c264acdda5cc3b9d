"""The response pane's compare view: after a re-run on save, the new response beside the
previous one, each line marked (``|`` changed, ``<`` only before, ``>`` only now, as
``workbench watch`` marks them), so the change reads without colour too."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...engine.invoke import MARKS, SAME, ResponseDiff, collapse, skipped_text


def diff_table(diff: ResponseDiff) -> Table:
    """Three columns: previous, the marker, now; long lines wrap within their side."""
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column("previous", ratio=1, overflow="fold")
    table.add_column("mark", width=1, no_wrap=True)
    table.add_column("now", ratio=1, overflow="fold")
    table.add_row(Text("previous", style="dim"), "", Text("now", style="dim"))
    for row in collapse(diff.rows):
        if isinstance(row, int):
            skipped = skipped_text(row)
            table.add_row(Text(skipped, style="dim"), "", Text(skipped, style="dim"))
            continue
        changed = row.mark != SAME
        table.add_row(
            Text(row.left or "", style="red" if changed else ""),
            Text(MARKS[row.mark], style="bold yellow"),
            Text(row.right or "", style="green" if changed else ""),
        )
    return table


def summary(diff: ResponseDiff, note: str = "") -> Text:
    """One line above the columns: what changed, in words."""
    parts: list[tuple[str, str] | str] = [(f"{note}  ", "bold magenta")] if note else []
    if diff.status is not None:
        parts.append((f"status {diff.status[0]} → {diff.status[1]}  ", "bold"))
    if diff.error_type is not None:
        before, after = (t or "none" for t in diff.error_type)
        parts.append((f"error type {before} → {after}  ", "bold"))
    changed = diff.lines_changed
    if changed:
        parts.append(f"{changed} line{'s' * (changed != 1)} differ")
    else:
        parts.append(("response unchanged", "dim"))
    return Text.assemble(*parts)


class ResponseDiffView(VerticalScroll):
    """Shows one ``ResponseDiff`` (``show``); the pane hides it for an ordinary response."""

    DEFAULT_CSS = """
    ResponseDiffView {
        height: 1fr;
        padding: 0 1;
    }
    ResponseDiffView #response-diff-summary {
        height: auto;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.diff: ResponseDiff | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="response-diff-summary")
        yield Static(id="response-diff-table")

    def show(self, diff: ResponseDiff, note: str = "") -> None:
        self.diff = diff
        self.query_one("#response-diff-summary", Static).update(summary(diff, note))
        self.query_one("#response-diff-table", Static).update(diff_table(diff))
        self.scroll_home(animate=False)
