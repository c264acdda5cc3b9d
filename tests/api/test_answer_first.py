"""A synchronous Invoke is answered when the runtime answers, as Lambda does: an extension's
post-invocation work runs on after the caller has its response, and the invocation is recorded
(its Duration counting that work) when the extension asks for its next event."""

from __future__ import annotations

import asyncio
import json
import stat
import urllib.request
from pathlib import Path

from tests.helpers import add_function, until
from workbench.api import start_api
from workbench.engine import Engine, EngineSettings, InvokeEnd

# registers for INVOKE; after each one, holds its post-invocation work until told to go on
HOLDER = r"""#!/usr/bin/env python3
import json, os, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
req = urllib.request.Request(api + "/register", method="POST",
    data=json.dumps({"events": ["INVOKE"]}).encode(), headers={"Lambda-Extension-Name": "holder"})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
release = os.environ["RELEASE"]
while True:
    next_ = urllib.request.Request(api + "/event/next",
        headers={"Lambda-Extension-Identifier": ident})
    with urllib.request.urlopen(next_) as r:
        json.loads(r.read())
    while not os.path.exists(release):
        time.sleep(0.005)
    os.unlink(release)
"""

HANDLER = """
def handler(event, context):
    return {"answered": event["n"]}
"""


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[bytes, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read(), dict(response.headers)


async def test_the_caller_has_its_answer_before_the_extension_is_done(
    function_root: Path, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    settings = EngineSettings(
        keep_alive_s=5.0, reap_interval_s=0.2, state_dir=tmp_path / "state", isolation="cgroups"
    )
    async with Engine([function_root], settings) as engine:
        folder = add_function(engine, "held", HANDLER, environment={"RELEASE": str(release)})
        extension = folder / "extensions" / "holder"
        extension.parent.mkdir()
        extension.write_text(HOLDER)
        extension.chmod(extension.stat().st_mode | stat.S_IXUSR)
        engine.load_functions()
        events = engine.subscribe()
        server = await start_api(engine, "127.0.0.1", 0)
        try:
            url = f"{server.url}/2015-03-31/functions/held/invocations"
            body, headers = await asyncio.to_thread(_post, url, b'{"n": 1}')

            # the response is here while the extension still holds the invocation open
            assert json.loads(body) == {"answered": 1}
            assert "X-Amz-Function-Error" not in headers
            ended = [e for e in events.get_nowait() if isinstance(e, InvokeEnd)]
            assert ended == []
            release.touch()  # the extension's post-invocation work ends
            await until(
                lambda: any(isinstance(e, InvokeEnd) for e in events.get_nowait()),
                "the invocation to end",
            )
            [record] = engine.store.recent(function="held", limit=5)
            assert record.request_id == headers["x-amzn-RequestId"]
            assert record.status == "success"

            # LogType Tail: the log ends with REPORT, so that answer waits for the end
            tail_headers = {"X-Amz-Log-Type": "Tail"}
            waiting = asyncio.create_task(asyncio.to_thread(_post, url, b'{"n": 2}', tail_headers))
            await asyncio.sleep(0)
            release.touch()
            body, headers = await waiting
            assert json.loads(body) == {"answered": 2} and "X-Amz-Log-Result" in headers
        finally:
            await server.close()
