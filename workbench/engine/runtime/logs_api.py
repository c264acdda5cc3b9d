"""The Logs API (2020-08-15): the Telemetry API's predecessor, which older extensions still use.

``PUT /2020-08-15/logs`` takes a subscription like the Telemetry API's (types, buffering, an HTTP
destination inside the sandbox; ``schemaVersion`` optional: ``2020-08-15``, or ``2021-03-18`` for
``platform.runtimeDone``), and its subscribers are POSTed batches through the same buffers
(``telemetry.Subscriber``), but in the Logs API's shapes: ``platform.start`` / ``platform.end``
with the request id only, ``platform.report`` with its metrics and no status, ``platform.fault``
when the runtime exited mid-invocation, ``platform.logsSubscription``; no INIT events (those came
with the Telemetry API). Source [DG] = AWS Lambda Developer Guide, ``runtimes-logs-api.md``.

"After subscribing using one of these APIs, any attempt to subscribe using the other API returns
an error" [DG]: an extension has one subscription, to one of them.
"""

from __future__ import annotations

LOGS_PATH = "/2020-08-15/logs"
LOGS_SCHEMAS = ("2020-08-15", "2021-03-18")  # [DG] "Default value: 2020-08-15"
# the metrics platform.report carries [DG "Example platform log messages"]
REPORT_METRICS = (
    "durationMs",
    "billedDurationMs",
    "memorySizeMB",
    "maxMemoryUsedMB",
    "initDurationMs",
)
# Telemetry API events with no Logs API counterpart: not sent to its subscribers
TELEMETRY_ONLY = frozenset(
    {
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.initReport",
        "platform.restoreStart",
        "platform.restoreRuntimeDone",
        "platform.restoreReport",
    }
)

Event = tuple[str, object]  # (type, record)


def translate(kind: str, record: object, schema: str) -> list[Event]:
    """A Telemetry API event (``kind``, ``record``) as the Logs API sends it, in ``schema``: none,
    one, or two (a report comes after the invocation's ``platform.end``)."""
    if kind in TELEMETRY_ONLY:
        return []
    if kind in ("function", "extension", "platform.extension", "platform.logsDropped"):
        return [(kind, record)]  # the same shapes in both APIs
    if kind == "platform.telemetrySubscription":
        return [("platform.logsSubscription", record)]
    if not isinstance(record, dict):
        return []
    request_id = record.get("requestId")
    if kind == "platform.start":
        return [(kind, {"requestId": request_id})]
    if kind == "platform.runtimeDone":
        if schema != "2021-03-18":  # [DG] only in the 2021-03-18 schema
            return []
        status = record.get("status")
        # [DG] success, failure or timeout (the Telemetry API's "error" is a failure here)
        status = status if status in ("success", "timeout") else "failure"
        return [(kind, {"requestId": request_id, "status": status})]
    if kind == "platform.report":
        metrics = record.get("metrics")
        kept = {}
        if isinstance(metrics, dict):
            kept = {k: metrics[k] for k in REPORT_METRICS if k in metrics}
        out: list[Event] = []
        if record.get("errorType") == "Runtime.ExitError":
            # [DG "platform.fault"]: "RequestId: <id> Process exited before completing request"
            fault = f"RequestId: {request_id} Process exited before completing request"
            out.append(("platform.fault", fault))
        out.append(("platform.end", {"requestId": request_id}))
        out.append((kind, {"requestId": request_id, "metrics": kept}))
        return out
    return []  # UNVERIFIED: any other platform event of the Telemetry API has none here
