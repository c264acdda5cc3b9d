"""Standby Node.js runtimes: Node started ahead, handed its function on a cold start.

Node cannot fork, so a fork server (``forkserver.py``) is not possible for it; instead the engine
keeps one started, un-assigned runtime process ready per runtime command (``runtimes/node/
standby.js``), and a cold start hands it its function (its variables, its folder) instead of
starting Node: a Node cold start costs loading the handler, not Node's own start.

A standby is started as an exec'd runtime is: behind the gate (``launch.py``), with the same
``node`` and flags (``--max-old-space-size`` follows the memory size, so the memory size is part
of its key), in a cgroup of its own made for that memory size (the environment takes that cgroup
over, so what Node allocated at its start counts against the function's limit, as for an exec'd
runtime), or, with rlimits only, with the gate's RLIMIT_STACK. At the hand-over the engine sets
the other limits (``sandbox.apply_limits``) before the go-ahead, as for any runtime. Until then a
standby belongs to no function: it counts toward no concurrency and no function's memory.

One is started after each cold start of its key (the first cold start of a key is exec'd), so
none is kept for a runtime not in use; one unused for ``IDLE_S`` is stopped. The engine's close
kills them; an engine killed outright closes their stdin, and they exit.

Custom runtimes (``provided``: the function's own ``bootstrap``, or a layer's) have no standby:
the user's program *is* the runtime, and nothing can be started before knowing which program
that is. Nor AWS's Python client (``awslambdaric``), which is the function's own vendored copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Literal

from ..config.function import FunctionConfig, runtime_family
from . import exec_wrapper
from .cgroups import EnvCgroup
from .forkserver import ForkedProcess
from .isolation import Isolation
from .launch import JOIN_VAR, NODE_BOOTSTRAP, Launch
from .sandbox import NODE_STACK

STANDBY_JS = NODE_BOOTSTRAP.parent / "standby.js"
READY = b"workbench-standby-ready\n"
START_TIMEOUT_S = 10.0  # Node starts in ~50 ms; a loaded machine may take much longer
IDLE_S = 300.0  # a standby no cold start took for this long is stopped (as keep_alive_s)
# Variables Node or the C library read only at the process's start: a function that sets one
# itself is exec'd, so it gets what it asked for.
READ_AT_START = frozenset(
    {
        "NODE_OPTIONS",
        "NODE_EXTRA_CA_CERTS",
        "NODE_ICU_DATA",
        "NODE_PRESERVE_SYMLINKS",
        "NODE_PRESERVE_SYMLINKS_MAIN",
        "NODE_PENDING_DEPRECATION",
        "NODE_V8_COVERAGE",
        "OPENSSL_CONF",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "GLIBC_TUNABLES",
        "MALLOC_ARENA_MAX",
    }
)
ENVIRON_SPACE = 65536  # bytes of /proc/PID/environ the function's variables may fill

# argv of the runtime (node, its flags, bootstrap.js), the memory size, a cgroup or not
Key = tuple[tuple[str, ...], int, bool]
Refusal = Literal["not node", "debugger", "extensions", "own libraries", "variables", "wrapper"]


def refusal(fn: FunctionConfig, how: Launch, *, debug: bool, extensions: bool) -> Refusal | None:
    """Why ``fn``'s runtime cannot start from a standby (None: it can).

    A debugger's flags, a variable read at Node's start (``READ_AT_START``: the function's own
    ``NODE_OPTIONS``, say), or native libraries of its own in ``lib/`` or its folder (the dynamic
    linker read ``LD_LIBRARY_PATH``, whose paths name the task root, at the standby's start)
    need a Node started for this function. Extensions are started first, in a cgroup made for
    them, which the standby's own cannot be. A wrapper script starts Node itself."""
    if runtime_family(fn.runtime) != "nodejs" or how.argv[-1] != str(NODE_BOOTSTRAP):
        return "not node"
    if debug:
        return "debugger"
    if exec_wrapper.wants_wrapper(fn):
        return "wrapper"
    if extensions:
        return "extensions"
    if READ_AT_START & set(fn.environment):
        return "variables"
    folders = (fn.folder, *fn.layers)
    if any((d / "lib").is_dir() for d in folders) or any(fn.folder.glob("*.so*")):
        return "own libraries"
    return None


class StandbyProcess(ForkedProcess):
    """A standby's process once handed to an environment: the engine's child (a ``Popen``,
    whose ``returncode`` it shares, so ``subprocess`` never polls a reaped pid)."""

    def __init__(self, popen: subprocess.Popen[bytes], parent_peak_kb: int) -> None:
        self._popen = popen
        assert popen.stdin is not None and popen.stdout is not None
        super().__init__(popen.pid, popen.stdin, popen.stdout, joined=True)
        self.parent_peak_kb = parent_peak_kb

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    @returncode.setter
    def returncode(self, value: int | None) -> None:
        self._popen.returncode = value


@dataclass(eq=False)
class Standby:
    """One started, un-assigned runtime; a ``spawning.Forker`` for exactly one spawn."""

    key: Key
    popen: subprocess.Popen[bytes]
    cgroup: EnvCgroup | None
    parent_peak_kb: int  # the engine's peak RSS at its exec (see ``spawning.Spawned``)
    started_at: float = field(default_factory=time.time)
    timer: threading.Timer | None = None
    handed = False  # its process is an environment's now

    @property
    def pid(self) -> int:
        return self.popen.pid

    def make_cgroup(self) -> EnvCgroup | None:
        """The environment's cgroup: the one the standby runs in already."""
        return self.cgroup

    def spawn(
        self, env: dict[str, str], cwd: str, *, join: list[str] | None = None
    ) -> ForkedProcess:
        """Hand the standby its function; raises ``OSError`` if it is gone. ``join`` is not
        needed: it runs in its cgroup (``make_cgroup``) since its start."""
        assert self.popen.stdin is not None
        line = json.dumps({"env": env, "cwd": cwd}, separators=(",", ":")).encode() + b"\n"
        try:
            if self.popen.poll() is not None:
                raise OSError(f"the standby runtime exited ({self.popen.returncode})")
            self.popen.stdin.write(line)  # (its pipe is unbuffered)
        except OSError:
            # exec'd instead, in the same cgroup (``make_cgroup`` gave it already): only
            # the process goes
            self.handed = True
            self._end_process()
            raise
        self.handed = True
        return StandbyProcess(self.popen, self.parent_peak_kb)

    def kill(self) -> None:
        """Stop an un-assigned standby (and remove its cgroup)."""
        self._end_process()
        if self.cgroup is not None:
            self.cgroup.kill()
            self.cgroup.remove()

    def _end_process(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        for pipe in (self.popen.stdin, self.popen.stdout):
            if pipe is not None:
                pipe.close()


def standby_key(fn: FunctionConfig, how: Launch, isolation: Isolation | None) -> Key:
    cgroups = isolation is not None and isolation.cgroups is not None
    return (tuple(how.argv), fn.memory_size if cgroups else 0, cgroups)


class Standbys:
    """The engine's standby runtimes: at most one ready (or starting) per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[Key, Standby] = {}
        self._starting: dict[Key, subprocess.Popen[bytes] | None] = {}
        # taken, and not yet handed over (a spawn that failed before it: killed on close)
        self._taken: list[Standby] = []
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="workbench-standby")
        self.closed = False
        self.taken = 0  # hand-overs (a cold start that started no Node)
        self.started = 0

    def take(
        self, fn: FunctionConfig, how: Launch, isolation: Isolation | None, *, refused: bool
    ) -> Standby | None:
        """The ready standby for ``fn``'s runtime, if there is one; a replacement (or a first
        one) starts in the background either way, unless ``refused`` (see ``refusal``)."""
        if refused or self.closed:
            return None
        key = standby_key(fn, how, isolation)
        with self._lock:
            standby = self._ready.pop(key, None)
        if standby is not None and standby.timer is not None:
            standby.timer.cancel()
        if standby is not None and standby.popen.poll() is not None:
            standby.kill()  # it died waiting (reaped at once): exec instead
            standby = None
        if standby is not None:
            self.taken += 1
            self._taken = [s for s in self._taken if not s.handed] + [standby]
        self._replenish(key, how, isolation)
        return standby

    def ready(self, key: Key) -> Standby | None:
        """The standby ready for ``key`` now (tests and benchmarks wait on it)."""
        with self._lock:
            return self._ready.get(key)

    def keys(self) -> list[Key]:
        with self._lock:
            return [*self._ready, *self._starting]

    def _replenish(self, key: Key, how: Launch, isolation: Isolation | None) -> None:
        with self._lock:
            if self.closed or key in self._ready or key in self._starting:
                return
            self._starting[key] = None
        try:
            self._executor.submit(self._start, key, how, isolation)
        except RuntimeError:  # closed meanwhile
            with self._lock:
                self._starting.pop(key, None)

    def _start(self, key: Key, how: Launch, isolation: Isolation | None) -> None:
        try:
            standby = _start_standby(key, how, isolation, self._register)
        except OSError:
            standby = None  # the next cold start of this key is exec'd, and tries again
        with self._lock:
            self._starting.pop(key, None)
            if standby is not None and not self.closed:
                self._ready[key] = standby
                self.started += 1
                standby.timer = threading.Timer(IDLE_S, self._expire, (standby,))
                standby.timer.daemon = True
                standby.timer.start()
                return
        if standby is not None:
            standby.kill()

    def _register(self, key: Key, popen: subprocess.Popen[bytes]) -> bool:
        """A standby's process exists (close kills it while it starts); False if closed."""
        with self._lock:
            if self.closed:
                return False
            self._starting[key] = popen
            return True

    def _expire(self, standby: Standby) -> None:
        with self._lock:
            if self._ready.get(standby.key) is not standby:
                return
            del self._ready[standby.key]
        standby.kill()

    def close(self) -> None:
        """Kill every standby, the ones starting included."""
        with self._lock:
            self.closed = True
            ready, self._ready = list(self._ready.values()), {}
            ready += [s for s in self._taken if not s.handed]
            starting = [p for p in self._starting.values() if p is not None]
        for popen in starting:  # its start then fails, and the thread moves on
            with contextlib.suppress(OSError):
                os.killpg(popen.pid, signal.SIGKILL)
        self._executor.shutdown(wait=True, cancel_futures=True)
        for standby in ready:
            if standby.timer is not None:
                standby.timer.cancel()
            standby.kill()


def _start_standby(
    key: Key,
    how: Launch,
    isolation: Isolation | None,
    register: Callable[[Key, subprocess.Popen[bytes]], bool],
) -> Standby:
    """Start one standby and wait until it is ready; raises ``OSError``."""
    argv = [*how.argv[:-1], str(STANDBY_JS)]
    runtime_dir = how.runtime_dir
    env: dict[str, str] = {
        "PATH": how.env.get("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        # as Lambda's for every Node function, less the task root's (see ``refusal``)
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LD_LIBRARY_PATH": f"/lib64:/usr/lib64:{runtime_dir}:{runtime_dir}/lib:/opt/lib",
        # room in the block /proc/PID/environ shows, which the function's variables overwrite
        "_WORKBENCH_ENVIRON_SPACE": "-" * ENVIRON_SPACE,
    }
    cgroup = None
    if isolation is not None and key[2]:
        cgroup = isolation.create(f"standby-{os.urandom(6).hex()}", key[1])
    join = cgroup.join_files() if cgroup is not None else None
    if join and not any(" " in f for f in join):
        env[JOIN_VAR] = " ".join(join)  # the gate moves itself in (one thread: cheap)
    else:
        join = None
    try:
        popen = subprocess.Popen(
            Launch(argv, {}, gated=True, runtime_dir=runtime_dir).command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd="/",
            env=env,
            start_new_session=True,
            close_fds=True,
            bufsize=0,
        )
    except OSError:
        if cgroup is not None:
            cgroup.remove()
        raise
    standby = Standby(key, popen, cgroup, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    try:
        if not register(key, popen):
            raise OSError("the engine is closing")
        if cgroup is not None and join is None:  # (v2) moved in from here, before it starts
            for folder in dict.fromkeys(cgroup.dirs.values()):
                with open(f"{folder}/cgroup.procs", "w") as f:
                    f.write(str(popen.pid))
        if cgroup is None:  # as sandbox.apply_limits sets it for a Node runtime's gate
            resource.prlimit(popen.pid, resource.RLIMIT_STACK, (NODE_STACK, NODE_STACK))
        assert popen.stdin is not None and popen.stdout is not None
        popen.stdin.write(b"\n")  # the gate's go-ahead: Node starts
        _wait_ready(popen.stdout)
    except BaseException:
        standby.kill()
        raise
    return standby


def _wait_ready(stdout: IO[bytes]) -> None:
    """Read the standby's ready line (nothing else comes before the hand-over: what Node
    writes at its start, a warning say, is not a function's)."""
    fd = stdout.fileno()
    seen = b""
    deadline = time.monotonic() + START_TIMEOUT_S
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while not seen.endswith(READY):
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise OSError("the standby runtime did not start in time")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise OSError(f"the standby runtime exited at its start: {seen[-200:]!r}")
        seen += chunk
