"""The engine's side of ``netns_maker.py``: network namespaces for an engine that is not root.

A root engine makes its environments' network namespaces itself (``netns.py``, in threads that
enter them and come back). An unprivileged one cannot; the maker, a process of its own in a
user namespace where the engine's uid is root, makes them and passes back the namespace and the
sockets inside it. An environment joins the maker's user namespace, then the network namespace
(``user_path`` and the namespace's path in its sandbox description). ``HELPER_VAR=1`` has a root
engine use the maker too (what an unprivileged engine does, tested where the tests run as root;
its environments then share one uid, as an unprivileged engine's do).
"""

from __future__ import annotations

import array
import os
import socket
import subprocess
import threading

from .. import early_start
from . import processes

HELPER_VAR = early_start.NETNS_HELPER_VAR
START_S = 10.0  # how long the maker may take to say it is ready
FDS_MAX = 64  # the descriptors one answer may carry (a namespace, 2 sockets, one per relay)


forced = early_start.maker_forced  # a root engine told to use the maker (HELPER_VAR=1)
needed = early_start.maker_needed  # this engine's network namespaces come from the maker


class NetnsHelper:
    """One maker process per engine; its requests are answered one at a time (``_lock``: the
    namespaces' threads ask it concurrently)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.user_fd = -1
        proc, ours = early_start.netns_maker()  # (started as serve or the TUI began, if so)
        self._proc: subprocess.Popen[bytes] | None = proc
        self._sock = ours
        try:
            ours.settimeout(START_S)
            ready = ours.recv(4096)
            ours.settimeout(None)
            if ready != b"ready":
                why = ready.decode(errors="replace").removeprefix("error ") or "it ended"
                raise OSError(f"its network namespaces' maker could not start: {why}")
            # held: the environments join the maker's user namespace by this descriptor's path
            self.user_fd = os.open(f"/proc/{proc.pid}/ns/user", os.O_RDONLY)
        except BaseException:
            self.close()
            raise

    @property
    def user_path(self) -> str:
        """Where an environment's process opens the maker's user namespace to join it."""
        return f"/proc/{os.getpid()}/fd/{self.user_fd}"

    def _ask(self, request: bytes, fds: list[int]) -> list[int]:
        with self._lock:
            if self._proc is None:
                raise OSError("the network namespaces' maker is closed")
            passed = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
            self._sock.sendmsg([request], passed)
            got = array.array("i")
            answer, ancdata, _flags, _addr = self._sock.recvmsg(
                4096, socket.CMSG_SPACE(FDS_MAX * got.itemsize)
            )
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                got.frombytes(data[: len(data) - len(data) % got.itemsize])
        if answer != b"ok":
            for fd in got:
                os.close(fd)
            why = answer.decode(errors="replace").removeprefix("error ") or "it ended"
            raise OSError(f"the network namespaces' maker: {why}")
        return list(got)

    def make(
        self, relay_ports: list[int]
    ) -> tuple[int, socket.socket, socket.socket, dict[int, socket.socket]]:
        """A new namespace: its descriptor, the Runtime API's listening socket at 127.0.0.1:9001
        inside, a sock_diag socket inside, and a listening socket at each relayed port."""
        request = b" ".join([b"make", *(str(port).encode() for port in relay_ports)])
        fds = self._ask(request, [])
        if len(fds) != 3 + len(relay_ports):
            for fd in fds:
                os.close(fd)
            raise OSError(f"the network namespaces' maker answered {len(fds)} descriptors")
        ns, runtime_fd, diag_fd, *relay_fds = fds
        runtime = socket.socket(fileno=runtime_fd)
        runtime.setblocking(False)
        relays = {}
        for port, fd in zip(relay_ports, relay_fds, strict=True):
            relays[port] = socket.socket(fileno=fd)
            relays[port].setblocking(False)
        return ns, runtime, socket.socket(fileno=diag_fd), relays

    def socket_in(self, namespace: int) -> socket.socket:
        """A TCP socket made inside ``namespace`` (a descriptor this engine holds)."""
        [fd] = self._ask(b"socket", [namespace])
        return socket.socket(fileno=fd)

    def alive(self) -> bool:
        """Is the maker still running (it can end only if killed from outside)?"""
        proc = self._proc
        return proc is not None and proc.poll() is None

    def stop(self) -> None:
        """The maker ends (its socket closes); its user namespace stays held (``user_path``),
        so the namespaces it made can still be joined."""
        with self._lock:
            proc, self._proc = self._proc, None
            self._sock.close()
        if proc is not None and proc.returncode is None:
            proc.kill()
            processes.adopt([proc.pid])  # reaped by the engine's reaper, as slirp4netns is

    def close(self) -> None:
        """The maker ends, and its user namespace is let go (the namespaces it made live on
        while held)."""
        self.stop()
        with self._lock:
            if self.user_fd >= 0:
                os.close(self.user_fd)
                self.user_fd = -1
