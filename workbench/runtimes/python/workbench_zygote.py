"""The fork server: one started interpreter, with our runtime client imported, that every new
Python environment is forked from (``engine/runtime/forkserver.py`` is the engine's side).

A cold start through ``python -I -S ...`` spends ~15 ms on the interpreter's own start before
any of the function's code runs; a fork of this small, ready process takes well under one.

Each request on the control socket (a ``SOCK_SEQPACKET`` pair: one message per request) carries
the environment's variables and folder as JSON, and two file descriptors: the read end of its
go-ahead pipe (its stdin) and the write end of its output pipe (its stdout and stderr). The
environment is the engine's child: the engine waits for it, reads its exit status and usage, and
kills its process group, exactly as for a runtime it exec'd. The answer is its pid. Where it can
(glibc 2.34+, x86_64 or aarch64: ``workbench_sandbox.fork_to_parent``), the server forks it as
the engine's child at once (``clone(CLONE_PARENT)``; in namespaces, for a root engine's
environment with a uid of its own, as PID 1 of a new pid namespace too), and the environment
moves itself into its cgroup (``join_cgroup``) before the server answers. Else a short-lived
middle process does that and forks the environment into its cgroup and namespaces, then exits,
so the environment is re-parented to the engine (a child subreaper); that middle cost ~0.5 ms of
every cold start. The environment then starts as an exec'd runtime would: it waits for the
go-ahead (the engine sets its limits, and on v2 moves it into its cgroup, first), enters its
namespaces if asked, and runs the bootstrap. What a fork shares that must not be shared is
redone in it: the variables (and the time zone read from them), the random module's seed, the
working folder; the Runtime API connection is only ever made by the environment itself.
"""

import _socket
import os
import sys
import time

import bootstrap
import workbench_sandbox

# (``_socket`` and the bootstrap's own JSON reader: an environment forked from here has loaded
# no more modules than an exec'd one)
BASE_VAR = "_WORKBENCH_BASE"  # where to build the environments' shared base (forkserver.py)
MAX_REQUEST = 1 << 20  # the variables of one environment: Lambda allows 4 KB of the function's


def recv_request(sock):
    """One request and the file descriptors passed with it (the snapshot's too)."""
    # (up to 3: its stdin, its stdout, and a namespaced environment's status pipe)
    msg, ancdata, _flags, _addr = sock.recvmsg(MAX_REQUEST, _socket.CMSG_SPACE(3 * 4))
    fds = []
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += [int.from_bytes(data[i : i + 4], sys.byteorder) for i in range(0, len(data), 4)]
    return msg, fds


def serve(control_fd):
    """Answer requests until the engine closes its end (or dies: the socket closes with it)."""
    sock = _socket.socket(fileno=control_fd)
    # (a root engine's namespaced server: the part of every root that is the same, built once)
    workbench_sandbox.build_base(os.environ.pop(BASE_VAR, ""))
    workbench_sandbox.remember_areas()
    _publish_environ({k: v for k, v in os.environ.items() if k != SPACE_VAR}, whole=True)
    while True:
        try:
            msg, fds = recv_request(sock)
        except OSError:
            return
        if not msg:
            return
        try:
            pid = _spawn(parse_request(msg), fds, control_fd)
            answer = str(pid).encode()
        except Exception as e:  # noqa: BLE001 - the engine is told, and starts it another way
            answer = f"error {type(e).__name__}: {e}".encode()
        finally:
            for fd in fds:
                os.close(fd)
        try:
            sock.send(answer)
        except OSError:
            return


def parse_request(msg):
    """A request: its JSON, then (after a NUL, which JSON never holds) the environment's
    variables as ``/proc/PID/environ`` shows them, built by the engine (``"block"``; a new
    fork took ~0.25 ms to build it)."""
    head, _, block = msg.partition(b"\0")
    request = bootstrap.json_loads(head)
    request["block"] = block
    return request


_TO_PARENT = workbench_sandbox.forks_to_parent()


def _spawn(request, fds, control_fd):
    if len(fds) not in (2, 3):
        raise ValueError(f"expected 2 or 3 file descriptors, got {len(fds)}")
    if _TO_PARENT and not request.get("namespaced"):
        return _spawn_to_parent(request, fds, control_fd)
    if _TO_PARENT and len(fds) == 3 and (spec := _pid_first_at_clone(request)) is not None:
        request["spec"] = spec  # (what the environment's _prepare would parse again)
        return _spawn_to_parent(request, fds, control_fd, spec)
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:
        code = 0
        try:
            os.close(read)
            join_cgroup(request.get("join") or ())
            if request.get("namespaced") and len(fds) == 3:
                _pid_first(request)
            pid = os.fork()
            if pid == 0:
                os.close(write)
                _environment(request, fds, control_fd)  # never returns
            os.write(write, str(pid).encode())
        except BaseException:  # noqa: BLE001 - the zygote reads no pid, and says so
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    try:
        os.waitpid(middle, 0)  # the environment is the engine's now
        answer = os.read(read, 32)
    finally:
        os.close(read)
    if not answer:
        raise OSError("the environment could not be forked")
    return int(answer)


