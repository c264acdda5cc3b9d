"""Lambda's INIT retry: an on-demand INIT that failed (Phase: init) runs again inside the
invocation that needed it (Phase: invoke), in a new runtime, bounded by the function's timeout;
REPORT's Duration covers it (engine/invoke/init_retry.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime import environment

from ..helpers import add_function, body, init_retried, make_function, report, until

MS = r"\d+\.\d{2} ms"

# Fails its first import only: the first INIT leaves a mark in the function's folder.
FLAKY = """
import os, pathlib
mark = pathlib.Path(os.environ["LAMBDA_TASK_ROOT"]) / "tried"
if not mark.exists():
    mark.write_text("1")
    raise RuntimeError("the database is not up yet")
print("imported on the retry")

def handler(event, context):
    print("handled")
    return {"ok": True}
"""


async def test_a_retry_that_succeeds_answers_and_the_environment_stays_warm(
    engine: Engine,
) -> None:
    add_function(engine, "flaky", FLAKY)
    result = await engine.invoke("flaky", b"{}")

    assert result.function_error is None and body(result) == {"ok": True}
    r = result.record
    assert r.status == "success" and r.cold and r.init_duration_ms is None
    lines = r.log_lines
    assert lines[0].startswith("INIT_START ")
    [init_report] = [x for x in lines if x.startswith("INIT_REPORT ")]  # none for the retry
    assert re.fullmatch(
        rf"INIT_REPORT Init Duration: {MS}\tPhase: init\tStatus: error\tError Type: RuntimeError",
        init_report,
    )
    start = lines.index(f"START RequestId: {r.request_id} Version: $LATEST")
    retried = lines.index("imported on the retry")
    assert lines.index(init_report) < retried < start < lines.index("handled")
    assert any("the database is not up yet" in x for x in lines[: lines.index(init_report)])
    # Duration covers the retried INIT; no Init Duration, as Lambda's REPORT after a retry
    assert r.init_retry_ms is not None and 0 < r.init_retry_ms < r.duration_ms
    assert "Init Duration" not in report(result)
    assert f"\tDuration: {r.duration_ms:.2f} ms\t" in report(result)

    # the retry's environment serves the next call warm
    again = await engine.invoke("flaky", b"{}")
    assert body(again) == {"ok": True}
    assert not again.record.cold and again.record.env_id == r.env_id
    assert again.record.init_retry_ms is None
    stored = await until(lambda: engine.store.get(r.request_id), "the stored record")
    assert stored.init_retry_ms == pytest.approx(r.init_retry_ms)


SLOW_IMPORT = """
import time
time.sleep({sleep})
print("imported")

def handler(event, context):
    return "done"
"""


async def test_an_init_timeout_is_retried_within_the_function_timeout(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "INIT_TIMEOUT_S", 0.3)  # Lambda's 10 s, made short
    add_function(engine, "slow", SLOW_IMPORT.format(sleep=0.6), timeout=30)
    result = await engine.invoke("slow", b"{}")

    assert body(result) == "done"
    r = result.record
    lines = r.log_lines
    [init_report] = [x for x in lines if x.startswith("INIT_REPORT ")]
    assert re.fullmatch(
        rf"INIT_REPORT Init Duration: {MS}\tPhase: init\tStatus: timeout", init_report
    )
    # the timed-out INIT printed nothing; the retry finished its import inside the invocation
    assert (
        lines.index(init_report)
        < lines.index("imported")
        < lines.index(f"START RequestId: {r.request_id} Version: $LATEST")
    )
    assert r.init_retry_ms is not None and r.init_retry_ms >= 600
    assert r.duration_ms >= r.init_retry_ms and "Init Duration" not in report(result)


async def test_a_retry_is_cut_by_the_function_timeout(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "INIT_TIMEOUT_S", 0.2)
    add_function(engine, "stuck", SLOW_IMPORT.format(sleep=30), timeout=1)
    result = await engine.invoke("stuck", b"{}")

    r = result.record
    assert r.status == "timeout" and r.error_type == "Sandbox.Timedout"
    assert body(result) == {
        "errorMessage": f"RequestId: {r.request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    # Phase: init timed out; the retry ran into the function's timeout, as Lambda logs it
    init_retried(result, "", first_status="timeout")
    assert any(x.endswith(f"{r.request_id} Task timed out after 1.00 seconds") for x in r.log_lines)
    assert report(result).endswith("\tStatus: timeout\t")
    assert r.duration_ms >= 1000
    assert engine.environments("stuck") == []


async def test_a_node_init_failure_is_retried_too(engine: Engine) -> None:
    folder = make_function(
        engine.roots[0], "nodebroken", "", runtime="nodejs20.x", handler="index.handler"
    )
    (folder / "app.py").unlink()
    (folder / "index.js").write_text(
        "require('not-installed');\nexports.handler = async () => 1;\n"
    )
    engine.load_functions()
    result = await engine.invoke("nodebroken", b"{}")
    assert body(result)["errorType"] == "Runtime.ImportModuleError"
    for output in init_retried(result, "Runtime.ImportModuleError"):
        assert any("not-installed" in line for line in output), output


async def test_the_retry_in_the_functions_namespaces(function_root: Path, tmp_path: Path) -> None:
    """Under ``auto`` the retried runtime enters its own namespaces as the first did."""
    make_function(function_root, "nsbroken", "import not_there\n")
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation="auto"
    )
    async with Engine([function_root], settings) as engine:
        result = await engine.invoke("nsbroken", b"{}")
    assert body(result)["errorType"] == "Runtime.ImportModuleError"
    for output in init_retried(result, "Runtime.ImportModuleError"):
        assert any("No module named 'not_there'" in line for line in output), output
