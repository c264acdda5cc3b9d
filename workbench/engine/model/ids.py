"""Identifiers in Lambda's formats: request ids, revision ids, X-Ray trace headers."""

from __future__ import annotations

import random
import time

# Ids must be unique, not secret: Python's generator (seeded from os.urandom, and re-seeded in
# a forked child) costs no syscall, where os.urandom is one per id (three per invocation).
_bits = random.getrandbits


def new_uuid() -> str:
    """A version-4 UUID, as Lambda's request and revision ids are (cheaper than uuid4())."""
    h = f"{_bits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda passes it to the runtime (``Lambda-Runtime-Trace-Id``)."""
    return f"Root=1-{int(time.time()):08x}-{_bits(96):024x};Parent={_bits(64):016x};Sampled=0"
