"""``type = "queue"``: a local queue polled in batches of SQS records (an event source mapping).

Keys: queue, batch_size (10), maximum_batching_window (0), visibility_timeout (30),
report_batch_item_failures (false), max_receive_count, dead_letter_queue ("<queue>-dlq" when
max_receive_count is set), uuid (the mapping's id in the Lambda API, when made through it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .registry import TriggerError, TriggerType
from .values import bool_value, int_value, queue_name


@dataclass(frozen=True, slots=True)
class QueueTrigger:
    queue: str
    batch_size: int = 10
    maximum_batching_window: int = 0  # seconds
    visibility_timeout: int = 30  # seconds (SQS's default)
    report_batch_item_failures: bool = False
    max_receive_count: int | None = None
    # default "<queue>-dlq" ("<name>-dlq.fifo" for a FIFO queue) when max_receive_count is set
    dead_letter_queue: str | None = None
    enabled: bool = True
    type: str = "queue"


def _parse(raw: Mapping[str, Any], enabled: bool) -> QueueTrigger:
    queue = queue_name(raw, "queue")
    fifo = queue.endswith(".fifo")
    batch_size = int_value(raw, "batch_size", 10, 1, 10 if fifo else 10000)
    window = int_value(raw, "maximum_batching_window", 0, 0, 300, " (seconds)")
    if batch_size > 10 and window < 1:
        raise TriggerError(
            "batch_size",
            "above 10 needs maximum_batching_window of at least 1 second (as in Lambda)",
        )
    mapping_id = raw.get("uuid")
    if mapping_id is not None and not (
        isinstance(mapping_id, str) and re.fullmatch(r"[0-9a-f-]{36}", mapping_id)
    ):
        raise TriggerError("uuid", "must be a UUID (the event source mapping's id)")
    visibility = int_value(raw, "visibility_timeout", 30, 0, 43200, " (seconds)")
    report = bool_value(raw, "report_batch_item_failures", False)
    max_receive = raw.get("max_receive_count")
    if max_receive is not None:
        max_receive = int_value(raw, "max_receive_count", 0, 1, 1000)
    dlq = raw.get("dead_letter_queue")
    if dlq is not None:
        dlq = queue_name(raw, "dead_letter_queue")
        if max_receive is None:
            raise TriggerError(
                "dead_letter_queue", "needs max_receive_count (receives before a message moves)"
            )
        if dlq == queue:
            raise TriggerError("dead_letter_queue", "must not be the queue itself")
        if dlq.endswith(".fifo") != fifo:
            kind = "a FIFO queue (a name ending in .fifo)" if fifo else "a standard queue"
            raise TriggerError("dead_letter_queue", f"must be {kind}, as its queue is (SQS)")
    elif max_receive is not None:
        # a FIFO queue's dead-letter queue is a FIFO queue too: orders.fifo → orders-dlq.fifo
        dlq = f"{queue.removesuffix('.fifo')}-dlq.fifo" if fifo else f"{queue}-dlq"
    return QueueTrigger(queue, batch_size, window, visibility, report, max_receive, dlq, enabled)


def _describe(trigger: QueueTrigger, function: str, roots: Sequence[Path]) -> str:
    line = f"queue {trigger.queue} -> {function} (batch {trigger.batch_size}"
    if trigger.dead_letter_queue:
        line += f", to {trigger.dead_letter_queue} after {trigger.max_receive_count} receives"
    return line + ")"


QUEUE = TriggerType(
    name="queue",
    cls=QueueTrigger,
    keys=(
        "queue",
        "batch_size",
        "maximum_batching_window",
        "visibility_timeout",
        "report_batch_item_failures",
        "max_receive_count",
        "dead_letter_queue",
        "uuid",
    ),
    required="queue",
    parse=_parse,
    label=lambda t: f"queue:{t.queue}",
    describe=_describe,
)
