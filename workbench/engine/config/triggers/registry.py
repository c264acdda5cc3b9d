"""The trigger registry: each ``[[triggers]]`` type is registered once, with how its table is
parsed, its short label and its line in ``workbench serve``'s event-source list.

The event source that serves a type is registered against it by the sources layer
(``engine/sources/registry.py``), which sits above config. Everything else asks the registry:
``parse_trigger`` (function.toml's validation), ``triggers_of`` (the typed triggers of a
function, or those of one type), ``label`` and ``describe``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, overload

COMMON_KEYS = ("type", "enabled")


class TriggerError(ValueError):
    """A bad trigger table: ``key`` is the offending key (None: the table itself)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


class Trigger(Protocol):
    """What every typed trigger has (each type is a frozen dataclass of its own)."""

    @property
    def type(self) -> str: ...

    @property
    def enabled(self) -> bool: ...


T = TypeVar("T", bound=Trigger)


@dataclass(frozen=True)
class TriggerType(Generic[T]):
    """One ``type = "..."`` of ``[[triggers]]``: everything the workbench knows of it."""

    name: str  # the ``type`` in function.toml
    cls: type[T]
    keys: tuple[str, ...]  # accepted besides type and enabled, in the order errors list them
    required: str
    parse: Callable[[Mapping[str, Any], bool], T]  # (the table, enabled) → the trigger
    label: Callable[[T], str]  # short, for lists: ``s3:uploads``
    # its line in serve's event-source list, from function.toml and the roots alone; None for
    # a type whose running source lists it with what only it knows
    describe: Callable[[T, str, Sequence[Path]], str | None]


class TriggerRegistry:
    """The trigger types by name, in registration order (the order errors list them in)."""

    def __init__(self, *types: TriggerType[Any]) -> None:
        self._types: dict[str, TriggerType[Any]] = {}
        for kind in types:
            self.register(kind)

    def register(self, kind: TriggerType[Any]) -> None:
        if kind.name in self._types:
            raise ValueError(f"trigger type {kind.name!r} is registered already")
        if any(known.cls is kind.cls for known in self._types.values()):
            raise ValueError(f"{kind.cls.__name__} is registered already, as another type")
        self._types[kind.name] = kind

    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    def __getitem__(self, name: str) -> TriggerType[Any]:
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._types

    def of(self, trigger: Trigger) -> TriggerType[Any]:
        return self._types[trigger.type]

    def parse(self, raw: Mapping[str, Any]) -> Trigger:
        """The typed trigger a ``[[triggers]]`` table describes; ``TriggerError`` if it is wrong."""
        name = raw.get("type")
        listing = ", ".join(self._types)
        if name is None:
            raise TriggerError(None, f"missing type; must be one of: {listing}")
        if name not in self:
            raise TriggerError("type", f"must be one of: {listing}")
        kind = self._types[name]
        accepted = (*COMMON_KEYS, *kind.keys)
        for key in raw:
            if key not in accepted:
                raise TriggerError(
                    key, f"unknown key for the {name} trigger; accepted: {', '.join(accepted)}"
                )
        if kind.required not in raw:
            raise TriggerError(None, f"missing {kind.required}: every {name} trigger needs one")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise TriggerError("enabled", "must be true or false")
        return kind.parse(raw, enabled)

    def label(self, trigger: Trigger) -> str:
        text = self.of(trigger).label(trigger)
        return text if trigger.enabled else f"{text} (disabled)"

    def describe(self, trigger: Trigger, function: str, roots: Sequence[Path]) -> str | None:
        return self.of(trigger).describe(trigger, function, roots)


TRIGGERS = TriggerRegistry()  # the types are registered by the package (``__init__``)


def parse_trigger(raw: Mapping[str, Any]) -> Trigger:
    """The typed trigger a ``[[triggers]]`` table describes; ``TriggerError`` if it is wrong."""
    return TRIGGERS.parse(raw)


class HasTriggers(Protocol):
    """A ``FunctionConfig`` (which imports this package), as far as ``triggers_of`` needs it."""

    @property
    def triggers(self) -> tuple[Mapping[str, object], ...]: ...


@overload
def triggers_of(fn: HasTriggers) -> tuple[Trigger, ...]: ...


@overload
def triggers_of(fn: HasTriggers, kind: type[T]) -> tuple[T, ...]: ...


def triggers_of(fn: HasTriggers, kind: type[Any] | None = None) -> tuple[Any, ...]:
    """The function's triggers, typed and defaulted (its config was validated as it loaded);
    with ``kind`` (``S3Trigger``, …), only those of that type."""
    parsed = tuple(TRIGGERS.parse(raw) for raw in fn.triggers)
    return parsed if kind is None else tuple(t for t in parsed if isinstance(t, kind))


def numbered_triggers(fn: HasTriggers, kind: type[T]) -> tuple[tuple[int, T], ...]:
    """The function's triggers of one type, each with its place among all its triggers (S3's
    configuration ids count every trigger of the function)."""
    parsed = triggers_of(fn)
    return tuple((i, t) for i, t in enumerate(parsed) if isinstance(t, kind))


def label(trigger: Trigger) -> str:
    """A short name for lists: ``s3:uploads``, ``http:GET /items/{id}``, ``sns:alerts``."""
    return TRIGGERS.label(trigger)


def describe(trigger: Trigger, function: str, roots: Sequence[Path]) -> str | None:
    """The trigger's line in ``workbench serve``'s event-source list, or None when its source
    lists it itself (HTTP routes, schedules)."""
    return TRIGGERS.describe(trigger, function, roots)
