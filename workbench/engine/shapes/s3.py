"""S3 event notifications, shaped as SAM's ``s3/S3Put.json`` (LAMBDA_REFERENCE §8).

One change to one object is one notification with one record, as S3 sends it, whether a bucket
folder saw it or ``generate-event s3 put`` made it up. Keys arrive URL-encoded
(``red flower.jpg`` → ``red+flower.jpg``); a Put carries size, eTag and sequencer, a Delete only
key and sequencer. ``eventVersion`` is the reference's "2.0"; S3 itself sends "2.1" nowadays,
with the same fields.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote_plus

from .values import SOURCE_IP, b64, iso_ms

EVENT_VERSION = "2.0"
PRINCIPAL_ID = "EXAMPLE"  # userIdentity and the bucket owner, as in the sample
PUT = "ObjectCreated:Put"
DELETE = "ObjectRemoved:Delete"

_sequence_lock = threading.Lock()
_last_sequence = 0


def next_sequencer() -> str:
    """18 hex digits from the clock, strictly increasing in this process.

    S3 compares sequencers of events on the same key as hex strings: a later event sorts after
    an earlier one. A clock step backwards must not break that, hence the counter.
    """
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(_last_sequence + 1, time.time_ns())
        return f"{_last_sequence:018X}"


def encode_key(key: str) -> str:
    """The key as S3 notifications carry it: URL-encoded, spaces as '+', slashes kept."""
    return quote_plus(key, safe="/")


@dataclass(frozen=True, slots=True)
class ObjectChange:
    """What happened to one object: the same for every configuration it is delivered to."""

    bucket: str
    key: str  # as stored (not encoded)
    event_name: str  # PUT or DELETE
    size: int | None  # None for a Delete
    etag: str | None
    sequencer: str
    at: float  # epoch seconds
    request_id: str  # x-amz-request-id
    host_id: str  # x-amz-id-2

    @classmethod
    def now(
        cls,
        bucket: str,
        key: str,
        event_name: str,
        size: int | None = None,
        etag: str | None = None,
    ) -> ObjectChange:
        return cls(
            bucket,
            key,
            event_name,
            size,
            etag,
            next_sequencer(),
            time.time(),
            os.urandom(8).hex().upper(),
            b64(os.urandom(32)),
        )


def s3_record(change: ObjectChange, configuration_id: str, region: str) -> dict:
    obj: dict[str, object] = {"key": encode_key(change.key)}
    if change.event_name.startswith("ObjectCreated"):
        obj["size"] = change.size
        obj["eTag"] = change.etag
    obj["sequencer"] = change.sequencer
    return {
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso_ms(change.at),
        "eventName": change.event_name,
        "userIdentity": {"principalId": PRINCIPAL_ID},
        "requestParameters": {"sourceIPAddress": SOURCE_IP},
        "responseElements": {
            "x-amz-request-id": change.request_id,
            "x-amz-id-2": change.host_id,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": change.bucket,
                "ownerIdentity": {"principalId": PRINCIPAL_ID},
                "arn": f"arn:aws:s3:::{change.bucket}",
            },
            "object": obj,
        },
    }


def s3_event(change: ObjectChange, configuration_id: str, region: str) -> dict:
    """The event a function receives: one notification, one record."""
    return {"Records": [s3_record(change, configuration_id, region)]}