def _spawn_to_parent(request, fds, control_fd, spec=None):
    """The environment forked as the engine's child at once
    (``workbench_sandbox.fork_to_parent``), which moves itself into its cgroup first and says
    so before it is answered for; with ``spec`` (``_pid_first_at_clone``), as PID 1 of its own
    pid namespace, which then joins its network (where that fails, its INIT says why). Its pid;
    raises ``OSError`` (naming the pid of a child that could not join: the engine's child,
    which it reaps)."""
    read, write = os.pipe()
    pid = workbench_sandbox.fork_to_parent(0 if spec is None else workbench_sandbox.CLONE_NEWPID)
    if pid == 0:
        try:
            os.close(read)
            join_cgroup(request.get("join") or ())
            if spec is not None:
                try:
                    workbench_sandbox.pid_first_inside(spec)
                except (workbench_sandbox.SandboxError, OSError) as e:
                    workbench_sandbox.failed(request["env"], e)
            os.write(write, b"1")
            os.close(write)
            _environment(request, fds, control_fd)  # never returns
        except BaseException as e:  # noqa: BLE001 - the server answers the error
            try:
                os.write(write, f"{type(e).__name__}: {e}".encode()[:200])
            except OSError:
                pass
        finally:
            os._exit(1)  # (only if it could not become the environment: that never returns)
    os.close(write)
    try:
        told = os.read(read, 256)
    finally:
        os.close(read)
    if told != b"1":
        why = told.decode(errors="replace") or "it ended first"
        raise OSError(f"the environment could not join its cgroup: {why} [pid {pid}]")
    return pid


def _pid_first_at_clone(request):
    """The environment's parsed description, if its pid namespace can be made as it is forked
    (``workbench_sandbox.pid_first_at_clone``), else None."""
    env = request["env"]
    if workbench_sandbox.SANDBOX_ERROR_VAR in env:
        return None
    return workbench_sandbox.pid_first_at_clone(env.get(workbench_sandbox.SPEC_VAR, ""))


def _pid_first(request):
    """(The middle process.) The environment's own pid namespace, made here so that the
    environment's process is its PID 1 and the engine's child (``workbench_sandbox.pid_first``:
    one process fewer per environment than a parent outside that waits for an init inside), or
    its extensions', joined here, so that it is the runtime in them. Where that fails, the
    environment's INIT says why."""
    env = request["env"]
    if workbench_sandbox.SANDBOX_ERROR_VAR in env:
        return
    try:
        workbench_sandbox.pid_first(env.get(workbench_sandbox.SPEC_VAR, ""))
    except (workbench_sandbox.SandboxError, OSError, ValueError) as e:
        workbench_sandbox.failed(env, e)


def join_cgroup(tasks_files):
    """Move this (single-threaded) process into the environment's cgroup, so the environment
    forked from it starts there: a thread writing ``0`` to v1's ``tasks`` moves itself without
    the kernel's global lock that moving another process takes (and its ~10 ms wait). A
    failure ends this process: the engine is told and starts the environment another way."""
    for path in tasks_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


SPACE_VAR = "_WORKBENCH_ENVIRON_SPACE"  # (forkserver.BASE_ENV): the room it holds
_server_block = 0  # bytes of that block the server's own variables take (``serve``)


def _publish_environ(env, whole=False, block=None, title=None):
    """Write the environment's variables where ``/proc/PID/environ`` reads them (the block
    the kernel recorded at the server's exec, which the engine padded for this): tools, and
    the engine's search for a daemon re-parented to it, know the process by them, as they know
    an exec'd runtime. Past the block's size, the rest is left out there (not in os.environ).
    The server writes its own once over the ``whole`` block (NULs after them), so that an
    environment writes only as many bytes as its variables take, not 64 KB: each page written
    is a page copied for it. ``block``: ``env`` so written already (the engine's). ``title``:
    the command line ``/proc/PID/cmdline`` shows, written in the same write where the arguments'
    block ends where the variables' begins (``workbench_sandbox.set_cmdline``)."""
    global _server_block
    try:
        arg_start, arg_end, start, end = workbench_sandbox.areas()
        if not block:
            block = b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items())
        block = block[: end - start]
        # (over all of the server's own, where its variables take less)
        size = end - start if whole else min(end - start, max(len(block), _server_block))
        data = block.ljust(size, b"\0")
        if title is not None and arg_end == start:
            data = workbench_sandbox.cmdline_block(title, arg_end - arg_start) + data
            start = arg_start
        elif title is not None:
            workbench_sandbox.set_cmdline(title)
        fd = os.open("/proc/self/mem", os.O_RDWR)
        try:
            os.pwrite(fd, data, start)
        finally:
            os.close(fd)
        if whole:
            _server_block = len(block)
    except (OSError, ValueError, IndexError):
        pass  # (the variables are the process's all the same)


