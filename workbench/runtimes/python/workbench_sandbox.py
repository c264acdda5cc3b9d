"""Enter an execution environment's namespaces, as Lambda's sandbox is, before any of the
function's code — and before our runtime client is even imported — with only the standard
library (``_ctypes``, not ``ctypes``, which costs ~2 ms to import).

The engine starts the runtime process (P) as ``python -I -S -c "...workbench_sandbox.run()"``
in the host's namespaces, sets its limits and cgroup, then sends the go-ahead (see
``engine/runtime/sandbox.py``). P then:

1. joins the network namespace the engine made for it, if any (``engine/runtime/netns.py``:
   its own loopback, its Runtime API at 127.0.0.1:9001 there), then
   unshares user, mount, pid, ipc and uts namespaces and maps one user: ``sbx_user1051``
   inside is the engine's own user outside (so files the engine can read stay readable, and
   nothing else of the host is reachable, because it is not mounted);
2. builds the environment's file system on a small tmpfs: the system directories read-only,
   the function's code at ``/var/task``, its layers at ``/opt``, this runtime at
   ``/var/runtime``, a private ``/tmp``; no state dir, no other function, no ``$HOME``;
3. forks PID 1 of the new pid namespace (an init that reaps every child and exits with the
   runtime), which mounts ``/proc`` for the namespace, pivots into the new root and forks the
   runtime (PID 2), which runs our runtime client with no capabilities left.

P stays outside, waits for PID 1 and ends as the runtime ended (the same exit code, or killed by
the same signal), so the engine sees one process that behaves as the runtime.

Through a fork server (``workbench_zygote.py``) there is no P: the server's short-lived middle
process joins the network, makes the user namespace and a new pid namespace (``pid_first``), and
forks the environment's process into it as its PID 1, the engine's child once the middle ends;
or, for a root engine's environment with a uid of its own, the server clones it as the engine's
child in a new pid namespace at once, and it joins its network itself (``pid_first_at_clone``,
``fork_to_parent``). That process is the init: for our runtime client, it waits for the go-ahead
and forks the runtime's process at once, which does steps 2 and 3 itself (``init_first``: the
init builds nothing, so it keeps next to none of the interpreter's pages); another runtime's
init does step 2 and forks it in step 3. The init writes how the runtime ended to the engine's
status pipe (``STATUS_FD``) before it ends with the runtime's exit code (PID 1 cannot be killed
by the runtime's signal): two processes per environment, not three.

With a ``join`` record (a function with extensions: the first extension made the
environment's namespaces), nothing is built: P joins that environment's network, user, cgroup,
ipc, uts, mount and pid namespaces and forks the runtime into them, under the init already
there (which reaps its orphans), and waits for it as above; through a fork server, the middle
joins them and the environment's process is the runtime itself. When PID 1 ends,
the kernel kills every process left in the namespace: nothing a handler started outlives it.
All this happens while the interpreter is still small: every page a forked process writes is
copied first, and the runtime has not yet grown.
"""

import _ctypes
import _signal  # type: ignore[import-not-found]  # (signal would import enum)
import os
import sys

import workbench_init

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
SIGKILL = 9
_SYSCALLS = {  # pivot_root, capset
    "x86_64": (155, 126),
    "aarch64": (41, 91),
}
# statvfs flags -> mount flags that a bind's remount must keep (the kernel refuses to clear
# flags that a less privileged namespace inherited locked)
_KEPT = (
    (1, MS_RDONLY),
    (2, MS_NOSUID),
    (4, MS_NODEV),
    (8, MS_NOEXEC),
    (1024, MS_NOATIME),
    (2048, MS_NODIRATIME),
    (4096, MS_RELATIME),
)
# what Lambda's execution environment runs as (``id`` in a Lambda function; UNVERIFIED
# against a current runtime: 993/990 as AWS's images have them)
UID, GID, USER = 993, 990, "sbx_user1051"


class SandboxError(Exception):
    """The environment's namespaces could not be set up (the message says which step)."""


class _ULong(_ctypes._SimpleCData):
    _type_ = "L"


class _Long(_ctypes._SimpleCData):
    _type_ = "l"


class _Int(_ctypes._SimpleCData):
    _type_ = "i"


