"""Importing what a long-running command needs on a second thread, while the main thread
imports the engine.

aiohttp's import makes its two default SSL contexts (``aiohttp.connector``), loading the CA
bundle in OpenSSL with the GIL released: ~40 ms of ``serve``'s start that a second core can do
beside the engine's own imports. The main thread's ``import aiohttp`` then waits for the module
lock and finds it done (Python's per-module import locks make this safe: nothing aiohttp
imports imports the workbench back).
"""

from __future__ import annotations

import importlib
import threading

MODULES = ("aiohttp.web",)


def _import() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the main thread's own import reports it
            return


def preload() -> threading.Thread:
    """Start importing ``MODULES`` in the background; returns the thread. Not a daemon: an exit
    while it imports (a bad option, found while aiohttp loads) waits for it, where a daemon
    thread still inside a C extension's import crashed the interpreter's finalization
    (SIGSEGV, seen once the parser stopped importing aiohttp itself)."""
    thread = threading.Thread(target=_import, name="workbench-preload", daemon=False)
    thread.start()
    return thread
