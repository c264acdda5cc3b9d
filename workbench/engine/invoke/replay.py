"""Replay: run a stored invocation again, with its original event, qualifier and client context.

The record is found by its request id (or a unique prefix of it, as the
log shows the first 8 characters); the new invocation's record names the old one in
``replay_of``, so the log and the record screen can link them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ..config.catalog import Catalog
from ..model.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from ..model.records import EXCERPT_BYTES, InvocationRecord
from ..storage.store import RecordStore
from .invoker import Invoker
from .results import InvokeResult

MIN_PREFIX = 8  # the log's Request column shows this many characters
CANDIDATES_SHOWN = 5


class UnknownRequestId(ResourceNotFound):
    """No stored invocation has this request id (or an id starting with it)."""


class AmbiguousRequestId(InvalidParameterValue):
    """The prefix given is too short, or starts more than one stored request id."""


class EventNotKept(ResourceConflict):
    """The record keeps only a cut excerpt of its event: it cannot be replayed as it ran."""


class Replay:
    """``replay``: the log's "run that again"."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        invoker: Invoker,
        records: Callable[[], RecordStore | None],
        roots: list[Path],
        state_dir: Path,
    ) -> None:
        self.catalog = catalog
        self.invoker = invoker
        self._records = records
        self.roots = roots
        self.state_dir = state_dir

    def find_record(self, request_id: str) -> InvocationRecord:
        """The stored record with this request id, or the one a unique prefix names.

        Blocking (SQLite): ``replay`` calls it in a thread. Raises ``UnknownRequestId`` or
        ``AmbiguousRequestId``.
        """
        store = self._records()
        if store is None:
            raise RuntimeError("the engine is not running: use `async with Engine(...)`")
        wanted = request_id.strip()
        record = store.get(wanted) if wanted else None
        if record is not None:
            return record
        where = self.state_dir
        if len(wanted) < MIN_PREFIX:
            raise AmbiguousRequestId(
                f"Request id {wanted!r} is too short: give the whole request id, or at least "
                f"its first {MIN_PREFIX} characters (as the invocation log shows them)"
            )
        found = store.request_ids(wanted, limit=CANDIDATES_SHOWN + 1)
        if not found:
            raise UnknownRequestId(
                f"No invocation with request id {wanted!r} is recorded in {where}"
            )
        if len(found) > 1:
            shown = ", ".join(found[:CANDIDATES_SHOWN])
            more = " and more" if len(found) > CANDIDATES_SHOWN else ""
            raise AmbiguousRequestId(
                f"Request id prefix {wanted!r} matches several invocations: {shown}{more}; "
                "give more of it"
            )
        record = store.get(found[0])
        assert record is not None
        return record

    async def replay(self, request_id: str) -> InvokeResult:
        """Run the invocation ``request_id`` names again, to its end; the new record's
        ``replay_of`` is the old request id and its trigger ``replay``.

        The event is the original's byte for byte, the qualifier as originally invoked (an
        alias picks its version by weight again, as a new invocation would), and so is the
        client context. A replay is always synchronous (``RequestResponse``), even of an
        ``Event``, queue or HTTP invocation: it is for watching the handler run again, not for
        its retries or destinations.

        Raises a ``LambdaError``: ``UnknownRequestId``, ``AmbiguousRequestId``,
        ``EventNotKept`` (a record stored before whole events were kept), or the Invoke API's
        own refusals, e.g. ``ResourceNotFound`` for a function, version or alias that is gone.
        """
        record = await asyncio.to_thread(self.find_record, request_id)
        rid = record.request_id
        event = record.event()
        if event is None:
            raise EventNotKept(
                f"Cannot replay {rid}: its record keeps only the first {EXCERPT_BYTES} bytes of "
                "its event (it was stored before whole events were kept)"
            )
        name, qualifier = record.function, record.qualifier
        if not self.catalog.knows(name):
            raise ResourceNotFound(
                f"Cannot replay {rid}: function {name} no longer exists (no function.toml of "
                f"that name under {', '.join(str(r) for r in self.roots)})"
            )
        try:
            call = self.invoker.prepare(
                name,
                event,
                qualifier=qualifier,
                client_context=record.client_context,
                trigger="replay",
                replay_of=rid,
            )
        except ResourceNotFound as e:  # a version or alias that is gone
            target = f"{name}:{qualifier}" if qualifier else name
            raise ResourceNotFound(f"Cannot replay {rid} ({target}): {e.message}") from None
        return await self.invoker.run(call)
