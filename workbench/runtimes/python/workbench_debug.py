"""pdb for a handler in the sandbox, with the workbench as its terminal.

``breakpoint()`` lands here (``PYTHONBREAKPOINT=workbench_debug.set_trace``; our bootstrap's own
``sys.breakpointhook`` honours the variable, and routes ``pdb.set_trace()`` here too). The runtime
has no terminal, so pdb's input and output travel as newline-delimited JSON on a connection of
their own to the environment's Runtime API (``POST /2018-06-01/runtime/workbench/debug``):

- runtime → engine: ``{"out": TEXT}``, ``{"prompt": P, "file": F, "line": N, "code": NAME}``
  (pdb waits for one command), ``{"running": true}`` (a command handed control back to the
  handler: ``n``, ``s``, ``r``, ``c`` with breakpoints left, ``until``…), ``{"end": true}``
  (continued with no breakpoint left, or quit);
- engine → runtime: ``{"line": COMMAND}``, ``{"detach": true}`` (clear every breakpoint and go on).

Time at the debugger is paused time, and that includes running what the user types at the prompt
(``p slow()``, ``import time; time.sleep(5)``): the engine keeps the invocation's timeout clock
stopped from the first prompt until ``running`` (or the end). Only stepping runs the handler's
own code on the clock.

With no debugger attached (serve, the Lambda API, plain ``workbench invoke``) the engine answers
409 and the breakpoint is skipped with a warning on the invocation's log. Any I/O error on the
channel counts as a detach: a breakpoint never hangs an invocation.

Standard library only, and imported only when a breakpoint is hit (cold start is import cost).
"""

from __future__ import annotations  # runs on python3.8+: annotations stay unevaluated

import _thread
import json
import os
import socket
import sys
import time

PATH = "/2018-06-01/runtime/workbench/debug"
# Runtime frames pdb never stops in: our bootstrap (imported as ``bootstrap``, or run as
# __main__), awslambdaric (run as __main__).
SKIP = ("__main__", "bootstrap", "awslambdaric", "awslambdaric.*", "workbench_debug")
_HOOKS = ("_breakpointhook", "_pdb_set_trace")  # the bootstrap's frames between user and us
_OUT_CHUNK = 16384
_CONNECT_TIMEOUT_S = 10.0

_session = None  # the open session (one per process: one invocation at a time)
_detached = None  # the request id whose session was detached: its later breakpoints are skipped
# request id -> seconds spent at the debugger, for get_remaining_time_in_millis
_paused_s: dict[str, float] = {}


def set_trace(*args, header=None, **kwargs):
    """``breakpoint()``'s hook: open a pdb session on the caller's frame, or skip with a warning."""
    entered = time.monotonic()
    frame = _caller(sys._getframe(1))
    session = _session
    if session is not None and session.open:
        if session.thread != _thread.get_ident():
            where = _where(frame)
            _warn(session.request_id, f"breakpoint() at {where} skipped: another is being debugged")
            return
        # a breakpoint() reached while a session of this invocation is open (after `c` with
        # breakpoints left): the same pdb stops here, as pdb.set_trace() would
        if header is not None:
            session.pdb.message(header)
        session.pdb.set_trace(frame)
        return
    request_id = _current_request_id()
    where = _where(frame)
    if request_id is not None and request_id == _detached:
        _warn(request_id, f"breakpoint() at {where} skipped: the debugger detached")
        return
    try:
        sock, rest, status, answered_id, message = _connect(request_id)
    except (OSError, ValueError) as e:
        _warn(request_id, f"breakpoint() at {where} skipped: the Runtime API is unreachable ({e})")
        return
    request_id = answered_id or request_id
    if status != 200:
        _warn(request_id, f"breakpoint() at {where} skipped: {message}")
        return
    # From breakpoint() to the open session (importing this module, connecting) is the
    # debugger's time, not the handler's: the engine keeps it out of the Duration, with pdb's
    # start-up after it. When it was called, on CLOCK_MONOTONIC, which the engine shares.
    hooked = getattr(sys.modules.get("__main__"), "_breakpoint_at", None)
    since = hooked if isinstance(hooked, float) and hooked <= entered else entered
    session = _Session(sock, rest, request_id)
    session.paused_since = since  # the handler's own clock leaves it out too
    globals()["_session"] = session
    try:
        session.send({"breakpoint_at": since})
    except OSError:
        pass  # the session's first read says it is gone
    if header is not None:
        session.pdb.message(header)
    session.pdb.set_trace(frame)


