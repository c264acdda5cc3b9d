"""What the event sources need of the engine: a narrow protocol, so they depend on it, not on
``Engine`` (which implements it). The async dispatcher also runs attempts through the
``Invoker`` and asks ``Concurrency`` for room, both below it in the layers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from ..config.catalog import Catalog
from ..config.function import FunctionConfig
from ..config.settings import EngineSettings
from ..invoke.concurrency import Concurrency
from ..invoke.invoker import Invoker
from ..invoke.results import InvokeResult
from ..model.events import EventBus
from ..model.records import InvocationType
from ..storage.async_queue import AsyncQueue
from ..storage.queues import QueueStore
from ..storage.store import RecordStore
from ..storage.streams import StreamStore


class SourceHost(Protocol):
    roots: list[Path]
    state_dir: Path
    settings: EngineSettings
    bus: EventBus
    invoker: Invoker
    concurrency: Concurrency
    catalog: Catalog

    @property
    def functions(self) -> Mapping[str, FunctionConfig]: ...

    @property
    def store(self) -> RecordStore | None: ...

    @property
    def queues(self) -> QueueStore | None: ...

    @property
    def streams(self) -> StreamStore | None: ...

    @property
    def async_queue(self) -> AsyncQueue | None: ...

    def arn(self, name: str, qualifier: str | None = None) -> str: ...

    def invoke_event(
        self,
        function: str,
        payload: bytes | str | None = None,
        *,
        qualifier: str | None = None,
        trigger: str | None = None,
    ) -> str: ...

    async def invoke(
        self,
        function: str,
        payload: bytes | str | None = None,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        trigger: str | None = None,
        invocation_type: InvocationType = "RequestResponse",
        request_id: str | None = None,
    ) -> InvokeResult: ...
