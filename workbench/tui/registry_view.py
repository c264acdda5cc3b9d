"""What the TUI knows of versions and aliases: the registry, and the traffic through each alias.

The functions pane redraws on every batch of engine events; reading SQLite for every function
each time would be wasted work, so versions and aliases are cached here until a
``RegistryChanged`` (ours, or another process's) or a reload says they may have changed.

The live traffic split is counted from the invocations themselves: each record says which alias
it was invoked through (``qualifier``) and which version ran (``version``). Pure logic, no
Textual: it is tested on its own.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable

from ..engine import (
    LATEST,
    Alias,
    Engine,
    FunctionReloaded,
    InvocationRecord,
    InvokeEnd,
    LambdaError,
    RegistryChanged,
    Version,
)
from ..engine.registry import is_alias_qualifier

RECENT = 200  # invocations per alias the live split is counted over
SEED_LIMIT = 1000  # records per function read from the store at start


def percent(share: float) -> str:
    value = share * 100
    return f"{value:.0f}%" if abs(value - round(value)) < 0.05 else f"{value:.1f}%"


def routes(alias: Alias) -> list[tuple[str, float]]:
    """(version, configured share) of every version the alias sends traffic to, main first."""
    out = [(alias.function_version, alias.share(alias.function_version))]
    out += [(v, alias.share(v)) for v in alias.routing]
    return out


def version_label(version: str) -> str:
    return version if version == LATEST else f"v{version}"


def configured_split(alias: Alias) -> str:
    """``→ v1 90% · v4 10%``, or ``→ v1`` without routing."""
    if not alias.routing:
        return f"→ {version_label(alias.function_version)}"
    return "→ " + " · ".join(f"{version_label(v)} {percent(s)}" for v, s in routes(alias))


def short_split(alias: Alias) -> str:
    """For a narrow table cell: ``→ 1``, ``→ 1 +4 10%`` (version 4 gets 10 %)."""
    text = f"→ {alias.function_version}"
    for version, weight in alias.routing.items():
        text += f" +{version} {percent(weight)}"
    return text


class RegistryView:
    """Cached versions and aliases of each function, and the recent traffic through aliases."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._versions: dict[str, list[Version]] = {}
        self._aliases: dict[str, list[Alias]] = {}
        # (function, alias) -> executed versions of its latest invocations, oldest first
        self._through: dict[tuple[str, str], deque[str]] = {}
        # (function, qualifier or version) -> the status of its latest invocation
        self._last: dict[tuple[str, str], str] = {}

    # ----------------------------------------------------------------- registry

    def versions(self, function: str) -> list[Version]:
        if function not in self._versions:
            try:
                self._versions[function] = self.engine.versions(function)
            except (LambdaError, RuntimeError):  # gone, or the engine is not running
                return []
        return self._versions[function]

    def aliases(self, function: str) -> list[Alias]:
        if function not in self._aliases:
            try:
                self._aliases[function] = self.engine.aliases(function)
            except (LambdaError, RuntimeError):
                return []
        return self._aliases[function]

    def alias(self, function: str, name: str) -> Alias | None:
        return next((a for a in self.aliases(function) if a.name == name), None)

    def version(self, function: str, number: int) -> Version | None:
        return next((v for v in self.versions(function) if v.number == number), None)

    def invalidate(self, function: str | None = None) -> None:
        """Forget what is cached (of one function, or of all)."""
        if function is None:
            self._versions.clear()
            self._aliases.clear()
        else:
            self._versions.pop(function, None)
            self._aliases.pop(function, None)

    # ----------------------------------------------------------------- traffic

    def seed_from_store(self) -> None:
        """The traffic of each function's latest stored invocations (at start)."""
        store = self.engine.store
        if store is None:
            return
        for function in sorted({*self.engine.functions, *self.engine.problems}):
            self.seed(store.recent(function, limit=SEED_LIMIT))

    def seed(self, records: Iterable[InvocationRecord]) -> None:
        """Start from stored history (any order: sorted by start time here)."""
        for record in sorted(records, key=lambda r: r.started_at):
            self._count(record)

    def _count(self, record: InvocationRecord) -> None:
        self._last[(record.function, record.version)] = record.status
        if is_alias_qualifier(record.qualifier):
            key = (record.function, str(record.qualifier))
            self._last[key] = record.status
            self._through.setdefault(key, deque(maxlen=RECENT)).append(record.version)

    def last_status(self, function: str, qualifier: str) -> str | None:
        """Of the latest invocation through an alias, or run on a version (``"3"``)."""
        return self._last.get((function, qualifier))

    def recent_split(self, function: str, alias: str) -> tuple[list[tuple[str, float]], int]:
        """([(version, share of recent invocations)], how many), biggest share first."""
        seen = self._through.get((function, alias))
        if not seen:
            return [], 0
        counts = Counter(seen)
        n = len(seen)
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return [(v, c / n) for v, c in ordered], n

    def live_split(self, function: str, alias: str) -> str:
        """``recent: v1 88% · v4 12% (n=200)``."""
        split, n = self.recent_split(function, alias)
        if not n:
            return "recent: no invocations through it yet"
        return (
            "recent: " + " · ".join(f"{version_label(v)} {percent(s)}" for v, s in split)
        ) + f" (n={n})"

    # ----------------------------------------------------------------- events

    def take(self, events: Iterable[object]) -> None:
        """Count finished invocations; forget what a registry change or reload makes stale."""
        for event in events:
            if isinstance(event, InvokeEnd):
                self._count(event.record)
            elif isinstance(event, RegistryChanged):
                self.invalidate(event.function)
            elif isinstance(event, FunctionReloaded) and event.change in ("added", "removed"):
                self.invalidate(event.function)
