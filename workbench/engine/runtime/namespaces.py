"""An environment's own view of the machine, as on Lambda: what the engine tells its runtime to
mount, and whether this machine lets it.

The runtime itself enters the namespaces (``runtimes/python/workbench_sandbox.py``, standard
library only) once its limits and cgroup are in place and before any of the function's code
runs. Here the engine decides what it sees — the function's folder read-only at ``/var/task``
(hot reload's checked copies over their live files), its layers merged at ``/opt``, our runtime
at ``/var/runtime``, its private ``TMPDIR`` at ``/tmp`` — and passes that in one variable, which
the runtime removes from the handler's environment.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config.function import FunctionConfig
from ..early_start import namespaces_probe
from . import netns_helper

SPEC_VAR = "_WORKBENCH_SANDBOX"
SANDBOX_ERROR_VAR = "_WORKBENCH_SANDBOX_ERROR"  # INIT fails with it (bootstrap.py)
RECORD, FIELD = "\x1e", "\x1f"  # runtimes/python/workbench_sandbox.py's: no JSON parser there
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
OPT = "/opt"
TMP = "/tmp"
_probed: dict[str, str] = {}


def probe(python: str = sys.executable) -> str:
    """'' if an environment can enter its namespaces on this machine, else why not (once per
    interpreter and process: a real attempt, as a runtime makes it, ~25 ms, which serve and the
    TUI start before their imports: ``early_start.py``)."""
    if python not in _probed:
        if sys.platform != "linux":
            _probed[python] = "namespaces are Linux's"
        else:
            _probed[python] = namespaces_probe(python)
    return _probed[python]


# A root engine gives each environment a uid of its own (workbench_sandbox._become): far above
# any account's and the usual subordinate ranges, a block per engine process, one per
# environment in it. UIDS_VAR=shared keeps the one shared uid, as an unprivileged engine has.
UID_BASE, UID_BLOCK = 2_000_000_000, 100_000
UIDS_VAR = "WORKBENCH_SANDBOX_UIDS"
_uids = itertools.count()


def own_uids() -> bool:
    """Does each environment get a uid of its own? Where the engine is root (else it cannot
    give one), unless told not to (``UIDS_VAR=shared``, or ``netns_helper.HELPER_VAR=1``: the
    unprivileged engine's way, tested as root)."""
    return (
        os.geteuid() == 0
        and os.environ.get(UIDS_VAR, "") != "shared"
        and not netns_helper.forced()  # (its user namespace maps the engine's uid alone)
    )


def environment_uid() -> int | None:
    """The uid (and gid) outside for a new environment's runtime (None: ``own_uids`` says no)."""
    if not own_uids():
        return None
    block = UID_BASE + (os.getpid() % 1000) * UID_BLOCK
    return block + next(_uids) % UID_BLOCK


def mount_point(tmp_root: Path) -> str:
    """An empty folder every environment mounts its new root on (each in its own mount
    namespace, so one serves them all)."""
    path = tmp_root / ".root"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return str(path)


# The host's /etc entries a runtime needs (names, certificates, time zones, the dynamic linker);
# not the host's users, shadow files, private keys or anything else of its configuration.
ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "ssl",
    "pki",
    "crypto-policies",
    "resolv.conf",
    "hosts",
    "host.conf",
    "nsswitch.conf",
    "gai.conf",
    "protocols",
    "services",
    "localtime",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "mime.types",
    "os-release",
)
UID, GID, USER = 993, 990, "sbx_user1051"  # workbench_sandbox's: the user a handler runs as
# Lambda's name for the environment itself: an extension's Telemetry API listener binds it
# ("http://sandbox.localdomain:${PORT}" [DG:telemetry-api])
SANDBOX_NAMES = "127.0.0.1\tsandbox.localdomain sandbox\n"
ETC_RECHECK_S = 1.0  # how often the host's entries are looked at again
_etc_views: dict[Path, tuple[tuple[object, ...], float, str]] = {}  # stamp, checked at, view
_etc_lock = threading.Lock()  # made ahead in the fork servers' thread (pool.py), used on the loop


