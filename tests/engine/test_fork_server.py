"""The fork server: Python environments forked from a started interpreter behave as exec'd ones
— their own variables, random state, module state, exit status and process group; the engine's
children — in namespaces and without; and the workbench starts them the usual way when it
cannot fork them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import psutil
import pytest

from tests.helpers import add_function, body, cgroups_here, make_function, until, until_sync
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime import processes
from workbench.engine.runtime.forkserver import ForkServer
from workbench.engine.runtime.namespaces import probe

STATE = """
import os, random, time

COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("exit"):
        os._exit(event["exit"])
    return {
        "count": COUNT, "pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0),
        "random": random.getrandbits(64), "colour": os.environ.get("COLOUR"),
        "tz_offset": time.localtime().tm_gmtoff, "cwd": os.getcwd(),
    }
"""


def settings(tmp_path: Path, **extra: object) -> EngineSettings:
    return EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", **extra
    )  # type: ignore[arg-type]


async def two_environments(engine: Engine, name: str) -> tuple[dict, dict]:
    first = body(await engine.invoke(name, b"{}"))
    engine.pool.retire_idle(name, "idle", latest_only=False)
    second = body(await engine.invoke(name, b"{}"))
    return first, second


async def test_forked_environments_are_separate_processes_of_the_engine(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        folder = add_function(engine, "state", STATE, environment={"COLOUR": "teal"})
        first, second = await two_environments(engine, "state")
        [env] = engine.pool.environments("state")
        assert env.forked
        # each a process of its own, in its own group, the engine's child (it waits for it)
        assert first["pid"] != second["pid"] and second["pid"] == env.pid
        assert second["ppid"] == os.getpid() and second["pgid"] == second["pid"]
        # nothing of one environment is another's: module state, random state
        assert first["count"] == second["count"] == 1
        assert first["random"] != second["random"]
        # the function's variables and folder, Lambda's time zone
        assert second["colour"] == "teal" and second["cwd"] == str(folder)
        assert second["tz_offset"] == 0


async def test_a_forked_runtime_ends_as_an_execd_one(function_root: Path, tmp_path: Path) -> None:
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        add_function(engine, "state", STATE)
        result = await engine.invoke("state", json.dumps({"exit": 3}).encode())
        assert body(result)["errorType"] == "Runtime.ExitError"
        assert "Runtime exited with error: exit status 3" in body(result)["errorMessage"]
        assert body(await engine.invoke("state", b"{}"))["count"] == 1  # a new environment


async def test_the_server_is_started_again_when_it_died(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        add_function(engine, "state", STATE)
        await engine.invoke("state", b"{}")
        assert engine.pool.fork_servers is not None
        [server] = engine.pool.fork_servers._servers.values()
        assert server._server is not None
        os.kill(server._server.proc.pid, signal.SIGKILL)
        server._server.proc.wait()
        engine.pool.retire_idle("state", "idle", latest_only=False)
        assert body(await engine.invoke("state", b"{}"))["count"] == 1
        [env] = engine.pool.environments("state")
        assert env.forked and server.spawns == 2


async def test_the_server_is_started_with_the_engine_for_the_loaded_functions(
    function_root: Path, tmp_path: Path
) -> None:
    """Its interpreter's start overlaps the engine's instead of the first cold start's; only
    for a function that will fork (not one with native libraries, not a Node.js one)."""
    make_function(function_root, "state", STATE)
    native = make_function(function_root, "native", STATE, runtime="python3.12")
    (native / "lib").mkdir()
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        servers = engine.pool.fork_servers
        assert servers is not None
        await until(
            lambda: any(s._server for s in list(servers._servers.values())),
            "the fork server to start",
        )
        [(key, server)] = servers._servers.items()
        assert key == (sys.executable, False)
        running = server._server
        assert running is not None and running.proc.poll() is None  # before any invoke
        result = await engine.invoke("state", b"{}")
        assert result.function_error is None
        [env] = engine.pool.environments("state")
        assert env.forked and server._server is running and server.spawns == 1
    assert running.proc.poll() is not None  # gone with the engine


def test_an_environment_forked_to_the_engine_that_cannot_join_its_cgroup_is_reaped(
    tmp_path: Path,
) -> None:
    """Outside namespaces the server forks an environment as the engine's child at once
    (``workbench_sandbox.fork_to_parent``), and the environment moves itself into its cgroup:
    where it cannot, the spawn fails (the engine then execs the runtime) naming the child,
    which the engine reaps, and the server goes on serving."""
    server = ForkServer(sys.executable, namespaced=False, pycache_dir=tmp_path / "pycache")
    env = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9", "PATH": "/usr/bin:/bin"}
    try:
        with pytest.raises(OSError, match=r"could not join its cgroup: .*\[pid (\d+)\]") as info:
            server.spawn(env, str(tmp_path), join=[str(tmp_path / "no-such-cgroup" / "tasks")])
        pid = int(re.search(r"\[pid (\d+)\]", str(info.value))[1])  # type: ignore[index]
        until_sync(lambda: processes.reap_adopted() or not psutil.pid_exists(pid), "the reap")
        child = server.spawn(env, str(tmp_path))  # the server still serves
        assert psutil.Process(child.pid).ppid() == os.getpid()  # the engine's child at once
        child.kill()
        child.wait()
    finally:
        server.close()


async def test_without_the_fork_server_and_where_it_cannot_serve(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine(
        [function_root], settings(tmp_path, isolation="cgroups", fork_server=False)
    ) as engine:
        add_function(engine, "state", STATE)
        await engine.invoke("state", b"{}")
        [env] = engine.pool.environments("state")
        assert not env.forked
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        # native libraries in lib/: LD_LIBRARY_PATH must be read at its own start
        folder = add_function(engine, "native", STATE)
        (folder / "lib").mkdir()
        await engine.invoke("native", b"{}")
        [env] = engine.pool.environments("native")
        assert not env.forked


@pytest.mark.skipif(bool(probe()), reason="no namespaces here")
async def test_a_forked_environment_enters_its_namespaces(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine([function_root], settings(tmp_path, isolation="auto")) as engine:
        add_function(engine, "state", STATE)
        first, second = await two_environments(engine, "state")
        [env] = engine.pool.environments("state")
        assert env.forked and env.namespaced
        assert (second["pid"], second["ppid"], second["cwd"]) == (2, 1, "/var/task")
        assert first["random"] != second["random"]


WHERE = """
import os

