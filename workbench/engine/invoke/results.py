"""How an invocation ended, turned into what Lambda returns: the payload, the log, the record."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from dataclasses import dataclass

from ..config.function import FunctionConfig
from ..model.records import (
    EXCERPT_BYTES,
    STATUS_CANCELLED,
    STATUS_CRASH,
    STATUS_ERROR,
    STATUS_SUCCESS,
    STATUS_TIMEOUT,
    InvocationRecord,
    billed_duration_ms,
    cost_usd,
    timeout_line,
)
from ..runtime.environment import Environment, Outcome
from ..runtime.runtime_api import MAX_PAYLOAD
from .init_retry import FailedInit, retry_report
from .platform_log import PlatformLog


@dataclass
class InvokeResult:
    """What a synchronous invoke returns: the Invoke API's response, and the record."""

    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed, as X-Amz-Function-Error
    executed_version: str  # the version that ran, as X-Amz-Executed-Version
    record: InvocationRecord

    @property
    def log(self) -> str:
        return "\n".join(self.record.log_lines) + "\n"

    def log_tail(self) -> str:
        """X-Amz-Log-Result: base64 of the last 4 KB of the log."""
        return base64.b64encode(self.log.encode()[-4096:]).decode()


class InvocationCancelled(asyncio.CancelledError):
    """An invocation stopped by its caller (the TUI's escape), raised in place of the
    ``CancelledError`` (the task is still cancelled), with what was recorded of it."""

    def __init__(self, result: InvokeResult) -> None:
        super().__init__(f"invocation {result.record.request_id} cancelled")
        self.result = result


def cancelled_result(
    env: Environment,
    fn: FunctionConfig,
    request_id: str,
    started_at: float,
    cold: bool,
    duration_ms: float,
    data: bytes,
    trigger: str | None,
    qualifier: str | None,
) -> InvokeResult:
    """The record of an invocation its caller stopped: status ``cancelled`` (Lambda has no such
    end: its callers cannot stop a running invocation), ``duration_ms`` the time its handler ran
    (0 if stopped in INIT), the environment's peak memory. Its output so far is not kept: the
    environment is shut down with it."""
    outcome = Outcome("response", duration_ms=duration_ms, log_lines=[])
    result = build_result(env, fn, request_id, started_at, cold, outcome, data, trigger, qualifier)
    record = result.record
    record.status = STATUS_CANCELLED
    record.response = ""
    report = PlatformLog(fn, record.version).report(record, time.time(), restore_of(env, cold))
    if report is not None:  # else filtered out by the system log level, as it was
        record.log_lines[-1] = report
    return InvokeResult(b"", None, result.executed_version, record)


def restore_of(env: Environment, cold: bool) -> tuple[float, int] | None:
    """(Restore Duration, Billed Restore Duration) of a restored environment's first call: the
    whole restore, and the runtime's part of it (after-restore hooks, up to its first /next)."""
    if not (cold and env.restored and env.init_duration_ms is not None):
        return None
    return env.init_duration_ms, math.ceil(env.function_init_ms)


