"""``[[triggers]]`` in ``function.toml``: what each trigger type accepts, parsed and checked.

``config.py`` validates every trigger table with ``parse_trigger`` as the file loads (a bad key
is a config error with its line), and keeps the raw table on ``FunctionConfig.triggers`` (so a
published version stores what the user wrote). The event sources call ``triggers_of(fn)`` for
the typed, defaulted form.

| type       | keys (defaults)                                                                 |
|------------|---------------------------------------------------------------------------------|
| `s3`       | bucket, events (["s3:ObjectCreated:*"]), prefix (""), suffix ("")                |
| `http`     | path, method ("ANY"), payload_format ("2.0")                                     |
| `queue`    | queue, batch_size (10), maximum_batching_window (0), visibility_timeout (30),    |
|            | report_batch_item_failures (false), max_receive_count, dead_letter_queue         |
| `schedule` | expression (rate(...) / cron(...)), input (a table: the event instead of the     |
|            | Scheduled Event), name (the rule's name)                                         |
| `sns`      | topic                                                                            |

Every type also takes ``enabled`` (true).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from .schedule_expr import ScheduleError, parse_expression

if TYPE_CHECKING:
    from .schedule_expr import Schedule

TRIGGER_TYPES: tuple[str, ...] = ("s3", "http", "queue", "schedule", "sns")

# S3 bucket naming (the general-purpose rules, dots allowed): 3-63 of a-z 0-9 . -
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
QUEUE_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,80}(\.fifo)?")
TOPIC_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,256}")
RULE_NAME_RE = re.compile(r"[\w.-]{1,64}")
S3_EVENTS: tuple[str, ...] = (
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
)
HTTP_METHODS: tuple[str, ...] = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PAYLOAD_FORMATS: tuple[str, ...] = ("2.0", "1.0")
_PATH_PARAM_RE = re.compile(r"\{([A-Za-z0-9_.-]+)(\+?)\}")
_PATH_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~:@!$&'()*,;=+-]*")

COMMON_KEYS = ("type", "enabled")
KEYS: dict[str, tuple[str, ...]] = {
    "s3": ("bucket", "events", "prefix", "suffix"),
    "http": ("path", "method", "payload_format"),
    "queue": (
        "queue",
        "batch_size",
        "maximum_batching_window",
        "visibility_timeout",
        "report_batch_item_failures",
        "max_receive_count",
        "dead_letter_queue",
    ),
    "schedule": ("expression", "input", "name"),
    "sns": ("topic",),
}
REQUIRED: dict[str, str] = {
    "s3": "bucket",
    "http": "path",
    "queue": "queue",
    "schedule": "expression",
    "sns": "topic",
}


class TriggerError(ValueError):
    """A bad trigger table: ``key`` is the offending key (None: the table itself)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class S3Trigger:
    bucket: str
    events: tuple[str, ...] = ("s3:ObjectCreated:*",)
    prefix: str = ""
    suffix: str = ""
    enabled: bool = True
    type: str = "s3"

    def matches(self, event_name: str, key: str) -> bool:
        """Does an event ``ObjectCreated:Put`` / ``ObjectRemoved:Delete`` on ``key`` fire it?"""
        if not (key.startswith(self.prefix) and key.endswith(self.suffix)):
            return False
        kind = event_name.split(":")[0]
        wanted = {f"s3:{event_name}", f"s3:{kind}:*"}
        return any(e in wanted for e in self.events)


