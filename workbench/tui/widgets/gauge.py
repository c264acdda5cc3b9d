"""The concurrency gauge: invocations in flight against the limits, throttles, environments."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...engine import ConcurrencyChanged, Throttled


class ConcurrencyGauge(Static):
    def __init__(self, account_limit: int = 1000, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.account_limit = account_limit
        self.total = 0
        self.per_function: dict[str, ConcurrencyChanged] = {}
        self.throttles = 0

    def on_mount(self) -> None:
        self._draw()

    def take(self, events: list[object]) -> None:
        for event in events:
            if isinstance(event, ConcurrencyChanged):
                self.per_function[event.function] = event
                self.total = event.total_in_flight
            elif isinstance(event, Throttled):
                self.throttles += 1
        self._draw()

    def _draw(self) -> None:
        text = Text.assemble(
            ("in flight ", "bold"),
            f"{self.total} / {self.account_limit}",
            ("   throttles ", "bold"),
            f"{self.throttles}",
        )
        for name, c in sorted(self.per_function.items()):
            text.append(f"\n{name}: {c.in_flight} in flight, {c.busy} busy, {c.idle} idle")
        self.update(text)
