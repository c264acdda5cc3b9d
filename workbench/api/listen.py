"""Serving an aiohttp app on a host and port: the Lambda API and the HTTP trigger both do.

aiohttp runs the app; the sockets are ours: the ``Acceptor`` bounds the connections and rides
out descriptor exhaustion, and each connection is a ``GuardedHandler`` with head and body
deadlines (see ``limits.py`` for the defaults).
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from .acceptor import Acceptor
from .guard import GuardedHandler
from .limits import ConnectionLimits


class Served:
    """A running server; ``close()`` stops it. ``port`` is the bound one (port 0 picks any)."""

    name = "server"  # for log lines: "Lambda API: ..."
    log = logging.getLogger("workbench.api")

    def __init__(self, host: str, limits: ConnectionLimits | None = None) -> None:
        self.host = host
        self.port = 0
        self.limits = limits or ConnectionLimits()
        self.runner: web.AppRunner | None = None
        self.acceptor: Acceptor | None = None
        self.started_at = time.time()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def listen(self, app: web.Application, port: int) -> None:
        """Bind and start serving ``app``; ``OSError`` when the port cannot be bound."""
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        server = runner.server
        assert server is not None
        acceptor = Acceptor(self.name, lambda a: GuardedHandler(server, a), self.limits, self.log)
        try:
            self.port = await acceptor.bind(self.host, port)
        except OSError:
            await runner.cleanup()
            raise
        acceptor.start()
        self.runner, self.acceptor = runner, acceptor

    async def close(self) -> None:
        if self.acceptor is not None:
            await self.acceptor.close()
        if self.runner is not None:
            await self.runner.cleanup()