@dataclass(frozen=True, slots=True)
class HttpTrigger:
    path: str
    method: str = "ANY"
    payload_format: str = "2.0"
    enabled: bool = True
    type: str = "http"

    @property
    def route_key(self) -> str:
        """API Gateway's route key: ``GET /items/{id}``, ``ANY /{proxy+}``."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class QueueTrigger:
    queue: str
    batch_size: int = 10
    maximum_batching_window: int = 0  # seconds
    visibility_timeout: int = 30  # seconds (SQS's default)
    report_batch_item_failures: bool = False
    max_receive_count: int | None = None
    dead_letter_queue: str | None = None  # default "<queue>-dlq" when max_receive_count is set
    enabled: bool = True
    type: str = "queue"


@dataclass(frozen=True, slots=True)
class ScheduleTrigger:
    expression: str
    schedule: Schedule = field(compare=False, hash=False)
    input: Mapping[str, object] | None = field(default=None, compare=False, hash=False)
    name: str | None = None
    enabled: bool = True
    type: str = "schedule"


@dataclass(frozen=True, slots=True)
class SnsTrigger:
    topic: str
    enabled: bool = True
    type: str = "sns"


Trigger = S3Trigger | HttpTrigger | QueueTrigger | ScheduleTrigger | SnsTrigger


def parse_trigger(raw: Mapping[str, Any]) -> Trigger:
    """The typed trigger a ``[[triggers]]`` table describes; ``TriggerError`` if it is wrong."""
    kind = raw.get("type")
    if kind is None:
        raise TriggerError(None, f"missing type; must be one of: {', '.join(TRIGGER_TYPES)}")
    if kind not in TRIGGER_TYPES:
        raise TriggerError("type", f"must be one of: {', '.join(TRIGGER_TYPES)}")
    accepted = (*COMMON_KEYS, *KEYS[kind])
    for key in raw:
        if key not in accepted:
            raise TriggerError(
                key, f"unknown key for the {kind} trigger; accepted: {', '.join(accepted)}"
            )
    required = REQUIRED[kind]
    if required not in raw:
        raise TriggerError(None, f"missing {required}: every {kind} trigger needs one")
    enabled = _bool(raw, "enabled", True)
    return _PARSERS[kind](raw, enabled)


class HasTriggers(Protocol):
    """A ``FunctionConfig`` (which imports this module), as far as ``triggers_of`` needs it."""

    @property
    def triggers(self) -> tuple[Mapping[str, object], ...]: ...


def triggers_of(fn: HasTriggers) -> tuple[Trigger, ...]:
    """The function's triggers, typed and defaulted (its config was validated as it loaded)."""
    return tuple(parse_trigger(raw) for raw in fn.triggers)


def label(trigger: Trigger) -> str:
    """A short name for lists: ``s3:uploads``, ``http:GET /items/{id}``, ``sns:alerts``."""
    if isinstance(trigger, S3Trigger):
        text = f"s3:{trigger.bucket}"
    elif isinstance(trigger, HttpTrigger):
        text = f"http:{trigger.route_key}"
    elif isinstance(trigger, QueueTrigger):
        text = f"queue:{trigger.queue}"
    elif isinstance(trigger, ScheduleTrigger):
        text = f"schedule:{trigger.expression}"
    else:
        text = f"sns:{trigger.topic}"
    return text if trigger.enabled else f"{text} (disabled)"


# ----------------------------------------------------------------------------- per type


def _s3(raw: Mapping[str, Any], enabled: bool) -> S3Trigger:
    bucket = raw["bucket"]
    if not isinstance(bucket, str) or not BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise TriggerError(
            "bucket",
            "must be a bucket name: 3 to 63 of a-z, 0-9, '.' and '-' (the folder "
            "buckets/NAME/ under the root)",
        )
    events = raw.get("events", ["s3:ObjectCreated:*"])
    if not isinstance(events, list) or not events:
        raise TriggerError("events", f"must be a non-empty list of: {', '.join(S3_EVENTS)}")
    names = []
    for event in events:
        name = event if isinstance(event, str) and event.startswith("s3:") else f"s3:{event}"
        if name not in S3_EVENTS:
            raise TriggerError("events", f"{event!r} is not one of: {', '.join(S3_EVENTS)}")
        names.append(name)
    return S3Trigger(
        bucket, tuple(names), _str(raw, "prefix", ""), _str(raw, "suffix", ""), enabled
    )