ETC_VIEWS = "etc-views"  # beside the engines' folders: shared by this user's engines
_VIEW_FORMAT = 1  # (a change to what a view holds makes new ones)


def etc_view(tmp_root: Path, source: str = "/etc") -> str:
    """A folder that every environment binds at ``/etc`` in one mount (instead of one per
    entry): copies of the host's ``ETC`` entries (symlinks inside folders kept: they point
    into ``/usr``), Lambda's user in ``passwd`` and ``group``, ``sandbox.localdomain`` in
    ``hosts``. Made again when an entry changed (a new ``resolv.conf`` on another network);
    an older view stays while environments use it. Views are kept in ``etc-views`` beside
    ``tmp_root`` (the engines' folders), named for the entries they copied, so the next engine
    on this machine takes the one made before: copying ~700 entries costs ~40 ms, and more
    while an engine starts, which a first Invoke waited for. The host's entries are looked at
    again at most once a second (~40 µs, which a burst of cold starts need not pay each)."""
    now = time.monotonic()
    with _etc_lock:
        made = _etc_views.get(tmp_root)
        if made is not None and now - made[1] < ETC_RECHECK_S:
            return made[2]
        stamp = tuple(_stamp(f"{source}/{name}") for name in ETC)
        if made is None or made[0] != stamp or not os.path.isdir(made[2]):
            view = _shared_etc_view(tmp_root.parent / ETC_VIEWS, source, stamp)
        else:
            view = made[2]
        _etc_views[tmp_root] = (stamp, now, view)
        return view


def etc_view_made(tmp_root: Path) -> str | None:
    """``etc_view``'s answer if it needs no look at the host's entries now (the loop's fast
    path: without it, the loop awaits ``etc_view`` in a thread)."""
    made = _etc_views.get(tmp_root)
    if made is not None and time.monotonic() - made[1] < ETC_RECHECK_S:
        return made[2]
    return None


