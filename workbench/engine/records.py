"""Invocation records: what one invocation did, as the log and the store keep it."""

from __future__ import annotations

from dataclasses import dataclass, field

# us-east-1, x86 (LAMBDA_REFERENCE §9).
PRICE_PER_REQUEST = 0.0000002
PRICE_PER_GB_SECOND = 0.0000166667

STATUS_SUCCESS = "success"
STATUS_ERROR = "error"  # the function returned an error object (handler exception, init error)
STATUS_TIMEOUT = "timeout"
STATUS_CRASH = "crash"  # the runtime process died: Runtime.ExitError


@dataclass(slots=True)
class InvocationRecord:
    """One invocation, as stored in SQLite and streamed to subscribers."""

    request_id: str
    function: str
    version: str = "$LATEST"
    invocation_type: str = "RequestResponse"
    trigger: str | None = None
    started_at: float = 0.0  # epoch seconds
    duration_ms: float = 0.0
    billed_ms: int = 0
    init_duration_ms: float | None = None  # only on a cold start
    memory_size: int = 128
    max_memory_mb: int = 0  # real peak RSS of the environment, MB
    cold: bool = False
    status: str = STATUS_SUCCESS
    error_type: str | None = None
    cost: float = 0.0  # USD at the reference's prices
    request: str = ""  # excerpt of the event
    response: str = ""  # excerpt of the response payload
    log_lines: list[str] = field(default_factory=list)
    env_id: str = ""


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None) -> int:
    """Billed duration: rounded up to the ms, INIT included (billed since 1 Aug 2025)."""
    total = duration_ms + (init_duration_ms or 0.0)
    whole = int(total)
    return whole if whole == total else whole + 1


def cost_usd(memory_size_mb: int, billed_ms: int) -> float:
    """The request charge plus GB-seconds at the x86 price."""
    return PRICE_PER_REQUEST + (memory_size_mb / 1024) * (billed_ms / 1000) * PRICE_PER_GB_SECOND