def _http(raw: Mapping[str, Any], enabled: bool) -> HttpTrigger:
    path = raw["path"]
    if not isinstance(path, str) or not path.startswith("/"):
        raise TriggerError("path", 'must be a path starting with "/", e.g. "/items/{id}"')
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        param = _PATH_PARAM_RE.fullmatch(segment)
        if param is not None:
            if param.group(2) and index != len(segments) - 1:
                raise TriggerError("path", f"a greedy {segment} must be the last segment")
        elif (
            "{" in segment
            or "}" in segment
            or not _PATH_SEGMENT_RE.fullmatch(segment)
            or (not segment and index != len(segments) - 1)
        ):
            raise TriggerError(
                "path", f"bad segment {segment!r}: use plain text, {{name}} or a last {{name+}}"
            )
    method = raw.get("method", "ANY")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise TriggerError("method", f"must be one of: {', '.join(HTTP_METHODS)}")
    fmt = raw.get("payload_format", "2.0")
    if isinstance(fmt, float):
        fmt = f"{fmt:.1f}"
    if fmt not in PAYLOAD_FORMATS:
        raise TriggerError("payload_format", 'must be "2.0" (the default) or "1.0"')
    return HttpTrigger(path, method.upper(), fmt, enabled)


def _queue(raw: Mapping[str, Any], enabled: bool) -> QueueTrigger:
    queue = _queue_name(raw, "queue")
    batch_size = _int(raw, "batch_size", 10, 1, 10000)
    window = _int(raw, "maximum_batching_window", 0, 0, 300, " (seconds)")
    if batch_size > 10 and window < 1:
        raise TriggerError(
            "batch_size",
            "above 10 needs maximum_batching_window of at least 1 second (as in Lambda)",
        )
    visibility = _int(raw, "visibility_timeout", 30, 0, 43200, " (seconds)")
    report = _bool(raw, "report_batch_item_failures", False)
    max_receive = raw.get("max_receive_count")
    if max_receive is not None:
        max_receive = _int(raw, "max_receive_count", 0, 1, 1000)
    dlq = raw.get("dead_letter_queue")
    if dlq is not None:
        dlq = _queue_name(raw, "dead_letter_queue")
        if max_receive is None:
            raise TriggerError(
                "dead_letter_queue", "needs max_receive_count (receives before a message moves)"
            )
        if dlq == queue:
            raise TriggerError("dead_letter_queue", "must not be the queue itself")
    elif max_receive is not None:
        dlq = f"{queue}-dlq"
    return QueueTrigger(queue, batch_size, window, visibility, report, max_receive, dlq, enabled)


def _schedule(raw: Mapping[str, Any], enabled: bool) -> ScheduleTrigger:
    expression = raw["expression"]
    if not isinstance(expression, str):
        raise TriggerError("expression", 'must be a string: "rate(5 minutes)" or "cron(...)"')
    try:
        schedule = parse_expression(expression)
    except ScheduleError as e:
        raise TriggerError("expression", str(e)) from None
    event = raw.get("input")
    if event is not None and not isinstance(event, dict):
        raise TriggerError(
            "input", "must be a table: the event to send instead of the Scheduled Event"
        )
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not RULE_NAME_RE.fullmatch(name)):
        raise TriggerError("name", "must be 1 to 64 of letters, digits, '.', '-' and '_'")
    frozen = MappingProxyType(dict(event)) if event is not None else None
    return ScheduleTrigger(expression, schedule, frozen, name, enabled)


def _sns(raw: Mapping[str, Any], enabled: bool) -> SnsTrigger:
    topic = raw["topic"]
    if not isinstance(topic, str) or not TOPIC_NAME_RE.fullmatch(topic):
        raise TriggerError("topic", "must be a topic name: 1 to 256 of letters, digits, '-', '_'")
    return SnsTrigger(topic, enabled)


_PARSERS = {"s3": _s3, "http": _http, "queue": _queue, "schedule": _schedule, "sns": _sns}


# ----------------------------------------------------------------------------- values


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise TriggerError(key, "must be true or false")
    return value


def _str(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise TriggerError(key, "must be a string")
    return value


def _int(
    raw: Mapping[str, Any], key: str, default: int, low: int, high: int, unit: str = ""
) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TriggerError(key, f"must be an integer from {low} to {high}{unit}")
    return value


def _queue_name(raw: Mapping[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not QUEUE_NAME_RE.fullmatch(value):
        raise TriggerError(key, "must be a queue name: 1 to 80 of letters, digits, '-' and '_'")
    return value
