"""A cgroup per execution environment: memory for the whole environment (children included), CPU
in proportion to memory, Lambda's process limit, and a kill that nothing escapes.

Two layouts exist. cgroup v1 (as on the machines this is built on) has a hierarchy per controller:
each environment gets a folder in the memory, cpu, pids and freezer hierarchies, under the one its
engine runs in. cgroup v2 (most laptops) has one tree; a user may create cgroups only in a subtree
delegated to them (``systemd-run --user --scope -p Delegate=yes …``), and may enable controllers
for children only in a cgroup that holds no process, so the engine moves itself into a leaf of its
own first. Where neither works the environment keeps the rlimit sandbox, and ``Cgroups.detect``
says why.

Every write is a small file write (~0.1 ms each on v1); none happens per invocation. Freezing
between invocations is done with SIGSTOP/SIGCONT of the process group (see ``environment.py``):
the v1 freezer's state write measured 0.13 ms p50 each way (a SIGCONT: 0.004 ms), more than a
warm invoke's budget of 0.05 ms. The freezer hierarchy is still joined, for a later use.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from .processes import pid_alive

MB = 1024 * 1024
LAMBDA_PIDS = 1024  # Lambda's limit on processes and threads per execution environment
FULL_VCPU_MB = 1769  # Lambda: a function with 1,769 MB has the equivalent of one vCPU
CFS_PERIOD_US = 100_000
MIN_QUOTA_US = 1_000  # the kernel refuses a CFS quota under 1 ms
V1_CONTROLLERS = ("memory", "cpu", "pids", "freezer")
V2_CONTROLLERS = ("memory", "cpu", "pids")
PREFIX = "workbench-"

_serial = itertools.count(1)


def cpu_share(memory_mb: int) -> float:
    """The vCPUs Lambda gives a function of ``memory_mb``: 1,769 MB is one."""
    return memory_mb / FULL_VCPU_MB


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode()


def _pids(procs_file: str) -> list[int]:
    try:
        return [int(p) for p in _read(procs_file).split()]
    except (OSError, ValueError):
        return []


@dataclass(slots=True)
class EnvCgroup:
    """One environment's cgroup: a folder per hierarchy (v1) or one folder (v2)."""

    version: int
    dirs: dict[str, str]  # controller -> folder (v2: every controller names the same folder)
    memory_limit: int  # bytes
    _peak_fd: int = -1

    def add(self, pid: int) -> None:
        """Move ``pid`` (the runtime, before it runs any user code) in; raises ``OSError``."""
        for folder in dict.fromkeys(self.dirs.values()):
            _write(f"{folder}/cgroup.procs", str(pid))
        self.joined()

    def join_files(self) -> list[str] | None:
        """Where a single-threaded process moves itself in by writing ``0`` (v1's ``tasks``).

        Moving another process (``add``) takes the kernel's global thread-group lock, whose
        write side waits for an RCU grace period: ~10 ms of every cold start on cgroup v1. A
        thread moving itself through ``tasks`` skips that lock (kernel/cgroup/cgroup.c,
        ``cgroup_procs_write_start``), so a fork server's process joins on its own and its
        children inherit the cgroup. None on v2, where writing ``cgroup.procs`` takes the lock
        either way."""
        if self.version != 1:
            return None
        return [f"{folder}/tasks" for folder in dict.fromkeys(self.dirs.values())]

    def self_join_files(self) -> list[str]:
        """Where a process moves itself in by writing ``0``: ``join_files`` on v1, else each
        folder's ``cgroup.procs`` (on v2, pid 0 is the writer). An extension joins so before
        it execs (``extensions.py``): none of its code, nor a child of it, runs outside."""
        join = self.join_files()
        if join is not None:
            return join
        return [f"{folder}/cgroup.procs" for folder in dict.fromkeys(self.dirs.values())]

    def joined(self) -> None:
        """The runtime is in (``add``, or it joined through ``join_files``)."""
        peak = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        with contextlib.suppress(OSError):
            self._peak_fd = os.open(f"{self.dirs['memory']}/{peak}", os.O_RDONLY)

    def members(self) -> list[int]:
        """The processes in the environment now."""
        return _pids(f"{self.dirs.get('pids') or self.dirs['memory']}/cgroup.procs")

    def limit_cpu(self, vcpus: float | None) -> None:
        """Throttle to ``vcpus`` (CFS quota over a 100 ms period); None: no quota."""
        folder = self.dirs.get("cpu")
        if folder is None:
            return
        quota = -1 if vcpus is None else max(int(CFS_PERIOD_US * vcpus), MIN_QUOTA_US)
        with contextlib.suppress(OSError):
            if self.version == 1:
                _write(f"{folder}/cpu.cfs_quota_us", str(quota))
            else:
                _write(f"{folder}/cpu.max", f"{'max' if quota < 0 else quota} {CFS_PERIOD_US}")

    def peak_kb(self) -> int:
        """The whole environment's peak memory (every process in it), in kB; 0 if unknown.

        The runtime's own start-up pages (before it was moved in) stay charged to the engine's
        cgroup, so ``whole_peak_kb`` takes the larger of this and the runtime's peak RSS, capped
        at the limit: RSS also counts shared code pages (Node's ~34 MB) charged elsewhere, and
        nothing in the environment can hold more than its limit."""
        if self._peak_fd < 0:
            return 0
        try:
            return int(os.pread(self._peak_fd, 64, 0)) // 1024
        except (OSError, ValueError):
            return 0

    def whole_peak_kb(self, rss_kb: int) -> int:
        """The environment's peak given its runtime's peak RSS (see ``peak_kb``)."""
        return min(max(rss_kb, self.peak_kb()), self.memory_limit // 1024)

    def oom_kills(self) -> int:
        """How many processes the kernel killed here for lack of memory."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            text = _read(f"{self.dirs['memory']}/{name}")
        except (OSError, KeyError):
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def kill(self, spare: Collection[int] = ()) -> list[int]:
        """SIGKILL every process in the environment but ``spare`` (extensions keep theirs for
        SHUTDOWN); the processes killed (those re-parented to the engine are its to reap). A
        process with a SIGKILL pending cannot fork, so a fork that raced a pass is caught by
        the next one; no freezing needed (and none of the freezer's latency before they die)."""
        folder = self.dirs.get("pids") or self.dirs["memory"]
        procs = f"{folder}/cgroup.procs"
        killed: set[int] = set()
        for _ in range(8):
            fresh = [p for p in _pids(procs) if p not in killed and p not in spare]
            if not fresh:
                break
            for pid in fresh:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        return list(killed)

    def remove(self) -> bool:
        """Remove the folders; False while a process is still in (it is still dying)."""
        if self._peak_fd >= 0:
            os.close(self._peak_fd)
            self._peak_fd = -1
        done = True
        for folder in dict.fromkeys(self.dirs.values()):
            try:
                os.rmdir(folder)
            except FileNotFoundError:
                continue
            except OSError:
                done = False
        return done


@dataclass(slots=True)
class Cgroups:
    """The engine's cgroups: a folder per hierarchy (or one, v2) holding its environments'.

    A spare environment's folders are kept made (``refill``, off the loop after each start):
    making them is a mkdir per hierarchy and the process limit, ~0.2 ms a cold start would
    otherwise wait for; a new environment takes the spare and sets its memory limit."""

    version: int
    bases: dict[str, str]  # controller -> the engine's folder
    leftovers: list[EnvCgroup] = field(default_factory=list)  # to remove once empty
    spares: list[dict[str, str]] = field(default_factory=list)  # made, not yet taken
    _spare_lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    @property
    def controllers(self) -> tuple[str, ...]:
        return tuple(self.bases)

    def describe(self) -> str:
        """``cgroup v1 (memory, cpu, pids, freezer)``."""
        return f"cgroup v{self.version} ({', '.join(self.bases)})"

    def create(self, env_id: str, memory_mb: int) -> EnvCgroup:
        """A new environment's cgroup (the spare, if one is made; else named ``env_id``),
        limited for ``memory_mb``; raises ``OSError``."""
        memory = memory_mb * MB
        with self._spare_lock:
            dirs = self.spares.pop() if self.spares else None
        try:
            if dirs is None:
                dirs = self._folders(env_id)
            self._limit_memory(dirs, memory)
        except OSError:
            if dirs is not None:
                EnvCgroup(self.version, dirs, memory).remove()
            raise
        return EnvCgroup(self.version, dirs, memory)

    def refill(self) -> None:
        """Make a spare environment's folders if none is (a thread's work: never the loop's)."""
        with self._spare_lock:
            if self.spares or self.closed:
                return
        try:
            dirs = self._folders(f"spare-{next(_serial)}")
        except OSError:
            return  # the next start makes its own, and says why if it cannot
        with self._spare_lock:
            self.spares.append(dirs)
            late = self.closed
        if late:  # closed meanwhile: not left behind
            EnvCgroup(self.version, dirs, 0).remove()

    def _folders(self, name: str) -> dict[str, str]:
        """An environment's folders, each hierarchy's, with Lambda's process limit."""
        dirs: dict[str, str] = {}
        try:
            for controller, base in self.bases.items():
                folder = f"{base}/{name}"
                if folder not in dirs.values():
                    os.mkdir(folder)
                dirs[controller] = folder
            if self.version == 1 and "pids" in dirs:
                _write(f"{dirs['pids']}/pids.max", str(LAMBDA_PIDS))
            elif self.version != 1:
                _write(f"{dirs['memory']}/pids.max", str(LAMBDA_PIDS))
        except OSError:
            EnvCgroup(self.version, dirs, 0).remove()
            raise
        return dirs

    def _limit_memory(self, dirs: dict[str, str], memory: int) -> None:
        mem = dirs["memory"]
        if self.version == 1:
            _write(f"{mem}/memory.limit_in_bytes", str(memory))
            # no swap either (memsw exists only where swap accounting is on)
            with contextlib.suppress(OSError):
                _write(f"{mem}/memory.memsw.limit_in_bytes", str(memory))
        else:
            _write(f"{mem}/memory.max", str(memory))
            with contextlib.suppress(OSError):
                _write(f"{mem}/memory.swap.max", "0")

    def retire(self, cgroup: EnvCgroup) -> None:
        """Remove an environment's cgroup now, or once its last process is gone."""
        if not cgroup.remove():
            self.leftovers.append(cgroup)

    def sweep(self) -> None:
        """Remove the cgroups whose processes have since gone."""
        self.leftovers = [cg for cg in self.leftovers if not cg.remove()]

    def close(self, wait_s: float = 1.0) -> None:
        """Kill what is left in the engine's cgroups and remove them all."""
        with self._spare_lock:
            self.closed = True
            self.spares.clear()  # (removed with the rest)
        deadline = time.monotonic() + wait_s
        for base in dict.fromkeys(self.bases.values()):
            for child in _children(base):
                EnvCgroup(
                    self.version, {c: f"{b}/{child}" for c, b in self.bases.items()}, 0
                ).kill()
        while True:
            self.sweep()
            if _remove_tree(self.bases) or time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    @classmethod
    def detect(cls, root: str = "/sys/fs/cgroup") -> Cgroups | str:
        """The engine's cgroups, created; or why environments cannot have any."""
        try:
            mounts = _cgroup_mounts()
            own = _own_cgroups()
        except OSError as e:
            return f"cgroups are not readable here ({e})"
        v1 = {c: m for c, m in mounts.items() if c in V1_CONTROLLERS}
        if "memory" in v1:
            return _v1(v1, own)
        if "" in mounts:
            return _v2(mounts[""], own.get("", "/"))
        return "no cgroup hierarchy with a memory controller is mounted"


def _v1(mounts: dict[str, tuple[str, str]], own: dict[str, str]) -> Cgroups | str:
    tag = f"{PREFIX}{os.getpid()}-{next(_serial)}"
    bases: dict[str, str] = {}
    for controller in V1_CONTROLLERS:
        if controller not in mounts:
            continue
        mount, mount_root = mounts[controller]
        path = own.get(controller, "/")
        if path.startswith(mount_root):
            path = path[len(mount_root) :] or "/"
        parent = os.path.normpath(f"{mount}/{path}")
        _sweep_stale(parent)
        try:
            os.mkdir(f"{parent}/{tag}")
        except OSError as e:
            _remove_tree(bases)
            return f"cannot create a cgroup in {parent} ({e.strerror})"
        bases[controller] = f"{parent}/{tag}"
    return Cgroups(1, bases)


def _v2(mount: tuple[str, str], own: str) -> Cgroups | str:
    """A delegated subtree: the engine's cgroup, if it can hold children with controllers.

    UNVERIFIED on a real v2 machine (the machines this is built on have v1): written from the
    kernel's cgroup-v2 documentation (no internal processes; delegation by ownership).
    """
    mount_point, mount_root = mount
    if own.startswith(mount_root):
        own = own[len(mount_root) :] or "/"
    if os.path.basename(own) == f"{PREFIX}engine":  # an earlier engine here moved us already
        own = os.path.dirname(own)
    here = os.path.normpath(f"{mount_point}/{own}")
    try:
        available = _read(f"{here}/cgroup.controllers").split()
    except OSError as e:
        return f"cgroup v2: {here} is not readable ({e.strerror})"
    missing = [c for c in V2_CONTROLLERS if c not in available]
    if missing:
        return f"cgroup v2: {here} does not have the {', '.join(missing)} controller(s)"
    if not os.access(here, os.W_OK):
        return (
            f"cgroup v2: {here} is not delegated to this user (start the workbench under "
            "`systemd-run --user --scope -p Delegate=yes`)"
        )
    others = [p for p in _pids(f"{here}/cgroup.procs") if p != os.getpid()]
    if others and own != "/":
        return (
            f"cgroup v2: {here} holds other processes too, so it cannot have child cgroups with "
            "controllers (start the workbench under `systemd-run --user --scope -p Delegate=yes`)"
        )
    enable = " ".join(f"+{c}" for c in V2_CONTROLLERS)
    tag = f"{PREFIX}{os.getpid()}-{next(_serial)}"
    try:
        if own != "/":  # no internal processes: the engine moves into a leaf of its own
            leaf = f"{here}/{PREFIX}engine"
            with contextlib.suppress(FileExistsError):
                os.mkdir(leaf)
            _write(f"{leaf}/cgroup.procs", str(os.getpid()))
        _write(f"{here}/cgroup.subtree_control", enable)
        _sweep_stale(here)
        base = f"{here}/{tag}"
        os.mkdir(base)
        _write(f"{base}/cgroup.subtree_control", enable)
    except OSError as e:
        return f"cgroup v2: cannot create cgroups in {here} ({e.strerror})"
    return Cgroups(2, dict.fromkeys(V2_CONTROLLERS, base))


def _cgroup_mounts() -> dict[str, tuple[str, str]]:
    """controller ("" for the v2 tree) -> (mount point, the hierarchy's folder mounted there)."""
    found: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rest = left.split(), right.split()
            if len(fields) < 5 or len(rest) < 3:
                continue
            fstype, options = rest[0], rest[2].split(",")
            root, point = fields[3], fields[4]
            if fstype == "cgroup2":
                found.setdefault("", (point, root))
            elif fstype == "cgroup":
                for option in options:
                    found.setdefault(option, (point, root))
    return found


def _own_cgroups() -> dict[str, str]:
    """controller ("" for v2) -> this process's cgroup in that hierarchy."""
    own: dict[str, str] = {}
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _children(folder: str) -> list[str]:
    try:
        return [e.name for e in os.scandir(folder) if e.is_dir()]
    except OSError:
        return []


def _remove_tree(bases: dict[str, str]) -> bool:
    """rmdir the engine's folders (their children first); whether all are gone."""
    done = True
    for base in dict.fromkeys(bases.values()):
        for child in _children(base):
            with contextlib.suppress(OSError):
                os.rmdir(f"{base}/{child}")
        try:
            os.rmdir(base)
        except FileNotFoundError:
            continue
        except OSError:
            done = False
    return done


def _sweep_stale(parent: str) -> None:
    """Kill and remove what a dead engine (kill -9) left in ``parent``."""
    for name in _children(parent):
        if not name.startswith(PREFIX) or name == f"{PREFIX}engine":
            continue
        try:
            pid = int(name[len(PREFIX) :].split("-")[0])
        except ValueError:
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue
        base = f"{parent}/{name}"
        for child in _children(base):
            for victim in _pids(f"{base}/{child}/cgroup.procs"):
                with contextlib.suppress(OSError):
                    os.kill(victim, signal.SIGKILL)
            with contextlib.suppress(OSError):
                _write(f"{base}/{child}/freezer.state", "THAWED")
        _remove_tree({"": base})


def cgroup_path_of(pid: int, controller: str = "memory") -> Path | None:
    """The cgroup a process is in (for tests and diagnostics)."""
    try:
        for line in _read(f"/proc/{pid}/cgroup").splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(",") or (not controllers and controller == ""):
                return Path(path)
    except OSError:
        return None
    return None
