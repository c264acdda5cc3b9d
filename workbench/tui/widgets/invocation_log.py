"""The invocation log: a live, filterable table of invocation records."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from ...engine import InvocationRecord

MAX_ROWS = 500  # rows kept on screen; older history is in the store
STATUS_STYLES = {"success": "green", "error": "red", "timeout": "yellow", "crash": "bold red"}


class InvocationLog(Vertical):
    """Newest invocations first; enter on a row opens its record."""

    @dataclass
    class RecordSelected(Message):
        request_id: str

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.records: dict[str, InvocationRecord] = {}

    def compose(self) -> ComposeResult:
        table: DataTable[object] = DataTable(id="log-table", cursor_type="row")
        for label in (
            "Time",
            "Function",
            "Request id",
            "Status",
            "Duration",
            "Billed",
            "Memory",
            "Start",
            "Cost",
        ):
            table.add_column(label)
        yield table

    def add_records(self, records: list[InvocationRecord]) -> None:
        table = self.query_one(DataTable)
        for r in records:
            self.records[r.request_id] = r
            table.add_row(*self.cells(r), key=r.request_id)
        while table.row_count > MAX_ROWS:
            oldest = next(iter(self.records))
            self.records.pop(oldest)
            table.remove_row(oldest)

    @staticmethod
    def cells(r: InvocationRecord) -> tuple[object, ...]:
        return (
            time.strftime("%H:%M:%S", time.localtime(r.started_at)),
            f"{r.function}:{r.version}",
            r.request_id[:8],
            Text(r.status, style=STATUS_STYLES.get(r.status, "")),
            f"{r.duration_ms:.2f} ms",
            f"{r.billed_ms} ms",
            f"{r.max_memory_mb} MB",
            "cold" if r.cold else "warm",
            f"${r.cost:.9f}",
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.RecordSelected(str(event.row_key.value)))
