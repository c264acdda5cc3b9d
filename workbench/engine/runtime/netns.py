"""An execution environment's own network, as Lambda's is: a network namespace per environment.

Inside it the environment has a loopback of its own. Its Runtime API is there at
``127.0.0.1:9001``, Lambda's own address: the engine makes the namespace, brings its loopback up
and opens the listening socket inside it (in threads of their own, which enter the namespace
and come back: ``setns`` moves one thread), then serves that socket from the event loop. The
workbench's Lambda and SQS APIs are there too, at the port they have on the host
(``AWS_ENDPOINT_URL`` is the same inside and out): the engine relays each connection to the
host's port. Nothing else of the host's loopback is reachable — not another environment's
Runtime API, not the engine's other ports, not a database on the host's 127.0.0.1 — and
nothing outside can connect in: what a handler listens on is in its own namespace.

Outbound traffic goes through a user-mode network stack where one is installed
(``slirp4netns``, a Debian package: ~0.3 MB of its own memory and ~6 ms to start per
environment; ``pasta`` was measured at 29 MB each, too much for a thousand environments): the
host's loopback is not reachable through it (``--disable-host-loopback``), and its DNS
forwarder is the environment's resolver. It ends with the engine (its exit pipe closes).

The runtime joins the namespace in the sandbox (``runtimes/python/workbench_sandbox.py``) by
its path, ``/proc/<engine>/fd/<fd>``, before it unshares the others; its extensions join the
same one. An engine that is not root has its namespaces made by a process of its own
(``netns_helper.py``), in whose user namespace they are: an environment joins that user
namespace first. Where neither can be had, environments keep the host's network, and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import netns_helper, processes
from .loopback import RUNTIME_API_PORT, inside
from .netns_helper import NetnsHelper

CLONE_NEWNET = 0x40000000
RUNTIME_API = f"127.0.0.1:{RUNTIME_API_PORT}"
SLIRP_DNS = "10.0.2.3"  # slirp4netns's DNS forwarder, inside
OUTBOUND_READY_S = 5.0  # how long a start waits for slirp4netns to configure the namespace
RELAY_CHUNK = 256 * 1024
TUN = "/dev/net/tun"  # what slirp4netns opens, as the engine's user, inside the namespace
# threads that make namespaces (and start slirp4netns: ~2 ms each, mostly the exec, which the
# thread waits out): a burst of a thousand cold starts is not made one by one
THREADS = 4

NetworkMode = Literal["auto", "none", "host"]
NETWORK_MODES: tuple[NetworkMode, ...] = ("auto", "none", "host")
NETWORK_VAR = "WORKBENCH_NETWORK"

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_home: int | None = None  # the engine's own network namespace (its threads come back to it)
_libc: ctypes.CDLL | None = None


class NetnsError(OSError):
    """A network namespace could not be made or entered."""


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _setns(fd: int) -> None:
    if _c().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(err, f"cannot enter a network namespace: {os.strerror(err)}")


def _thread() -> ThreadPoolExecutor:
    """The threads that enter environments' namespaces (never the loop's, never a thread
    that resolves names or opens the engine's own sockets)."""
    global _executor, _home
    with _lock:
        if _home is None:
            _home = os.open("/proc/self/ns/net", os.O_RDONLY)
        if _executor is None:
            _executor = ThreadPoolExecutor(THREADS, thread_name_prefix="workbench-netns")
        return _executor


def _back() -> None:
    """Back to the engine's namespace; a thread that cannot is not used again."""
    global _executor
    assert _home is not None
    try:
        _setns(_home)
    except OSError:
        with _lock:
            _executor = None  # (it idles, wherever it is)
        raise


