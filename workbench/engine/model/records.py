"""Invocation records: what one invocation did, as the log and the store keep it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

EXCERPT_BYTES = 4096  # how much of the event and the response the ``request``/``response`` keep

# us-east-1, x86 (LAMBDA_REFERENCE §9).
PRICE_PER_REQUEST = 0.0000002
PRICE_PER_GB_SECOND = 0.0000166667

# How an invocation ended (the record's status).
Status = Literal["success", "error", "timeout", "crash", "cancelled"]
# Lambda's invocation types, as the record keeps them.
InvocationType = Literal["RequestResponse", "Event", "DryRun"]
STATUS_SUCCESS: Status = "success"
STATUS_ERROR: Status = (
    "error"  # the function returned an error object (handler exception, init error)
)
STATUS_TIMEOUT: Status = "timeout"
STATUS_CRASH: Status = "crash"  # the runtime process died: Runtime.ExitError
# stopped by its caller (the TUI's escape); the workbench's own: Lambda's cannot be stopped
STATUS_CANCELLED: Status = "cancelled"


@dataclass(slots=True)
class InvocationRecord:
    """One invocation, as stored in SQLite and streamed to subscribers."""

    request_id: str
    function: str
    version: str = "$LATEST"  # the version that ran (an alias resolves to one)
    invocation_type: InvocationType = "RequestResponse"
    trigger: str | None = None
    started_at: float = 0.0  # epoch seconds
    duration_ms: float = 0.0
    billed_ms: int = 0
    init_duration_ms: float | None = None  # only on a cold start
    memory_size: int = 128
    max_memory_mb: int = 0  # real peak RSS of the environment, MB
    cold: bool = False
    status: Status = STATUS_SUCCESS
    error_type: str | None = None
    cost: float = 0.0  # USD at the reference's prices
    request: str = ""  # excerpt of the event
    response: str = ""  # excerpt of the response payload
    log_lines: list[str] = field(default_factory=list)
    env_id: str = ""
    qualifier: str | None = None  # as invoked: an alias, a version number, $LATEST; None: none
    attempt: int = 1  # Event invocations: 1, then 2 and 3 for Lambda's retries
    dwell_ms: float | None = (
        None  # Event invocations: queued (or re-queued) -> this attempt's start
    )
    paused_ms: float = 0.0  # time spent paused at a debugger prompt: not in duration, not billed
    replay_of: str | None = None  # the request id this invocation replayed
    client_context: str | None = None  # the ClientContext JSON the invocation was given
    payload: bytes | None = None  # the whole event, when ``request`` is a cut excerpt of it
    # a cold start's wait for its turn to start a runtime (many at once): not billed, not timed
    start_wait_ms: float = 0.0
    # a streamed response (Runtime API streaming mode): how many chunks it came in; None: buffered
    stream_chunks: int | None = None
    # external extensions' time after the runtime's response, until each asked for its next
    # event (Lambda counts it in Duration, and so does ``duration_ms``); None: no extensions
    extensions_ms: float | None = None
    # its on-demand INIT failed (Phase: init) and this invocation ran it again (Phase: invoke):
    # how long that took, a part of ``duration_ms`` (invoke/init_retry.py); None: no retry
    init_retry_ms: float | None = None

    def event(self) -> bytes | None:
        """The whole event this invocation was given; None if only a cut excerpt survives (a
        record stored before whole events were kept)."""
        if self.payload is not None:
            return self.payload
        data = self.request.encode("utf-8")
        return data if len(data) < EXCERPT_BYTES else None


def start_wait_text(start_wait_ms: float) -> str:
    """How long a cold start waited for its turn (the workbench's own displays; not Lambda's)."""
    return f"Waited {start_wait_ms:.2f} ms for a runtime to start (not in Duration, not billed)"


def extensions_text(extensions_ms: float) -> str:
    """An invocation's post-invocation time (the workbench's own displays; Lambda shows it only
    inside REPORT's Duration, which counts it)."""
    return (
        f"Extensions ran {extensions_ms:.2f} ms after the response"
        " (post-invocation: in Duration, billed)"
    )


def init_retry_text(init_retry_ms: float) -> str:
    """An invocation that ran a failed INIT again (Lambda's Phase: invoke), for the workbench's
    own displays (Lambda's log says it with INIT_REPORT lines, REPORT's Duration counts it)."""
    return (
        f"INIT failed and ran again in this invocation: {init_retry_ms:.2f} ms"
        " (Phase: invoke: in Duration, billed)"
    )


def paused_text(paused_ms: float) -> str:
    """How long a handler sat at a debugger prompt, for the workbench's own displays (Lambda's
    REPORT line has no such field: it stays Lambda's)."""
    return f"Paused at the debugger {paused_ms:.2f} ms (not in Duration, not billed)"


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None) -> int:
    """Billed duration: rounded up to the ms, INIT included (billed since 1 Aug 2025)."""
    total = duration_ms + (init_duration_ms or 0.0)
    whole = int(total)
    return whole if whole == total else whole + 1


def cost_usd(memory_size_mb: int, billed_ms: int) -> float:
    """The request charge plus GB-seconds at the x86 price."""
    return PRICE_PER_REQUEST + (memory_size_mb / 1024) * (billed_ms / 1000) * PRICE_PER_GB_SECOND


# --- Lambda's text platform lines (LAMBDA_REFERENCE §6) ------------------------------------

