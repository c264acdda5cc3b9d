"""Lambda's ``application/vnd.amazon.eventstream`` framing for ``InvokeWithResponseStream``.

Each message: a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), the
headers, the payload, and a CRC32 of everything before it; big-endian throughout, as
botocore's ``eventstream.py`` decodes it. Header values here are all strings (type 7).
The event names and members are the service model's ``InvokeWithResponseStreamResponseEvent``:
``PayloadChunk`` (its ``Payload`` blob is the event payload, raw bytes) and ``InvokeComplete``
(``ErrorCode``, ``ErrorDetails``, ``LogResult`` as a JSON body).
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING = 7
CONTENT_TYPE = "application/vnd.amazon.eventstream"


def _headers(pairs: tuple[tuple[str, str], ...]) -> bytes:
    out = bytearray()
    for name, value in pairs:
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack("!B", len(raw_name)) + raw_name
        out += struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def message(headers: tuple[tuple[str, str], ...], payload: bytes) -> bytes:
    """One framed message (prelude CRC and message CRC included)."""
    head = _headers(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack("!II", total, len(head))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack("!I", zlib.crc32(body))


def payload_chunk(data: bytes) -> bytes:
    return message(
        (
            (":event-type", "PayloadChunk"),
            (":content-type", "application/octet-stream"),
            (":message-type", "event"),
        ),
        data,
    )


def invoke_complete(
    error_code: str | None = None, error_details: str | None = None, log_result: str | None = None
) -> bytes:
    """The last event: empty members are left out, as Lambda leaves them out of a success."""
    body: dict[str, str] = {}
    if error_code:
        body["ErrorCode"] = error_code
    if error_details:
        body["ErrorDetails"] = error_details
    if log_result:
        body["LogResult"] = log_result
    return message(
        (
            (":event-type", "InvokeComplete"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ),
        json.dumps(body, separators=(",", ":")).encode(),
    )
