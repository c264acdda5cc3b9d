"""A process that outlives the engine just long enough to kill its environments.

An engine that exits kills its environments itself; one killed with ``kill -9`` cannot, and its
busy runtimes (and whatever their handlers started) would run on under PID 1. So an engine
process runs one small watchdog while it has environments, and ``LINGER_S`` after the last
(standard library only, ``python -I -S``, in its own session so a terminal's Ctrl-C or a kill of
the engine's process group does not reach it) and tells it, over a pipe, each environment's
process group and marker as it starts and ends:

    + <pgid> <env id>      an environment started (its runtime leads process group <pgid>)
    - <pgid>               it ended (its group was killed by the engine)

The engine holds the only write end of the pipe. When the engine dies, however it dies, the
kernel closes that end; the watchdog reads end-of-file, SIGKILLs every group still listed (only
if the group leader, when alive, still carries the environment's marker: a reused pid is
spared), then every process of this user whose environment carries a listed marker — the
children a handler moved out of its group (``setsid``, double forks) — and exits. The marker is
the environment id that ends ``AWS_LAMBDA_LOG_STREAM_NAME`` (``…[$LATEST]<env id>``), a
variable every environment has and its children inherit: no variable beyond Lambda's is added.

The Python runtime also asks the kernel for a death signal (``PR_SET_PDEATHSIG``, see
``runtimes/python/bootstrap.py``): it dies at once, the watchdog covers every runtime.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

log = logging.getLogger("workbench.watchdog")

# Runs as ``python -I -S -c _SCRIPT workbench-watchdog <engine pid>``: builtins and posix only.
_SCRIPT = r"""
import os, signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
KEY = b"AWS_LAMBDA_LOG_STREAM_NAME="
groups = {}
rest = b""
while True:
    try:
        chunk = os.read(0, 65536)
    except InterruptedError:
        continue
    if not chunk:
        break
    *lines, rest = (rest + chunk).split(b"\n")
    for line in lines:
        word = line.split()
        if len(word) >= 2 and word[0] == b"+":
            groups[int(word[1])] = word[2] if len(word) > 2 else b""
        elif len(word) >= 2 and word[0] == b"-":
            groups.pop(int(word[1]), None)


def marker(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return None
    start = env.find(KEY)
    if start < 0:
        return b""
    end = env.find(b"\0", start)
    return env[start + len(KEY) : end if end >= 0 else len(env)].rpartition(b"]")[2]


for pgid, mark in groups.items():
    found = marker(pgid)
    if found is not None and found != mark:
        continue  # the leader's pid belongs to someone else now
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
marks = {m for m in groups.values() if m}
me = os.getpid()
for _ in range(5):  # a process forking while we kill: look again until none is left
    hits = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me and marker(int(name)) in marks:
            try:
                os.kill(int(name), signal.SIGKILL)
                hits += 1
            except OSError:
                pass
    if not hits:
        break
"""


# How long a watchdog with nothing to watch is kept for the next environment. Starting one is
# an interpreter's start (~20 ms of CPU beside the cold start that needs it, and its fork and
# exec on the event loop): a function edited and invoked again, its only environment retired
# each time, paid it at every cold start (~6 ms of a 9.6 ms fork-server cold start here).
LINGER_S = 600.0


class Watchdog:
    """One watchdog process and the pipe to it. ``watch``/``forget`` never block."""

    def __init__(self, python: str = sys.executable, *, linger_s: float = LINGER_S) -> None:
        self.python = python
        self.linger_s = linger_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._fd = -1
        self._pending = b""
        self._groups: dict[int, str] = {}  # told to the watchdog (re-told if it is restarted)
        self._lock = threading.Lock()
        self._idle_timer: threading.Timer | None = None

    def watch(self, pgid: int, marker: str) -> None:
        """An environment started: its runtime leads process group ``pgid``."""
        with self._lock:
            self._cancel_idle_timer()
            self._groups[pgid] = marker
            self._send(f"+ {pgid} {marker}\n".encode())

    def forget(self, pgid: int) -> None:
        """The environment's group was killed: the watchdog must not kill a reuse of it.

        With no environment left, the watchdog is let go (end of file: it exits, finding nothing
        to kill) once ``linger_s`` pass with none; an environment started before then is told to
        the same one. No process lingers long while none runs.
        """
        with self._lock:
            if self._groups.pop(pgid, None) is None or self._fd < 0:
                return  # (with no watchdog running, nothing to tell)
            self._send(f"- {pgid}\n".encode())
            if not self._groups:
                self._cancel_idle_timer()
                self._idle_timer = threading.Timer(self.linger_s, self._let_go_if_idle)
                self._idle_timer.daemon = True
                self._idle_timer.name = "workbench-watchdog-idle"
                self._idle_timer.start()

    def _let_go_if_idle(self) -> None:
        with self._lock:
            if self._groups or threading.current_thread() is not self._idle_timer:
                return  # an environment started meanwhile, or this timer was cancelled
            self._idle_timer = None
            self._close_pipe()
            proc, self.proc = self.proc, None
        if proc is not None:  # it exits on end of file: reaped here, no zombie left
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def close(self) -> None:
        """End the watchdog as the engine's death would: it kills what is still watched."""
        with self._lock:
            self._cancel_idle_timer()
            self._groups.clear()
            self._close_pipe()
            proc, self.proc = self.proc, None
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # ----------------------------------------------------------------- the pipe

    def _send(self, line: bytes) -> None:
        if self._fd < 0 or (self.proc is not None and self.proc.poll() is not None):
            # none yet, let go of (no environment was left), or died: start one
            self._start()
            return  # _start tells it every group, this one included
        self._pending += line
        self._flush()

    def _flush(self) -> None:
        while self._pending:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                return  # the watchdog is behind: the rest goes with the next line
            except BrokenPipeError:
                log.warning("the environment watchdog died; starting another")
                self._start()
                return
            self._pending = self._pending[written:]

    def _start(self) -> None:
        self._close_pipe()
        if self.proc is not None:
            self.proc.poll()  # reap the one that died
        read, write = os.pipe()  # neither end is inherited by the runtimes we start later
        try:
            self.proc = subprocess.Popen(
                [self.python, "-I", "-S", "-c", _SCRIPT, "workbench-watchdog", str(os.getpid())],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                start_new_session=True,
                close_fds=True,
            )
        except OSError:
            os.close(write)
            log.exception("could not start the environment watchdog")
            return
        finally:
            os.close(read)
        os.set_blocking(write, False)
        self._fd = write
        self._pending = b"".join(f"+ {g} {m}\n".encode() for g, m in self._groups.items())
        self._flush()

    def _close_pipe(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._pending = b""

    def _after_fork_in_child(self) -> None:
        """A forked copy of the engine must not hold the pipe open after the engine dies."""
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        self.proc = None
        self._groups = {}
        self._pending = b""
        self._lock = threading.Lock()
        self._idle_timer = None  # (its thread is not in the child)


_default = Watchdog()
os.register_at_fork(after_in_child=_default._after_fork_in_child)


def watch(pgid: int, marker: str) -> None:
    """Called by an environment once its runtime is spawned (``marker``: the environment id)."""
    _default.watch(pgid, marker)


def forget(pgid: int) -> None:
    """Called by an environment once the engine has killed its process group."""
    _default.forget(pgid)


def stop_if_idle() -> None:
    """Called by a closing engine: with no environment left in this process, wait for the
    watchdog let go of to exit (a process that exits leaves no child behind)."""
    with _default._lock:
        idle = not _default._groups
    if idle:
        _default.close()
