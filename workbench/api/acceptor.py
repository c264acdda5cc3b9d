"""Accepting connections: at most a cap open at once, and calm when descriptors run out.

asyncio's own accept loop (``loop.create_server``) takes every connection that arrives and, when
the process is out of file descriptors, logs a traceback for each failed ``accept()`` (and, on
Python 3.11, retries a hundred times per wake-up): ~1,000 idle clients at ``ulimit -n 1024``
made it log 1.25 M tracebacks in under a minute while every API call hung. Here:

- past the cap, new connections wait in the kernel's backlog; when one is waiting at the cap,
  the least recently used idle keep-alive connection is closed to make room for it (as nginx
  reuses idle connections), so idle clients cannot lock out a working one;
- when ``accept()`` fails for want of descriptors (EMFILE, ENFILE) or memory, one warning line
  (at most one a minute), the cap drops below the connections open so that descriptors are left
  for the engine, and accepting resumes by itself as connections close (the full cap returns
  once descriptors have not run out for ``RESTORE_AFTER_S``). Never a busy loop: between
  attempts it waits for a connection to close or for a back-off of up to a second.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Callable
from typing import Protocol

from .limits import ConnectionLimits

RESERVE_FDS = 32  # descriptors left to the engine once they run out (at most half of ours)
RESTORE_AFTER_S = 30.0
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 1.0
WARN_EVERY_S = 60.0
# accept() failed for want of a resource of the process or the system: wait, then try again
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# accept() failed for one connection only (reset before it was taken, refused by a firewall
# hook): take the next one
ONE_CONNECTION = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EINTR})


class Connection(Protocol):
    """What the acceptor needs of an open connection's protocol."""

    def idle(self) -> bool:
        """No request in progress or begun, nothing left to send: safe to close."""
        ...

    def evict(self) -> None:
        """Close it now, to make room for a waiting connection."""
        ...


