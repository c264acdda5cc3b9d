"""The Telemetry API (2022-07-01): a real extension process subscribes and is sent Lambda's events.

The extension below is what AWS's telemetry examples do, in Python: register, start an HTTP
listener, subscribe to it, then loop on event/next. It writes what it was answered and every
batch it was POSTed to ``EXT_LOG`` (one JSON object a line), which the tests read.
"""

from __future__ import annotations

import json
import logging
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import tmp_of
from workbench.engine import Engine, EngineSettings, InvocationRecord
from workbench.engine.runtime.namespaces import probe

from ..helpers import add_function, until

TELEMETRY_EXTENSION = r"""#!/usr/bin/env python3
import json, os, socket, threading, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
name = os.path.basename(__file__)
out = open(os.environ["EXT_LOG"], "a", buffering=1)
lock = threading.Lock()


def note(**entry):
    with lock:
        out.write(json.dumps(entry) + "\n")


class Listener(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        note(batch=json.loads(body), path=self.path, type=self.headers["Content-Type"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Listener)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()
if os.environ.get("TEL_DEAD"):  # a destination nobody listens on
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()


def call(url, method="GET", body=None, headers=None):
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


status, headers, info = call(
    base + "/2020-01-01/extension/register", "POST",
    json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(), {"Lambda-Extension-Name": name})
ident = headers["Lambda-Extension-Identifier"]


def subscribe(request, who=ident):
    text = json.dumps(request).replace("PORT", str(port))
    headers = {"Content-Type": "application/json"}
    if who:
        headers["Lambda-Extension-Identifier"] = who
    status, _, body = call(base + "/2022-07-01/telemetry", "PUT", text.encode(), headers)
    return [status, body]


for request in json.loads(os.environ.get("TEL_BAD", "[]")):
    note(bad=subscribe(request))
if os.environ.get("TEL_BAD"):
    note(anonymous=subscribe(json.loads(os.environ["TEL_SUBSCRIBE"]), who=""))
    note(stranger=subscribe(json.loads(os.environ["TEL_SUBSCRIBE"]),
                            who="00000000-0000-4000-8000-000000000000"))
note(subscribed=subscribe(json.loads(os.environ["TEL_SUBSCRIBE"])))
print(f"[{name}] subscribed on port {port}", flush=True)
late = bool(os.environ.get("TEL_LATE"))
while True:
    _, _, event = call(base + "/2020-01-01/extension/event/next",
                       headers={"Lambda-Extension-Identifier": ident})
    note(event=event)
    if late:
        late = False
        note(late=subscribe(json.loads(os.environ["TEL_SUBSCRIBE"])))
    if event["eventType"] == "SHUTDOWN":
        break
"""

HANDLER = """
def handler(event, context):
    print("hello from the handler")
    return {"ok": True}
"""

