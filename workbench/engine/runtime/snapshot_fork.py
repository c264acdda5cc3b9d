"""SnapStart's snapshot, the engine's side: a published version's environment, initialised once,
then stopped, that every new environment of the version is forked from (a *restore*).

The snapshot is an ordinary environment (its cgroup, its rlimits) whose runtime, after INIT and
the ``register_before_snapshot`` hooks, listens on a ``SOCK_SEQPACKET`` socket at the path the
engine gave it (``runtimes/python/workbench_snapstart.py``) instead of serving events. Between
restores it is stopped (SIGSTOP of its process group). A restore continues it, sends the new
environment's variables and folder with its stdin and stdout pipes (as a fork server request,
``forkserver.py``), gets back the pid of a fork re-parented to the engine, and stops it again.
The fork waits for its go-ahead like any runtime (the engine moves it into its own cgroup and
sets its limits first), runs the ``register_after_restore`` hooks, then connects to its own
Runtime API.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from typing import Literal

from .forkserver import ForkedProcess, ask, hand_over

SNAPSHOT_VAR = "_WORKBENCH_SNAPSHOT"  # the socket a snapshot listens on (set: be one)
ANSWER_TIMEOUT_S = 10.0
# AWS_LAMBDA_INITIALIZATION_TYPE's values (LAMBDA_REFERENCE §5)
InitType = Literal["on-demand", "provisioned-concurrency", "snap-start"]


class RestoredProcess(ForkedProcess):
    """An environment's process restored from a snapshot."""


class SnapshotForker:
    """Restores from one snapshot, whose runtime process (and process group) is ``pid``."""

    def __init__(self, path: str, pid: int) -> None:
        self.path = path
        self.pid = pid
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.restores = 0

    def stop(self) -> None:
        """Stop the snapshot: it is a process image kept for forking, not a running runtime."""
        try:
            os.killpg(self.pid, signal.SIGSTOP)
        except OSError:
            pass

    def spawn(
        self, env: dict[str, str], cwd: str, *, join: list[str] | None = None
    ) -> ForkedProcess:
        """A restored environment's process, waiting for its go-ahead; raises ``OSError``.
        ``join``: as for a fork server (``ForkServer.spawn``)."""
        request = json.dumps({"env": env, "cwd": cwd, "join": join or []}).encode()

        def send(fds: list[int]) -> bytes:
            with self._lock:
                os.killpg(self.pid, signal.SIGCONT)
                try:
                    return ask(self._connected(), request, fds)
                except OSError:
                    self._close()  # a late answer would be read as the next restore's
                    raise
                finally:
                    self.stop()

        pid, stdin, stdout = hand_over(send, "the snapshot could not be restored")
        self.restores += 1
        return RestoredProcess(pid, stdin, stdout, joined=bool(join))

    def _connected(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            sock.settimeout(ANSWER_TIMEOUT_S)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
            self._sock = sock
        return self._sock

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def close(self) -> None:
        with self._lock:
            self._close()
