"""Naming the process at the other end of a loopback connection (runtime/peers.py)."""

from __future__ import annotations

import os
import socket
import subprocess

from workbench.engine.runtime import peers


def _inode_of(sock: socket.socket) -> int:
    link = os.readlink(f"/proc/self/fd/{sock.fileno()}")  # socket:[12345]
    return int(link[len("socket:[") : -1])


def test_the_peers_socket_is_named_by_sock_diag_and_by_proc_net_tcp() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, (_, peer_port) = server.accept()
            with accepted:
                inode = _inode_of(client)
                assert peers.peer_inode(peer_port, port) == inode
                assert peers._from_proc(peer_port, port) == inode  # the fallback agrees
                assert peers.holds_socket([os.getpid()], inode)
                other = subprocess.Popen(["sleep", "30"], close_fds=True)
                try:  # another process, which holds no socket of ours
                    assert not peers.holds_socket([other.pid], inode)
                finally:
                    other.kill()
                    other.wait()
                # a connection that does not exist has no peer
                assert peers.peer_inode(peer_port, port + 1 if port < 65535 else 1) is None