def invocation_ended():
    """Our bootstrap calls this once the handler is done: no session outlives its invocation."""
    global _detached
    _detached = None
    _paused_s.clear()
    session = _session
    if session is None:
        return
    sys.settrace(None)  # first: pdb must not step into what follows
    frame = sys._getframe(1)
    while frame is not None:
        frame.f_trace = None
        frame = frame.f_back
    session.pdb.clear_all_breaks()
    session.end()


def paused_ms(request_id):
    """How long this invocation sat at the debugger (its timeout clock was stopped meanwhile)."""
    return int(_paused_s.get(request_id, 0.0) * 1000)


# --------------------------------------------------------------------------- the session


class _Session:
    """One pdb session over one connection to the Runtime API."""

    def __init__(self, sock, buf, request_id):
        self.sock = sock
        self.buf = buf
        self.request_id = request_id
        self.thread = _thread.get_ident()  # pdb traces the thread it was started in
        self.open = True
        self.paused_since = None  # monotonic time of this stop's first prompt
        self.out = _Output(self)
        self.pdb = _pdb_class()(self)

    def send(self, message):
        if not self.open:
            raise OSError("the debugger session is closed")
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def receive(self):
        """The next message from the engine, or None at the end of the connection."""
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return None
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\n")
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                return message

    def command(self):
        """pdb's ``stdin.readline()``: send the prompt, wait for one command."""
        prompt = self.out.take_prompt(self.pdb.prompt)
        frame = self.pdb.curframe
        message = None
        if self.paused_since is None:  # the clock stops here, until handler_runs()
            self.paused_since = time.monotonic()
        try:
            self.out.send()
            self.send(
                {
                    "prompt": prompt,
                    "file": os.path.abspath(frame.f_code.co_filename) if frame else None,
                    "line": frame.f_lineno if frame else None,
                    "code": frame.f_code.co_name if frame else None,
                }
            )
            message = self.receive()
        except OSError:
            message = None
        if message is not None and "line" in message and not message.get("detach"):
            return str(message["line"]).partition("\n")[0] + "\n"
        self.detach()
        return "continue\n"

    def handler_runs(self):
        """pdb left its prompt for the handler's own code (a step, a continue, a detach): the
        time since this stop's first prompt, commands run there included, was paused time; the
        engine's clock runs again from here."""
        since, self.paused_since = self.paused_since, None
        if since is None:  # no prompt was shown: nothing was paused
            return
        key = self.request_id
        _paused_s[key] = _paused_s.get(key, 0.0) + time.monotonic() - since
        if self.open:
            self.out.send()
            try:
                self.send({"running": True})
            except OSError:
                self.close()  # the next prompt reads as a detach

    def detach(self):
        """Clear every breakpoint and let the handler run on (``continue`` follows)."""
        global _detached
        _detached = self.request_id
        self.pdb.clear_all_breaks()
        self.close()

    def end(self):
        """Continued with no breakpoint left, or quit: tell the engine, close."""
        if self.open:
            try:
                self.out.send()
                self.send({"end": True})
            except OSError:
                pass
        self.close()

    def close(self):
        self.open = False
        try:
            self.sock.close()
        except OSError:
            pass
        if _session is self:
            globals()["_session"] = None


class _Output:
    """pdb's stdout: what it prints goes to the engine as ``{"out": ...}``, in chunks."""

    def __init__(self, session):
        self.session = session
        self.parts = []
        self.size = 0

    def write(self, text):
        if text:
            self.parts.append(text)
            self.size += len(text)
            if self.size >= _OUT_CHUNK:
                self.send()
        return len(text)

    def take_prompt(self, prompt):
        """The prompt pdb just wrote (it writes it to stdout, then reads stdin): not output."""
        text = "".join(self.parts)
        if text.endswith(prompt):
            text = text[: -len(prompt)]
        else:  # another prompt (a continuation line's, say): the unfinished last line
            text, newline, last = text.rpartition("\n")
            if last:
                prompt = last
                text += newline
            else:
                text += newline + last
        self.parts = [text] if text else []
        self.size = len(text)
        return prompt

    def flush(self):
        """pdb flushes after writing its prompt: what is pending goes with the prompt."""

    def send(self):
        if not self.parts:
            return
        text = "".join(self.parts)
        self.parts = []
        self.size = 0
        try:
            self.session.send({"out": text})
        except OSError:
            self.session.close()  # the next command reads as a detach

    def isatty(self):
        return False


