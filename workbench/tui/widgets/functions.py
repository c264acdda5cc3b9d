"""The functions pane: every function with its settings and live state, broken ones included."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from ...engine import ConfigProblem, Engine, FunctionConfig

STATUS_STYLES = {
    "success": "green",
    "error": "red",
    "timeout": "yellow",
    "crash": "bold red",
    "config error": "bold red",
}


@dataclass(frozen=True)
class FunctionRow:
    name: str
    config: FunctionConfig | None
    problem: ConfigProblem | None
    warm: int = 0
    busy: int = 0
    last_status: str | None = None


def function_rows(engine: Engine) -> list[FunctionRow]:
    """What the pane shows, from the engine's public state, sorted by name."""
    rows = []
    for name, fn in engine.functions.items():
        state = engine.function_state(name)
        rows.append(
            FunctionRow(
                name,
                fn,
                None,
                warm=len(state.idle) + len(state.busy) if state else 0,
                busy=len(state.busy) if state else 0,
                last_status=state.last_status if state else None,
            )
        )
    for name, problem in engine.problems.items():
        rows.append(FunctionRow(name, None, problem, last_status="config error"))
    return sorted(rows, key=lambda r: r.name)


class FunctionsPane(Vertical):
    """A table of functions; the selected one's details (or its config error) below it."""

    @dataclass
    class Selected(Message):
        name: str

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rows: list[FunctionRow] = []
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[object] = DataTable(id="functions-table", cursor_type="row")
        table.add_column("Function", key="name")
        table.add_column("Runtime", key="runtime")
        table.add_column("Mem", key="memory")
        table.add_column("Tmo", key="timeout")
        table.add_column("Warm", key="warm")
        table.add_column("Last", key="last")
        yield table
        yield Static(id="function-detail")

    def show(self, rows: list[FunctionRow]) -> None:
        """Redraw from ``rows``, keeping the selection (the first function at start)."""
        table = self.query_one(DataTable)
        changed_names = [r.name for r in rows] != [r.name for r in self.rows]
        self.rows = rows
        if changed_names:
            table.clear()
            for row in rows:
                table.add_row(*self._cells(row), key=row.name)
        else:
            for row in rows:
                for key, cell in zip(
                    ("name", "runtime", "memory", "timeout", "warm", "last"),
                    self._cells(row),
                    strict=True,
                ):
                    table.update_cell(row.name, key, cell)
        names = [r.name for r in rows]
        if rows and self.selected not in names:
            self.select(names[0])
        elif self.selected in names:
            self._show_detail()

    @staticmethod
    def _cells(row: FunctionRow) -> tuple[object, ...]:
        status = row.last_status or ""
        last = Text(status, style=STATUS_STYLES.get(status, ""))
        if row.config is None:
            return (Text(row.name, style="bold red"), "-", "-", "-", "-", last)
        fn = row.config
        warm = f"{row.warm}" + (f" ({row.busy} busy)" if row.busy else "")
        return (row.name, fn.runtime, f"{fn.memory_size}", f"{fn.timeout}s", warm, last)

    def select(self, name: str) -> None:
        table = self.query_one(DataTable)
        try:
            table.move_cursor(row=table.get_row_index(name))
        except Exception:  # noqa: BLE001 - a name that just disappeared
            return
        self._set_selected(name)

    def _set_selected(self, name: str) -> None:
        if name != self.selected:
            self.selected = name
            self.post_message(self.Selected(name))
        self._show_detail()

    def _show_detail(self) -> None:
        row = next((r for r in self.rows if r.name == self.selected), None)
        detail = self.query_one("#function-detail", Static)
        if row is None:
            detail.update("")
        elif row.problem is not None:
            err = row.problem.error
            where = f"{err.file}" + (f":{err.line}" if err.line else "")
            key = f"\nkey: {err.key}" if err.key else ""
            detail.update(
                Text.assemble(
                    ("config error\n", "bold red"), (f"{err.message}\n", ""), (where, "dim"), key
                )
            )
        else:
            fn = row.config
            assert fn is not None
            extra = f"\n{fn.description}" if fn.description else ""
            reserved = (
                f"  reserved {fn.reserved_concurrency}"
                if fn.reserved_concurrency is not None
                else ""
            )
            detail.update(
                Text.assemble(
                    (fn.name, "bold"),
                    f"  {fn.handler}\n",
                    (f"{fn.memory_size} MB  {fn.timeout} s  /tmp {fn.ephemeral_storage} MB", "dim"),
                    (reserved, "dim"),
                    extra,
                )
            )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key is not None and event.row_key.value is not None:
            self._set_selected(str(event.row_key.value))
