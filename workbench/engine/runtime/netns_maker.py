"""The maker of an unprivileged engine's network namespaces: a small process of its own (run as
``python -I -S netns_maker.py FD``; the standard library only), the engine's side in
``netns_helper.py``.

An engine that is not root cannot make a network namespace (that takes ``CAP_SYS_ADMIN``), and
a multi-threaded process cannot enter a user namespace of its own. This process can: it enters
a new user namespace (the engine's uid is its root there) and a network namespace of its own,
its home, which it never leaves for long. Then, on each request on its control socket (a
``SOCK_SEQPACKET`` pair: one message per request, file descriptors beside it):

- ``make PORT…``: a new network namespace, its loopback up, the Runtime API's listening socket
  at 127.0.0.1:9001 inside, one at each PORT (the workbench's ports, relayed by the engine), a
  sock_diag socket inside (the engine's peer check); then home again. The answer is ``ok`` and
  the descriptors: the namespace, the Runtime API's socket, the sock_diag socket, the relays'
  in PORT order.
- ``socket`` (with a namespace's descriptor): a TCP socket made in that namespace, unconnected
  (the engine connects it to an extension's listener inside).

A failure is answered ``error MESSAGE``. The sockets keep their namespace wherever their
descriptors go, so the engine serves them from its own loop. An environment joins one of these
namespaces by entering this process's user namespace first (its runtime's uid is this
namespace's root, as the engine's uid is: the ownership of the namespace lets it) and then the
network namespace; its own user namespace is made inside. The process ends when the engine
closes its end of the socket, or dies.
"""

import array
import ctypes
import os
import socket
import sys

# the engine's own loopback.py, by its folder (-I leaves the script's folder off the path)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loopback  # type: ignore[import-not-found]  # noqa: E402

del sys.path[0]

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
SIGKILL = 9
MAX_REQUEST = 4096

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _write(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter_own_namespaces(uid, gid):
    """A user namespace where ``uid``/``gid`` (the engine's) are root, and a network namespace
    in it: this process's home. Returns the home's descriptor."""
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNET), "unshare a user and network namespace")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1\n")
    _write("/proc/self/gid_map", f"0 {gid} 1\n")
    return os.open("/proc/self/ns/net", os.O_RDONLY)


def make(ports, home):
    """A new namespace and its sockets (``loopback.inside``), as descriptors in the order the
    module's docstring gives; back home after."""
    _check(_libc.unshare(CLONE_NEWNET), "make a network namespace")
    try:
        fd, runtime, diag, relays = loopback.inside(ports)
    finally:
        _check(_libc.setns(home, CLONE_NEWNET), "return to its own network namespace")
    return [fd, runtime.detach(), diag.detach(), *(relays[port].detach() for port in ports)]


def socket_in(namespace, home):
    _check(_libc.setns(namespace, CLONE_NEWNET), "enter the network namespace")
    try:
        return [socket.socket(socket.AF_INET, socket.SOCK_STREAM).detach()]
    finally:
        _check(_libc.setns(home, CLONE_NEWNET), "return to its own network namespace")


def _receive(sock):
    fds = array.array("i")
    msg, ancdata, _flags, _addr = sock.recvmsg(MAX_REQUEST, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return msg, list(fds)


def _answer(request, fds, home):
    words = request.split()
    if words and words[0] == b"make":
        return make([int(word) for word in words[1:]], home)
    if words == [b"socket"] and len(fds) == 1:
        return socket_in(fds[0], home)
    raise ValueError(f"unknown request {request[:40]!r}")


def serve(control_fd, uid, gid):
    _libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)  # (and the engine's end closing)
    sock = socket.socket(fileno=control_fd)
    try:
        home = enter_own_namespaces(uid, gid)
    except OSError as e:
        sock.send(f"error {e.strerror or e}".encode())
        return
    sock.send(b"ready")
    while True:
        try:
            request, fds = _receive(sock)
        except OSError:
            return
        if not request:
            return
        made = []
        try:
            made = _answer(request, fds, home)
            sock.sendmsg([b"ok"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", made))])
        except (OSError, ValueError) as e:
            message = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            try:
                sock.send(f"error {message}".encode())
            except OSError:
                return
        finally:
            for fd in fds + made:
                os.close(fd)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
