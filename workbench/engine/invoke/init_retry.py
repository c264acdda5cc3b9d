"""Lambda's INIT retry: an on-demand INIT that failed runs once more, inside the invocation that
needed it, in a new runtime, bounded by the function's timeout instead of INIT's 10 s.

"If all three tasks do not complete within 10 seconds, Lambda retries the Init phase at the time
of the first function invocation with the configured function timeout" [DG:lambda-runtime-
environment]; an INIT that failed is retried the same way (AWS's emulator: ``doInvoke`` runs
``doRuntimeDomainInit(..., LifecyclePhaseInvoke)`` when INIT is not done). What the function's
log shows, as public CloudWatch logs show it (an import error, a missing bootstrap, an INIT
timeout)::

    INIT_START Runtime Version: ...
    <the first INIT's output>
    INIT_REPORT Init Duration: 250.38 ms  Phase: init    Status: error  Error Type: T
    <the retry's output>
    INIT_REPORT Init Duration: 80.49 ms   Phase: invoke  Status: error  Error Type: T
    START RequestId: ...
    END RequestId: ...
    REPORT RequestId: ...  Duration: 98.71 ms ... Status: error  Error Type: T

No second INIT_START (UNVERIFIED beyond those logs: none shows one between the two
INIT_REPORTs), no INIT_REPORT when the retry succeeds (Lambda writes none for an on-demand INIT
that succeeds), REPORT's Duration covers the retry and has no Init Duration. A retry that runs
past the function's timeout reads ``Phase: invoke Status: error Error Type: Runtime.Unknown``
then ``Task timed out`` (a public log, 2024). Provisioned and SnapStart environments are
initialised ahead, never in an invocation: their failures are not retried here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..runtime.environment import Environment, Outcome
from .platform_log import PlatformLog


def retries_init(env: Environment) -> bool:
    """Does an invocation retry this environment's failed INIT? Only an on-demand INIT in
    Phase: init (not under an IDE's debugger: it would have to attach again)."""
    return (
        env.init_type == "on-demand"
        and env.init_phase == "init"
        and env.restore_from is None
        and env.ide is None
    )


def init_failure(outcome: Outcome) -> tuple[str, str | None]:
    """(INIT_REPORT's Status, its Error Type) for an INIT that ended with ``outcome``."""
    if outcome.kind == "timeout":
        return "timeout", None
    if outcome.kind == "exit":
        return "error", "Runtime.ExitError"
    return "error", outcome.posted_error_type() or "Runtime.Unknown"


@dataclass(slots=True)
class FailedInit:
    """The INIT in Phase: init that failed before the retry: the invocation's first lines."""

    runs_as: str  # the runtime INIT_START names
    output: list[str]
    duration_ms: float
    status: str  # INIT_REPORT's: error | timeout
    error_type: str | None
    started_at: float
    ended_at: float
    retry_ms: float = 0.0  # the retry's INIT, from its start (a start slot's wait included)

    @classmethod
    def of(cls, env: Environment, outcome: Outcome, started_at: float) -> FailedInit:
        status, error_type = init_failure(outcome)
        now = time.time()
        duration = env.init_duration_ms
        if duration is None:
            duration = (now - started_at) * 1000
        output = env.init_log.text_lines()
        return cls(env.runs_as, output, duration, status, error_type, started_at, now)

    def lines(self, platform: PlatformLog) -> list[str | None]:
        """INIT_START, the output, INIT_REPORT (Phase: init); None: filtered by the level."""
        report = platform.init_report(
            self.duration_ms, self.status, self.error_type, self.ended_at, phase="init"
        )
        return [platform.init_start(self.runs_as, self.started_at), *self.output, report]


def retry_report(
    platform: PlatformLog, outcome: Outcome, duration_ms: float, at: float
) -> str | None:
    """The INIT_REPORT (Phase: invoke) of a retry that failed too."""
    status, error_type = init_failure(outcome)
    if status == "timeout":  # cut by the function's timeout: as the public log reads it
        status, error_type = "error", "Runtime.Unknown"
    return platform.init_report(duration_ms, status, error_type, at, phase="invoke")
