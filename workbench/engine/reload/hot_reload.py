"""Hot reload: a save on disk becomes the function's new ``$LATEST`` (DESIGN §6).

Each debounced batch of changed paths (from ``watcher.py``, or handed to ``Engine.reload``
directly) is applied at once: functions are rediscovered, the changed ones get a new revision,
their idle ``$LATEST`` environments shut down (reason ``reload``), in-flight invocations finish
on the old code and then retire, and the next invocation starts the new code. Changed Python
files are compiled on the spot, so a save that breaks the code is reported (a
``FunctionReloaded`` event with its ``problem``) without waiting for an invoke. Published
versions never change here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from ..config.api_functions import ApiFunctions
from ..config.catalog import Catalog
from ..config.discovery import ConfigProblem, Discovery, discover
from ..config.function import CONFIG_FILENAME, FunctionConfig
from ..config.python_code import check_source, forget_bytecode, handler_file, syntax_error_on
from ..config.settings import EngineSettings
from ..config.source_filter import SourceFilter
from ..config.watcher import Watcher
from ..config.writers import open_for_writing
from ..invoke.pool import EnvironmentPool
from ..model.events import EventBus, FunctionReloaded, ReloadChange
from .auto_publish import AutoPublish

log = logging.getLogger("workbench.reload")

MAX_CHECKED_FILES = 100  # per batch: a vendored-package install is not compiled file by file
RECHECK_S = 0.05  # a file open for writing is checked again after this long


def _under(path: Path, folder: Path) -> bool:
    text, base = str(path), str(folder)
    return text == base or text.startswith(base + os.sep)


class HotReload:
    """Applies saves (see the module docstring). ``on_change`` runs after a batch that changed
    a function (the event sources re-read their triggers)."""

    def __init__(
        self,
        *,
        roots: list[Path],
        settings: EngineSettings,
        catalog: Catalog,
        pool: EnvironmentPool,
        bus: EventBus,
        source_filter: SourceFilter,
        pycache_dir: Path,
        on_change: Callable[[], None],
        template_code_dir: Path | None = None,
        auto_publish: AutoPublish | None = None,
        api: ApiFunctions | None = None,
    ) -> None:
        self.roots = roots
        self.settings = settings
        self.catalog = catalog
        self.pool = pool
        self.bus = bus
        self.source_filter = source_filter
        self.pycache_dir = pycache_dir
        self.on_change = on_change
        self.template_code_dir = template_code_dir  # where template zips are extracted
        self.auto_publish = auto_publish  # template functions' AutoPublishAlias
        self.api = api  # the functions the deploy API created (config/api_functions.py)
        self._watcher: Watcher | None = None
        self.closed = False

    # ----------------------------------------------------------------- watching

    def watch_paths(self) -> list[Path]:
        """The roots, plus layer folders outside them, and templates (given with --template)
        and their functions' code folders outside them."""
        paths = list(self.roots)
        extra: list[Path] = [p.resolve().parent for p in self.settings.templates.files]
        for fn in self.catalog.functions.values():
            extra.extend(fn.layers)
            if fn.resource is not None:
                extra.extend((fn.folder, fn.config_file.parent))
        for path in extra:
            if not self.source_filter.ignored(path) and not any(_under(path, p) for p in paths):
                paths.append(path)
        return paths

    def discover(self) -> Discovery:
        """The functions under the roots and in the templates, as this engine reads them."""
        options = replace(
            self.settings.templates,
            code_dir=self.settings.templates.code_dir or self.template_code_dir,
            region=self.settings.region,
            account_id=self.settings.account_id,
        )
        return discover(
            self.roots,
            account_limit=self.settings.account_limit,
            templates=options,
            api=self.api,
        )

    def start_watching(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watcher = Watcher(
            self.watch_paths(),
            self.reload,
            loop=loop,
            source_filter=self.source_filter,
            step_ms=self.settings.reload_step_ms,
            on_error=lambda message: log.warning("hot reload: %s", message),
        )
        self._watcher.start()
        if self.auto_publish is not None:
            self.auto_publish.changed(self.catalog.functions)  # what changed while we were away

    def close(self) -> None:
        if self.auto_publish is not None:
            self.auto_publish.close()
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self.closed = True

    async def wait_watching(self, timeout: float = 5.0) -> None:
        """Until the watcher follows every root (tests, benchmarks: save only after this)."""
        if self._watcher is None:
            raise RuntimeError("hot reload is off: EngineSettings(watch=True) turns it on")
        ready = await asyncio.to_thread(self._watcher.ready.wait, timeout)
        if not ready:
            raise TimeoutError(f"the file watcher did not start within {timeout} s")

    # ----------------------------------------------------------------- applying changes

    def reload(self, changed: Iterable[Path | str]) -> list[FunctionReloaded]:
        """Apply one batch of changed paths (absolute); returns what it changed."""
        if self.closed:
            return []
        # the deploy API's store is in the (ignored) state dir, and changed only by the API
        api_home = self.api.home if self.api is not None else None
        paths = {
            Path(p)
            for p in changed
            if not self.source_filter.ignored(p)
            or (api_home is not None and _under(Path(p), api_home))
        }
        if not paths:
            return []
        try:
            found = self.discover()
        except ValueError as e:  # a root vanished: keep what is loaded
            log.warning("hot reload: %s", e)
            return []
        return self.apply(found, paths)

    def load_functions(self) -> None:
        """(Re)discover the functions under the roots; a broken one never hides the others.

        A changed ``function.toml`` retires the function's idle environments. Code changes are
        only seen by the watcher (``reload``), which knows which files changed.
        """
        found = self.discover()
        self.apply(found, set())

    def apply(self, found: Discovery, changed: set[Path]) -> list[FunctionReloaded]:
        catalog = self.catalog
        old_functions, old_problems = catalog.functions, catalog.problems
        catalog.replace(found)
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
            self.on_change()
            if self.auto_publish is not None and self._watcher is not None:
                self.auto_publish.changed(e.function for e in events if e.change != "removed")
        if self.bus.active:
            for event in events:
                self.bus.publish(event)
        return events

    def _apply_one(
        self,
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
        change: ReloadChange
        if before is None and broken_before is None:
            change = "added"
        elif after is None and broken_after is None:
            change = "removed"
        elif before == after and broken_after is None and broken_before is None:
            change = "code"
        else:
            change = "config"
        catalog = self.catalog
        # it loaded once (now, or before it broke), or its versions ran
        known = name in catalog.latest_good or bool(self.pool.environments(name))
        revision = 0
        if known:
            revision = catalog.bump(name)
            removed = change == "removed"
            self.pool.retire_idle(name, "removed" if removed else "reload", latest_only=not removed)
            if after is not None:
                # at start and on appearing, the handler's module too (when watching: the CLI's
                # one-off invoke need not compile every function's code first)
                self._check_code(name, after, code, whole=before is None and self.settings.watch)
            self.pool.changed(name)
        problem = catalog.problem(name)
        if self.settings.prewarm and after is not None and problem is None:
            self.pool.prewarm(name)
        return FunctionReloaded(
            name, change, tuple(str(p) for p in files), revision, problem, time.time()
        )

    def _check_code(self, name: str, fn: FunctionConfig, code: list[Path], *, whole: bool) -> None:
        """Compile the changed Python files and keep the bytes compiled (cold starts import
        those); ``whole``: start over from the handler's module."""
        errors = self.catalog.syntax_errors.setdefault(name, {})
        pinned = self.catalog.checked_sources.setdefault(name, {})
        if not fn.runtime.startswith("python"):
            errors.clear()
            pinned.clear()
            return
        if whole:
            errors.clear()
            pinned.clear()
            module = handler_file(fn.folder, fn.handler)
            if module is not None:
                code = [module, *code]
        # compile() here is the engine's own Python: code for a newer one may use syntax it
        # lacks (3.12's `type X = ...`), so when it fails such code the function's own Python
        # is asked (a subprocess, only then); an older one's own error, for syntax newer than
        # it, is reported at its cold start
        interpreter = self.pool.interpreters.find(fn.runtime)
        newer = (
            interpreter if interpreter and interpreter.version[:2] > sys.version_info[:2] else None
        )
        checked = [p for p in dict.fromkeys(code) if p.suffix == ".py"][:MAX_CHECKED_FILES]
        # a file some process still has open for writing is mid-save (an editor that truncates,
        # then writes): checked once it is closed, its last checked bytes running meanwhile
        writing = open_for_writing({str(p) for p in checked})
        if writing:
            self._check_again([p for p in checked if str(p) in writing])
        for path in checked:
            if str(path) in writing:
                continue
            source, error = check_source(path)
            if source is None:
                pinned.pop(str(path), None)  # gone, or too large to check: imported as it is
            else:
                pinned[str(path)] = self.catalog.checked.keep(source)
            if error is not None and source is not None and newer is not None:
                error = syntax_error_on(newer.path, source, path)
            if error is None:
                errors.pop(path, None)
            else:
                errors[path] = error

    def _check_again(self, paths: list[Path]) -> None:
        """Apply ``paths`` again shortly, as if saved again (they were being written)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a one-off load): the next save is checked
        loop.call_later(RECHECK_S, self.reload, paths)
