"""The program a namespaced environment's init becomes (``runtimes/python/workbench_init.py``):
run here as a child subreaper's, it does what PID 1 does for an environment — goes
non-dumpable, then lets the runtime on; reaps every orphan; writes the runtime's wait status
and ends as it ended — in a few pages of memory. (In namespaces: ``test_namespaces.py``.)
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.helpers import memory_kb, runtime_module
from workbench.engine.runtime import processes

workbench_init = runtime_module("workbench_init")
pytestmark = pytest.mark.skipif(
    workbench_init.program(2, 3, 4) is None, reason=f"no init program for {os.uname().machine}"
)


class Init:
    """A child that forks a stand-in runtime (``runtime_does`` in it), then becomes the
    program, as PID 1 does: its pid, the runtime's, and the two pipes' read ends."""

    def __init__(self, runtime_does: str) -> None:
        report_r, report_w = os.pipe()
        release_r, release_w = os.pipe()
        go_r, go_w = os.pipe()
        pids_r, pids_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the init
            try:
                for fd in (report_r, release_r, go_w, pids_r):
                    os.close(fd)
                assert processes.become_subreaper()  # orphans come here, as to PID 1
                if os.geteuid() == 0:  # (a uid whose /proc files are root's only when non-dumpable)
                    os.setresuid(65534, 65534, 65534)
                runtime = os.fork()
                if runtime == 0:
                    os.close(report_w)
                    os.close(release_w)
                    os.read(go_r, 1)  # until the test has looked at the init
                    _runtime(runtime_does)
                os.write(pids_w, str(runtime).encode())
                workbench_init.become(runtime, report_w, release_w, {"MARK": "x"})
            finally:
                os._exit(99)  # (only if it could not become the program)
        for fd in (report_w, release_w, go_r, pids_w):
            os.close(fd)
        self.runtime = int(os.read(pids_r, 32))
        os.close(pids_r)
        self.report, self.release, self.go = report_r, release_r, go_w

    def released(self) -> bool:
        """Has the init closed ``release`` (the runtime waits for that)?"""
        return os.read(self.release, 1) == b""

    def end(self) -> tuple[int, int]:
        """Let the runtime go on; the status the init reports, and the init's own exit code."""
        os.write(self.go, b"1")
        os.close(self.go)
        status = os.read(self.report, 8)
        _, own = os.waitpid(self.pid, 0)
        for fd in (self.report, self.release):
            os.close(fd)
        assert len(status) == 4, status
        return int.from_bytes(status, "little"), os.waitstatus_to_exitcode(own)


def _runtime(does: str) -> None:
    if does == "orphans":  # exit 0 once an orphan it made was reaped by the init, else 4
        read, write = os.pipe()
        child = os.fork()
        if child == 0:
            if os.fork() == 0:  # the init's once its parent has ended
                os.write(write, str(os.getpid()).encode())
                time.sleep(0.3)
            os._exit(0)
        os.waitpid(child, 0)
        orphan = int(os.read(read, 32))
        with open(f"/proc/{orphan}/stat") as f:  # (it sleeps yet)
            if int(f.read().rpartition(")")[2].split()[1]) != os.getppid():
                os._exit(5)  # not the init's: the test would prove nothing
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # (unreaped, it stays in /proc as a zombie)
            if not os.path.exists(f"/proc/{orphan}"):
                os._exit(0)
            time.sleep(0.01)
        os._exit(4)
    if does == "signal":
        os.kill(os.getpid(), signal.SIGTERM)
    os._exit(3)


@pytest.fixture
def init_of() -> Iterator[type[Init]]:
    started: list[Init] = []

    class Tracked(Init):
        def __init__(self, runtime_does: str) -> None:
            super().__init__(runtime_does)
            started.append(self)

    yield Tracked
    for init in started:  # (a failed assertion leaves none behind)
        for pid in (init.runtime, init.pid):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, os.WNOHANG)
            except OSError:
                pass


@pytest.mark.skipif(os.geteuid() != 0, reason="a non-dumpable process's /proc files are root's")
def test_it_is_the_program_and_holds_a_few_pages(init_of: type[Init]) -> None:
    init = init_of("exit")
    assert init.released()  # (it runs: release closed)
    assert os.readlink(f"/proc/{init.pid}/exe") == "/memfd:init (deleted)"
    with open(f"/proc/{init.pid}/cmdline", "rb") as f:
        assert f.read() == b"init\0"
    with open(f"/proc/{init.pid}/environ", "rb") as f:
        assert f.read() == b"MARK=x\0"  # (what the watchdog knows an environment's by)
    rollup = memory_kb(init.pid)
    assert rollup["Rss"] <= 64, rollup  # kB: its stack and its one page of code


def test_it_is_not_dumpable_before_it_lets_the_runtime_on(init_of: type[Init]) -> None:
    """An execve made it dumpable again: a process of its uid could read its /proc files
    and trace it. It is not, by the time the runtime goes on (its /proc files are root's,
    not its uid's)."""
    init = init_of("exit")
    assert init.released()
    assert os.stat(f"/proc/{init.pid}/environ").st_uid == 0  # (its uid's, were it dumpable)


@pytest.mark.parametrize(
    ("does", "status", "code"),
    [
        ("exit", 3 << 8, 3),
        ("signal", signal.SIGTERM, 128 + signal.SIGTERM),
        ("orphans", 0, 0),  # (4: an orphan of the runtime's was left a zombie)
    ],
)
def test_it_reports_how_the_runtime_ended_and_ends_so(
    init_of: type[Init], does: str, status: int, code: int
) -> None:
    """The runtime's exact wait status on ``report``; the init's exit code: the runtime's, or
    128 + the signal that killed it. Meanwhile it reaps the orphans the runtime leaves it."""
    init = init_of(does)
    assert init.released()
    assert init.end() == (status, code)


def test_become_returns_where_it_cannot_with_release_open() -> None:
    """No program for the machine, or an ``execve`` refused: it returns, and ``release``
    (which the caller then closes) is still open."""
    assert workbench_init.program(2, 3, 4, machine="aarch64") is None
    read, write = os.pipe()
    try:
        workbench_init.become(os.getpid(), write, write, {"BAD=NAME": "x"})  # (refused)
        os.write(write, b"1")
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.close(write)
    # and no memfd is left open behind it
    assert not any("memfd:init" in os.readlink(f"/proc/self/fd/{fd}") for fd in _fds())


def _fds() -> list[int]:
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            os.readlink(f"/proc/self/fd/{name}")
            out.append(int(name))
        except OSError:
            pass
    return out
