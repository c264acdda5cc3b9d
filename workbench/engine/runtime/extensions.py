"""External extensions and the Extensions API (2020-01-01) of one execution environment.

Lambda runs the executables in ``/opt/extensions/`` (the layers' ``extensions/`` folders merged)
as processes beside the runtime. Each registers (``POST /2020-01-01/extension/register``), then
loops on ``GET /extension/event/next``: INVOKE events (if it asked for them) and one SHUTDOWN.
The phases follow Lambda's: Extension INIT (every extension registers) → Runtime INIT → Function
INIT, INIT ending once the runtime and every extension wait in ``next``; an invocation ends once
the runtime has answered and every extension asked ``next`` again (its post-invocation time);
SHUTDOWN gives extensions up to 2 s before they are killed.

Here the layers' and the function's own ``extensions/`` folders are read in place (later layers
win on a name, the function's own folder last, as files extracted later into /opt would).
Each extension runs in the environment's cgroup (it joins before it execs: memory, pids and CPU
shared with the runtime, as on Lambda) but in its own session, so that the runtime's kill spares
it for SHUTDOWN; it is killed with the environment after that (``kill``). Its variables are
Lambda's for extensions (``extension_environment``), not the runtime's. Where the environment
has namespaces, each extension starts in them behind the runtimes' launcher
(``extension_sandbox.py``): ``/opt/extensions/NAME``, the runtime's ``/tmp``, no host paths.

The Telemetry API (``PUT /2022-07-01/telemetry``, telemetry.py) is theirs too: only a registered
extension subscribes, during INIT, and this class tells its ``Telemetry`` each phase.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from ..config.function import FunctionConfig
from ..model.records import runtime_version, runtime_version_arn
from . import peers, processes, watchdog
from .telemetry import Telemetry, parse_subscription

if TYPE_CHECKING:
    from .forkserver import ForkedProcess
    from .runtime_api import Invocation, RuntimeAPIProtocol

EXTENSION_PREFIX = "/2020-01-01/extension"
SHUTDOWN_BUDGET_S = 2.0  # external extensions' share of SHUTDOWN (Lambda: 2,000 ms)
TELEMETRY_FLUSH_S = 0.5  # of that budget, for the telemetry buffers before SHUTDOWN is sent
EVENTS = ("INVOKE", "SHUTDOWN")
FIRST_NAMESPACES_S = 2.0  # how long the others wait for the first extension's namespaces
ShutdownReasonWire = Literal["spindown", "timeout", "failure"]
# how an extension starts: its argv and the variables to add, given its file
Command = Callable[[Path], tuple[list[str], dict[str, str]]]


class Spawn(Protocol):
    """A fork server's ``spawn`` (``ForkServer.spawn``): variables, folder, the cgroup files
    the process joins first -> the process."""

    def __call__(
        self, env: dict[str, str], cwd: str, *, join: list[str] | None = None
    ) -> ForkedProcess: ...


IDENTIFIER = "lambda-extension-identifier"
ERROR_TYPE = "lambda-extension-function-error-type"


# What Lambda keeps from extensions (aws-lambda-runtime-interface-emulator, rapidcore/env:
# ``AgentExecEnv`` passes the function's variables, the credentials and the platform's, not the
# runtime's; and nothing whose name starts with ``_``)
RUNTIME_ONLY = frozenset(
    {
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
    }
)


def extension_environment(
    env: Mapping[str, str], fn: FunctionConfig, runtime_own: Iterable[str]
) -> dict[str, str]:
    """An extension's variables: the runtime's ``env`` without Lambda's runtime-only ones, the
    launcher's own (``runtime_own``: PYTHONPATH and the like, which Lambda's runtimes set in
    their bootstrap; PATH stays) and every ``_`` name (``_HANDLER``, the workbench's own); the
    function's variables are theirs too. UNVERIFIED: LANG, LD_LIBRARY_PATH, TMPDIR and
    AWS_LAMBDA_INITIALIZATION_TYPE kept (the emulator passes none of them; Lambda's image may)."""
    drop = RUNTIME_ONLY | (set(runtime_own) - {"PATH"})
    out = {k: v for k, v in env.items() if k not in drop and not k.startswith("_")}
    for key, value in fn.environment.items():
        if not key.startswith("_") and key not in RUNTIME_ONLY:
            out[key] = value
    return out


def find_extensions(fn: FunctionConfig) -> list[Path]:
    """The extension executables this function's environment runs, in the order Lambda lists
    ``/opt/extensions`` (by name); a later layer's file (then the function's own) wins a name."""
    chosen: dict[str, Path] = {}
    for root in (*fn.layers, fn.folder):
        folder = root / "extensions"
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_file() and os.access(entry, os.X_OK):
                chosen[entry.name] = entry
    return [chosen[name] for name in sorted(chosen)]


# moves the shell into the cgroup (each file given: ``echo 0``), then execs the extension
_JOIN = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo 0 > "$1" || '
    '{ echo "cannot join the environment\'s cgroup ($1)" >&2; exit 126; }; '
    'shift; n=$((n - 1)); done; exec "$@"'
)


def _argv(command: list[str], join: list[str] | None) -> list[str]:
    if not join:
        return command
    return ["/bin/sh", "-c", _JOIN, "sh", str(len(join)), *join, *command]


def _json(status: int, body: object, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    from .runtime_api import http_response

    data = (json.dumps(body, separators=(",", ":")) + "\n").encode()
    return http_response(status, data, (("Content-Type", "application/json"), *headers))


def _error(status: int, error_type: str, message: str) -> bytes:
    return _json(status, {"errorMessage": message, "errorType": error_type})


@dataclass(eq=False)
class Extension:
    """One extension process and its place in the lifecycle."""

    path: Path
    proc: subprocess.Popen[bytes] | ForkedProcess | None = None
    forked: bool = False  # through the fork server: its process is its namespaces' init
    pidfd: int = -1
    name: str = ""
    ident: str = ""
    events: frozenset[str] = frozenset()
    waiting: RuntimeAPIProtocol | None = None  # its connection blocked in event/next
    queue: deque[bytes] = field(default_factory=deque)
    busy: bool = False  # handed an event, has not asked next since
    exited: int | None = None  # its exit status, once reaped
    error_type: str | None = None  # from init/error or exit/error
    ready: bool = False  # it has asked for its first event (platform.extension sent)


class Extensions:
    """The extensions of one environment: their processes and their side of the API."""

    def __init__(
        self,
        fn: FunctionConfig,
        version: str,
        paths: list[Path],
        *,
        on_output: Callable[[bytes], None],
        on_crash: Callable[[Extension], None],
        account_id: str = "123456789012",
        init_type: str = "on-demand",  # AWS_LAMBDA_INITIALIZATION_TYPE (telemetry's InitType)
        runtime: str = "",  # the runtime that runs, as platform.initStart names it
    ) -> None:
        self.fn = fn
        self.init_type, self.runtime = init_type, runtime or fn.runtime
        self.account_id = account_id
        self.version = version
        self.members = [Extension(p) for p in paths]
        self.on_output = on_output
        self.on_crash = on_crash  # after INIT: an extension died (the environment is reset)
        self.phase: Literal["init", "ready", "shutdown"] = "init"
        self._changed = asyncio.Event()  # an extension registered, asked next, or exited
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read_fd = -1
        self._forked_fds: list[int] = []  # the output pipes of extensions forked (``_forked``)
        self.post_runtime_ms = 0.0  # the last invocation's extension time after the response
        self._t_response = 0.0
        self._shutdown_reason: ShutdownReasonWire = "spindown"
        # the Telemetry API (telemetry.py): only extensions subscribe, so it lives with them
        self.telemetry = Telemetry(json_logs=fn.logging.json, on_warning=on_output)

    # ----------------------------------------------------------------- processes

    async def launch(
        self,
        env: Mapping[str, str],
        cwd: str,
        join: list[str] | None = None,
        command: Command | None = None,
        joining: Callable[[str], Command] | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        """Start every extension (Extension INIT); their output joins the function's log.

        ``spawn``: a fork server's, for extensions in namespaces (``command``): each is then
        forked from it, enters them (or joins the first one's) and execs itself, where it
        started behind a launcher's own interpreter (~20 ms, and a process outside waiting
        for it); if the server cannot, the launcher as before.

        ``command``: how an extension starts, and the variables to add for that (in the
        environment's namespaces: ``extension_sandbox.commands``); else its file, as it is.
        ``joining``: given the first extension's namespaces (``namespaces_folder``), how the
        others start in them (one pid namespace for all, as on Lambda); they start once that
        first one's init is there (a few ms), else in namespaces of their own.

        ``join``: the environment's cgroup files (``EnvCgroup.self_join_files``). Each extension
        moves itself in before it execs, so it shares the function's memory, pids and CPU as on
        Lambda (and counts in Max Memory Used); it keeps its own session, not the runtime's
        process group, so that it outlives the runtime's kill by its SHUTDOWN budget."""
        loop = self._loop = asyncio.get_running_loop()
        # INIT starts here, with Extension INIT: Lambda's INIT_START comes before its extensions'
        # TELEMETRY and EXTENSION lines
        self.telemetry.init_start(
            self.init_type, runtime_version(self.runtime), runtime_version_arn(self.runtime)
        )
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        loop.add_reader(read_fd, self._read, read_fd)
        try:
            first, *rest = self.members  # (there is one at least: no extension, no launch)
            await self._start(first, env, cwd, join, command, write_fd, spawn)
            if rest and joining is not None:
                folder = await self._first_namespaces()
                if folder is not None:
                    command = joining(folder)
            for ext in rest:
                await self._start(ext, env, cwd, join, command, write_fd, spawn)
        finally:
            os.close(write_fd)

    def _forked(self, ext: Extension, proc: ForkedProcess) -> None:
        """``ext`` forked from the fork server: its go-ahead at once (the end of its stdin),
        its output read from its own pipe into the same log, reaped through its pidfd."""
        assert self._loop is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()  # its go-ahead
        fd = os.dup(proc.stdout.fileno())  # ours to close at its end of file (``_read``)
        proc.stdout.close()
        proc.stdin = proc.stdout = None
        os.set_blocking(fd, False)
        self._forked_fds.append(fd)
        self._loop.add_reader(fd, self._read, fd)
        ext.proc, ext.forked = proc, True

    async def _start(
        self,
        ext: Extension,
        env: Mapping[str, str],
        cwd: str,
        join: list[str] | None,
        command: Command | None,
        output: int,
        spawn: Spawn | None,
    ) -> None:
        assert self._loop is not None
        try:
            argv, extra = command(ext.path) if command else ([str(ext.path)], {})
            if spawn is not None and command is not None:
                try:
                    forked = await asyncio.to_thread(spawn, {**env, **extra}, cwd, join=join)
                except OSError:
                    pass  # behind the launcher, as without a fork server
                else:
                    self._forked(ext, forked)
            if not ext.forked:
                ext.proc = subprocess.Popen(
                    _argv(argv, join),
                    env={**env, **extra},
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    start_new_session=True,  # its own group: killed as one (``kill``)
                )
        except OSError as e:
            self.on_output(f"Extension {ext.path.name} could not start: {e}\n".encode())
            ext.exited = 127
            return
        assert ext.proc is not None
        watchdog.watch(ext.proc.pid, f"ext-{ext.proc.pid}")
        ext.pidfd = os.pidfd_open(ext.proc.pid)
        self._loop.add_reader(ext.pidfd, self._reap, ext)

    async def _first_namespaces(self, timeout_s: float = FIRST_NAMESPACES_S) -> str | None:
        """The first extension's namespaces once they are made (its init forks the extension
        after making them), or None: it ended, or took longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.members[0].exited is None:
            folder = self.namespaces_folder()
            if folder is not None:
                return folder
            await asyncio.sleep(0.002)
        return None

    def _read(self, fd: int) -> None:
        """Output of the extensions: the pipe the launched ones share, or a forked one's."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            if self._loop is not None:
                self._loop.remove_reader(fd)
            os.close(fd)
            if fd == self._read_fd:
                self._read_fd = -1
            else:
                self._forked_fds.remove(fd)
            return
        self.telemetry.extension_output(data)
        self.on_output(data)

    def _reap(self, ext: Extension) -> None:
        if self._loop is not None:
            self._loop.remove_reader(ext.pidfd)
        os.close(ext.pidfd)
        ext.pidfd = -1
        assert ext.proc is not None
        ext.exited = ext.proc.wait()
        watchdog.forget(ext.proc.pid)
        if ext.waiting is not None and ext.waiting.transport is not None:
            ext.waiting.transport.abort()
        ext.waiting = None
        self._changed.set()
        if self.phase == "ready":
            self.on_crash(ext)

    def kill(self) -> None:
        """SIGKILL every extension's process group (reaped through its pidfd); no more telemetry.

        Each is adopted with what it had started (its namespaces' init, which its launcher
        forked, re-parented to the engine, the subreaper, once the launcher dies): reaped by
        the engine's reaper if its pidfd is not read first (an engine closing), not left a
        zombie (listed before any dies)."""
        self.telemetry.close()
        started = self.pids()
        for ext in self.members:
            if ext.proc is not None and ext.exited is None:
                try:
                    os.killpg(ext.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
        processes.adopt(list(started))

    def pids(self) -> set[int]:
        """The live extensions' processes and their descendants (spared by the runtime's kill)."""
        pids: set[int] = set()
        for ext in self.members:
            if ext.proc is not None and ext.exited is None:
                pids.update((ext.proc.pid, *processes.descendants_of(ext.proc.pid)))
        return pids

    def holds(self, inode: int) -> bool:
        """Is the socket ``inode`` one of the extensions' (or their children's)?"""
        pids = list(self.pids())
        return bool(pids) and peers.holder_of(pids, inode) is not None

    def namespaces_folder(self) -> str | None:
        """``/proc/PID/ns`` of the first extension's init (PID 1 of the namespaces it made:
        ``extension_sandbox.py``), which the others and the runtime join; None if it is not
        running (or runs without namespaces)."""
        ext = self.members[0] if self.members else None
        if ext is None or ext.proc is None or ext.exited is not None:
            return None
        pid = ext.proc.pid
        try:
            # its init forks the extension once the namespaces are built and entered
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                children = f.read().split()
            if not children:
                return None
            # forked, its process is that init; else its launcher's child is
            folder = f"/proc/{pid if ext.forked else children[0]}/ns"
            # (never the host's: its init is in a pid namespace the engine is not in)
            if os.readlink(f"{folder}/pid") == os.readlink("/proc/self/ns/pid"):
                return None
        except OSError:
            return None
        return folder

    def crashed(self) -> Extension | None:
        return next((e for e in self.members if e.exited is not None), None)

    # ----------------------------------------------------------------- phases

    async def registered(self, timeout_s: float) -> tuple[str, str] | None:
        """Extension INIT: until every extension registered. None, or (errorType, message)."""
        return await self._until(lambda: all(e.ident for e in self.members), timeout_s)

    async def all_waiting(self, timeout_s: float) -> tuple[str, str] | None:
        """Until every extension asks for its next event (INIT's or an invocation's end)."""
        return await self._until(
            lambda: all(e.waiting is not None and not e.busy for e in self.members), timeout_s
        )

    async def _until(self, done: Callable[[], bool], timeout_s: float) -> tuple[str, str] | None:
        deadline = time.monotonic() + timeout_s
        while True:
            failed = self._failure()
            if failed is not None:
                return failed
            if done():
                return None
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return ("Extension.TimeoutError", "an extension did not answer in time")
            try:
                async with asyncio.timeout(left):
                    await self._changed.wait()
            except TimeoutError:
                pass

    def _failure(self) -> tuple[str, str] | None:
        for ext in self.members:
            if ext.error_type is not None:
                return (ext.error_type, f"Extension {ext.name or ext.path.name} reported an error")
            if ext.exited is not None:
                return (
                    "Extension.Crash",
                    f"Extension {ext.name or ext.path.name} exited with status {ext.exited}",
                )
        return None

    def invoke(self, inv: Invocation, timeout_s: float) -> None:
        """Hand INVOKE to every extension that registered for it."""
        self.phase = "ready"
        event = {
            "eventType": "INVOKE",
            "deadlineMs": int((time.time() + timeout_s) * 1000),
            "requestId": inv.request_id,
            "invokedFunctionArn": inv.function_arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": inv.trace_id},
        }
        for ext in self.members:
            if "INVOKE" in ext.events and ext.exited is None:
                self._send(ext, event)
        self.telemetry.start(inv.request_id, self.version, inv.trace_id)

    def init_done(self, init_type: str, init_ms: float) -> None:
        """INIT is over (the runtime and every extension wait in next): from here an extension's
        exit resets the environment, and no extension may subscribe to telemetry any more."""
        self.phase = "ready"
        self.telemetry.init_report(init_type, init_ms)
        self.telemetry.close_subscriptions()

    def init_failed(
        self, init_type: str, init_ms: float, kind: str, error_type: str | None
    ) -> None:
        """INIT failed (``kind``: ``timeout``, ``exit`` or ``init_error`` with the runtime's
        ``error_type``) before it was done."""
        if not error_type:  # UNVERIFIED: the errorType Lambda's telemetry names for these
            error_type = {"timeout": "Sandbox.Timedout", "exit": "Runtime.ExitError"}.get(
                kind, "Runtime.Unknown"
            )
        self.telemetry.init_runtime_done(init_type, error_type)
        self.telemetry.init_report(init_type, init_ms, error_type)

    def runtime_answered(
        self,
        inv: Invocation,
        kind: str,
        error_type: str | None,
        produced_bytes: int,
        handed_at: float,
    ) -> None:
        """The runtime answered ``inv`` (``kind``: response, error or too_large), ``handed_at``
        (perf_counter) after it was handed the event: ``platform.runtimeDone``, at once, so an
        extension waiting for it before it asks next gets it within its buffering timeout."""
        self._t_response = now = time.perf_counter()
        duration_ms = (now - handed_at) * 1000
        if kind == "too_large":
            error_type = "Function.ResponseSizeTooLarge"
        elif kind == "error":
            error_type = error_type or "Unhandled"  # UNVERIFIED: Lambda's word for no type
        else:
            error_type = None
        self.telemetry.runtime_done(
            inv.request_id,
            "success" if error_type is None else "error",
            error_type,
            duration_ms,
            produced_bytes,
            time.time() - duration_ms / 1000,
        )

    async def settled(self, timeout_s: float) -> tuple[str, str] | None:
        """Until every extension is back in next after an invocation; its post-runtime time
        (from the runtime's answer) is ``post_runtime_ms``."""
        failed = await self.all_waiting(timeout_s)
        t0 = self._t_response or time.perf_counter()
        self.post_runtime_ms = max(0.0, (time.perf_counter() - t0) * 1000)
        self._t_response = 0.0
        return failed

    def shutdown(self, reason: ShutdownReasonWire) -> bool:
        """SHUTDOWN begins (``shut_down`` sends it): whether any extension asked for it. The
        telemetry buffers are sent now, while the extensions still listen."""
        self.phase = "shutdown"
        self._shutdown_reason = reason
        self.telemetry.flush()
        return any("SHUTDOWN" in e.events and e.exited is None for e in self.members)

    async def shut_down(self) -> None:
        """SHUTDOWN to the extensions that asked for it, once the telemetry they subscribed to
        was delivered (for at most ``TELEMETRY_FLUSH_S``, UNVERIFIED: Lambda's order; it says it
        flushes when its input streams close); then until every extension exited or asked next
        again, within the 2 s budget."""
        t0 = time.monotonic()
        if self.telemetry.subscribers:
            await self.telemetry.drained(TELEMETRY_FLUSH_S)
        event = {
            "eventType": "SHUTDOWN",
            "shutdownReason": self._shutdown_reason,
            "deadlineMs": int((time.time() + SHUTDOWN_BUDGET_S) * 1000),
        }
        for ext in self.members:
            if "SHUTDOWN" in ext.events and ext.exited is None:
                self._send(ext, event)
        await self._until(
            lambda: all(
                e.exited is not None or (e.waiting is not None and not e.busy) or not e.ident
                for e in self.members
            ),
            SHUTDOWN_BUDGET_S - (time.monotonic() - t0),
        )
        self.kill()

    def _send(self, ext: Extension, event: Mapping[str, object]) -> None:
        wire = _json(200, event, (("Lambda-Extension-Event-Identifier", str(uuid.uuid4())),))
        ext.busy = True
        waiting, ext.waiting = ext.waiting, None
        if waiting is not None and waiting.transport is not None:
            waiting.write(wire)
            waiting.flush()
            waiting.resume()
        else:
            ext.queue.append(wire)

    # ----------------------------------------------------------------- the API

    def _by_ident(self, headers: Mapping[str, str]) -> Extension | bytes:
        # Lambda's checks and words (aws-lambda-runtime-interface-emulator: rapi/middleware.go,
        # handler/agentnext.go)
        ident = headers.get(IDENTIFIER, "")
        if not ident:
            return _error(
                403,
                "Extension.MissingExtensionIdentifier",
                "Missing Lambda-Extension-Identifier header",
            )
        try:
            uuid.UUID(ident)
        except ValueError:
            return _error(
                403, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
            )
        for ext in self.members:
            if ext.ident == ident:
                return ext
        return _error(403, "Extension.UnknownExtensionIdentifier", "Unknown extension " + ident)

    def handle(
        self,
        proto: RuntimeAPIProtocol,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        reserved_port: int = 0,
    ) -> bytes | None:
        """One Extensions API request (or a Telemetry API one, ``/telemetry``); None when it
        blocks (event/next with nothing to hand). ``reserved_port``: the Runtime API's own."""
        if path == "/register" and method == "POST":
            return self._register(headers, body)
        if path == "/telemetry" and method == "PUT":
            return self._subscribe(headers, body, reserved_port)
        if path == "/logs" and method == "PUT":  # the Logs API (logs_api.py)
            return self._subscribe(headers, body, reserved_port, api="logs")
        if path == "/event/next" and method == "GET":
            found = self._by_ident(headers)
            if isinstance(found, bytes):
                return found
            return self._next(found, proto)
        if path in ("/init/error", "/exit/error") and method == "POST":
            found = self._by_ident(headers)
            if isinstance(found, bytes):
                return found
            if not headers.get(ERROR_TYPE):
                return _error(
                    403, "Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found"
                )
            found.error_type = headers[ERROR_TYPE]
            self.on_output(
                f"Extension {found.name} {path[1:]}: {found.error_type} "
                f"{body.decode('utf-8', 'replace')}\n".encode()
            )
            self._changed.set()
            return _json(202, {"status": "OK"})
        from .runtime_api import _not_found

        return _not_found()

    def _register(self, headers: Mapping[str, str], body: bytes) -> bytes:
        # Lambda's checks, statuses and words (the emulator's handler/agentregister.go)
        name = headers.get("lambda-extension-name", "")
        if not name:
            return _error(403, "Extension.InvalidExtensionName", "Empty extension name")
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as e:
            return _error(403, "InvalidRequestFormat", str(e))
        if request.get("configurationKeys"):
            return _error(
                403,
                "InvalidRequestFormat",
                "configurationKeys are deprecated; use environment variables instead",
            )
        events = request.get("events") or []
        if not isinstance(events, list):
            return _error(403, "InvalidRequestFormat", "events must be a list")
        for event in events:
            if event not in EVENTS:
                return _error(403, "Extension.InvalidEventType", f"{event}: unknown event type")
        if self.phase != "init":
            return _error(
                403, "Extension.RegistrationClosed", "Extension registration closed already"
            )
        # an external extension registers under its file's name (UNVERIFIED: Lambda's refusal
        # of another name); the first unregistered process of that name takes it
        ext = next((e for e in self.members if not e.ident and e.path.name == name), None)
        if ext is None:
            ext = next((e for e in self.members if not e.ident), None)
        if ext is None:
            return _error(
                403, "Extension.InvalidExtensionState", f"Extension {name} already registered"
            )
        ext.name, ext.ident, ext.events = name, str(uuid.uuid4()), frozenset(events)
        self._changed.set()
        body_out = {
            "functionName": self.fn.name,
            "functionVersion": self.version,
            "handler": self.fn.handler,
        }
        # opted into with ``Lambda-Extension-Accept-Feature: accountId`` (Lambda's docs)
        features = headers.get("lambda-extension-accept-feature", "")
        if "accountId" in (f.strip() for f in features.split(",")):
            body_out["accountId"] = self.account_id
        return _json(200, body_out, (("Lambda-Extension-Identifier", ext.ident),))

    def _subscribe(
        self,
        headers: Mapping[str, str],
        body: bytes,
        reserved_port: int,
        api: Literal["telemetry", "logs"] = "telemetry",
    ) -> bytes:
        """``PUT /2022-07-01/telemetry`` (telemetry.py), or the Logs API's ``PUT /2020-08-15/logs``
        (logs_api.py). The refusals' order and words: an unknown extension, then a subscription
        after INIT (Lambda turns its telemetry service off once INIT ends: the emulator's
        rapi/handler/runtimelogs.go), then one through the other API, then the request's own."""
        found = self._by_ident(headers)
        if isinstance(found, bytes):
            return found
        if not self.telemetry.open:
            # UNVERIFIED: the error type's spelling (the emulator's errLogsSubscriptionClosed)
            return _error(403, "Logs.SubscriptionClosed", "Logs API subscription is closed already")
        # [DG:runtimes-logs-api] the Logs API's refusals are Logs.ValidationError
        invalid = "Logs.ValidationError" if api == "logs" else "ValidationError"
        held = self.telemetry.subscribers.get(found.ident)
        if held is not None and held.sub.api != api:
            # [DG:runtimes-logs-api] "After subscribing using one of these APIs, any attempt to
            # subscribe using the other API returns an error" (UNVERIFIED: its status and words)
            other = "Logs" if held.sub.api == "logs" else "Telemetry"
            return _error(
                400,
                invalid,
                f"extension {found.name} is subscribed with the {other} API already: an "
                "extension subscribes through one of the Logs and Telemetry APIs",
            )
        checked = parse_subscription(body, reserved_port, api)
        if isinstance(checked, str):
            return _error(400, invalid, checked)
        self.telemetry.subscribe(found.ident, found.name, checked)
        return _json(200, "OK")  # [DG:telemetry-api-reference] HTTP/1.1 200 OK "OK"

    def _next(self, ext: Extension, proto: RuntimeAPIProtocol) -> bytes | None:
        if not ext.ready:  # its first next: Lambda's "EXTENSION Name: x State: Ready Events: [..]"
            ext.ready = True
            self.telemetry.extension(ext.name, [e for e in EVENTS if e in ext.events])
        ext.busy = False
        self._changed.set()
        if ext.queue:
            ext.busy = True
            return ext.queue.popleft()
        ext.waiting = proto
        return None

    def forget(self, proto: RuntimeAPIProtocol) -> None:
        """A connection closed: it no longer waits in next."""
        for ext in self.members:
            if ext.waiting is proto:
                ext.waiting = None
