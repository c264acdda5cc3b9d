"""What the Sources tab shows, as rows: queues, stream mappings, schedules, bucket activity,
routes and topics.

Pure functions of the engine's state (no Textual), so the pane only decides when to redraw.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from rich.text import Text

from ...engine import Engine
from ...engine.config import FunctionMeta, FunctionUrls, HttpTrigger, triggers_of
from ...engine.model import BucketActivity
from ...engine.sources import ShardStatus, topic_subscribers

NEXT_TIMES = 2  # fire times shown per schedule

Row = tuple[object, ...]


def clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def when(t: float) -> str:
    """A fire time: the clock, with the date when it is not today."""
    if time.strftime("%Y%m%d", time.localtime(t)) == time.strftime("%Y%m%d"):
        return clock(t)
    return time.strftime("%m-%d %H:%M", time.localtime(t))


def size_text(size: int | None) -> str:
    if size is None:
        return "—"
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def queue_rows(infos: Iterable[object]) -> list[Row]:
    """One row per queue: visible, in flight, delayed, its dead-letter queue and that depth."""
    rows: list[Row] = []
    for q in infos:
        dlq = q.dead_letter_queue  # type: ignore[attr-defined]
        dlq_depth = q.dead_letter_depth  # type: ignore[attr-defined]
        rows.append(
            (
                q.name,  # type: ignore[attr-defined]
                str(q.depth),  # type: ignore[attr-defined]
                str(q.in_flight),  # type: ignore[attr-defined]
                str(q.delayed),  # type: ignore[attr-defined]
                dlq or "—",
                Text(str(dlq_depth), style="bold red" if dlq_depth else "")
                if dlq_depth is not None
                else "—",
            )
        )
    return rows


def age_text(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000} min"


def stream_rows(statuses: Iterable[ShardStatus]) -> list[Row]:
    """One row per shard poller of each kinesis mapping: its state, its iterator age (how far
    behind it is), its checkpoint and what it gave up on."""
    rows: list[Row] = []
    for s in statuses:
        shard = s.shard if s.lane == 0 else f"{s.shard}/{s.lane}"
        state = Text(s.state, style="bold red" if s.state == "Retrying" else "")
        gave_up = Text(str(s.discarded), style="bold red" if s.discarded else "")
        checkpoint = f"…{s.checkpoint[-8:]}" if s.checkpoint else "—"
        rows.append(
            (s.function, s.stream, shard, state, age_text(s.iterator_age_ms), checkpoint, gave_up)
        )
    return rows


def schedule_rows(infos: Iterable[object]) -> list[Row]:
    rows: list[Row] = []
    for s in infos:
        times = s.next_times  # type: ignore[attr-defined]
        if not s.enabled:  # type: ignore[attr-defined]
            upcoming = Text("disabled", style="dim")
        elif not times:
            upcoming = Text("never again", style="dim")
        else:
            upcoming = Text(", ".join(when(t) for t in times[:NEXT_TIMES]))
        last = s.last_fired_at  # type: ignore[attr-defined]
        rows.append(
            (
                s.function,  # type: ignore[attr-defined]
                s.rule,  # type: ignore[attr-defined]
                s.expression,  # type: ignore[attr-defined]
                upcoming,
                clock(last) if last else "—",
            )
        )
    return rows


def activity_rows(events: Sequence[BucketActivity]) -> list[Row]:
    """Newest first; an event no filter matched shows no function, dimmed."""
    rows: list[Row] = []
    for e in reversed(events):
        style = "" if e.functions else "dim"
        kind = e.event_name.split(":")[0].removeprefix("Object")
        rows.append(
            (
                Text(clock(e.at), style=style),
                Text(e.bucket, style=style),
                Text(kind, style="green" if kind == "Created" and style == "" else style or "red"),
                Text(e.key, style=style),
                Text(size_text(e.size), style=style),
                Text(", ".join(e.functions) or "no trigger matched", style=style),
            )
        )
    return rows


def function_urls(engine: Engine) -> FunctionUrls:
    """The function URLs (function.toml's and the API's) as the HTTP trigger port serves them."""
    assert engine.hot_reload.api is not None  # wiring always gives the engine one
    return FunctionUrls(
        engine.functions,
        FunctionMeta(engine.hot_reload.api.home),
        account_id=engine.settings.account_id,
        region=engine.settings.region,
    )


def route_rows(engine: Engine) -> list[Row]:
    """HTTP routes, function URLs and topic subscriptions."""
    rows: list[Row] = []
    for name, fn in sorted(engine.functions.items()):
        for t in triggers_of(fn, HttpTrigger):
            if t.enabled:
                rows.append(("route", t.route_key, name))
    for entry in function_urls(engine).all():
        target = entry.function + (f":{entry.qualifier}" if entry.qualifier else "")
        url = entry.url(engine.settings.region, engine.settings.http_port)
        rows.append(("url", url, f"{target} ({entry.config.auth_type})"))
    for topic, subscribers in sorted(topic_subscribers(engine).items()):
        names = [f if on else f"{f} (disabled)" for f, on in sorted(subscribers.items())]
        rows.append(("topic", topic, ", ".join(names)))
    return rows


TABLES: dict[str, tuple[tuple[str, int | None], ...]] = {
    "queues": (
        ("Queue", 24),
        ("Visible", 7),
        ("In flight", 9),
        ("Delayed", 7),
        ("Dead-letter queue", 24),
        ("DLQ depth", 9),
    ),
    "streams": (
        ("Function", 20),
        ("Stream", 20),
        ("Shard", 22),
        ("State", 9),
        ("Iterator age", 12),
        ("Checkpoint", 11),
        ("Discarded", 9),
    ),
    "activity": (
        ("Time", 8),
        ("Bucket", 16),
        ("Event", 7),
        ("Key", 36),
        ("Size", 9),
        ("Functions", 24),
    ),
    "schedules": (
        ("Function", 20),
        ("Rule", 20),
        ("Expression", 24),
        ("Next", 26),
        ("Last fired", 10),
    ),
    "routes": (("Kind", 5), ("Route / URL / topic", 60), ("Function(s)", 40)),
}
TITLES = {
    "queues": "Queues",
    "streams": "Stream mappings (Enabled)",
    "schedules": "Schedules",
    "activity": "Bucket activity",
    "routes": "HTTP routes, function URLs and topics",
}
EMPTY = {
    "queues": "no queues yet: ctrl+n sends to one; a queue trigger creates its queue",
    "streams": "no kinesis triggers (or another workbench on this state dir runs them)",
    "schedules": "no schedule triggers",
    "activity": "no bucket activity yet: write a file under <root>/buckets/<name>/",
    "routes": "no http or sns triggers, no function URLs",
}
