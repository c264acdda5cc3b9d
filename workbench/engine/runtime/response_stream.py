"""One streamed response (``Lambda-Runtime-Function-Response-Mode: streaming``) on its way from
the runtime to whoever reads it.

The Runtime API feeds each chunk of the runtime's chunked ``/response`` body in as it arrives
(``feed``), then says the body ended (``end``, with the trailers' error if any); the invoker
then completes it with how the invocation ended (``complete``). A reader iterates the chunks
(``async for chunk in stream``) while the handler still runs; iteration ends once it is complete.

Lambda's limits (DG configuration-response-streaming, "Bandwidth limits"): at most 200 MB per
streamed response, the first 6 MB at full speed and the rest at up to 2 MB/s (paced here, on
the reader's side, so a slow reader holds the runtime back through TCP). Read through plain
Invoke (no reader), the response is buffered whole under the ordinary 6 MB limit.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..model.events import CHUNK_EXCERPT, EventBus, ResponseChunk

STREAM_LIMIT = 200 * 1024 * 1024  # bytes per streamed response
UNCAPPED_BYTES = 6 * 1024 * 1024  # then the bandwidth cap applies
CAPPED_RATE = 2 * 1024 * 1024  # bytes per second past UNCAPPED_BYTES
KEEP_BYTES = 6 * 1024 * 1024 + 100  # what is kept of the body: Runtime API's MAX_PAYLOAD
_HIGH_WATER = 1024 * 1024  # queued bytes past which the runtime's socket stops being read
_LOW_WATER = 256 * 1024


@dataclass(slots=True)
class StreamEnd:
    """How the invocation ended, for the stream's last event (``InvokeComplete``)."""

    error_code: str | None = None
    error_details: str | None = None
    log_tail: str | None = None


class ResponseStream:
    """Chunks of one streamed response; an async iterator of ``bytes``."""

    def __init__(
        self,
        *,
        reader: bool = True,
        limit: int = STREAM_LIMIT,
        uncapped: int = UNCAPPED_BYTES,
        rate: float = CAPPED_RATE,
    ) -> None:
        self.reader = reader  # False: plain Invoke buffers it whole (nobody iterates)
        self.limit, self.uncapped, self.rate = limit, uncapped, rate
        self.content_type = "application/octet-stream"
        self.size = 0  # bytes the runtime sent
        self.chunks = 0  # chunks the runtime sent (as it framed them)
        self.kept = bytearray()  # the first KEEP_BYTES, for the record and buffered Invoke
        self.over_limit = False
        self.streamed = False  # the runtime answered in streaming mode (not buffered)
        self.ended = False  # the runtime's body is over
        self.error_type: str | None = None  # from the trailers: an error mid-stream
        self.error_body: bytes = b""
        self.end: StreamEnd | None = None  # set by ``complete``
        self.first_chunk_at: float | None = None  # perf_counter of the first chunk
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._wake = asyncio.Event()
        self._sent = 0  # bytes handed to the reader (for the bandwidth cap)
        self._capped_since: float | None = None
        self._abandoned = False
        self.pause: Callable[[], None] | None = None  # stop reading the runtime's socket
        self.resume: Callable[[], None] | None = None
        self._paused = False
        self.on_chunk: Callable[[bytes], None] | None = None  # each chunk, as it arrives
        self.started = asyncio.Event()  # a first chunk, or the end: the reader may begin

    # ----------------------------------------------------------------- the runtime's side

    def feed(self, data: bytes) -> None:
        """A chunk from the runtime (called by the Runtime API as it arrives)."""
        if not data:
            return
        self.chunks += 1
        self.size += len(data)
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()
            self.started.set()
        room = KEEP_BYTES - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        if self.on_chunk is not None:
            self.on_chunk(data)
        if self.size > self.limit:
            self.over_limit = True  # nothing more goes to the reader
            return
        if not self.reader or self._abandoned:
            return
        self._queue.append(bytes(data))
        self._queued += len(data)
        self._wake.set()
        if self._queued > _HIGH_WATER and not self._paused and self.pause is not None:
            self._paused = True
            self.pause()

    def finish_body(self, error_type: str | None, error_body: bytes) -> None:
        """The runtime's body is over; ``error_type`` from its trailers, if it failed mid-way."""
        self.ended = True
        self.error_type, self.error_body = error_type, error_body
        self._wake.set()
        self.started.set()

    # ----------------------------------------------------------------- the invoker's side

    def complete(self, end: StreamEnd) -> None:
        """How the invocation ended (after its record): the reader's iteration stops."""
        self.end = end
        self._wake.set()
        self.started.set()
        self._unpause()

    def abandon(self) -> None:
        """The reader went away: keep nothing more for it, let the runtime finish."""
        self._abandoned = True
        self._queue.clear()
        self._queued = 0
        self._unpause()

    def _unpause(self) -> None:
        if self._paused:
            self._paused = False
            if self.resume is not None:
                self.resume()

    # ----------------------------------------------------------------- the reader's side

    def __aiter__(self) -> ResponseStream:
        return self

    async def __anext__(self) -> bytes:
        while not self._queue:
            if self.end is not None:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()
        data = self._queue.popleft()
        self._queued -= len(data)
        if self._paused and self._queued < _LOW_WATER:
            self._unpause()
        await self._pace(len(data))
        return data

    async def _pace(self, size: int) -> None:
        """Past the first ``uncapped`` bytes, at most ``rate`` bytes a second."""
        self._sent += size
        over = self._sent - self.uncapped
        if over <= 0 or self.rate <= 0:
            return
        now = time.perf_counter()
        if self._capped_since is None:
            self._capped_since = now
        due = self._capped_since + over / self.rate
        if due > now:
            await asyncio.sleep(due - now)


def announce_chunks(
    stream: ResponseStream, bus: EventBus, function: str, env_id: str, request_id: str
) -> None:
    """Publish each chunk of ``stream`` as a ``ResponseChunk`` while anyone follows the bus."""
    if not bus.wants(ResponseChunk):
        return

    def chunk(data: bytes) -> None:
        if bus.wants(ResponseChunk):
            bus.publish(
                ResponseChunk(
                    function,
                    env_id,
                    request_id,
                    stream.chunks,
                    len(data),
                    bytes(data[:CHUNK_EXCERPT]),
                    time.time(),
                )
            )

    stream.on_chunk = chunk
