"""The small formats the event shapes share (times, ids, ARNs) and the sample values that make a
generated event and a live one look alike. Standard library only."""

from __future__ import annotations

import base64
import datetime as dt
import os
import time

ACCOUNT_ID = "123456789012"  # the samples' account; live events use the engine's
REGION = "us-east-1"
SOURCE_IP = "127.0.0.1"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_ms(at: float) -> str:
    """``2024-05-01T12:34:56.789Z`` (epoch seconds in): S3's eventTime, SNS's Timestamp."""
    t = dt.datetime.fromtimestamp(at, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def iso_s(at: float) -> str:
    """``2024-05-01T12:34:56Z`` (epoch seconds in): EventBridge's time, to the second."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clf(t: dt.datetime) -> str:
    """``01/May/2024:12:34:56 +0000``, API Gateway's request time (month names are not locale's)."""
    return f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000"


def epoch_ms(t: dt.datetime) -> int:
    return (t - _EPOCH) // dt.timedelta(milliseconds=1)


def random_hex(length: int) -> str:
    """Fresh random hex digits, for ids that are not UUID-shaped."""
    return os.urandom(length // 2 + 1).hex()[:length]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def sequence_numbers(count: int, digits: int) -> list[str]:
    """Increasing decimal sequence numbers, as streams assign them: later calls get larger ones."""
    # The clock leads, random digits fill the rest; the random part stays a digit short of the
    # clock's last one, so numbers from a later call are always larger.
    scale = 10 ** (digits - 19)
    base = time.time_ns() * scale + int.from_bytes(os.urandom(16)) % (scale // 10)
    return [str(base + i) for i in range(count)]
