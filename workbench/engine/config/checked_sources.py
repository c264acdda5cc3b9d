"""The bytes of each source file as hot reload last checked it: what a cold start imports.

A save is not atomic for every editor or tool (truncate, write half, write the rest). A cold
start that imported the live file between two of those writes ran a half-written module
(``Runtime.HandlerNotFound``, ``Runtime.UserCodeSyntaxError``) that the engine had never seen.
So the engine keeps the very bytes it compiled for each checked file, content-addressed and
read-only, and tells our Python runtime to import those instead of the live file (under the
live file's own name, so tracebacks, ``__file__`` and debuggers are unchanged). Files the engine
has not checked are imported as they are.

The copies live in the engine's own folder (``runtime/tmp_dirs.py``), which goes with it, even
when it is killed (the next engine sweeps it); what is checked before the engine starts is held
in memory until then.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class CheckedSources:
    """Checked copies, one per distinct content (``<sha256>.py``, read-only), by digest."""

    def __init__(self) -> None:
        self.folder: Path | None = None  # bound when the engine starts
        self._pending: dict[str, bytes] = {}  # checked before that

    def keep(self, source: bytes) -> str:
        """Store ``source`` (once per content); its digest (``path`` gives its copy's path)."""
        digest = hashlib.sha256(source).hexdigest()
        if self.folder is None:
            self._pending[digest] = source
        else:
            self._write(digest, source)
        return digest

    def bind(self, folder: Path) -> None:
        """From now on the copies are files in ``folder`` (the engine's own, while it runs)."""
        self.folder = folder
        pending, self._pending = self._pending, {}
        for digest, source in pending.items():
            self._write(digest, source)

    def path(self, digest: str) -> Path:
        assert self.folder is not None, "the engine is not running"
        return self.folder / f"{digest}.py"

    def _write(self, digest: str, source: bytes) -> None:
        path = self.path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(source)
        partial.chmod(0o444)
        os.replace(partial, path)  # atomic: a reader sees no copy or a whole one
