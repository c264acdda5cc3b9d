"""Lambda's text platform lines, billed duration and cost (LAMBDA_REFERENCE §6, §9)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest

from workbench.engine.model.records import (
    STATUS_CRASH,
    STATUS_ERROR,
    STATUS_TIMEOUT,
    InvocationRecord,
    billed_duration_ms,
    cost_usd,
    end_line,
    init_report_line,
    init_start_line,
    report_line,
    runtime_version,
    start_line,
    timeout_line,
)

RID = "8f5c6e2a-1b3d-4e5f-9a7b-0c1d2e3f4a5b"


def _record(**kw) -> InvocationRecord:
    base = dict(
        request_id=RID,
        function="hello",
        duration_ms=2.75,
        billed_ms=3,
        memory_size=128,
        max_memory_mb=56,
    )
    base.update(kw)
    return InvocationRecord(**base)


# --- START / END ------------------------------------------------------------------------------


def test_start_line_has_a_space_before_version():
    assert start_line(RID, "$LATEST") == f"START RequestId: {RID} Version: $LATEST"
    assert start_line(RID, "3") == f"START RequestId: {RID} Version: 3"


def test_end_line():
    assert end_line(RID) == f"END RequestId: {RID}"


# --- REPORT -----------------------------------------------------------------------------------


def test_report_line_success_warm():
    assert report_line(_record()) == (
        f"REPORT RequestId: {RID}\tDuration: 2.75 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 56 MB\t"
    )


def test_report_line_cold_start_puts_init_duration_after_max_memory():
    rec = _record(cold=True, init_duration_ms=113.51, billed_ms=117)
    assert report_line(rec) == (
        f"REPORT RequestId: {RID}\tDuration: 2.75 ms\tBilled Duration: 117 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 113.51 ms\t"
    )


def test_report_line_durations_have_two_decimals():
    rec = _record(duration_ms=1.0, init_duration_ms=100.006, memory_size=1024, max_memory_mb=7)
    line = report_line(rec)
    assert "\tDuration: 1.00 ms\t" in line
    assert "\tInit Duration: 100.01 ms\t" in line
    assert "\tMemory Size: 1024 MB\tMax Memory Used: 7 MB\t" in line


def test_report_line_timeout():
    rec = _record(
        duration_ms=1000.62, billed_ms=1001, status=STATUS_TIMEOUT, error_type="Sandbox.Timedout"
    )
    assert report_line(rec) == (
        f"REPORT RequestId: {RID}\tDuration: 1000.62 ms\tBilled Duration: 1001 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 56 MB\tStatus: timeout\t"
    )


def test_report_line_crash_runtime_exit_error():
    rec = _record(status=STATUS_CRASH, error_type="Runtime.ExitError")
    assert report_line(rec) == (
        f"REPORT RequestId: {RID}\tDuration: 2.75 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 56 MB\t"
        "Status: error\tError Type: Runtime.ExitError\t"
    )


def test_report_line_crash_without_error_type_defaults_to_exit_error():
    rec = _record(status=STATUS_CRASH, error_type=None)
    assert report_line(rec).endswith("\tStatus: error\tError Type: Runtime.ExitError\t")


def test_report_line_init_error_on_cold_start():
    rec = _record(
        cold=True,
        init_duration_ms=150.79,
        billed_ms=154,
        status=STATUS_ERROR,
        error_type="Runtime.UserCodeSyntaxError",
    )
    assert report_line(rec) == (
        f"REPORT RequestId: {RID}\tDuration: 2.75 ms\tBilled Duration: 154 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 150.79 ms\t"
        "Status: error\tError Type: Runtime.UserCodeSyntaxError\t"
    )


@pytest.mark.parametrize("error_type", ["Sandbox.Timedout", "Function.ResponseSizeTooLarge"])
def test_report_line_other_platform_errors_get_status(error_type):
    rec = _record(status=STATUS_ERROR, error_type=error_type)
    assert report_line(rec).endswith(f"\tStatus: error\tError Type: {error_type}\t")


def test_report_line_handler_exception_has_no_status():
    rec = _record(status=STATUS_ERROR, error_type="ValueError")
    line = report_line(rec)
    assert line == (
        f"REPORT RequestId: {RID}\tDuration: 2.75 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 56 MB\t"
    )
    assert "Status" not in line and "ValueError" not in line


# --- INIT_START / INIT_REPORT -----------------------------------------------------------------


def test_init_start_line_exact():
    digest = hashlib.sha256(b"python:3.11.v1").hexdigest()
    assert init_start_line("python3.11") == (
        "INIT_START Runtime Version: python:3.11.v1\t"
        f"Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:{digest}"
    )


def test_init_start_line_arn_is_deterministic_64_hex_and_per_runtime():
    line = init_start_line("python3.12")
    assert line == init_start_line("python3.12")
    assert re.fullmatch(
        r"INIT_START Runtime Version: python:3\.12\.v1\t"
        r"Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}",
        line,
    )
    assert line.rsplit(":", 1)[1] != init_start_line("python3.11").rsplit(":", 1)[1]


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        ("python3.11", "python:3.11.v1"),
        ("python3.9", "python:3.9.v1"),
        ("nodejs20.x", "nodejs:20.v1"),
        ("provided.al2023", "provided:al2023.v1"),
        ("python:3.9.v18", "python:3.9.v18"),
    ],
)
def test_runtime_version(runtime, expected):
    assert runtime_version(runtime) == expected


def test_init_report_line_error():
    assert init_report_line(150.79, "init", "error", "Runtime.UserCodeSyntaxError") == (
        "INIT_REPORT Init Duration: 150.79 ms\tPhase: init\t"
        "Status: error\tError Type: Runtime.UserCodeSyntaxError"
    )


def test_init_report_line_without_status():
    assert init_report_line(3.0, "invoke", None, None) == (
        "INIT_REPORT Init Duration: 3.00 ms\tPhase: invoke"
    )


def test_init_report_line_timeout_without_error_type():
    assert init_report_line(10000.0, "init", "timeout", None) == (
        "INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout"
    )


# --- timeout ----------------------------------------------------------------------------------


def test_timeout_line():
    now = datetime(2020, 11, 10, 5, 46, 57, 874000, tzinfo=UTC).timestamp()
    assert timeout_line(RID, 1, now) == (
        f"2020-11-10T05:46:57.874Z {RID} Task timed out after 1.00 seconds"
    )


def test_timeout_line_pads_milliseconds_and_formats_seconds():
    now = datetime(2024, 1, 2, 3, 4, 5, 7000, tzinfo=UTC).timestamp()
    assert (
        timeout_line("x", 3.0712, now)
        == "2024-01-02T03:04:05.007Z x Task timed out after 3.07 seconds"
    )


# --- billing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "init", "billed"),
    [
        (2.75, None, 3),
        (3.0, None, 3),
        (0.01, None, 1),
        (1000.62, None, 1001),
        (2.75, 113.51, 117),  # INIT billed since Aug 2025
        (2.0, 1.0, 3),
    ],
)
def test_billed_duration_ms(duration, init, billed):
    assert billed_duration_ms(duration, init) == billed


def test_cost_usd_128mb_1ms():
    assert cost_usd(128, 1) == pytest.approx(2.0e-7 + 0.125 * 0.001 * 0.0000166667, rel=1e-12)


def test_cost_usd_one_gb_second():
    assert cost_usd(1024, 1000) == pytest.approx(0.0000002 + 0.0000166667, rel=1e-12)


def test_cost_usd_zero_billed_is_the_request_charge():
    assert cost_usd(512, 0) == pytest.approx(0.0000002, rel=1e-12)
