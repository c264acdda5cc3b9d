"""The TUI starts serving its APIs after its first frame, and their imports (aiohttp, the API's
server: ~350 ms) run in a thread, not on the loop that draws and takes keys. In a fresh
interpreter: this one imported them long ago."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent(
    """
    import asyncio, json, sys, tempfile, threading
    from pathlib import Path

    importers = {}

    class Spy:  # which thread imports them first
        def find_spec(self, name, path=None, target=None):
            if name in ("aiohttp", "workbench.api.server", "workbench.api.http_trigger"):
                importers.setdefault(name, threading.current_thread().name)
            return None

    sys.meta_path.insert(0, Spy())
    from workbench.cli import tui
    from workbench.engine import Engine, EngineSettings

    async def main():
        state = Path(tempfile.mkdtemp())
        async with Engine([], EngineSettings(state_dir=state)) as engine:
            api = await tui._start_api(engine, host="127.0.0.1", port=0)
            http = await tui._start_http(engine, host="127.0.0.1", port=0)
            from workbench.api import aiohttp_import
            print(json.dumps({
                "loop": threading.current_thread().name, **importers,
                "api": api.url, "http": http.url, "whole": aiohttp_import.completed(),
                "client": "aiohttp.client" in sys.modules,
            }))
            await api.close()
            await http.close()

    asyncio.run(main())
    """
)


def test_the_tuis_api_imports_run_off_its_loop_and_put_the_certificates_off() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    loop = seen["loop"]
    for module in ("aiohttp", "workbench.api.server", "workbench.api.http_trigger"):
        assert seen[module] != loop, f"{module} was imported on the loop"
    assert seen["api"].startswith("http://127.0.0.1:") and seen["http"].startswith("http://")
    # aiohttp came in through api/aiohttp_import.py: its server alone, not its client
    assert seen["whole"] is False and seen["client"] is False
