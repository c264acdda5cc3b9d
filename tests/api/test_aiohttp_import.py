"""aiohttp's server imported without the package's ``__init__`` and its client
(``api/aiohttp_import.py``): the API serves; the first name asked of the package that the server
did not bring makes the package whole, its client verifying with the system's certificates; and
where that cannot be (aiohttp imported already, or a server that needs its ``__init__``) it is
imported whole.

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
    import asyncio, importlib.metadata, json, re, ssl, sys, tempfile, urllib.request
    from pathlib import Path

    BEFORE = sys.argv[1]
    if BEFORE == "imported":
        import aiohttp  # (as a test or a plugin may have)
    import workbench.api as api
    from workbench.api import aiohttp_import
    if BEFORE == "needs-init":  # as if this aiohttp's server needed its package's __init__
        aiohttp_import._VERSION = re.compile(b"(?!)")

    def loaded():
        return {name: name in sys.modules for name in ("aiohttp.web", "aiohttp.client",
                                                      "aiohttp.connector")}

    api.start_api  # the first use imports aiohttp's server (and the API's)
    from workbench.engine import Engine, EngineSettings
    out = {"server": loaded(), "completed": aiohttp_import.completed()}

    async def main():
        state = Path(tempfile.mkdtemp())
        async with Engine([], EngineSettings(state_dir=state)) as engine:
            served = await api.start_api(engine, port=0)
            try:
                url = served.url + "/2015-03-31/functions"
                answer = await asyncio.to_thread(urllib.request.urlopen, url, timeout=30)
                out["served"] = json.loads(answer.read())
                import aiohttp  # the first name the server did not bring: the package whole
                async with aiohttp.ClientSession() as session:
                    async with session.get(url) as response:
                        out["client"] = await response.json()
            finally:
                await served.close()

    asyncio.run(main())
    import aiohttp
    from aiohttp import connector
    out["after"] = loaded()
    out["whole"] = aiohttp_import.completed()
    out["missing"] = [name for name in aiohttp.__all__ if not hasattr(aiohttp, name)]
    out["version"] = [aiohttp.__version__, importlib.metadata.version("aiohttp")]
    out["cas"] = connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"]
    out["expected"] = ssl.create_default_context().cert_store_stats()["x509_ca"]
    try:
        aiohttp.no_such_name
    except AttributeError as e:
        out["unknown"] = str(e)
    print(json.dumps(out))
    """
)


def probe(before: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, before], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return out


@pytest.mark.parametrize("before", ["nothing", "imported", "needs-init"])
def test_the_server_alone_serves_and_the_package_is_whole_when_asked(before: str) -> None:
    out = probe(before)
    alone = before == "nothing"
    # the server only: no client, no connector and its certificates' loads
    assert out["server"] == {
        "aiohttp.web": True,
        "aiohttp.client": not alone,
        "aiohttp.connector": not alone,
    }
    assert out["completed"] is not alone
    served = out["served"]
    assert isinstance(served, dict) and isinstance(served["Functions"], list)
    # asked for its client, the package is what `import aiohttp` makes, and it works
    assert out["client"] == served
    assert out["after"] == dict.fromkeys(
        ("aiohttp.web", "aiohttp.client", "aiohttp.connector"), True
    )
    assert out["whole"] is True and out["missing"] == []
    version = out["version"]
    assert isinstance(version, list) and version[0] == version[1]
    assert out["cas"] == out["expected"]  # it verifies with the system's certificates
    assert "no_such_name" in str(out["unknown"])
