"""Textual's parsed CSS, kept across starts beside the bytecode.

At every start Textual tokenizes and parses the CSS of each widget class on the screen
(``DEFAULT_CSS``) and the app's own: ~35 ms of the TUI's ~450 ms first frame, for text that is
the same at every start. ``install`` wraps ``Stylesheet._parse_rules`` (the one place Textual
turns a CSS text into rules; Textual is pinned exactly) so that a text parsed once is kept: its
rules, pickled, in a file beside this module's bytecode (``__pycache__``, or under
``sys.pycache_prefix``), read back at the next start. An entry is keyed by everything the parse
reads: the text, where it came from, its defaults flag, tie breaker and scope, and the theme's
variables (substituted as it is parsed); each use unpickles its own copy, as each parse made new
rules. Rules with errors are never kept (Textual reports them as before). The file names
Textual's and Python's versions: another install's is not read. A missing, foreign or damaged
file is one the start does without (and rewrites); it is written, whole and atomically, once the
first frame is drawn and when the TUI ends, if something was parsed; not at all where bytecode
is not written (``sys.dont_write_bytecode``). Like bytecode, it is only as trusted as the
install it sits in (unpickling runs what the file says).

The TUI command installs it (``cli/tui.py``); ``WORKBENCH_CSS_CACHE=0`` (or ``off``) leaves
Textual alone, any other value is the file to use.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import pickle
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from textual.css.stylesheet import Stylesheet

from .. import kept_file

CACHE_VAR = "WORKBENCH_CSS_CACHE"  # "0" (or "off"), or the file to use instead of the default
MAX_ENTRIES = 2000  # more than any start parses: a file past it is started over, not grown
TEXTUAL = version("textual")
_HEADER = f"textual {TEXTUAL}\n".encode() + importlib.util.MAGIC_NUMBER

_kept: dict[tuple[Any, ...], bytes] = {}  # key -> its rules, pickled
_path: str | None = None
_original: Callable[..., Any] | None = None
_parsed = 0  # texts this process parsed (not found in the file)
_unsaved = False


def install() -> None:
    """From now on, Textual parses each CSS text once across starts; idempotent. (The file:
    ``__pycache__/css_cache.<tag>.textual-<version>``.)"""
    global _path, _original
    if _path is not None:
        return
    if (path := kept_file.where(CACHE_VAR, __file__, f".textual-{TEXTUAL}")) is None:
        return
    _path = path
    _kept.update(_load(_path))
    _original = Stylesheet._parse_rules
    Stylesheet._parse_rules = _parse_rules  # type: ignore[method-assign]
    atexit.register(save)


def stats() -> tuple[int, int]:
    """(texts known, texts this process parsed)."""
    return len(_kept), _parsed


def _load(path: str) -> dict[tuple[Any, ...], bytes]:
    entries = kept_file.load(path, _HEADER, MAX_ENTRIES)
    return {k: v for k, v in entries.items() if isinstance(k, tuple) and isinstance(v, bytes)}


_last_variables: tuple[object, str] = (None, "")  # (a stylesheet's variables, their digest)


def _variables_key(stylesheet: Stylesheet) -> str:
    """A digest of the theme's variables: the same dict for every stylesheet of a theme
    (Textual replaces it, never edits it, when the theme changes), so digested once."""
    global _last_variables
    variables = stylesheet._variables
    if _last_variables[0] is not variables:
        text = repr(sorted(variables.items())).encode()
        _last_variables = (variables, hashlib.blake2b(text, digest_size=16).hexdigest())
    return _last_variables[1]


def _parse_rules(
    self: Stylesheet,
    css: str,
    read_from: Any,
    is_default_rules: bool = False,
    tie_breaker: int = 0,
    scope: str = "",
) -> Any:
    global _parsed, _unsaved
    assert _original is not None
    # the stylesheet's own cache first, as Textual's method does (a start parses its sources
    # again at each new widget class: ~25 times, the same texts)
    mine = (css, read_from, is_default_rules, tie_breaker, scope)
    rules = self._parse_cache.get(mine)
    if rules is not None:
        return rules
    key = (css, tuple(read_from), is_default_rules, tie_breaker, scope, _variables_key(self))
    kept = _kept.get(key)
    if kept is not None:
        try:
            rules = pickle.loads(kept)
        except Exception:  # noqa: BLE001 - a damaged entry: parsed again, and replaced
            del _kept[key]
        else:
            self._parse_cache[mine] = rules
            return rules
    rules = _original(self, css, read_from, is_default_rules, tie_breaker, scope)
    _parsed += 1
    if not any(rule.errors for rule in rules):
        try:
            _kept[key] = pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL)
            _unsaved = True
        except Exception:  # noqa: BLE001 - (not picklable: parsed at each start, as before)
            pass
    return rules


def save() -> None:
    """Write the file if this process parsed something new since it was last written (and
    bytecode may be written): once the TUI's first frame is drawn, and at exit."""
    global _unsaved
    if _path is not None and _unsaved:
        _unsaved = False
        kept_file.save(_path, _HEADER, _kept)
