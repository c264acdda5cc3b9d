"""What hot reload needs to know about a Python function's source files.

A save is checked here before any invocation: a file that no longer compiles is a
``CodeProblem`` (file, line, message) shown at once. The runtime would report the same save as
``Runtime.UserCodeSyntaxError`` at the next cold start; this only makes it visible sooner.

Bytecode of the workbench's Python runtimes lives in one cache (``-X pycache_prefix``), and
CPython trusts a cached ``.pyc`` while the source's mtime (whole seconds) and size match. Two
saves within a second that keep the size (``x = 1`` → ``x = 2``) would then run the old code,
so a saved file's cached bytecode is dropped with ``forget_bytecode``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

MAX_CHECKED_BYTES = 4 * 1024 * 1024  # larger files (generated, vendored) are not compiled here


def check_source(path: Path) -> tuple[bytes | None, tuple[int | None, str] | None]:
    """The bytes of ``path`` as read once here (None: gone, unreadable or too large to check),
    and (line, message) if they do not compile. The caller keeps those very bytes: they are
    what the next cold start runs (``reload/checked_sources.py``), whatever the file holds by
    then."""
    try:
        if path.stat().st_size > MAX_CHECKED_BYTES:
            return None, None
        source = path.read_bytes()
    except OSError:
        return None, None
    return source, syntax_error_in(source, path)


def syntax_error_in(source: bytes, path: Path) -> tuple[int | None, str] | None:
    """(line, message) if ``source`` (read from ``path``) does not compile; None if it does."""
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as e:  # IndentationError and TabError too
        detail = f" ({e.text.strip()})" if e.text and e.text.strip() else ""
        return e.lineno, f"{type(e).__name__}: {e.msg}{detail}"
    except ValueError as e:  # e.g. source with NUL bytes
        return None, f"SyntaxError: {e}"
    return None


# syntax_error_in, for another interpreter (python3.8+): source on stdin, file name in argv
_COMPILE = (
    "import sys\n"
    "try:\n"
    "    compile(sys.stdin.buffer.read(), sys.argv[1], 'exec', dont_inherit=True)\n"
    "except SyntaxError as e:\n"
    "    t = (e.text or '').strip()\n"
    "    print(e.lineno or 0)\n"
    "    print('%s: %s%s' % (type(e).__name__, e.msg, ' (%s)' % t if t else ''))\n"
    "except ValueError as e:\n"
    "    print(0)\n"
    "    print('SyntaxError: %s' % e)\n"
)


def syntax_error_on(python: str, source: bytes, path: Path) -> tuple[int | None, str] | None:
    """``syntax_error_in`` as the interpreter ``python`` sees it (a newer Python than the
    engine's accepts syntax the engine's rejects). If it cannot be asked, the engine's verdict."""
    try:
        done = subprocess.run(
            [python, "-I", "-S", "-c", _COMPILE, str(path)],
            input=source,
            capture_output=True,
            timeout=30,
            check=True,
        )
        line, _, message = done.stdout.decode("utf-8", "replace").partition("\n")
    except (OSError, subprocess.SubprocessError):
        return syntax_error_in(source, path)
    if not line.strip():
        return None
    return (int(line) or None), message.strip()


def handler_file(folder: Path, handler: str) -> Path | None:
    """The module file a Python handler string names (``app.handler`` → ``app.py``)."""
    module, _, _ = handler.rpartition(".")
    if not module:
        return None
    base = folder.joinpath(*module.replace("/", ".").split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def forget_bytecode(pycache_dir: Path, source: Path) -> None:
    """Delete the cached bytecode of ``source`` (as ``importlib`` names it under the prefix)."""
    head = str(source.parent.absolute()).lstrip(os.sep)
    cached = Path(pycache_dir) / head
    try:
        entries = list(cached.glob(f"{source.stem}.*.pyc"))
    except OSError:
        return
    for pyc in entries:
        try:
            pyc.unlink()
        except OSError:
            pass
