"""pdb sessions of paused handlers, relayed between the runtimes and the front ends.

A handler's ``breakpoint()`` opens a connection of its own to its environment's Runtime API
(``POST /2018-06-01/runtime/workbench/debug``, see ``runtime_api.py`` and
``runtimes/python/workbench_debug.py``); here it becomes a ``DebugSession``, and everything pdb
prints or asks is published on the event stream as ``DebugEvent``s, in this order:
output* → paused → resumed → (output* → paused → resumed)* → ended.

Front ends that can answer a prompt (the TUI, ``workbench invoke --debug``) ``attach()``. With
none attached a breakpoint is refused (409) and the runtime skips it with a warning on the log,
so serve and the Lambda API never hang on one. With one attached, a breakpoint of an invocation
an HTTP caller waits for (the Lambda API, an HTTP route) is refused too, unless the function's
API calls are to be debugged (``debug_api``: the TUI's per-function toggle).

Time at the debugger is paused time: from the session's opening (pdb's start-up is the
debugger's, not the handler's) or pdb's prompt at a later stop until the runtime says the
handler's own code runs again (``{"running": true}``: a step or a continue), commands typed at
the prompt included (``p slow()``, ``import time; time.sleep(5)``), the environment's timeout
clock is stopped (``DebugClock``), and the time goes to the record's ``paused_ms``. Only stepping
runs on the clock. Detaching (or the session ending) starts the clock again, so a command that
never finishes still meets the timeout once nobody is debugging it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..model.events import DebugEvent, DebugEventKind, EventBus
from .runtime_api import DebugChannel

OUTPUT_CAP = 256 * 1024  # a session keeps the last 256 KB of what pdb printed
# the most time between breakpoint() and its session taken as the debugger's (a sanity bound)
CREDIT_LIMIT_S = 60.0

# running: the handler's code runs under pdb (the clock runs); paused: pdb waits for a command;
# command: pdb runs the command it was sent (the clock stays stopped); ended.
# starting: opened, pdb not yet at its first prompt (its start-up is not the handler's time:
# the clock is stopped from here).
SessionState = Literal["starting", "running", "paused", "command", "ended"]


def is_api_caller(trigger: str | None) -> bool:
    """An HTTP client waits on it: the Lambda API's Invoke (``api``), an HTTP route's request
    (``http:GET /items``)."""
    return trigger is not None and (trigger == "api" or trigger.startswith("http:"))


class DebugClock(Protocol):
    """The invocation's timeout clock (its environment): stopped while it is at the debugger."""

    def pause_clock(self) -> None: ...
    def resume_clock(self) -> None: ...


