"""A real engine and Lambda API server on a free loopback port, in a thread of its own.

Tests talk to it as users do, with boto3 (synchronous) or raw HTTP; ``call`` runs a coroutine
on the server's loop when a test needs the engine itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from workbench.api import LambdaAPIServer, start_api
from workbench.api.http_trigger import HttpTriggerServer, start_http
from workbench.api.limits import ConnectionLimits
from workbench.engine import Engine, EngineSettings

T = TypeVar("T")


class LiveServer:
    def __init__(
        self,
        root: Path,
        state_dir: Path,
        host: str = "127.0.0.1",
        limits: ConnectionLimits | None = None,
        http: bool = False,
        **settings: Any,
    ):
        """``limits`` for both servers; ``http``: serve the http triggers too (``http_port``)."""
        self.root = root
        self.host = host
        self.limits = limits
        self.serve_http = http
        self.http: HttpTriggerServer | None = None
        settings.setdefault("background", True)  # as serve: Event invocations run
        self.settings = EngineSettings(state_dir=state_dir, keep_alive_s=30.0, **settings)
        self.engine: Engine | None = None
        self.server: LambdaAPIServer | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-api", daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the API server did not start within 30 s")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with Engine([self.root], self.settings) as engine:
                self.engine = engine
                self.server = await start_api(engine, self.host, 0, self.limits)
                if self.serve_http:
                    self.http = await start_http(engine, self.host, 0, self.limits)
                self._ready.set()
                await self._stop.wait()
                await self.server.close()
                if self.http is not None:
                    await self.http.close()
        except BaseException as e:  # noqa: BLE001 - reported to the test thread
            self._error = e
            self._ready.set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    @property
    def http_port(self) -> int:
        assert self.http is not None
        return self.http.port

    def call(self, work: Callable[[Engine], Awaitable[T]]) -> T:
        """Run ``work(engine)`` on the server's loop and wait for it."""
        assert self.engine is not None
        return asyncio.run_coroutine_threadsafe(work(self.engine), self._loop).result(60)

    def sync(self, work: Callable[[Engine], T]) -> T:
        async def run(engine: Engine) -> T:
            return work(engine)

        return self.call(run)

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 0}, **config),
        )

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._loop.close()
