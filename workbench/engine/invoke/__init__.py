"""Running an invocation: resolve, admit, take or start an environment, run, record; replay and
re-run on save.
"""

from __future__ import annotations

from .provisioned import ProvisionedState
from .rerun import (
    BROKEN,
    FINISHED,
    REFUSED,
    STARTED,
    TRIGGER,
    RerunOnSave,
    RerunReport,
    relative_files,
    stored_event,
)
from .response_diff import (
    MARKS,
    SAME,
    Response,
    ResponseDiff,
    Row,
    collapse,
    diff_responses,
    pretty_lines,
    skipped_text,
)

__all__ = [
    "ProvisionedState",
    "BROKEN",
    "FINISHED",
    "MARKS",
    "REFUSED",
    "RerunOnSave",
    "RerunReport",
    "Response",
    "ResponseDiff",
    "Row",
    "SAME",
    "STARTED",
    "TRIGGER",
    "collapse",
    "diff_responses",
    "pretty_lines",
    "relative_files",
    "skipped_text",
    "stored_event",
]