@dataclass(eq=False)
class DebugSession:
    """One pdb session: one ``breakpoint()`` of one invocation, until it continues or ends.

    state: ``starting`` (pdb starts: the clock is stopped already), ``running`` (the handler runs
    under pdb), ``paused`` (pdb waits for a command at
    ``file``:``line`` in ``code``), ``command`` (pdb runs the command sent: a step ends it with
    ``running``, anything else with the next prompt), ``ended``. ``output`` is everything pdb
    printed (the last 256 KB); ``paused_ms`` the time spent at the debugger so far (prompts and
    the commands typed there).
    """

    request_id: str
    function: str
    env_id: str
    state: SessionState = "running"
    file: str | None = None
    line: int | None = None
    code: str | None = None
    prompt: str = "(Pdb) "
    output: str = ""
    paused_ms: float = 0.0
    startup_ms: float | None = None  # from breakpoint() to this session: paused time too
    _link: DebugChannel | None = field(default=None, repr=False)
    _clock: DebugClock | None = field(default=None, repr=False)
    _debugger: Debugger | None = field(default=None, repr=False)
    _paused_at: float = field(default=0.0, repr=False)
    _opened_at: float = field(default_factory=time.monotonic, repr=False)

    # ----------------------------------------------------------------- from the runtime

    def on_message(self, message: dict[str, Any]) -> None:
        if self.state == "ended":
            return
        if "out" in message:
            text = str(message["out"])
            if text:
                self.output = (self.output + text)[-OUTPUT_CAP:]
                self._publish("output", text=text)
        elif "prompt" in message:
            if self.state == "paused":
                return  # one command per prompt: a second prompt without one is ignored
            self.prompt = str(message.get("prompt") or "(Pdb) ")
            file, line, code = message.get("file"), message.get("line"), message.get("code")
            self.file = str(file) if file else None
            self.line = line if isinstance(line, int) else None
            self.code = str(code) if code else None
            if self.state == "running":  # starting, or after a command: stopped already
                self._hold()
            self.state = "paused"
            self._publish("paused")
        elif "breakpoint_at" in message:  # when the handler called breakpoint()
            self._credit(message["breakpoint_at"])
        elif message.get("running"):
            # the command stepped into the handler's own code (or pdb let it run at once)
            if self.state in ("command", "starting"):
                self._resume()
        elif message.get("end"):
            self.end()

    def on_close(self) -> None:
        """The runtime's connection ended (it detached, finished or died)."""
        self.end()

    # ----------------------------------------------------------------- from a front end

    def send(self, line: str) -> None:
        """One command for pdb's prompt. The clock stays stopped while pdb runs it: the runtime
        says ``running`` if it steps into the handler, or shows the next prompt."""
        if self.state != "paused":
            raise ValueError(f"the debugger session of {self.request_id} is not paused")
        self.state = "command"
        self._publish("resumed", text=line)
        self._write({"line": line})

    def detach(self) -> None:
        """Clear every breakpoint and let the handler run on; the session ends."""
        if self.state == "ended":
            return
        self._write({"detach": True})
        self.end()

    def end(self) -> None:
        """Over (continued, quit, detached, or its invocation ended): idempotent."""
        if self.state == "ended":
            return
        if self.state == "paused":
            self._resume()
            self._publish("resumed")
        elif self.state in ("command", "starting"):  # "resumed" went out with the command
            self._resume()
        self.state = "ended"
        link, self._link = self._link, None
        if link is not None:
            link.close()
        self._publish("ended")
        if self._debugger is not None:
            self._debugger._forget(self)

    # ----------------------------------------------------------------- internals

    def _hold(self) -> None:
        """Stop the invocation's clock: the time from here is the debugger's, not the handler's."""
        self._paused_at = time.perf_counter()
        if self._clock is not None:
            self._clock.pause_clock()

    def _credit(self, at: object) -> None:
        """The handler called ``breakpoint()`` at ``at`` (the runtime's ``time.monotonic()``:
        the host's CLOCK_MONOTONIC, as ours) and reached this session later (importing the hook,
        connecting): the debugger's time, so paused time, not Duration."""
        if self.state != "starting" or self.startup_ms is not None:
            return  # said once, before pdb's first prompt
        if not isinstance(at, (int, float)):
            return
        seconds = self._opened_at - float(at)
        if not 0.0 < seconds < CREDIT_LIMIT_S:  # another clock (a time namespace): ignored
            return
        self.startup_ms = seconds * 1000
        # Paused time from the call on: the environment's clock takes it out of the Duration
        # where it can (``credit_pause``, not yet in DebugClock: Environment is to have it, see
        # issue 19's report); the session's paused_ms moves with the record's, never alone.
        credit = getattr(self._clock, "credit_pause", None)
        if credit is not None:
            credit(seconds)
            self._paused_at -= seconds

    def _resume(self) -> None:
        self.paused_ms += (time.perf_counter() - self._paused_at) * 1000
        self.state = "running"
        if self._clock is not None:
            self._clock.resume_clock()

    def _write(self, message: dict[str, Any]) -> None:
        if self._link is not None:
            self._link.send(message)

    def _publish(self, kind: DebugEventKind, text: str = "") -> None:
        debugger = self._debugger
        if debugger is not None and debugger.bus.wants(DebugEvent):
            debugger.bus.publish(
                DebugEvent(
                    kind,
                    self.request_id,
                    self.function,
                    self.env_id,
                    time.time(),
                    text=text,
                    file=self.file,
                    line=self.line,
                    code=self.code,
                    prompt=self.prompt,
                )
            )


