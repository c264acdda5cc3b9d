"""What ``workbench serve`` prints about the event sources: the table at start (and after a
reload that changes it), one line for each thing a user would otherwise not see happen —
a bucket file becoming an event, a schedule firing, an async retry or a destination — and each
invocation's log, bounded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..engine import Engine, FunctionReloaded, InvocationRecord, InvokeEnd
from ..engine.config import describe, runtime_family, triggers_of
from ..engine.model import (
    AsyncEventChanged,
    BucketActivity,
    DatabaseIncident,
    EnvironmentEvent,
    ScheduleFired,
    end_line,
    start_line,
    terminal_text,
)
from ..engine.runtime import (
    HOST,
    INSTALL_HINT,
    NOTE_PREFIX,
    debugger_for,
    debugpy_folder,
    size_text,
)


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def source_lines(engine: Engine) -> list[str]:
    """Every enabled trigger its type describes (buckets, queues, topics), then the schedules
    this engine runs, with their next fire times (the HTTP routes are listed apart)."""
    lines: list[str] = []
    for name, fn in sorted(engine.functions.items()):
        for trigger in triggers_of(fn):
            if trigger.enabled and (line := describe(trigger, name, engine.roots)) is not None:
                lines.append(line)
    scheduler = engine.scheduler
    if scheduler is not None:
        for info in scheduler.upcoming(count=1):
            if info.enabled:
                when = f"next {_utc(info.next_times[0])}" if info.next_times else "never again"
                lines.append(f"schedule {info.rule} {info.expression} -> {info.function}, {when}")
    return [f"  {line}" for line in lines]


def template_lines(engine: Engine) -> list[str]:
    """Each function a template defines, where, and what of it is not run here."""
    lines: list[str] = []
    for name, fn in sorted(engine.functions.items()):
        if fn.resource is not None:
            lines.append(f"  {name}: {fn.config_file} (resource {fn.resource})")
            lines.extend(f"    {note}" for note in fn.notes)
    return lines


def credentials_line(engine: Engine) -> str:
    """Which AWS credentials the functions get (``--aws-credentials``, and the functions whose
    function.toml says otherwise): the host's reach the real account."""
    default = engine.settings.aws_credentials
    others = sorted(
        name
        for name, fn in engine.functions.items()
        if fn.aws_credentials is not None and fn.aws_credentials != default
    )
    endpoint = engine.settings.aws_endpoint_url
    local = "the workbench's own (`workbench credentials` prints them)"
    if endpoint is not None:
        local += f", their SDK calls going to {endpoint}"
    host = "this machine's, their SDK calls reaching real AWS"
    line = f"AWS credentials: functions get {local if default == 'local' else host}"
    if others:
        line += f"; {'this machine' if default == 'local' else 'the workbench'}'s for: "
        line += ", ".join(others)
    return line


def debug_lines(engine: Engine) -> list[str]:
    """Which functions start under a debugger (IDE attach), and a warning if debugpy is missing."""
    port = engine.settings.debug_port
    lines: list[str] = []
    if port is not None:
        lines.append(
            f"debugging: every Python (debugpy) and Node.js (inspect) environment waits for a "
            f"debugger on {HOST}:{port} or the next free port up"
        )
    pythons: dict[str, None] = {}  # the interpreters that run a Python function under debugpy
    for name, fn in sorted(engine.functions.items()):
        wanted = debugger_for(fn, port)
        if wanted is not None and port is None:
            kind, base = wanted
            lines.append(f"debugging: {name} waits for a debugger ({kind}) on {HOST}:{base} or up")
        interpreter = engine.interpreters.find(fn.runtime)
        if wanted is not None and runtime_family(fn.runtime) == "python" and interpreter:
            pythons[interpreter.path] = None
    for python in pythons:
        if debugpy_folder(python) is None:
            lines.append(
                f"warning: debugpy is not installed for {python}: Python functions under a "
                f"debugger fail to start ({INSTALL_HINT})"
            )
    return lines


def interpreter_lines(engine: Engine) -> list[str]:
    """A line for each function whose declared runtime is not what runs it."""
    lines = []
    for name, fn in sorted(engine.functions.items()):
        interpreter = engine.interpreters.find(fn.runtime)
        if interpreter is not None and interpreter.notice is not None:
            lines.append(f"runtime: {name}: {interpreter.notice}")
    return lines


def _debug_wait_line(event: EnvironmentEvent) -> str | None:
    if event.phase != "debug_wait":
        return None
    return (
        f"{event.function} ({event.version}, environment {event.env_id[:8]}): "
        f"waiting for a debugger on {HOST}:{event.port}"
    )


def _bucket_line(event: BucketActivity) -> str:
    size = f" ({event.size} bytes)" if event.size is not None else ""
    to = ", ".join(event.functions) or "no trigger matched"
    return f"bucket {event.bucket}: {event.event_name} {event.key}{size} -> {to}"


def _schedule_line(event: ScheduleFired) -> str:
    return (
        f"schedule {event.rule}: fired for {_utc(event.scheduled_time)} -> "
        f"{event.function} ({event.request_id})"
    )


def _incident_line(event: DatabaseIncident) -> str:
    return f"warning: {event.message}"


def _async_line(event: AsyncEventChanged) -> str | None:
    head = f"async {event.request_id} ({event.function})"
    if event.status == "queued" and event.attempt > 0:
        wait = max(event.due_at - event.at, 0.0)
        return f"{head}: attempt {event.attempt} failed; next attempt in {wait:.3g} s"
    if event.status == "succeeded" and not event.destination:
        return None  # its log says it all
    if event.status in ("succeeded", "failed", "expired", "discarded"):
        line = f"{head}: {event.status}"
        if event.condition:
            line += f" ({event.condition}, {event.attempt} attempt(s))"
        if event.destination:
            line += f" -> record sent to {event.destination}"
        return line
    return None


