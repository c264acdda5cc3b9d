"""Versions and aliases of the engine's functions: publish, list, and manage aliases (Lambda's
rules); the rules and the SQLite rows live in ``versions.py``. Every change is announced on the
event stream as ``RegistryChanged``, and so are changes another process made to the same state
dir (a ``workbench publish`` beside a running serve), noticed on the engine's housekeeping tick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from ..config.catalog import Catalog
from ..config.settings import EngineSettings
from ..model.errors import ResourceNotFound
from ..model.events import EventBus, RegistryChanged
from ..storage.database import Database
from .snapshots import CodeStore
from .versions import Alias, Registry, Version


class RegistryService:
    def __init__(
        self, *, catalog: Catalog, settings: EngineSettings, bus: EventBus, state_dir: Path
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.bus = bus
        self.state_dir = state_dir
        self.registry: Registry | None = None  # open while the engine runs
        self._generation = 0
        # told of each new version (the pool takes a SnapStart version's snapshot at once)
        self.on_published: list[Callable[[Version], None]] = []
        self.on_version_deleted: list[Callable[[str, int], None]] = []

    def open(self, db: Path | Database | None = None) -> None:
        """``db``: the engine's ``Database`` (shared with its other stores), or a path."""
        self.registry = Registry(
            db or self.state_dir / "workbench.db",
            CodeStore(self.state_dir / "code"),
            self.settings.arn,
        )
        self._generation = self.registry.generation()

    def close(self) -> None:
        if self.registry is not None:
            self.registry.close()

    def require(self) -> Registry:
        if self.registry is None:
            raise RuntimeError("the engine is not running: use `async with Engine(...)`")
        return self.registry

    def notice_changes(self) -> None:
        """Announce what another process published or aliased since we last looked."""
        if self.registry is None:
            return
        try:
            generation = self.registry.generation()
        except Exception:  # noqa: BLE001 - a locked or vanished database: try next tick
            return
        if generation != self._generation:
            self._generation = generation
            if self.bus.wants(RegistryChanged):
                self.bus.publish(RegistryChanged(None, "unknown", time.time()))

    def _changed(self, function: str, what: Literal["version", "alias"]) -> None:
        self._generation = self.require().generation()  # ours: not news from elsewhere
        if self.bus.wants(RegistryChanged):
            self.bus.publish(RegistryChanged(function, what, time.time()))

    async def publish(self, name: str, description: str | None = None) -> tuple[Version, bool]:
        """Publish ``$LATEST`` as a new version; (version, created).

        Unchanged code and config since the last version return that version with ``created``
        False. The snapshot is taken in a worker thread: a large folder does not stall the loop.
        """
        fn = self.catalog.latest(name, "published")
        version, created = await asyncio.to_thread(self.require().publish, fn, description)
        if created:
            self._changed(name, "version")
            for listener in self.on_published:
                listener(version)
        return version, created

    def versions(self, name: str) -> list[Version]:
        """Published versions, oldest first."""
        self.catalog.require(name)
        return self.require().versions(name)

    def version(self, name: str, number: int) -> Version:
        self.catalog.require(name)
        found = self.require().version(name, number)
        if found is None:
            raise ResourceNotFound(f"Function not found: {self.settings.arn(name, str(number))}")
        return found

    def aliases(self, name: str) -> list[Alias]:
        self.catalog.require(name)
        return self.require().aliases(name)

    def alias(self, name: str, alias: str) -> Alias:
        self.catalog.require(name)
        found = self.require().alias(name, alias)
        if found is None:
            raise ResourceNotFound(f"Alias not found: {self.settings.arn(name, alias)}")
        return found

    def create_alias(
        self,
        name: str,
        alias: str,
        version: str,
        *,
        routing: Mapping[str, object] | None = None,
        description: str = "",
    ) -> Alias:
        self.catalog.require(name)
        created = self.require().create_alias(
            name, alias, version, routing=routing, description=description
        )
        self._changed(name, "alias")
        return created

    def update_alias(
        self,
        name: str,
        alias: str,
        *,
        version: str | None = None,
        routing: Mapping[str, object] | None = None,
        description: str | None = None,
    ) -> Alias:
        """Change what is given; ``routing={}`` removes the routing, ``None`` keeps it."""
        self.catalog.require(name)
        updated = self.require().update_alias(
            name, alias, version=version, routing=routing, description=description
        )
        self._changed(name, "alias")
        return updated

    def delete_alias(self, name: str, alias: str) -> None:
        self.catalog.require(name)
        self.require().delete_alias(name, alias)
        self._changed(name, "alias")

    def delete_version(self, name: str, number: int) -> None:
        self.catalog.require(name)
        self.require().delete_version(name, number)
        self._changed(name, "version")
        for listener in self.on_version_deleted:
            listener(name, number)

    def delete_function(self, name: str) -> None:
        """Its versions and aliases (the caller removes the function itself)."""
        self.require().delete_function(name)
        self._changed(name, "version")
