"""The engine's background event sources: the async dispatcher and destinations, queue and
stream mappings, schedules, bucket folders and topics. They invoke through a small protocol, not
the engine.
"""

from __future__ import annotations

from ..shapes.sqs import queue_arn
from .buckets import bucket_folders
from .scheduler import schedule_triggers
from .stream_status import ShardStatus
from .topic_attributes import (
    ATTRIBUTE_TYPES,
    TopicAttribute,
    check_attribute,
    check_subject,
)
from .topics import (
    MAX_MESSAGE_BYTES,
    TopicError,
    check_message,
    parse_attribute,
    publish_message,
    topic_subscribers,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "MAX_MESSAGE_BYTES",
    "TopicAttribute",
    "check_attribute",
    "check_message",
    "check_subject",
    "ShardStatus",
    "TopicError",
    "bucket_folders",
    "parse_attribute",
    "publish_message",
    "queue_arn",
    "schedule_triggers",
    "topic_subscribers",
]
