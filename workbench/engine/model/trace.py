"""X-Ray trace headers and the lineage Lambda's recursive loop detection keeps in them.

Lambda tracks a chain of invocations through the trace header (DG: invocation-recursion): each
invocation's header (``Lambda-Runtime-Trace-Id``, the handler's ``_X_AMZN_TRACE_ID``) keeps the
chain's ``Root`` and adds to its ``Lineage`` how many times this function has run in the chain;
the SDKs forward it (botocore's ``add_recursion_detection_header`` sends it as
``X-Amzn-Trace-Id``), SQS keeps it as the message's ``AWSTraceHeader``, and when the next event of
the chain would invoke a function that already ran ``MAX_CHAIN`` times in it, Lambda stops it.

UNVERIFIED: the ``Lineage`` field's exact encoding is AWS's own and undocumented; here it is one
``<hash>:<count>`` entry per function (the hash: 8 hex digits of the function's ARN), several
joined with ``|``. Only this workbench reads it, and it reads its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from contextvars import ContextVar
from urllib.parse import unquote

# The chain an invocation being prepared belongs to: set by an event source around its call
# (``in_chain``), read by the invoker; None: not an event of a tracked chain (a direct Invoke).
# A context variable, so no signature between the sources and the invoker has to carry it.
_CHAIN: ContextVar[str | None] = ContextVar("workbench_trace_chain", default=None)
MAX_CHAIN = 16  # Lambda stops the invocation that would be a function's 17th in one chain
HEADER = "X-Amzn-Trace-Id"


def _fields(header: str) -> list[tuple[str, str]]:
    out = []
    for part in unquote(header).split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            out.append((key, value))
    return out


def _function_key(function_arn: str) -> str:
    return hashlib.sha256(function_arn.encode()).hexdigest()[:8]


def _lineage(fields: list[tuple[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, value in fields:
        if key != "Lineage":
            continue
        for entry in value.split("|"):
            name, _, count = entry.partition(":")
            if name and count.isdigit():
                counts[name] = int(count)
    return counts


def chain_count(header: str | None, function_arn: str) -> int:
    """How many times the function ran in the chain ``header`` carries (0: none, or no header)."""
    if not header:
        return 0
    return _lineage(_fields(header)).get(_function_key(function_arn), 0)


def loops(header: str | None, function_arn: str) -> bool:
    """Would invoking the function with this header make a recursive loop Lambda stops?"""
    return chain_count(header, function_arn) >= MAX_CHAIN


def continue_chain(header: str | None, function_arn: str) -> str:
    """The trace header of an invocation of ``function_arn`` caused by ``header`` (None: a new
    chain): the same Root, a new Parent, and this function's lineage count one higher."""
    fields = _fields(header) if header else []
    values = dict(fields)
    root = values.get("Root") or f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    counts = _lineage(fields)
    key = _function_key(function_arn)
    counts[key] = counts.get(key, 0) + 1
    lineage = "|".join(f"{k}:{v}" for k, v in counts.items())
    sampled = values.get("Sampled", "0")
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled={sampled};Lineage={lineage}"


@contextlib.contextmanager
def in_chain(header: str | None) -> Iterator[None]:
    """Invocations started inside continue the chain ``header`` carries ("" or None: a new
    chain, as an event sent from outside any function starts one)."""
    token = _CHAIN.set(header or "")
    try:
        yield
    finally:
        _CHAIN.reset(token)


def current_chain() -> str | None:
    """The chain header ``in_chain`` set here ("" for a new chain), None outside one."""
    return _CHAIN.get()
