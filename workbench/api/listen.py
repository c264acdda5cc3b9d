"""Serving an aiohttp app on a host and port: the Lambda API and the HTTP trigger both do."""

from __future__ import annotations

import time

from aiohttp import web


class Served:
    """A running server; ``close()`` stops it. ``port`` is the bound one (port 0 picks any)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self.runner: web.AppRunner | None = None
        self.started_at = time.time()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def listen(self, app: web.Application, port: int) -> None:
        """Bind and start serving ``app``; ``OSError`` when the port cannot be bound."""
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        bound = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        self.runner = runner
        self.port = bound.sockets[0].getsockname()[1] if bound and bound.sockets else port

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
