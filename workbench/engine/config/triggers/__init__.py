"""``[[triggers]]`` in ``function.toml``: one registry of trigger types, one module per type.

``config.py`` validates every trigger table with ``parse_trigger`` as the file loads (a bad key
is a config error with its line), and keeps the raw table on ``FunctionConfig.triggers`` (so a
published version stores what the user wrote). The event sources call ``triggers_of(fn, kind)``
for the typed, defaulted form.

Adding a trigger type: a module here declaring its dataclass and ``TriggerType`` (keys, parse,
label, description), its registration below, and its event source, registered against the
type in ``engine/sources/registry.py``. Every type also takes ``enabled`` (true).
"""

from __future__ import annotations

from .http import HTTP, HttpTrigger
from .kinesis import KINESIS, KinesisTrigger
from .queue import QUEUE, QueueTrigger
from .registry import (
    TRIGGERS,
    Trigger,
    TriggerError,
    TriggerRegistry,
    TriggerType,
    describe,
    label,
    numbered_triggers,
    parse_trigger,
    triggers_of,
)
from .s3 import S3, S3Trigger
from .schedule import SCHEDULE, ScheduleTrigger
from .sns import SNS, SnsTrigger

for _kind in (S3, HTTP, QUEUE, SCHEDULE, SNS, KINESIS):  # in the order errors list them
    TRIGGERS.register(_kind)

__all__ = [
    "TRIGGERS",
    "HttpTrigger",
    "KinesisTrigger",
    "QueueTrigger",
    "S3Trigger",
    "ScheduleTrigger",
    "SnsTrigger",
    "Trigger",
    "TriggerError",
    "TriggerRegistry",
    "TriggerType",
    "describe",
    "label",
    "numbered_triggers",
    "parse_trigger",
    "triggers_of",
]
