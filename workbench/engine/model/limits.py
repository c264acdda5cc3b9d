"""Lambda's payload limits, as the Invoke API applies them (LAMBDA_REFERENCE §3)."""

from __future__ import annotations

from .errors import RequestTooLarge

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # 6,291,456 bytes: the Invoke API's request limit
MAX_EVENT_PAYLOAD = 1024 * 1024  # 1 MB for Event invocations (it was 256 KB until 2025)


def payload_limit(event: bool) -> int:
    return MAX_EVENT_PAYLOAD if event else MAX_SYNC_PAYLOAD


def check_payload_size(size: int, event: bool = False) -> None:
    """Lambda's 413, worded as Lambda words it for each invocation type (LAMBDA_REFERENCE §3)."""
    if size <= payload_limit(event):
        return
    if event:
        raise RequestTooLarge(
            f"{size} byte payload is too large for the Event invocation type "
            f"(limit {MAX_EVENT_PAYLOAD} bytes)"
        )
    raise RequestTooLarge(
        f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
    )