def handler(event, context):
    return {"cgroups": open("/proc/self/cgroup").read(), "pid": os.getpid()}
"""


@pytest.mark.skipif(not cgroups_here(), reason="no usable cgroups here")
@pytest.mark.parametrize("isolation", ["cgroups", "auto"])
async def test_a_forked_environment_starts_in_its_cgroup_in_every_hierarchy(
    function_root: Path, tmp_path: Path, isolation: str
) -> None:
    """On cgroup v1 it is forked into its cgroup (the process forking it moved itself in):
    every hierarchy's folder is the environment's, and its limit holds for its children."""
    if isolation == "auto" and probe():
        pytest.skip(f"no namespaces here: {probe()}")
    async with Engine([function_root], settings(tmp_path, isolation=isolation)) as engine:
        add_function(engine, "where", WHERE, memory_size=128)
        result = body(await engine.invoke("where", b"{}"))
        [env] = engine.pool.environments("where")
        assert env.forked and env.cgroup is not None
        # v1: it joined on its own (no move by the engine, whose kernel lock costs ~10 ms)
        assert getattr(env.proc, "joined", None) is (env.cgroup.version == 1)
        lines = result["cgroups"].splitlines()
        if isolation == "auto":  # in its cgroup namespace it sees itself at the root ...
            assert all(line.endswith(":/") for line in lines), lines
            lines = Path(f"/proc/{env.pid}/cgroup").read_text().splitlines()  # ... seen outside
        for controller, folder in env.cgroup.dirs.items():
            leaf = folder.rsplit("/", 1)[1]
            [line] = [x for x in lines if controller in x.split(":")[1].split(",")]
            assert line.endswith("/" + leaf), (controller, line)
        # the engine reads the whole environment's peak from the cgroup it joined
        assert env.cgroup.whole_peak_kb(0) > 0
        members = env.cgroup.members()
        assert env.pid in members


STDLIB_USER = """
import logging, xml.dom.minidom

def handler(event, context):
    return {"logging": logging.__file__, "minidom": xml.dom.minidom.__file__}
"""


@pytest.mark.parametrize(
    ("isolation", "fork"), [("cgroups", "1"), ("rlimits", "1"), ("cgroups", "0")]
)
async def test_the_standard_librarys_own_bytecode_is_read_not_compiled_again(
    function_root: Path,
    tmp_path: Path,
    isolation: str,
    fork: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outside namespaces a runtime caches bytecode under the state dir (not in the
    function's folder); the standard library's is the interpreter's own, linked there once by
    the fork server (or an exec'd runtime: fork server off), not compiled again for each new
    state dir (a handler's first ``import logging`` took ~140 ms of its cold start before)."""
    monkeypatch.setenv("WORKBENCH_FORK_SERVER", fork)
    async with Engine([function_root], settings(tmp_path, isolation=isolation)) as engine:
        add_function(engine, "stdlib", STDLIB_USER)
        files = body(await engine.invoke("stdlib", b"{}"))
        prefix = engine.state_dir / "pycache"
        for source in (files["logging"], files["minidom"]):
            folder, name = os.path.split(source)
            cached = prefix / folder.lstrip("/") / f"{name[:-3]}.{sys.implementation.cache_tag}.pyc"
            assert cached.is_symlink(), f"{cached} was compiled again, not read from the stdlib's"
            assert Path(os.readlink(cached)) == Path(folder) / "__pycache__" / cached.name
        # the function's own code is compiled there (its folder gets no __pycache__)
        assert list(prefix.rglob(f"app.{sys.implementation.cache_tag}.pyc"))
        assert not (function_root / "stdlib" / "__pycache__").exists()


