"""The state dir's SQLite stores: invocation records, the durable async queue, local queues and
saved test events. Above ``model`` only.
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
    "check_event_json",
    "check_event_name",
    "check_name",
    "dispatcher_running",
    "md5_of_attributes",
]
