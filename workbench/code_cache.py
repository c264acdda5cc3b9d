"""The code ``dataclasses`` writes for each class, compiled once and kept beside the bytecode.

Python 3.11's ``dataclasses`` writes every class's methods (``__init__``, ``__repr__``,
``__eq__``, a frozen class's ``__setattr__`` and ``__delattr__``, ``__hash__``) as source text
and compiles each text on its own with ``exec``: ~570 compiles when ``serve`` starts (the
workbench's ~110 classes, aiohttp's, Textual's in the TUI), ~40 ms of a ~280 ms start. A class's
texts are the same at every start, so a compiled text is kept: ``install`` gives the
``dataclasses`` module an ``exec`` of its own (a module global is found before the builtin of
that name) that compiles a text only when it has not been seen, and keeps the code objects in a
file as Python keeps bytecode (``marshal``, under the interpreter's magic number, in
``__pycache__`` or under ``sys.pycache_prefix``). What runs is what the text compiles to: a code
object is looked up by its whole text, compiled with the flags ``dataclasses`` itself would use
(``dont_inherit``: no ``__future__`` of this module's), and run in the namespaces ``dataclasses``
passes. A missing, foreign or damaged file is one the start does without (and rewrites); the
file is written, whole and atomically, when a long-running command's imports are done and when
the process ends, if it compiled something new; not at all where bytecode is not written
(``sys.dont_write_bytecode``).

Only the ``workbench`` command installs it (``__main__.py``), first thing: importing the
workbench as a library leaves ``dataclasses`` alone. ``WORKBENCH_CODE_CACHE=0`` leaves it
alone too (as ``=off``); any other value is the file to use.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib.util
import sys
from types import CodeType
from typing import Any

from . import kept_file

CACHE_VAR = "WORKBENCH_CODE_CACHE"  # "0" (or "off"), or the file to use instead of the default
MAX_ENTRIES = 5000  # more than any start makes: a file past it is started over, not grown
_HEADER = importlib.util.MAGIC_NUMBER  # a file of another interpreter's bytecode is not read

_codes: dict[str, CodeType] = {}
_path: str | None = None
_compiled = 0  # texts compiled by this process (not found in the file)
_unsaved = False  # some of them are not in the file yet


def install() -> None:
    """From now on, ``dataclasses`` compiles each text once across starts; idempotent. (The
    file: ``__pycache__/code_cache.<tag>.dataclasses``.)"""
    global _path
    if _path is not None or (path := kept_file.where(CACHE_VAR, __file__, ".dataclasses")) is None:
        return
    _path = path
    _codes.update(_load(_path))
    setattr(dataclasses, "exec", _exec)  # noqa: B010 - (a module global, found before the builtin)
    atexit.register(save)


def stats() -> tuple[int, int]:
    """(texts known, texts this process compiled)."""
    return len(_codes), _compiled


def _load(path: str) -> dict[str, CodeType]:
    codes = kept_file.load(path, _HEADER, MAX_ENTRIES)
    return {k: v for k, v in codes.items() if isinstance(k, str) and isinstance(v, CodeType)}


def _exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    global _compiled, _unsaved
    if globals is None:  # (the builtin's defaults: its caller's namespaces, not this frame's)
        caller = sys._getframe(1)
        globals = caller.f_globals
        locals = caller.f_locals if locals is None else locals
    if isinstance(source, str):
        code = _codes.get(source)
        if code is None:
            code = _codes[source] = compile(source, "<string>", "exec", dont_inherit=True)
            _compiled += 1
            _unsaved = True
        source = code
    exec(source, globals, locals)


def save() -> None:
    """Write the file if this process compiled something new since it was last written (and
    bytecode may be written): when a long-running command's imports are done
    (``cli/start_gc.py``: a TUI killed later has still kept its start's), and at exit."""
    global _unsaved
    if _path is not None and _unsaved:
        _unsaved = False
        kept_file.save(_path, _HEADER, _codes)