@dataclass(eq=False)
class NetNamespace:
    """One environment's network: the namespace (held by ``fd``), its Runtime API's listening
    socket (the ``RuntimeAPI`` takes it over), a sock_diag socket inside (to tell which of the
    environment's processes holds a connection: ``peers.py``), the relays' listening sockets,
    and its user-mode network stack, if any."""

    fd: int
    runtime_sock: socket.socket | None  # None once the Runtime API took it (``take_runtime``)
    diag: socket.socket
    relay_socks: dict[int, socket.socket] = field(default_factory=dict)
    outbound: subprocess.Popen[bytes] | None = None
    ready_fd: int = -1  # slirp4netns writes here once the namespace is configured
    exit_fd: int = -1  # slirp4netns ends when this closes
    helper: NetnsHelper | None = None  # its maker, for an unprivileged engine
    _serving: asyncio.AbstractEventLoop | None = None  # the loop its relays are read on
    _relaying: set[asyncio.Task[None]] = field(default_factory=set)  # connections under way
    closed: bool = False

    def take_runtime(self) -> socket.socket:
        """The Runtime API's listening socket, which its taker closes from then on."""
        sock, self.runtime_sock = self.runtime_sock, None
        if sock is None:
            raise NetnsError(0, "the Runtime API's socket was taken already")
        return sock

    @property
    def path(self) -> str:
        """Where a process of the environment opens it to join it."""
        return f"/proc/{os.getpid()}/fd/{self.fd}"

    @property
    def user_path(self) -> str | None:
        """The user namespace a process joins first (its maker's), if any."""
        return self.helper.user_path if self.helper is not None else None

    def socket_inside(self) -> socket.socket:
        """A TCP socket in this namespace (to reach an extension's listener: the Telemetry
        and Logs APIs' destinations); run in one of the namespaces' threads (``_thread``)."""
        if self.helper is not None:
            return self.helper.socket_in(self.fd)
        _setns(self.fd)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _back()

    async def open_connection(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """``asyncio.open_connection`` to ``host:port`` as seen inside this namespace."""
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(_thread(), self.socket_inside)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, (_numeric(host), port))
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    def serve_relays(self) -> None:
        """Relay each connection to one of the workbench's ports, inside, to the same port
        on the host's loopback. (A reader on each listening socket, not an ``asyncio.Server``:
        ~0.3 ms of the loop's per environment, in a burst of a thousand.)"""
        loop = self._serving = asyncio.get_running_loop()
        for port, sock in self.relay_socks.items():
            loop.add_reader(sock.fileno(), self._accept, sock, port)

    def _accept(self, sock: socket.socket, port: int) -> None:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError:  # out of descriptors: it waits in the backlog
            return
        conn.setblocking(False)
        assert self._serving is not None
        # held until done: the loop keeps only a weak reference to a task, and a relay
        # collected mid-way closed its connection before the answer (seen in the suite)
        task = self._serving.create_task(_relay_socket(conn, port))
        self._relaying.add(task)
        task.add_done_callback(self._relaying.discard)

    async def outbound_ready(self) -> str:
        """'' once outbound traffic can go (at once without a user-mode stack), else why not
        (the environment then runs with its loopback only, and is told)."""
        if self.outbound is None or self.ready_fd < 0:
            return ""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[bytes] = loop.create_future()
        fd = self.ready_fd

        def readable() -> None:
            loop.remove_reader(fd)
            try:
                data = os.read(fd, 1)
            except OSError:
                data = b""
            if not ready.done():
                ready.set_result(data)

        loop.add_reader(fd, readable)
        try:
            async with asyncio.timeout(OUTBOUND_READY_S):
                data = await ready
        except TimeoutError:
            loop.remove_reader(fd)
            return f"slirp4netns did not configure the network within {OUTBOUND_READY_S:g} s"
        finally:
            os.close(fd)
            self.ready_fd = -1
        if data:
            return ""
        code = self.outbound.poll()
        return f"slirp4netns ended before the network was up (exit {code})"

    def close(self) -> None:
        """Everything of it the engine holds (the namespace itself ends with its last
        process); its relays stop accepting (a connection under way ends by itself), its
        user-mode stack ends."""
        if self.closed:
            return
        self.closed = True
        loop = self._serving
        for sock in self.relay_socks.values():
            if loop is not None and not loop.is_closed():
                loop.remove_reader(sock.fileno())
            sock.close()
        for other in (self.runtime_sock, self.diag):
            if other is not None:
                other.close()
        for fd in (self.ready_fd, self.exit_fd, self.fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.ready_fd = self.exit_fd = self.fd = -1
        if self.outbound is not None and self.outbound.returncode is None:
            # (it would end on its exit pipe's close; it has nothing to keep) reaped by the
            # engine's reaper, as an environment's killed processes are
            with contextlib.suppress(OSError):
                os.kill(self.outbound.pid, signal.SIGKILL)
            processes.adopt([self.outbound.pid])


def _numeric(host: str) -> str:
    # the names an extension's listener is reached by, inside (no resolver on the engine's side)
    return "127.0.0.1" if host in ("localhost", "sandbox.localdomain", "sandbox") else host


async def _relay_socket(conn: socket.socket, port: int) -> None:
    try:
        reader, writer = await asyncio.open_connection(sock=conn)
    except OSError:
        conn.close()
        return
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        writer.close()
        return
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    for w in (writer, up_writer):
        w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(RELAY_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):  # the other side went (RuntimeError: writing after close)
        writer.close()


def _make(
    relay_ports: Iterable[int], slirp: str | None, helper: NetnsHelper | None = None
) -> NetNamespace:
    """In one of the namespaces' threads: a new namespace, its loopback up, the listening sockets
    inside it (``loopback.inside``); then back. ``slirp``: slirp4netns to attach for outbound
    traffic; ``helper``: the maker that makes it (an unprivileged engine's)."""
    ports = [port for port in relay_ports if port != RUNTIME_API_PORT]
    if helper is not None:
        ns = NetNamespace(*helper.make(ports), helper=helper)
    else:
        ns = NetNamespace(*_make_here(ports))
    if slirp is not None:
        try:
            _attach_slirp(ns, slirp)
        except OSError:
            ns.close()
            raise
    return ns


def _make_here(
    relay_ports: list[int],
) -> tuple[int, socket.socket, socket.socket, dict[int, socket.socket]]:
    if _c().unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(err, f"cannot make a network namespace: {os.strerror(err)}")
    try:
        return inside(relay_ports)
    finally:
        _back()


def _attach_slirp(ns: NetNamespace, slirp: str) -> None:
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    fd = os.dup(ns.fd)  # inherited: slirp4netns opens it as /proc/self/fd/N
    passed = [fd, ready_w, exit_r]
    user = []  # an unprivileged engine's namespace is in its maker's user namespace
    if ns.helper is not None:
        passed.append(os.dup(ns.helper.user_fd))
        user = [f"--userns-path=/proc/self/fd/{passed[-1]}"]
    try:
        ns.outbound = subprocess.Popen(
            [
                slirp,
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                f"--ready-fd={ready_w}",
                f"--exit-fd={exit_r}",
                *user,
                "--netns-type=path",
                f"/proc/self/fd/{fd}",
                "tap0",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=passed,
            start_new_session=True,
        )
    except OSError:
        os.close(ready_r)
        os.close(exit_w)
        raise
    finally:
        for end in passed:
            os.close(end)
    ns.ready_fd, ns.exit_fd = ready_r, exit_w


SPARES = 2  # namespaces kept ready per set of relayed ports (with slirp4netns attached)


@dataclass(slots=True)
class Network:
    """What network an engine's environments get: ``private`` (a namespace each; outbound
    traffic through ``slirp``, or none: ``--network none``, or slirp4netns not installed) or
    the host's (``why_host`` says why)."""

    private: bool
    slirp: str | None
    why_host: str = ""
    resolv_conf: str | None = None  # the environment's resolver, with slirp4netns
    helper: NetnsHelper | None = None  # the maker of an unprivileged engine's namespaces
    _retired: list[NetnsHelper] = field(default_factory=list)  # makers that ended, replaced
    _helper_lock: threading.Lock = field(default_factory=threading.Lock)
    spares: int = SPARES
    # namespaces made ahead (their user-mode stack starting or started), by relayed ports: a
    # cold start takes one instead of waiting ~5 ms for slirp4netns
    _ready: dict[tuple[int, ...], list[NetNamespace]] = field(default_factory=dict)
    _making: set[tuple[int, ...]] = field(default_factory=set)  # being made ahead
    _closed: bool = False

    async def take(self, relay_ports: Iterable[int]) -> NetNamespace:
        """A new environment's network: one made ahead if one is ready, else made now; more
        are made ahead in the background. Raises ``OSError``."""
        key = tuple(relay_ports)
        ready = self._ready.setdefault(key, [])
        ns = ready.pop() if ready else None
        if ns is None:
            loop = asyncio.get_running_loop()
            ns = await loop.run_in_executor(_thread(), self._make, key)
        if len(ready) < self.spares and not self._closed and key not in self._making:
            self._making.add(key)  # (one at a time: a burst does not queue a thousand)
            _thread().submit(self._make_ahead, key)
        return ns

    def _make(self, key: tuple[int, ...]) -> NetNamespace:
        """(In one of the namespaces' threads.) A new namespace; where its maker has ended
        (killed from outside), by a new one: the environments already made keep theirs."""
        helper = self.helper
        try:
            return _make(key, self.slirp, helper)
        except OSError:
            if helper is None or helper.alive() or self._closed:
                raise
        with self._helper_lock:
            if self.helper is helper and not self._closed:  # (not replaced meanwhile)
                helper.stop()  # (its user namespace stays held: its spares still join it)
                self._retired.append(helper)
                self.helper = NetnsHelper()
        return _make(key, self.slirp, self.helper)

    def _make_ahead(self, key: tuple[int, ...]) -> None:
        ready = self._ready.setdefault(key, [])
        try:
            while len(ready) < self.spares and not self._closed:
                ns = self._make(key)
                if self._closed:
                    ns.close()
                    return
                ready.append(ns)
        except OSError:
            return  # (the next take makes its own, and says why if it cannot)
        finally:
            self._making.discard(key)

    def close(self) -> None:
        """The namespaces made ahead go (the environments' own go with them)."""
        self._closed = True
        for ready in self._ready.values():
            while ready:
                ready.pop().close()
        with self._helper_lock:
            for helper in [*self._retired, *([self.helper] if self.helper else [])]:
                helper.close()
            self._retired.clear()

    @classmethod
    def detect(cls, mode: str, namespaces: bool, scratch: Path | None) -> Network:
        """``namespaces``: whether environments get the others (a network namespace is joined
        where they are entered)."""
        if mode not in NETWORK_MODES:
            raise ValueError(f"network {mode!r}: must be one of {', '.join(NETWORK_MODES)}")
        if mode == "host":
            return cls(False, None, "asked for with --network host")
        if not namespaces:
            return cls(False, None, "environments get no namespaces here")
        slirp = shutil.which("slirp4netns") if mode == "auto" else None
        if slirp is None and mode == "auto":
            return cls(
                False,
                None,
                "no user-mode network stack for their outbound traffic: install slirp4netns "
                "(or --network none: their own network, with no outbound traffic)",
            )
        helper = None
        if netns_helper.needed():
            if slirp is not None and not os.access(TUN, os.R_OK | os.W_OK):
                return cls(
                    False,
                    None,
                    f"slirp4netns cannot open {TUN} as this user, for their outbound traffic "
                    "(or --network none: their own network, with no outbound traffic)",
                )
            try:
                helper = NetnsHelper()
                _make((), None, helper).close()
            except OSError as e:
                if helper is not None:
                    helper.close()
                return cls(False, None, f"cannot make a network namespace ({e.strerror or e})")
        else:
            why = probe()
            if why:
                return cls(False, None, why)
        resolv = None
        if slirp is not None and scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
            resolv = str(scratch / "resolv.conf")
            Path(resolv).write_text(f"nameserver {SLIRP_DNS}\n")
            os.chmod(resolv, 0o644)
        return cls(True, slirp, resolv_conf=resolv, helper=helper)

    def describe(self) -> str:
        if not self.private:
            return f"network: the host's ({self.why_host})"
        outbound = (
            "outbound traffic through slirp4netns (not to the host's loopback)"
            if self.slirp
            else "no outbound traffic (--network none)"
        )
        maker = (
            "; made in a user namespace of the workbench's own (the engine is not root)"
            if self.helper is not None
            else ""
        )
        return (
            "network: a namespace of its own per environment (the Runtime API at "
            f"{RUNTIME_API}, the workbench's APIs at their ports; nothing else of the host's "
            f"loopback; nothing can connect in); {outbound}{maker}"
        )


_probed: str | None = None


def probe() -> str:
    """'' if this process can make network namespaces for its environments, else why not."""
    global _probed
    if _probed is None:
        try:
            ns = _thread().submit(_make, (), None).result()
        except OSError as e:
            _probed = f"cannot make a network namespace ({e.strerror or e})"
        else:
            ns.close()
            _probed = ""
    return _probed
