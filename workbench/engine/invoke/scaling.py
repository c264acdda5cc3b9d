"""Lambda's concurrency scaling rate, when asked for (``--scaling-rate``): how fast a function
may add execution environments.

On Lambda each function may add at most 1,000 environments every 10 seconds, the allowance
refilled continuously (not 1,000 at each ten-second mark) and never more than 1,000 at hand
(what a function did not use is not banked). A call that needs a new environment past it is
throttled: 429, ``TooManyRequestsException``, here with the Reason
``FunctionInvocationRateLimitExceeded`` (one of Lambda's ThrottleReason values; UNVERIFIED as
the one Lambda gives for this limit). A call that finds an idle environment never meets it, nor
does provisioned concurrency (its environments are made ahead).

Off by default: on this machine the bound is the CPU, not a rate. ``--scaling-rate lambda``
applies Lambda's; ``--scaling-rate N``, N a function every 10 s (to watch the throttling with
a handful of calls). ``--time-scale`` scales the ten seconds, as it scales Lambda's other waits.
Lambda also bounds how fast a function's requests per second may grow (10,000 more every
10 s); that is not played.
"""

from __future__ import annotations

import time
from collections.abc import Callable

LAMBDA_SCALING_RATE = 1000  # new environments a function may add every PERIOD_S, on Lambda
PERIOD_S = 10.0
SCALING_LIMIT = "FunctionInvocationRateLimitExceeded"


class ScalingRate:
    """A token bucket per function: ``environments`` at hand, refilled at ``environments``
    every ``PERIOD_S`` (times ``time_scale``)."""

    def __init__(
        self,
        environments: int,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if environments < 1:
            raise ValueError(f"a scaling rate is at least 1 environment, not {environments}")
        self.environments = environments
        self._capacity = float(environments)
        self._per_s = environments / (PERIOD_S * max(time_scale, 1e-9))
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # function -> (at hand, when)

    def take(self, function: str) -> bool:
        """One new environment for ``function``, if its allowance has one (False: throttle)."""
        now = self._clock()
        at_hand, then = self._buckets.get(function, (self._capacity, now))
        at_hand = min(self._capacity, at_hand + (now - then) * self._per_s)
        if at_hand < 1.0 - 1e-9:  # (a whole one, give or take the clock's rounding)
            self._buckets[function] = (at_hand, now)
            return False
        self._buckets[function] = (at_hand - 1.0, now)
        return True

    def describe(self) -> str:
        which = "Lambda's rate" if self.environments == LAMBDA_SCALING_RATE else "a rate of"
        noun = "environment" if self.environments == 1 else "environments"
        return (
            f"{which} {self.environments:,} new {noun} per function every "
            f"{PERIOD_S:g} s (--scaling-rate); a call needing one past it is throttled (429)"
        )
