"""Checks of the values in a ``[[triggers]]`` table that several types share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .registry import TriggerError

QUEUE_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,80}(\.fifo)?")


def bool_value(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise TriggerError(key, "must be true or false")
    return value


def str_value(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise TriggerError(key, "must be a string")
    return value


def int_value(
    raw: Mapping[str, Any], key: str, default: int, low: int, high: int, unit: str = ""
) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TriggerError(key, f"must be an integer from {low} to {high}{unit}")
    return value


def queue_name(raw: Mapping[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not QUEUE_NAME_RE.fullmatch(value):
        raise TriggerError(key, "must be a queue name: 1 to 80 of letters, digits, '-' and '_'")
    return value
