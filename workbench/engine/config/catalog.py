"""The functions an engine knows: each one's latest good config, its load problem, its revision.

Discovery fills it; hot reload replaces its contents on every save; everything else reads it.
A function is known when it loaded (``functions``) or when its ``function.toml`` is broken
(``problems``): a broken one keeps its name, and its last good config where there was one, so
its published versions stay invokable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..model.errors import FunctionNotReady, ResourceNotFound
from ..model.problems import CodeProblem
from .checked_sources import CheckedSources
from .discovery import ConfigProblem, Discovery
from .function import FunctionConfig
from .templates import QueueResource

# Python files of a function's latest save that do not compile: path -> (line, message)
SyntaxErrors = dict[Path, tuple[int | None, str]]


class Catalog:
    def __init__(self, arn: Callable[..., str]) -> None:
        self._arn = arn
        self.functions: dict[str, FunctionConfig] = {}
        self.problems: dict[str, ConfigProblem] = {}
        # $LATEST's config as last loaded (kept while its function.toml is broken)
        self.latest_good: dict[str, FunctionConfig] = {}
        self.revisions: dict[str, int] = {}  # bumped on every change of $LATEST
        self.syntax_errors: dict[str, SyntaxErrors] = {}
        # per function: source file -> the digest of its bytes as last checked (cold starts of
        # $LATEST import those copies; see checked_sources.py)
        self.checked_sources: dict[str, dict[str, str]] = {}
        self.checked = CheckedSources()
        self.reserved_total = 0  # concurrency reserved by functions: not for the others
        # the templates' queues, topics and buckets: they exist locally (created if missing)
        self.queues: dict[str, QueueResource] = {}
        self.topics: frozenset[str] = frozenset()
        self.buckets: frozenset[str] = frozenset()

    def replace(self, found: Discovery) -> None:
        self.functions, self.problems = found.functions, found.problems
        self.queues, self.topics, self.buckets = found.queues, found.topics, found.buckets
        self.latest_good.update(found.functions)
        self.reserved_total = sum(fn.reserved_concurrency or 0 for fn in self.functions.values())

    def knows(self, name: str) -> bool:
        return name in self.functions or name in self.problems

    def require(self, name: str) -> None:
        """Lambda's 404 for a function that does not exist."""
        if not self.knows(name):
            raise ResourceNotFound(f"Function not found: {self._arn(name)}")

    def latest(self, name: str, doing: str = "changed or described") -> FunctionConfig:
        """``$LATEST``'s config; a broken ``function.toml`` cannot be ``doing``."""
        self.require(name)
        fn = self.functions.get(name)
        if fn is None:
            raise FunctionNotReady(
                f"The function {name} cannot be {doing}: its configuration is invalid: "
                f"{self.problems[name].error}"
            )
        return fn

    def revision(self, name: str) -> int:
        return self.revisions.get(name, 0)

    def bump(self, name: str) -> int:
        self.revisions[name] = self.revision(name) + 1
        return self.revisions[name]

    def problem(self, name: str) -> CodeProblem | None:
        """What is wrong with the function's latest save: a config error, a syntax error."""
        found = self.problems.get(name)
        if found is not None:
            err = found.error
            message = f"{err.key}: {err.message}" if err.key else err.message
            return CodeProblem(name, err.file, err.line, message, "config")
        errors = self.syntax_errors.get(name)
        if errors and name in self.functions:
            path = min(errors)
            line, message = errors[path]
            return CodeProblem(name, path, line, message, "syntax")
        return None
