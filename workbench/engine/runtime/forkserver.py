"""Python environments forked from a started interpreter instead of exec'd: the engine's side
of the fork server (``runtimes/python/workbench_zygote.py``).

One server per interpreter and way of running (in namespaces or not), started on first use and
kept for the engine's life. A spawn sends the environment's variables and folder with its stdin
and stdout pipes over a ``SOCK_SEQPACKET`` pair and gets back its pid; the environment is then
the engine's child (re-parented to it, the child subreaper), so everything after — the cgroup,
the rlimits, the go-ahead, waiting, killing — is what it is for an exec'd runtime. If the server
cannot be used (it died, or answered an error), the spawn says so with ``OSError`` and the
caller starts the runtime the usual way.
"""

from __future__ import annotations

import array
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..early_start import start_helper
from . import namespaces
from .launch import PYTHON_BOOTSTRAP
from .processes import adopt
from .tmp_images import unmount

ANSWER_TIMEOUT_S = 10.0  # its first answer waits for its start (~30 ms); later ones ~1 ms
# What every environment from a server shares, fixed at the interpreter's start: the dynamic
# linker reads LD_LIBRARY_PATH only then (Lambda's own value, whose paths are the same for
# every function in namespaces), and the locale and time zone Python read at start.
BASE_ENV = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": (
        "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
    ),
    # room in the block /proc/PID/environ shows, which each environment overwrites with its
    # own variables (workbench_zygote._publish_environ)
    "_WORKBENCH_ENVIRON_SPACE": "-" * 65536,
}
# A root engine's namespaced server builds the part of every environment's root that is the
# same (``workbench_sandbox.build_base``) once, in the engine's folder; "0" here has each
# environment build its whole root itself, as where the engine is not root
BASE_SWITCH = "WORKBENCH_SANDBOX_BASE"
BASE_VAR = "_WORKBENCH_BASE"  # (workbench_zygote.BASE_VAR)
# (the standard library's bytecode linked into the cache first: workbench_pycache.py)
_START = (
    "import sys; sys.path.insert(0, {folder!r}); import workbench_pycache; "
    "workbench_pycache.link(); import workbench_zygote; del sys.path[0]; "
    "workbench_zygote.serve({fd})"
)


class ForkedProcess:
    """An environment's process from a fork server: the part of ``subprocess.Popen`` the
    engine uses (it is the engine's child, so it can be waited for)."""

    def __init__(
        self, pid: int, stdin: IO[bytes], stdout: IO[bytes], *, joined: bool = False
    ) -> None:
        self.pid = pid
        self.joined = joined  # it is in its cgroup already (it moved itself in)
        self.parent_peak_kb = 0  # its rusage peak starts from the server's (see spawning.py)
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None
        # where an environment that is its own namespaces' init writes how its runtime ended
        # (workbench_sandbox.STATUS_FD), or -1: its exit status is the runtime's
        self.status_fd = -1

    def runtime_status(self, status: int) -> int:
        """The runtime's wait status, given this process's: the one its init wrote, if any
        (PID 1 ends with a code, never by the signal that killed the runtime)."""
        fd, self.status_fd = self.status_fd, -1
        if fd < 0:
            return status
        try:
            raw = os.read(fd, 4)
        except OSError:
            raw = b""
        finally:
            os.close(fd)
        return int.from_bytes(raw, "little") if len(raw) == 4 else status

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(self.runtime_status(status))
            except ChildProcessError:
                self.returncode = -9  # reaped elsewhere
        return self.returncode


def environ_block(env: dict[str, str]) -> bytes:
    """``env`` as ``/proc/PID/environ`` shows it, the sandbox's description left out (it is
    not the environment's: ``workbench_zygote.parse_request``)."""
    return b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items() if k != namespaces.SPEC_VAR)


def ask(sock: socket.socket, payload: bytes, fds: list[int]) -> bytes:
    """Send one request with ``fds`` over a ``SOCK_SEQPACKET`` socket; the answer."""
    sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    return sock.recv(256)


def hand_over(send: Callable[[list[int]], bytes], what: str) -> tuple[int, IO[bytes], IO[bytes]]:
    """A new process from whatever forks it (a fork server, a snapshot): its stdin's read end
    and its stdout's write end go to ``send``, whose answer is its pid (or ``error …``);
    returns the pid and this side's ends. Raises ``OSError`` (``what``, and the answer)."""
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    try:
        answer = send([stdin_r, stdout_w])
        if not answer or answer.startswith(b"error"):
            raise OSError(f"{what}: {answer.decode()!r}")
        pid = int(answer)
    except BaseException:
        os.close(stdin_w)
        os.close(stdout_r)
        raise
    finally:
        os.close(stdin_r)
        os.close(stdout_w)
    return pid, os.fdopen(stdin_w, "wb", buffering=0), os.fdopen(stdout_r, "rb")


@dataclass
class _Server:
    proc: subprocess.Popen[bytes]
    sock: socket.socket


