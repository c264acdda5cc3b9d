"""Each environment's ``/tmp`` as a filesystem of its own, capped in total at its
``ephemeral_storage``, on disk, not in memory.

Lambda's ``/tmp`` is disk: a function of 128 MB may write 500 MB there, and no more than its
ephemeral storage in all. A tmpfs would count against the environment's memory cgroup (and
OOM-kill that function); a folder on the host's disk with an rlimit caps each file, not the
total. So, where the machine allows (the engine may set up loop devices and mount: root, with
``/dev/loop-control`` and ``mke2fs``), each environment gets a sparse ext4 image of its size,
loop-mounted at its TMPDIR: a write past the cap fails with ``ENOSPC`` ("No space left on
device"), as on Lambda; the image takes on disk only what is written.

Cost: a template per size is made once (``mke2fs``, ~12 ms, and a mount to see its free space:
~70 ms in all here) and kept beside the engines' folders (``tmp-images/``) for the next engine,
which copies it (sparse: ~1 ms) and mounts the copy once to show that mounting works here
(Lambda's default 512 MB one by a thread at the engine's start); an
environment's image is a sparse copy of it (~0.2 ms) mounted through a loop device (~2 ms). Once a
size is in use, a few mounted images of it are kept ready by the thread, so a cold start takes
one at once; when none is ready (the first, a burst), the spawning thread mounts one before it
forks. Unmounting (lazily) and removing go to the same thread.

An environment in namespaces binds its image into a mount namespace of its own; once all its
processes have (its runtime asked for its first event), the host's mount is detached
(``entered``): every new environment's namespace starts as a copy of the host's, and copying,
then detaching, a thousand images' mounts cost each new one of a burst of 1,000 about 1 ms
(``unshare`` and the old root's unmount). The image stays until the environment is gone.

``WORKBENCH_TMP_CAP=0`` turns this off (each file is capped by ``RLIMIT_FSIZE`` then, as
where images are not possible).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import shutil
import stat
import struct
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger("workbench.tmp")

MB = 1024 * 1024
SWITCH_VAR = "WORKBENCH_TMP_CAP"  # "0": no images (the per-file cap)
SPARES = 2  # mounted images kept ready per size in use
DEFAULT_MB = 512
TEMPLATES = "tmp-images"  # beside the engines' folders: this user's engines' templates
LOOP_MAJOR = 7
LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A  # Linux 5.8+
LO_FLAGS_AUTOCLEAR = 4  # the loop device goes with the last unmount
_LO_FLAGS_AT = 52  # in struct loop_info64
_LOOP_INFO64_SIZE = 232
_LOOP_ATTEMPTS = 20  # free devices taken by someone else between asking and configuring
_loop_lock = threading.Lock()
_TRANSIENT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN})
MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
_libc.mount.argtypes += [ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _mke2fs() -> str | None:
    return shutil.which("mke2fs") or next(
        (p for p in ("/sbin/mke2fs", "/usr/sbin/mke2fs") if os.access(p, os.X_OK)), None
    )


def loop_mount(image: str, target: str) -> None:
    """Mount the ext4 ``image`` at ``target`` through a free loop device; raises ``OSError``."""
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        for attempt in range(_LOOP_ATTEMPTS):
            with _loop_lock:  # (this engine's threads take turns; others may still race)
                ctl = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
                try:
                    number = fcntl.ioctl(ctl, LOOP_CTL_GET_FREE)
                finally:
                    os.close(ctl)
                device = f"/dev/loop{number}"
                if not os.path.exists(device):  # (a /dev without devtmpfs: a container's)
                    os.mknod(device, stat.S_IFBLK | 0o660, os.makedev(LOOP_MAJOR, number))
                loop = os.open(device, os.O_RDWR | os.O_CLOEXEC)
                info = bytearray(_LOOP_INFO64_SIZE)
                struct.pack_into("=I", info, _LO_FLAGS_AT, LO_FLAGS_AUTOCLEAR)
                config = struct.pack("=II", backing, 0) + bytes(info) + bytes(64)
                try:
                    fcntl.ioctl(loop, LOOP_CONFIGURE, config)
                except OSError as e:  # taken meanwhile (by another engine)
                    os.close(loop)
                    if e.errno == errno.EBUSY and attempt < _LOOP_ATTEMPTS - 1:
                        continue
                    raise
            try:
                flags = MS_NOSUID | MS_NODEV
                # noinit_itable: the kernel's ext4lazyinit would zero each image's inode tables
                # (8 MB at 512 MB) while it is mounted, work that a throwaway image never needs
                # (its file is sparse: unwritten blocks read as zeros) — a thousand of them in a
                # burst of cold starts
                data = b"noinit_itable"
                if _libc.mount(device.encode(), target.encode(), b"ext4", flags, data):
                    code = ctypes.get_errno()
                    raise OSError(code, f"mount {device} on {target}: {os.strerror(code)}")
                return
            finally:
                os.close(loop)  # (autoclear: the device is freed once unmounted)
    finally:
        os.close(backing)


def unmount(target: str) -> None:
    if _libc.umount2(target.encode(), MNT_DETACH):
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOENT):  # (not a mount point: already gone)
            raise OSError(e, f"unmount {target}: {os.strerror(e)}")


def unmount_under(folder: Path) -> int:
    """Unmount every mount below ``folder`` (a dead engine's images); how many."""
    prefix = str(folder).rstrip("/") + "/"
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
    except OSError:
        return 0
    found = [p for p in points if p.startswith(prefix)]
    for point in sorted(found, key=len, reverse=True):
        with contextlib.suppress(OSError):
            unmount(point.replace("\\040", " "))
    return len(found)


def _sparse_copy(source: str, target: str) -> None:
    """Copy ``source``'s data extents only: an image of 10 GB holds ~200 KB."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        size = os.fstat(src.fileno()).st_size
        dst.truncate(size)
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # no more data
                    break
                raise
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            while start < end:
                n = os.copy_file_range(src.fileno(), dst.fileno(), end - start, start, start)
                if n <= 0:
                    raise OSError(errno.EIO, f"could not copy {source}")
                start += n
            offset = end


class TmpImages:
    """The engine's images: templates per size, mounted spares, and the ones in use."""

    def __init__(self, folder: Path, spares: int = SPARES) -> None:
        self.folder = folder  # (the engine's own: TMPDIRs there as ``tmp-…``, images beside)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.spares = spares
        self._templates: dict[int, str] = {}
        self._ready: dict[int, list[str]] = {}
        self._mounted: set[str] = set()  # every mounted target, spare or in use
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._released: list[str] = []
        self._entered: list[str] = []  # bound inside their namespaces: detach the host's mount
        self._failed: set[int] = set()  # sizes no spare could be made of
        self._template_lock = threading.Lock()  # one template made at a time
        self._closed = False
        self.probed = threading.Event()
        self.why_not = ""
        self._thread = threading.Thread(target=self._run, name="workbench-tmp-images", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, folder: Path) -> TmpImages | str:
        """The engine's images, or why environments cannot have them. The one real mount
        that shows they work is made by the thread (``why_not`` once ``probed`` is set), so
        an engine's start does not wait for ``mke2fs``."""
        if os.environ.get(SWITCH_VAR, "1") == "0":
            return f"asked for with {SWITCH_VAR}=0"
        if _mke2fs() is None:
            return "mke2fs is not installed"
        if not os.path.exists("/dev/loop-control"):
            return "no loop devices (/dev/loop-control)"
        return cls(folder)

    def wait_probed(self, timeout: float = 30.0) -> str:
        """'' once images are known to work here, else why not."""
        if not self.probed.wait(timeout):
            return "setting up loop devices took too long"
        return self.why_not

    def _probe(self) -> None:
        """Lambda's default size's template, whose making mounts it once."""
        try:
            self._template(DEFAULT_MB)
        except (OSError, subprocess.SubprocessError) as e:
            self.why_not = f"cannot mount a loop device here ({e})"
        else:  # Lambda's default size's spares, made now: the first cold start need not
            with self._lock:  # mount one (~2 ms on its way)
                self._ready.setdefault(DEFAULT_MB, [])
        self.probed.set()

    # ------------------------------------------------------------------ for environments

    def take(self, size_mb: int) -> tuple[str, Callable[[], None] | None]:
        """A TMPDIR for an environment of ``size_mb`` ephemeral storage, and what mounts it if
        no mounted spare was ready (to call off the event loop, before the runtime starts)."""
        with self._lock:
            ready = self._ready.setdefault(size_mb, [])
            target = ready.pop() if ready else None
            self._work.notify()  # (refill)
        if target is not None:
            return target, None
        target = self._new_target()
        return target, lambda: self._mount_if_possible(size_mb, target)

    def _mount_if_possible(self, size_mb: int, target: str) -> None:
        """(In the spawning thread.) Where images turned out not to work, the TMPDIR stays a
        private folder, as ``describe_tmp`` then says."""
        if not self.wait_probed():
            self._mount_at(size_mb, target)

    def release(self, target: str) -> None:
        """The environment is gone: unmount its TMPDIR and remove its image, in the thread
        (here, once closed: the thread is gone)."""
        with self._lock:
            closed = self._closed
            if closed:
                self._mounted.discard(target)
            else:
                self._released.append(target)
                self._work.notify()
        if closed:
            self._discard(target)

    def entered(self, target: str) -> None:
        """Every process of the environment that has ``target`` as its ``/tmp`` has bound it in
        its own mount namespace (none will again): the host's mount goes, in the thread; the
        image stays, mounted in there, until ``release`` (which then only removes its files)."""
        with self._lock:
            if self._closed or target not in self._mounted:
                return
            self._mounted.discard(target)
            self._entered.append(target)
            self._work.notify()

    def close(self) -> None:
        """Unmount and remove everything (the engine ends)."""
        with self._lock:
            self._closed = True
            self._work.notify()
        self._thread.join(timeout=5)
        with self._lock:
            targets = list(self._mounted)
            self._mounted.clear()
        with ThreadPoolExecutor(4, thread_name_prefix="workbench-tmp-close") as pool:
            list(pool.map(self._discard, targets))  # (unmounts partly overlap in the kernel)
        for template in self._templates.values():
            with contextlib.suppress(OSError):
                os.unlink(template)

    # ------------------------------------------------------------------ the work

    def _new_target(self) -> str:
        return tempfile.mkdtemp(prefix="tmp-", dir=self.folder)  # (0700, a name of its own)

    def _make(self, size_mb: int) -> str:
        target = self._new_target()
        self._mount_at(size_mb, target)
        return target

    def _mount_at(self, size_mb: int, target: str) -> None:
        image = target + ".img"
        _sparse_copy(self._template(size_mb), image)
        try:
            loop_mount(image, target)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(image)
            raise
        with self._lock:
            late = self._closed  # (close() has unmounted what it knew of: this one too)
            if not late:
                self._mounted.add(target)
        if late:
            self._discard(target)

    def _template(self, size_mb: int) -> str:
        with self._template_lock:
            return self._templates.get(size_mb) or self._make_template(size_mb)

    def _make_template(self, size_mb: int) -> str:
        path = str(self.folder / f".template-{size_mb}.img")
        shared = self.folder.parent / TEMPLATES / f"ext4-{size_mb}-{os.getuid()}-{os.getgid()}.img"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            if shared.is_file():  # an earlier engine's: copied, and mounted once (the probe)
                _sparse_copy(str(shared), path)
                if self._free(path) >= size_mb * MB:
                    self._templates[size_mb] = path
                    return path
        size = size_mb * MB + max(4 * MB, size_mb * MB // 50)  # room for ext4's own tables
        for _ in range(3):  # grown until ``size_mb`` is free in it
            free = self._format(path, size)
            if free >= size_mb * MB:
                break
            size += size_mb * MB - free + MB
        self._templates[size_mb] = path
        with contextlib.suppress(OSError):  # for the next engine (whole, or not at all)
            shared.parent.mkdir(mode=0o700, exist_ok=True)
            partial = f"{shared}.{os.getpid()}"
            _sparse_copy(path, partial)
            os.replace(partial, shared)
        return path

    def _format(self, path: str, size: int) -> int:
        """Make an empty ext4 in ``path`` (no journal: a TMPDIR outlives no crash; no
        lost+found; owned by the engine's user, private); its free bytes."""
        with open(path, "wb") as f:
            f.truncate(size)
        mke2fs = _mke2fs() or "mke2fs"
        owner = f"root_owner={os.getuid()}:{os.getgid()}"
        subprocess.run(
            [mke2fs, "-q", "-F", "-t", "ext4", "-m", "0", "-O", "^has_journal,^resize_inode"]
            + ["-E", f"lazy_itable_init=1,nodiscard,{owner}", path],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=30,
        )
        return self._free(path, fresh=True)

    def _free(self, path: str, *, fresh: bool = False) -> int:
        """Mount the image ``path`` once: its free bytes (``fresh``: a new filesystem's
        lost+found removed and its root made private first)."""
        probe = path + ".mnt"
        os.mkdir(probe, 0o700)
        try:
            loop_mount(path, probe)
            try:
                if fresh:
                    os.rmdir(probe + "/lost+found")
                    os.chmod(probe, 0o700)
                st = os.statvfs(probe)
                return st.f_bavail * st.f_frsize
            finally:
                unmount(probe)
        finally:
            os.rmdir(probe)

    def _discard(self, target: str) -> None:
        try:
            # (a plain folder where images did not work here: an unprivileged engine's unmount
            # of it is refused, EPERM, and was warned of for every environment)
            if os.path.ismount(target):
                unmount(target)
        except OSError as e:
            log.warning("could not unmount %s: %s", target, e)
        with contextlib.suppress(OSError):
            os.unlink(target + ".img")
        shutil.rmtree(target, ignore_errors=True)  # (a plain folder's files, where unmounted)

    def _run(self) -> None:
        # below the engine's loop (mke2fs, forked from here, inherits it): making images must
        # not delay an invocation or a schedule's fire on a busy machine
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        self._probe()
        while True:
            with self._lock:
                while not (self._closed or self._released or self._entered or self._short()):
                    self._work.wait()
                if self._closed:
                    return
                entered, self._entered = self._entered, []
                released, self._released = self._released, []
                for target in released:
                    self._mounted.discard(target)
                short = self._short()
            for target in entered:
                try:
                    unmount(target)
                except OSError as e:  # (it stays mounted here until released)
                    log.warning("could not detach %s: %s", target, e)
            for target in released:
                self._discard(target)
            if short is not None:
                try:
                    target = self._make(short)
                except (OSError, subprocess.SubprocessError) as e:
                    with self._lock:
                        if isinstance(e, OSError) and e.errno in _TRANSIENT:
                            self._work.wait(timeout=1.0)  # (out of descriptors: try later)
                            continue
                        self._failed.add(short)
                    # no more spares of this size: each environment mounts its own (and its
                    # start fails with the reason if that fails too)
                    log.warning("could not make a TMPDIR image of %d MB: %s", short, e)
                    continue
                with self._lock:
                    if self._closed:
                        continue
                    self._ready.setdefault(short, []).append(target)

    def _short(self) -> int | None:
        """A size whose spares are fewer than wanted (under the lock)."""
        if self.why_not:
            return None
        for size_mb, ready in self._ready.items():
            if len(ready) < self.spares and size_mb not in self._failed:
                return size_mb
        return None