RUNTIME_ARN_REGION = "us-east-1"
# Error-type prefixes of platform-level failures: these put "Status: error" on the REPORT line.
# A plain handler exception (errorType = the exception class) does not, as in AWS.
PLATFORM_ERROR_PREFIXES = ("Runtime.", "Sandbox.", "Function.")
_RUNTIME_ID = re.compile(r"^([a-z]+)(?:(\d[\w.]*)|\.([a-z][\w.]*))$")


def _ms(value: float) -> str:
    return f"{value:.2f}"


def runtime_version(runtime: str) -> str:
    """The "Runtime Version" AWS prints for a runtime id: ``python3.11`` -> ``python:3.11.v1``.

    ``nodejs20.x`` -> ``nodejs:20.v1``; ``provided.al2023`` -> ``provided:al2023.v1``;
    plain ``provided`` -> ``provided.v1``.
    A string that already looks like a runtime version (contains ``:``) is kept as is.
    """
    if ":" in runtime:
        return runtime
    m = _RUNTIME_ID.match(runtime)
    if m is None:
        return f"{runtime}.v1"
    name, number, label = m.groups()
    ver = number or label
    if ver.endswith(".x"):
        ver = ver[:-2]
    return f"{name}:{ver}.v1"


def runtime_version_arn(runtime: str) -> str:
    """A deterministic runtime version ARN: the hash is sha256 of the runtime version string."""
    version = runtime_version(runtime)
    digest = hashlib.sha256(version.encode("utf-8")).hexdigest()
    return f"arn:aws:lambda:{RUNTIME_ARN_REGION}::runtime:{digest}"


def start_line(request_id: str, version: str) -> str:
    """``START RequestId: <id> Version: <v>`` (a space, not a tab, before Version)."""
    return f"START RequestId: {request_id} Version: {version}"


def terminal_text(lines: list[str]) -> str:
    """Log lines for a terminal. AWS's runtime joins an error's lines with CR into one log
    record; on a terminal CR would overwrite the line, so it is shown as the break it stands for.
    """
    return "\n".join(lines).replace("\r", "\n")


def end_line(request_id: str) -> str:
    """``END RequestId: <id>``."""
    return f"END RequestId: {request_id}"


def is_platform_error(error_type: str | None) -> bool:
    """True for Runtime.* / Sandbox.* / Function.* error types (platform-level failures)."""
    return error_type is not None and error_type.startswith(PLATFORM_ERROR_PREFIXES)


def report_line(record: InvocationRecord, restore: tuple[float, int] | None = None) -> str:
    """The REPORT line, every field followed by a TAB (as AWS prints it).

    Init Duration (cold start only) comes after Max Memory Used. A timeout adds
    ``Status: timeout``; a crash or a platform-level error type adds
    ``Status: error`` and ``Error Type: <type>``; a plain handler exception adds nothing.
    """
    parts = [
        f"REPORT RequestId: {record.request_id}",
        f"Duration: {_ms(record.duration_ms)} ms",
        f"Billed Duration: {record.billed_ms} ms",
        f"Memory Size: {record.memory_size} MB",
        f"Max Memory Used: {record.max_memory_mb} MB",
    ]
    if record.init_duration_ms is not None:
        parts.append(f"Init Duration: {_ms(record.init_duration_ms)} ms")
    if restore is not None:  # a SnapStart environment's first: restored, not initialised
        parts.append(f"Restore Duration: {_ms(restore[0])} ms")
        parts.append(f"Billed Restore Duration: {restore[1]} ms")
    if record.status == STATUS_TIMEOUT:
        parts.append("Status: timeout")
    elif record.status == STATUS_CRASH or is_platform_error(record.error_type):
        parts.append("Status: error")
        parts.append(f"Error Type: {record.error_type or 'Runtime.ExitError'}")
    return "".join(p + "\t" for p in parts)


def init_start_line(runtime: str) -> str:
    """``INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:...``."""
    return (
        f"INIT_START Runtime Version: {runtime_version(runtime)}"
        f"\tRuntime Version ARN: {runtime_version_arn(runtime)}"
    )


def restore_start_line(runtime: str) -> str:
    """``RESTORE_START Runtime Version: ...``: a SnapStart environment's INIT_START.
    UNVERIFIED: the fields after the runtime version are assumed to be INIT_START's."""
    return "RESTORE_" + init_start_line(runtime).removeprefix("INIT_")


def restore_report_line(restore_ms: float) -> str:
    """``RESTORE_REPORT Restore Duration: 123.45 ms``."""
    return f"RESTORE_REPORT Restore Duration: {_ms(restore_ms)} ms"


def init_report_line(
    init_duration_ms: float, phase: str, status: str | None, error_type: str | None
) -> str:
    """``INIT_REPORT Init Duration: 150.79 ms\tPhase: init[\tStatus: error][\tError Type: X]``."""
    parts = [f"INIT_REPORT Init Duration: {_ms(init_duration_ms)} ms", f"Phase: {phase}"]
    if status:
        parts.append(f"Status: {status}")
    if error_type:
        parts.append(f"Error Type: {error_type}")
    return "\t".join(parts)


def iso_timestamp(epoch_s: float) -> str:
    """UTC ISO-8601 with milliseconds and a Z: ``2020-11-10T05:46:57.874Z``."""
    total_ms = round(epoch_s * 1000)  # round, so 0.874 is not printed as .873 by float error
    seconds, millis = divmod(total_ms, 1000)
    dt = datetime.fromtimestamp(seconds, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def timeout_line(request_id: str, timeout_s: float, now: float) -> str:
    """``<ISO ts> <id> Task timed out after 1.00 seconds`` (``now`` is epoch seconds)."""
    return f"{iso_timestamp(now)} {request_id} Task timed out after {timeout_s:.2f} seconds"
