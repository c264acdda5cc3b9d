"""aiohttp's server, imported without the package's ``__init__`` (and so without its client).

``import aiohttp.web`` runs ``aiohttp/__init__.py`` first, which imports the whole client: its
connector, cookie jar, tracing, and two default SSL contexts that each load the system's CA
bundle with the GIL held. The workbench's servers use none of it: ``import aiohttp.web`` took
140 ms here, the server alone 73 (fresh interpreters; serve's start: 16 ms quicker than when
only the certificates' loads were put off, as this module did before).

``import_aiohttp`` therefore puts a bare ``aiohttp`` package in ``sys.modules`` (its spec, its
``__path__`` and ``__version__``, nothing run) and imports ``aiohttp.web`` into it: the server's
modules import each other as submodules and never need the package's own names. The first
name asked of the package that the server did not bring (``aiohttp.ClientSession``,
``from aiohttp import ClientTimeout``) runs the real ``__init__`` into that same module object
(PEP 562's ``__getattr__``): the package is then exactly what ``import aiohttp`` makes, its
client verifying with the system's certificates as always. Where aiohttp was imported already,
or its server does need the package's ``__init__`` (another version), it is imported whole.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import threading
from importlib.machinery import ModuleSpec
from types import ModuleType

_lock = threading.RLock()  # (RLock: the package's __init__ may ask the package for a name)
_VERSION = re.compile(rb"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def import_aiohttp() -> None:
    """``import aiohttp.web``, the package's ``__init__`` put off (a no-op once imported)."""
    with _lock:
        if "aiohttp.web" in sys.modules:
            return
        if "aiohttp" not in sys.modules:
            try:
                _import_server_alone()
                return
            except Exception:  # noqa: BLE001 - an aiohttp whose server needs its __init__
                for name in [n for n in sys.modules if n.partition(".")[0] == "aiohttp"]:
                    del sys.modules[name]
        importlib.import_module("aiohttp.web")


def completed() -> bool:
    """Has aiohttp's ``__init__`` run (its client imported)?"""
    package = sys.modules.get("aiohttp")
    return package is not None and getattr(package, "_workbench_bare", False) is False


def _import_server_alone() -> None:
    spec = importlib.util.find_spec("aiohttp")
    if spec is None or spec.origin is None or spec.loader is None:
        raise ImportError("aiohttp is not installed")
    with open(spec.origin, "rb") as source:
        version = _VERSION.search(source.read())
    if version is None:
        raise ImportError(f"no __version__ in {spec.origin}")
    package = importlib.util.module_from_spec(spec)
    setattr(package, "__version__", version.group(1).decode())  # noqa: B010
    setattr(package, "_workbench_bare", True)  # noqa: B010
    setattr(package, "__getattr__", _completing(package, spec))  # noqa: B010 (PEP 562)
    sys.modules["aiohttp"] = package
    importlib.import_module("aiohttp.web")


def _submodules(folder: str) -> frozenset[str]:
    """The names of the modules in a package's folder (``x.py``, ``x.cpython-311-….so``, ``x/``)."""
    return frozenset(entry.name.partition(".")[0] for entry in os.scandir(folder))


def _completing(package: ModuleType, spec: ModuleSpec) -> object:
    assert spec.submodule_search_locations is not None
    submodules = frozenset().union(*map(_submodules, spec.submodule_search_locations))

    def __getattr__(name: str) -> object:
        """A name the server did not bring: the package's ``__init__`` runs, once. (Not for a
        submodule not imported yet: ``from . import hdrs`` asks the package first.)"""
        if name in submodules and package.__dict__.get("_workbench_bare"):
            raise AttributeError(name)
        with _lock:
            if package.__dict__.get("_workbench_bare"):
                delattr(package, "_workbench_bare")
                delattr(package, "__getattr__")  # (its __init__ defines its own)
                assert spec.loader is not None
                spec.loader.exec_module(package)
        try:
            return package.__dict__[name]
        except KeyError:
            hook = package.__dict__.get("__getattr__")
            if hook is not None:
                return hook(name)
            raise AttributeError(f"module 'aiohttp' has no attribute {name!r}") from None

    return __getattr__