class Debugger:
    """The engine's debugger: attached front ends, and the open sessions (``engine.debugger``)."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._attached = 0
        self._sessions: dict[str, DebugSession] = {}
        # An HTTP caller (the Lambda API, an HTTP route) waits on its invocation: a breakpoint
        # there stops only for the functions whose front end asked for it (the TUI's "debug API
        # calls"), else it is skipped as with no debugger attached. The invocations running now
        # from such a caller, while a front end is attached:
        self._from_api: set[str] = set()
        self.debug_api: set[str] = set()  # functions whose API callers' breakpoints stop

    # ----------------------------------------------------------------- front ends

    def attach(self) -> None:
        """A front end that can answer pdb's prompts is here: breakpoints stop from now on."""
        self._attached += 1

    def detach(self) -> None:
        """A front end left. When the last one goes, open sessions are detached: nobody is left
        to answer them, and a paused handler must never wait forever."""
        self._attached = max(0, self._attached - 1)
        if not self._attached:
            for session in self.sessions():
                session.detach()

    @property
    def attached(self) -> bool:
        return self._attached > 0

    def sessions(self) -> list[DebugSession]:
        """The open sessions, oldest first."""
        return list(self._sessions.values())

    def session(self, request_id: str) -> DebugSession | None:
        return self._sessions.get(request_id)

    def send(self, request_id: str, line: str) -> None:
        """Answer a paused session's prompt with one pdb command (``p event``, ``n``, ``c``).

        Raises ``KeyError`` when no session of that invocation is open, ``ValueError`` when it
        is not waiting for a command.
        """
        session = self._sessions.get(request_id)
        if session is None:
            raise KeyError(request_id)
        session.send(line)

    def detach_session(self, request_id: str) -> None:
        """Clear the session's breakpoints and let the handler run on (no-op once it ended)."""
        session = self._sessions.get(request_id)
        if session is not None:
            session.detach()

    # ----------------------------------------------------------------- the engine's side

    def invoking(self, request_id: str, trigger: str | None) -> bool:
        """An invocation starts (the invoker says so): whether to call ``invoked`` after it."""
        if not self._attached or not is_api_caller(trigger):
            return False
        self._from_api.add(request_id)
        return True

    def invoked(self, request_id: str) -> None:
        self._from_api.discard(request_id)

    def open(
        self, request_id: str, function: str, env_id: str, link: DebugChannel, clock: DebugClock
    ) -> DebugSession | str:
        """A breakpoint was hit: its session, or why it is refused (the runtime skips it)."""
        if not self.attached:
            return (
                "no debugger is attached (invoke with the TUI, or "
                f"`workbench invoke {function} --debug`)"
            )
        if request_id in self._from_api and function not in self.debug_api:
            return (
                "an API caller waits for this invocation, and debugging API calls is off for "
                f"{function} (b on it in the TUI's functions pane turns it on)"
            )
        if request_id in self._sessions:
            return "another breakpoint of this invocation is being debugged"
        session = DebugSession(
            request_id, function, env_id, _link=link, _clock=clock, _debugger=self
        )
        session.state = "starting"
        session._hold()  # pdb's start-up (its import, the first prompt) is the debugger's time
        self._sessions[request_id] = session
        return session

    def end_invocation(self, request_id: str) -> None:
        """The invocation ended (response, error, timeout, crash): so does its session."""
        session = self._sessions.get(request_id)
        if session is not None:
            session.end()

    def _forget(self, session: DebugSession) -> None:
        if self._sessions.get(session.request_id) is session:
            del self._sessions[session.request_id]
