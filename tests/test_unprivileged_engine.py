"""``workbench serve`` run by a user who is not root, as most people run it (a laptop: user
namespaces where the distribution allows them, no cgroup of its own): this suite, as root,
starts it as ``nobody``. Its environments get what the machine gives such a user, serve says
which, and a handler sees Lambda's filesystem, its own processes and nothing of the host; with
``--isolation rlimits`` it gets the fallback, and serve says what that does not stop. Ctrl+C
leaves nothing behind.

The root engine's paths are covered in ``engine/test_namespaces.py``; where the suite itself
runs unprivileged, every test is such an engine and this file is skipped.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.engine.test_namespaces import LOOK
from tests.helpers import make_function, until_sync
from tests.test_cli_serve import start_serve

NOBODY = 65534
NOT_ISOLATED = "  not isolated: the filesystem, the network and other processes"
CHECKOUT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="starting an engine as another user needs root"
)


def _environ(home: Path) -> dict[str, str]:
    """What a user's shell would give: a HOME of its own, the system PATH, and this checkout
    and its packages to import (the suite's interpreter may not be reachable as ``nobody``)."""
    return {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(CHECKOUT), *site.getsitepackages()]),
        "PYTHONDONTWRITEBYTECODE": "1",  # (this checkout's caches are root's)
    }


def _as_nobody(command: list[str], home: Path = Path("/")) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        env=_environ(home),
        capture_output=True,
        text=True,
        timeout=60,
    )


