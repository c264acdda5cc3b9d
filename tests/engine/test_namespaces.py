"""Namespaces: each environment of a Python function sees what a Lambda environment sees — its
code read-only at /var/task, its layers at /opt, a private /tmp, its own processes (PID 1 its
init), ``sbx_user1051`` — and nothing else of the host: no state dir, no other function, no
engine to read or signal. ``isolation="cgroups"`` leaves them out (the suite's default, see
conftest.py), and says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import add_function, body, ids_inside, make_layer, memory_kb, tmp_of, until
from workbench.engine import Engine, EngineSettings, early_start
from workbench.engine.runtime import namespaces
from workbench.engine.runtime.forkserver import BASE_SWITCH
from workbench.engine.runtime.launch import PYTHON_BOOTSTRAP
from workbench.engine.runtime.namespaces import ETC, UID_BASE, UIDS_VAR, etc_view, probe

pytestmark = pytest.mark.skipif(
    bool(probe()), reason=f"this machine gives no namespaces: {probe()}"
)


def settings(tmp_path: Path, **extra: object) -> EngineSettings:
    options: dict[str, object] = {"isolation": "auto", **extra}
    return EngineSettings(
        keep_alive_s=5.0,
        reap_interval_s=0.2,
        state_dir=tmp_path / "state",
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["base", "own-root"])
async def sandboxed(
    function_root: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Engine]:
    """Each test both ways a root engine can give an environment its root: a bind of the base
    its fork server built once, and (``WORKBENCH_SANDBOX_BASE=0``, as where the engine is not
    root) a root the environment builds itself."""
    if request.param == "own-root":
        monkeypatch.setenv(BASE_SWITCH, "0")
    async with Engine([function_root], settings(tmp_path)) as eng:
        yield eng


LOOK = """
import json, os, pwd, signal

def _write(path):
    try:
        open(path, "a").close()
    except OSError as e:
        return e.errno

