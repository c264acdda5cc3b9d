"""KeptTable keeps its rendered rows across a focus change, and still draws exactly what
Textual's DataTable draws in every state: focused, blurred, after a theme switch, after its data
changed. Each state is compared cell by cell (text and colours) with a DataTable beside it."""

from __future__ import annotations

from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Button, DataTable

from tests.tui.pilot import wait_until
from workbench.tui.widgets.kept_table import KeptTable

ROWS = [("hello", "python3.11", "0", "12:00:01"), ("orders", "nodejs20.x", "2", "")]


def fill(table: DataTable[object]) -> None:
    for label in ("Function", "Runtime", "Warm", "Last"):
        table.add_column(label, key=label.lower())
    for row in ROWS:
        table.add_row(*row, key=row[0])


class Tables(App[None]):
    # a class that changes the cursor's colour alone: the table's own style stays the same
    CSS = "DataTable.-alarm > .datatable--cursor { background: red; }"

    def compose(self) -> ComposeResult:
        yield KeptTable(id="kept", cursor_type="row")
        yield DataTable(id="plain", cursor_type="row")
        yield Button("elsewhere", id="elsewhere")

    def on_mount(self) -> None:
        fill(self.query_one("#kept", DataTable))
        fill(self.query_one("#plain", DataTable))


def drawn(table: DataTable[object]) -> list[list[tuple[object, ...]]]:
    """The table's lines as rendered now: each segment's text and colours."""
    lines = table.render_lines(Region(0, 0, table.size.width, 4))
    return [[(s.text, *look(s.style)) for s in strip] for strip in lines]


def look(style: Style | None) -> tuple[object, object, bool | None]:
    return (None, None, None) if style is None else (style.color, style.bgcolor, style.bold)


async def test_it_draws_what_a_datatable_draws_through_focus_and_theme_changes() -> None:
    app = Tables()
    async with app.run_test(size=(60, 20)) as pilot:
        kept = app.query_one("#kept", KeptTable)
        plain = app.query_one("#plain", DataTable)
        other = app.query_one("#elsewhere", Button)
        await wait_until(pilot, lambda: kept.row_count == plain.row_count == 2)

        async def focused(table: DataTable[object]) -> list[list[tuple[object, ...]]]:
            table.focus()
            await wait_until(pilot, lambda: table.has_focus)
            table.update_node_styles(animate=False)  # now, not at its next idle (as on focus)
            return drawn(table)

        async def blurred(table: DataTable[object]) -> list[list[tuple[object, ...]]]:
            other.focus()
            await wait_until(pilot, lambda: other.has_focus and not table.has_focus)
            table.update_node_styles(animate=False)
            return drawn(table)

        for _ in range(2):  # the second round is drawn from what the first one kept
            assert await focused(kept) == await focused(plain)
            assert await blurred(kept) == await blurred(plain)
        assert len(kept._line_cache) > 0  # kept through the focus changes

        focused_before = await focused(kept)
        styles = (kept.rich_style, plain.rich_style)
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await wait_until(  # the new theme's CSS applied to both
            pilot, lambda: kept.rich_style != styles[0] and plain.rich_style != styles[1]
        )
        after = await focused(kept)
        assert after == await focused(plain)
        assert after != focused_before  # the new theme's colours, not the kept rows
        assert await blurred(kept) == await blurred(plain)

        for table in (kept, plain):  # only the cursor's colour changes: drawn anew
            table.add_class("-alarm")
        assert await focused(kept) == await focused(plain)
        assert await blurred(kept) == await blurred(plain)

        for table in (kept, plain):  # its data changed: drawn anew
            table.update_cell("orders", "warm", "5")
        assert await focused(kept) == await focused(plain)
        assert any("5" in "".join(str(s[0]) for s in line) for line in drawn(kept))
