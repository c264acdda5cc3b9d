"""Identifiers in Lambda's formats: request ids, revision ids, X-Ray trace headers."""

from __future__ import annotations

import os
import time


def new_uuid() -> str:
    """A version-4 UUID, as Lambda's request and revision ids are (cheaper than uuid4())."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda passes it to the runtime (``Lambda-Runtime-Trace-Id``)."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=0"
