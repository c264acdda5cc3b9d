"""External extensions (Extensions API 2020-01-01) as real processes beside the runtime."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from workbench.engine import Engine, EngineSettings, EnvironmentEvent
from workbench.engine.runtime.namespaces import UIDS_VAR, probe

from ..helpers import (
    add_function,
    cgroups_here,
    ids_inside,
    running,
    tmp_of,
    until,
    until_sync,
)
from .test_custom_runtimes import BOOTSTRAP, make_provided

HANDLER = """
def handler(event, context):
    return {"ok": True}
"""

# AWS's example extension, in Python: register, then loop on next, logging each event.
PY_EXTENSION = r"""#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
name = os.path.basename(__file__)
req = urllib.request.Request(api + "/register", method="POST",
    data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
    headers={"Lambda-Extension-Name": name})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
    info = json.loads(r.read())
log = open(os.environ["EXT_LOG"], "a", buffering=1)
log.write(json.dumps({"registered": info}) + "\n")
while True:
    req = urllib.request.Request(api + "/event/next",
        headers={"Lambda-Extension-Identifier": ident})
    with urllib.request.urlopen(req) as r:
        event = json.loads(r.read())
    log.write(json.dumps(event) + "\n")
    if event["eventType"] == "SHUTDOWN":
        break
"""

# The same in shell (bash + curl), taking its time after each INVOKE (post-invocation work).
SH_EXTENSION = r"""#!/bin/bash
set -e
API="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
ID=$(curl -sS -D - -o /dev/null -X POST "$API/register" \
  -H "Lambda-Extension-Name: $(basename "$0")" -d '{"events":["INVOKE"]}' \
  | tr -d '\r' | sed -n 's/^[Ll]ambda-[Ee]xtension-[Ii]dentifier: //p')
while true; do
  EVENT=$(curl -sS "$API/event/next" -H "Lambda-Extension-Identifier: $ID")
  echo "$EVENT" >> "$EXT_LOG"
  sleep 0.4
done
"""


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _events(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


async def test_a_python_extension_in_a_layer_registers_gets_invoke_and_shutdown(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    _executable(function_root / "layers" / "obs" / "extensions" / "py-ext", PY_EXTENSION)
    add_function(
        engine, "withext", HANDLER, layers=["../layers/obs"], environment={"EXT_LOG": str(log)}
    )
    first = await engine.invoke("withext", b"{}")
    second = await engine.invoke("withext", b"{}")
    assert json.loads(first.payload) == {"ok": True}
    assert second.record.init_duration_ms is None  # the same environment, reused warm
    events = _events(log)
    assert events[0] == {
        "registered": {
            "functionName": "withext",
            "functionVersion": "$LATEST",
            "handler": "app.handler",
        }
    }
    invokes = [e for e in events if e.get("eventType") == "INVOKE"]
    assert [e["requestId"] for e in invokes] == [first.record.request_id, second.record.request_id]
    assert str(invokes[0]["invokedFunctionArn"]).endswith(":function:withext")
    assert invokes[0]["tracing"]["type"] == "X-Amzn-Trace-Id"  # type: ignore[index]
    assert isinstance(invokes[0]["deadlineMs"], int)
    await engine.close()
    await until(lambda: any(e.get("eventType") == "SHUTDOWN" for e in _events(log)))
    [shutdown] = [e for e in _events(log) if e.get("eventType") == "SHUTDOWN"]
    assert shutdown["shutdownReason"] == "spindown"


async def test_a_slow_shell_extension_counts_in_the_duration(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    folder = add_function(engine, "slowext", HANDLER, environment={"EXT_LOG": str(log)})
    _executable(folder / "extensions" / "sh-ext", SH_EXTENSION)
    engine.load_functions()
    result = await engine.invoke("slowext", b"{}")
    assert json.loads(result.payload) == {"ok": True}
    [event] = _events(log)
    assert event["eventType"] == "INVOKE" and event["requestId"] == result.record.request_id
    # the invocation ended once the extension asked for its next event, 0.4 s later
    assert result.record.duration_ms >= 400
    # that post-invocation time is the record's own (the Lifecycle tab draws it), kept as stored
    extensions_ms = result.record.extensions_ms
    assert extensions_ms is not None and 400 <= extensions_ms <= result.record.duration_ms
    stored = await until(lambda: engine.store.get(result.record.request_id), "the record")
    assert stored.extensions_ms == extensions_ms
    add_function(engine, "plain", HANDLER)  # no extensions: no post-invocation time at all
    assert (await engine.invoke("plain", b"{}")).record.extensions_ms is None


async def _invoke_with_phases(engine: Engine, name: str) -> tuple[Any, dict[str, float]]:
    """Invoke ``name`` (cold), with the INIT phases' durations the environment published."""
    events = engine.bus.subscribe()
    try:
        result = await engine.invoke(name, b"{}")
        phases = {
            e.phase: e.duration_ms
            for e in events.get_nowait()
            if isinstance(e, EnvironmentEvent) and e.duration_ms is not None
        }
    finally:
        events.close()
    return result, phases


