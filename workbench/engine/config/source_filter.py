"""Which files are a function's code: what hot reload watches and what a published version holds.

Version control, bytecode caches, the workbench's own state and editors' swap, backup and lock
files are never code: a save that only touches them reloads nothing, and they are left out of a
version's zip. Nor are bucket folders (``<root>/buckets/NAME/``, see ``buckets.py``): a file
dropped there is an S3 object, not a save. One object serves the watcher (as a watchfiles
filter) and the snapshot walk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from .function import CONFIG_FILENAME
from .triggers.s3 import BUCKETS_DIR

IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".workbench",
        ".venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".tox",
        ".idea",
        ".vscode",
        ".aws-sam",
    }
)
# Bytecode; vim (.swp/.swo/.swx, its 4913 write probe), backups (~), emacs (.#lock, #autosave#),
# JetBrains safe-write temporaries, GNOME's .goutputstream-*, macOS's .DS_Store, flycheck, GNU
# `sed -i`'s sedXXXXXX, and the workbench's own temporary when it rewrites a function.toml
# (config_writer.py).
IGNORED_FILES = re.compile(
    r"\.py[co]$|\.sw[a-px]$|~$|^\.#|^#.*#$|^4913$|\.___jb_\w+___$|^\.goutputstream-|^\.DS_Store$"
    r"|^flycheck_|^\.function\.toml-|^sed[A-Za-z0-9]{6}$"
)


class SourceFilter:
    """``filter(change, path)`` is True for a path that is code (watchfiles' filter protocol).

    ``ignore_paths``: folders ignored whatever their name (the workbench's state folder when it
    was put inside a root with ``--state-dir``).
    """

    def __init__(self, ignore_paths: Iterable[Path] = ()) -> None:
        self.ignore_paths = tuple(str(Path(p).resolve()) for p in ignore_paths)

    def __call__(self, change: object, path: str) -> bool:
        return not self.ignored(path)

    def ignored(self, path: str | Path) -> bool:
        """True for a path under an ignored folder (anywhere on it) or an ignored file name."""
        text = os.fspath(path)
        for folder in self.ignore_paths:
            if text == folder or text.startswith(folder + os.sep):
                return True
        parts = text.split(os.sep)
        if IGNORED_FILES.search(parts[-1]):
            return True
        if parts[-1] in IGNORED_DIRS or any(
            part in IGNORED_DIRS and not _sam_build(parts, index)
            for index, part in enumerate(parts[:-1])
        ):
            return True
        return BUCKETS_DIR in parts and _in_bucket_folder(parts)

    def ignored_name(self, name: str, is_dir: bool) -> bool:
        """For a walk inside a function folder: skip this entry?"""
        return name in IGNORED_DIRS if is_dir else bool(IGNORED_FILES.search(name))


def _sam_build(parts: list[str], index: int) -> bool:
    """``.aws-sam/build/``: the template and code ``sam build`` made, which the workbench runs
    when it is there (config/templates/); the rest of ``.aws-sam`` (its caches) is never code."""
    return parts[index] == ".aws-sam" and index + 1 < len(parts) - 1 and parts[index + 1] == "build"


def _in_bucket_folder(parts: list[str]) -> bool:
    """Is the path (split on os.sep) a ``buckets`` folder, or under one, outside any function?

    A function's own ``buckets/`` subfolder is its code; the one beside the functions holds the
    bucket folders. Which it is depends on whether a ``function.toml`` sits in the folder that
    holds it or above (a few stats, only for paths with a ``buckets`` part).
    """
    for index, part in enumerate(parts):
        if part != BUCKETS_DIR or index == 0:
            continue
        holder = os.sep.join(parts[:index]) or os.sep
        if not _inside_function(holder):
            return True
    return False


def _inside_function(folder: str) -> bool:
    while True:
        if os.path.isfile(os.path.join(folder, CONFIG_FILENAME)):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent
