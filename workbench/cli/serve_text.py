"""What ``workbench serve`` prints about the event sources: the table at start (and after a
reload that changes it), and one line for each thing a user would otherwise not see happen —
a bucket file becoming an event, a schedule firing, an async retry or a destination."""

from __future__ import annotations

import time

from ..engine import Engine
from ..engine.config import QueueTrigger, S3Trigger, SnsTrigger, runtime_family, triggers_of
from ..engine.model import (
    AsyncEventChanged,
    BucketActivity,
    DatabaseIncident,
    EnvironmentEvent,
    ScheduleFired,
)
from ..engine.runtime import HOST, INSTALL_HINT, debugger_for, debugpy_folder
from ..engine.sources import bucket_folders


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def source_lines(engine: Engine) -> list[str]:
    """Every enabled bucket, queue, schedule and topic trigger, with where it comes from."""
    lines: list[str] = []
    folders: dict[str, list[str]] = {}
    for folder, bucket in bucket_folders(engine).items():
        folders.setdefault(bucket, []).append(f"{folder}/")
    for name, fn in sorted(engine.functions.items()):
        for trigger in triggers_of(fn):
            if not trigger.enabled:
                continue
            if isinstance(trigger, S3Trigger):
                where = ", ".join(folders.get(trigger.bucket, []))
                events = ", ".join(e.removeprefix("s3:") for e in trigger.events)
                lines.append(f"bucket {trigger.bucket} ({where}) -> {name} [{events}]")
            elif isinstance(trigger, QueueTrigger):
                line = f"queue {trigger.queue} -> {name} (batch {trigger.batch_size}"
                if trigger.dead_letter_queue:
                    line += (
                        f", to {trigger.dead_letter_queue} after "
                        f"{trigger.max_receive_count} receives"
                    )
                lines.append(line + ")")
            elif isinstance(trigger, SnsTrigger):
                lines.append(f"topic {trigger.topic} -> {name}")
    scheduler = engine.scheduler
    if scheduler is not None:
        for info in scheduler.upcoming(count=1):
            if info.enabled:
                when = f"next {_utc(info.next_times[0])}" if info.next_times else "never again"
                lines.append(f"schedule {info.rule} {info.expression} -> {info.function}, {when}")
    return [f"  {line}" for line in lines]


def debug_lines(engine: Engine) -> list[str]:
    """Which functions start under a debugger (IDE attach), and a warning if debugpy is missing."""
    port = engine.settings.debug_port
    lines: list[str] = []
    if port is not None:
        lines.append(
            f"debugging: every Python (debugpy) and Node.js (inspect) environment waits for a "
            f"debugger on {HOST}:{port} or the next free port up"
        )
    debugpy_wanted = port is not None
    for name, fn in sorted(engine.functions.items()):
        wanted = debugger_for(fn, port)
        if wanted is not None and port is None:
            kind, base = wanted
            lines.append(f"debugging: {name} waits for a debugger ({kind}) on {HOST}:{base} or up")
        debugpy_wanted = debugpy_wanted or (
            wanted is not None and runtime_family(fn.runtime) == "python"
        )
    python = engine.settings.python
    if debugpy_wanted and debugpy_folder(python) is None:
        lines.append(
            f"warning: debugpy is not installed for {python}: Python functions under a "
            f"debugger fail to start ({INSTALL_HINT})"
        )
    return lines


def event_line(event: object) -> str | None:
    """A line for an event source's event, or None for events serve does not report."""
    if isinstance(event, EnvironmentEvent):
        if event.phase != "debug_wait":
            return None
        return (
            f"{event.function} ({event.version}, environment {event.env_id[:8]}): "
            f"waiting for a debugger on {HOST}:{event.port}"
        )
    if isinstance(event, BucketActivity):
        size = f" ({event.size} bytes)" if event.size is not None else ""
        to = ", ".join(event.functions) or "no trigger matched"
        return f"bucket {event.bucket}: {event.event_name} {event.key}{size} -> {to}"
    if isinstance(event, ScheduleFired):
        return (
            f"schedule {event.rule}: fired for {_utc(event.scheduled_time)} -> "
            f"{event.function} ({event.request_id})"
        )
    if isinstance(event, AsyncEventChanged):
        return _async_line(event)
    if isinstance(event, DatabaseIncident):
        return f"warning: {event.message}"
    return None


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
