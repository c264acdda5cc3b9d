"""``type = "sns"``: a subscription to a topic; a published message fans out to its subscribers.

Keys: topic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .registry import TriggerError, TriggerType

TOPIC_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,256}")


@dataclass(frozen=True, slots=True)
class SnsTrigger:
    topic: str
    enabled: bool = True
    type: str = "sns"


def _parse(raw: Mapping[str, Any], enabled: bool) -> SnsTrigger:
    topic = raw["topic"]
    if not isinstance(topic, str) or not TOPIC_NAME_RE.fullmatch(topic):
        raise TriggerError("topic", "must be a topic name: 1 to 256 of letters, digits, '-', '_'")
    return SnsTrigger(topic, enabled)


SNS = TriggerType(
    name="sns",
    cls=SnsTrigger,
    keys=("topic",),
    required="topic",
    parse=_parse,
    label=lambda t: f"sns:{t.topic}",
    describe=lambda t, function, roots: f"topic {t.topic} -> {function}",
)
