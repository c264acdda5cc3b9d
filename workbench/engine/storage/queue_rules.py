"""What SQS allows, for the local queues: queue names (standard and FIFO), queue attributes
and tags, message attributes and FIFO ids, receipt handles, the errors (SQS's codes), and the
records a queue hands out. No database here: ``queues.py`` keeps the queues.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

QUEUE_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")
MAX_MESSAGE_BYTES = 1024 * 1024  # SQS's MaximumMessageSize (1 MiB)
MAX_VISIBILITY_TIMEOUT = 43200  # 12 hours
MAX_DELAY_SECONDS = 900
MAX_RECEIVE_BATCH = 10
DATA_TYPES = ("String", "Number", "Binary")
DEDUP_WINDOW_S = 300  # SQS FIFO's deduplication interval: five minutes
# MessageGroupId / MessageDeduplicationId: 1 to 128 alphanumeric and punctuation characters
FIFO_ID_RE = re.compile(r"[!-~]{1,128}")
# Queue attributes kept as SQS's strings beside the columns, with the value each has unset,
# and the range an integer one takes (SQS's).
ATTRIBUTE_DEFAULTS = {
    "DelaySeconds": "0",
    "MaximumMessageSize": str(MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
FIFO_ATTRIBUTE_DEFAULTS = {
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
INTEGER_ATTRIBUTES = {
    "DelaySeconds": (0, MAX_DELAY_SECONDS),
    "MaximumMessageSize": (1024, MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": (60, 1209600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "KmsDataKeyReusePeriodSeconds": (60, 86400),
}
CHOICE_ATTRIBUTES = {
    "ContentBasedDeduplication": ("true", "false"),
    "SqsManagedSseEnabled": ("true", "false"),
    "DeduplicationScope": ("queue", "messageGroup"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
FREE_ATTRIBUTES = ("Policy", "KmsMasterKeyId", "RedriveAllowPolicy")
FIFO_ONLY = tuple(FIFO_ATTRIBUTE_DEFAULTS)
MAX_TAGS = 50


class QueueError(ValueError):
    """A refused queue operation; ``code`` is SQS's error shape name (the API's ``__type``)."""

    code = "InvalidParameterValue"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QueueNotFound(QueueError):
    code = "QueueDoesNotExist"


class QueueExists(QueueError):
    code = "QueueNameExists"


class ReceiptHandleInvalid(QueueError):
    code = "ReceiptHandleIsInvalid"


class MessageNotInflight(QueueError):
    code = "MessageNotInflight"


class MissingParameter(QueueError):
    code = "MissingParameter"


class InvalidAttributeName(QueueError):
    code = "InvalidAttributeName"


class InvalidAttributeValue(QueueError):
    code = "InvalidAttributeValue"


def not_for_this_queue_type(value: object, parameter: str) -> QueueError:
    """SQS's refusal of a parameter the queue's type does not take (a per-message delay on a
    FIFO queue, a deduplication id on a standard one)."""
    return QueueError(
        f"Value {value} for parameter {parameter} is invalid. Reason: The request include "
        "parameter that is not valid for this queue type."
    )


@dataclass(frozen=True, slots=True)
class Sent:
    """What SendMessage answers: the ids and checksums (``sequence_number`` on FIFO queues)."""

    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None
    sequence_number: str | None = None


@dataclass(frozen=True, slots=True)
class QueueInfo:
    name: str
    created_at: float
    visibility_timeout: int
    dead_letter_queue: str | None
    max_receive_count: int | None
    depth: int = 0  # visible now
    in_flight: int = 0  # received, not yet visible again
    delayed: int = 0  # sent with DelaySeconds, not yet visible
    dead_letter_depth: int | None = None  # the dead-letter queue's depth (None: no DLQ)
    fifo: bool = False
    attributes: dict[str, str] = field(default_factory=dict)  # those set (ATTRIBUTE_DEFAULTS)
    tags: dict[str, str] = field(default_factory=dict)
    modified_at: float | None = None

    def attribute(self, name: str) -> str | None:
        """An attribute's value: set, or its default (None: not one this queue type has)."""
        defaults = {**ATTRIBUTE_DEFAULTS, **(FIFO_ATTRIBUTE_DEFAULTS if self.fifo else {})}
        return self.attributes.get(name, defaults.get(name))

    def number(self, name: str) -> int:
        return int(self.attribute(name) or 0)


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, dict[str, str]]  # SQS's MessageAttributes: name → {DataType, ...Value}
    sent_at: float
    receive_count: int
    first_received_at: float
    queue: str = field(default="")
    group_id: str | None = None  # FIFO queues' MessageGroupId (and MessageDeduplicationId)
    dedup_id: str | None = None
    sequence_number: str | None = None
    trace_header: str | None = None  # SQS's AWSTraceHeader: the sender's X-Amzn-Trace-Id

    @property
    def md5_of_attributes(self) -> str | None:
        return md5_of_attributes(self.attributes)