@functools.cache
def _interpreter() -> str | None:
    """An interpreter of this Python version that ``nobody`` can run and import the workbench
    with (the suite's own may live under root's home, as pyenv's does)."""
    version = "{}.{}".format(*sys.version_info[:2])
    found = (shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin") or "",)
    for candidate in dict.fromkeys((sys.executable, os.path.realpath(sys.executable), *found)):
        if not candidate:
            continue
        try:
            done = _as_nobody(
                [
                    candidate,
                    "-c",
                    "import sys, workbench.cli, aiohttp, psutil;"
                    "print('{}.{}'.format(*sys.version_info[:2]))",
                ]
            )
        except OSError:  # not nobody's to run (e.g. under root's home)
            continue
        if done.returncode == 0 and done.stdout.strip() == version:
            return candidate
    return None


HOSTILE = """
import os, sys, time

def handler(event, context):
    kind = event["kind"]
    if kind == "flood":  # 20 MB on stdout
        line = "x" * 1023 + "\\n"
        for _ in range(20 * 1024):
            sys.stdout.write(line)
        return "flooded"
    if kind == "memory":  # 400 MB in a 128 MB function
        return len(bytearray(400 * 1024 * 1024))
    if kind == "daemon":  # a grandchild in a session of its own, meant to outlive everything
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(600)
            os._exit(0)
        return "spawned"
"""


NAMESPACES_PROBE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
# CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
if libc.unshare(0x10000000 | 0x00020000 | 0x20000000 | 0x08000000 | 0x04000000) != 0:
    raise SystemExit(os.strerror(ctypes.get_errno()))
"""


@pytest.fixture
def nobody(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(the interpreter, a folder ``nobody`` may enter: ``functions/`` to read, ``home/`` its
    own); pytest's tmp_path is root's alone, so this one is made beside it."""
    python = _interpreter()
    if python is None:
        pytest.skip("no interpreter of this version that the user nobody can run and import with")
    base = Path(tempfile.mkdtemp(prefix="wb-nobody-"))
    try:
        base.chmod(0o755)
        make_function(base / "functions", "look", LOOK)
        make_function(base / "functions", "hostile", HOSTILE)
        for folder, _, files in os.walk(base / "functions"):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        (base / "home").mkdir()
        os.chown(base / "home", NOBODY, NOBODY)
        yield python, base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _serve(python: str, base: Path, *extra: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """serve as ``nobody``; its process, its API's URL and what it printed about its functions
    (through its ``AWS credentials`` line)."""
    home = base / "home"
    proc, url, lines = start_serve(
        base / "functions",
        home / "state",
        *extra,
        command=[python, "-m", "workbench", "serve"],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        env=_environ(home),
        cwd=home,
    )
    said = []
    try:
        while not said or not said[-1].startswith("AWS credentials"):
            said.append(lines.get(timeout=30))
    except queue.Empty:
        proc.kill()
        raise AssertionError("serve said nothing more:\n" + "\n".join(said)) from None
    return proc, url, said


@contextlib.contextmanager
def _serving(
    python: str, base: Path, *extra: str
) -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    """serve as ``nobody`` (``_serve``) while the block runs; then ctrl+c (``_stop``)."""
    proc, url, said = _serve(python, base, *extra)
    try:
        yield proc, url, said
    finally:
        if proc.poll() is None:
            _stop(proc)


def _call(url: str, function: str, event: dict[str, object]) -> tuple[str | None, Any]:
    """Invoke over the Lambda API: (its X-Amz-Function-Error, its payload)."""
    request = urllib.request.Request(
        f"{url}/2015-03-31/functions/{function}/invocations", data=json.dumps(event).encode()
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.headers.get("X-Amz-Function-Error"), json.loads(response.read())


def _invoke(url: str, event: dict[str, object]) -> dict[str, object]:
    error, answer = _call(url, "look", event)
    assert error is None, answer
    assert isinstance(answer, dict)
    return answer


def _stop(proc: subprocess.Popen[str]) -> None:
    """Ctrl+C, as a user stops it: exit 130 (128 + SIGINT), its environments gone with it."""
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 128 + signal.SIGINT
    until_sync(
        lambda: not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE],
        "serve's processes to be gone",
        explain=lambda: [c.cmdline() for c in children if c.is_running()],
    )


def _outside_environments_sessions(serve: int) -> list[int]:
    """serve's live descendants in a session that none of its children (each environment's
    process) leads (a zombie left by a handler, its parent not waiting, is not counted)."""
    descendants = psutil.Process(serve).children(recursive=True)
    environments = {_session(p.pid) for p in descendants if p.ppid() == serve}
    found = []
    for p in descendants:
        with contextlib.suppress(psutil.Error):
            if _session(p.pid) not in {0, *environments} and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
    return found


def _session(pid: int) -> int:
    """The session a process is in (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return 0


def _namespaces_for_nobody(python: str) -> str:
    """'' if ``nobody`` may make user, mount, pid, ipc and uts namespaces here; else why not."""
    done = _as_nobody([python, "-c", NAMESPACES_PROBE])
    return "" if done.returncode == 0 else (done.stderr.strip() or "refused")


def test_an_unprivileged_engine_gives_its_functions_what_the_machine_allows_and_says_it(
    nobody: tuple[str, Path],
) -> None:
    python, base = nobody
    refused = _namespaces_for_nobody(python)
    with _serving(python, base) as (proc, url, said):
        text = "\n".join(said)
        # no cgroup is nobody's to make (none is delegated to it): rlimits, and why
        assert "isolation: rlimits: memory per process" in text, text
        assert "cannot create a cgroup" in text, text
        if refused:  # the fallback, said: a handler can read what the user can
            assert "  no namespaces (" in text and NOT_ISOLATED in text, text
            seen = _invoke(url, {"kind": "where"})
            assert seen["uid"] == NOBODY and seen["task_root"] == str(base / "functions/look")
            pytest.skip(f"this machine gives nobody no namespaces ({refused}): fallback checked")
        assert "namespaces (user, mount, pid, ipc, uts) for every function" in text, text

        seen = _invoke(url, {"kind": "where"})
        assert (seen["uid"], seen["user"]) == (993, "sbx_user1051")
        assert seen["task_root"] == seen["cwd"] == "/var/task"
        assert seen["file"] == "/var/task/app.py" and seen["tmpdir"] == "/tmp"
        # its own processes only: its init and itself; neither serve nor anything of the host
        assert seen["ppid"] == 1 and seen["pids"] == [1, seen["pid"]], seen
        host = [str(base), str(base / "home/state"), str(base / "functions"), "/root"]
        assert _invoke(url, {"kind": "exists", "paths": host}) == dict.fromkeys(host, False)
        assert _invoke(url, {"kind": "write", "path": "/var/task/new.py"})["errno"] == 30
        assert not (base / "functions/look/new.py").exists()
        assert _invoke(url, {"kind": "write", "path": "/tmp/mine"}) == {"written": "/tmp/mine"}

        # its command line and its init's are Lambda's, not serve's (which names host paths);
        # its init is not its own to look into
        lines = _invoke(url, {"kind": "cmdline"})
        assert lines["argv"] == ["/var/runtime/bootstrap.py"], lines
        assert lines["self"] == f"{lines['executable']} /var/runtime/bootstrap.py\0", lines
        assert lines["init"] == "init\0", lines
        init = _invoke(url, {"kind": "init"})
        assert init == {"root": 13, "cwd": 13, "fd": 13, "environ": 13, "maps": 13}, init

        # nor can it signal anything but itself: its init ignores it, serve is unseen
        assert _invoke(url, {"kind": "kill_parent"}) == {"ppid": 1}
        assert _invoke(url, {"kind": "where"})["pid"] == seen["pid"]  # the same environment
        if os.uname().machine == "x86_64":  # and that init, serve's child, is the few pages'
            # program (workbench_init), not a copy of the interpreter: nobody's, so it went
            # non-dumpable itself (its /proc files are root's, as the refusals above say)
            inits = [p for p in psutil.Process(proc.pid).children() if p.cmdline() == ["init"]]
            assert len(inits) == 1, inits
            assert os.readlink(f"/proc/{inits[0].pid}/exe") == "/memfd:init (deleted)"


def test_an_unprivileged_engine_without_namespaces_when_asked_says_what_is_not_stopped(
    nobody: tuple[str, Path],
) -> None:
    python, base = nobody
    with _serving(python, base, "--isolation", "rlimits") as (proc, url, said):
        text = "\n".join(said)
        assert "isolation: rlimits: memory per process" in text, text
        assert "  no namespaces (asked for with --isolation rlimits)" in text, text
        assert NOT_ISOLATED in text, text
        seen = _invoke(url, {"kind": "where"})
        assert seen["uid"] == NOBODY and seen["task_root"] == str(base / "functions/look")
        assert seen["cwd"] == str(base / "functions/look")


def test_an_unprivileged_engine_outlasts_a_hostile_handler_and_leaves_nothing(
    nobody: tuple[str, Path],
) -> None:
    """A handler that floods its output, allocates past its memory and leaves a daemon behind:
    Lambda's answers, serve keeps serving, and ctrl+c takes the daemon too."""
    python, base = nobody
    with _serving(python, base) as (proc, url, _):
        assert _call(url, "hostile", {"kind": "flood"}) == (None, "flooded")
        error, answer = _call(url, "hostile", {"kind": "memory"})
        assert error == "Unhandled" and answer["errorType"] == "Runtime.ExitError", answer
        assert _call(url, "hostile", {"kind": "daemon"}) == (None, "spawned")
        # waited for: the handler answers before its child has made a session of its own (it
        # then leaves the grandchild there and exits); a session that is not an environment's
        # (those lead theirs from serve's children)
        until_sync(
            lambda: len(_outside_environments_sessions(proc.pid)) == 1,
            "the handler's daemon alone in a session of its own",
            explain=lambda: _outside_environments_sessions(proc.pid),
        )
        assert _invoke(url, {"kind": "where"})["uid"] in (993, NOBODY)  # still serving


def test_the_namespaces_probe_makes_them_as_root() -> None:
    """What the first test expects of serve is decided by this probe: it makes the namespaces
    where they can be made (here, as root), so a refusal as ``nobody`` is the machine's, and a
    broken probe cannot turn that test into a check of the fallback alone."""
    done = subprocess.run([sys.executable, "-c", NAMESPACES_PROBE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
