"""The Logs API (2020-08-15), the Telemetry API's predecessor: a real extension subscribes with
``PUT /2020-08-15/logs`` and is POSTed the Logs API's shapes [DG:runtimes-logs-api]."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.engine import Engine

from ..helpers import until
from .test_telemetry import HANDLER, TELEMETRY_EXTENSION, _entries, _of, _received, report_metrics
from .test_telemetry import _add as add_beside

TELEMETRY_CALL = 'call(base + "/2022-07-01/telemetry", "PUT", text.encode(), headers)'
assert TELEMETRY_CALL in TELEMETRY_EXTENSION
# the same extension, subscribing through the Logs API; then (OTHER_API) through the other one
LOGS_EXTENSION = TELEMETRY_EXTENSION.replace(
    TELEMETRY_CALL,
    'call(base + os.environ.get("SUB_PATH", "/2020-08-15/logs"), "PUT", text.encode(), headers)',
).replace(
    'print(f"[{name}] subscribed',
    'if os.environ.get("OTHER_API"):\n'
    '    os.environ["SUB_PATH"] = os.environ["OTHER_API"]\n'
    '    note(other=subscribe(json.loads(os.environ["TEL_SUBSCRIBE"])))\n'
    'print(f"[{name}] subscribed',
)
SUBSCRIBE = {  # the documented example [DG:runtimes-logs-api "Example subscription"]
    "schemaVersion": "2020-08-15",
    "types": ["platform", "function"],
    "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100},
    "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:PORT/lambda_logs"},
}


def _add(engine: Engine, root: Path, name: str, log: Path, code: str = HANDLER,
         subscribe: dict[str, Any] = SUBSCRIBE, **env: str) -> None:  # fmt: skip
    extension = ("logs-ext", LOGS_EXTENSION, "logs")
    add_beside(engine, root, name, log, code, subscribe, extension, **env)


async def test_an_extension_gets_the_logs_apis_events(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    _add(engine, function_root, "logs", log)
    result = await engine.invoke("logs", b"{}")
    record, rid = result.record, result.record.request_id
    assert [e["subscribed"] for e in _entries(log) if "subscribed" in e] == [[200, "OK"]]
    await until(lambda: _of(_received(log), "platform.report"), "platform.report delivered")
    events = _received(log)
    assert all(b["path"] == "/lambda_logs" for b in _entries(log) if "batch" in b)
    kinds = [e["type"] for e in events]
    # no INIT events, no runtimeDone (2020-08-15), no extension lines (not subscribed)
    assert [k for k in kinds if k.startswith("platform.")] == [
        "platform.logsSubscription",
        "platform.extension",
        "platform.start",
        "platform.end",
        "platform.report",
    ]
    assert "extension" not in kinds
    by_type = {e["type"]: e["record"] for e in events}
    assert by_type["platform.logsSubscription"] == {
        "name": "logs-ext",
        "state": "Subscribed",
        "types": ["platform", "function"],
    }
    assert by_type["platform.start"] == {"requestId": rid}
    assert by_type["platform.end"] == {"requestId": rid}
    assert by_type["platform.report"] == {
        "requestId": rid,
        "metrics": report_metrics(record),
    }
    assert [e["record"] for e in _of(events, "function")] == ["hello from the handler"]
    assert kinds.index("platform.start") < kinds.index("function") < kinds.index("platform.end")


async def test_schema_2021_03_18_adds_runtime_done_and_a_crash_is_a_fault(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    code = "import os\ndef handler(event, context):\n    os._exit(3)\n"
    subscribe = {**SUBSCRIBE, "schemaVersion": "2021-03-18", "types": ["platform"]}
    _add(engine, function_root, "crashes", log, code, subscribe)
    result = await engine.invoke("crashes", b"{}")
    rid = result.record.request_id
    assert result.record.error_type == "Runtime.ExitError"
    await until(lambda: _of(_received(log), "platform.report"), "platform.report delivered")
    events = _received(log)
    [done] = _of(events, "platform.runtimeDone")
    assert done["record"] == {"requestId": rid, "status": "failure"}
    [fault] = _of(events, "platform.fault")
    assert fault["record"] == f"RequestId: {rid} Process exited before completing request"
    kinds = [e["type"] for e in events]
    assert kinds.index("platform.fault") < kinds.index("platform.end")


async def test_refusals_in_the_logs_apis_words(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    bad = [
        {"types": [], "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain/"}},
        {**SUBSCRIBE, "schemaVersion": "2022-12-13"},  # a Telemetry API schema
    ]
    no_schema = {k: v for k, v in SUBSCRIBE.items() if k != "schemaVersion"}  # optional here
    _add(engine, function_root, "logsbad", log, subscribe=no_schema, TEL_BAD=json.dumps(bad),
         OTHER_API="/2022-07-01/telemetry")  # fmt: skip
    await engine.invoke("logsbad", b"{}")
    entries = await until(lambda: [e for e in _entries(log) if "other" in e] and _entries(log))
    answers = [e["bad"] for e in entries if "bad" in e]
    assert [status for status, _ in answers] == [400, 400]
    assert all(body["errorType"] == "Logs.ValidationError" for _, body in answers)
    assert answers[0][1]["errorMessage"] == "URI port is not provided; types should not be empty"
    assert answers[1][1]["errorMessage"].startswith(
        "schemaVersion should be one of 2020-08-15, 2021-03-18"
    )
    assert [e["subscribed"] for e in entries if "subscribed" in e] == [[200, "OK"]]
    # subscribed through the Logs API, the Telemetry API refuses it
    [other] = [e["other"] for e in entries if "other" in e]
    assert other[0] == 400 and other[1]["errorType"] == "ValidationError"
    assert "subscribed with the Logs API already" in other[1]["errorMessage"]