def handler(event, context):
    kind = event["kind"]
    if kind == "where":
        return {
            "uid": os.getuid(), "user": pwd.getpwuid(os.getuid()).pw_name, "pid": os.getpid(),
            "ppid": os.getppid(), "cwd": os.getcwd(), "file": __file__,
            "task_root": os.environ["LAMBDA_TASK_ROOT"], "tmpdir": os.environ["TMPDIR"],
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "root": sorted(os.listdir("/")),
        }
    if kind == "exists":
        return {path: os.path.exists(path) for path in event["paths"]}
    if kind == "write":
        try:
            with open(event["path"], "w") as f:
                f.write("written")
        except OSError as e:
            return {"errno": e.errno, "error": str(e)}
        return {"written": event["path"]}
    if kind == "read":
        try:
            with open(event["path"], "rb") as f:
                return {"read": len(f.read())}
        except OSError as e:
            return {"errno": e.errno}
    if kind == "kill_parent":
        try:
            os.kill(os.getppid(), signal.SIGKILL)
            os.kill(1, signal.SIGKILL)
        except OSError as e:
            return {"error": str(e)}
        return {"ppid": os.getppid()}
    if kind == "etc":
        import socket
        return {
            "etc": sorted(os.listdir("/etc")), "write": _write("/etc/new.conf"),
            "sandbox": socket.gethostbyname("sandbox.localdomain"),
            "certs": os.path.exists("/etc/ssl/certs"),
        }
    if kind == "init":  # what of its init (PID 1) it may reach: an errno each, or what
        out = {}
        for name, look in (
            ("root", lambda: os.listdir("/proc/1/root")),
            ("cwd", lambda: os.readlink("/proc/1/cwd")),
            ("fd", lambda: os.readlink("/proc/1/fd/1")),
            ("environ", lambda: open("/proc/1/environ", "rb").read()),
            ("maps", lambda: open("/proc/1/maps", "rb").read()),
        ):
            try:
                out[name] = str(look())
            except OSError as e:
                out[name] = e.errno
        return out
    if kind == "cmdline":  # its command line and its init's, as a handler and `ps` see them
        import sys
        return {
            "argv": sys.argv, "orig_argv": sys.orig_argv, "executable": sys.executable,
            "self": open("/proc/self/cmdline", "rb").read().decode(),
            "init": open("/proc/1/cmdline", "rb").read().decode(),
        }
    if kind == "mounts":  # the mounts its init sees, and its own
        with open("/proc/1/mountinfo") as init, open("/proc/self/mountinfo") as own:
            return {"init": init.read(), "own": own.read()}
    if kind == "remount":
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.mount(None, b"/var/task", None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND
        return {"rc": rc, "errno": ctypes.get_errno()}
"""


async def test_the_function_sees_lambdas_filesystem_and_user(
    sandboxed: Engine, function_root: Path
) -> None:
    add_function(sandboxed, "look", LOOK)
    seen = body(await sandboxed.invoke("look", json.dumps({"kind": "where"})))
    assert seen["task_root"] == "/var/task" and seen["cwd"] == "/var/task"
    assert seen["file"] == "/var/task/app.py"  # tracebacks name Lambda's paths
    assert seen["tmpdir"] == "/tmp"
    assert (seen["uid"], seen["user"]) == (993, "sbx_user1051")
    # its own processes only: its init (1) and itself; the engine is nowhere
    assert seen["pid"] != 1 and seen["ppid"] == 1
    assert os.getpid() not in seen["pids"] and max(seen["pids"]) < 100
    assert {"var", "tmp", "opt", "usr", "proc", "dev", "etc"} <= set(seen["root"])
    assert "work" not in seen["root"] and "functions" not in seen["root"]


async def test_nothing_else_of_the_host_is_there(
    sandboxed: Engine, function_root: Path, tmp_path: Path
) -> None:
    add_function(sandboxed, "look", LOOK)
    add_function(sandboxed, "neighbour", LOOK)
    state = tmp_path / "state"
    paths = [
        str(state),  # the workbench's own database and records
        str(function_root / "neighbour"),  # another function
        str(function_root),
        str(Path.home() / ".aws"),
        "/etc/shadow",
        "/var/task/app.py",  # its own code is there
    ]
    seen = body(await sandboxed.invoke("look", json.dumps({"kind": "exists", "paths": paths})))
    assert seen == {**{p: False for p in paths[:-1]}, "/var/task/app.py": True}


@pytest.mark.parametrize("fork_server", [True, False])
@pytest.mark.parametrize("uids", ["own", "shared"])  # shared: in user namespaces, as unprivileged
async def test_command_lines_name_lambdas_paths_not_the_hosts(
    function_root: Path,
    tmp_path: Path,
    fork_server: bool,
    uids: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sys.argv, sys.orig_argv and /proc/PID/cmdline of the runtime say what Lambda's Python
    runtime says (the interpreter and /var/runtime/bootstrap.py), and its init's says "init":
    neither the fork server's nor the launch's command line, which name the engine's install,
    its state dir and its bytecode cache on the host."""
    if uids == "shared":
        monkeypatch.setenv(UIDS_VAR, "shared")
    async with Engine([function_root], settings(tmp_path, fork_server=fork_server)) as eng:
        add_function(eng, "look", LOOK)
        seen = body(await eng.invoke("look", json.dumps({"kind": "cmdline"})))
    bootstrap = "/var/runtime/bootstrap.py"
    assert seen["argv"] == [bootstrap], seen
    assert seen["orig_argv"] == [seen["executable"], bootstrap], seen
    assert seen["self"] == f"{seen['executable']} {bootstrap}\0", seen
    assert seen["init"] == "init\0", seen
    for host in (str(tmp_path), "workbench_zygote", "workbench_sandbox", "pycache_prefix"):
        assert host not in seen["self"] + seen["init"], (host, seen)


async def test_etc_holds_what_a_runtime_needs_in_one_read_only_view(sandboxed: Engine) -> None:
    """/etc is the engine's view (one mount): the entries a runtime needs, Lambda's user, the
    sandbox's own name (an extension's telemetry listener binds sandbox.localdomain), no
    private keys, nothing else of the host's configuration; read-only."""
    add_function(sandboxed, "look", LOOK)
    seen = body(await sandboxed.invoke("look", json.dumps({"kind": "etc"})))
    assert {"passwd", "group", "hosts", "resolv.conf", "ld.so.cache"} <= set(seen["etc"])
    assert not {"shadow", "sudoers", "machine-id"} & set(seen["etc"])
    assert set(seen["etc"]) <= {*ETC, "passwd", "group"}
    assert seen["sandbox"] == "127.0.0.1"
    assert seen["write"] == 30  # EROFS
    assert seen["certs"] is os.path.isdir("/etc/ssl/certs")


def test_the_etc_view_is_made_once_and_again_when_an_entry_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    (etc / "ssl" / "private").mkdir(parents=True)
    (etc / "ssl" / "private" / "key.pem").write_text("secret")
    (etc / "ssl" / "certs").mkdir()
    (etc / "ssl" / "certs" / "ca.pem").symlink_to("/usr/share/ca-certificates/ca.crt")
    (etc / "hosts").write_text("127.0.0.1\tlocalhost")  # no newline at its end
    (etc / "resolv.conf").write_text("nameserver 10.0.0.1\n")
    (etc / "shadow").write_text("root:x\n")  # not in ETC: never copied
    root = tmp_path / "engine"

    view = Path(etc_view(root, str(etc)))
    assert sorted(p.name for p in view.iterdir()) == [
        "group", "hosts", "passwd", "resolv.conf", "ssl"
    ]  # fmt: skip
    assert (
        view / "hosts"
    ).read_text() == "127.0.0.1\tlocalhost\n127.0.0.1\tsandbox.localdomain sandbox\n"
    assert "sbx_user1051:x:993:990:" in (view / "passwd").read_text()
    assert not (view / "ssl" / "private").exists()  # no private keys
    assert os.readlink(view / "ssl" / "certs" / "ca.pem") == "/usr/share/ca-certificates/ca.crt"
    assert etc_view(root, str(etc)) == str(view)  # unchanged: the same view

    (etc / "resolv.conf").write_text("nameserver 192.168.1.1\n")  # another network
    assert etc_view(root, str(etc)) == str(view)  # not looked at again within the second
    monkeypatch.setattr(namespaces, "ETC_RECHECK_S", 0.0)  # (the second has passed)
    again = Path(etc_view(root, str(etc)))
    assert again != view and (again / "resolv.conf").read_text() == "nameserver 192.168.1.1\n"
    assert view.exists()  # environments started with it may still use it
    # the next engine on the machine takes the view made before (no copy at its first start)
    assert etc_view(tmp_path / "engine2", str(etc)) == str(again)
    # ... unless someone else could have changed it
    again.chmod(0o777)
    third = etc_view(tmp_path / "engine3", str(etc))
    assert third != str(again) and (Path(third) / "resolv.conf").exists()


async def test_var_task_is_read_only_and_tmp_is_private(
    sandboxed: Engine, function_root: Path
) -> None:
    folder = add_function(sandboxed, "look", LOOK)
    refused = body(
        await sandboxed.invoke("look", json.dumps({"kind": "write", "path": "/var/task/new.txt"}))
    )
    assert refused["errno"] == 30  # EROFS, as on Lambda
    assert not (folder / "new.txt").exists()
    marker = "/tmp/workbench-namespace-test-marker"
    assert not os.path.exists(marker)
    wrote = body(await sandboxed.invoke("look", json.dumps({"kind": "write", "path": marker})))
    assert wrote == {"written": marker}
    assert not os.path.exists(marker)  # the host's /tmp is not the environment's
    # the environment's /tmp is its private TMPDIR on the host, removed with the environment
    [env] = [e for e in sandboxed.pool.environments("look")]
    assert (tmp_of(env) / Path(marker).name).read_text() == "written"


async def test_the_runtime_cannot_remount_its_code_writable(sandboxed: Engine) -> None:
    add_function(sandboxed, "look", LOOK)
    result = body(await sandboxed.invoke("look", json.dumps({"kind": "remount"})))
    assert result["rc"] == -1 and result["errno"] == 1  # EPERM: it holds no capability


async def test_the_engine_cannot_be_signalled_from_inside(sandboxed: Engine) -> None:
    add_function(sandboxed, "look", LOOK)
    result = body(await sandboxed.invoke("look", json.dumps({"kind": "kill_parent"})))
    if os.geteuid() == 0:  # its own uid: its init (root's) refuses its signal
        assert result == {"error": "[Errno 1] Operation not permitted"}
    else:  # its parent is its init, which ignores it
        assert result == {"ppid": 1}
    again = body(await sandboxed.invoke("look", json.dumps({"kind": "where"})))
    assert again["ppid"] == 1  # the same environment still serves; the engine is unseen


UIDS = """
import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    path = "/tmp/mine"
    with open(path, "w") as f:
        f.write("x")
    return {"uid": os.getuid(), "pid": os.getpid(), "tmp": os.stat(path).st_uid}
"""


def outside_uids(engine: Engine, name: str) -> list[set[int]]:
    """For each environment of ``name``: the uids, outside, of its processes (its init's, the
    engine's root, included)."""
    return [
        {p.uids().real for p in psutil.Process(env.pid).children(recursive=True)}
        for env in engine.environments(name)
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="a uid of its own per environment needs root")
async def test_each_environment_runs_as_a_uid_of_its_own(sandboxed: Engine) -> None:
    """A root engine gives each environment its own unprivileged uid outside (sbx_user1051's
    993 inside): two environments share no uid with each other, nor with the engine."""
    add_function(sandboxed, "uids", UIDS)
    slow = json.dumps({"sleep": 0.5}).encode()
    first, second = await asyncio.gather(
        sandboxed.invoke("uids", slow), sandboxed.invoke("uids", slow)
    )
    for result in (first, second):
        assert body(result)["uid"] == 993 and body(result)["tmp"] == 993
    assert first.record.env_id != second.record.env_id
    [one], [other] = [uids - {0} for uids in outside_uids(sandboxed, "uids")]
    assert one != other and min(one, other) >= UID_BASE


@pytest.mark.skipif(os.geteuid() != 0, reason="checked where the engine runs as root")
@pytest.mark.parametrize("uids", ["own", "shared"])
async def test_a_handler_cannot_reach_the_host_through_its_init(
    sandboxed: Engine, uids: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its init (PID 1, which forks the runtime before the root is built, and follows it into
    its mount namespace once it is made) is not its own to look into: /proc/1's root, working
    folder, open files, environ and memory map are all refused (with a uid of its own and with
    the shared one alike), while its own process's are there; and the mounts /proc/1 shows are
    the environment's own."""
    if uids == "shared":
        monkeypatch.setenv(UIDS_VAR, "shared")
    add_function(sandboxed, "look", LOOK)
    refused = {"root": 13, "cwd": 13, "fd": 13, "environ": 13, "maps": 13}  # EACCES
    assert body(await sandboxed.invoke("look", json.dumps({"kind": "init"}))) == refused
    # and its mounts, which any process may read, are the environment's, not the host's
    mounts = body(await sandboxed.invoke("look", json.dumps({"kind": "mounts"})))
    assert mounts["init"] == mounts["own"] and " /var/task " in mounts["own"]
    own = body(
        await sandboxed.invoke("look", json.dumps({"kind": "read", "path": "/proc/self/environ"}))
    )
    assert isinstance(own, dict) and own.get("read", 0) > 0


@pytest.mark.skipif(os.geteuid() != 0, reason="the switch matters to a root engine only")
async def test_the_shared_uid_when_asked(
    function_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UIDS_VAR=shared: the one user namespace an unprivileged engine makes, its own uid shown
    as 993 (the fallback, forced): the function runs the same."""
    monkeypatch.setenv(UIDS_VAR, "shared")
    async with Engine([function_root], settings(tmp_path)) as engine:
        add_function(engine, "uids", UIDS)
        result = await engine.invoke("uids", b"{}")
        assert body(result)["uid"] == 993 and body(result)["tmp"] == 993
        assert outside_uids(engine, "uids") == [{0}]


async def test_layers_are_merged_at_opt_later_layers_winning(
    sandboxed: Engine, function_root: Path
) -> None:
    make_layer(function_root, "first", "words", "WORD = 'first'\nONLY_FIRST = True\n")
    make_layer(function_root, "second", "words", "WORD = 'second'\n")
    (function_root / "layers" / "first" / "python" / "extra.py").write_text("X = 1\n")
    add_function(
        sandboxed,
        "layered",
        """
        import os, words, extra
        def handler(event, context):
            return {"word": words.WORD, "file": words.__file__, "extra": extra.__file__,
                    "opt": sorted(os.listdir("/opt/python"))}
        """,
        layers=["../layers/first", "../layers/second"],
    )
    seen = body(await sandboxed.invoke("layered", "{}"))
    assert seen["word"] == "second" and seen["file"] == "/opt/python/words.py"
    assert seen["extra"] == "/opt/python/extra.py"  # the first layer's own files are there too
    assert seen["opt"] == ["extra.py", "words.py"]


async def test_a_daemon_dies_with_its_environment(sandboxed: Engine) -> None:
    """A double-forked, setsid daemon is still in the environment's pid namespace: when its
    init ends, the kernel kills it, with or without a cgroup."""
    add_function(
        sandboxed,
        "daemon",
        """
        import os, time
        def handler(event, context):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    with open("/tmp/daemon.pid", "w") as f:
                        f.write(open("/proc/self/stat").read().split()[0])
                    time.sleep(600)
                os._exit(0)
            os.wait()
            for _ in range(200):
                if os.path.exists("/tmp/daemon.pid"):
                    break
                time.sleep(0.01)
            return {"started": True}
        """,
    )
    assert body(await sandboxed.invoke("daemon", "{}")) == {"started": True}
    [env] = sandboxed.pool.environments("daemon")
    own = os.readlink("/proc/self/ns/pid")
    inside = [p for p in _namespace_members(env.pid) if os.readlink(f"/proc/{p}/ns/pid") != own]
    assert len(inside) >= 3  # init, the runtime, the daemon
    # (through the fork server, the engine's child is that init itself: no process outside
    # waits for it)
    assert env.pid in inside and ids_inside(env.pid)[-1] == 1
    env.shutdown("exit")
    await until(lambda: not any(_alive(pid) for pid in inside))


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the init program is x86_64's")
async def test_its_init_is_a_program_of_a_few_pages(sandboxed: Engine) -> None:
    """Once the runtime is on its way, its init (PID 1, the engine's child) is no longer a copy
    of the interpreter but a program of a few pages (``workbench_init``: ~0.7 MB less of an
    environment's own memory), known by its variables and its command line still; the
    runtime's exit status still comes through it exactly (the fault matrix has the rest)."""
    add_function(sandboxed, "look", LOOK)
    body(await sandboxed.invoke("look", json.dumps({"kind": "where"})))
    [env] = sandboxed.pool.environments("look")
    assert os.readlink(f"/proc/{env.pid}/exe") == "/memfd:init (deleted)"
    with open(f"/proc/{env.pid}/cmdline", "rb") as f:
        assert f.read() == b"init\0"
    with open(f"/proc/{env.pid}/environ", "rb") as f:
        assert b"\0AWS_LAMBDA_FUNCTION_NAME=look\0" in b"\0" + f.read()
    rollup = memory_kb(env.pid)
    assert rollup["Rss"] <= 64, rollup  # kB
    add_function(sandboxed, "ends", "import os\ndef handler(event, context):\n    os._exit(3)\n")
    result = await sandboxed.invoke("ends", "{}")
    assert "Runtime exited with error: exit status 3" in body(result)["errorMessage"]


async def test_without_namespaces_when_asked(function_root: Path, tmp_path: Path) -> None:
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as eng:
        add_function(eng, "look", LOOK)
        seen = body(await eng.invoke("look", json.dumps({"kind": "where"})))
        assert seen["task_root"] == str(function_root / "look")
        assert eng.pool.isolation is not None and not eng.pool.isolation.namespaces
        assert "--isolation cgroups" in eng.pool.isolation.describe_namespaces()


@pytest.mark.parametrize("fork_server", [True, False])
async def test_without_namespaces_argv_is_the_runtime_clients_script(
    function_root: Path, tmp_path: Path, fork_server: bool
) -> None:
    """Outside namespaces sys.argv is [bootstrap.py's path], as a script's is and as Lambda's
    runtime has it (/var/runtime/bootstrap.py): not the ['-c'] of the launch and the fork
    server, which argparse in a handler would take for its program's name."""
    options = settings(tmp_path, isolation="cgroups", fork_server=fork_server)
    async with Engine([function_root], options) as eng:
        add_function(eng, "look", LOOK)
        seen = body(await eng.invoke("look", json.dumps({"kind": "cmdline"})))
    (script,) = seen["argv"]
    assert Path(script) == PYTHON_BOOTSTRAP and Path(script).is_file(), seen


async def test_what_isolation_says_with_and_without_namespaces(sandboxed: Engine) -> None:
    isolation = sandboxed.pool.isolation
    assert isolation is not None and isolation.namespaces
    line = isolation.for_function(128, True, namespaced=True)
    assert line.startswith("namespaces + ")
    assert ("· own network ·" if isolation.network.private else "· host's network ·") in line
    assert not isolation.for_function(128, True, namespaced=False).startswith("namespaces")
    if isolation.network.private:  # (a network of its own: test_netns.py)
        assert "outbound traffic" in isolation.not_stopped(True)
    else:
        assert "the network" in isolation.not_stopped(True)
    assert "the filesystem" in isolation.not_stopped(False)


def _namespace_members(pid: int) -> list[int]:
    """``pid`` and every process below it (host pids)."""
    from workbench.engine.runtime.processes import descendants_of

    return [pid, *descendants_of(pid)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_the_probe_started_early_is_the_one_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """serve and the TUI start the namespaces probe before their imports (early_start.py);
    the engine's start then takes that one's answer, the same as a probe run there, and its
    scratch root goes once it has answered."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # (where the probe makes its root)
    early_start.start_namespaces_probe(sys.executable)
    [root] = tmp_path.iterdir()
    assert root.name.startswith("workbench-probe-")
    assert early_start.namespaces_probe(sys.executable) == probe()  # ('' here, or the reason)
    assert not root.exists()


def test_a_probe_never_asked_for_is_gone_when_the_process_ends(tmp_path: Path) -> None:
    """A command that ends before its engine starts (a bad option, a refused port) leaves no
    probe running and no scratch root behind."""
    code = (
        "import sys, tempfile; tempfile.tempdir = sys.argv[1]; "
        "from workbench.engine.early_start import start_namespaces_probe; "
        "start_namespaces_probe(); print('started', flush=True)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout == "started\n", done.stderr
    assert list(tmp_path.iterdir()) == []


ROOT_OF = """
import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))  # (two at once: two environments alive together)
    mounts = [line.split() for line in open("/proc/self/mountinfo")]
    [root] = [m for m in mounts if m[4] == "/"][-1:]
    try:
        os.mkdir("/new")
        made = True
    except OSError as e:
        made = e.errno
    return {"device": root[2], "mkdir": made, "usr": os.path.isdir("/usr/bin"),
            "cgroup": os.path.isdir("/sys/fs/cgroup/memory") or os.path.isfile(
                "/sys/fs/cgroup/memory.max")}
"""


def host_mounts_under(folder: Path) -> list[str]:
    prefix = str(folder).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


@pytest.mark.skipif(os.geteuid() != 0, reason="a base is built by a root engine's fork server")
@pytest.mark.parametrize("base", [True, False])
async def test_a_root_engines_environments_bind_one_read_only_base_or_build_their_own(
    function_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: bool
) -> None:
    if not base:
        monkeypatch.setenv(BASE_SWITCH, "0")
    async with Engine([function_root], settings(tmp_path)) as engine:
        add_function(engine, "rooted", ROOT_OF)
        # two environments alive at once (a root's device number is reused once it is gone)
        both = await asyncio.gather(*(engine.invoke("rooted", b'{"sleep": 0.5}') for _ in range(2)))
        seen = [body(result) for result in both]
        assert len(engine.environments("rooted")) == 2
        folder = engine.pool.tmp_root
        assert folder is not None
        bases = [p for p in host_mounts_under(folder) if "/.base-" in p]
        # each sees the system's folders and its cgroups; neither can change its root
        assert all(s["usr"] and s["cgroup"] and s["mkdir"] == 30 for s in seen)  # EROFS
        if base:  # one base, on the host, under the engine's folder: both roots are it
            assert seen[0]["device"] == seen[1]["device"]
            assert any(p.endswith("/usr") for p in bases)
        else:  # a root of its own each
            assert seen[0]["device"] != seen[1]["device"] and bases == []
    assert host_mounts_under(folder) == []  # unmounted with the engine's folder


@pytest.mark.skipif(os.geteuid() != 0, reason="a base is built by a root engine's fork server")
async def test_a_restarted_fork_servers_base_is_unmounted_and_a_new_one_built(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine([function_root], settings(tmp_path)) as engine:
        add_function(engine, "rooted", ROOT_OF)
        first = body(await engine.invoke("rooted", b"{}"))
        folder = engine.pool.tmp_root
        assert folder is not None and engine.pool.fork_servers is not None
        before = {p for p in host_mounts_under(folder) if p.endswith("/usr")}
        server = engine.pool.fork_servers.get(sys.executable, True)
        server.close()  # as when it died: the next spawn starts another
        engine.pool.retire_idle("rooted", "idle", latest_only=False)
        second = body(await engine.invoke("rooted", b"{}"))
        after = {p for p in host_mounts_under(folder) if p.endswith("/usr")}
        assert len(before) == len(after) == 1 and before != after
        assert first["usr"] and second["usr"] and second["mkdir"] == 30
