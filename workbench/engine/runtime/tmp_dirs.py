"""Each engine's own folder under the tmp root, and the removal of dead engines' folders.

Environments' private ``TMPDIR``s live in ``<tmp root>/engine-<pid>-<random>/``. The engine holds
an flock on that folder's ``.lock`` for as long as it lives; the kernel lets go of it however the
engine ends, ``kill -9`` included. At start, an engine removes every folder whose lock nobody
holds — what killed engines left behind (a busy handler's TMPDIR can hold thousands of files) —
and never one whose engine still runs (serve beside the TUI).

A folder is set up under a ``.new-`` name and renamed to ``engine-…`` only once its lock is
held, so a sweep never mistakes a folder being set up for an abandoned one.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .tmp_images import unmount_under

log = logging.getLogger("workbench.tmp")

PREFIX = "engine-"
PENDING = ".new-"
LOCK = ".lock"
PENDING_STALE_S = 600.0  # a folder still being set up after this long was abandoned mid-way
# A TMPDIR made by an engine from before engine folders: ``<function>-<env id[:8]>-<mkdtemp>``.
_LEGACY = re.compile(r"[A-Za-z0-9_-]+-[0-9a-f]{8}-[a-z0-9_]{8}")


class EngineTmp:
    """This engine's folder (``path``), held until ``close``; dead engines' are swept meanwhile.

    The sweep runs in a thread (``sweeper``): removing a large leftover never delays a start.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        pending = Path(tempfile.mkdtemp(prefix=f"{PENDING}{os.getpid()}-", dir=root))
        self._fd = os.open(pending / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.path = root / (PREFIX + pending.name[len(PENDING) :])
        os.rename(pending, self.path)
        self.removed: list[Path] = []
        self.sweeper = threading.Thread(target=self._sweep, name="workbench-tmp-sweep", daemon=True)
        self.sweeper.start()

    def _sweep(self) -> None:
        try:
            self.removed.extend(sweep(self.root, keep=self.path))
        except Exception:  # noqa: BLE001 - leftovers stay; nothing else depends on it
            log.exception("could not sweep %s", self.root)

    def close(self) -> None:
        """Remove the folder (and whatever environments left in it), then let go of the lock."""
        if self._fd < 0:
            return
        _remove(self.path)
        os.close(self._fd)
        self._fd = -1


def sweep(root: Path, keep: Path | None = None) -> list[Path]:
    """Remove the folders under ``root`` that no live engine holds; the ones removed."""
    removed: list[Path] = []
    legacy: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return removed
    for entry in entries:
        path = Path(entry.path)
        if path == keep or not entry.is_dir(follow_symlinks=False):
            continue
        if entry.name.startswith(PREFIX):
            if _remove_if_unlocked(path):
                removed.append(path)
        elif entry.name.startswith(PENDING):
            try:
                age = time.time() - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue  # another engine finished setting it up (renamed it) meanwhile
            if age > PENDING_STALE_S:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        elif _LEGACY.fullmatch(entry.name):
            legacy.append(path)
    if legacy:
        in_use = _tmpdirs_in_use()
        for path in legacy:
            if str(path) not in in_use:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    if removed:
        log.info("removed %d tmp folders of workbench engines that are gone", len(removed))
    return removed


def _remove_if_unlocked(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        # renamed to engine-… only once locked: its lock file was removed, its engine is gone
        # (or closing) — and what it still had mounted stays mounted until unmounted here: a
        # plain rmtree left such folders, each with an image mounted, for good
        _remove(folder)
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False  # a live engine's
        raise
    try:
        _remove(folder)  # held meanwhile: two sweeps do not race
    finally:
        os.close(fd)
    return True


def _remove(folder: Path) -> None:
    """Remove an engine's folder, unmounting its environments' TMPDIR images first (a killed
    engine leaves them mounted: ``tmp_images.py``)."""
    unmount_under(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _tmpdirs_in_use() -> set[str]:
    """The TMPDIRs of this user's live processes (an older workbench's environments)."""
    import psutil  # (here, not at the engine's start: ~8 ms of it)

    found: set[str] = set()
    uid = os.getuid()
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] is None or proc.info["uids"].real != uid:
                continue
            tmpdir = proc.environ().get("TMPDIR")
        except (psutil.Error, OSError):
            continue
        if tmpdir:
            found.add(tmpdir)
    return found