_clearenv = workbench_sandbox.libc_function("clearenv")


def replace_environ(env):
    """``os.environ``, and the C library's environment a program it execs inherits, become
    exactly ``env``. In a new fork ~0.35 ms, where ``os.environ.clear()`` and ``update()`` took
    ~0.8 (their loops run in Python, and each page they touch is copied first): the C library's
    is cleared in one call and set with ``putenv``, ``os.environ``'s dict (``os.environb``'s
    too: one dict) replaced in place. A name ``putenv`` refuses raises, as ``update`` would."""
    encoding = sys.getfilesystemencoding()
    new = {
        key.encode(encoding, "surrogateescape"): value.encode(encoding, "surrogateescape")
        for key, value in env.items()
    }
    _clearenv()
    for key, value in new.items():
        os.putenv(key, value)
    data = os.environ._data  # (os._Environ's own: one dict for os.environ and os.environb)
    data.clear()
    data.update(new)


def _block(request):
    """The engine's block of the environment's variables, unless a failure added one."""
    if workbench_sandbox.SANDBOX_ERROR_VAR in request["env"]:
        return None
    return request.get("block")


def _prepare(request):
    """The namespaces' first half (``workbench_sandbox.prepare``), in the environment's process
    while the engine sets its limits (not in the server's middle process, which does only the
    few calls of ``_pid_first``: the server forks one environment at a time, and a burst of cold
    starts would wait behind each one's mounts); None if it failed (INIT then says why)."""
    env = request["env"]
    try:
        raw = env.pop(workbench_sandbox.SPEC_VAR, "")
        if workbench_sandbox.SANDBOX_ERROR_VAR in env:
            workbench_sandbox.join_network_only(raw)
            return None
        spec = request.get("spec") or workbench_sandbox.parse(raw)  # (parsed by the server)
        return workbench_sandbox.prepare(spec)
    except (workbench_sandbox.SandboxError, OSError, ValueError) as e:
        workbench_sandbox.failed(env, e)
        return None


def _environment(request, fds, control_fd):
    """In the environment's process: become what an exec'd runtime is, then run it."""
    code = 1
    try:
        namespaced = request.get("namespaced")
        # PID 1 of our runtime client's namespaces (``_pid_first``) forks it before anything
        # is built (``init_first``); another runtime's (an extension's namespaces are joined
        # through its init's /proc/PID/ns) builds its root first, then forks it
        init_first = namespaced and os.getpid() == 1 and len(fds) == 3
        init_first = init_first and workbench_sandbox.EXEC_VAR not in request["env"]
        prepared = _prepare(request) if namespaced and not init_first else None
        os.setsid()  # its own process group: the engine freezes and kills it by it
        stdin, stdout = fds[:2]
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stdout, 2)
        kept = 3
        if len(fds) == 3 and os.getpid() == 1:  # how its runtime ends goes there (_pid_first)
            os.dup2(fds[2], workbench_sandbox.STATUS_FD)
            kept = workbench_sandbox.STATUS_FD + 1
        os.closerange(kept, 1 << 16)  # the control socket, the zygote's own
        if init_first:
            # the init is known by the environment's variables too: the watchdog checks that a
            # group's leader carries them before it kills the group after the engine's death
            # (the runtime's process, its fork, shows the same block without writing it again)
            # and with the runtime's command line, which it then need not write (its init's
            # own is written after the fork, off the runtime's way)
            spec = workbench_sandbox.SPEC_VAR
            env = {k: v for k, v in request["env"].items() if k != spec}
            title = workbench_sandbox.runtime_title()
            _publish_environ(env, block=_block(request), title=title)
            workbench_sandbox.titled_ahead = True
            workbench_sandbox.init_first(env)  # returns in the runtime's process, PID 2
            prepared = _prepare(request)
        replace_environ(request["env"])
        if not init_first:
            _publish_environ(request["env"], block=_block(request))
        if not workbench_sandbox.joined_ahead:  # (in its namespaces, the host's path is not)
            os.chdir(request["cwd"])
        time.tzset()  # TZ is the function's now
        if "random" in sys.modules:  # (not imported here today: a handler's import seeds it)
            sys.modules["random"].seed()
        if request.get("namespaced") and workbench_sandbox.EXEC_VAR in os.environ:
            workbench_sandbox.exec_runtime(prepared)  # another runtime: it becomes that
        elif request.get("namespaced"):
            workbench_sandbox.go(bootstrap, prepared)
        else:
            bootstrap.start()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - as an interpreter would end on it
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
