"""A function reference as Lambda reads one: a name, ``name:qualifier``, a partial ARN
(``123456789012:function:name``) or a full ARN, each part found by the model's own pattern
(botocore's ``NamespacedFunctionName``), so ``123456789012:name`` is an account and a name, not
a name and a qualifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_REFERENCE = re.compile(
    r"(arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso(?:[a-z]?)))?-[a-z]+-\d{1}):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_\.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)


@dataclass(frozen=True, slots=True)
class FunctionRef:
    name: str
    qualifier: str | None = None
    region: str | None = None  # None: not given (a name or a partial ARN)
    account: str | None = None


@lru_cache(maxsize=4096)  # (every Invoke names its function: the same few names, over and over)
def parse_function_ref(text: str) -> FunctionRef | None:
    """The parts of ``text``; None if it is no function reference at all."""
    m = _REFERENCE.fullmatch(text)
    if m is None:
        return None
    return FunctionRef(m["name"], m["qualifier"] or None, m["region"], m["account"])
