"""The Telemetry API (2022-07-01) of one execution environment: subscriptions and delivery.

An extension subscribes with ``PUT /2022-07-01/telemetry`` (its ``Lambda-Extension-Identifier``;
``schemaVersion``, ``types``, ``buffering``, an HTTP ``destination`` inside the sandbox) and is
then POSTed JSON arrays of events ``{"time", "type", "record"}``: platform events, the function's
log lines, the extensions' log lines. Sources [DG] = AWS Lambda Developer Guide:
``telemetry-api.md`` (subscription, destinations, buffering table, drops),
``telemetry-api-reference.md`` (the request, 200 ``"OK"``, 400 ``ValidationError``),
``telemetry-schema-reference.md`` (every event's shape); [RIE] = aws-lambda-runtime-interface-
emulator ``rapi/handler/runtimelogs.go`` (who may subscribe, and the refusal once INIT is over).

Delivery never holds up the environment: events are appended to each subscriber's bounded buffer
and sent by a task of their own; a destination that is gone or slow loses events (counted, and
reported to it as ``platform.logsDropped``) and the workbench logs a warning, never waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from ..model.records import iso_timestamp
from .logs_api import LOGS_SCHEMAS, translate
from .output import NOTE_PREFIX, EventSplitter

log = logging.getLogger("workbench.telemetry")

TELEMETRY_PATH = "/2022-07-01/telemetry"
# [DG:telemetry-api-reference] "2022-07-01", later "2022-12-13" and "2025-01-29" (all accepted by
# Lambda's default functions; the events here are the 2022-12-13 shapes)
SCHEMA_VERSIONS = ("2022-07-01", "2022-12-13", "2025-01-29")
TelemetryType = Literal["platform", "function", "extension"]
# (host, port) -> an open connection, as asyncio.open_connection makes one
Connect = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
TYPES: tuple[TelemetryType, ...] = ("platform", "function", "extension")


@dataclass(frozen=True, slots=True)
class Limit:
    default: int
    minimum: int
    maximum: int


# [DG:telemetry-api.md, "Configuring memory usage and buffering"]. UNVERIFIED: the reference page
# (telemetry-api-reference.md) prints other figures (maxItems 25..30,000, timeoutMs 1,000..10,000)
# that look swapped between rows; the buffering table's are used.
BUFFERING = {
    "maxItems": Limit(10_000, 1_000, 10_000),
    "maxBytes": Limit(262_144, 262_144, 1_048_576),
    "timeoutMs": Limit(1_000, 25, 30_000),
}
# the sandbox's own names for itself [DG:telemetry-api.md "http://sandbox.localdomain:${PORT}"];
# the workbench's sandbox is this host's loopback
SANDBOX_HOSTS = frozenset({"sandbox.localdomain", "sandbox", "localhost", "127.0.0.1"})
# events kept from INIT's start for extensions that subscribe during it (UNVERIFIED: Lambda hands
# a subscriber INIT's earlier events, platform.initStart and platform.extension among them, as
# observed in extensions' logs; how many it keeps is not documented)
INIT_BACKLOG = 1_000
POST_TIMEOUT_S = 5.0  # one POST to a destination, connect to answer (UNVERIFIED: Lambda's)
# what may wait for a destination, in batches (beyond it, events are dropped)
QUEUED_BATCHES = 2
RETRIES = (0.1, 0.3)  # Lambda "retries ... with backoff" [DG]: the delays here are ours
# [DG:telemetry-schema-reference, platform.logsDropped example]
DROPPED_REASON = "Consumer seems to have fallen behind as it has not acknowledged receipt of logs."


@dataclass(frozen=True, slots=True)
class Subscription:
    """A checked subscription request."""

    types: frozenset[str]
    max_items: int
    max_bytes: int
    timeout_ms: int
    host: str
    port: int
    path: str
    api: Api = "telemetry"  # the API it came through: its events' shapes (logs_api.py)
    schema: str = ""


Api = Literal["telemetry", "logs"]


def parse_subscription(
    body: bytes, reserved_port: int, api: Api = "telemetry"
) -> Subscription | str:
    """The request as Lambda accepts it, or what is wrong with it (Lambda's 400 ``ValidationError``
    joins its complaints with ``; ``, as in "URI port is not provided; types should not be empty"
    [DG:telemetry-api-reference]; UNVERIFIED: the wording of the other complaints). The Logs API
    (``api="logs"``) takes the same request, its ``schemaVersion`` optional (logs_api.py)."""
    try:
        request = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        return f"the request body is not JSON: {e}"
    if not isinstance(request, dict):
        return "the request body should be a JSON object"
    problems: list[str] = []
    schemas = SCHEMA_VERSIONS if api == "telemetry" else LOGS_SCHEMAS
    schema = request.get("schemaVersion", None if api == "telemetry" else LOGS_SCHEMAS[0])
    if schema not in schemas:
        problems.append(f"schemaVersion should be one of {', '.join(schemas)}, not {schema!r}")
    host, port, path = "", 0, "/"
    destination = request.get("destination")
    if not isinstance(destination, dict):
        problems.append("destination should be provided (protocol and URI)")
    else:
        protocol = destination.get("protocol")
        if protocol == "TCP":  # Lambda's other protocol: NDJSON over TCP (not emulated here)
            problems.append("destination protocol TCP is not supported by the workbench; use HTTP")
        elif protocol != "HTTP":
            problems.append(f"destination protocol should be HTTP, not {protocol!r}")
        uri = destination.get("URI")
        if not isinstance(uri, str) or not uri:
            problems.append("URI should be provided")
        else:
            host, port, path, bad = _check_uri(uri, reserved_port)
            problems += bad
    types = request.get("types")
    if not isinstance(types, list) or not types:
        problems.append("types should not be empty")
    elif any(t not in TYPES for t in types):
        problems.append(f"types should only contain {', '.join(TYPES)}, not {types!r}")
    sizes: dict[str, int] = {}
    buffering = request.get("buffering")
    if buffering is not None and not isinstance(buffering, dict):
        problems.append("buffering should be an object (maxItems, maxBytes, timeoutMs)")
        buffering = None
    for key, limit in BUFFERING.items():
        value = (buffering or {}).get(key, limit.default)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"buffering.{key} should be an integer, not {value!r}")
        elif not limit.minimum <= value <= limit.maximum:
            problems.append(
                f"buffering.{key} should be between {limit.minimum} and {limit.maximum}, "
                f"not {value}"
            )
        else:
            sizes[key] = value
    if problems:
        return "; ".join(problems)
    return Subscription(
        frozenset(types),  # type: ignore[arg-type]
        sizes["maxItems"],
        sizes["maxBytes"],
        sizes["timeoutMs"],
        host,
        port,
        path,
        api,
        str(schema),
    )


def _check_uri(uri: str, reserved_port: int) -> tuple[str, int, str, list[str]]:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as e:
        return "", 0, "/", [f"URI {uri!r} is not a URI: {e}"]
    problems: list[str] = []
    if parts.scheme != "http":  # [DG] "Lambda supports only HTTP, not HTTPS"
        problems.append(f"URI scheme should be http, not {parts.scheme!r}")
    host = parts.hostname or ""
    if host not in SANDBOX_HOSTS:  # [DG] "only to destinations that are inside the environment"
        problems.append(f"URI host should be the sandbox's own (sandbox.localdomain), not {host!r}")
    if port is None:
        problems.append("URI port is not provided")
    elif port == reserved_port:  # Lambda reserves 9001, its Runtime API's port [DG]
        problems.append(f"URI port {port} is reserved for the Runtime API")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, port or 0, path, problems


@dataclass(eq=False)
class Subscriber:
    """One extension's subscription: its buffer and the task that empties it."""

    name: str
    sub: Subscription
    warn: Callable[[str], None]
    # how its destination is reached (None: on the host's loopback; an environment in a
    # network namespace of its own: inside it, ``netns.NetNamespace.open_connection``)
    connect: Connect | None = None
    waiting: deque[bytes] = field(default_factory=deque)  # encoded events, oldest first
    waiting_bytes: int = 0
    dropped_records: int = 0
    dropped_bytes: int = 0
    failing: bool = False  # its destination failed last time (warned once until it recovers)
    _timer: asyncio.TimerHandle | None = None
    _sending: asyncio.Task[None] | None = None
    _due: bool = False  # flush as soon as the POST under way ends
    _closed: bool = False

    def add(self, event: bytes) -> None:
        sub = self.sub
        if (
            len(self.waiting) >= QUEUED_BATCHES * sub.max_items
            or self.waiting_bytes >= QUEUED_BATCHES * sub.max_bytes
        ):
            # the destination has fallen behind: Lambda "might drop records to keep memory
            # utilization bounded" [DG]; the next batch says how many (platform.logsDropped)
            self.dropped_records += 1
            self.dropped_bytes += len(event)
            return
        self.waiting.append(event)
        self.waiting_bytes += len(event)
        if self._full():
            self.flush()
        elif self._timer is None and self._sending is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(sub.timeout_ms / 1000, self.flush)

    def _full(self) -> bool:
        """A batch's worth waits: maxItems events, or maxBytes."""
        return len(self.waiting) >= self.sub.max_items or self.waiting_bytes >= self.sub.max_bytes

    def flush(self) -> None:
        """Send what waits now (or as soon as the batch under way is acknowledged)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._closed or (not self.waiting and not self.dropped_records):
            return
        if self._sending is not None:
            self._due = True
            return
        # a batch: up to maxItems events, closed by the one that reaches maxBytes (Lambda: "expect
        # payloads as large as 2 * maxBytes + metadataBytes" [DG])
        batch: list[bytes] = []
        size = 0
        while self.waiting and len(batch) < self.sub.max_items and size < self.sub.max_bytes:
            event = self.waiting.popleft()
            batch.append(event)
            size += len(event)
        self.waiting_bytes -= size
        if self.dropped_records:
            batch.insert(0, _encode("platform.logsDropped", self._dropped_record()))
            self.dropped_records = self.dropped_bytes = 0
        body = b"[" + b",".join(batch) + b"]"
        self._sending = asyncio.get_running_loop().create_task(self._send(body, len(batch)))

    def _dropped_record(self) -> dict[str, object]:
        return {
            "droppedBytes": self.dropped_bytes,
            "droppedRecords": self.dropped_records,
            "reason": DROPPED_REASON,
        }

    async def _send(self, body: bytes, count: int) -> None:
        try:
            error = ""
            for delay in (*RETRIES, None):
                error = await _post(self.sub, body, self.connect)
                if not error:
                    self.failing = False
                    break
                if delay is None or self._closed:
                    break
                await asyncio.sleep(delay)
            if error:
                if not self.failing:  # once, until it answers again
                    self.warn(
                        f"telemetry for extension {self.name} dropped: its destination "
                        f"http://{self.sub.host}:{self.sub.port}{self.sub.path} {error} "
                        f"({count} event{'' if count == 1 else 's'} in this batch)"
                    )
                self.failing = True
        finally:
            self._sending = None
        if self._due or self._full():
            self._due = False
            self.flush()
        elif self.waiting and self._timer is None and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(
                self.sub.timeout_ms / 1000, self.flush
            )

    async def drained(self) -> None:
        """Until what waits now has been sent (or given up)."""
        self.flush()
        while self._sending is not None:
            await asyncio.wait({self._sending})  # never raises: a cancelled POST ends it too
            if self._closed:
                return
            if self.waiting or self.dropped_records:
                self.flush()

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sending is not None:
            self._sending.cancel()


async def _post(sub: Subscription, body: bytes, connect: Connect | None = None) -> str:
    """POST one batch; '' when the destination acknowledged it (2xx), else what went wrong."""
    host = "127.0.0.1" if sub.host != "localhost" else "localhost"
    head = (
        f"POST {sub.path} HTTP/1.1\r\nHost: sandbox.localdomain:{sub.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(POST_TIMEOUT_S):
            reader, writer = await (connect or asyncio.open_connection)(host, sub.port)
            writer.write(head + body)
            await writer.drain()
            status_line = await reader.readline()
    except TimeoutError:
        return f"did not answer within {POST_TIMEOUT_S:g} s"
    except OSError as e:
        return f"could not be reached ({e.strerror or e})"
    finally:
        if writer is not None:
            writer.close()
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return "did not answer with HTTP"
    if not parts[1].startswith(b"2"):
        return f"answered {parts[1].decode()}"
    return ""


def _status(error_type: str | None) -> dict[str, object]:
    if error_type is None:
        return {"status": "success"}
    return {"status": "error", "errorType": error_type}


def _deliver(
    subscriber: Subscriber, kind: str, record: object, at: float, encoded: list[bytes] | None
) -> None:
    """Hand one event to ``subscriber`` in its API's shape (``encoded``: the Telemetry API's
    encoding of it, once made)."""
    if subscriber.sub.api == "logs":
        for logs_kind, logs_record in translate(kind, record, subscriber.sub.schema):
            subscriber.add(_encode(logs_kind, logs_record, at))
        return
    if encoded is None:
        encoded = []
    if not encoded:
        encoded.append(_encode(kind, record, at))
    subscriber.add(encoded[0])


def _encode(kind: str, record: object, at: float | None = None) -> bytes:
    event = {"time": iso_timestamp(time.time() if at is None else at), "type": kind}
    event["record"] = record  # type: ignore[assignment]
    return json.dumps(event, separators=(",", ":")).encode()


class Telemetry:
    """One environment's Telemetry API: its subscribers and what is sent to them."""

    def __init__(self, *, json_logs: bool, on_warning: Callable[[bytes], None]) -> None:
        self.json_logs = json_logs  # the function's LogFormat is JSON: log lines as objects
        self.on_warning = on_warning  # a line for the function's log
        self.subscribers: dict[str, Subscriber] = {}
        self.connect: Connect | None = None  # how subscribers are reached (``Subscriber``)
        self.open = True  # subscriptions are taken during INIT only [RIE]
        # INIT's phase in its events: ``invoke`` when an invocation retries a failed INIT
        # [RIE: doRuntimeDomainInit(..., LifecyclePhaseInvoke)]
        self.phase = "init"
        # INIT's events so far (category, type, record, time), for subscribers still to come
        self._backlog: deque[tuple[str, str, object, float]] = deque(maxlen=INIT_BACKLOG)
        self._function = EventSplitter()
        self._extension = EventSplitter()
        self._invoked: str | None = None  # the request handed over last (platform.start)
        self._answered: str | None = None  # the request platform.runtimeDone was sent for
        self._tracing: dict[str, str] | None = None

    # ----------------------------------------------------------------- subscriptions

    def subscribe(self, ident: str, name: str, sub: Subscription) -> None:
        """A new subscriber (an extension subscribing again replaces its subscription; UNVERIFIED
        in Lambda), handed what INIT has sent so far, then ``platform.telemetrySubscription``."""
        old = self.subscribers.pop(ident, None)
        if old is not None:
            old.close()
        subscriber = Subscriber(name, sub, self._warn, self.connect)
        self.subscribers[ident] = subscriber
        for category, kind, record, at in self._backlog:
            if category in sub.types:
                _deliver(subscriber, kind, record, at, None)
        types = [t for t in TYPES if t in sub.types]
        self.platform(
            "platform.telemetrySubscription", {"name": name, "state": "Subscribed", "types": types}
        )

    def close_subscriptions(self) -> None:
        """INIT is over: no more subscriptions, no more backlog."""
        self.open = False
        self._backlog.clear()

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.on_warning(f"{NOTE_PREFIX}{message}\n".encode())

    # ----------------------------------------------------------------- events

    @property
    def active(self) -> bool:
        return self.open or bool(self.subscribers)

    def emit(self, category: TelemetryType, kind: str, record: object) -> None:
        if not self.active:
            return
        at = time.time()
        if self.open:
            self._backlog.append((category, kind, record, at))
        encoded: list[bytes] = []  # the Telemetry API's form, made once for all its subscribers
        for subscriber in self.subscribers.values():
            if category in subscriber.sub.types:
                _deliver(subscriber, kind, record, at, encoded)

    def platform(self, kind: str, record: dict[str, object]) -> None:
        self.emit("platform", kind, record)

    def function_output(self, data: bytes) -> None:
        """The runtime's output: one ``function`` event a line."""
        if self.active:
            self._lines("function", self._function.feed(data))

    def extension_output(self, data: bytes) -> None:
        """The extensions' output: one ``extension`` event a line."""
        if self.active:
            self._lines("extension", self._extension.feed(data))

    def _lines(self, category: TelemetryType, lines: Iterable[bytes]) -> None:
        for line in lines:
            text = line.decode("utf-8", "replace")
            record: object = text
            if self.json_logs and text.startswith("{"):
                # under LogFormat JSON the record is the line's object [DG:telemetry-schema-
                # reference, 2022-12-13 function/extension]; UNVERIFIED: a line that is not
                # JSON stays a string
                try:
                    record = json.loads(text)
                except ValueError:
                    record = text
            self.emit(category, category, record)

    # ----------------------------------------------------------------- the platform's events
    # Shapes from [DG:telemetry-schema-reference]; the environment calls these at each phase.

    def init_start(self, init_type: str, runtime_version: str, runtime_arn: str) -> None:
        self.platform(
            "platform.initStart",
            {
                "initializationType": init_type,
                "phase": self.phase,
                "runtimeVersion": runtime_version,
                "runtimeVersionArn": runtime_arn,
            },
        )

    def init_runtime_done(self, init_type: str, error_type: str | None = None) -> None:
        """The runtime's part of INIT ended: it asked ``/next`` (or failed with ``error_type``)."""
        record: dict[str, object] = {"initializationType": init_type, "phase": self.phase}
        record.update(_status(error_type))
        self.platform("platform.initRuntimeDone", record)

    def init_report(
        self, init_type: str, duration_ms: float, error_type: str | None = None
    ) -> None:
        """INIT's end (every extension waits in ``next`` too), with its duration."""
        record: dict[str, object] = {"initializationType": init_type, "phase": self.phase}
        record.update(_status(error_type))
        record["metrics"] = {"durationMs": round(duration_ms, 2)}
        self.platform("platform.initReport", record)

    def extension(self, name: str, events: Iterable[str]) -> None:
        """An extension registered (``platform.extension``, state ``Ready``)."""
        self.platform(
            "platform.extension", {"name": name, "state": "Ready", "events": list(events)}
        )

    def start(self, request_id: str, version: str, trace_id: str | None) -> None:
        self._invoked, self._answered = request_id, None
        self._tracing = {"type": "X-Amzn-Trace-Id", "value": trace_id} if trace_id else None
        record: dict[str, object] = {"requestId": request_id, "version": version}
        if self._tracing:
            record["tracing"] = self._tracing
        self.platform("platform.start", record)

    def runtime_done(
        self,
        request_id: str,
        status: str,
        error_type: str | None,
        duration_ms: float,
        produced_bytes: int | None = None,
        started_at: float | None = None,
    ) -> None:
        """``platform.runtimeDone``: the runtime answered (or never will: ``status`` says how).

        Its spans are Lambda's two [DG:telemetry-schema-reference, Span]: ``responseLatency``
        (the event handed over to the first byte of the answer) and ``responseDuration`` (the
        answer's first byte to its last). UNVERIFIED: a buffered answer is read whole here, so
        responseLatency is the whole duration and responseDuration 0."""
        if self._answered == request_id:
            return
        self._answered = request_id
        record: dict[str, object] = {"requestId": request_id, "status": status}
        if error_type and status != "success":
            record["errorType"] = error_type
        metrics: dict[str, object] = {"durationMs": round(duration_ms, 2)}
        if produced_bytes is not None:
            metrics["producedBytes"] = produced_bytes
        record["metrics"] = metrics
        if started_at is not None:
            answered_at = started_at + duration_ms / 1000
            record["spans"] = [
                {
                    "name": "responseLatency",
                    "start": iso_timestamp(started_at),
                    "durationMs": round(duration_ms, 2),
                },
                {
                    "name": "responseDuration",
                    "start": iso_timestamp(answered_at),
                    "durationMs": 0.0,
                },
            ]
        if self._tracing:
            record["tracing"] = self._tracing
        self.platform("platform.runtimeDone", record)

    def report(self, report: dict[str, object], runtime_ms: float) -> None:
        """``platform.report`` (``report``: the record JSON logs show, platform_log.py), after a
        ``platform.runtimeDone`` if the runtime never answered (a timeout, a crash)."""
        request_id = str(report.get("requestId"))
        if request_id != self._invoked:
            return  # INIT failed before the event was handed over: no invocation to report
        status = str(report.get("status", "success"))
        error_type = report.get("errorType")
        self.runtime_done(
            request_id, status, error_type if isinstance(error_type, str) else None, runtime_ms
        )
        if self._tracing:
            report = {**report, "tracing": self._tracing}
        self.platform("platform.report", report)
        self._invoked = None

    def flush(self) -> None:
        """Send every buffer now (SHUTDOWN: Lambda flushes when its input streams close)."""
        for subscriber in self.subscribers.values():
            subscriber.flush()

    async def drained(self, timeout_s: float) -> None:
        """Until every buffer is sent, for at most ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                for subscriber in list(self.subscribers.values()):
                    await subscriber.drained()
        except TimeoutError:
            pass

    def close(self) -> None:
        for subscriber in self.subscribers.values():
            subscriber.close()
        self.subscribers.clear()
        self.open = False
        self._backlog.clear()
