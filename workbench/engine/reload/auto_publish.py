"""SAM's ``AutoPublishAlias`` for template functions: each change is published and the alias
moved to the new version, as ``sam deploy`` does, with ``DeploymentPreference``'s shifting.

After a reload that changed such a function (and when watching starts), ``$LATEST`` is published
(a change of nothing returns the last version: no new one) and the alias points at it. With a
canary or linear type the alias keeps its old version and sends the new one a weighted share
that grows on Lambda's schedule (``CanaryXPercentYMinutes``: X %, then all after Y minutes;
``LinearXPercentEveryYMinutes``: X % more every Y minutes), waits scaled by ``time_scale``. A
newer change during a shift starts over from the alias's primary version, as CodeDeploy stops a
deployment when another begins. Publishing runs one function at a time, in order.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable

from ..config.catalog import Catalog
from ..config.settings import EngineSettings
from ..model.errors import LambdaError, ResourceNotFound
from ..registry.service import RegistryService

log = logging.getLogger("workbench.auto_publish")

_CANARY = re.compile(r"Canary(\d+)Percent(\d+)Minutes?")
_LINEAR = re.compile(r"Linear(\d+)PercentEvery(\d+)Minutes?")


def shift_steps(deployment: str | None) -> list[tuple[float, float]]:
    """(the new version's weight, minutes to wait before the next step), ending at 1.0."""
    if deployment is None:
        return [(1.0, 0.0)]
    canary = _CANARY.fullmatch(deployment)
    if canary is not None:
        return [(int(canary[1]) / 100, float(canary[2])), (1.0, 0.0)]
    linear = _LINEAR.fullmatch(deployment)
    if linear is not None:
        step, minutes = int(linear[1]), float(linear[2])
        weights = list(range(step, 100, step)) if step > 0 else []
        return [*((w / 100, minutes) for w in weights), (1.0, 0.0)]
    return [(1.0, 0.0)]


class AutoPublish:
    def __init__(
        self, *, catalog: Catalog, versioning: RegistryService, settings: EngineSettings
    ) -> None:
        self.catalog = catalog
        self.versioning = versioning
        self.settings = settings
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._shifts: dict[str, asyncio.Task[None]] = {}

    def changed(self, names: Iterable[str]) -> None:
        """Publish the functions among ``names`` that have an ``AutoPublishAlias`` (soon, on the
        running loop; nothing without one, as in a one-shot CLI load)."""
        wanted = [
            name
            for name in names
            if (fn := self.catalog.functions.get(name)) is not None and fn.auto_publish_alias
        ]
        if not wanted:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._publish_all(wanted))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for task in [*self._tasks, *self._shifts.values()]:
            task.cancel()

    async def settle(self) -> None:
        """Until the publishes asked for so far are done (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _publish_all(self, names: list[str]) -> None:
        async with self._lock:
            for name in names:
                try:
                    await self._publish(name)
                except LambdaError as e:  # broken meanwhile, removed, ...: the next save retries
                    log.warning("AutoPublishAlias of %s: %s", name, e.message)

    async def _publish(self, name: str) -> None:
        fn = self.catalog.functions.get(name)
        if fn is None or not fn.auto_publish_alias or self.catalog.problem(name) is not None:
            return
        alias = fn.auto_publish_alias
        version, _ = await self.versioning.publish(name)
        new = str(version.number)
        try:
            current = self.versioning.alias(name, alias)
        except ResourceNotFound:
            self.versioning.create_alias(name, alias, new)
            return
        shifting = self._shifts.pop(name, None)
        if shifting is not None:
            shifting.cancel()
        if current.function_version == new and not current.routing:
            return
        old = current.function_version
        steps = shift_steps(fn.deployment)
        if old == new or len(steps) == 1:
            self.versioning.update_alias(name, alias, version=new, routing={})
            return
        task = asyncio.get_running_loop().create_task(self._shift(name, alias, old, new, steps))
        self._shifts[name] = task

    async def _shift(
        self, name: str, alias: str, old: str, new: str, steps: list[tuple[float, float]]
    ) -> None:
        try:
            for weight, minutes in steps:
                if weight >= 1.0:
                    self.versioning.update_alias(name, alias, version=new, routing={})
                    return
                self.versioning.update_alias(name, alias, version=old, routing={new: weight})
                await asyncio.sleep(minutes * 60 * self.settings.time_scale)
        except LambdaError as e:
            log.warning("AutoPublishAlias %s of %s: %s", alias, name, e.message)
        finally:
            if self._shifts.get(name) is asyncio.current_task():
                del self._shifts[name]