class ForkServer:
    """The fork server of one interpreter (``python``), for environments in namespaces or
    not (``namespaced``)."""

    def __init__(
        self,
        python: str,
        *,
        namespaced: bool,
        pycache_dir: Path | None,
        base_dir: Path | None = None,
    ) -> None:
        self.python = python
        self.namespaced = namespaced
        self.pycache_dir = pycache_dir
        self.base_dir = base_dir  # where a root engine's namespaced server builds its base
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._base: str | None = None  # the running server's base, if it was asked for one
        self.spawns = 0

    def _start(self) -> _Server:
        cache = ["-X", f"pycache_prefix={self.pycache_dir}"] if self.pycache_dir else []
        folder = str(PYTHON_BOOTSTRAP.parent)
        env = BASE_ENV
        if self.namespaced and self.base_dir is not None and wants_base():
            self._base = str(self.base_dir / f".base-{next(_bases)}")
            env = {**BASE_ENV, BASE_VAR: self._base}
        proc, ours = start_helper(
            lambda fd: [self.python, "-I", "-S", *cache, "-c", _START.format(folder=folder, fd=fd)],
            env,
        )
        ours.settimeout(ANSWER_TIMEOUT_S)
        return _Server(proc, ours)

    def prestart(self) -> None:
        """Start the server now, if it is not running: its interpreter's start (~30 ms) then
        overlaps what the engine does next instead of the first cold start."""
        with self._lock:
            if self._server is None:
                try:
                    self._server = self._start()
                except OSError:
                    pass  # the first spawn tries again, and says so

    def spawn(
        self, env: dict[str, str], cwd: str, *, join: list[str] | None = None
    ) -> ForkedProcess:
        """A new environment's process, waiting for its go-ahead; raises ``OSError``.

        ``join``: its cgroup's ``tasks`` files (``EnvCgroup.join_files``), which the process
        that forks it writes itself into first, so it starts in its cgroup."""
        request = {"env": env, "cwd": cwd, "namespaced": self.namespaced, "join": join or []}
        payload = json.dumps(request).encode() + b"\0" + environ_block(env)
        # in namespaces its process is its init: how its runtime ends comes on this pipe
        status_r, status_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK) if self.namespaced else (-1, -1)
        extra = [status_w] if status_w >= 0 else []

        def send(fds: list[int]) -> bytes:
            with self._lock:
                if self._server is None or self._server.proc.poll() is not None:
                    self._stop()
                    self._server = self._start()
                try:
                    return ask(self._server.sock, payload, [*fds, *extra])
                except OSError:
                    self._stop()  # a late answer would be read as the next spawn's
                    raise

        try:
            pid, stdin, stdout = hand_over(send, "the fork server could not start it")
        except BaseException as e:
            if status_r >= 0:
                os.close(status_r)
            if isinstance(e, OSError) and (orphan := _ORPHAN.search(str(e))):
                adopt([int(orphan[1])])  # (our child, forked to us, that ended: reaped)
            raise
        finally:
            if status_w >= 0:
                os.close(status_w)
        self.spawns += 1
        forked = ForkedProcess(pid, stdin, stdout, joined=bool(join))
        forked.status_fd = status_r
        return forked

    def _stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.sock.close()  # it exits on EOF
        try:
            server.proc.kill()
        except OSError:
            pass
        server.proc.wait()
        base, self._base = self._base, None
        if base is not None:  # (environments made from it hold copies: theirs stay)
            unmount_base(base)

    def close(self) -> None:
        with self._lock:
            self._stop()


_bases = itertools.count(1)
# an environment forked as the engine's child that could not go on (_spawn_to_parent's error)
_ORPHAN = re.compile(r"\[pid (\d+)\]")


def wants_base() -> bool:
    """A root engine's namespaced servers build a shared base (``BASE_SWITCH`` not "0")."""
    return os.geteuid() == 0 and os.environ.get(BASE_SWITCH, "").strip() != "0"


def unmount_base(path: str) -> None:
    """Unmount a server's base (its binds with it) and remove its folder."""
    with contextlib.suppress(OSError):
        unmount(path)
    with contextlib.suppress(OSError):
        os.rmdir(path)


class ForkServers:
    """The engine's fork servers, one per interpreter and way of running, started on use."""

    def __init__(self, pycache_dir: Path | None) -> None:
        self.pycache_dir = pycache_dir
        self.base_dir: Path | None = None  # the engine's folder, once it has one
        self._servers: dict[tuple[str, bool], ForkServer] = {}
        self._lock = threading.Lock()
        self._closed = False

    def prestart(self, keys: Iterable[tuple[str, bool]]) -> None:
        """Start the servers of these (interpreter, namespaced) now, in a thread, so no cold
        start waits for them; none once closed."""

        def work() -> None:
            for python, namespaced in dict.fromkeys(keys):
                with self._lock:
                    if self._closed:
                        return
                    server = self._get(python, namespaced)
                    server.prestart()

        threading.Thread(target=work, name="workbench-fork-servers", daemon=True).start()

    def get(self, python: str, namespaced: bool) -> ForkServer:
        with self._lock:
            return self._get(python, namespaced)

    def _get(self, python: str, namespaced: bool) -> ForkServer:
        key = (python, namespaced)
        if key not in self._servers:
            self._servers[key] = ForkServer(
                python, namespaced=namespaced, pycache_dir=self.pycache_dir, base_dir=self.base_dir
            )
        return self._servers[key]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
