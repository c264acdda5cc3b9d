"""Provisioned concurrency: environments initialised ahead of calls, per version or alias.

The configs come from ``function.toml``'s ``[provisioned_concurrency]`` and from the API's
``PutProvisionedConcurrencyConfig`` (kept in ``FunctionMeta``; the API's wins for the same
qualifier). ``reconcile`` (on every change and on the engine's tick) keeps that many environments
of each version started, with ``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency``, parked
in the pool's idle list where an invocation of the version takes them before any on-demand one;
calls beyond them spill over to on-demand environments. They are never reaped for idleness; one
that dies is replaced; an alias moved to another version moves its environments. A published
version's code never changes, so a hot reload never re-initialises them (``$LATEST`` cannot have
any, as on Lambda).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..config.api_meta import FunctionMeta
from ..config.function import UNRESERVED_CONCURRENCY
from ..config.warm_start import LATEST_REFUSAL, SNAP_START_WITH_PROVISIONED
from ..model.errors import InvalidParameterValue
from ..registry.versions import LATEST, is_version_number, version_number
from ..runtime.environment import Environment, SpawnError
from ..runtime.launch import LaunchError
from .snapshots import uses_snap_start

if TYPE_CHECKING:
    from .pool import EnvironmentPool

log = logging.getLogger("workbench.provisioned")

ProvisionedStatus = Literal["IN_PROGRESS", "READY", "FAILED"]
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"  # StatusReason of a config whose INIT failed
Key = tuple[str, str]  # (function, version)


@dataclass(frozen=True, slots=True)
class ProvisionedState:
    """One config as ``GetProvisionedConcurrencyConfig`` reports it."""

    qualifier: str
    requested: int
    allocated: int
    available: int
    status: ProvisionedStatus
    reason: str | None
    modified: float


class Provisioned:
    def __init__(self, pool: EnvironmentPool, meta_home: Path) -> None:
        self.pool = pool
        self.meta = FunctionMeta(meta_home)  # the API's configs, beside tags and policies
        self._api: dict[str, dict[str, Any]] = {}  # function -> qualifier -> stored entry
        self._api_loaded = False  # every function's stored configs read (once, at the start)
        self._toml_modified: dict[tuple[str, str, int], float] = {}
        self._envs: dict[Key, list[Environment]] = {}
        self._failed: dict[Key, str] = {}
        # functions that have (or are starting) provisioned environments: the pool looks for
        # one among the idle only for these (a set lookup on every other invocation)
        self.functions: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- configs

    def _api_configs(self, name: str) -> dict[str, Any]:
        if name not in self._api:
            self._api[name] = dict(self.meta.read(name)["provisioned"])
        return self._api[name]

    def configs(self, name: str) -> dict[str, tuple[int, float]]:
        """qualifier -> (environments requested, when the config was last set)."""
        found: dict[str, tuple[int, float]] = {}
        fn = self.pool.catalog.latest_good.get(name)
        if fn is not None:
            for qualifier, count in fn.provisioned_concurrency.items():
                stamp = self._toml_modified.setdefault((name, qualifier, count), time.time())
                found[qualifier] = (count, stamp)
        for qualifier, entry in self._api_configs(name).items():
            found[qualifier] = (int(entry["requested"]), float(entry["modified"]))
        return found

    def put(self, name: str, qualifier: str, count: int) -> ProvisionedState:
        """PutProvisionedConcurrencyConfig (the qualifier exists: the API checked)."""
        if qualifier == LATEST:
            raise InvalidParameterValue(LATEST_REFUSAL)
        for version in self._split(name, qualifier, count):
            fn = self._config(name, version)
            if fn is not None and uses_snap_start(fn, version):
                raise InvalidParameterValue(SNAP_START_WITH_PROVISIONED)
        others = sum(n for q, (n, _) in self.configs(name).items() if q != qualifier)
        reserved = self.pool.concurrency.reserved(name)
        if reserved is not None and others + count > reserved:
            # UNVERIFIED: Lambda's wording
            raise InvalidParameterValue(
                f"Requested Provisioned Concurrency should not be greater than the "
                f"reservedConcurrentExecution for function ({reserved})."
            )
        if reserved is None:
            unreserved = self.pool.concurrency.unreserved_limit
            elsewhere = self._unreserved_total(exclude=(name, qualifier))
            if elsewhere + count > unreserved - UNRESERVED_CONCURRENCY:
                raise InvalidParameterValue(
                    "Specified ConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of "
                    f"[{UNRESERVED_CONCURRENCY}]."
                )
        data = self.meta.read(name)
        data["provisioned"][qualifier] = {"requested": count, "modified": time.time()}
        self.meta.write(name, data)
        self._api[name] = dict(data["provisioned"])
        self._forget_failures(name)
        self.reconcile()
        state = self.state(name, qualifier)
        assert state is not None
        return state

    def delete(self, name: str, qualifier: str) -> bool:
        """DeleteProvisionedConcurrencyConfig; whether the API had one."""
        data = self.meta.read(name)
        had = data["provisioned"].pop(qualifier, None) is not None
        self.meta.write(name, data)
        self._api[name] = dict(data["provisioned"])
        self._forget_failures(name)
        self.reconcile()
        return had

    def version_deleted(self, name: str, version: str) -> None:
        """Lambda deletes a version's provisioned concurrency config with the version."""
        if version in self._api_configs(name):
            self.delete(name, version)
        else:
            self.reconcile()

    def dropped(self, name: str) -> None:
        """The function was deleted: its configs went with its ``FunctionMeta``."""
        self._api.pop(name, None)
        self._forget_failures(name)

    def _forget_failures(self, name: str) -> None:
        for key in [k for k in self._failed if k[0] == name]:
            del self._failed[key]

    def _unreserved_total(self, exclude: tuple[str, str]) -> int:
        total = 0
        for name in self._names():
            if self.pool.concurrency.reserved(name) is not None:
                continue
            for qualifier, (count, _) in self.configs(name).items():
                if (name, qualifier) != exclude:
                    total += count
        return total

    # ----------------------------------------------------------------- what is allocated

    def state(self, name: str, qualifier: str) -> ProvisionedState | None:
        config = self.configs(name).get(qualifier)
        if config is None:
            return None
        requested, modified = config
        allocated, reason = 0, None
        for version, count in self._split(name, qualifier, requested).items():
            ready = sum(e.state in ("idle", "busy") for e in self._envs.get((name, version), ()))
            allocated += min(count, ready)
            reason = reason or self._failed.get((name, version))
        status: ProvisionedStatus = "IN_PROGRESS"
        if reason is not None:
            status = "FAILED"
        elif allocated >= requested:
            status = "READY"
        # UNVERIFIED: Lambda's Available equals Allocated once READY; not lowered while busy
        return ProvisionedState(
            qualifier, requested, allocated, allocated, status, reason, modified
        )

    def states(self, name: str) -> list[ProvisionedState]:
        found = [self.state(name, q) for q in sorted(self.configs(name))]
        return [s for s in found if s is not None]

    def count(self, name: str) -> tuple[int, int]:
        """(provisioned environments started, of which busy) of ``name``: the gauge's."""
        started = busy = 0
        for (function, _), envs in self._envs.items():
            if function == name:
                for env in envs:
                    started += env.state in ("idle", "busy")
                    busy += env.state == "busy"
        return started, busy

    # ----------------------------------------------------------------- keeping them started

    def _names(self) -> list[str]:
        if not self._api_loaded:  # configs put through the API before this engine started
            self._api_loaded = True
            for path in sorted(self.meta.home.glob("*.json")):
                self._api_configs(path.stem)
        catalog = self.pool.catalog
        names = {n for n, fn in catalog.latest_good.items() if fn.provisioned_concurrency}
        names.update(n for n, entries in self._api.items() if entries)
        names.update(name for name, _ in self._envs)
        return sorted(names)

    def _split(self, name: str, qualifier: str, count: int) -> dict[str, int]:
        """version -> environments: an alias's are split between its versions by weight."""
        if is_version_number(qualifier):
            return {qualifier: count}
        try:
            alias = self.pool.registry().alias(name, qualifier)
        except Exception:  # noqa: BLE001 - no registry (not started): nothing to resolve yet
            return {}
        if alias is None or alias.function_version == LATEST:
            return {}
        # UNVERIFIED: Lambda spreads an alias's provisioned concurrency over its two versions
        # in proportion to their weights; the rounding is ours
        split: dict[str, int] = {}
        left = count
        for version, weight in alias.routing.items():
            share = round(count * float(weight))
            split[version] = share
            left -= share
        split[alias.function_version] = split.get(alias.function_version, 0) + max(left, 0)
        return {v: n for v, n in split.items() if n > 0}

    def _config(self, name: str, version: str):  # -> FunctionConfig | None
        try:
            found = self.pool.registry().version(name, version_number(version))
        except Exception:  # noqa: BLE001 - no registry yet
            return None
        return found.config if found is not None else None

    def reconcile(self) -> None:
        """Start or retire environments so each version has what its configs ask for."""
        pool = self.pool
        if not pool.started or pool.closed:
            return
        desired: dict[Key, int] = {}
        for name in self._names():
            if not pool.catalog.knows(name):
                continue
            for qualifier, (count, _) in self.configs(name).items():
                for version, n in self._split(name, qualifier, count).items():
                    desired[(name, version)] = desired.get((name, version), 0) + n
        for key in set(desired) | set(self._envs):
            envs = [e for e in self._envs.get(key, ()) if e.state != "dead" and e.provisioned]
            want = desired.get(key, 0)
            if len(envs) > want:
                # the idle and starting ones go first; a busy one finishes as on-demand
                envs.sort(key=lambda e: e.state == "busy")
                for env in envs[: len(envs) - want]:
                    self._retire(env)
                envs = envs[len(envs) - want :]
            self._envs[key] = envs
            if len(envs) < want and key not in self._failed:
                fn = self._config(*key)
                if fn is None:
                    continue
                for _ in range(want - len(envs)):
                    self._start(fn, key)
            if not envs and not want:
                del self._envs[key]
        self.functions = {name for (name, _), envs in self._envs.items() if envs}

    def _retire(self, env: Environment) -> None:
        env.provisioned = False
        if env.state in ("idle", "new", "initializing"):
            self.pool.forget_idle(env)
            env.shutdown("exit")

    def _start(self, fn: Any, key: Key) -> None:
        env = self.pool.new_environment(fn, key[1], "provisioned-concurrency")
        env.provisioned = True
        self._envs[key].append(env)
        self.functions.add(key[0])
        task = asyncio.get_running_loop().create_task(self._init(env, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _init(self, env: Environment, key: Key) -> None:
        pool = self.pool
        pool.registry().ensure_files(key[0], version_number(key[1]))
        await pool.gate.enter(key[0])
        if env.state == "dead":  # retired while it waited for its turn
            pool.gate.leave()
            return
        env.on_runtime_started = pool.gate.leave
        try:
            failed = await env.start()
        except (SpawnError, LaunchError) as e:
            failed = None
            self._failed[key] = INIT_FAILURE
            log.warning("provisioned environment of %s:%s failed: %s", *key, e)
        except asyncio.CancelledError:
            env.shutdown("exit")
            raise
        if failed is not None:
            self._failed[key] = INIT_FAILURE
            log.warning("provisioned environment of %s:%s failed in INIT", *key)
            return
        if env.state == "idle" and env.provisioned and not pool.closed:
            pool.park(env)
        elif env.state != "dead":
            env.shutdown("exit")

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._envs.clear()
