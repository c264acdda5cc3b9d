"""Listening sockets on a loopback, and what a new network namespace needs inside it.

The Runtime API listens on 127.0.0.1 in the engine's own namespace (``runtime_api.py``) or at
Lambda's 127.0.0.1:9001 in an environment's own; that namespace is made either by the engine
(``netns.py``, in one of its threads) or by its maker process (``netns_maker.py``, which runs
with no workbench on its path and loads this file by its folder: standard library only, no
relative imports).
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

RUNTIME_API_PORT = 9001  # Lambda's: AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001
BACKLOG = 16  # the Runtime API's (as many as the connections it takes)
RELAY_BACKLOG = 128  # a handler's SDK may open many connections to the workbench's APIs at once
NETLINK_SOCK_DIAG = 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def listener(port: int, backlog: int = BACKLOG) -> socket.socket:
    """A non-blocking socket listening on 127.0.0.1:``port`` (0: any free port) of the calling
    thread's network namespace."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def loopback_up() -> None:
    """Bring up ``lo`` in the calling thread's network namespace (a new one's is down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def inside(
    relay_ports: list[int],
) -> tuple[int, socket.socket, socket.socket, dict[int, socket.socket]]:
    """In a network namespace just made, in the thread that made it: its loopback up, and its
    descriptor, the Runtime API's listening socket at 127.0.0.1:9001, a sock_diag socket (the
    engine's peer check) and a listening socket at each of ``relay_ports`` (the workbench's
    ports, relayed by the engine; 9001 is not one), all inside it. Nothing is left open if a
    step fails."""
    made: list[socket.socket] = []
    fd = -1
    try:
        loopback_up()
        fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        runtime = listener(RUNTIME_API_PORT)
        made.append(runtime)
        diag = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
        made.append(diag)
        relays = {}
        for port in relay_ports:
            relays[port] = listener(port, RELAY_BACKLOG)
            made.append(relays[port])
    except BaseException:
        for sock in made:
            sock.close()
        if fd >= 0:
            os.close(fd)
        raise
    return fd, runtime, diag, relays