class Acceptor:
    """The listening sockets of one server and the connections accepted on them.

    ``factory(acceptor)`` makes the protocol for each connection; that protocol reports back
    with ``opened``, ``used`` and ``closed``, which is what the cap counts.
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[Acceptor], asyncio.Protocol],
        limits: ConnectionLimits,
        log: logging.Logger,
    ) -> None:
        self.name = name
        self.factory = factory
        self.limits = limits
        self.log = log
        self.limit = limits.max_connections
        self.port = 0
        self.sockets: list[socket.socket] = []
        # least recently used first: the first idle one is the one to evict
        self.open: dict[Connection, None] = {}
        self.accepted = 0
        self.evicted = 0
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._short_since: float | None = None  # when descriptors last ran out
        self._warned_at = -WARN_EVERY_S

    # ----------------------------------------------------------------- listening

    async def bind(self, host: str, port: int) -> int:
        """Bind every address ``host`` resolves to (one port for all); the bound port.

        Raises ``OSError`` when an address cannot be bound (the port is taken, not allowed).
        """
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        seen: set[tuple[int, object]] = set()
        try:
            for family, kind, proto, _, address in infos:
                if (family, address) in seen:
                    continue
                seen.add((family, address))
                if self.port:  # port 0: the other addresses take the port the first got
                    address = (address[0], self.port, *address[2:])
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if family == socket.AF_INET6:
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    sock.bind(address)
                    sock.listen(self.limits.backlog)
                    sock.setblocking(False)
                except OSError:
                    sock.close()
                    if port == 0 and self.sockets:
                        continue  # the port the first address got is taken on this one
                    raise
                self.sockets.append(sock)
                self.port = self.port or sock.getsockname()[1]
        except OSError:
            self._close_sockets()
            raise
        return self.port

    def start(self) -> None:
        for sock in self.sockets:
            self._tasks.append(asyncio.create_task(self._accept_forever(sock)))

    async def close(self) -> None:
        """Stop accepting (the connections themselves are closed by their server)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    # ----------------------------------------------------------------- connections

    def opened(self, conn: Connection) -> None:
        self.open[conn] = None

    def used(self, conn: Connection) -> None:
        """``conn`` began a request: it is now the most recently used."""
        if conn in self.open:
            del self.open[conn]
            self.open[conn] = None

    def closed(self, conn: Connection) -> None:
        if conn in self.open:
            del self.open[conn]
            self._changed.set()

    # ----------------------------------------------------------------- the accept loop

    async def _accept_forever(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        delay = BACKOFF_FIRST_S
        while True:
            await self._room(sock)
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as e:
                if sock.fileno() < 0:
                    return  # closed
                if e.errno in ONE_CONNECTION:
                    continue
                if e.errno in OUT_OF_RESOURCES:
                    self._ran_out(e)
                else:  # not expected: say so once a minute, keep serving
                    self._warn(f"accept() failed: {e.strerror or e}; retrying")
                self._changed.clear()
                await self._wait_for_change(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            delay = BACKOFF_FIRST_S
            self.accepted += 1
            try:
                await loop.connect_accepted_socket(lambda: self.factory(self), conn)
            except OSError:
                conn.close()  # it went away before it could be set up
            except Exception:  # noqa: BLE001 - a bug in one connection must not stop the server
                conn.close()
                self.log.exception("%s: could not set up a connection", self.name)

    async def _room(self, sock: socket.socket) -> None:
        """Wait until another connection may be accepted; when one is waiting at the cap,
        close the least recently used idle connection to make room for it."""
        while True:
            self._restore_when_calm()
            if len(self.open) < self.limit:
                return
            timeout = None
            if self._short_since is not None:
                timeout = max(0.0, self._short_since + RESTORE_AFTER_S - time.monotonic())
            self._changed.clear()
            if not await self._arrival_or_change(sock, timeout):
                continue  # one closed (or the cap may be restored): look again
            victim = next((conn for conn in self.open if conn.idle()), None)
            if victim is not None:
                self.evicted += 1
                self._changed.clear()
                victim.evict()
            await self._wait_for_change(timeout)  # for its close, or any other

    async def _arrival_or_change(self, sock: socket.socket, timeout: float | None) -> bool:
        """True when a connection waits to be accepted on ``sock``; False when one of ours
        closed first, or ``timeout`` passed."""
        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[bool] = loop.create_future()

        def readable() -> None:
            if not arrived.done():
                arrived.set_result(True)

        loop.add_reader(sock.fileno(), readable)
        changed: asyncio.Future[bool] = asyncio.ensure_future(self._changed.wait())
        try:
            done, _ = await asyncio.wait(
                {arrived, changed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            loop.remove_reader(sock.fileno())
            arrived.cancel()
            changed.cancel()
        return arrived in done and not self._changed.is_set()

    async def _wait_for_change(self, timeout: float | None) -> None:
        """Until a connection closes (a descriptor came free), or ``timeout`` passes."""
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # comes as the event is set, and close() would wait for this task forever
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            pass

    def _ran_out(self, e: OSError) -> None:
        now = time.monotonic()
        held = len(self.open)
        self.limit = min(self.limit, max(1, held - min(RESERVE_FDS, held // 2)))
        self._short_since = now
        code = errno.errorcode.get(e.errno or 0, "?")
        self._warn(
            f"cannot accept connections: {e.strerror} ({code}) with {held} open; accepting at "
            f"most {self.limit} at once to leave descriptors for the engine (new connections "
            "wait in the kernel's backlog) until they free up"
        )

    def _restore_when_calm(self) -> None:
        since = self._short_since
        if since is not None and time.monotonic() - since >= RESTORE_AFTER_S:
            self._short_since = None
            self.limit = self.limits.max_connections
            self.log.info("%s: accepting up to %d connections again", self.name, self.limit)

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            self.log.warning("%s: %s", self.name, message)
