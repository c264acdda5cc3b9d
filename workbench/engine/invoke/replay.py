"""Replay: run a stored invocation again, with its original event, qualifier and client context.

A mixin of ``Engine``. The record is found by its request id (or a unique prefix of it, as the
log shows the first 8 characters); the new invocation's record names the old one in
``replay_of``, so the log and the record screen can link them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..model.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from ..model.ids import new_uuid
from ..model.records import EXCERPT_BYTES, InvocationRecord

if TYPE_CHECKING:
    from ..engine import Engine
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

    def find_record(self: Engine, request_id: str) -> InvocationRecord:
        """The stored record with this request id, or the one a unique prefix names.

        Blocking (SQLite): ``replay`` calls it in a thread. Raises ``UnknownRequestId`` or
        ``AmbiguousRequestId``.
        """
        if self.store is None:
            raise RuntimeError("the engine is not running: use `async with Engine(...)`")
        wanted = request_id.strip()
        record = self.store.get(wanted) if wanted else None
        if record is not None:
            return record
        where = self.state_dir
        if len(wanted) < MIN_PREFIX:
            raise AmbiguousRequestId(
                f"Request id {wanted!r} is too short: give the whole request id, or at least "
                f"its first {MIN_PREFIX} characters (as the invocation log shows them)"
            )
        found = self.store.request_ids(wanted, limit=CANDIDATES_SHOWN + 1)
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
        record = self.store.get(found[0])
        assert record is not None
        return record

    async def replay(self: Engine, request_id: str) -> InvokeResult:
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
        from ..engine import _Call  # the engine imports this module

        record = await asyncio.to_thread(self.find_record, request_id)
        rid = record.request_id
        event = record.event()
        if event is None:
            raise EventNotKept(
                f"Cannot replay {rid}: its record keeps only the first {EXCERPT_BYTES} bytes of "
                "its event (it was stored before whole events were kept)"
            )
        name, qualifier = record.function, record.qualifier
        if name not in self.functions and name not in self.problems:
            raise ResourceNotFound(
                f"Cannot replay {rid}: function {name} no longer exists (no function.toml of "
                f"that name under {', '.join(str(r) for r in self.roots)})"
            )
        call = _Call(qualifier, record.client_context, "replay", "RequestResponse", new_uuid())
        call.replay_of = rid
        try:
            self._prepare(name, event, call)
        except ResourceNotFound as e:  # a version or alias that is gone
            target = f"{name}:{qualifier}" if qualifier else name
            raise ResourceNotFound(f"Cannot replay {rid} ({target}): {e.message}") from None
        return await self._invoke(call)
