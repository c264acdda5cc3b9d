"""The engine's versions-and-aliases API: publish, list, and manage aliases (Lambda's rules).

A mixin of ``Engine``; the rules and the SQLite rows live in ``versions.py``. Every change is
announced on the event stream as ``RegistryChanged``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..model.errors import FunctionNotReady, ResourceNotFound
from ..model.events import RegistryChanged
from .versions import Alias, Registry, Version

if TYPE_CHECKING:
    from ..engine import Engine


class RegistryAPI:
    """Versions and aliases of the engine's functions."""

    def _registry(self: Engine) -> Registry:
        if self.registry is None:
            raise RuntimeError("the engine is not running: use `async with Engine(...)`")
        return self.registry

    def _require_function(self: Engine, name: str) -> None:
        if name not in self.functions and name not in self.problems:
            raise ResourceNotFound(f"Function not found: {self.arn(name)}")

    def _changed(self: Engine, function: str, what: str) -> None:
        registry = self._registry()
        self._registry_generation = registry.generation()  # ours: not news from elsewhere
        if self.bus.active:
            self.bus.publish(RegistryChanged(function, what, time.time()))

    async def publish(
        self: Engine, name: str, description: str | None = None
    ) -> tuple[Version, bool]:
        """Publish ``$LATEST`` as a new version; (version, created).

        Unchanged code and config since the last version return that version with ``created``
        False. The snapshot is taken in a worker thread: a large folder does not stall the loop.
        """
        self._require_function(name)
        fn = self.functions.get(name)
        if fn is None:
            raise FunctionNotReady(
                f"The function {name} cannot be published: its configuration is invalid: "
                f"{self.problems[name].error}"
            )
        version, created = await asyncio.to_thread(self._registry().publish, fn, description)
        if created:
            self._changed(name, "version")
        return version, created

    def versions(self: Engine, name: str) -> list[Version]:
        """Published versions, oldest first."""
        self._require_function(name)
        return self._registry().versions(name)

    def version(self: Engine, name: str, number: int) -> Version:
        self._require_function(name)
        found = self._registry().version(name, number)
        if found is None:
            raise ResourceNotFound(f"Function not found: {self.arn(name, str(number))}")
        return found

    def aliases(self: Engine, name: str) -> list[Alias]:
        self._require_function(name)
        return self._registry().aliases(name)

    def alias(self: Engine, name: str, alias: str) -> Alias:
        self._require_function(name)
        found = self._registry().alias(name, alias)
        if found is None:
            raise ResourceNotFound(f"Alias not found: {self.arn(name, alias)}")
        return found

    def create_alias(
        self: Engine,
        name: str,
        alias: str,
        version: str,
        *,
        routing: Mapping[str, object] | None = None,
        description: str = "",
    ) -> Alias:
        self._require_function(name)
        created = self._registry().create_alias(
            name, alias, version, routing=routing, description=description
        )
        self._changed(name, "alias")
        return created

    def update_alias(
        self: Engine,
        name: str,
        alias: str,
        *,
        version: str | None = None,
        routing: Mapping[str, object] | None = None,
        description: str | None = None,
    ) -> Alias:
        """Change what is given; ``routing={}`` removes the routing, ``None`` keeps it."""
        self._require_function(name)
        updated = self._registry().update_alias(
            name, alias, version=version, routing=routing, description=description
        )
        self._changed(name, "alias")
        return updated

    def delete_alias(self: Engine, name: str, alias: str) -> None:
        self._require_function(name)
        self._registry().delete_alias(name, alias)
        self._changed(name, "alias")
