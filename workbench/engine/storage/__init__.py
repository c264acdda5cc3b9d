"""The state dir's SQLite stores: invocation records, the durable async queue, local queues and
saved test events, local streams. Above ``model`` only.
"""

from __future__ import annotations

from .async_queue import AsyncEvent, dispatcher_running
from .database import Database
from .db_file import StateDatabaseError, check_database
from .queues import (
    MAX_MESSAGE_BYTES,
    Message,
    QueueError,
    QueueInfo,
    QueueNotFound,
    QueueStore,
    check_name,
    md5_of_attributes,
)
from .saved_events import NAME_RULE, SavedEvents, check_event_json, check_event_name
from .store import RecordStore
from .streams import (
    StreamError,
    StreamInfo,
    StreamNotFound,
    StreamRecord,
    StreamStore,
    record_id,
    sequence_number,
    shard_id,
    shard_index,
)
from .streams import check_name as stream_check_name

__all__ = [
    "AsyncEvent",
    "Database",
    "StateDatabaseError",
    "check_database",
    "MAX_MESSAGE_BYTES",
    "Message",
    "NAME_RULE",
    "QueueError",
    "QueueInfo",
    "QueueNotFound",
    "QueueStore",
    "RecordStore",
    "SavedEvents",
    "StreamError",
    "StreamInfo",
    "StreamNotFound",
    "StreamRecord",
    "StreamStore",
    "check_event_json",
    "check_event_name",
    "check_name",
    "dispatcher_running",
    "md5_of_attributes",
    "record_id",
    "sequence_number",
    "shard_id",
    "shard_index",
    "stream_check_name",
]
