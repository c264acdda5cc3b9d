"""Hot reload's eyes: watchfiles over every root, one debounced batch of changes at a time.

watchfiles' Rust core groups changes until a quiet window (``step_ms``, 50 ms) passes, or at
most ``debounce_ms`` into a burst, so an editor's write-rename-chmod save arrives as one batch.
It runs on a thread of its own; each batch, with non-code paths filtered out, is handed to the
engine on its event loop. A change in the set of folders to watch (a layer outside the roots
appeared) restarts the notifier on the new set.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from .source_filter import SourceFilter

log = logging.getLogger("workbench.watcher")

STEP_MS = 50  # the quiet window that ends a batch
DEBOUNCE_MS = 1600  # a burst is cut into batches at most this long
RETRY_S = 1.0  # after the notifier failed (a root vanished), try again this much later


def rust_notify() -> type:
    """watchfiles' Rust notifier, without the package's ``__init__``.

    ``import watchfiles`` also imports its process runner and with it ``multiprocessing``:
    ~30 ms of a start that waits for the watcher to be ready, for a class this module never uses.
    The extension module is loaded from the package's folder on its own (its documented core,
    ``watchfiles._rust_notify``); if that fails, the package is imported as usual.
    """
    name = "watchfiles._rust_notify"
    module = sys.modules.get(name)
    if module is None:
        try:
            package = importlib.util.find_spec("watchfiles")  # found, not run
            assert package is not None and package.submodule_search_locations
            folder = Path(next(iter(package.submodule_search_locations)))
            path = next(folder.glob("_rust_notify*.so"))
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[name] = module
        except (ImportError, AssertionError, StopIteration, OSError):
            module = importlib.import_module(name)
    return module.RustNotify


class Watcher:
    """Calls ``deliver(paths)`` on ``loop`` for every batch of changed code paths."""

    def __init__(
        self,
        paths: list[Path],
        deliver: Callable[[set[Path]], object],
        *,
        loop: asyncio.AbstractEventLoop,
        source_filter: SourceFilter,
        step_ms: int = STEP_MS,
        debounce_ms: int = DEBOUNCE_MS,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.deliver = deliver
        self.loop = loop
        self.source_filter = source_filter
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self.on_error = on_error
        self.ready = threading.Event()  # set once the current paths are being watched
        self._stop = threading.Event()  # ends the current watch call (close, or new paths)
        self._closing = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="workbench-watcher", daemon=True)
        self._thread.start()

    def watch(self, paths: list[Path]) -> None:
        """Follow ``paths`` from now on (restarts the notifier if they differ)."""
        if sorted(paths) != sorted(self.paths):
            self.paths = list(paths)
            self.ready.clear()
            self._stop.set()

    def close(self, timeout: float = 2.0) -> None:
        self._closing = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # ----------------------------------------------------------------- the thread

    def _run(self) -> None:
        RustNotify = rust_notify()  # noqa: N806 - the class, under its own name

        force_polling = "WATCHFILES_FORCE_POLLING" in os.environ
        while not self._closing:
            self._stop.clear()
            paths = [str(p) for p in self.paths if p.exists()]
            try:
                notify = RustNotify(paths, False, force_polling, 300, True, True)
            except Exception as e:  # noqa: BLE001 - reported, then retried
                self._report(f"cannot watch {', '.join(paths)}: {e}")
                self._stop.wait(RETRY_S)
                continue
            self.ready.set()
            with notify:
                while not self._stop.is_set():
                    try:
                        result = notify.watch(self.debounce_ms, self.step_ms, 0, self._stop)
                    except Exception as e:  # noqa: BLE001
                        self._report(f"watching stopped: {e}")
                        self._stop.wait(RETRY_S)
                        break
                    if isinstance(result, set):
                        self._hand_over(result)

    def _hand_over(self, raw: set[tuple[int, str]]) -> None:
        changed = {Path(path) for _, path in raw if not self.source_filter.ignored(path)}
        if changed and not self._closing:
            try:
                self.loop.call_soon_threadsafe(self.deliver, changed)
            except RuntimeError:  # the loop closed under us
                pass

    def _report(self, message: str) -> None:
        log.warning("%s", message)
        if self.on_error is not None and not self._closing:
            try:
                self.loop.call_soon_threadsafe(self.on_error, message)
            except RuntimeError:
                pass