async def test_init_phases_add_up_with_an_extension(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    """Extension INIT, then runtime INIT from the runtime's spawn to its first connection (the
    extensions' connections come before the spawn and are not its), then function INIT: the
    phases the Lifecycle tab draws add up to Init Duration."""
    folder = add_function(engine, "phases", HANDLER, environment={"EXT_LOG": str(tmp_path / "l")})
    _executable(folder / "extensions" / "py-ext", PY_EXTENSION)
    engine.load_functions()
    result, phases = await _invoke_with_phases(engine, "phases")
    init = result.record.init_duration_ms
    assert init is not None and phases["init_done"] == pytest.approx(init, abs=0.01)
    parts = [phases["extension_init"], phases["runtime_init"], phases["function_init"]]
    assert all(0 < p < init for p in parts), phases
    assert sum(parts) == pytest.approx(init, abs=1.0), phases


async def test_runtime_init_ends_at_the_runtimes_first_connection_not_an_extensions(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    """An extension's connection made after the runtime's spawn (its event/next, 0.2 s after it
    registered) does not end runtime INIT; the runtime's own first request does (a bootstrap
    that waits 0.5 s before it)."""
    if shutil.which("bash") is None or shutil.which("curl") is None:
        pytest.skip("the runtime here is a bash script that uses curl")
    script = BOOTSTRAP.replace("set -euo pipefail\n", "set -euo pipefail\nsleep 0.5\n")
    env = {"EXT_LOG": str(tmp_path / "l")}
    folder = make_provided(engine, "late", 'echo "{}"', script, environment=env)
    late_next = PY_EXTENSION.replace("while True:", "time.sleep(0.2)\nwhile True:", 1)
    _executable(folder / "extensions" / "late-ext", late_next.replace("os,", "os, time,", 1))
    engine.load_functions()
    result, phases = await _invoke_with_phases(engine, "late")
    assert result.record.status == "success", result.payload
    assert phases["runtime_init"] >= 500, phases
    assert phases["function_init"] < phases["runtime_init"], phases


async def test_an_extension_that_exits_during_init_fails_it_with_extension_crash(
    function_root: Path, engine: Engine
) -> None:
    folder = add_function(engine, "crashext", HANDLER)
    _executable(folder / "extensions" / "dies", "#!/bin/sh\necho going down\nexit 3\n")
    engine.load_functions()
    result = await engine.invoke("crashext", b"{}")
    assert result.record.error_type == "Extension.Crash"
    assert "exited with status 3" in result.payload.decode()
    assert os.path.exists(folder)


# What an extension sees, written where its runtime can read it (/tmp), before it registers;
# on SHUTDOWN it tells the test over TCP (the host's paths are not there to write to).
PY_SEEING = r"""#!/usr/bin/env python3
import json, os, pwd, socket, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
name = os.path.basename(__file__)
try:
    open("/var/task/new.txt", "w").close()
    task = "written"
except OSError as e:
    task = type(e).__name__
seen = {
    "self": __file__, "uid": os.getuid(), "user": pwd.getpwuid(os.getuid()).pw_name,
    "pid": os.getpid(), "cwd": os.getcwd(), "task_write": task,
    "init": open("/proc/1/cmdline").read() == "init\0",  # ours, naming no host path
    "host": sorted(p for p in os.environ["HOST_PATHS"].split(":") if os.path.exists(p)),
    "pidns": os.readlink("/proc/self/ns/pid"),
}
with open("/tmp/" + name + ".json", "w") as f:
    json.dump(seen, f)
req = urllib.request.Request(api + "/register", method="POST",
    data=json.dumps({"events": ["SHUTDOWN"]}).encode(), headers={"Lambda-Extension-Name": name})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
req = urllib.request.Request(api + "/event/next", headers={"Lambda-Extension-Identifier": ident})
with urllib.request.urlopen(req) as r:
    event = json.loads(r.read())
with socket.create_connection(("127.0.0.1", int(os.environ["REPORT_PORT"]))) as s:
    s.sendall(f"{name} {event['eventType']} {event.get('shutdownReason')}".encode())
"""

SH_SEEING = r"""#!/bin/bash
set -e
API="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
if touch /var/task/new.txt 2>/dev/null; then TASK=written; else TASK=refused; fi
if [ "$(tr -d '\0' < /proc/1/cmdline)" = init ]; then INIT=true; else INIT=false; fi
HOST=""
IFS=:
for p in $HOST_PATHS; do if [ -e "$p" ]; then HOST="$HOST $p"; fi; done
unset IFS
printf '{"self": "%s", "uid": %s, "user": "%s", "pid": %s, "cwd": "%s", "task_write": "%s", ' \
  "$0" "$(id -u)" "$(id -un)" "$$" "$PWD" "$TASK" > /tmp/sh-see.json
printf '"init": %s, "host": "%s", "pidns": "%s"}' "$INIT" "$HOST" "$(readlink /proc/self/ns/pid)" \
  >> /tmp/sh-see.json
ID=$(curl -sS -D - -o /dev/null -X POST "$API/register" \
  -H "Lambda-Extension-Name: sh-see" -d '{"events":["INVOKE"]}' \
  | tr -d '\r' | sed -n 's/^[Ll]ambda-[Ee]xtension-[Ii]dentifier: //p')
while true; do curl -sS "$API/event/next" -H "Lambda-Extension-Identifier: $ID" > /dev/null; done
"""

READS_TMP = """
import json, os
def handler(event, context):
    seen = {n: json.load(open("/tmp/" + n + ".json")) for n in ("py-see", "sh-see")}
    procs = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            procs.append(open(f"/proc/{pid}/cmdline").read().replace("\\0", " "))
        except OSError:
            pass
    return {"seen": seen, "pid": os.getpid(), "pidns": os.readlink("/proc/self/ns/pid"),
            "procs": procs}
"""


@pytest.mark.skipif(bool(probe()), reason=f"this machine gives no namespaces: {probe()}")
@pytest.mark.parametrize("uids", ["own", "shared"])  # shared: in user namespaces, as unprivileged
async def test_extensions_run_in_the_environments_namespaces_under_auto(
    function_root: Path, tmp_path: Path, uids: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on Lambda, extensions share the function's sandbox: /var/task read-only, themselves
    at /opt/extensions (a layer's; the function's own under /var/task/extensions), the /tmp the
    handler reads, none of the host's paths, sbx_user1051 under the environment's init, one pid
    namespace with the runtime; and SHUTDOWN still reaches them."""
    if uids == "shared":
        monkeypatch.setenv(UIDS_VAR, "shared")
    reports: asyncio.Queue[str] = asyncio.Queue()

    async def report(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reports.put((await reader.read()).decode())
        writer.close()

    server = await asyncio.start_server(report, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _executable(function_root / "layers" / "obs" / "extensions" / "py-see", PY_SEEING)
    state = tmp_path / "state"
    host = [str(state), str(function_root.parent), str(Path.home() / ".aws")]
    # (the host's network: the extensions report to this test on its loopback; in a network
    # of its own they could not, test_netns.py)
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=state, isolation="auto", network="host"
    )
    try:
        async with Engine([function_root], settings) as engine:
            folder = add_function(
                engine,
                "seeing",
                READS_TMP,
                layers=["../layers/obs"],
                environment={"HOST_PATHS": ":".join(host), "REPORT_PORT": str(port)},
            )
            _executable(folder / "extensions" / "sh-see", SH_SEEING)
            engine.load_functions()
            assert state.is_dir() and function_root.parent.is_dir()  # there, outside
            result = await engine.invoke("seeing", b"{}")
            assert result.record.error_type is None, "\n".join(result.record.log_lines)
            out = json.loads(result.payload)
            py, sh = out["seen"]["py-see"], out["seen"]["sh-see"]
            assert py["self"] == "/opt/extensions/py-see"
            assert sh["self"] == "/var/task/extensions/sh-see"
            for seen in (py, sh):
                assert seen["user"] == "sbx_user1051" and seen["uid"] == 993, seen
                assert seen["task_write"] in ("OSError", "refused"), seen  # read-only
                assert seen["host"] in ([], ""), seen
                assert seen["init"] is True and seen["pid"] < 100, seen  # PID 1: the init
                assert seen["cwd"] == "/var/task", seen
            # one pid namespace for the runtime and its extensions, as on Lambda: each sees
            # the others' processes
            assert py["pidns"] == sh["pidns"] == out["pidns"], (py, sh, out)
            procs = " | ".join(out["procs"])
            assert "/opt/extensions/py-see" in procs and "extensions/sh-see" in procs, procs
            assert out["pid"] < 100, out
            # through the fork server, the engine's child is the runtime itself, in them
            [env] = engine.environments("seeing")
            nspid = ids_inside(env.pid)
            assert env.forked and nspid[-1] == out["pid"], (nspid, out["pid"])
            assert not (folder / "new.txt").exists()
            engine.pool.retire_idle("seeing", "idle", latest_only=False)
            said = await asyncio.wait_for(reports.get(), timeout=30)
            assert said == "py-see SHUTDOWN spindown"
    finally:
        server.close()


HOSTILE_BESIDE_EXTENSION = """
import os, signal

def handler(event, context):
    tried = {}
    for name, target in (("init", 1), ("parent", os.getppid()), ("host", event["host"])):
        if target == 0:  # (its parent is outside its pid namespace: 0 would be its own group)
            tried[name] = "outside"
            continue
        try:
            os.kill(target, signal.SIGKILL)
            tried[name] = "sent"
        except OSError as e:
            tried[name] = e.errno
    seen = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            seen.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
        except OSError:
            pass
    pids = sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit())
    return {"tried": tried, "seen": seen, "pids": pids}
"""


@pytest.mark.skipif(bool(probe()), reason=f"this machine gives no namespaces: {probe()}")
async def test_a_hostile_handler_beside_an_extension_cannot_end_the_environment_or_reach_out(
    function_root: Path, tmp_path: Path
) -> None:
    """In the namespaces it shares with its extension, a handler SIGKILLs PID 1 (the init the
    first extension made), its parent if it sees one, and a host process by its
    host pid: the environment lives on (the next call is warm and the extension gets its
    INVOKE), the host process too, and the handler sees only the environment's processes."""
    settings = EngineSettings(keep_alive_s=5.0, state_dir=tmp_path / "state", isolation="auto")
    async with Engine([function_root], settings) as engine:
        folder = add_function(
            engine, "hostile", HOSTILE_BESIDE_EXTENSION, environment={"EXT_LOG": "/tmp/ext.log"}
        )
        _executable(folder / "extensions" / "py-ext", PY_EXTENSION)
        engine.load_functions()
        host = subprocess.Popen(["sleep", "600"])
        try:
            event = json.dumps({"host": host.pid}).encode()
            first = await engine.invoke("hostile", event)
            assert first.record.error_type is None, first.payload
            got = json.loads(first.payload)
            # (PID 1 may refuse the signal, EPERM, or take it and ignore it, as a namespace's init)
            assert got["tried"]["init"] in ("sent", 1) and got["tried"]["host"] == 3, got  # ESRCH
            assert host.poll() is None
            # only the environment's: the init, the extension, the handler's process
            assert got["pids"] == [1, 2, 3], got
            assert not any("sleep 600" in c for c in got["seen"]), got["seen"]
            again = await engine.invoke("hostile", event)
            assert again.record.error_type is None and not again.record.cold, again.payload
            assert host.poll() is None
        finally:
            host.kill()
            host.wait()
        [env] = engine.environments("hostile")
        with open(tmp_of(env) / "ext.log") as f:
            events = [json.loads(line) for line in f if line.strip()]
        invokes = [e["requestId"] for e in events if e.get("eventType") == "INVOKE"]
        assert invokes == [first.record.request_id, again.record.request_id]
        # (the runtime, the engine's child, in their namespaces)
        assert env.namespaced and env.forked


@pytest.mark.skipif(bool(probe()), reason=f"this machine gives no namespaces: {probe()}")
async def test_a_crashing_extension_in_namespaces_fails_init_with_extension_crash(
    function_root: Path, tmp_path: Path
) -> None:
    settings = EngineSettings(keep_alive_s=5.0, state_dir=tmp_path / "state", isolation="auto")
    async with Engine([function_root], settings) as engine:
        folder = add_function(engine, "crashns", HANDLER)
        _executable(folder / "extensions" / "dies", "#!/bin/sh\necho going down\nexit 3\n")
        engine.load_functions()
        result = await engine.invoke("crashns", b"{}")
        assert result.record.error_type == "Extension.Crash"
        assert "exited with status 3" in result.payload.decode()
        assert "going down" in "\n".join(result.record.log_lines)


async def test_an_extension_reporting_an_init_error_fails_init_with_its_type(
    function_root: Path, engine: Engine
) -> None:
    folder = add_function(engine, "initerr", HANDLER)
    script = r"""#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
ID=$(curl -sS -D - -o /dev/null -X POST "$API/register" -H "Lambda-Extension-Name: bad" \
  -d '{"events":["INVOKE"]}' | tr -d '\r' | sed -n 's/^[Ll]ambda-[Ee]xtension-[Ii]dentifier: //p')
curl -sS -X POST "$API/init/error" -H "Lambda-Extension-Identifier: $ID" \
  -H "Lambda-Extension-Function-Error-Type: Extension.ConfigInvalid" -d '{}'
sleep 30
"""
    _executable(folder / "extensions" / "bad", script)
    engine.load_functions()
    result = await engine.invoke("initerr", b"{}")
    assert result.record.error_type == "Extension.ConfigInvalid"


async def test_an_invocation_timeout_sends_shutdown_with_reason_timeout(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    _executable(function_root / "layers" / "obs" / "extensions" / "py-ext", PY_EXTENSION)
    add_function(
        engine,
        "sleepy",
        "import time\ndef handler(event, context):\n    time.sleep(30)\n",
        layers=["../layers/obs"],
        timeout=1,
        environment={"EXT_LOG": str(log)},
    )
    result = await engine.invoke("sleepy", b"{}")
    assert result.record.status == "timeout"
    await until(lambda: any(e.get("eventType") == "SHUTDOWN" for e in _events(log)))
    [shutdown] = [e for e in _events(log) if e.get("eventType") == "SHUTDOWN"]
    assert shutdown["shutdownReason"] == "timeout"
    assert isinstance(shutdown["deadlineMs"], int)


async def test_an_extension_that_ignores_shutdown_is_killed_after_its_budget(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    pid_file = tmp_path / "ext.pid"
    script = r"""#!/bin/bash
echo $$ > "$EXT_PID"
API="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
ID=$(curl -sS -D - -o /dev/null -X POST "$API/register" -H "Lambda-Extension-Name: stubborn" \
  -d '{"events":["SHUTDOWN"]}' | tr -d '\r' | sed -n 's/^[Ll]ambda-[Ee]xtension-[Ii]dentifier: //p')
curl -sS "$API/event/next" -H "Lambda-Extension-Identifier: $ID" > /dev/null
trap '' TERM
while true; do sleep 1; done
"""
    folder = add_function(engine, "stubborn", HANDLER, environment={"EXT_PID": str(pid_file)})
    _executable(folder / "extensions" / "stubborn", script)
    engine.load_functions()
    result = await engine.invoke("stubborn", b"{}")
    assert json.loads(result.payload) == {"ok": True}
    pid = int(pid_file.read_text())
    assert running(pid)
    engine.pool.retire_idle("stubborn", "idle", latest_only=False)  # SHUTDOWN, reason spindown
    assert running(pid)  # it has its 2 s
    await until(lambda: not running(pid), "the extension killed after SHUTDOWN's 2 s")


async def test_the_with_extension_sample_logs_its_lifecycle(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parents[2] / "sample_functions"
    settings = EngineSettings(keep_alive_s=5.0, state_dir=tmp_path / "state")
    async with Engine([samples], settings) as engine:
        result = await engine.invoke("with-extension", b"{}")
        rid = result.record.request_id
        assert json.loads(result.payload) == {"handled": rid}
        log = "\n".join(result.record.log_lines)
        assert "[lifecycle-logger] EXTENSION INIT: registered for with-extension $LATEST" in log
        assert f"[lifecycle-logger] INVOKE {rid}: post-invocation work, 150 ms" in log
        assert result.record.duration_ms >= 150  # its post-invocation work is in Duration
        # it subscribed to telemetry in INIT and waits for platform.runtimeDone before its work
        assert "[lifecycle-logger] EXTENSION INIT: subscribed to platform and function" in log
        telemetry = [line for line in result.record.log_lines if "TELEMETRY" in line]
        assert "[lifecycle-logger] TELEMETRY platform.start" in telemetry
        assert "[lifecycle-logger] TELEMETRY function line 'handler: request " + rid + "'" in (
            telemetry
        )
        [done] = [line for line in telemetry if "platform.runtimeDone" in line]
        assert done.startswith("[lifecycle-logger] TELEMETRY platform.runtimeDone success ")
        second = await engine.invoke("with-extension", b"{}")
        # the first call's platform.report arrived after it ended: in the second call's log
        assert any(
            line.startswith("[lifecycle-logger] TELEMETRY platform.report success")
            for line in second.record.log_lines
        )


# Registers, writes its cgroups, then holds 80 MB (touched) while it waits for events.
HEAVY_EXTENSION = r"""#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
ballast = bytearray(80 * 1024 * 1024)
for i in range(0, len(ballast), 4096):
    ballast[i] = 1
req = urllib.request.Request(api + "/register", method="POST",
    data=json.dumps({"events": ["INVOKE"]}).encode(), headers={"Lambda-Extension-Name": "heavy"})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
open(os.environ["EXT_CGROUP"], "w").write(open("/proc/self/cgroup").read())
while True:
    headers = {"Lambda-Extension-Identifier": ident}
    urllib.request.urlopen(urllib.request.Request(api + "/event/next", headers=headers)).read()
"""

CGROUP_HANDLER = """
def handler(event, context):
    return open("/proc/self/cgroup").read()
"""


@pytest.mark.skipif(not cgroups_here(), reason="this machine gives the workbench no cgroups")
async def test_an_extension_shares_the_runtimes_cgroup_and_memory(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    seen = tmp_path / "ext.cgroup"
    folder = add_function(
        engine, "heavyext", CGROUP_HANDLER, memory_size=256, environment={"EXT_CGROUP": str(seen)}
    )
    _executable(folder / "extensions" / "heavy", HEAVY_EXTENSION)
    engine.load_functions()
    result = await engine.invoke("heavyext", b"{}")
    runtime_cgroups = json.loads(result.payload)

    def memory(text: str) -> str:
        return next(ln for ln in text.splitlines() if ":memory:" in ln or ln.startswith("0::"))

    # the same environment cgroup as the runtime's (not the engine's)
    assert memory(seen.read_text()) == memory(runtime_cgroups)
    assert memory(runtime_cgroups) != memory(Path("/proc/self/cgroup").read_text())
    # Max Memory Used is the environment's: the extension's 80 MB are in it, as on Lambda
    assert result.record.max_memory_mb >= 80


async def test_an_extension_gets_lambdas_variables_for_extensions_not_the_runtimes(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    seen = tmp_path / "ext.env"
    script = r"""#!/usr/bin/env python3
import json, os, urllib.request
open(os.environ["EXT_ENV"], "w").write(json.dumps(dict(os.environ)))
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
req = urllib.request.Request(api + "/register", method="POST", data=b'{"events": []}',
    headers={"Lambda-Extension-Name": "envdump"})
ident = urllib.request.urlopen(req).headers["Lambda-Extension-Identifier"]
req = urllib.request.Request(api + "/event/next", headers={"Lambda-Extension-Identifier": ident})
urllib.request.urlopen(req).read()
"""
    folder = add_function(
        engine, "envext", HANDLER, memory_size=256, environment={"EXT_ENV": str(seen)}
    )
    _executable(folder / "extensions" / "envdump", script)
    engine.load_functions()
    result = await engine.invoke("envext", b"{}")
    assert json.loads(result.payload) == {"ok": True}
    env = json.loads(seen.read_text())
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "envext"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["AWS_REGION"] and env["TZ"] and env["EXT_ENV"] == str(seen)
    # the runtime's own are not an extension's, as on Lambda
    for name in ("_HANDLER", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_EXECUTION_ENV"):
        assert name not in env, name
    assert "PYTHONPATH" not in env
    assert not [k for k in env if k.startswith("_WORKBENCH")]


# Every refusal of the Extensions API, as the emulator's handlers word them, then a good run.
PROBE_EXTENSION = r"""#!/usr/bin/env python3
import json, os, urllib.error, urllib.request, uuid
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
seen = {}
def call(label, path, method="GET", body=None, **headers):
    req = urllib.request.Request(api + path, method=method, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            ident = r.headers.get("Lambda-Extension-Identifier")
            seen[label] = [r.status, json.loads(r.read()), ident]
    except urllib.error.HTTPError as e:
        seen[label] = [e.code, json.loads(e.read())]
name = {"Lambda-Extension-Name": "probe"}
call("next_no_id", "/event/next")
call("next_bad_id", "/event/next", **{"Lambda-Extension-Identifier": "not-a-uuid"})
call("next_unknown_id", "/event/next", **{"Lambda-Extension-Identifier": str(uuid.uuid4())})
call("register_no_name", "/register", "POST", b'{"events": []}')
call("register_bad_event", "/register", "POST", b'{"events": ["BOGUS"]}', **name)
call("register_config_keys", "/register", "POST", b'{"configurationKeys": ["a"]}', **name)
call("register_not_json", "/register", "POST", b'[', **name)
accept = {"Lambda-Extension-Accept-Feature": "accountId"}
call("register", "/register", "POST", b'{"events": ["INVOKE"]}', **name, **accept)
call("register_again", "/register", "POST", b'{"events": ["INVOKE"]}', **name)
ident = {"Lambda-Extension-Identifier": seen["register"][2]}
call("init_error_no_type", "/init/error", "POST", b"{}", **ident)
open(os.environ["EXT_LOG"], "w").write(json.dumps(seen))
while True:
    urllib.request.urlopen(urllib.request.Request(api + "/event/next", headers=ident)).read()
"""


async def test_the_extensions_api_refuses_bad_requests_as_lambda_does(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "probe.json"
    folder = add_function(engine, "probe", HANDLER, environment={"EXT_LOG": str(log)})
    _executable(folder / "extensions" / "probe", PROBE_EXTENSION)
    engine.load_functions()
    result = await engine.invoke("probe", b"{}")
    assert json.loads(result.payload) == {"ok": True}  # a refused call fails nothing
    seen = json.loads(log.read_text())

    def refusal(label: str) -> tuple[int, str]:
        status, body = seen[label]
        assert set(body) == {"errorMessage", "errorType"}, body
        return status, body["errorType"]

    assert refusal("next_no_id") == (403, "Extension.MissingExtensionIdentifier")
    assert refusal("next_bad_id") == (403, "Extension.InvalidExtensionIdentifier")
    assert refusal("next_unknown_id") == (403, "Extension.UnknownExtensionIdentifier")
    assert refusal("register_no_name") == (403, "Extension.InvalidExtensionName")
    assert refusal("register_bad_event") == (403, "Extension.InvalidEventType")
    assert refusal("register_config_keys") == (403, "InvalidRequestFormat")
    assert refusal("register_not_json") == (403, "InvalidRequestFormat")
    assert seen["register"][:2] == [  # the account id, as it was asked for
        200,
        {
            "functionName": "probe",
            "functionVersion": "$LATEST",
            "handler": "app.handler",
            "accountId": engine.settings.account_id,
        },
    ]
    assert refusal("register_again") == (403, "Extension.InvalidExtensionState")
    assert refusal("init_error_no_type") == (403, "Extension.MissingHeader")


# Registers for SHUTDOWN and takes half a second over it: the engine closes meanwhile.
SLOW_TO_SHUT_DOWN = r"""#!/usr/bin/env python3
import json, os, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
req = urllib.request.Request(api + "/register", method="POST",
    data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
    headers={"Lambda-Extension-Name": "slow"})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
while True:
    req = urllib.request.Request(api + "/event/next",
        headers={"Lambda-Extension-Identifier": ident})
    with urllib.request.urlopen(req) as r:
        if json.loads(r.read())["eventType"] == "SHUTDOWN":
            break
time.sleep(0.5)
"""

# Registers for INVOKE only: killed when the environment goes.
SH_INVOKES_ONLY = r"""#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
ID=$(curl -sS -D - -o /dev/null -X POST "$API/register" -H "Lambda-Extension-Name: sh" \
  -d '{"events":["INVOKE"]}' | tr -d '\r' | sed -n 's/^[Ll]ambda-[Ee]xtension-[Ii]dentifier: //p')
while true; do curl -sS "$API/event/next" -H "Lambda-Extension-Identifier: $ID" > /dev/null; done
"""


def _from_a_pid_namespace_of_ours() -> list[str]:
    """Our descendants, zombies included, that were in a pid namespace below ours (an
    environment's processes: nothing else the test process starts is)."""
    import psutil

    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if len(fields.get("NSpid", "").split()) > 1:
            said = " ".join(fields[k].strip() for k in ("Name", "State", "PPid", "NSpid"))
            found.append(f"{proc.pid} {said}")
    return found


@pytest.mark.skipif(bool(probe()), reason=f"this machine gives no namespaces: {probe()}")
async def test_an_engine_closed_during_its_extensions_shutdown_leaves_no_process_or_zombie(
    function_root: Path, tmp_path: Path
) -> None:
    # The engine closed without waiting for an environment retired a moment before, whose
    # extensions were in their SHUTDOWN; their launchers' inits were then left as zombies of
    # the engine (its subreaper) for good, or alive, waiting for them to be reaped.
    settings = EngineSettings(
        keep_alive_s=5.0,
        reap_interval_s=0.2,
        state_dir=tmp_path / "state",
        isolation="auto",
        network="host",
    )
    async with Engine([function_root], settings) as engine:
        folder = add_function(engine, "exts", HANDLER)
        _executable(folder / "extensions" / "slow", SLOW_TO_SHUT_DOWN)
        _executable(folder / "extensions" / "sh", SH_INVOKES_ONLY)
        engine.load_functions()
        result = await engine.invoke("exts", b"{}")
        assert result.record.error_type is None, "\n".join(result.record.log_lines)
        assert len(_from_a_pid_namespace_of_ours()) >= 4  # inits, extensions, the runtime
        engine.pool.retire_idle("exts", "idle", latest_only=False)
    until_sync(lambda: not _from_a_pid_namespace_of_ours(), "no environment's process left",
               timeout=10, explain=lambda: _from_a_pid_namespace_of_ours())  # fmt: skip
