"""The one admission rule: how many invocations may run at once, and Lambda's 429 when not.

Lambda counts concurrency per account and Region: a function with reserved concurrency may run
that many at once and no more (``ReservedFunctionConcurrentInvocationLimitExceeded``); all other
functions share what the reserved ones leave of the account limit
(``ConcurrentInvocationLimitExceeded``); and, when asked for, a function adds environments no
faster than Lambda's scaling rate (``scaling.py``). Synchronous calls, the async dispatcher, hot
reload's bookkeeping and the control plane all ask this object; nothing else counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..config.catalog import Catalog
from ..config.function import FunctionConfig
from ..model.errors import TooManyRequests
from ..model.events import EventBus, Throttled
from .scaling import SCALING_LIMIT, ScalingRate

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"


@dataclass(frozen=True, slots=True)
class Lease:
    """One admitted invocation; give it back with ``Concurrency.release``.

    ``unreserved`` records which pool it was counted in: the function's reserved concurrency
    may change while it runs.
    """

    function: str
    unreserved: bool


class Concurrency:
    def __init__(
        self,
        catalog: Catalog,
        account_limit: int,
        bus: EventBus,
        scaling: ScalingRate | None = None,
    ) -> None:
        self.catalog = catalog
        self.account_limit = account_limit
        self.bus = bus
        self.scaling = scaling  # Lambda's scaling rate, if asked for (--scaling-rate)
        self.total_in_flight = 0
        self.unreserved_in_flight = 0
        self._in_flight: dict[str, int] = {}
        self._throttles: dict[str, int] = {}

    def reserved(self, name: str, fn: FunctionConfig | None = None) -> int | None:
        """The function's reserved concurrency: its ``$LATEST``'s (the last good one while its
        ``function.toml`` is broken); ``fn`` for a function that never loaded."""
        config = self.catalog.latest_good.get(name, fn)
        return config.reserved_concurrency if config is not None else None

    @property
    def unreserved_limit(self) -> int:
        """What functions without reserved concurrency share."""
        return self.account_limit - self.catalog.reserved_total

    def in_flight(self, name: str) -> int:
        return self._in_flight.get(name, 0)

    def throttles(self, name: str) -> int:
        return self._throttles.get(name, 0)

    def admit(self, name: str, fn: FunctionConfig | None = None) -> Lease:
        """Count an invocation of ``name`` in, or throttle it (429 with Lambda's Reason)."""
        reserved = self.reserved(name, fn)
        unreserved = reserved is None
        if reserved is not None:
            if self.in_flight(name) >= reserved:
                self._throttle(name, RESERVED_LIMIT)
        elif self.unreserved_in_flight >= self.unreserved_limit:
            self._throttle(name, ACCOUNT_LIMIT)
        self.unreserved_in_flight += unreserved
        self._in_flight[name] = self.in_flight(name) + 1
        self.total_in_flight += 1
        return Lease(name, unreserved)

    def scale(self, name: str) -> None:
        """An admitted call of ``name`` needs a new environment: within the scaling rate (when
        one is set), or throttle it (429: its lease is given back by the caller)."""
        if self.scaling is not None and not self.scaling.take(name):
            self._throttle(name, SCALING_LIMIT)

    def release(self, lease: Lease) -> None:
        self._in_flight[lease.function] -= 1
        self.total_in_flight -= 1
        self.unreserved_in_flight -= lease.unreserved

    def free(self, name: str, *, starting: int = 0, starting_unreserved: int = 0) -> int:
        """How many more invocations of ``name`` would be admitted now, besides ``starting``
        of its own (or ``starting_unreserved`` of the shared pool) already on their way in."""
        reserved = self.reserved(name)
        if reserved is not None:
            return max(0, reserved - self.in_flight(name) - starting)
        pool = self.unreserved_limit - self.unreserved_in_flight - starting_unreserved
        return max(0, pool)

    def _throttle(self, name: str, reason: str) -> None:
        self._throttles[name] = self.throttles(name) + 1
        if self.bus.wants(Throttled):
            self.bus.publish(Throttled(name, reason, time.time()))
        raise TooManyRequests(reason)