def check_fifo_name(name: str, fifo: bool) -> None:
    """A FIFO queue's name ends in ``.fifo``, a standard queue's never does (SQS's words)."""
    if fifo and not name.endswith(".fifo"):
        raise QueueError(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
            "underscores, must end with .fifo suffix and be 1 to 80 in length"
        )
    if not fifo and name.endswith(".fifo"):
        raise QueueError(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def check_attributes(attributes: Mapping[str, object], fifo: bool) -> dict[str, str]:
    """Queue attributes beyond VisibilityTimeout and RedrivePolicy, as SQS's strings: each
    known to SQS for this queue type, each value in its range (SQS's codes: an unknown name is
    ``InvalidAttributeName``, a bad value ``InvalidAttributeValue``)."""
    out: dict[str, str] = {}
    for key, value in attributes.items():
        known = (*INTEGER_ATTRIBUTES, *CHOICE_ATTRIBUTES, *FREE_ATTRIBUTES)
        if key not in known or (key in FIFO_ONLY and not fifo):
            raise InvalidAttributeName(f"Unknown Attribute {key}.")
        text = str(value).lower() if isinstance(value, bool) else value
        if not isinstance(text, str):
            raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
        if key in INTEGER_ATTRIBUTES:
            low, high = INTEGER_ATTRIBUTES[key]
            if not re.fullmatch(r"[0-9]{1,10}", text) or not low <= int(text) <= high:
                raise InvalidAttributeValue(
                    f"Invalid value for the parameter {key}. Reason: must be between {low} and "
                    f"{high}."
                )
        elif key in CHOICE_ATTRIBUTES and text not in CHOICE_ATTRIBUTES[key]:
            raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
        out[key] = text
    return out


def check_tags(tags: Mapping[str, object]) -> dict[str, str]:
    """Queue tags: string keys of 1 to 128 characters, string values of at most 256 (SQS's
    limits; its wording for a broken one UNVERIFIED)."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise QueueError(f"Tag key {key!r} is invalid: 1 to 128 characters")
        if not isinstance(value, str) or len(value) > 256:
            raise QueueError(f"Tag value of {key} is invalid: a string of at most 256 characters")
        out[key] = value
    return out


def check_name(name: object, what: str = "queue name") -> str:
    if not isinstance(name, str) or not QUEUE_NAME_RE.fullmatch(name):
        raise QueueError(
            f"invalid {what} {name!r}: 1 to 80 of letters, digits, '-' and '_', "
            "optionally ending in .fifo"
        )
    return name


def check_int(value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise QueueError(f"invalid {what} {value!r}: an integer from {low} to {high}")
    return value


def normalize_attributes(attributes: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """Message attributes in SQS's form: a plain string value becomes a ``String`` attribute."""
    out: dict[str, dict[str, str]] = {}
    for name, value in (attributes or {}).items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,256}", name):
            raise QueueError(
                f"invalid message attribute name {name!r}: 1 to 256 of letters, digits, "
                "'-', '_' and '.'"
            )
        if isinstance(value, str):
            out[name] = {"DataType": "String", "StringValue": value}
            continue
        if not isinstance(value, Mapping) or not isinstance(value.get("DataType"), str):
            raise QueueError(
                f"message attribute {name}: a string, or {{DataType, StringValue|BinaryValue}}"
            )
        data_type = value["DataType"]
        if data_type.split(".")[0] not in DATA_TYPES:
            raise QueueError(
                f"message attribute {name}: DataType {data_type!r} is not one of "
                f"{', '.join(DATA_TYPES)} (optionally with a .custom suffix)"
            )
        if data_type.startswith("Binary"):
            binary = value.get("BinaryValue")
            if isinstance(binary, bytes | bytearray):
                binary = base64.b64encode(binary).decode()
            if not isinstance(binary, str):
                raise QueueError(f"message attribute {name}: a Binary attribute needs BinaryValue")
            out[name] = {"DataType": data_type, "BinaryValue": binary}
        else:
            text = value.get("StringValue")
            if not isinstance(text, str):
                raise QueueError(f"message attribute {name}: {data_type} needs a StringValue")
            out[name] = {"DataType": data_type, "StringValue": text}
    return out


def md5_of_attributes(attributes: Mapping[str, Mapping[str, str]]) -> str | None:
    """SQS's MD5OfMessageAttributes: each attribute, sorted by name, length-prefixed."""
    if not attributes:
        return None
    digest = hashlib.md5()  # noqa: S324 - SQS's checksum, not security
    for name in sorted(attributes):
        value = attributes[name]
        for part in (name, value["DataType"]):
            data = part.encode()
            digest.update(len(data).to_bytes(4, "big") + data)
        if "BinaryValue" in value:
            data = base64.b64decode(value["BinaryValue"])
            digest.update(b"\x02" + len(data).to_bytes(4, "big") + data)
        else:
            data = value["StringValue"].encode()
            digest.update(b"\x01" + len(data).to_bytes(4, "big") + data)
    return digest.hexdigest()


def new_handle(message_id: str) -> str:
    token = f"{message_id}:{uuid.uuid4().hex}".encode()
    return base64.urlsafe_b64encode(token).decode()


def handle_message_id(handle: object) -> str:
    """The message a receipt handle names; ``ReceiptHandleIsInvalid`` if it was never issued."""
    try:
        assert isinstance(handle, str) and handle
        text = base64.urlsafe_b64decode(handle.encode()).decode()
        message_id, _, token = text.partition(":")
        uuid.UUID(message_id)
        assert len(token) == 32
        return message_id
    except (AssertionError, ValueError, binascii.Error, UnicodeDecodeError):
        raise ReceiptHandleInvalid(
            f"The input receipt handle {handle!r} is not a valid receipt handle."
        ) from None
