"""The lifecycle timeline: INIT, each INVOKE and SHUTDOWN, per execution environment."""

from __future__ import annotations

from textual.widgets import Static

from ...engine import EnvironmentEvent, InvokeEnd


class LifecycleTimeline(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lines: list[str] = []

    def take(self, events: list[object]) -> None:
        for event in events:
            if isinstance(event, EnvironmentEvent):
                self.lines.append(f"{event.env_id[:8]} {event.function} {event.phase}")
            elif isinstance(event, InvokeEnd):
                r = event.record
                self.lines.append(f"{r.env_id[:8]} {r.function} INVOKE {r.duration_ms:.2f} ms")
        self.lines = self.lines[-200:]
        self.update("\n".join(self.lines[-30:]))