# An event source's events serve reports, each with its line (None: not this one)
_LINES: dict[type, Callable[[Any], str | None]] = {
    EnvironmentEvent: _debug_wait_line,
    BucketActivity: _bucket_line,
    ScheduleFired: _schedule_line,
    AsyncEventChanged: _async_line,
    DatabaseIncident: _incident_line,
}

# The engine's events serve prints something for (those, and the invocations' logs and
# reloads): it follows only these, so it is not woken for the others (two ConcurrencyChanged
# and an InvokeStart with every invocation, each LogLine), nor are they made for it.
SERVED_EVENTS: tuple[type, ...] = (InvokeEnd, FunctionReloaded, *_LINES)


def event_line(event: object) -> str | None:
    """A line for an event source's event, or None for events serve does not report."""
    for kind, line in _LINES.items():
        if isinstance(event, kind):
            return line(event)
    return None


# --------------------------------------------------------------------------- invocation logs

# How much of an invocation's log serve prints: its first and last part (the record keeps more,
# up to the log limit). A terminal scrolled by a flood shows nothing else; Lambda's own lines
# (START, END, REPORT, INIT_*) and the record's note of what it left out are always printed.
SERVE_LOG_BYTES = 64 * 1024


def _platform(record: InvocationRecord) -> set[int]:
    """The indexes of Lambda's lines in the record's log and of the record's notes: found by
    where build_result puts them, so a handler printing look-alikes cannot pass the bound."""
    lines = record.log_lines
    rid = record.request_id
    pinned: set[int] = set()
    if len(lines) >= 3:
        pinned.update((len(lines) - 1, len(lines) - 2))  # REPORT, END
        if lines[-2] != end_line(rid) and not _json(lines[-2], "runtimeDone", rid):
            pinned.discard(len(lines) - 2)
    start = start_line(rid, record.version)
    at = next(
        (i for i, line in enumerate(lines) if line == start or _json(line, "start", rid)), None
    )
    if at is not None:
        pinned.add(at)
        before = lines[at - 1] if at else ""
        if before.startswith("INIT_REPORT ") or _json(before, "initReport"):
            pinned.add(at - 1)
        if record.init_retry_ms is not None:  # the first INIT's report, before the retry's output
            first = next((i for i in range(1, at) if _init_report(lines[i])), None)
            if first is not None:  # (one line: a handler printing look-alikes adds no more)
                pinned.add(first)
    if (
        record.cold
        and lines
        and (lines[0].startswith("INIT_START ") or _json(lines[0], "initStart"))
    ):
        pinned.add(0)
    notes = [i for i, line in enumerate(lines) if line.startswith(NOTE_PREFIX)]
    pinned.update(notes[:2])  # the INIT phase's gap line and the invocation's
    return pinned


def _init_report(line: str) -> bool:
    return (line.startswith("INIT_REPORT ") and "\tPhase: init\t" in line) or (
        _json(line, "initReport") and '"phase":"init"' in line
    )


def _json(line: str, kind: str, request_id: str | None = None) -> bool:
    """Whether ``line`` is Lambda's JSON ``platform.<kind>`` record (``logging_format =
    "JSON"``), of ``request_id`` when given."""
    if not line.startswith('{"time":') or f'"type":"platform.{kind}"' not in line:
        return False
    return request_id is None or f'"requestId":"{request_id}"' in line


def _clip(line: str, nbytes: int, *, end: bool) -> str:
    data = line.encode()
    return (data[-nbytes:] if end else data[:nbytes]).decode("utf-8", "ignore")


def log_text(record: InvocationRecord, limit: int = SERVE_LOG_BYTES) -> str:
    """The record's log for a terminal: whole while the function's output fits in ``limit``
    bytes, else its first and last ``limit / 2`` (a line cut where it crosses) and a line saying
    how much was not printed."""
    lines = record.log_lines
    if sum(map(len, lines)) * 4 <= limit:  # it fits however it encodes (most logs): as it is
        return terminal_text(lines)
    pinned = _platform(record)
    free = [i for i in range(len(lines)) if i not in pinned]
    sizes = {i: len(lines[i].encode()) for i in free}
    total = sum(sizes.values())
    if total <= limit:
        return terminal_text(lines)
    head: dict[int, str] = {}
    room = limit // 2
    for i in free:  # the first part
        if room <= 0:
            break
        head[i] = lines[i] if sizes[i] <= room else _clip(lines[i], room, end=False)
        room -= sizes[i]
    tail: dict[int, str] = {}
    room = limit - limit // 2
    for i in reversed(free):  # the last part (of a line the first part cut: its end)
        if room <= 0 or head.get(i) is lines[i]:
            break
        tail[i] = lines[i] if sizes[i] <= room else _clip(lines[i], room, end=True)
        room -= sizes[i]
        if i in head:
            break
    shown = [*head.values(), *tail.values()]
    left_lines = sum(1 for i in free if i not in head and i not in tail)
    left_bytes = total - sum(len(text.encode()) for text in shown)
    note = (
        f"{NOTE_PREFIX}{left_lines:,} lines ({left_bytes:,} bytes) of this log not printed here: "
        f"serve prints {size_text(limit)} of each invocation's log, its first and last part; the "
        "invocation's record has more"
    )
    out: list[str] = []
    noted = False
    for i, line in enumerate(lines):
        if i not in sizes:
            out.append(line)
            continue
        if i in head:
            out.append(head[i])
        if not noted and (i not in head or i in tail):
            out.append(note)
            noted = True
        if i in tail:
            out.append(tail[i])
    return terminal_text(out)
