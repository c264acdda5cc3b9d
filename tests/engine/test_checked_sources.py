"""A cold start imports the bytes hot reload last checked, never a half-written save (#14)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from workbench.engine import Engine, EngineSettings

from ..helpers import add_function, body, make_function

V1 = """
import os

def handler(event, context):
    return {"version": 1, "file": __file__, "pinned": os.environ.get("_WORKBENCH_CHECKED_SOURCES")}
"""
V2 = V1.replace('"version": 1', '"version": 2')
RAISES = """
def handler(event, context):
    raise ValueError("from the checked copy")
"""


def torn_write(path: Path, text: str) -> None:
    """Truncate and write half of ``text``, as a non-atomic save is seen mid-way."""
    with path.open("w") as f:
        f.write(text[: len(text) // 2])


async def test_a_cold_start_mid_save_runs_the_checked_code(engine: Engine) -> None:
    folder = add_function(engine, "f", V1)
    app = folder / "app.py"
    engine.reload([app])  # the engine checks this save
    torn_write(app, V2)  # the next save is half on disk; the engine has not seen it yet
    first = await engine.invoke("f")  # cold
    assert first.record.cold and first.function_error is None, first.payload
    assert body(first)["version"] == 1
    assert body(first)["file"] == str(app)  # the live file's own name
    assert body(first)["pinned"] is None  # the workbench's variable is not the handler's
    app.write_text(V2)  # the save completes, and the engine checks it
    engine.reload([app])
    second = await engine.invoke("f")
    assert second.record.cold and body(second)["version"] == 2


async def test_a_checked_broken_save_is_what_fails(engine: Engine) -> None:
    """The snapshot is of the save the engine checked, good or bad: a broken one fails at the
    cold start as Lambda would, even if the file was repaired since without a check."""
    folder = add_function(engine, "f", V1)
    app = folder / "app.py"
    app.write_text("def handler(event, context)\n    return 1\n")
    [reloaded] = engine.reload([app])
    assert reloaded.problem is not None
    app.write_text(V2)  # repaired on disk, not yet checked
    result = await engine.invoke("f")
    assert json.loads(result.payload)["errorType"] == "Runtime.UserCodeSyntaxError"


async def test_tracebacks_name_the_live_file(engine: Engine) -> None:
    folder = add_function(engine, "f", RAISES)
    app = folder / "app.py"
    engine.reload([app])
    result = await engine.invoke("f")
    error = json.loads(result.payload)
    assert error["errorMessage"] == "from the checked copy"
    assert any(f'File "{app}", line 2, in handler' in frame for frame in error["stackTrace"])


async def test_unchecked_files_are_imported_as_they_are(engine: Engine) -> None:
    """Without a check (no save seen since start, not watching), the live file runs."""
    folder = add_function(engine, "f", V1)
    (folder / "app.py").write_text(V2)
    assert body(await engine.invoke("f"))["version"] == 2


async def test_the_checked_copies_go_with_the_engine(engine: Engine) -> None:
    folder = add_function(engine, "f", V1)
    engine.reload([folder / "app.py"])
    copies = engine.catalog.checked.folder
    assert copies is not None
    [copy] = copies.iterdir()
    assert copy.stat().st_mode & 0o222 == 0  # read-only
    await engine.close()
    assert not copies.exists()


async def test_non_atomic_saves_while_invoking_never_fail_a_cold_start(
    function_root: Path, tmp_path: Path
) -> None:
    """The fault row: a writer rewrites app.py non-atomically (truncate, write half, write the
    rest) again and again while calls run; each save retires the warm environment, so calls
    keep cold-starting. None may import a half-written file (it was 15 in 1,488 before)."""
    make_function(function_root, "f", V1)
    settings = EngineSettings(state_dir=tmp_path / "state", watch=True, reload_step_ms=20)
    async with Engine([function_root], settings) as engine:
        await engine.wait_watching()
        app = function_root / "f" / "app.py"
        stop = asyncio.Event()

        async def writer() -> int:
            saves = 0
            while not stop.is_set():
                text = V1 if saves % 2 else V2
                with app.open("w") as f:
                    f.write(text[: len(text) // 2])
                    f.flush()
                    await asyncio.sleep(0.001)
                    f.write(text[len(text) // 2 :])
                saves += 1
                await asyncio.sleep(0.005)
            return saves

        writing = asyncio.create_task(writer())
        failed, calls, cold = [], 0, 0
        # until enough cold starts happened mid-save, however long that takes: a loaded
        # machine saves less often, and a fast one makes thousands of warm calls between two
        # (2,000 calls, the bound this had, saw only 12 on a quiet day)
        deadline = time.monotonic() + 60
        while cold < 15 and time.monotonic() < deadline:
            result = await engine.invoke("f")
            calls, cold = calls + 1, cold + result.record.cold
            if result.function_error:
                failed.append(json.loads(result.payload))
        stop.set()
        saves = await writing
    assert failed == []
    assert saves > 15 and cold >= 15, (saves, cold, calls)
