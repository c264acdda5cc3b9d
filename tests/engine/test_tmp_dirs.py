"""Environments' TMPDIRs live in their engine's own folder; a dead engine's folder is removed by
the next engine to start, a live one's never is. Real engines, a real ``kill -9``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.helpers import make_function
from workbench.engine import Engine, EngineSettings

TMP_USER = """
import os
def handler(event, context):
    tmpdir = os.environ["TMPDIR"]
    for i in range(50):
        with open(os.path.join(tmpdir, f"scratch-{i}"), "w") as f:
            f.write("x" * 1000)
    return {"tmpdir": tmpdir}
"""


def started(engine: Engine) -> Path:
    assert engine.scratch is not None
    engine.scratch.sweeper.join(60)
    assert not engine.scratch.sweeper.is_alive()
    return engine.scratch.path


def engine_at(root: Path, settings: EngineSettings, tmp_root: Path) -> Engine:
    engine = Engine([root], settings)
    engine.tmp_root = tmp_root
    return engine


@pytest.fixture
def tmp_root(tmp_path: Path) -> Path:
    return tmp_path / "tmp" / f"workbench-{os.getuid()}"


def serve(root: Path, state: Path, tmp: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", str(root), "--port", "0"]
        + ["--http-port", "0", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        match = re.search(r"Lambda API on (http://\S+)", line)
        if match:
            return proc, match.group(1)
    raise AssertionError("serve did not start:\n" + "".join(seen))


async def test_a_killed_engines_tmp_folder_is_removed_by_the_next_and_a_live_ones_is_not(
    function_root: Path, engine_settings: EngineSettings, tmp_root: Path, tmp_path: Path
) -> None:
    make_function(function_root, "scratch", TMP_USER)
    async with engine_at(function_root, engine_settings, tmp_root) as alive:
        live_folder = started(alive)
        live_result = await alive.invoke("scratch")  # a warm environment, its TMPDIR in use
        live_tmpdir = Path(json.loads(live_result.payload)["tmpdir"])
        assert live_tmpdir.parent == live_folder

        proc, url = serve(function_root, tmp_path / "serve-state", tmp_root.parent)
        try:
            request = urllib.request.Request(
                f"{url}/2015-03-31/functions/scratch/invocations", data=b"{}", method="POST"
            )
            with urllib.request.urlopen(request, timeout=60) as answer:
                dead_tmpdir = Path(json.loads(answer.read())["tmpdir"])
        finally:
            proc.kill()  # SIGKILL: serve cleans nothing up
            proc.wait(30)
        dead_folder = dead_tmpdir.parent
        assert dead_folder.parent == tmp_root and dead_folder.name.startswith("engine-")
        assert len(list(dead_tmpdir.iterdir())) == 50

        async with engine_at(function_root, engine_settings, tmp_root) as following:
            own = started(following)
            assert not dead_folder.exists()  # the killed serve's, with its environment's files
            assert dead_folder in following.scratch.removed  # type: ignore[union-attr]
            assert live_folder.is_dir() and len(list(live_tmpdir.iterdir())) == 50
            assert own.is_dir() and own != live_folder
        assert not own.exists()  # an engine that closes removes its own
        again = await alive.invoke("scratch")  # the live engine's environment still works
        assert json.loads(again.payload)["tmpdir"] == str(live_tmpdir)


async def test_tmpdirs_of_an_older_workbench_are_removed_unless_a_process_still_uses_them(
    function_root: Path, engine_settings: EngineSettings, tmp_root: Path
) -> None:
    tmp_root.mkdir(parents=True)
    stale = tmp_root / "hello-0123abcd-k2x_9q1z"  # <function>-<env id>-<mkdtemp>, as before
    used = tmp_root / "hello-89abcdef-a1b2c3d4"
    for folder in (stale, used):
        (folder / "deep").mkdir(parents=True)
        (folder / "deep" / "file").write_text("x")
    unrelated = tmp_root / "notes"
    unrelated.mkdir()
    holder = subprocess.Popen(["sleep", "300"], env={**os.environ, "TMPDIR": str(used)})
    try:
        psutil.Process(holder.pid).environ()  # exec'd: its environment is readable
        async with engine_at(function_root, engine_settings, tmp_root) as engine:
            started(engine)
            assert not stale.exists()
            assert used.is_dir()
            assert unrelated.is_dir()  # not ours to judge
    finally:
        holder.kill()
        holder.wait()


async def test_a_folder_being_set_up_is_left_alone_unless_abandoned_long_ago(
    function_root: Path, engine_settings: EngineSettings, tmp_root: Path
) -> None:
    tmp_root.mkdir(parents=True)
    fresh = tmp_root / ".new-1234-abcdefgh"
    old = tmp_root / ".new-5678-ijklmnop"
    fresh.mkdir()
    old.mkdir()
    long_ago = time.time() - 3600
    os.utime(old, (long_ago, long_ago))
    async with engine_at(function_root, engine_settings, tmp_root) as engine:
        started(engine)
        assert fresh.is_dir()
        assert not old.exists()
