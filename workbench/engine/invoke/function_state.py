"""A read-only snapshot of one function's live state, for front ends and tests.

It is built on each ``Engine.function_state`` call from the services that own each part (the
catalog, the concurrency count, the environment pool, the invoker's tallies), so holding one
never holds the engine's own lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config.catalog import Catalog
from ..config.function import FunctionConfig
from ..runtime.environment import Environment
from .concurrency import Concurrency
from .invoker import Invoker
from .pool import EnvironmentPool


@dataclass(frozen=True, slots=True)
class FunctionState:
    config: FunctionConfig  # its $LATEST (the last good one, if function.toml is now broken)
    idle: tuple[Environment, ...] = ()  # most recently used last
    busy: tuple[Environment, ...] = ()
    in_flight: int = 0
    throttles: int = 0
    invocations: int = 0
    last_status: str | None = None
    revision: int = 0  # bumped on every change of $LATEST: older $LATEST environments retire
    # Python files of the latest save that do not compile: path -> (line, message)
    syntax_errors: dict[Path, tuple[int | None, str]] = field(default_factory=dict)


def snapshot(
    name: str, catalog: Catalog, concurrency: Concurrency, pool: EnvironmentPool, invoker: Invoker
) -> FunctionState | None:
    """``name``'s state now; None for a function never loaded nor run."""
    config = catalog.latest_good.get(name)
    envs = pool.environments(name)
    if config is None and not envs:
        return None
    return FunctionState(
        config=config or envs[0].fn,
        idle=pool.idle(name),
        busy=pool.busy(name),
        in_flight=concurrency.in_flight(name),
        throttles=concurrency.throttles(name),
        invocations=invoker.invocations.get(name, 0),
        last_status=invoker.last_status.get(name),
        revision=catalog.revision(name),
        syntax_errors=dict(catalog.syntax_errors.get(name, {})),
    )
