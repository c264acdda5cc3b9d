"""aiohttp, imported without loading the system's CA certificates on the way.

``import aiohttp`` makes its client's two default SSL contexts (``aiohttp.connector``), and each
loads the CA bundle: ~50–80 ms of a ~450 ms ``serve`` start here, with the GIL held (a second
thread cannot take it), for a client the workbench's servers never use. ``import_aiohttp``
imports it with those loads put off (``ssl.SSLContext.load_default_certs`` and
``set_default_verify_paths`` only noted), and ``load_deferred`` makes them later, into the same
contexts: aiohttp's client then verifies as it always does. The server calls it once it is
serving (``server.start_api``), off the loop.

Only while aiohttp imports are the loads put off; an SSL context another thread makes in that
moment (none does) would get its certificates with the rest, later.
"""

from __future__ import annotations

import importlib
import ssl
import sys
import threading
from collections.abc import Callable
from typing import Any

_PUT_OFF = ("load_default_certs", "set_default_verify_paths")
_lock = threading.Lock()
_deferred: list[tuple[ssl.SSLContext, str, tuple[Any, ...]]] = []


def import_aiohttp() -> None:
    """``import aiohttp.web``, the certificates' loads put off (a no-op once imported)."""
    with _lock:
        if "aiohttp.web" in sys.modules:
            return
        cls = ssl.SSLContext
        originals = {name: cls.__dict__.get(name) for name in _PUT_OFF}

        def put_off(name: str) -> Callable[..., None]:
            def later(self: ssl.SSLContext, *args: Any) -> None:
                _deferred.append((self, name, args))

            return later

        for name in _PUT_OFF:
            setattr(cls, name, put_off(name))
        try:
            importlib.import_module("aiohttp.web")
        finally:
            for name, original in originals.items():
                if original is None:  # (inherited from _ssl._SSLContext)
                    delattr(cls, name)
                else:
                    setattr(cls, name, original)


def deferred() -> int:
    """How many loads are still put off."""
    return len(_deferred)


def load_deferred() -> None:
    """Make the loads put off, into the contexts they were asked for (blocking: ~25–40 ms each,
    so from a thread)."""
    while True:
        with _lock:
            if not _deferred:
                return
            context, name, args = _deferred.pop(0)
        getattr(context, name)(*args)
