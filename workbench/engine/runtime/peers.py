"""Who is at the other end of a loopback connection to an environment's Runtime API.

Every environment's Runtime API listens on the host's loopback, so without network namespaces any
process on the machine could connect to it: another environment's handler could take this one's
event from ``/next`` and post a forged response. The engine therefore accepts a connection only
from a process of the environment itself: the kernel tells which socket the peer holds (its
inode, by the connection's four addresses, through the sock_diag netlink interface, O(1)), and
that socket must be one of the environment's processes' open files.
"""

from __future__ import annotations

import os
import socket
import struct
import threading

from .loopback import NETLINK_SOCK_DIAG

SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
INET_DIAG_NOCOOKIE = 0xFFFFFFFF
_HEADER = struct.Struct("=IHHII")  # nlmsghdr
_INODE_AT = _HEADER.size + 4 + 48 + 16  # inet_diag_msg: ..., idiag_uid, idiag_inode

_lock = threading.Lock()
_netlink: socket.socket | None = None


def _sockid(sport: int, dport: int) -> bytes:
    loopback = socket.inet_aton("127.0.0.1") + bytes(12)
    return (
        struct.pack(">HH", sport, dport)
        + loopback
        + loopback
        + struct.pack("=III", 0, INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE)
    )


def peer_inode(peer_port: int, local_port: int, netlink: socket.socket | None = None) -> int | None:
    """The inode of the socket at 127.0.0.1:``peer_port`` connected to 127.0.0.1:``local_port``
    (a connection our listener accepted); None if the kernel does not know it (gone already).
    ``netlink``: a sock_diag socket made in the environment's own network namespace
    (``netns.py``), where its connections are; else the engine's own."""
    global _netlink
    body = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
    body += _sockid(peer_port, local_port)
    request = _HEADER.pack(_HEADER.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
    with _lock:
        try:
            if netlink is None:
                if _netlink is None:
                    _netlink = socket.socket(
                        socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG
                    )
                netlink = _netlink
            netlink.send(request + body)
            answer = netlink.recv(8192)
        except OSError:
            return _from_proc(peer_port, local_port)
    if len(answer) < _INODE_AT + 4:
        return None
    kind = _HEADER.unpack_from(answer)[1]
    if kind == NLMSG_ERROR:
        return None
    return int(struct.unpack_from("=I", answer, _INODE_AT)[0])


def _from_proc(peer_port: int, local_port: int) -> int | None:
    """The same from /proc/net/tcp (O(sockets)), where sock_diag is not there."""
    want = f"0100007F:{peer_port:04X} 0100007F:{local_port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 9 and f"{fields[1]} {fields[2]}" == want:
                    return int(fields[9])
    except OSError:
        return None
    return None


def holds_socket(pids: list[int], inode: int) -> bool:
    """Does one of ``pids`` have the socket ``inode`` open?"""
    return holder_of(pids, inode) is not None


def holder_of(pids: list[int], inode: int) -> int | None:
    """The first of ``pids`` that has the socket ``inode`` open, if one has."""
    target = f"socket:[{inode}]"
    for pid in pids:
        folder = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(folder)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{folder}/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None
