"""The bytes of each source file as hot reload last checked it: what a cold start imports.

A save is not atomic for every editor or tool (truncate, write half, write the rest). A cold
start that imported the live file between two of those writes ran a half-written module
(``Runtime.HandlerNotFound``, ``Runtime.UserCodeSyntaxError``) that the engine had never seen.
So the engine keeps the very bytes it compiled for each checked file, content-addressed and
read-only, and tells our Python runtime to import those instead of the live file (under the
live file's own name, so tracebacks, ``__file__`` and debuggers are unchanged). Files the engine
has not checked are imported as they are.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


class CheckedSources:
    """A folder of checked copies, one per distinct content (``<sha256>.py``, read-only)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keep(self, source: bytes) -> Path:
        """Store ``source`` (once per content); the path of its read-only copy."""
        path = self.folder / f"{hashlib.sha256(source).hexdigest()}.py"
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
            partial.write_bytes(source)
            partial.chmod(0o444)
            os.replace(partial, path)  # atomic: a reader sees no copy or a whole one
        return path

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
