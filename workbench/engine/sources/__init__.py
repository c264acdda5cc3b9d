"""The engine's background event sources: the async dispatcher and destinations, queue and
stream mappings, schedules, bucket folders and topics. They invoke through a small protocol, not
the engine.
"""

from __future__ import annotations

from ..shapes.sqs import queue_arn
from .buckets import bucket_folders
from .scheduler import schedule_triggers
from .stream_status import ShardStatus
from .topics import TopicError, parse_attribute, publish_message, topic_subscribers

__all__ = [
    "ShardStatus",
    "TopicError",
    "bucket_folders",
    "parse_attribute",
    "publish_message",
    "queue_arn",
    "schedule_triggers",
    "topic_subscribers",
]
