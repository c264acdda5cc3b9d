"""A CloudWatch Logs subscription delivery: the batch is JSON, gzipped, then base64-encoded,
under ``awslogs.data``."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence

from .values import b64


def logs_event(
    *,
    owner: str,
    log_group: str,
    log_stream: str,
    filters: Sequence[str],
    log_events: Sequence[tuple[str, int, str]],
) -> dict:
    """``log_events`` are (id, timestamp in epoch ms, message)."""
    batch = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": list(filters),
        "logEvents": [
            {"id": event_id, "timestamp": at, "message": message}
            for event_id, at, message in log_events
        ],
    }
    return {"awslogs": {"data": b64(gzip.compress(json.dumps(batch).encode()))}}