def _compact(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def build_result(
    env: Environment,
    fn: FunctionConfig,
    request_id: str,
    started_at: float,
    cold: bool,
    outcome: Outcome,
    data: bytes,
    trigger: str | None,
    qualifier: str | None,
    first_init: FailedInit | None = None,
) -> InvokeResult:
    """Turn how the invocation ended into Lambda's payload, log and record; ``first_init``: the
    failed INIT (Phase: init) that this invocation retried in ``env`` (init_retry.py)."""
    kind = outcome.kind
    status, error_type, function_error = STATUS_SUCCESS, None, None
    payload = outcome.body
    in_init = cold and env.invocations == 0  # it failed before the event was handed over
    if kind == "error" or kind == "init_error":
        status, function_error = STATUS_ERROR, "Unhandled"
        error_type = outcome.posted_error_type()
    elif kind == "too_large":
        status, function_error = STATUS_ERROR, "Unhandled"
        error_type = "Function.ResponseSizeTooLarge"
        payload = _compact(
            {
                "errorType": error_type,
                "errorMessage": f"Response payload size ({outcome.size} bytes) exceeded "
                f"maximum allowed payload size ({MAX_PAYLOAD} bytes).",
            }
        )
    elif kind == "timeout":
        status, function_error, error_type = STATUS_TIMEOUT, "Unhandled", "Sandbox.Timedout"
        payload = _compact(
            {
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                f"{fn.timeout:.2f} seconds",
                "errorType": error_type,
            }
        )
    elif kind == "exit":
        status, function_error, error_type = STATUS_CRASH, "Unhandled", "Runtime.ExitError"
        how = outcome.exit_description or "signal: killed"
        reason = (
            "Runtime exited without providing a reason"
            if how == "exit status 0"
            else f"Runtime exited with error: {how}"
        )
        payload = _compact(
            {
                "errorType": error_type,
                "errorMessage": f"RequestId: {request_id} Error: {reason}",
            }
        )
    duration = outcome.duration_ms
    restore = restore_of(env, cold)
    init_ms = env.init_duration_ms if cold and restore is None and first_init is None else None
    # Never more than Memory Size, as Lambda reports it (its cgroup never lets a function past
    # it): a peak RSS also counts pages outside RLIMIT_DATA (132/128 for a runtime killed
    # under the rlimits).
    max_memory_mb = min((env.peak_kb + 512) // 1024, fn.memory_size)
    if in_init and first_init is None:
        duration = 0.0
    version = env.version
    record = InvocationRecord(
        request_id=request_id,
        function=fn.name,
        version=version,
        trigger=trigger,
        started_at=started_at,
        duration_ms=duration,
        billed_ms=billed_duration_ms(duration, init_ms),
        init_duration_ms=init_ms,
        memory_size=fn.memory_size,
        max_memory_mb=max_memory_mb,
        cold=cold,
        status=status,
        error_type=error_type,
        request=data[:EXCERPT_BYTES].decode("utf-8", "replace"),
        response=payload[:EXCERPT_BYTES].decode("utf-8", "replace"),
        env_id=env.id,
        qualifier=qualifier,
        # the whole event, when the excerpt cannot hold it (so the record can be replayed)
        payload=bytes(data) if len(data) >= EXCERPT_BYTES else None,
        paused_ms=outcome.paused_ms,  # at a debugger prompt: not in the duration, not billed
        init_retry_ms=None if first_init is None else first_init.retry_ms,
    )
    record.cost = cost_usd(fn.memory_size, record.billed_ms)
    # Lambda's own lines in the function's log format (platform_log.py); None: filtered out.
    # Their times: the invocation's start, INIT's (or the restore's) end, its end.
    platform = PlatformLog(fn, version)
    invoked_at = started_at + (init_ms or (restore[0] if restore else 0.0)) / 1000
    ended_at = invoked_at + duration / 1000
    if first_init is not None:  # the retry started as the first INIT ended
        invoked_at = first_init.ended_at + first_init.retry_ms / 1000
        ended_at = first_init.ended_at + duration / 1000
    lines: list[str | None] = []
    if restore is not None:
        lines.append(platform.restore_start(env.runs_as, started_at))
        lines.extend(env.init_log.text_lines())
        lines.append(platform.restore_report(restore[0], invoked_at))
    elif first_init is not None:
        lines.extend(first_init.lines(platform))
        lines.extend(env.init_log.text_lines())  # the retry's
        if in_init:  # it failed again
            retry_ms = env.init_duration_ms or first_init.retry_ms
            lines.append(retry_report(platform, outcome, retry_ms, invoked_at))
    elif cold:
        lines.append(platform.init_start(env.runs_as, started_at))
        lines.extend(env.init_log.text_lines())
        if in_init and init_ms is not None:
            init_status = "timeout" if kind == "timeout" else "error"
            lines.append(platform.init_report(init_ms, init_status, error_type, invoked_at))
    lines.append(platform.start(request_id, invoked_at))
    lines.extend(outcome.log_lines or ())
    if kind == "timeout":
        lines.append(timeout_line(request_id, fn.timeout, time.time()))
    lines.append(platform.end(record, ended_at))
    lines.append(platform.report(record, ended_at, restore))
    record.log_lines = [line for line in lines if line is not None]
    return InvokeResult(payload, function_error, version, record)