def _shared_etc_view(folder: Path, source: str, stamp: tuple[object, ...]) -> str:
    """The view of ``source`` as ``stamp`` found it: the one made before, else made now (under
    a temporary name, then renamed: another engine making the same at once keeps its own)."""
    key = repr((source, stamp, ETC, USER, UID, GID, SANDBOX_NAMES, _VIEW_FORMAT))
    path = folder / hashlib.sha256(key.encode()).hexdigest()[:20]
    if _usable(path):
        return str(path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = _make_etc_view(folder, source)
    try:
        os.rename(made, path)
    except OSError:  # made by another engine meanwhile (or left unusable: ours is used)
        if _usable(path):
            shutil.rmtree(made, ignore_errors=True)
            return str(path)
        return made
    return str(path)


def _usable(path: Path) -> bool:
    """A view of this user's, which no one else can have changed."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _make_etc_view(tmp_root: Path, source: str) -> str:
    tmp_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    view = tempfile.mkdtemp(prefix=".etc-", dir=tmp_root)
    os.chmod(view, 0o755)
    for name in ETC:
        entry, target = f"{source}/{name}", os.path.join(view, name)
        try:
            if os.path.isdir(entry):
                # no private keys (/etc/ssl/private): Lambda's environment has none
                shutil.copytree(entry, target, symlinks=True, ignore=_private)
            elif os.path.exists(entry):
                shutil.copyfile(entry, target)
        except OSError:  # unreadable: left out, as the bind it replaces would show nothing
            continue
    hosts = os.path.join(view, "hosts")
    with open(hosts, "a+") as f:
        f.seek(0)
        ends = f.read().endswith("\n") or f.tell() == 0
        f.write(SANDBOX_NAMES if ends else "\n" + SANDBOX_NAMES)
    _write(
        view,
        "passwd",
        f"root:x:0:0:root:/root:/sbin/nologin\n{USER}:x:{UID}:{GID}::/home/{USER}:/sbin/nologin\n",
    )
    _write(view, "group", f"root:x:0:\n{USER}:x:{GID}:\n")
    return view


def _stamp(path: str) -> object:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _private(folder: str, names: list[str]) -> set[str]:
    return {"private"} & set(names)


def _write(folder: str, name: str, text: str) -> None:
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


def _net_record(net: str, net_user: str | None) -> tuple[str, ...]:
    """The ``net`` record: the namespace's path, and the user namespace to join first, if any."""
    return ("net", net, net_user) if net_user else ("net", net)


def network_only(net: str, net_user: str | None = None) -> str:
    """A ``SPEC_VAR`` naming only the environment's network namespace: what its runtime joins
    when the rest could not be described (its INIT error goes to the Runtime API there)."""
    return FIELD.join(_net_record(net, net_user))


def joined(env: Mapping[str, str], folder: str) -> dict[str, str]:
    """``env`` for a process that joins the namespaces of an environment already made
    (``folder``: its init's ``/proc/PID/ns``) instead of making its own: the runtime of a
    function with extensions, and every extension after the first, in the first one's, as on
    Lambda, where they share one. Unchanged where ``env`` describes none (or why not)."""
    out = dict(env)
    if SPEC_VAR in out and SANDBOX_ERROR_VAR not in out:
        if RECORD in folder or FIELD in folder:
            raise ValueError(f"a control character in {folder!r}")
        out[SPEC_VAR] += RECORD + FIELD.join(("join", folder))
    return out


def spec(
    fn: FunctionConfig,
    *,
    runtime_dir: Path | str | None,
    tmpdir: str,
    root: str,
    checked_sources: Mapping[str, str],
    etc: str,
    in_place: Sequence[str] = (),
    uid: int | None = None,
    net: str | None = None,
    net_user: str | None = None,
    resolv_conf: str | None = None,
) -> str:
    """The ``SPEC_VAR`` value for an environment of ``fn`` (records of fields, as
    ``workbench_sandbox.parse`` reads them); raises ``ValueError`` for a path it cannot hold.
    ``runtime_dir``: the runtime client's folder, at ``/var/runtime`` (None: left empty);
    ``in_place``: folders bound read-only at their own path (an interpreter's install);
    ``etc``: the folder bound at ``/etc`` (``etc_view``);
    ``uid``: the environment's own uid outside (``environment_uid``; None: the engine's);
    ``net``: its network namespace's path (``netns.py``; None: the host's network),
    ``net_user`` the user namespace to join before it (its maker's: ``netns_helper.py``), and
    ``resolv_conf`` the resolver it has there (bound over ``/etc/resolv.conf``)."""
    folder = fn.folder.resolve()
    binds: list[tuple[str, str, str]] = [(str(folder), TASK_ROOT, "ro")]
    if runtime_dir is not None:
        binds.append((str(runtime_dir), RUNTIME_DIR, "ro"))
    binds.append((tmpdir, TMP, "rw"))
    binds += [(path, path, "ro") for path in in_place]
    over: list[tuple[str, str]] = []  # hot reload's checked copies, over their live files
    for source, copy in checked_sources.items():
        try:
            relative = Path(source).resolve().relative_to(folder)
        except ValueError:
            continue  # outside the folder: not part of /var/task
        over.append((copy, f"{TASK_ROOT}/{relative}"))
    layers = [str(layer.resolve()) for layer in fn.layers if layer.is_dir()]
    records: list[tuple[str, ...]] = [("root", root), ("etc", etc)]
    if uid is not None:
        records.append(("uid", str(uid)))
    if net is not None:
        records.append(_net_record(net, net_user))
        if resolv_conf is not None:
            binds.append((resolv_conf, "/etc/resolv.conf", "ro"))
    records += [("bind", *bind) for bind in binds]
    records += [("over", *item) for item in over]
    records += [("opt", layer) for layer in layers]
    for record in records:
        if any(RECORD in field or FIELD in field for field in record):
            raise ValueError(f"a path the environment mounts holds a control character: {record}")
    return RECORD.join(FIELD.join(record) for record in records)
