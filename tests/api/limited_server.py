"""A Lambda API server in a process of its own, with a low file-descriptor limit.

``python -m tests.api.limited_server ROOT STATE_DIR NOFILE`` lowers ``RLIMIT_NOFILE`` (soft and
hard) to NOFILE, starts an engine and the API on a free loopback port, prints ``port N`` on
stdout, logs to stderr (one record per line: level, logger, message, and any traceback after it)
and stops when stdin closes. The tests drive it over real sockets to run it out of descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
from pathlib import Path

from workbench.api import start_api
from workbench.api.limits import ConnectionLimits
from workbench.engine import Engine, EngineSettings


async def main(root: Path, state_dir: Path) -> None:
    settings = EngineSettings(state_dir=state_dir, keep_alive_s=30.0)
    async with Engine([root], settings) as engine:
        server = await start_api(engine, "127.0.0.1", 0, ConnectionLimits(idle_timeout=120.0))
        print(f"port {server.port}", flush=True)
        loop = asyncio.get_running_loop()
        stdin_closed: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not stdin_closed.done():
                stdin_closed.set_result(None)

        loop.add_reader(sys.stdin.fileno(), readable)
        await stdin_closed
        loop.remove_reader(sys.stdin.fileno())
        await server.close()


if __name__ == "__main__":
    root, state_dir, nofile = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    # the hard limit too: the engine raises its soft limit to the hard one at start, so only a
    # hard limit this low runs it out of descriptors (as on a machine whose hard limit is low)
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    asyncio.run(main(root, state_dir))
