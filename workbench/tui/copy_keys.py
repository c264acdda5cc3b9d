"""The copy keys of an invocation shown in full (the response pane, the record screen): ``c``,
``i`` and ``l`` copy the response, the request id and the log, and say what they copied.

One set of bindings and one set of messages, so the keys mean the same wherever a record is
read. ``App.copy_to_clipboard`` writes OSC 52: the terminal's clipboard, over ssh too.
"""

from __future__ import annotations

from typing import Literal

from textual.binding import Binding, BindingType
from textual.widget import Widget

from ..engine import InvocationRecord
from ..engine.model import EXCERPT_BYTES
from .function_logs import log_text

CopyWhat = Literal["response", "request_id", "log"]

COPY_BINDINGS: list[BindingType] = [
    Binding(
        "c",
        "copy_response",
        "Copy response",
        id="copy-response",
        tooltip="Copy the response, as the function returned it, to the clipboard",
    ),
    Binding(
        "i",
        "copy_request_id",
        "Copy request id",
        id="copy-request-id",
        tooltip="Copy the invocation's request id to the clipboard",
    ),
    Binding(
        "l",
        "copy_log",
        "Copy log",
        id="copy-log",
        tooltip="Copy the function's log lines of this invocation (START to REPORT)",
    ),
]

# How much of the response a stored record keeps: a stored response this long may be cut, and
# the message says so.
STORED_RESPONSE_BYTES = EXCERPT_BYTES


NOTHING_YET = "no invocation has finished here yet"


def copy_part(
    node: Widget,
    record: InvocationRecord | None,
    what: CopyWhat,
    payload: bytes | None = None,
    *,
    nothing: str = NOTHING_YET,
) -> None:
    """Copy a part of ``record`` (the response: ``payload`` when the whole is at hand, else the
    stored excerpt) and say what was copied, or why nothing was (``nothing``: why there is no
    record)."""
    if record is None:
        node.notify(
            f"Nothing to copy: {nothing}.",
            title="Not copied",
            severity="warning",
        )
        return
    r = record
    after = ""  # what the message adds after "to the clipboard"
    if what == "request_id":
        text, said = r.request_id, f"request id {r.request_id}"
    elif what == "log":
        text = log_text(r.log_lines)
        count = len(r.log_lines)
        said = f"the log of {r.request_id[:8]} ({count} line{'s' * (count != 1)})"
    else:
        data = payload if payload is not None else r.response.encode("utf-8")
        text = data.decode("utf-8", "replace")
        said = f"the response of {r.request_id[:8]} ({len(data)} bytes)"
        if payload is None and len(data) >= STORED_RESPONSE_BYTES:
            after = f": a record keeps only a response's first {STORED_RESPONSE_BYTES} bytes"
    if not text:
        node.notify(f"No {what.replace('_', ' ')} to copy.", title="Not copied")
        return
    node.app.copy_to_clipboard(text)
    node.notify(f"Copied {said} to the clipboard{after}.", title="Copied")


class CopyActions:
    """The actions of ``COPY_BINDINGS`` (c, i, l), for a widget or screen whose ``copy`` copies
    that part of what it shows (``copy_part``)."""

    def copy(self, what: CopyWhat) -> None:
        raise NotImplementedError

    def action_copy_response(self) -> None:
        self.copy("response")

    def action_copy_request_id(self) -> None:
        self.copy("request_id")

    def action_copy_log(self) -> None:
        self.copy("log")
