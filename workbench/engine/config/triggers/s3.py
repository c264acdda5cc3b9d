"""``type = "s3"``: files under ``<root>/buckets/NAME/`` become S3 notifications.

Keys: bucket, events (["s3:ObjectCreated:*"]), prefix (""), suffix ("").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .registry import TriggerError, TriggerType
from .values import str_value

BUCKETS_DIR = "buckets"  # a bucket's objects are the files under <root>/buckets/<bucket>/
# S3 bucket naming (the general-purpose rules, dots allowed): 3-63 of a-z 0-9 . -
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
S3_EVENTS: tuple[str, ...] = (
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
)


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


def _parse(raw: Mapping[str, Any], enabled: bool) -> S3Trigger:
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
        bucket, tuple(names), str_value(raw, "prefix", ""), str_value(raw, "suffix", ""), enabled
    )


def _describe(trigger: S3Trigger, function: str, roots: Sequence[Path]) -> str:
    where = ", ".join(f"{root / BUCKETS_DIR / trigger.bucket}/" for root in roots)
    events = ", ".join(e.removeprefix("s3:") for e in trigger.events)
    return f"bucket {trigger.bucket} ({where}) -> {function} [{events}]"


S3 = TriggerType(
    name="s3",
    cls=S3Trigger,
    keys=("bucket", "events", "prefix", "suffix"),
    required="bucket",
    parse=_parse,
    label=lambda t: f"s3:{t.bucket}",
    describe=_describe,
)
