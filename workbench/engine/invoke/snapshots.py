"""SnapStart's snapshots, one per published version of a function with ``snap_start =
"PublishedVersions"`` (Python 3.12+): taken when the version is published (or first needed),
kept stopped, restored from for every new environment of the version
(``runtime/snapshot_fork.py``).

A snapshot is an environment of the version started as any other (so in the function's cgroup
and rlimits), which never serves an event: it is kept here, never in the pool's idle list, and
goes when its function does or the engine closes. One whose INIT (or a before-snapshot hook)
failed is not kept: the version's invocations fail with ``SnapStartException`` saying why, and
the next one tries again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from ..config.function import FunctionConfig, runtime_family
from ..config.warm_start import snap_start_supported
from ..model.errors import LambdaError
from ..registry.versions import LATEST
from ..runtime.environment import Environment, SpawnError
from ..runtime.launch import LaunchError
from ..runtime.snapshot_fork import SnapshotForker

if TYPE_CHECKING:
    from .pool import EnvironmentPool

log = logging.getLogger("workbench.snapstart")


class SnapStartFailed(LambdaError):
    """The version's snapshot could not be taken (Lambda's ``SnapStartException``)."""

    code = "SnapStartException"
    status = 400


def uses_snap_start(fn: FunctionConfig, version: str) -> bool:
    """Do new environments of ``fn`` at ``version`` restore from a snapshot? Published versions
    only, as Lambda applies it (``$LATEST`` always starts on demand)."""
    return (
        version != LATEST
        and fn.snap_start == "PublishedVersions"
        and runtime_family(fn.runtime) == "python"
        and snap_start_supported(fn.runtime)
        and fn.runtime_client == "workbench"  # AWS's awslambdaric: exec'd, on demand
        and fn.debug is None
    )


class Snapshots:
    def __init__(self, pool: EnvironmentPool) -> None:
        self.pool = pool
        self._taking: dict[tuple[str, str], asyncio.Task[SnapshotForker | None]] = {}
        self._envs: dict[tuple[str, str], Environment] = {}
        self._failures: dict[tuple[str, str], str] = {}  # why the last attempt failed
        self.taken = 0  # snapshots taken (tests, benchmarks)

    def environment(self, name: str, version: str) -> Environment | None:
        """The snapshot's environment (stopped), if one is kept."""
        return self._envs.get((name, version))

    def prepare(self, fn: FunctionConfig, version: str) -> None:
        """Take the snapshot in the background (a version was just published)."""
        if uses_snap_start(fn, version) and self.pool.started and not self.pool.closed:
            self._task(fn, version)

    async def forker(self, fn: FunctionConfig, version: str) -> SnapshotForker:
        """What new environments of the version restore from (taken now if need be); raises
        ``SnapStartFailed`` if the snapshot could not be taken."""
        forker = await asyncio.shield(self._task(fn, version))
        if forker is None:
            why = self._failures.get((fn.name, version), "its INIT failed")
            raise SnapStartFailed(
                f"SnapStart could not take the snapshot of {fn.name} version {version}: {why}"
            )
        return forker

    def _task(self, fn: FunctionConfig, version: str) -> asyncio.Task[SnapshotForker | None]:
        key = (fn.name, version)
        task = self._taking.get(key)
        if task is not None and task.done():
            env = self._envs.get(key)
            if task.cancelled() or task.exception() or task.result() is None:
                task = None  # failed: try again (its code may have been fixed meanwhile)
            elif env is None or env.state == "dead":
                task = None  # the snapshot died (killed from outside): take it again
        if task is None:
            task = asyncio.get_running_loop().create_task(self._take(fn, version))
            self._taking[key] = task
        return task

    async def _take(self, fn: FunctionConfig, version: str) -> SnapshotForker | None:
        pool = self.pool
        key = (fn.name, version)
        old = self._envs.pop(key, None)
        if old is not None:
            old.shutdown("exit")
        await pool.gate.enter(fn.name)
        env = pool.new_environment(fn, version, "snap-start")
        env.on_runtime_started = pool.gate.leave
        assert pool.scratch is not None
        env.snapshot_socket = str(pool.scratch.path / f"snap-{env.short_id}.sock")
        try:
            failed = await env.start()
        except (SpawnError, LaunchError) as e:
            self._failures[key] = str(e)
            log.warning("SnapStart snapshot of %s:%s failed: %s", fn.name, version, e)
            return None
        except asyncio.CancelledError:
            env.shutdown("exit")
            raise
        if failed is not None or env.state != "idle":
            why = _describe(failed.body, failed.error_type) if failed else env.exit_description
            self._failures[key] = why
            log.warning("SnapStart snapshot of %s:%s failed: %s", fn.name, version, why)
            env.shutdown("error")
            return None
        env.freezer.cancel()  # stopped below, and continued only to fork
        forker = SnapshotForker(env.snapshot_socket, env.pid)
        forker.stop()
        self._envs[key] = env
        self.taken += 1
        return forker

    def drop(self, name: str, version: str | None = None) -> None:
        """The function (or that version of it) is gone: so are its snapshots."""
        for key in [k for k in self._envs if k[0] == name and version in (None, k[1])]:
            self._envs.pop(key).shutdown("removed")
            self._taking.pop(key, None)

    def close(self) -> None:
        for task in self._taking.values():
            if task.done() and not task.cancelled() and task.exception() is None:
                forker = task.result()
                if forker is not None:
                    forker.close()
            else:
                task.cancel()
        for env in self._envs.values():
            env.shutdown("exit")  # (SIGKILL ends a stopped process too)
        self._envs.clear()
        self._taking.clear()


def _describe(body: bytes, error_type: str | None) -> str:
    """``Runtime.BeforeSnapshotError: no db`` from a runtime's init error post."""
    try:
        error = json.loads(body)
        return f"{error.get('errorType') or error_type}: {error.get('errorMessage', '')}"
    except (ValueError, AttributeError):
        return error_type or "INIT failed"