class _Function(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _LongFunction(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Long


_libc = _ctypes.dlopen(None)  # type: ignore[arg-type]  # (None: the program itself)


def libc_function(name, cls=_Function):
    """A function of the C library (through ``_ctypes``: ``ctypes`` costs ~2 ms to import)."""
    return cls(_ctypes.dlsym(_libc, name))


_unshare = libc_function("unshare")
_setns = libc_function("setns")
_mount = libc_function("mount")
_umount2 = libc_function("umount2")
_prctl = libc_function("prctl")
_syscall = libc_function("syscall", _LongFunction)


class _PythonLongFunction(_ctypes.CFuncPtr):  # (the GIL kept across the call, as os.fork does)
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Long


class _PythonVoidFunction(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI
    _restype_ = None


CLONE_PARENT = 0x00008000
SIGCHLD = 17
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)


def fork_to_parent(flags=0):
    """``os.fork``, except that the child is this process's parent's child, not its own
    (``clone(CLONE_PARENT)``): a fork server's environment is the engine's child at once,
    without a middle process forked only to end (its fork and its Python were ~1 ms of each
    cold start). Around the clone, what ``os.fork`` does around ``fork()``:
    ``PyOS_BeforeFork``, then ``PyOS_AfterFork_Child`` or ``_Parent`` (the interpreter's locks,
    threads and at-fork hooks). What glibc's ``fork()`` adds is for threads this single-threaded
    server has not (its locks), and its cached thread id, which only a signal to the thread
    itself read (``pthread_kill``), and reads from the kernel since glibc 2.34. Returns as
    ``os.fork`` does; raises ``OSError`` (not on a machine ``forks_to_parent`` refuses).
    ``flags``: more of clone's (``CLONE_NEWPID``: the child is PID 1 of a pid namespace).
    """
    _before_fork()
    flags |= CLONE_PARENT | SIGCHLD
    pid = _clone(_Long(_SYS_CLONE), _ULong(flags), None, None, None, None)
    if pid == 0:
        _after_fork_child()
        return 0
    _after_fork_parent()
    if pid < 0:
        raise OSError(_ctypes.get_errno(), "clone(CLONE_PARENT)")
    return pid


def forks_to_parent():
    """Can ``fork_to_parent`` be used here: a known clone number, and glibc 2.34 or later
    (before it, ``pthread_kill`` of the thread itself used the cached id, its parent's)?"""
    if _SYS_CLONE is None:
        return False
    try:
        libc, version = os.confstr("CS_GNU_LIBC_VERSION").split()
        major, minor = (int(n) for n in version.split(".")[:2])
    except (ValueError, OSError, AttributeError):
        return False
    return libc == "glibc" and (major, minor) >= (2, 34)


_clone = libc_function("syscall", _PythonLongFunction)
_before_fork = libc_function("PyOS_BeforeFork", _PythonVoidFunction)
_after_fork_child = libc_function("PyOS_AfterFork_Child", _PythonVoidFunction)
_after_fork_parent = libc_function("PyOS_AfterFork_Parent", _PythonVoidFunction)


def _check(result, what):
    if result < 0 if isinstance(result, int) else result.value < 0:
        errno = _ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(errno)} (errno {errno})")


def _b(path):
    return path.encode() if path is not None else None


def mount(source, target, fstype, flags, data=None):
    _check(
        _mount(_b(source), _b(target), _b(fstype), _ULong(flags), _b(data)),
        f"mount {source or fstype} on {target}",
    )


def _write(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _bind(source, target, *, read_only=True):
    """Bind ``source`` (a file or a folder) at ``target`` (inside the new root), read-only
    unless asked; a missing source is skipped (``/lib32`` exists on some hosts only)."""
    try:
        is_dir = os.path.isdir(source)
        os.lstat(source)
    except OSError:
        return
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        kept = os.statvfs(target).f_flag
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
        for st, ms in _KEPT:
            if kept & st:
                flags |= ms
        mount(None, target, None, flags)


def _link_or_bind(name, root):
    """A top-level system entry: the same symlink where the host has one (``/bin -> usr/bin``),
    else a read-only bind."""
    path = "/" + name
    try:
        target = os.readlink(path)
    except OSError:
        _bind(path, root + path)
        return
    os.symlink(target, root + path)


SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


SPEC_VAR = "_WORKBENCH_SANDBOX"
SANDBOX_ERROR_VAR = "_WORKBENCH_SANDBOX_ERROR"  # bootstrap.py fails INIT with it
RECORD, FIELD = "\x1e", "\x1f"  # (no JSON parser is loaded yet; neither occurs in a path)


def parse(raw):
    """The engine's description (``engine/runtime/namespaces.py``): records of fields,
    ``root PATH`` / ``etc VIEW`` / ``uid UID`` / ``net NAMESPACE [USERNS]`` / ``bind SOURCE TARGET
    ro|rw`` / ``over SOURCE TARGET`` / ``opt LAYER`` / ``join NS_FOLDER``."""
    spec = {"root": None, "etc": None, "uid": None, "net": None, "binds": [], "over": [], "opt": []}
    spec["join"] = None
    for record in raw.split(RECORD):
        kind, *fields = record.split(FIELD)
        if kind == "root" and len(fields) == 1:
            spec["root"] = fields[0]
        elif kind == "etc" and len(fields) == 1:
            spec["etc"] = fields[0]
        elif kind == "uid" and len(fields) == 1 and fields[0].isdigit():
            spec["uid"] = int(fields[0])
        elif kind == "net" and len(fields) in (1, 2):
            spec["net"] = fields  # its path, and the user namespace to join first, if any
        elif kind == "bind" and len(fields) == 3:
            spec["binds"].append(fields)
        elif kind == "over" and len(fields) == 2:
            spec["over"].append(fields)
        elif kind == "opt" and len(fields) == 1:
            spec["opt"].append(fields[0])
        elif kind == "join" and len(fields) == 1:
            spec["join"] = fields[0]  # /proc/PID/ns of the environment's init: join, not build
        elif record:
            raise SandboxError(f"cannot read the engine's description: {record!r}")
    if not spec["root"]:
        raise SandboxError("the engine's description names no root")
    return spec


def _build_root(root, spec):
    """The environment's new root at ``root``: a small tmpfs of its own with the system's
    folders, then the function's own binds (``_bind_function``); or, where the fork server
    built one (``base_root``) and it has a place for each of the function's binds, a bind of
    that base with the function's binds on top (one recursive bind instead of ~20 mounts)."""
    if base_root is not None and _fits_base(spec):
        mount(base_root, root, None, MS_BIND | MS_REC)
    else:
        mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        _build_base(root)
    _bind_function(root, spec)


def _build_base(root):
    """What every environment's root holds: the system's folders (read-only), the devices a
    runtime uses, the interpreter's install, and the places the function's binds go."""
    for name in SYSTEM:
        _link_or_bind(name, root)
    for name in DEVICES:
        _bind("/dev/" + name, root + "/dev/" + name, read_only=False)
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{root}/dev/{name}")
    # the interpreter running this, where it lives (a pyenv or uv Python outside /usr)
    prefix = sys.base_prefix
    if not prefix.startswith("/usr/"):
        _bind(prefix, root + prefix)
    for name in BASE_FOLDERS:
        os.makedirs(f"{root}/{name}", exist_ok=True)


# the places the function's binds go (and /proc, /sys/fs/cgroup: its own mounts)
BASE_FOLDERS = (
    "etc",
    "opt",
    "proc",
    "tmp",
    "var/task",
    "var/runtime",
    "home/" + USER,
    "sys/fs/cgroup",
)


def _bind_function(root, spec):
    """The environment's own binds: ``/etc``, its code, the runtime, its ``/tmp``, ...; and its
    layers merged at ``/opt``."""
    if spec.get("etc"):  # the engine's view of /etc, users included: one mount (namespaces.py)
        _bind(spec["etc"], root + "/etc")
    for source, target, mode in spec["binds"]:
        _bind(source, root + target, read_only=mode != "rw")
    for source, target in spec.get("over") or []:  # files that exist there (/var/task is ro)
        if os.path.isfile(root + target):
            _bind(source, root + target)
    layers = spec.get("opt") or []
    os.makedirs(root + "/opt", exist_ok=True)
    if len(layers) == 1:
        _bind(layers[0], root + "/opt")
    elif layers:  # merged in order: a later layer's file wins, as when Lambda extracts them
        lower = ":".join(reversed(layers))
        mount("overlay", root + "/opt", "overlay", MS_RDONLY | MS_NOSUID, f"lowerdir={lower}")


base_root = None  # a fork server's prebuilt root (``build_base``); its environments bind it


def build_base(path):
    """(A root fork server, at its start.) Build at ``path``, on the host, the part of every
    environment's root that is the same for all (``_build_base``), read-only: each environment
    then binds it whole (``_build_root``). Mounted in the host's mount namespace, so that what
    the engine mounts later (each environment's TMPDIR image) is there when an environment
    copies it; the engine unmounts it with its folder. Where it cannot (not root, no mount),
    environments build their root themselves, as before."""
    global base_root
    if not path or os.geteuid() != 0 or os.uname().machine not in _SYSCALLS:
        return
    try:
        os.makedirs(path, mode=0o755)
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    except (OSError, SandboxError):
        return
    try:
        _build_base(path)
        mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except (OSError, SandboxError):
        _umount2(path.encode(), _Int(MNT_DETACH))  # (its binds with it)
        return
    base_root = path


def _fits_base(spec):
    """Has the base a place for each of the function's binds? Its own folders, or a place
    inside another bind (``/etc/resolv.conf``): an interpreter's install bound at its own path
    may have none (the base is read-only), and that environment builds its own root."""
    bound = ["/etc", *(target for _, target, _ in spec["binds"])]
    for _, target, _ in spec["binds"]:
        if os.path.lexists(base_root + target):
            continue
        if not any(target.startswith(other + "/") for other in bound):
            return False
    return True


def _mount_cgroups(root):
    """The environment's own cgroups at ``/sys/fs/cgroup``, read-only, in a cgroup namespace
    rooted at them: a runtime that sizes itself from its cgroup (the JVM, Node's
    ``process.constrainedMemory()``, .NET, Go's GOMAXPROCS libraries) finds the function's memory
    and CPU there, as in Lambda's environment, instead of the host's RAM; and ``/proc/self/cgroup``
    names no host path. v1: each hierarchy the process was placed in (memory, cpu, pids, …);
    v2: the unified one. Best effort: without them the runtime still runs, limited all the same
    (an older kernel may refuse a cgroup namespace or a v1 mount in a user namespace)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    v1 = []
    unified = False
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if not controllers:
            unified = unified or path != "/"
        elif path != "/" and not controllers.startswith("name=") and controllers != "freezer":
            v1.append(controllers)
    if not v1 and not unified:
        return  # in no cgroup of its own (rlimits only)
    if _unshare(_Int(CLONE_NEWCGROUP)) != 0:
        return
    base = root + "/sys/fs/cgroup"
    try:
        os.makedirs(base, exist_ok=True)  # (there already in a fork server's base)
        mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755")
        flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        if v1:
            for controllers in v1:
                target = base + "/" + controllers
                os.makedirs(target)
                mount("cgroup", target, "cgroup", flags, controllers)
                for name in controllers.split(","):  # "cpu,cpuacct" is also cpu and cpuacct
                    if name != controllers:
                        os.symlink(controllers, base + "/" + name)
        else:
            mount("cgroup2", base, "cgroup2", flags)
        mount(None, base, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except (OSError, SandboxError):
        pass


def _map_user(uid, gid):
    """``uid``/``gid``: this process's own, read before the unshare (after it they read as
    the overflow ids until mapped)."""
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{UID} {uid} 1\n")
    _write("/proc/self/gid_map", f"{GID} {gid} 1\n")


def _become(own):
    """The runtime process of a root engine's environment: from root to the environment's own
    uid and gid (``own``, a distinct one per environment: no environment can signal, trace or
    read another's processes or files, and none is root to a host daemon's peer check), then a
    user namespace where that uid is sbx_user1051's 993, as on Lambda. Where this kernel
    refuses an unprivileged user namespace, it stays ``own`` (no name for it inside)."""
    os.setgroups([])
    os.setresgid(own, own, own)
    os.setresuid(own, own, own)
    # a uid change made it non-dumpable: its /proc files would be root's (not its own to map)
    _prctl(PR_SET_DUMPABLE, _ULong(1), _ULong(0), _ULong(0), _ULong(0))
    if _unshare(_Int(CLONE_NEWUSER)) == 0:
        _map_user(own, own)


def _drop_capabilities():
    """The runtime keeps no capability in its namespace: it could otherwise remount
    ``/var/task`` writable, or mount what it likes."""
    # (the bounding set can stay: with no_new_privs no exec regains a capability)
    header = (0x20080522).to_bytes(4, "little") + bytes(4)  # _LINUX_CAPABILITY_VERSION_3, pid 0
    data = bytes(24)  # two (effective, permitted, inheritable) triples, all empty
    _check(_syscall(_Long(_SYSCALLS[os.uname().machine][1]), header, data), "capset")
    _check(_prctl(PR_SET_NO_NEW_PRIVS, _ULong(1), _ULong(0), _ULong(0), _ULong(0)), "no_new_privs")


def _pivot(root):
    os.chdir(root)
    _check(_syscall(_Long(_SYSCALLS[os.uname().machine][0]), b".", b"."), "pivot_root")
    _check(_umount2(b".", _Int(MNT_DETACH)), "detach the host's root")
    os.chdir("/")
    # the root itself is read-only, as Lambda's is; /tmp is the writable place
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _exit_as(status):
    """End this process as the runtime ended (the engine reads the signal or the code)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (_signal.SIGKILL, _signal.SIGSTOP):  # (those cannot be handled anyway)
            try:
                _signal.signal(sig, _signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _init(runtime_pid, report):
    """PID 1: reap every child; when the runtime ends, tell how on ``report`` (P's pipe, or
    the engine's, ``STATUS_FD``), and end (the kernel then kills whatever is left in the
    namespace), with the runtime's exit code, or 128 + the signal that killed it (PID 1 cannot
    be killed by it: the status written is the exact one)."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == runtime_pid:
            try:
                os.write(report, status.to_bytes(4, "little"))
            except OSError:
                pass
            if os.WIFSIGNALED(status):
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


entered = False  # this process is the runtime, in its namespaces


def run():
    """The runtime's start in its namespaces: wait for the go-ahead, enter, then run our
    runtime client (which fails INIT with the reason if the namespaces could not be entered)."""
    # imported here, from its bytecode in the engine's cache (the launch's pycache_prefix):
    # inside, nothing can be written where it would be cached
    import bootstrap

    del sys.path[0]  # this module's folder, put there by the launch
    go(bootstrap)


def go(bootstrap, prepared=None):
    """``run`` with our runtime client imported (a fork server's environment has it, and
    the root it ``prepared``, if any)."""
    why = _wait_and_enter(bootstrap, prepared)
    if why is not None:  # INIT fails with it (bootstrap.py reads it)
        os.environ[SANDBOX_ERROR_VAR] = why
    else:
        _runs_as_on_lambda()
    bootstrap.start(ready=True)


BOOTSTRAP = "/var/runtime/bootstrap.py"  # our runtime client, where Lambda's is
# the interpreter as an environment names it: a virtual environment's is a link to the real one,
# which is what is there (resolved once, in a fork server before any environment is forked)
_EXECUTABLE = os.path.realpath(sys.executable)
_areas = None  # (a fork server's: ``remember_areas``)


def areas():
    """Where this process's arguments and variables are (``arg_start, arg_end, env_start,
    env_end`` of ``/proc/self/stat``): what ``/proc/PID/cmdline`` and ``environ`` show. Raises
    ``OSError`` or ``ValueError``."""
    if _areas is not None:
        return _areas
    fd = os.open("/proc/self/stat", os.O_RDONLY)
    try:
        stat = os.read(fd, 4096)
    finally:
        os.close(fd)
    fields = stat.rsplit(b")", 1)[1].split()
    return tuple(int(field) for field in fields[-5:-1])


def remember_areas():
    """(A fork server, at its start.) Read ``areas`` once: every process forked from it has
    the same, and a cold start need not read them again (~0.1 ms in a new fork)."""
    global _areas
    try:
        _areas = areas()
    except (OSError, ValueError):
        pass


def _runs_as_on_lambda():
    """(The runtime, in its namespaces.) Its command line as Lambda's Python runtime has it,
    the interpreter and ``/var/runtime/bootstrap.py``, in ``sys.argv``, ``sys.orig_argv`` and
    ``/proc/PID/cmdline``: not the launch's or the fork server's, which name the engine's
    install, its state dir and its bytecode cache on the host."""
    sys.argv = [BOOTSTRAP]
    sys.orig_argv = [sys.executable, BOOTSTRAP]
    if not titled_ahead:
        set_cmdline(runtime_title())


titled_ahead = False  # its init wrote the runtime's command line before it forked it


def runtime_title():
    """The runtime's command line, as Lambda's Python runtime's reads (``_runs_as_on_lambda``):
    the interpreter, as the runtime names it (``_become_runtime``), and our runtime client."""
    return f"{_EXECUTABLE} {BOOTSTRAP}"


def cmdline_block(title, size):
    """``title`` as ``set_cmdline`` writes it over an arguments' block of ``size`` bytes."""
    text = title.encode()[: size - 2]
    return text + b"\0" * (size - len(text) - 1) + b" "


def set_cmdline(title):
    """Show ``title`` as this process's ``/proc/PID/cmdline`` (``ps``, ``top``), the way
    setproctitle(3) does: written over the arguments' own block (its size is fixed), its last
    byte left non-NUL so the kernel shows the title up to its first NUL (one string, its words
    spaced, which tools split as they split any other). Best effort."""
    try:
        start, end = areas()[:2]
        block = cmdline_block(title, end - start)
        fd = os.open("/proc/self/mem", os.O_RDWR)
        try:
            os.pwrite(fd, block, start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        pass


def _wait_and_enter(bootstrap, prepared):
    """The engine's go-ahead (the limits and the cgroup are in place), then the namespaces:
    ``prepared``'s root, or the engine's description. None once in (this process is the
    runtime), else why not: the engine's own reason, or the step that failed."""
    try:
        os.read(0, 1)
    except OSError:
        pass
    try:
        # the engine's child: P (inside, PID 1's death does it); PID 1 itself or a runtime in
        # its extensions' namespaces reads getppid() 0 and never acts on it: the watchdog does.
        # (A runtime forked by ``init_first`` is PID 2 of its init, whose end ends it.)
        if not init_ahead:
            bootstrap._die_with_engine()
        raw = os.environ.pop(SPEC_VAR, "")
        if SANDBOX_ERROR_VAR in os.environ:  # (the engine's own, if it could not describe it)
            join_network_only(raw)
            return os.environ[SANDBOX_ERROR_VAR]
        if prepared is not None:
            finish(prepared)
        else:
            enter(parse(raw))
    except (SandboxError, OSError, ValueError) as e:
        return _why(e)
    return None


EXEC_VAR = "_WORKBENCH_EXEC"  # the runtime's command, FIELD-separated (sandboxed_launch.py)


def exec_runtime(prepared=None):
    """Another runtime in its namespaces (Node.js, a custom ``bootstrap``, AWS's Python
    client: ``engine/runtime/sandboxed_launch.py``): wait for the go-ahead, enter them as
    ``run`` does (a fork server's environment has the root it ``prepared``, if any), then become
    the command in ``EXEC_VAR``. Where they cannot be entered, the runtime never starts: the
    reason goes to the log and INIT fails."""
    import bootstrap  # (only C modules; its bytecode is in the engine's cache)

    why = _wait_and_enter(bootstrap, prepared)
    argv = os.environ.pop(EXEC_VAR, "").split(FIELD)
    if why is not None:
        why = why if why.startswith(_WHY) else _why(why)
        os.write(2, f"workbench: {why}\n".encode())
        os._exit(125)
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        os.write(2, f"workbench: cannot start the runtime {argv[0]}: {e.strerror}\n".encode())
        os._exit(126)


_WHY = "could not enter the environment's namespaces: "


def _why(error):
    return f"{_WHY}{error} (--isolation cgroups runs functions without them)"


def failed(env, error):
    """Have INIT fail with why the namespaces could not be entered (bootstrap.py reads it)."""
    env[SANDBOX_ERROR_VAR] = _why(error)


def _default_signals():
    """The bootstrap's engine-death handler (SIGURG) means nothing inside: back to default."""
    _signal.signal(_signal.SIGURG, _signal.SIG_DFL)


def enter(spec):
    """Enter the namespaces ``spec`` describes; returns in the runtime process (PID 2), with
    its working directory at ``/var/task``. Raises ``SandboxError`` if a step fails."""
    finish(prepare(spec))


def prepare(spec):
    """The first half, which forks nothing (so it may run before the process is in its
    cgroup: a fork server's environment does it while the engine sets its limits up): the
    user (unless ``pid_first`` made it), mount, ipc and uts namespaces and the new root, not
    yet entered. Returns the root (or, for ``join``, where the namespaces to join are) and the
    uid to become."""
    if os.uname().machine not in _SYSCALLS:
        raise SandboxError(f"namespaces are not supported on {os.uname().machine}")
    if spec.get("join"):  # (opened in ``finish``: a fork server's environment closes its fds)
        joined = {"join": spec["join"], "net": spec.get("net")}
        return joined, spec.get("uid") if os.geteuid() == 0 else None
    root = spec["root"]
    own = spec.get("uid") if os.geteuid() == 0 else None
    if os.getpid() != 1 and not init_ahead:  # (its fork server's middle did: ``pid_first``)
        _identity(spec, own)
    _check(_unshare(_Int(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    _tell_init()  # (``init_first``: it follows it in meanwhile)
    _build_root(root, spec)
    if own is not None:  # its /tmp is its own: what it (and its extensions) write there
        os.chown(root + "/tmp", own, own)
    return root, own


def _identity(spec, own):
    """The network namespace the engine made for it, if any (first, while it may), and,
    unless a root engine gives it a uid of its own (``own``: the mounts are made as root and
    the runtime becomes that uid before any of its code runs, ``_become``), one user namespace
    where the engine's uid is sbx_user1051's."""
    if spec.get("net"):
        _join_network(*spec["net"])
    if own is None:
        uid, gid = os.geteuid(), os.getegid()
        _check(_unshare(_Int(CLONE_NEWUSER)), "unshare the user namespace")
        _map_user(uid, gid)


STATUS_FD = 3  # PID 1 made by ``pid_first``: where it writes how the runtime ended
# what /proc/1/cmdline shows (the launch's and the fork server's name the engine's host paths)
INIT_TITLE = "init"

init_ahead = False  # this process is a runtime's, forked by its init before anything was built
_init_pipes = None  # (its process, ``init_ahead``) ends of the pipes to its init: tell, told


def init_first(environ):
    """(PID 1 made by ``pid_first``, for our runtime client.) Wait for the engine's go-ahead
    (the environment's limits and cgroup are in place: a fork inherits them), then fork the
    process that builds the root and becomes the runtime (it returns from here, PID 2), and
    stay as the namespaces' init. Forked before anything was built, the init has written next
    to none of the interpreter's pages (an init that built the root and then forked the
    runtime kept ~0.65 MB more of its own, and a cold start was ~0.7 ms longer). The init
    follows the runtime into its mount namespace once it is made (``_follow``), off the
    runtime's way: its ``/proc/1/mountinfo`` then shows the environment's mounts, not the
    host's. It then becomes a program of a few pages, with ``environ`` as its variables
    (``workbench_init``: the ~0.7 MB its Python had written since the fork given back); where
    it cannot, it stays this interpreter (``_init``), which does the same. Its
    ``/proc/1/root``, ``cwd`` and the rest are not the runtime's to open in any case (the init
    is made non-dumpable, before the runtime goes on; a root engine's holds capabilities the
    runtime has not besides)."""
    global init_ahead, _init_pipes
    try:
        os.read(0, 1)
    except OSError:
        pass
    made_r, made_w = os.pipe()  # the runtime: "my mount namespace is made"
    followed_r, followed_w = os.pipe()  # the init: "I am in it" (its end closed)
    runtime = os.fork()
    if runtime:  # (its capabilities already deny the runtime its /proc files; this too)
        os.close(made_w)
        os.close(followed_r)
        set_cmdline(INIT_TITLE)  # (first: a non-dumpable process's /proc/self/mem is root's)
        _prctl(PR_SET_DUMPABLE, _ULong(0), _ULong(0), _ULong(0), _ULong(0))
        _follow(runtime, made_r)
        workbench_init.become(runtime, STATUS_FD, followed_w, environ)  # (returns if it cannot)
        os.close(followed_w)  # the runtime goes on
        _init(runtime, STATUS_FD)
    for fd in (STATUS_FD, made_r, followed_w):
        os.close(fd)
    _init_pipes = [made_w, followed_r]
    init_ahead = True


def _follow(runtime, made):
    """(The init.) Once the runtime says its mount namespace is made, enter it too (through
    a pidfd: this process's /proc is still the host's, which names other processes by those
    pids). Best effort: a runtime that ended first, or a kernel without pidfd ``setns``
    (before 5.8), leaves the init where it is. (The init then closes its end of ``followed``,
    which the runtime waits for before any of the function's code runs.)"""
    try:
        if os.read(made, 1):
            pidfd = os.pidfd_open(runtime)
            try:
                _setns(_Int(pidfd), _Int(CLONE_NEWNS))
            finally:
                os.close(pidfd)
    except (OSError, AttributeError):
        pass
    finally:
        os.close(made)


def _tell_init():
    """(The runtime's process, ``init_ahead``.) Its mount namespace is made: its init may
    follow it in (``_follow``)."""
    if _init_pipes is not None and _init_pipes[0] >= 0:
        try:
            os.write(_init_pipes[0], b"1")
        except OSError:
            pass
        os.close(_init_pipes[0])
        _init_pipes[0] = -1


def _wait_for_init():
    """(The runtime's process, ``init_ahead``, before it pivots into its root.) Until its init
    is in its mount namespace (it has had the whole build of the root to get there)."""
    if _init_pipes is not None and _init_pipes[1] >= 0:
        _tell_init()  # (a no-op once ``prepare`` told it; without it both would wait forever)
        try:
            while os.read(_init_pipes[1], 1):
                pass
        except OSError:
            pass
        os.close(_init_pipes[1])
        _init_pipes[1] = -1


joined_ahead = False  # the namespaces of ``join`` were joined by the fork server's middle


def pid_first_at_clone(raw):
    """(A fork server, for an environment it forks to the engine: ``fork_to_parent``.) Can the
    environment's process make its pid namespace as it is cloned (``CLONE_NEWPID``), and do
    the rest of ``pid_first`` itself? A root engine's environment with a uid of its own, whose
    network (if any) is the engine's to join directly: yes, and its description, parsed. Else
    None (its user namespace, or its network's, must come first: a middle process does it)."""
    if os.geteuid() != 0 or os.uname().machine not in _SYSCALLS:
        return None
    try:
        spec = parse(raw)
    except SandboxError:
        return None
    if spec.get("join") or spec.get("uid") is None or len(spec.get("net") or ()) > 1:
        return None
    return spec


def pid_first_inside(spec):
    """(That environment's process, PID 1 of its new pid namespace.) What ``pid_first`` does
    before it unshares the pid namespace (``_identity``: for these, only their network).
    Raises ``SandboxError``."""
    _identity(spec, spec["uid"])


def pid_first(raw):
    """In a fork server's middle process, before it forks the environment: its network and
    user namespaces and a new pid namespace, so the environment's process is itself PID 1 of
    it, its init, the engine's child (when the middle ends), and no process waits outside for
    it to end (``finish``). With ``join`` (the runtime of a function with extensions), the
    namespaces the first extension made instead: the environment's process is then
    the runtime itself, in them, the engine's child (the kernel hands an orphan to the nearest
    subreaper of its parent's), its own orphans the init's there. Raises ``SandboxError``."""
    global joined_ahead
    spec = parse(raw)
    if os.uname().machine not in _SYSCALLS:
        return
    if spec.get("join"):
        _join_made({"join": spec["join"], "net": spec.get("net")})
        joined_ahead = True
        return
    _identity(spec, spec.get("uid") if os.geteuid() == 0 else None)
    _check(_unshare(_Int(CLONE_NEWPID)), "unshare the pid namespace")


def _join_network(path, user=None):
    """Join the environment's network namespace (``engine/runtime/netns.py``): its own
    loopback, its Runtime API at 127.0.0.1:9001 in it. ``user``: the user namespace it is in
    (an unprivileged engine's maker's, ``netns_helper.py``), joined first: this process's uid,
    the engine's, is that namespace's root, and so may enter the network namespace. (Both are
    opened before either is joined: from inside that user namespace, the engine's descriptors
    are not this process's to open.)"""
    fds = []
    try:
        for what, where in (("network namespace", path), ("network's user namespace", user)):
            if where is not None:
                try:
                    fds.append(os.open(where, os.O_RDONLY))
                except OSError as e:
                    raise SandboxError(f"open its {what}: {e.strerror}") from None
        if user is not None:
            _check(_setns(_Int(fds[1]), _Int(CLONE_NEWUSER)), "join its network's user namespace")
        _check(_setns(_Int(fds[0]), _Int(CLONE_NEWNET)), "join its network namespace")
    finally:
        for fd in fds:
            os.close(fd)


def join_network_only(raw):
    """Only the network namespace ``raw`` names, if any (the rest could not be described):
    its Runtime API, where INIT's error goes, is in it."""
    for record in raw.split(RECORD):
        kind, *fields = record.split(FIELD)
        if kind == "net" and len(fields) in (1, 2):
            try:
                _join_network(*fields)
            except SandboxError:
                pass


# an environment's namespaces, as /proc/PID/ns names them, in the order a process joins them
# (its user namespace first: in it, it may join the others; the network is joined before,
# as ``_join_network`` does)
_JOINED = (
    ("user", CLONE_NEWUSER),
    ("cgroup", CLONE_NEWCGROUP),
    ("ipc", CLONE_NEWIPC),
    ("uts", CLONE_NEWUTS),
    ("mnt", CLONE_NEWNS),
    ("pid", CLONE_NEWPID),
)


def _join_made(joined):
    """Join the namespaces of an environment already made (``joined["join"]``: its init's
    /proc/PID/ns): its network as the description names it (with the user namespace that
    holds it, if any), then its user namespace (not where it is this process's own: a root
    engine's processes each make theirs inside, ``_become``), then the others. Every one is
    opened before any is joined (from inside a user namespace, another's /proc may not be)."""
    folder, net = joined["join"], joined.get("net") or ()
    steps = []
    try:
        paths = []
        if net:
            if len(net) > 1:
                paths.append((net[1], CLONE_NEWUSER, "network's user"))
            paths.append((net[0], CLONE_NEWNET, "network"))
        own_user = os.stat("/proc/self/ns/user").st_ino
        for name, kind in _JOINED:
            path = f"{folder}/{name}"
            if name == "user" and os.stat(path).st_ino == own_user:
                continue
            paths.append((path, kind, name))
        for path, kind, name in paths:
            try:
                steps.append((os.open(path, os.O_RDONLY), kind, name))
            except OSError as e:
                raise SandboxError(
                    f"open the environment's {name} namespace: {e.strerror}"
                ) from None
        for fd, kind, name in steps:
            _check(_setns(_Int(fd), _Int(kind)), f"join the environment's {name} namespace")
    finally:
        for fd, _, _ in steps:
            os.close(fd)


def finish(prepared):
    """The second half, once the process is in its cgroup: the pid namespace, its init, the
    new root entered, the runtime forked (it returns from here). ``prepared``: ``prepare``'s."""
    root, own = prepared
    executable = _EXECUTABLE
    if isinstance(root, dict):  # ``join``: the namespaces of the environment's extensions
        if not joined_ahead:  # (else this process is in them already: ``pid_first``)
            _join_made(root)
            runtime = os.fork()  # into the pid namespace, under its init (PID 1 reaps orphans)
            if runtime:  # P: outside, as the runtime's parent
                _exit_as(_wait(runtime))
            _prctl(PR_SET_PDEATHSIG, _ULong(SIGKILL), _ULong(0), _ULong(0), _ULong(0))
        os.chdir("/")
        _become_runtime(own, executable)
        return
    if init_ahead:  # (``init_first``): the runtime's process, under its init already
        write = None
    elif os.getpid() == 1:  # (``pid_first``): it is the init; the engine reads STATUS_FD
        write = STATUS_FD
    else:
        _check(_unshare(_Int(CLONE_NEWPID)), "unshare the pid namespace")
        read, write = os.pipe()
        init = os.fork()
        if init:  # P: the engine's child, outside the pid namespace
            os.close(write)
            status = _wait(init)
            raw = os.read(read, 4)
            _exit_as(int.from_bytes(raw, "little") if len(raw) == 4 else status)
        os.close(read)
        _prctl(PR_SET_PDEATHSIG, _ULong(SIGKILL), _ULong(0), _ULong(0), _ULong(0))
    _mount_cgroups(root)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # (``init_first``) its init in the mount namespace before the pivot: entered after it, the
    # init's root would be the namespace's first, the host's that the pivot detaches (its
    # /proc/1/mountinfo then empty, and the host's tree held); it has had the root's whole
    # build to get there, so this rarely waits
    _wait_for_init()
    _pivot(root)
    if write is not None:
        set_cmdline(INIT_TITLE)  # (the runtime's own comes after: ``_runs_as_on_lambda``)
        runtime = os.fork()
        if runtime:
            _init(runtime, write)
        try:
            os.close(write)
        except OSError:
            pass
    _become_runtime(own, executable)


def _wait(pid):
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def _become_runtime(own, executable):
    """The runtime's process, in its namespaces: its own uid (a root engine's), default
    signals, no capabilities, in /var/task."""
    if own is not None:
        _become(own)
    _default_signals()
    sys.executable = executable  # what a handler runs as a subprocess
    # the engine's bytecode cache is not there: the interpreter's library has its own, and
    # /var/task is read-only (as on Lambda, a function's code is compiled unless it ships .pyc)
    sys.pycache_prefix = None
    global entered
    entered = True
    _drop_capabilities()
    os.chdir("/var/task")
