"""The engine's vocabulary: ids, Lambda's errors and limits, invocation records, problems,
the event bus.

The bottom layer: it imports no other part of the engine.
"""

from __future__ import annotations

from .errors import (
    AccessDenied,
    InvalidParameterValue,
    InvalidRequestContent,
    LambdaError,
    PreconditionFailed,
    RequestTooLarge,
    ResourceConflict,
    ResourceNotFound,
    ValidationError,
    violation,
)
from .events import (
    AsyncEventChanged,
    BucketActivity,
    DatabaseIncident,
    EnvironmentEvent,
    RecursionStopped,
    ScheduleFired,
)
from .ids import new_uuid
from .limits import check_payload_size, payload_limit
from .records import (
    EXCERPT_BYTES,
    end_line,
    extensions_text,
    init_retry_text,
    paused_text,
    runtime_version_arn,
    start_line,
    start_wait_text,
    terminal_text,
)

__all__ = [
    "EXCERPT_BYTES",
    "AccessDenied",
    "AsyncEventChanged",
    "BucketActivity",
    "DatabaseIncident",
    "EnvironmentEvent",
    "InvalidParameterValue",
    "InvalidRequestContent",
    "LambdaError",
    "PreconditionFailed",
    "RequestTooLarge",
    "ResourceConflict",
    "ResourceNotFound",
    "RecursionStopped",
    "ScheduleFired",
    "ValidationError",
    "check_payload_size",
    "end_line",
    "extensions_text",
    "init_retry_text",
    "new_uuid",
    "paused_text",
    "start_wait_text",
    "payload_limit",
    "runtime_version_arn",
    "start_line",
    "terminal_text",
    "violation",
]
