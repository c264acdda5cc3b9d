"""What keeps a function's latest save from running, as the engine reports it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, slots=True)
class CodeProblem:
    """Why a function's latest save cannot run: a syntax error, or a broken function.toml."""

    function: str
    file: Path
    line: int | None
    message: str
    kind: Literal["syntax", "config"]

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        return f"{where}: {self.message}"