class _Input:
    """pdb's stdin: each line is a command from the engine."""

    def __init__(self, session):
        self.session = session

    def readline(self):
        return self.session.command()

    def isatty(self):
        return False


_PDB_CLASS = None


def _pdb_class():
    """pdb, imported once the session is open: the engine has lifted the environment's CPU
    quota by then (importing pdb is the debugger's work, not the function's)."""
    global _PDB_CLASS
    if _PDB_CLASS is not None:
        return _PDB_CLASS
    import pdb

    class _Pdb(pdb.Pdb):
        def __init__(self, session):
            super().__init__(
                stdin=_Input(session),
                stdout=session.out,
                skip=SKIP,
                nosigint=True,
                readrc=False,
            )
            self.session = session

        def interaction(self, frame, traceback):
            """One stop: prompts and the commands typed there, until one resumes the handler."""
            try:
                super().interaction(frame, traceback)
            finally:
                self.session.handler_runs()

        def set_continue(self):
            super().set_continue()
            if not self.breaks:  # pdb stops tracing: the session is over
                self.session.end()

        def set_quit(self):
            super().set_quit()  # BdbQuit is raised in the handler at its next line
            self.session.end()

        def dispatch_return(self, frame, arg):
            """Stepping out of the handler into the runtime (``n`` or ``s`` at its return) runs on
            as ``c`` would: pdb never stops in the runtime's code, nor in what the runtime calls."""
            result = super().dispatch_return(frame, arg)
            back = frame.f_back
            if (
                back is not None
                and self.stoplineno != -1
                and not self.quitting
                and self.is_skipped_module(back.f_globals.get("__name__"))
            ):
                self.set_continue()
            return result

    _PDB_CLASS = _Pdb
    return _Pdb


# --------------------------------------------------------------------------- connecting


def _connect(request_id):
    """POST the debug route: (socket, bytes read past the head, status, request id, message)."""
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host or "127.0.0.1", int(port)), _CONNECT_TIMEOUT_S)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = [f"POST {PATH} HTTP/1.1", f"Host: {address}", "Content-Length: 0"]
        if request_id:
            head.append(f"Lambda-Runtime-Aws-Request-Id: {request_id}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError("the Runtime API closed the connection")
            buf += chunk
        raw, _, rest = buf.partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        answered_id = headers.get("lambda-runtime-aws-request-id") or None
        if status == 200:
            sock.settimeout(None)  # a prompt waits for its human
            return sock, rest, status, answered_id, ""
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        sock.close()
        try:
            message = json.loads(rest[:length]).get("errorMessage") or f"HTTP {status}"
        except (ValueError, AttributeError):
            message = f"the Runtime API answered {status}"
        return None, b"", status, answered_id, message
    except BaseException:
        sock.close()
        raise


def _caller(start):
    """The frame that called ``breakpoint()`` or ``pdb.set_trace()``, past the hooks'."""
    frame = start
    while frame is not None:
        code = frame.f_code
        if code.co_filename == __file__ or (
            code.co_name in _HOOKS and code.co_filename.endswith("bootstrap.py")
        ):
            frame = frame.f_back
            continue
        return frame
    return start


def _current_request_id():
    """The invocation our bootstrap is serving (awslambdaric's is only known to the engine)."""
    request_id = getattr(sys.modules.get("__main__"), "_request_id", None)
    return request_id if isinstance(request_id, str) and request_id else None


def _where(frame):
    path = frame.f_code.co_filename
    root = os.environ.get("LAMBDA_TASK_ROOT")
    if root and path.startswith(root.rstrip("/") + "/"):
        path = path[len(root.rstrip("/")) + 1 :]
    return f"{path}:{_lineno(frame)}"


def _lineno(frame):
    """The line ``frame`` is at. Before 3.10 a frame pdb traced keeps reporting its last traced
    line in ``f_lineno`` once tracing stopped (a detached session), so it is read from the
    instruction it is at."""
    if sys.version_info >= (3, 10):
        return frame.f_lineno
    import dis

    line = frame.f_lineno
    for offset, start in dis.findlinestarts(frame.f_code):
        if offset > frame.f_lasti:
            break
        line = start
    return line


def _warn(request_id, text):
    """A warning line on the invocation's log, in Lambda's log format."""
    t = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
    out = sys.__stdout__ or sys.stdout
    try:
        out.write(f"[WARNING]\t{stamp}\t{request_id or ''}\t{text}\n")
        out.flush()
    except (OSError, ValueError):
        pass
