"""Standby Node runtimes (engine/runtime/standby.py): a Node cold start is handed to a Node
started ahead, and the handler cannot tell — the same variables, folder, module paths, limits
and out-of-memory end as an exec'd runtime's; a consumed standby is replaced, the switch turns
them off, and the engine's close leaves no process behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.helpers import body, until, until_sync
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime import standby as standby_module
from workbench.engine.runtime.namespaces import probe
from workbench.engine.runtime.standby import STANDBY_JS, Standbys

from .test_node_runtime import node_function

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")

# what a handler can see of its process: its variables, folder, module paths, entry point
PROBE = """
const fs = require('fs');
exports.handler = async (event) => {
  if (event.allocate) {
    const kept = [];
    for (let i = 0; i < event.allocate; i++) kept.push(Buffer.alloc(1 << 20, 1));
    return kept.length;
  }
  if (event.heap) {
    const kept = [];
    for (;;) kept.push(new Array(100000).fill(1.5));
  }
  const environ = fs.readFileSync('/proc/self/environ', 'latin1').split('\\0').filter(Boolean);
  const pair = (kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
  return {
    env: { ...process.env },
    environ: Object.fromEntries(environ.map(pair)),
    cwd: process.cwd(),
    pid: process.pid,
    ppid: process.ppid,
    argv: process.argv,
    execArgv: process.execArgv,
    mainFilename: require.main && require.main.filename,
    paths: module.paths.slice(-3).concat(require('module').globalPaths),
    lib: require('helper').name,
    tzOffset: new Date(0).getTimezoneOffset(),
    nofile: fs.readFileSync('/proc/self/limits', 'latin1'),
  };
};
"""
HELPER = "exports.name = 'helper from the task root';\n"


def settings(tmp_path: Path, **extra: Any) -> EngineSettings:
    return EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", **extra
    )


def write_probe(engine: Engine, name: str = "probe", **config: Any) -> Path:
    config.setdefault("environment", {"COLOUR": "teal"})
    return node_function(
        engine,
        name,
        {"index.js": PROBE, "node_modules/helper/index.js": HELPER},
        **config,
    )


def standbys(engine: Engine) -> Standbys:
    assert engine.pool.standbys is not None
    return engine.pool.standbys


async def standby_ready(engine: Engine) -> int:
    """Wait until a standby is ready (after the first cold start of its key); its pid."""
    sb = standbys(engine)
    ready = await until(lambda: [sb.ready(key) for key in sb.keys() if sb.ready(key)], "a standby")
    return ready[0].pid


def reapable(pid: int) -> bool:
    """``pid`` (our child) has exited, all its threads: waitpid would reap it (not reaped)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


async def cold(engine: Engine, name: str, event: dict[str, Any] | None = None) -> Any:
    """Invoke ``name`` in a new environment: the idle ones are retired first."""
    engine.pool.retire_idle(name, "idle", latest_only=False)
    return await engine.invoke(name, json.dumps(event or {}).encode())


async def test_a_cold_start_takes_the_standby_and_a_new_one_replaces_it(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        write_probe(engine)
        first = body(await engine.invoke("probe", b"{}"))  # exec'd: its key's first
        [env] = engine.pool.environments("probe")
        assert not env.from_standby
        standby_pid = await standby_ready(engine)
        assert psutil.Process(standby_pid).cmdline()[-1] == str(STANDBY_JS)
        # a standby is nobody's until it is handed over: no function's environment
        assert all(e.pid != standby_pid for e in engine.pool.environments())
        second = body(await cold(engine, "probe"))
        [env] = [e for e in engine.pool.environments("probe") if e.state != "dead"]
        # the process started before the invoke was the one that ran it
        assert env.from_standby and second["pid"] == env.pid == standby_pid
        assert standbys(engine).taken == 1
        # and a new one is there for the next cold start
        replacement = await standby_ready(engine)
        assert replacement != standby_pid
        third = body(await cold(engine, "probe"))
        assert third["pid"] == replacement
        # the handler sees what an exec'd runtime sees
        assert second["cwd"] == first["cwd"] == str(function_root / "probe")
        assert second["lib"] == first["lib"] == "helper from the task root"
        assert second["ppid"] == first["ppid"] == os.getpid()
        assert second["argv"] == first["argv"] and second["execArgv"] == first["execArgv"]
        assert second["mainFilename"] == first["mainFilename"] == first["argv"][1]
        assert second["paths"] == first["paths"]
        assert second["tzOffset"] == first["tzOffset"] == 0
        assert "Max open files            1024" in second["nofile"]


async def test_a_standby_started_handler_sees_exactly_the_execd_variables(
    function_root: Path, tmp_path: Path
) -> None:
    """process.env and /proc/PID/environ (which the watchdog and tools read) alike; what
    legitimately differs is each environment's own: its Runtime API port, its log stream
    (named for the environment), TMPDIR (its own folder), and the invocation's trace id (which
    the runtime sets per invocation, so /proc/PID/environ has it in neither)."""
    trace = "_X_AMZN_TRACE_ID"
    own = {"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME", "TMPDIR", trace}
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        write_probe(engine)
        execd = body(await engine.invoke("probe", b"{}"))
        await standby_ready(engine)
        standby = body(await cold(engine, "probe"))
        [env] = [e for e in engine.pool.environments("probe") if e.state != "dead"]
        assert env.from_standby
    assert set(standby["env"]) == set(execd["env"])
    assert {k: v for k, v in standby["env"].items() if k not in own} == {
        k: v for k, v in execd["env"].items() if k not in own
    }
    assert standby["env"]["COLOUR"] == "teal" and standby["env"]["_HANDLER"] == "index.handler"
    assert standby["env"]["AWS_LAMBDA_RUNTIME_API"] == f"127.0.0.1:{env.api.port}"
    assert env.id in standby["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    # nothing of the standby's own start is left
    assert standby["environ"] == {k: v for k, v in standby["env"].items() if k != trace}
    assert execd["environ"] == {k: v for k, v in execd["env"].items() if k != trace}


async def test_memory_past_the_size_kills_a_standby_started_runtime(
    function_root: Path, tmp_path: Path
) -> None:
    """In its cgroup (which it ran in from its start) and with rlimits only alike, buffers
    past the memory size and V8's heap past its cap (the same --max-old-space-size) end the
    runtime as they end an exec'd one; an allocation within the size still succeeds."""
    for isolation in ("cgroups", "rlimits"):
        async with Engine([function_root], settings(tmp_path, isolation=isolation)) as engine:
            name = f"hog-{isolation}"
            write_probe(engine, name, memory_size=128, timeout=20)
            for event in ({"allocate": 300}, {"heap": True}):
                execd = await cold(engine, name, event)
                taken = standbys(engine).taken
                await standby_ready(engine)
                standby = await cold(engine, name, event)
                assert standbys(engine).taken == taken + 1
                same = body(standby)["errorMessage"].replace(standby.record.request_id, "ID")
                assert same == body(execd)["errorMessage"].replace(execd.record.request_id, "ID")
                assert body(standby)["errorType"] == body(execd)["errorType"]
                assert same.startswith("RequestId: ID Error: Runtime exited with error: signal")
                assert standby.record.status == execd.record.status
                assert standby.record.max_memory_mb <= 128
            await standby_ready(engine)
            small = await cold(engine, name, {"allocate": 10})
            assert body(small) == 10
            assert engine.pool.environments(name)[-1].from_standby


async def test_the_switch_and_what_cannot_start_from_a_standby(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine(
        [function_root], settings(tmp_path, isolation="cgroups", standby=False)
    ) as engine:
        write_probe(engine)
        await engine.invoke("probe", b"{}")
        await cold(engine, "probe")
        assert engine.pool.standbys is None
        assert not any(e.from_standby for e in engine.pool.environments("probe"))
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        # NODE_OPTIONS is read at Node's start: a function that sets it gets a Node of its own
        write_probe(engine, "opts", environment={"NODE_OPTIONS": "--no-deprecation"})
        await engine.invoke("opts", b"{}")
        await cold(engine, "opts")
        assert standbys(engine).keys() == []  # none was even started for it
        assert not any(e.from_standby for e in engine.pool.environments("opts"))


async def test_no_standby_before_use_and_close_leaves_no_process(
    function_root: Path, tmp_path: Path
) -> None:
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        write_probe(engine)
        assert standbys(engine).keys() == []  # no Node function has started yet
        await engine.invoke("probe", b"{}")
        pid = await standby_ready(engine)
        process = psutil.Process(pid)
    assert not psutil.pid_exists(pid) or process.status() == psutil.STATUS_ZOMBIE
    leftovers = []
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # (a zombie, or gone: it runs nothing)
            if str(STANDBY_JS) in " ".join(p.cmdline()):
                leftovers.append(p.pid)
    assert leftovers == []


async def test_a_standby_no_cold_start_took_is_stopped(
    function_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """None is kept for a runtime no longer in use (after ``IDLE_S`` without a cold start)."""
    # long enough for the test to see it first on a loaded machine
    monkeypatch.setattr(standby_module, "IDLE_S", 1.5)
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        write_probe(engine)
        await engine.invoke("probe", b"{}")
        pid = await standby_ready(engine)
        await until(lambda: standbys(engine).keys() == [], "the unused standby to stop")
        await until(lambda: not psutil.pid_exists(pid), "it to be killed and reaped")
        # the next cold start is exec'd, and brings one back
        result = body(await cold(engine, "probe"))
        assert result["pid"] != pid and standbys(engine).taken == 0
        await until(lambda: standbys(engine).started == 2, "a new standby")


async def test_a_standby_that_died_is_not_handed_over(function_root: Path, tmp_path: Path) -> None:
    async with Engine([function_root], settings(tmp_path, isolation="cgroups")) as engine:
        write_probe(engine)
        await engine.invoke("probe", b"{}")
        pid = await standby_ready(engine)
        os.kill(pid, 9)
        # dead once it can be reaped: its main thread is a zombie ("Z") while Node's other
        # threads still exit, and until they have, it is not dead to waitpid (nor to poll)
        await until(lambda: reapable(pid), "its death")
        answer = await cold(engine, "probe")
        assert answer.function_error is None, (body(answer), answer.record.log_lines)
        assert body(answer)["pid"] != pid  # exec'd instead
        assert standbys(engine).taken == 0
        assert await standby_ready(engine) != pid  # and a new one started


async def test_under_auto_isolation(function_root: Path, tmp_path: Path) -> None:
    """Under ``auto``, Node runs in namespaces of its own where the machine gives them: its
    launcher is forked from the namespaced fork server and enters them before Node starts, so
    no standby (started outside any namespace) serves it, nor is one started for it; where
    there are no namespaces, the standby path is the same as under ``cgroups``."""
    async with Engine([function_root], settings(tmp_path, isolation="auto")) as engine:
        write_probe(engine)
        execd = body(await engine.invoke("probe", b"{}"))
        standbys = engine.pool.standbys
        assert standbys is not None
        if not probe():  # namespaces here
            assert execd["cwd"] == "/var/task"
            [env] = engine.environments("probe")
            assert env.namespaced and env.forked and not env.from_standby
            assert standbys.keys() == []
            return
        pid = await standby_ready(engine)
        standby = body(await cold(engine, "probe"))
        assert standby["pid"] == pid
        assert standby["cwd"] == execd["cwd"] and standby["env"]["COLOUR"] == "teal"


READ_SYSCALL = {"x86_64": 0, "aarch64": 63}.get(platform.machine(), -1)
BUSY = """
const fs = require('fs');
exports.handler = async () => {
  fs.writeFileSync(`${process.env.PIDS}/${process.pid}`, '');
  // blocked, not waiting on its event loop
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300000);
};
"""


@pytest.mark.skipif(READ_SYSCALL < 0, reason="knows read(2)'s number on x86_64 and arm64 only")
def test_kill_9_of_serve_takes_its_standby_and_standby_started_environments_along(
    tmp_path: Path,
) -> None:
    """No Node of a serve killed outright survives it: its environments (one exec'd, one
    handed to a standby), their handlers blocked, and the idle standby that replaced the one
    taken (it ends when its stdin, the engine's pipe, closes)."""
    root, pids = tmp_path / "functions", tmp_path / "pids"
    pids.mkdir()
    folder = root / "busy"
    folder.mkdir(parents=True)
    (folder / "index.js").write_text(BUSY)
    (folder / "function.toml").write_text(
        f'runtime = "nodejs20.x"\nhandler = "index.handler"\ntimeout = 600\n'
        f"[environment]\nPIDS = {json.dumps(str(pids))}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", str(root), "--port", "0"]
        + ["--http-port", "0", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    victims: list[int] = []

    def standby_pids() -> list[int]:
        """Serve's ready standbys: Node running standby.js, blocked reading its stdin (the
        kernel shows the system call a sleeping process is in: ``read`` on fd 0)."""
        found = []
        for p in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error, OSError):
                if p.name() != "node" or p.cmdline()[-1:] != [str(STANDBY_JS)]:
                    continue
                call = Path(f"/proc/{p.pid}/syscall").read_text().split()
                if call[:2] == [str(READ_SYSCALL), "0x0"]:
                    found.append(p.pid)
        return found

    def invoke(url: str) -> None:
        with contextlib.suppress(OSError):  # it never answers: serve is killed
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{url}/2015-03-31/functions/busy/invocations", data=b"{}", method="POST"
                ),
                timeout=120,
            )

    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            if match := re.search(r"Lambda API on (http://\S+)", line):
                url = match.group(1)
                break
        assert url is not None, "serve did not start"
        threading.Thread(target=invoke, args=(url,), daemon=True).start()
        until_sync(lambda: len(list(pids.iterdir())) == 1, "the first (exec'd) environment")
        [standby] = until_sync(standby_pids, "a standby")
        threading.Thread(target=invoke, args=(url,), daemon=True).start()
        until_sync(lambda: len(list(pids.iterdir())) == 2, "the second environment")
        assert standby in {int(p.name) for p in pids.iterdir()}  # it came from the standby
        [replacement] = until_sync(lambda: [p for p in standby_pids() if p != standby], "one more")
        victims = [int(p.name) for p in pids.iterdir()] + [replacement]
        proc.kill()  # SIGKILL
        proc.wait(30)
        until_sync(lambda: all(not alive(pid) for pid in victims), "every Node of serve to end")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
