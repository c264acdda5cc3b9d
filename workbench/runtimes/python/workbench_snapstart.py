"""SnapStart inside the runtime: this process, once INIT is done, becomes its version's snapshot,
and every restored environment is a fork of it (``engine/runtime/snapshot_fork.py`` is the
engine's side).

``snapshot`` runs the ``register_before_snapshot`` hooks (once per snapshot), listens on the
socket the engine named, says INIT is over (its first ``/next``), and then only forks: each
request carries a new environment's variables and folder with its stdin and stdout pipes, as a
fork server request does (``workbench_zygote.py``). A short-lived middle process forks the
restore and exits, so the restore is re-parented to the engine (a child subreaper), which waits
for it and kills its process group as for any runtime. In the restore, ``snapshot`` returns: it
takes its own session, pipes and variables, waits for the go-ahead (the engine has moved it into
its own cgroup and set its limits), re-seeds ``random``, connects to its own Runtime API, runs
the ``register_after_restore`` hooks (once per restore) and hands the connection back to the
bootstrap's loop. Standard library only.
"""

import _socket
import os
import sys
import time

from workbench_zygote import join_cgroup, recv_request, replace_environ  # type: ignore[import-not-found]  # beside this file

SNAPSHOT_VAR = "_WORKBENCH_SNAPSHOT"
# awslambdaric's error types and exit codes for failing hooks
BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"


def _hooks():
    """The handler's hooks, if it registered any (the module is only loaded if it was used)."""
    return sys.modules.get("snapshot_restore_py")


def run_before_snapshot():
    hooks = _hooks()
    if hooks is None:
        return
    registry = hooks.get_before_snapshot()
    while registry:  # in the reverse order of registration, as AWS's runtime runs them
        func, args, kwargs = registry.pop()
        func(*args, **kwargs)


def run_after_restore():
    hooks = _hooks()
    if hooks is None:
        return
    for func, args, kwargs in hooks.get_after_restore():
        func(*args, **kwargs)


def _peer_pid(sock):
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[:4], sys.byteorder)


def snapshot(conn, bootstrap):
    """Become the snapshot; returns only in a restored environment, with its connection."""
    env = os.environ
    path = env.pop(SNAPSHOT_VAR)
    try:
        run_before_snapshot()
    except Exception as e:
        error = bootstrap.fault_from_exception(e)
        error["errorType"] = BEFORE_SNAPSHOT_ERROR
        bootstrap.init_error(conn, error)  # exits
    engine = os.getppid()
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(1)
    sys.stdout.flush()
    sys.stderr.flush()
    conn.send(conn.request(b"GET", f"{bootstrap._API_PREFIX}/invocation/next"))  # INIT is over
    while True:  # the engine's connection, and no one else's
        fd, _ = listener._accept()  # (``_socket``: ``socket`` would import enum and more)
        control = _socket.socket(fileno=fd)
        if _peer_pid(control) == engine:
            break
        control.close()
    listener.close()
    try:
        os.unlink(path)
    except OSError:
        pass
    while True:
        try:
            msg, fds = recv_request(control)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)  # the engine let go of the snapshot
        pid = None
        try:
            request = bootstrap.json_loads(msg)
            pid = _fork(request, fds, control, conn)
        except Exception as e:  # noqa: BLE001 - the engine is told, and starts it another way
            answer = f"error {type(e).__name__}: {e}".encode()
        else:
            if pid == 0:  # the restore
                return _restored(request, fds, control, conn, bootstrap)
            answer = str(pid).encode()
        for fd in fds:
            os.close(fd)
        try:
            control.send(answer)
        except OSError:
            os._exit(0)


def _fork(request, fds, control, conn):
    """0 in the restore; its pid in the snapshot (once it has its own session)."""
    if len(fds) != 2:
        raise ValueError(f"expected 2 file descriptors, got {len(fds)}")
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(read)
            join_cgroup(request.get("join") or ())  # (the restore is forked into its cgroup)
            child = os.fork()
            if child == 0:
                os.setsid()  # out of the snapshot's process group before the engine stops it
                os.write(write, str(os.getpid()).encode())
                os.close(write)
        except BaseException:  # noqa: BLE001 - the snapshot reads no pid, and says so
            os._exit(1)
        if child == 0:
            return 0
        os._exit(0)
    os.close(write)
    try:
        os.waitpid(middle, 0)  # the restore is the engine's now
        answer = os.read(read, 32)
    finally:
        os.close(read)
    if not answer:
        raise OSError("the environment could not be restored")
    return int(answer)


def _restored(request, fds, control, conn, bootstrap):
    """In the restore: become the new environment, then hand back its Runtime API connection."""
    stdin, stdout = fds
    os.dup2(stdin, 0)
    os.dup2(stdout, 1)
    os.dup2(stdout, 2)
    for fd in (stdin, stdout):
        os.close(fd)
    control.close()
    conn.sock.close()  # the snapshot's Runtime API; this environment has its own
    replace_environ(request["env"])
    os.chdir(request["cwd"])
    time.tzset()
    try:
        os.read(0, 1)  # the go-ahead: in its cgroup, its limits set
    except OSError:
        pass
    bootstrap._die_with_engine()
    # Every restore would otherwise draw the same numbers as its siblings. UNVERIFIED: Lambda's
    # documentation asks handlers to re-seed themselves (snapstart-uniqueness); a fork here
    # shares the state for certain, so it is re-seeded.
    if "random" in sys.modules:
        sys.modules["random"].seed()
    conn = bootstrap.Connection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        run_after_restore()
    except Exception as e:
        error = bootstrap.fault_from_exception(e)
        error["errorType"] = AFTER_RESTORE_ERROR
        bootstrap.init_error(conn, error)  # exits
    sys.stdout.flush()
    sys.stderr.flush()
    return conn