ALL_TYPES = {
    "schemaVersion": "2022-12-13",
    "types": ["platform", "function", "extension"],
    "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
    "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:PORT/telemetry"},
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _install(root: Path, name: str, script: str = TELEMETRY_EXTENSION, layer: str = "tel") -> None:
    """The extension, in a layer ``layers/<layer>`` (Lambda's /opt/extensions/<name>)."""
    path = root / "layers" / layer / "extensions" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _entries(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _received(log: Path) -> list[dict[str, Any]]:
    """Every event POSTed to the extension, in the order it got them."""
    return [event for entry in _entries(log) if "batch" in entry for event in entry["batch"]]


def report_metrics(record: InvocationRecord) -> dict[str, Any]:
    """platform.report's metrics for a 128 MB cold invocation: REPORT's figures."""
    return {
        "durationMs": round(record.duration_ms, 2),
        "billedDurationMs": record.billed_ms,
        "memorySizeMB": 128,
        "maxMemoryUsedMB": record.max_memory_mb,
        "initDurationMs": round(record.init_duration_ms or 0, 2),
    }


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def _add(engine: Engine, function_root: Path, name: str, log: Path, code: str = HANDLER,
         subscribe: dict[str, Any] = ALL_TYPES, extension: tuple[str, str, str] | None = None,
         **env: str) -> None:  # fmt: skip
    """A function beside the extension (``extension``: its file name, script and layer)."""
    ext_name, script, layer = extension or ("tel-ext", TELEMETRY_EXTENSION, "tel")
    _install(function_root, ext_name, script, layer)
    environment = {"EXT_LOG": str(log), "TEL_SUBSCRIBE": json.dumps(subscribe), **env}
    add_function(engine, name, code, layers=[f"../layers/{layer}"], environment=environment)


async def test_an_extension_receives_inits_and_an_invocations_events_in_lambdas_shapes(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    _add(engine, function_root, "tel", log)
    result = await engine.invoke("tel", b"{}")
    record = result.record
    rid = record.request_id
    assert json.loads(result.payload) == {"ok": True}
    assert [e["subscribed"] for e in _entries(log) if "subscribed" in e] == [[200, "OK"]]
    await until(lambda: _of(_received(log), "platform.report"), "platform.report delivered")
    events = _received(log)
    assert all(ISO.match(e["time"]) for e in events)
    batches = [e for e in _entries(log) if "batch" in e]
    assert all(b["path"] == "/telemetry" and b["type"] == "application/json" for b in batches)
    platform = [e["type"] for e in events if e["type"].startswith("platform.")]
    # INIT's start (handed over from before it subscribed), its subscription, then the
    # extension's first next (Ready) and the runtime's INIT in either order, INIT's end once both
    # are done, then the invocation's three
    assert platform[:2] == ["platform.initStart", "platform.telemetrySubscription"]
    assert sorted(platform[2:4]) == ["platform.extension", "platform.initRuntimeDone"]
    assert platform[4:] == [
        "platform.initReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ]
    by_type = {e["type"]: e["record"] for e in events}
    assert by_type["platform.extension"] == {
        "name": "tel-ext",
        "state": "Ready",
        "events": ["INVOKE", "SHUTDOWN"],
    }
    assert by_type["platform.telemetrySubscription"] == {
        "name": "tel-ext",
        "state": "Subscribed",
        "types": ["platform", "function", "extension"],
    }
    init_start = by_type["platform.initStart"]
    assert init_start["initializationType"] == "on-demand" and init_start["phase"] == "init"
    assert init_start["runtimeVersion"].startswith("python:3.")
    assert init_start["runtimeVersionArn"].startswith("arn:aws:lambda:")
    assert by_type["platform.initRuntimeDone"] == {
        "initializationType": "on-demand",
        "phase": "init",
        "status": "success",
    }
    init_report = by_type["platform.initReport"]
    assert init_report["status"] == "success" and init_report["phase"] == "init"
    assert init_report["metrics"]["durationMs"] == pytest.approx(record.init_duration_ms, abs=0.01)
    start = by_type["platform.start"]
    assert start["requestId"] == rid and start["version"] == "$LATEST"
    assert start["tracing"]["type"] == "X-Amzn-Trace-Id"
    assert start["tracing"]["value"].startswith("Root=1-")
    done = by_type["platform.runtimeDone"]
    assert done["requestId"] == rid and done["status"] == "success"
    assert done["metrics"]["producedBytes"] == len(result.payload)
    assert 0 < done["metrics"]["durationMs"] <= record.duration_ms
    assert [s["name"] for s in done["spans"]] == ["responseLatency", "responseDuration"]
    assert all(ISO.match(s["start"]) and s["durationMs"] >= 0 for s in done["spans"])
    assert done["tracing"] == start["tracing"]
    report = by_type["platform.report"]
    assert report["requestId"] == rid and report["status"] == "success"
    assert report["metrics"] == report_metrics(record)
    # the function's and the extension's own lines, as their own types, as text
    assert [e["record"] for e in _of(events, "function")] == ["hello from the handler"]
    [ext_line] = [e["record"] for e in _of(events, "extension")]
    assert re.fullmatch(r"\[tel-ext\] subscribed on port \d+", ext_line)
    # the function's line comes between platform.start and platform.runtimeDone
    kinds = [e["type"] for e in events]
    assert kinds.index("platform.start") < kinds.index("function")
    assert kinds.index("function") < kinds.index("platform.runtimeDone")


async def test_json_log_format_sends_log_lines_as_objects(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    code = """
import logging
def handler(event, context):
    logging.getLogger().warning("careful now")
    return 1
"""
    only_function = {**ALL_TYPES, "types": ["function"]}
    _install(function_root, "tel-ext")
    environment = {"EXT_LOG": str(log), "TEL_SUBSCRIBE": json.dumps(only_function)}
    add_function(
        engine,
        "teljson",
        code,
        layers=["../layers/tel"],
        environment=environment,
        logging_format="JSON",
    )
    result = await engine.invoke("teljson", b"{}")
    [line] = await until(lambda: _of(_received(log), "function"), "the function's line")
    assert line["record"]["message"] == "careful now"
    assert line["record"]["level"] == "WARNING"
    assert line["record"]["requestId"] == result.record.request_id
    assert {e["type"] for e in _received(log)} == {"function"}  # what it subscribed to only


async def test_bad_subscriptions_are_refused_as_lambda_does(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    uri = "http://sandbox.localdomain:PORT/"
    bad = [
        # the documented example [DG:telemetry-api-reference]
        {
            "schemaVersion": "2022-07-01",
            "types": [],
            "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain/"},
        },
        {**ALL_TYPES, "buffering": {"maxItems": 999}},
        {**ALL_TYPES, "buffering": {"timeoutMs": 30001}},
        {**ALL_TYPES, "types": ["logs"]},
        {**ALL_TYPES, "destination": {"protocol": "HTTP", "URI": "http://example.com:8080/"}},
        {**ALL_TYPES, "destination": {"protocol": "TCP", "URI": uri}},
        {**ALL_TYPES, "schemaVersion": "2020-08-15"},
    ]
    _add(engine, function_root, "telbad", log, TEL_BAD=json.dumps(bad), TEL_LATE="1")
    result = await engine.invoke("telbad", b"{}")
    assert json.loads(result.payload) == {"ok": True}
    entries = await until(
        lambda: [e for e in _entries(log) if "late" in e] and _entries(log), "the late subscribe"
    )
    answers = [e["bad"] for e in entries if "bad" in e]
    assert [status for status, _ in answers] == [400] * len(bad)
    assert all(body["errorType"] == "ValidationError" for _, body in answers)
    messages = [body["errorMessage"] for _, body in answers]
    assert messages[0] == "URI port is not provided; types should not be empty"
    assert messages[1] == "buffering.maxItems should be between 1000 and 10000, not 999"
    assert messages[2] == "buffering.timeoutMs should be between 25 and 30000, not 30001"
    assert "types should only contain platform, function, extension" in messages[3]
    assert "URI host should be the sandbox's own (sandbox.localdomain)" in messages[4]
    assert "TCP is not supported by the workbench; use HTTP" in messages[5]
    assert messages[6].startswith("schemaVersion should be one of 2022-07-01, 2022-12-13")
    [anonymous] = [e["anonymous"] for e in entries if "anonymous" in e]
    assert anonymous == [
        403,
        {
            "errorMessage": "Missing Lambda-Extension-Identifier header",
            "errorType": "Extension.MissingExtensionIdentifier",
        },
    ]
    [stranger] = [e["stranger"] for e in entries if "stranger" in e]
    assert stranger[0] == 403
    assert stranger[1]["errorType"] == "Extension.UnknownExtensionIdentifier"
    assert [e["subscribed"] for e in entries if "subscribed" in e] == [[200, "OK"]]
    # after INIT, no more subscriptions (the emulator's words)
    [late] = [e["late"] for e in entries if "late" in e]
    assert late == [
        403,
        {
            "errorMessage": "Logs API subscription is closed already",
            "errorType": "Logs.SubscriptionClosed",
        },
    ]


async def test_batches_hold_max_items_and_the_rest_waits_for_its_timeout_or_shutdown(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    code = """
def handler(event, context):
    for i in range(2500):
        print(f"line {i}")
    return 1
"""
    slow = {**ALL_TYPES, "types": ["function"], "buffering": {"timeoutMs": 30000, "maxItems": 1000}}
    _add(engine, function_root, "telbatch", log, code, subscribe=slow)
    await engine.invoke("telbatch", b"{}")

    def batches() -> list[int]:
        return [len(e["batch"]) for e in _entries(log) if "batch" in e]

    # two full batches at once; the last 500 lines wait for the 30 s timeout...
    assert await until(lambda: batches() if sum(batches()) >= 2000 else [], "2,000 lines") == [
        1000,
        1000,
    ]
    # ... or for SHUTDOWN, which sends them before the extension is told to stop
    await engine.close()
    assert batches() == [1000, 1000, 500]
    lines = [e["record"] for e in _received(log)]
    assert lines == [f"line {i}" for i in range(2500)]
    shutdown = [e["event"] for e in _entries(log) if "event" in e][-1]
    assert shutdown["eventType"] == "SHUTDOWN"


async def test_a_dead_destination_drops_with_a_warning_and_invokes_go_on(
    function_root: Path, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="workbench.telemetry")
    log = tmp_path / "ext.log"
    _add(engine, function_root, "teldead", log, TEL_DEAD="1")
    results = [await engine.invoke("teldead", b"{}") for _ in range(3)]
    assert [json.loads(r.payload) for r in results] == [{"ok": True}] * 3
    assert [r.record.cold for r in results] == [True, False, False]  # the same environment
    assert [e["subscribed"] for e in _entries(log) if "subscribed" in e] == [[200, "OK"]]
    await until(
        lambda: any("telemetry for extension tel-ext dropped" in r.message for r in caplog.records),
        "the warning",
    )
    [warning] = {r.message for r in caplog.records if "dropped" in r.message}  # once, not a flood
    assert "could not be reached" in warning
    again = await engine.invoke("teldead", b"{}")
    assert json.loads(again.payload) == {"ok": True} and not again.record.cold


async def test_telemetry_under_the_default_isolation(function_root: Path, tmp_path: Path) -> None:
    # ``auto``: a function with extensions runs them in its namespaces where the machine gives
    # them (extension_sandbox.py), with the environment's cgroup where there is one; telemetry
    # reaches the extension all the same. It logs in its /tmp (the environment's TMPDIR here)
    settings = EngineSettings(
        keep_alive_s=60.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation="auto"
    )
    async with Engine([function_root], settings) as engine:
        inside = not probe()
        _add(engine, function_root, "telauto", Path("/tmp/ext.log") if inside else tmp_path / "l")
        result = await engine.invoke("telauto", b"{}")
        rid = result.record.request_id
        [env] = engine.environments("telauto")
        assert env.namespaced == inside
        log = tmp_of(env) / "ext.log" if inside else tmp_path / "l"
        [report] = await until(lambda: _of(_received(log), "platform.report"), "the report")
        assert report["record"]["requestId"] == rid
        assert [e["record"] for e in _of(_received(log), "function")] == ["hello from the handler"]


async def test_a_timeout_is_reported_with_its_status(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    code = "import time\ndef handler(event, context):\n    time.sleep(30)\n"
    _install(function_root, "tel-ext")
    environment = {"EXT_LOG": str(log), "TEL_SUBSCRIBE": json.dumps(ALL_TYPES)}
    add_function(engine, "telslow", code, layers=["../layers/tel"], environment=environment,
                 timeout=1)  # fmt: skip
    result = await engine.invoke("telslow", b"{}")
    assert result.record.status == "timeout"
    [report] = await until(lambda: _of(_received(log), "platform.report"), "the report")
    [done] = _of(_received(log), "platform.runtimeDone")
    assert done["record"]["status"] == report["record"]["status"] == "timeout"
    assert report["record"]["errorType"] == "Sandbox.Timedout"


async def test_a_failed_init_is_reported_with_its_error_type(
    function_root: Path, engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "ext.log"
    _add(engine, function_root, "telbroken", log, "import no_such_module\n")
    result = await engine.invoke("telbroken", b"{}")
    assert result.record.error_type == "Runtime.ImportModuleError"

    # INIT (Phase: init) failed, the invocation retried it (Phase: invoke) with new extensions
    # (they share the log file): each told its own INIT's events with its phase
    def init_reports() -> list[dict[str, Any]] | None:
        reports = _of(_received(log), "platform.initReport")
        return reports if len(reports) == 2 else None

    reports = await until(init_reports, "both initReports")
    starts = _of(_received(log), "platform.initStart")
    dones = _of(_received(log), "platform.initRuntimeDone")
    for events in (starts, dones, reports):
        assert [e["record"]["phase"] for e in events] == ["init", "invoke"], events
    for event in dones + reports:
        assert event["record"]["status"] == "error"
        assert event["record"]["errorType"] == "Runtime.ImportModuleError"
    # the module's own error lines reached it as function lines
    assert any("no_such_module" in str(e["record"]) for e in _of(_received(log), "function"))
