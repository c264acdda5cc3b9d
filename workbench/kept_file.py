"""A dict kept between starts in one file beside the bytecode, as Python keeps bytecode: the
caches of the dataclasses' compiled code (``code_cache.py``) and of Textual's parsed CSS
(``tui/css_cache.py``).

The file is a header (whose interpreter, whose library: a file of another is not read) and the
dict, ``marshal``\\ed. A missing, foreign or damaged file reads as empty; one is written whole
and atomically (a temporary file of this process's, renamed over it), not at all where bytecode
is not written (``sys.dont_write_bytecode``), and a place that cannot take it costs nothing.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
from typing import Any


def where(var: str, module_file: str, suffix: str) -> str | None:
    """The file a cache named by the variable ``var`` keeps: None where ``var`` is ``0`` (or
    ``off``: the cache is not used), the file it names, else beside the bytecode of
    ``module_file`` (``__pycache__/<module>.<tag><suffix>``, or under ``sys.pycache_prefix``)."""
    given = os.environ.get(var, "").strip()
    if given.lower() in ("0", "off"):
        return None
    return given or importlib.util.cache_from_source(module_file).removesuffix(".pyc") + suffix


def load(path: str, header: bytes, max_entries: int) -> dict[Any, Any]:
    """The dict kept at ``path`` under ``header`` (empty if there is none to read, or it
    holds more than ``max_entries``: started over, not grown)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    if not data.startswith(header):
        return {}
    try:
        entries = marshal.loads(data[len(header) :])
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(entries, dict) or len(entries) > max_entries:
        return {}
    return entries


def save(path: str, header: bytes, entries: dict[Any, Any]) -> None:
    """Keep ``entries`` at ``path`` under ``header``, unless bytecode is not written."""
    if sys.dont_write_bytecode:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(header + marshal.dumps(entries))
        os.replace(tmp, path)
    except (OSError, ValueError):  # (a read-only install: the next start does as this one did)
        try:
            os.unlink(tmp)
        except OSError:
            pass
