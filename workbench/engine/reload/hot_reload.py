"""Hot reload: a save on disk becomes the function's new ``$LATEST`` (DESIGN §6).

Each debounced batch of changed paths (from ``watcher.py``, or handed to ``Engine.reload``
directly) is applied at once: functions are rediscovered, the changed ones get a new revision,
their idle ``$LATEST`` environments shut down (reason ``reload``), in-flight invocations finish
on the old code and then retire, and the next invocation starts the new code. Changed Python
files are compiled on the spot, so a save that breaks the code is reported (a
``FunctionReloaded`` event with its ``problem``) without waiting for an invoke. Published
versions never change here.

A mixin of ``Engine``: it works on the engine's functions and states.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.discovery import ConfigProblem, Discovery, discover
from ..config.function import CONFIG_FILENAME, FunctionConfig
from ..config.python_code import forget_bytecode, handler_file, syntax_error
from ..config.watcher import Watcher
from ..invoke.function_state import FunctionState
from ..model.events import FunctionReloaded
from ..registry.versions import LATEST
from ..runtime.environment import SpawnError
from ..runtime.launch import LaunchError

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("workbench.reload")

MAX_CHECKED_FILES = 100  # per batch: a vendored-package install is not compiled file by file


def _under(path: Path, folder: Path) -> bool:
    text, base = str(path), str(folder)
    return text == base or text.startswith(base + os.sep)


class HotReload:
    """The engine's reload half (see the module docstring)."""

    def _init_reload(self: Engine) -> None:
        self._watcher: Watcher | None = None

    # ----------------------------------------------------------------- watching

    def watch_paths(self: Engine) -> list[Path]:
        """The roots, plus layer folders outside them."""
        paths = list(self.roots)
        for fn in self.functions.values():
            for layer in fn.layers:
                if not any(_under(layer, p) for p in paths):
                    paths.append(layer)
        return paths

    def _start_watching(self: Engine, loop: asyncio.AbstractEventLoop) -> None:
        self._watcher = Watcher(
            self.watch_paths(),
            self.reload,
            loop=loop,
            source_filter=self.source_filter,
            step_ms=self.settings.reload_step_ms,
            on_error=lambda message: log.warning("hot reload: %s", message),
        )
        self._watcher.start()

    def _stop_watching(self: Engine) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    async def wait_watching(self: Engine, timeout: float = 5.0) -> None:
        """Until the watcher follows every root (tests, benchmarks: save only after this)."""
        if self._watcher is None:
            raise RuntimeError("hot reload is off: EngineSettings(watch=True) turns it on")
        ready = await asyncio.to_thread(self._watcher.ready.wait, timeout)
        if not ready:
            raise TimeoutError(f"the file watcher did not start within {timeout} s")

    # ----------------------------------------------------------------- applying changes

    def reload(self: Engine, changed: Iterable[Path | str]) -> list[FunctionReloaded]:
        """Apply one batch of changed paths (absolute); returns what it changed."""
        if self._closed:
            return []
        paths = {Path(p) for p in changed if not self.source_filter.ignored(p)}
        if not paths:
            return []
        try:
            found = discover(self.roots, account_limit=self.settings.account_limit)
        except ValueError as e:  # a root vanished: keep what is loaded
            log.warning("hot reload: %s", e)
            return []
        return self._apply(found, paths)

    def _apply(self: Engine, found: Discovery, changed: set[Path]) -> list[FunctionReloaded]:
        old_functions, old_problems = self.functions, self.problems
        self.functions, self.problems = found.functions, found.problems
        # concurrency reserved by functions is not available to the others
        self._reserved_total = sum(fn.reserved_concurrency or 0 for fn in self.functions.values())
        for path in changed:
            if path.suffix == ".py":
                forget_bytecode(self.pycache_dir, path)
        events: list[FunctionReloaded] = []
        names = sorted({*old_functions, *found.functions, *old_problems, *found.problems})
        for name in names:
            event = self._apply_one(
                name,
                old_functions.get(name),
                found.functions.get(name),
                old_problems.get(name),
                found.problems.get(name),
                changed,
            )
            if event is not None:
                events.append(event)
        if self._watcher is not None:
            self._watcher.watch(self.watch_paths())
        if events:
            self.sources.refresh()
        if self.bus.active:
            for event in events:
                self.bus.publish(event)
        return events

    def _apply_one(
        self: Engine,
        name: str,
        before: FunctionConfig | None,
        after: FunctionConfig | None,
        broken_before: ConfigProblem | None,
        broken_after: ConfigProblem | None,
        changed: set[Path],
    ) -> FunctionReloaded | None:
        """Apply the batch to one function; the event to report, or None if it is unchanged."""
        fn = after or before
        folder = fn.folder if fn else (broken_after or broken_before).folder  # type: ignore[union-attr]
        layers = fn.layers if fn else ()
        files = sorted(
            p
            for p in changed
            if p != folder and (_under(p, folder) or any(_under(p, x) for x in layers))
        )
        code = [p for p in files if p != folder / CONFIG_FILENAME]
        error_then = str(broken_before.error) if broken_before else None
        error_now = str(broken_after.error) if broken_after else None
        # a save to its code; or, while its config is broken, to any of its files
        saved_again = (after is not None and bool(code)) or (
            broken_after is not None and bool(files)
        )
        if before == after and error_then == error_now and not saved_again:
            return None
        if before is None and broken_before is None:
            change = "added"
        elif after is None and broken_after is None:
            change = "removed"
        elif before == after and broken_after is None and broken_before is None:
            change = "code"
        else:
            change = "config"
        state = self._states.get(name)
        if after is not None:
            if state is None:
                state = self._states[name] = FunctionState(after)
            state.config = after
        if state is not None:
            state.revision += 1
            self._retire_idle(state, "reload", latest_only=change != "removed")
            if after is not None:
                # at start and on appearing, the handler's module too (when watching: the CLI's
                # one-off invoke need not compile every function's code first)
                self._check_code(state, after, code, whole=before is None and self.settings.watch)
            self._concurrency_changed(state)
        problem = self.problem(name)
        if self.settings.prewarm and state is not None and after is not None and problem is None:
            self._schedule_prewarm(state)
        return FunctionReloaded(
            name,
            change,
            tuple(str(p) for p in files),
            state.revision if state else 0,
            problem,
            time.time(),
        )

    def _check_code(
        self: Engine, state: FunctionState, fn: FunctionConfig, code: list[Path], *, whole: bool
    ) -> None:
        """Compile the changed Python files; ``whole``: start over from the handler's module."""
        if not fn.runtime.startswith("python"):
            state.syntax_errors.clear()
            return
        if whole:
            state.syntax_errors.clear()
            module = handler_file(fn.folder, fn.handler)
            if module is not None:
                code = [module, *code]
        checked = [p for p in dict.fromkeys(code) if p.suffix == ".py"][:MAX_CHECKED_FILES]
        for path in checked:
            error = syntax_error(path)
            if error is None:
                state.syntax_errors.pop(path, None)
            else:
                state.syntax_errors[path] = error

    # ----------------------------------------------------------------- pre-warming

    def _schedule_prewarm(self: Engine, state: FunctionState) -> None:
        if self.store is None or self._closed:
            return  # not started: nothing to warm yet
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._prewarm(state, state.revision))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _prewarm(self: Engine, state: FunctionState, revision: int) -> None:
        """Start one ``$LATEST`` environment and park it idle: the next call is warm."""
        env = self._new_environment(state.config, LATEST, revision)
        try:
            failed = await env.start()
        except (SpawnError, LaunchError) as e:
            log.warning("pre-warm of %s failed: %s", state.config.name, e)
            return
        except asyncio.CancelledError:
            env.shutdown("exit")
            raise
        if failed is None and env.state == "idle":
            if state.revision == revision and not self._closed:
                state.idle.append(env)
                self._concurrency_changed(state)
            else:  # saved again while it started
                env.shutdown("reload")
