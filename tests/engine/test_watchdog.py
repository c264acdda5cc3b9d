"""Environments die with the engine, even on ``kill -9``: the watchdog process, the Python
runtime's parent-death signal, and the whole of it through a real ``workbench serve``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import make_function
from tests.test_cli_serve import start_serve
from workbench.engine.runtime.launch import PYTHON_BOOTSTRAP
from workbench.engine.runtime.namespaces import probe
from workbench.engine.runtime.watchdog import Watchdog

DEADLINE_S = 30.0  # only bounds a failure; a pass returns as soon as the condition holds


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def transient(process: psutil.Process) -> bool:
    """The bootstrap's `mv`, or anything already gone: not something that must die with serve."""
    try:
        return process.name() == "mv"
    except psutil.Error:
        return True


def gone(pid: int) -> bool:
    """Dead (a zombie counts: it runs nothing; reaped here if it is ours to reap)."""
    try:
        if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            return False
    except psutil.NoSuchProcess:
        return True
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return True


def environment_process(marker: str, command: str = "exec sleep 300") -> subprocess.Popen[str]:
    """A process as a runtime (or a handler's child) looks: its own session and process group,
    and Lambda's log stream variable ending in the environment's id."""
    env = {**os.environ, "AWS_LAMBDA_LOG_STREAM_NAME": f"2026/01/01/[$LATEST]{marker}"}
    return subprocess.Popen(
        ["sh", "-c", command], env=env, start_new_session=True, stdout=subprocess.PIPE, text=True
    )


@pytest.fixture
def dog() -> Iterator[Watchdog]:
    watchdog = Watchdog()
    yield watchdog
    watchdog.close()  # idempotent: a failed test leaves no watchdog to later ones


