"""The constraints of UpdateFunctionConfiguration and PutFunctionConcurrency, in Lambda's words.

Two front ends change a function's settings: the Lambda API (``api/validation.py`` words a
refused request as one ``ValidationException``) and the TUI's configuration dialog (which shows
each violation beside its field). Both read the ranges and the wording from here, so a value one
refuses the other refuses with the same message.

The model's own maxima are those of Lambda Managed Instances (Timeout 5400, MemorySize and
EphemeralStorage 32768); for a function without a capacity provider Lambda answers with the
limits below, in the words below (seen in public error reports: "Value '3000' at 'timeout'
failed to satisfy constraint: Member must have value less than or equal to 900"; "Value
'3000000' at 'ephemeralStorage.size' ... less than or equal to 10240"). That these stay
ValidationException now that the model allows more is UNVERIFIED.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..model.errors import violation
from .function import RESERVED_ENV_NAMES

# (JSON field, the field's name in messages, low, high)
RANGES = (
    ("Timeout", "timeout", 1, 900),
    ("MemorySize", "memorySize", 128, 10240),
)
EPHEMERAL_STORAGE = ("ephemeralStorage.size", 512, 10240)
RESERVED_CONCURRENCY = ("reservedConcurrentExecutions", 0)  # no upper bound in the model
ENV_NAME = r"[a-zA-Z]([a-zA-Z0-9_])+"  # the model's EnvironmentVariableName


def range_violation(value: object, field: str, low: int, high: int | None) -> str | None:
    """The violation of an integer outside ``low..high`` (None: inside, or not an integer,
    which the caller refuses by type)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if high is not None and value > high:
        return violation(value, field, f"Member must have value less than or equal to {high}")
    if value < low:
        return violation(value, field, f"Member must have value greater than or equal to {low}")
    return None


def env_name_violation(variables: Mapping[Any, object]) -> str | None:
    """A name outside the model's pattern; a map's violation names no value (values are
    secret)."""
    if any(not isinstance(k, str) or re.fullmatch(ENV_NAME, k) is None for k in variables):
        return violation(
            None,
            "environment.variables",
            f"Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
            f"{ENV_NAME}]",
        )
    return None


def reserved_env_refusal(variables: Mapping[Any, object]) -> str | None:
    """Reserved names are Lambda's ``InvalidParameterValueException`` (its wording, from public
    error reports), checked after the model's constraints."""
    reserved = [str(k) for k in variables if k in RESERVED_ENV_NAMES]
    if not reserved:
        return None
    return (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not "
        f"supported for modification. Reserved keys used in this request: {', '.join(reserved)}"
    )
