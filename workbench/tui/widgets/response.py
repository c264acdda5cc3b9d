"""The response pane: the payload, or Lambda's error, and what the invocation cost."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from ...engine import InvokeResult


def metrics_line(result: InvokeResult) -> Text:
    r = result.record
    parts = [
        ("cold" if r.cold else "warm", "bold cyan" if r.cold else "bold green"),
        f"  Duration {r.duration_ms:.2f} ms  Billed {r.billed_ms} ms  ",
        f"Max Memory {r.max_memory_mb}/{r.memory_size} MB",
    ]
    if r.init_duration_ms is not None:
        parts.append(f"  Init Duration {r.init_duration_ms:.2f} ms")
    parts.append((f"  v{r.version}", "dim"))
    return Text.assemble(*parts)


def payload_text(result: InvokeResult) -> Text:
    """Pretty-printed JSON; an error as type, message and stack trace."""
    try:
        value = json.loads(result.payload)
    except (ValueError, UnicodeDecodeError):
        return Text(result.payload.decode("utf-8", "replace"))
    if result.function_error and isinstance(value, dict) and "errorType" in value:
        text = Text.assemble(
            (str(value.get("errorType")), "bold red"), ": ", str(value.get("errorMessage", ""))
        )
        for frame in value.get("stackTrace") or []:
            text.append("\n" + str(frame).rstrip("\n"), style="dim")
        return text
    return Text(json.dumps(value, indent=2, ensure_ascii=False))


class ResponsePane(Vertical):
    """Shows the latest result; while an invocation runs, says so (esc cancels it)."""

    def compose(self) -> ComposeResult:
        yield Static("Invoke a function with ctrl+r.", id="response-status")
        with VerticalScroll(id="response-scroll"):
            yield Static(id="response-body")

    def running(self, name: str) -> None:
        self.set_class(True, "running")
        self.query_one("#response-status", Static).update(
            Text.assemble(("⏳ invoking ", "bold yellow"), name, ("  (esc cancels)", "dim"))
        )
        self.query_one("#response-body", Static).update("")

    def show_result(self, name: str, result: InvokeResult) -> None:
        self.set_class(False, "running")
        failed = result.function_error is not None
        self.set_class(failed, "failed")
        head = Text.assemble(
            (f"{name} ", "bold"),
            (f"{result.record.status}", "bold red" if failed else "bold green"),
            "  ",
        )
        head.append_text(metrics_line(result))
        self.query_one("#response-status", Static).update(head)
        self.query_one("#response-body", Static).update(payload_text(result))

    def show_refusal(self, name: str, message: str) -> None:
        """The invocation never ran: bad input, unknown function, throttled, cancelled."""
        self.set_class(False, "running")
        self.set_class(True, "failed")
        self.query_one("#response-status", Static).update(
            Text.assemble((f"{name} ", "bold"), ("not invoked", "bold red"))
        )
        self.query_one("#response-body", Static).update(Text(message))
