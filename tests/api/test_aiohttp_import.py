"""aiohttp imported with its client's CA certificates put off (``api/aiohttp_import.py``), and
loaded into the same contexts once the API serves: its client verifies as it always did.

Each case runs in a fresh interpreter: this one imported aiohttp long ago."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent(
    """
    import asyncio, json, ssl, sys, tempfile
    from pathlib import Path

    import workbench.api as api
    from workbench.api import aiohttp_import

    def cas(contexts):
        return [c.cert_store_stats()["x509_ca"] for c in contexts]

    api.start_api  # the first use imports aiohttp (and the server)
    from workbench.api import server
    from workbench.engine import Engine, EngineSettings

    contexts = [context for context, _, _ in aiohttp_import._deferred]
    out = {"deferred": aiohttp_import.deferred(), "before": cas(contexts)}
    out["expected"] = ssl.create_default_context().cert_store_stats()["x509_ca"]
    server.CERTIFICATES_AFTER_S = 0.0

    async def main():
        state = Path(tempfile.mkdtemp())
        async with Engine([], EngineSettings(state_dir=state)) as engine:
            served = await api.start_api(engine, port=0)
            try:
                for _ in range(500):
                    if not aiohttp_import.deferred():
                        break
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)  # (the last one's load, popped, may still run)
            finally:
                await served.close()

    asyncio.run(main())
    out["after"] = cas(contexts)
    out["left"] = aiohttp_import.deferred()
    print(json.dumps(out))
    """
)


def test_aiohttp_is_imported_without_its_certificates_and_they_are_loaded_once_serving() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    if not out["expected"]:
        pytest.skip("this machine's default CA store is empty: nothing to put off or load")
    # aiohttp's two default contexts (verified and not) were made without their certificates
    assert out["deferred"] == 2 and out["before"] == [0, 0]
    # ... and have them once the API serves: the same as a default context loads
    assert out["left"] == 0 and out["after"] == [out["expected"]] * 2
