"""Bucket folders: files under ``<root>/buckets/NAME/`` are the objects of bucket NAME.

For every bucket an enabled ``[[triggers]] type = "s3"`` names, each root gets the folder
(created if missing, so the user sees where to drop files), watched with watchfiles. A file
created or changed is an ``ObjectCreated:Put``, one deleted (or renamed away) an
``ObjectRemoved:Delete``; its key is its path inside the folder (``sub/dir/file.txt``: S3 has no
folders, so directories are never objects). Each change is one S3 notification record, invoked
asynchronously on every function whose trigger matches it (events, prefix, suffix).

A half-written file is not an object yet: a path is reported only once it has been quiet for
``settle_s`` (no change events, size and mtime unchanged) and no process holds it open for
writing (``writers.py``); until then it is looked at again. Editors' temporaries and partial
downloads are never objects. Files already there when the watch starts are the bucket's
contents, not news: only later changes are reported.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import stat as stat_mode
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.source_filter import BUCKETS_DIR, IGNORED_FILES
from ..config.triggers import S3Trigger, numbered_triggers, triggers_of
from ..config.watcher import Watcher
from ..config.writers import open_for_writing
from ..model.events import BucketActivity
from ..shapes.s3 import DELETE, PUT, ObjectChange, s3_event

if TYPE_CHECKING:
    from .host import SourceHost

log = logging.getLogger("workbench.buckets")

SETTLE_S = 0.5  # a file must be this quiet before it is an object
TICK_S = 0.11  # how often pending paths are looked at (not in step with other 0.1 s timers)
WRITER_RECHECK_S = 0.5  # a file held open for writing is looked at again this much later
STEP_MS = 50
DEBOUNCE_MS = 1600

# Partial downloads (Firefox .part, Chrome .crdownload, Safari .download, curl/wget-style
# .partial), macOS's AppleDouble ._x and Windows' Thumbs.db, beside the editors' temporaries
# hot reload ignores too (.swp, ~, .#x, #x#, 4913, .DS_Store, …).
NOT_OBJECTS = re.compile(
    r"\.(part|crdownload|download|partial)$|^\._|^Thumbs\.db$|^desktop\.ini$", re.IGNORECASE
)


def is_object_name(name: str) -> bool:
    """May a file of this name be an object (not an editor's temporary or a partial download)?"""
    return not (NOT_OBJECTS.search(name) or IGNORED_FILES.search(name))


class _NotObjects:
    """The watcher's filter: drop temporaries before they reach the loop."""

    @staticmethod
    def ignored(path: str | Path) -> bool:
        return not is_object_name(os.path.basename(path))


@dataclass(slots=True)
class _Pending:
    """A path seen changing, waiting to settle."""

    stat: tuple[int, int] | None  # (size, mtime_ns) last seen; None: absent
    quiet_since: float  # monotonic: the last change event or stat change
    next_check: float = 0.0  # monotonic: not before (a writer still had it open)


@dataclass(slots=True)
class _Folder:
    bucket: str
    path: Path  # resolved


@dataclass
class _State:
    known: dict[Path, tuple[int, int]] = field(default_factory=dict)  # objects: (size, mtime_ns)
    pending: dict[Path, _Pending] = field(default_factory=dict)


def bucket_folders(engine: SourceHost) -> dict[Path, str]:
    """``<root>/buckets/<bucket>`` → bucket, for every bucket an enabled s3 trigger names and
    every template's bucket."""
    buckets = sorted(
        {
            t.bucket
            for fn in engine.functions.values()
            for t in triggers_of(fn, S3Trigger)
            if t.enabled
        }
        | engine.catalog.buckets  # a template's AWS::S3::Bucket, with or without a trigger
    )
    return {root / BUCKETS_DIR / b: b for root in engine.roots for b in buckets}


def configuration_id(function: str, index: int) -> str:
    """A stable name for a function's trigger, as S3's notification configuration Id."""
    return f"{function}-s3-{index + 1}"


class Buckets:
    """The bucket-folder event source (a part of ``sources.Sources``)."""

    def __init__(self, engine: SourceHost, *, settle_s: float = SETTLE_S) -> None:
        self.engine = engine
        self.settle_s = settle_s
        self.folders: dict[Path, str] = {}
        self.state = _State()
        self._watcher: Watcher | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._work = asyncio.Event()  # a path is pending: the ticker has work
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # ----------------------------------------------------------------- Source

    async def start(self) -> None:
        self.folders = self._ensure_folders(bucket_folders(self.engine))
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        if self.folders:
            self._follow()
            await self._baseline(list(self.folders))

    def refresh(self) -> None:
        """The functions changed: follow the bucket folders their triggers name now."""
        if self._closed:
            return
        wanted = self._ensure_folders(bucket_folders(self.engine))
        if set(wanted) == set(self.folders):
            return
        added = [p for p in wanted if p not in self.folders]
        self.folders = wanted
        for table in (self.state.known, self.state.pending):
            for path in [p for p in table if self._folder_of(p) is None]:
                del table[path]  # a bucket no function follows any more
        self._follow()
        task = asyncio.get_running_loop().create_task(self._baseline(added))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _follow(self) -> None:
        """Watch the current folders (the notifier thread starts with the first bucket)."""
        if self._watcher is not None:
            self._watcher.watch(list(self.folders))
            return
        self._watcher = Watcher(
            list(self.folders),
            self._changed,
            loop=asyncio.get_running_loop(),
            source_filter=_NotObjects(),  # type: ignore[arg-type]
            step_ms=STEP_MS,
            debounce_ms=DEBOUNCE_MS,
            on_error=lambda message: log.warning("bucket folders: %s", message),
        )
        self._watcher.start()

    async def close(self) -> None:
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.close)

    async def wait_watching(self, timeout: float = 10.0) -> None:
        """Until the current folders are watched and their contents taken in (tests: drop
        files only after this; a file dropped before counts as already there)."""
        await self._notifier_ready(timeout)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def _notifier_ready(self, timeout: float = 10.0) -> None:
        if self._watcher is None:
            return  # no bucket to follow
        if not await asyncio.to_thread(self._watcher.ready.wait, timeout):
            raise TimeoutError(f"the bucket watcher did not start within {timeout} s")

    # ----------------------------------------------------------------- folders

    @staticmethod
    def _ensure_folders(folders: dict[Path, str]) -> dict[Path, str]:
        made: dict[Path, str] = {}
        for path, bucket in folders.items():
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                log.warning("bucket %s: cannot create %s: %s", bucket, path, e.strerror)
                continue
            made[path.resolve()] = bucket
        return made

    def _folder_of(self, path: Path) -> _Folder | None:
        for folder, bucket in self.folders.items():
            if path.is_relative_to(folder) and path != folder:
                return _Folder(bucket, folder)
        return None

    async def _baseline(self, folders: list[Path]) -> None:
        """What is already in the folders is the buckets' content, not a change."""
        try:
            await self._notifier_ready()
        except TimeoutError as e:
            log.warning("%s", e)
        for folder in folders:
            for path in _files_under(folder):
                stat = _stat(path)
                if stat is not None:
                    self.state.known.setdefault(path, stat)

    # ----------------------------------------------------------------- changes

    def _changed(self, paths: set[Path]) -> None:
        """A batch from the watcher (on the loop): every path in it waits to settle."""
        if self._closed:
            return
        now = time.monotonic()
        for path in paths:
            if self._folder_of(path) is None:
                continue
            if path.is_dir():  # moved in whole, or created: its files, if any
                for inner in _files_under(path):
                    self._touch(inner, now)
            elif not path.exists():  # gone: the objects under it too, if it was a folder
                self._touch(path, now)
                prefix = str(path) + os.sep
                for known in [k for k in self.state.known if str(k).startswith(prefix)]:
                    self._touch(known, now)
            else:
                self._touch(path, now)

    def _touch(self, path: Path, now: float) -> None:
        self._work.set()
        entry = self.state.pending.get(path)
        if entry is None:
            self.state.pending[path] = _Pending(_stat(path), now)
        else:
            entry.quiet_since = now

    async def _tick(self) -> None:
        while not self._closed:
            if not self.state.pending:  # nothing to settle: sleep until a change (idle is idle)
                self._work.clear()
                await self._work.wait()
            await asyncio.sleep(TICK_S)
            try:
                await self._settle()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad file must not stop the bucket
                log.exception("bucket folders: settling changes failed")

    async def _settle(self) -> None:
        """Report the pending paths that are complete; look at the others again later."""
        if not self.state.pending:
            return
        now = time.monotonic()
        ready: list[Path] = []
        for path, entry in list(self.state.pending.items()):
            stat = _stat(path)
            if stat != entry.stat:
                entry.stat, entry.quiet_since = stat, now
                continue
            if now - entry.quiet_since < self.settle_s or now < entry.next_check:
                continue
            if stat is None:
                del self.state.pending[path]
                if self.state.known.pop(path, None) is not None:
                    self._report(path, DELETE)
            elif stat == self.state.known.get(path):  # touched, but not changed
                del self.state.pending[path]
            else:
                ready.append(path)
        if not ready:
            return
        busy = await asyncio.to_thread(open_for_writing, {os.path.realpath(p) for p in ready})
        for path in ready:
            waiting = self.state.pending.get(path)
            if waiting is None:
                continue
            if os.path.realpath(path) in busy:
                waiting.next_check = time.monotonic() + WRITER_RECHECK_S
                continue
            digest = await asyncio.to_thread(_md5, path)
            after = _stat(path)
            if digest is None or after is None or after != waiting.stat:  # changed as it was read
                if after is not None:
                    waiting.stat, waiting.quiet_since = after, time.monotonic()
                continue
            del self.state.pending[path]
            self.state.known[path] = after
            self._report(path, PUT, size=after[0], etag=digest)

    # ----------------------------------------------------------------- reporting

    def _report(
        self, path: Path, event_name: str, *, size: int | None = None, etag: str | None = None
    ) -> None:
        folder = self._folder_of(path)
        if folder is None or self._closed:
            return
        key = path.relative_to(folder.path).as_posix()
        change = ObjectChange.now(folder.bucket, key, event_name, size, etag)
        invoked = self.deliver(change)
        engine = self.engine
        if engine.bus.wants(BucketActivity):
            engine.bus.publish(
                BucketActivity(folder.bucket, key, event_name, size, tuple(invoked), change.at)
            )

    def deliver(self, change: ObjectChange) -> list[str]:
        """Invoke every function whose trigger matches the change; the names invoked."""
        engine = self.engine
        invoked = []
        for name, fn in list(engine.functions.items()):
            for index, trigger in numbered_triggers(fn, S3Trigger):
                if not (
                    trigger.enabled
                    and trigger.bucket == change.bucket
                    and trigger.matches(change.event_name, change.key)
                ):
                    continue
                event = s3_event(change, configuration_id(name, index), engine.settings.region)
                try:
                    engine.invoke_event(name, _json(event), trigger=f"s3:{change.bucket}")
                except Exception as e:  # noqa: BLE001 - the other functions still get it
                    log.warning(
                        "s3:%s %s: cannot invoke %s: %s", change.bucket, change.key, name, e
                    )
                else:
                    invoked.append(name)
                break  # one notification per function, however many of its triggers match
        return invoked


# --------------------------------------------------------------------------- files


def _json(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat_mode.S_ISREG(st.st_mode):
        return None  # a folder is not an object
    return st.st_size, st.st_mtime_ns


def _files_under(folder: Path) -> list[Path]:
    """The objects in a folder: every file below it, temporaries left out."""
    found: list[Path] = []
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if is_object_name(name):
                found.append(Path(dirpath) / name)
    return found


def _md5(path: Path) -> str | None:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