@pytest.fixture
def spawned() -> list[subprocess.Popen[str]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_the_watchdog_kills_what_it_watches_once_its_engine_is_gone(
    dog: Watchdog,
    spawned: list[subprocess.Popen[str]],
) -> None:
    # a runtime whose handler started a child in its process group
    runtime = environment_process("a" * 32, "sleep 300 & echo $!; exec sleep 301")
    assert runtime.stdout is not None
    in_group = int(runtime.stdout.readline())
    moved_out = environment_process("a" * 32)  # a handler's child that called setsid
    forgotten = environment_process("b" * 32)  # an environment the engine already retired
    unrelated = subprocess.Popen(["sleep", "300"], start_new_session=True, text=True)
    spawned += [runtime, moved_out, forgotten, unrelated]
    dog.watch(runtime.pid, "a" * 32)
    dog.watch(forgotten.pid, "b" * 32)
    dog.forget(forgotten.pid)
    assert dog.proc is not None
    watchdog = psutil.Process(dog.proc.pid)
    # (its command line shows a moment after Popen returns: the exec is still finishing)
    until(lambda: "workbench-watchdog" in watchdog.cmdline(), "the watchdog's command line")
    assert os.getsid(dog.proc.pid) == dog.proc.pid  # out of our session: no Ctrl-C reaches it

    dog.close()  # the write end closes, as when the engine dies
    until(lambda: all(gone(p) for p in (runtime.pid, in_group, moved_out.pid)), "the environment")
    assert forgotten.poll() is None and unrelated.poll() is None
    assert not watchdog.is_running()


def test_a_watched_pid_taken_by_another_environment_is_spared(
    dog: Watchdog,
    spawned: list[subprocess.Popen[str]],
) -> None:
    other = environment_process("c" * 32)  # the pid the watchdog knows now leads another group
    spawned.append(other)
    dog.watch(other.pid, "d" * 32)
    proc = dog.proc
    assert proc is not None
    dog.close()
    assert proc.returncode == 0  # it ran its sweep and exited
    assert other.poll() is None


def test_a_watchdog_that_died_is_started_again_and_told_everything(
    dog: Watchdog,
    spawned: list[subprocess.Popen[str]],
) -> None:
    first = environment_process("e" * 32)
    second = environment_process("f" * 32)
    spawned += [first, second]
    dog.watch(first.pid, "e" * 32)
    assert dog.proc is not None
    dog.proc.kill()
    dog.proc.wait()
    dog.watch(second.pid, "f" * 32)  # finds it dead: starts another
    assert dog.proc is not None and dog.proc.poll() is None
    dog.close()
    until(lambda: gone(first.pid) and gone(second.pid), "both environments")


def test_with_no_environment_left_the_watchdog_exits_after_its_linger_and_another_starts_later(
    spawned: list[subprocess.Popen[str]],
) -> None:
    dog = Watchdog(linger_s=0.3)
    try:
        first = environment_process("1" * 32)
        spawned.append(first)
        dog.watch(first.pid, "1" * 32)
        assert dog.proc is not None
        watchdog = dog.proc
        first.kill()  # as the engine kills a retired environment, then forgets it
        first.wait()
        dog.forget(first.pid)
        until(lambda: dog.proc is None, "the watchdog let go of")  # nothing lingers for long
        assert watchdog.wait(timeout=DEADLINE_S) == 0  # it exits (reaped by the engine)
        second = environment_process("2" * 32)
        spawned.append(second)
        dog.watch(second.pid, "2" * 32)
        assert dog.proc is not None and dog.proc is not watchdog and dog.proc.poll() is None
    finally:
        dog.close()
    until(lambda: gone(second.pid), "the second environment")


def test_an_environment_started_while_the_watchdog_lingers_is_watched_by_the_same_one(
    spawned: list[subprocess.Popen[str]],
) -> None:
    dog = Watchdog(linger_s=0.5)
    try:
        first = environment_process("1" * 32)
        spawned.append(first)
        dog.watch(first.pid, "1" * 32)
        watchdog = dog.proc
        assert watchdog is not None
        first.kill()
        first.wait()
        dog.forget(first.pid)
        second = environment_process("2" * 32)  # before the linger ends: no new interpreter
        spawned.append(second)
        dog.watch(second.pid, "2" * 32)
        assert dog.proc is watchdog
        time.sleep(1.0)  # past the linger: it still watches the second
        assert dog.proc is watchdog and watchdog.poll() is None
    finally:
        dog.close()  # as the engine's death: the second dies with it
    until(lambda: gone(second.pid), "the second environment")
    assert watchdog.poll() == 0


# --------------------------------------------------------------------------- the Python runtime

HARNESS = """
import os, socket, subprocess, sys, threading, time
bootstrap, task_root = sys.argv[1], sys.argv[2]
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
env = {
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % server.getsockname()[1],
    "_HANDLER": "app.handler",
    "LAMBDA_TASK_ROOT": task_root,
    "PATH": os.environ["PATH"],
}
started = {}

def spawn():
    # as an engine that starts runtimes from a worker thread: this thread ends right after
    child = subprocess.Popen(
        [sys.executable, "-I", "-S", bootstrap], stdin=subprocess.PIPE, env=env,
        start_new_session=True,
    )
    child.stdin.write(b"\\n")
    child.stdin.close()
    started["conn"] = server.accept()[0]  # the runtime is past its go-ahead and the prctl
    started["pid"] = child.pid
    started["tid"] = threading.get_native_id()

worker = threading.Thread(target=spawn)
worker.start()
worker.join()
while os.path.exists("/proc/self/task/%d" % started["tid"]):
    time.sleep(0.01)  # gone from the kernel: the parent-death signal, if any, is sent
conn, buf = started["conn"], b""

def receive():
    chunk = conn.recv(65536)
    if not chunk:
        print("the runtime closed its connection: it died", flush=True)
        sys.exit(1)
    return chunk

def request():  # the runtime's next request, whole
    global buf
    while b"\\r\\n\\r\\n" not in buf:
        buf += receive()
    head, _, buf = buf.partition(b"\\r\\n\\r\\n")
    length = [l for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length:")]
    size = int(length[0].split(b":")[1]) if length else 0
    while len(buf) < size:
        buf += receive()
    body, buf = buf[:size], buf[size:]
    return head.split(b" ")[1], body

def event(request_id, payload):
    deadline = int((time.time() + 600) * 1000)
    conn.sendall(
        b"HTTP/1.1 200 OK\\r\\nLambda-Runtime-Aws-Request-Id: %s\\r\\n"
        b"Lambda-Runtime-Deadline-Ms: %d\\r\\nContent-Length: %d\\r\\n\\r\\n%s"
        % (request_id, deadline, len(payload), payload)
    )

assert request()[0].endswith(b"/invocation/next")
event(b"first", b"{}")
path, body = request()  # its answer: it is alive after the thread that started it ended
conn.sendall(b"HTTP/1.1 202 Accepted\\r\\nContent-Length: 0\\r\\n\\r\\n")
print(started["pid"], body.decode(), flush=True)
assert request()[0].endswith(b"/invocation/next")
event(b"second", b'{"sleep": 300}')  # busy: it will not notice a closed connection
print("busy", flush=True)
sys.stdin.read()  # until the test kills us
"""

HANDLER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "alive"
"""


def test_the_python_runtime_dies_with_its_engine_not_with_the_thread_that_started_it(
    tmp_path: Path,
) -> None:
    task = tmp_path / "task"
    task.mkdir()
    (task / "app.py").write_text(HANDLER)
    engine = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(PYTHON_BOOTSTRAP), str(task)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert engine.stdout is not None
        first = engine.stdout.readline()
        assert "closed" not in first, first
        pid, answer = first.split()
        runtime_pid = int(pid)
        assert answer == '"alive"'  # answered after its starting thread was gone
        assert engine.stdout.readline() == "busy\n"
        assert psutil.Process(runtime_pid).ppid() == engine.pid

        engine.kill()  # SIGKILL: nothing of the engine's runs any more; no watchdog here
        engine.wait()
        until(lambda: gone(runtime_pid), "the busy runtime to die with its engine")
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()


# --------------------------------------------------------------------------- serve, end to end


@contextlib.contextmanager
def serving_an_event(
    root: Path, state: Path, function: str, *extra: str
) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """``workbench serve`` on ``root`` with an Event invocation of ``function`` under way
    (serve runs it in the background); yields serve's process and a list for the pids that
    must end with it, each SIGKILLed at the end whatever happened."""
    proc, url, _ = start_serve(root, state, *extra)
    victims: list[int] = []
    try:
        request = urllib.request.Request(
            f"{url}/2015-03-31/functions/{function}/invocations",
            data=b"{}",
            headers={"X-Amz-Invocation-Type": "Event"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 202
        yield proc, victims
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


BUSY = """
import os, subprocess, time
def handler(event, context):
    inner = subprocess.Popen(["sleep", "300"])  # in the environment's process group
    outer = subprocess.Popen(["sleep", "301"], start_new_session=True)  # moved out of it
    with open(os.environ["PIDS"] + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {inner.pid} {outer.pid}")
    os.rename(os.environ["PIDS"] + ".tmp", os.environ["PIDS"])
    time.sleep(300)
"""


@pytest.mark.parametrize("runtime", ["python", "provided"])
def test_kill_9_of_serve_takes_its_busy_environments_and_their_children_along(
    tmp_path: Path, runtime: str
) -> None:
    root = tmp_path / "functions"
    pids = tmp_path / "pids"
    if runtime == "python":
        make_function(root, "busy", BUSY, timeout=600, environment={"PIDS": str(pids)})
    else:  # a provided runtime (a shell script): no parent-death signal, the watchdog alone
        folder = make_function(root, "busy", "", runtime="provided", timeout=600)
        bootstrap = folder / "bootstrap"
        bootstrap.write_text(
            textwrap.dedent(f"""\
            #!/bin/sh
            sleep 300 &
            setsid sleep 301 &
            echo "$$ $! 0" > {pids}.tmp && mv {pids}.tmp {pids}
            exec sleep 302
            """)
        )
        bootstrap.chmod(0o755)
    # (the provided bootstrap never asks for its event: it is killed at once, in INIT, well
    # before INIT's 10 s end)
    with serving_an_event(root, tmp_path / "state", "busy") as (proc, victims):
        until(pids.exists, "the handler to start its children")
        victims += [int(p) for p in pids.read_text().split() if int(p)]
        serve = psutil.Process(proc.pid)
        watchdogs = [
            p.pid for p in serve.children() if "workbench-watchdog" in " ".join(p.cmdline())
        ]
        assert len(watchdogs) == 1
        # (not the bootstrap's `mv`, which may still be exiting when the pids file appears)
        victims += [p.pid for p in serve.children(recursive=True) if not transient(p)]
        assert all(not gone(pid) for pid in victims)

        proc.kill()  # SIGKILL
        proc.wait(30)
        until(lambda: all(gone(pid) for pid in victims), "every process of the serve to end")


HIDING = """
import os, subprocess, time

def handler(event, context):
    subprocess.Popen(["sleep", "300"])  # a child, in its namespaces
    # its variables erased where /proc/PID/environ shows them: no process can be known as
    # this environment's by them any more but its init
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[-3]), int(fields[-2])
    with open("/proc/self/mem", "r+b", buffering=0) as mem:
        mem.seek(start)
        mem.write(bytes(end - start))
    time.sleep(300)
"""


@pytest.mark.skipif(bool(probe()), reason=f"this machine gives no namespaces: {probe()}")
def test_kill_9_of_serve_takes_a_namespaced_environment_along_even_one_that_hides(
    tmp_path: Path,
) -> None:
    """In namespaces the runtime's init is the environment's process-group leader: the
    watchdog knows it by the environment's variables too, and kills the group (the init's end
    takes every process of the namespaces with it), even when the handler erased its own."""
    root = tmp_path / "functions"
    make_function(root, "hider", HIDING, timeout=600)
    flags = ("--isolation", "auto", "--network", "host")
    with serving_an_event(root, tmp_path / "state", "hider", *flags) as (proc, victims):
        serve = psutil.Process(proc.pid)

        def sleeps() -> list[psutil.Process]:
            return [p for p in serve.children(recursive=True) if p.name() == "sleep"]

        until(lambda: len(sleeps()) == 1, "the handler to start its child")
        runtime = sleeps()[0].parent()
        assert runtime is not None

        def hidden() -> bool:
            with open(f"/proc/{runtime.pid}/environ", "rb") as f:
                return b"AWS_LAMBDA_LOG_STREAM_NAME" not in f.read()

        until(hidden, "the handler to erase its variables")
        victims += [p.pid for p in serve.children(recursive=True) if not transient(p)]
        assert all(not gone(pid) for pid in victims)

        proc.kill()  # SIGKILL
        proc.wait(30)
        until(lambda: all(gone(pid) for pid in victims), "every process of the serve to end")
