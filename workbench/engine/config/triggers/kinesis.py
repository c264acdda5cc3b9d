"""``type = "kinesis"``: a local stream read shard by shard, in order (an event source mapping).

Keys, with Lambda's defaults and ranges (CreateEventSourceMapping for Kinesis): stream,
starting_position (required: LATEST | TRIM_HORIZON | AT_TIMESTAMP), starting_position_timestamp
(AT_TIMESTAMP only: epoch seconds or a TOML date-time), batch_size (100, 1..10000),
maximum_batching_window (0..300 s), maximum_retry_attempts (-1 = until the records expire,
0..10000), maximum_record_age (-1 = forever, 60..604800 s), bisect_batch_on_function_error
(false), report_batch_item_failures (false; or ``function_response_types =
["ReportBatchItemFailures"]``), parallelization_factor (1..10), on_failure ("queue:NAME"),
shards (1: the shard count the stream is created with when it does not exist).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .registry import TriggerError, TriggerType
from .values import QUEUE_NAME_RE, bool_value, int_value

StartingPosition = Literal["LATEST", "TRIM_HORIZON", "AT_TIMESTAMP"]
POSITIONS: tuple[StartingPosition, ...] = ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")
STREAM_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,128}")  # Kinesis's StreamName
STREAM_NAME_CHARS = "1 to 128 of letters, digits, '_', '.' and '-'"


@dataclass(frozen=True, slots=True)
class KinesisTrigger:
    stream: str
    starting_position: StartingPosition = "LATEST"
    starting_position_timestamp: float | None = None  # epoch seconds, AT_TIMESTAMP only
    batch_size: int = 100
    maximum_batching_window: int = 0  # seconds
    maximum_retry_attempts: int = -1  # -1: retried until the records expire
    maximum_record_age: int = -1  # seconds; -1: no limit (the stream's retention)
    bisect_batch_on_function_error: bool = False
    report_batch_item_failures: bool = False
    parallelization_factor: int = 1
    on_failure: str | None = None  # a local queue's name
    shards: int = 1
    enabled: bool = True
    type: str = "kinesis"


def _stream(raw: Mapping[str, Any]) -> str:
    value = raw["stream"]
    if not isinstance(value, str) or not STREAM_NAME_RE.fullmatch(value):
        raise TriggerError("stream", f"must be a stream name: {STREAM_NAME_CHARS}")
    return value


def _timestamp(raw: Mapping[str, Any], position: str) -> float | None:
    value = raw.get("starting_position_timestamp")
    if position != "AT_TIMESTAMP":
        if value is not None:
            raise TriggerError(
                "starting_position_timestamp", 'is only for starting_position = "AT_TIMESTAMP"'
            )
        return None
    if value is None:
        raise TriggerError(
            "starting_position_timestamp",
            'is required with starting_position = "AT_TIMESTAMP" (epoch seconds, or a date-time '
            "such as 2026-12-04T10:00:00Z)",
        )
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TriggerError(
            "starting_position_timestamp",
            "must be epoch seconds (a number) or a date-time such as 2026-12-04T10:00:00Z",
        )
    return float(value)


def _report(raw: Mapping[str, Any]) -> bool:
    report = bool_value(raw, "report_batch_item_failures", False)
    types = raw.get("function_response_types")
    if types is None:
        return report
    if not isinstance(types, list) or any(t != "ReportBatchItemFailures" for t in types):
        raise TriggerError(
            "function_response_types", 'must be [] or ["ReportBatchItemFailures"], as in Lambda'
        )
    return report or bool(types)


def _parse(raw: Mapping[str, Any], enabled: bool) -> KinesisTrigger:
    stream = _stream(raw)
    position = raw.get("starting_position")
    if position not in POSITIONS:
        got = "missing" if position is None else f"{position!r}"
        raise TriggerError(
            "starting_position",
            f"must be one of {', '.join(POSITIONS)} (required for a kinesis trigger, as in "
            f"Lambda); got {got}",
        )
    timestamp = _timestamp(raw, position)
    batch_size = int_value(raw, "batch_size", 100, 1, 10000)
    window = int_value(raw, "maximum_batching_window", 0, 0, 300, " (seconds)")
    retries = int_value(raw, "maximum_retry_attempts", -1, -1, 10000, " (-1: until expiry)")
    age = int_value(raw, "maximum_record_age", -1, -1, 604800, " (seconds; -1: no limit)")
    if 0 <= age < 60:
        raise TriggerError("maximum_record_age", "must be -1 (no limit) or 60 to 604800 seconds")
    bisect = bool_value(raw, "bisect_batch_on_function_error", False)
    factor = int_value(raw, "parallelization_factor", 1, 1, 10)
    on_failure = raw.get("on_failure")
    if on_failure is not None:
        kind, _, name = on_failure.partition(":") if isinstance(on_failure, str) else ("",) * 3
        if kind != "queue" or not QUEUE_NAME_RE.fullmatch(name):
            raise TriggerError(
                "on_failure", 'must be "queue:NAME", a local queue for the failed batches\' records'
            )
        on_failure = name
    shards = int_value(raw, "shards", 1, 1, 64)
    return KinesisTrigger(
        stream,
        position,
        timestamp,
        batch_size,
        window,
        retries,
        age,
        bisect,
        _report(raw),
        factor,
        on_failure,
        shards,
        enabled,
    )


def _describe(trigger: KinesisTrigger, function: str, roots: Sequence[Path]) -> str:
    line = (
        f"stream {trigger.stream} -> {function} (from {trigger.starting_position}, "
        f"batch {trigger.batch_size}"
    )
    if trigger.parallelization_factor > 1:
        line += f", {trigger.parallelization_factor} per shard"
    if trigger.on_failure:
        line += f", failures to queue {trigger.on_failure}"
    return line + ")"


KINESIS = TriggerType(
    name="kinesis",
    cls=KinesisTrigger,
    keys=(
        "stream",
        "starting_position",
        "starting_position_timestamp",
        "batch_size",
        "maximum_batching_window",
        "maximum_retry_attempts",
        "maximum_record_age",
        "bisect_batch_on_function_error",
        "report_batch_item_failures",
        "function_response_types",
        "parallelization_factor",
        "on_failure",
        "shards",
    ),
    required="stream",
    parse=_parse,
    label=lambda t: f"kinesis:{t.stream}",
    describe=_describe,
)