def test_stale_or_missing_linked_bytecode_is_compiled_again(tmp_path: Path) -> None:
    """A link whose file is gone (the interpreter reinstalled) reads as missing: the module
    is compiled and cached in its place; a second ``link`` does nothing (its marker)."""
    import subprocess

    from workbench.engine.runtime.launch import PYTHON_BOOTSTRAP

    prefix = tmp_path / "pycache"
    code = (
        f"import sys; sys.path.insert(0, {str(PYTHON_BOOTSTRAP.parent)!r}); "
        "import workbench_pycache; workbench_pycache.link(); import colorsys; "
        "print(colorsys.__file__)"
    )
    run = [sys.executable, "-I", "-S", "-X", f"pycache_prefix={prefix}", "-c", code]
    source = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    folder, name = os.path.split(source)
    cached = prefix / folder.lstrip("/") / f"{name[:-3]}.{sys.implementation.cache_tag}.pyc"
    assert cached.is_symlink() and cached.resolve().is_file()
    assert (prefix / os.path.dirname(os.__file__).lstrip("/") / ".workbench-stdlib-linked").exists()
    cached.unlink()
    cached.symlink_to(tmp_path / "gone.pyc")  # dangling
    subprocess.run(run, capture_output=True, text=True, check=True)
    assert not cached.is_symlink() and cached.is_file()  # compiled again, in the link's place


def environ_of(pid: int) -> dict[str, str]:
    """What ``/proc/PID/environ`` shows: its variables, then nothing but NULs."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        block = f.read()
    used = block.rstrip(b"\0")
    entries = [e.decode() for e in used.split(b"\0")]
    assert all("=" in e for e in entries), entries  # no leftover of another block
    return dict(e.split("=", 1) for e in entries)


ENVIRON = """
import os, subprocess

def handler(event, context):
    exec_env = subprocess.run(["env"], capture_output=True, text=True, check=True).stdout
    return {
        "environ": dict(os.environ),
        "environb": {k.decode(): v.decode() for k, v in os.environb.items()},
        "getenv": os.getenv("COLOUR"),
        "exec": dict(line.split("=", 1) for line in exec_env.splitlines() if "=" in line),
    }
"""


@pytest.mark.parametrize("isolation", ["cgroups", "auto"])
async def test_a_forked_runtime_has_exactly_its_variables_where_a_program_it_runs_finds_them(
    function_root: Path, tmp_path: Path, isolation: str
) -> None:
    """os.environ, os.environb and the C library's environment (what ``env`` run from the
    handler inherits) hold the environment's variables and nothing of the fork server's."""
    if isolation == "auto" and probe():
        pytest.skip(f"this machine gives no namespaces: {probe()}")
    async with Engine([function_root], settings(tmp_path, isolation=isolation)) as engine:
        add_function(engine, "environ", ENVIRON, environment={"COLOUR": "teal"})
        seen = body(await engine.invoke("environ", b"{}"))
    environ = seen["environ"]
    assert environ["COLOUR"] == "teal" and environ["AWS_LAMBDA_FUNCTION_NAME"] == "environ"
    assert not {k for k in environ if k.startswith("_WORKBENCH")}, environ
    assert seen["environb"] == environ and seen["getenv"] == "teal"
    assert seen["exec"] == environ


@pytest.mark.parametrize("isolation", ["cgroups", "auto"])
async def test_proc_environ_shows_the_environments_variables_and_nothing_else(
    function_root: Path, tmp_path: Path, isolation: str
) -> None:
    """A forked environment's processes show its variables where tools read them, as an
    exec'd runtime's do: none of the fork server's, nor the room it kept for them (in
    namespaces its init shows them too: the watchdog knows it by them)."""
    if isolation == "auto" and probe():
        pytest.skip(f"this machine gives no namespaces: {probe()}")
    async with Engine([function_root], settings(tmp_path, isolation=isolation)) as engine:
        add_function(engine, "state", STATE, environment={"COLOUR": "teal"})
        await engine.invoke("state", b"{}")
        [env] = engine.pool.environments("state")
        shown = environ_of(env.pid)
        assert shown["COLOUR"] == "teal" and shown["AWS_LAMBDA_FUNCTION_NAME"] == "state"
        assert "_WORKBENCH_ENVIRON_SPACE" not in shown and "_WORKBENCH_SANDBOX" not in str(shown)
        if isolation == "auto":  # its init: the runtime's variables, the same
            [runtime] = psutil.Process(env.pid).children()
            assert environ_of(runtime.pid) == shown
