"""What SNS accepts in a Publish besides the message: the Subject and the message attributes.

Each attribute has a name, a data type (``String``, ``String.Array``, ``Number``, ``Binary``;
SNS also takes a custom label after the type, ``Number.float``) and a value, carried in the
Lambda event as ``MessageAttributes: {name: {Type, Value}}`` (a Binary's value base64, as SNS
delivers it). The checks are split by field so a form can show each refusal beside its field;
``topics.check_message`` runs them all for a Publish.

Wording: the refusals of a type and of an empty value are SNS's (as LocalStack and moto
reproduce them); those of a Number or String.Array value that does not parse are ours
(UNVERIFIED: SNS's exact words for them are not in the reference).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_SUBJECT = 100
ATTRIBUTE_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,256}")
RESERVED_PREFIXES = ("aws.", "amazon.")
ATTRIBUTE_TYPES = ("String", "String.Array", "Number", "Binary")  # what a form offers
TYPE_RE = re.compile(r"(String|Number|Binary)(\..+)?")
NUMBER_RE = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
# SNS: "A number can have a value from -10^9 to 10^9, with 5 digits of accuracy after the
# decimal point" (the message attributes page). That Publish refuses one outside is UNVERIFIED.
NUMBER_LIMIT = Decimal(10) ** 9


class TopicError(ValueError):
    """SNS's refusal: ``code`` is its error code (NotFound, InvalidParameter, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TopicAttribute:
    """One message attribute as typed: its data type and its value (a Binary's in base64)."""

    type: str
    value: str


def check_subject(subject: str | None) -> None:
    if subject is None:
        return
    if not subject or len(subject) > MAX_SUBJECT:
        raise TopicError("InvalidParameter", f"Subject must be 1 to {MAX_SUBJECT} characters long")
    if any(ord(c) < 32 or ord(c) == 127 for c in subject):
        raise TopicError(
            "InvalidParameter", "Subject must not contain line breaks or control characters"
        )


def check_attribute_name(name: str) -> None:
    if (
        not ATTRIBUTE_NAME_RE.fullmatch(name)
        or name.startswith(".")
        or name.endswith(".")
        or ".." in name
        or name.lower().startswith(RESERVED_PREFIXES)
    ):
        raise TopicError(
            "InvalidParameter",
            f"attribute name {name!r}: 1 to 256 of letters, digits, '_', '-' and '.' (not "
            "first, last or twice in a row), not starting with AWS. or Amazon.",
        )


def check_attribute(name: str, attribute: TopicAttribute | str) -> tuple[dict[str, str], int]:
    """The attribute as the event carries it (``{Type, Value}``) and the bytes it counts toward
    the 256 KB; ``TopicError`` for what SNS refuses. A plain string is a String attribute."""
    if isinstance(attribute, str):
        attribute = TopicAttribute("String", attribute)
    check_attribute_name(name)
    kind, value = attribute.type, attribute.value
    match = TYPE_RE.fullmatch(kind)
    if match is None:
        raise TopicError(
            "InvalidParameterValue",
            f"The message attribute '{name}' has an invalid message attribute type, the set of "
            "supported type prefixes is Binary, Number, and String.",
        )
    if not isinstance(value, str) or not value:
        raise TopicError(
            "InvalidParameterValue",
            f"The message attribute '{name}' must contain non-empty message attribute value for "
            f"message attribute type '{kind}'.",
        )
    size = len(name.encode()) + len(kind.encode())
    base = match.group(1)
    if base == "Binary":
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise TopicError(
                "InvalidParameterValue",
                f"The message attribute '{name}' with type '{kind}': the value must be base64 "
                "(the bytes, encoded), e.g. aGVsbG8=",
            ) from None
        return {"Type": kind, "Value": value}, size + len(data)
    if base == "Number":
        _check_number(name, kind, value)
    elif kind == "String.Array":
        _check_array(name, value)
    return {"Type": kind, "Value": value}, size + len(value.encode())


def _check_number(name: str, kind: str, value: str) -> None:
    number: Decimal | None = None
    if NUMBER_RE.fullmatch(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
    if number is None:
        raise TopicError(
            "InvalidParameterValue",
            f"The message attribute '{name}' with type '{kind}' must hold a number, e.g. 42, "
            f"-1.5 or 1e3: {value[:40]!r} is not one",
        )
    if abs(number) > NUMBER_LIMIT:
        raise TopicError(
            "InvalidParameterValue",
            f"The message attribute '{name}' with type '{kind}': {value[:40]} is outside "
            "-10^9 to 10^9, the range of SNS numbers",
        )


def _check_array(name: str, value: str) -> None:
    try:
        items = json.loads(value)
    except ValueError:
        items = None
    if not isinstance(items, list) or any(isinstance(i, dict | list) for i in items):
        raise TopicError(
            "InvalidParameterValue",
            f"The message attribute '{name}' with type 'String.Array' must hold a JSON array of "
            f'strings, numbers, true, false or null, e.g. ["red", 2, true]',
        )


def check_attributes(
    attributes: Mapping[str, TopicAttribute | str],
) -> tuple[dict[str, dict[str, str]], int]:
    """Every attribute checked, shaped for the event, and their bytes together."""
    shaped: dict[str, dict[str, str]] = {}
    size = 0
    for name, attribute in attributes.items():
        shaped[name], counted = check_attribute(name, attribute)
        size += counted
    return shaped, size
