"""Lambda's own log lines (INIT_START, START, END, REPORT, INIT_REPORT) in the function's log
format: text as ever, or under ``LogFormat: JSON`` the telemetry-shaped records Lambda writes to
CloudWatch instead, filtered by the system log level.

Shapes and levels from AWS's docs [DG:telemetry-schema-reference][DG:monitoring-cloudwatchlogs-
advanced, "Log-level filtering"]: ``{"time": ..., "type": "platform.start", "record": {...}}``;
``platform.initStart``, ``platform.initReport``, ``platform.start`` and ``platform.report`` are
INFO, ``platform.runtimeDone`` (END's counterpart) is DEBUG, so the default level (INFO) shows
all but it and WARN shows none of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..config.function import FunctionConfig
from ..config.logging_config import DEFAULT_LEVEL, LoggingConfig
from ..model.records import (
    STATUS_CRASH,
    STATUS_SUCCESS,
    STATUS_TIMEOUT,
    InvocationRecord,
    end_line,
    init_report_line,
    init_start_line,
    iso_timestamp,
    report_line,
    restore_report_line,
    restore_start_line,
    runtime_version,
    runtime_version_arn,
    start_line,
)

_RANK = {"DEBUG": 0, "INFO": 1, "WARN": 2}
_LEVELS = {
    "platform.initStart": "INFO",
    "platform.initReport": "INFO",
    "platform.restoreStart": "INFO",
    "platform.restoreReport": "INFO",
    "platform.start": "INFO",
    "platform.runtimeDone": "DEBUG",
    "platform.report": "INFO",
}


def _status(record: InvocationRecord) -> str:
    """The telemetry status of an invocation. UNVERIFIED: which of ``error`` / ``failure`` Lambda
    gives a handler's exception and which a runtime that died; the docs list both values."""
    if record.status == STATUS_SUCCESS:
        return "success"
    if record.status == STATUS_TIMEOUT:
        return "timeout"
    if record.status == STATUS_CRASH:
        return "failure"
    return "error"


@dataclass(frozen=True, slots=True)
class PlatformLog:
    """One function's platform lines; ``None`` from a method: filtered out by the level."""

    fn: FunctionConfig
    version: str

    @property
    def config(self) -> LoggingConfig:
        return self.fn.logging

    def _json(self, kind: str, at: float, record: dict[str, object]) -> str | None:
        threshold = self.config.system_level or DEFAULT_LEVEL
        if _RANK[_LEVELS[kind]] < _RANK[threshold]:
            return None
        event = {"time": iso_timestamp(at), "type": kind, "record": record}
        return json.dumps(event, separators=(",", ":"))

    def init_start(self, runtime: str, at: float) -> str | None:
        if not self.config.json:
            return init_start_line(runtime)
        # UNVERIFIED: functionName / functionVersion, as recent CloudWatch records show them
        return self._json(
            "platform.initStart",
            at,
            {
                "initializationType": "on-demand",
                "phase": "init",
                "runtimeVersion": runtime_version(runtime),
                "runtimeVersionArn": runtime_version_arn(runtime),
                "functionName": self.fn.name,
                "functionVersion": self.version,
            },
        )

    def init_report(
        self, init_ms: float, status: str, error_type: str | None, at: float, phase: str = "init"
    ) -> str | None:
        """INIT_REPORT; ``phase`` ``invoke``: an INIT retried in an invocation (init_retry.py)."""
        if not self.config.json:
            return init_report_line(init_ms, phase, status, error_type)
        record: dict[str, object] = {
            "initializationType": "on-demand",
            "phase": phase,
            "status": status,
        }
        if error_type:
            record["errorType"] = error_type
        record["metrics"] = {"durationMs": round(init_ms, 2)}
        return self._json("platform.initReport", at, record)

    def restore_start(self, runtime: str, at: float) -> str | None:
        """A SnapStart environment's RESTORE_START. UNVERIFIED: its JSON record's fields,
        taken to be initStart's runtime and function fields."""
        if not self.config.json:
            return restore_start_line(runtime)
        return self._json(
            "platform.restoreStart",
            at,
            {
                "runtimeVersion": runtime_version(runtime),
                "runtimeVersionArn": runtime_version_arn(runtime),
                "functionName": self.fn.name,
                "functionVersion": self.version,
            },
        )

    def restore_report(self, restore_ms: float, at: float) -> str | None:
        if not self.config.json:
            return restore_report_line(restore_ms)
        record: dict[str, object] = {
            "status": "success",
            "metrics": {"durationMs": round(restore_ms, 2)},
        }
        return self._json("platform.restoreReport", at, record)

    def start(self, request_id: str, at: float) -> str | None:
        if not self.config.json:
            return start_line(request_id, self.version)
        return self._json("platform.start", at, {"requestId": request_id, "version": self.version})

    def end(self, record: InvocationRecord, at: float) -> str | None:
        if not self.config.json:
            return end_line(record.request_id)
        done: dict[str, object] = {"requestId": record.request_id, "status": _status(record)}
        if record.error_type and record.status != STATUS_SUCCESS:
            done["errorType"] = record.error_type
        done["metrics"] = {"durationMs": round(record.duration_ms, 2)}
        return self._json("platform.runtimeDone", at, done)

    def report(
        self, record: InvocationRecord, at: float, restore: tuple[float, int] | None = None
    ) -> str | None:
        """REPORT / ``platform.report``; ``restore``: a SnapStart environment's first call's
        (Restore Duration, Billed Restore Duration)."""
        if not self.config.json:
            return report_line(record, restore)
        return self._json("platform.report", at, report_record(record, restore))


def report_record(
    record: InvocationRecord, restore: tuple[float, int] | None = None
) -> dict[str, object]:
    """``platform.report``'s record [DG:telemetry-schema-reference, ReportMetrics]: what JSON logs
    show and what the Telemetry API sends (runtime/telemetry.py)."""
    metrics: dict[str, object] = {
        "durationMs": round(record.duration_ms, 2),
        "billedDurationMs": record.billed_ms,
        "memorySizeMB": record.memory_size,
        "maxMemoryUsedMB": record.max_memory_mb,
    }
    if record.init_duration_ms is not None:
        metrics["initDurationMs"] = round(record.init_duration_ms, 2)
    if restore is not None:  # the telemetry schema's names for them
        metrics["restoreDurationMs"] = round(restore[0], 2)
        metrics["billedRestoreDurationMs"] = restore[1]
    report: dict[str, object] = {
        "requestId": record.request_id,
        "metrics": metrics,
        "status": _status(record),
    }
    if record.error_type and record.status != STATUS_SUCCESS:
        report["errorType"] = record.error_type
    return report
