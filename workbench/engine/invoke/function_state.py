"""The live state of one function: its environments, what runs in them, its latest save."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config.function import FunctionConfig
from ..runtime.environment import Environment


@dataclass
class FunctionState:
    """Live state of one function: its environments and what runs in them."""

    config: FunctionConfig  # its $LATEST (the last good one, if function.toml is now broken)
    idle: list[Environment] = field(default_factory=list)  # most recently used last
    busy: set[Environment] = field(default_factory=set)
    in_flight: int = 0
    throttles: int = 0
    invocations: int = 0
    last_status: str | None = None
    revision: int = 0  # bumped on every change of $LATEST: older $LATEST environments retire
    # Python files of the latest save that do not compile: path -> (line, message)
    syntax_errors: dict[Path, tuple[int | None, str]] = field(default_factory=dict)
