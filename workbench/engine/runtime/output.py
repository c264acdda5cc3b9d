"""A runtime's output (stdout and stderr, one pipe): bytes in, Lambda's log events out.

A handler can print hundreds of megabytes, with or without a line break. Nothing here holds a
flood whole or does more than linear work on it: the bytes are cut into log events as they arrive
(a line, or a piece of a long line), an invocation's record keeps a bounded log (its first and last
part, and a line saying what was left out between them), and the live stream gets a bounded rate
of lines, saying how many it skipped.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# CloudWatch Logs takes log events of at most 256 KB: PutLogEvents documented "Each log event can
# be no larger than 256 KB" and refused a longer one with "Log event too large: N bytes exceeds
# limit of 262144". Lambda cuts a longer line of a function's output into several events rather
# than lose it (a 2021 measurement, DataDog/datadog-serverless-functions#462, saw pieces of
# 262,119 characters; New Relic's Lambda layer, newrelic-lambda-layers#350 in May 2025, still
# splits its own lines at 255 KB for Lambda's 256 KB). UNVERIFIED: the exact piece size (262,144
# here; the measurement above suggests about 25 bytes less) and whether Lambda has followed
# CloudWatch's April 2025 raise of PutLogEvents' limit to 1 MB (its documentation now says 1 MB;
# the reports above say Lambda's function logs still split at 256 KB).
MAX_EVENT_BYTES = 256 * 1024

# How much of its function's output an invocation record keeps by default (EngineSettings.log_limit;
# `workbench serve --log-limit` and the TUI's). Far more than a screen; far less than a flood.
DEFAULT_LOG_LIMIT = 1024 * 1024
# The smallest limit: the kept tail must hold X-Amz-Log-Result's last 4 KB of the log.
MIN_LOG_LIMIT = 8 * 1024

# The live stream (LogLine events) of one environment: at most this many lines and bytes a second,
# after a first burst; a flood shows its start, a line saying how many lines were skipped, and
# goes on (subscribers queue what they have not read yet: this bounds what they can be sent).
LIVE_LINES_PER_S = 1000.0
LIVE_BYTES_PER_S = 1024.0 * 1024
LIVE_BURST_S = 2.0

# The workbench's own lines in a log (not the function's, not Lambda's) start with this.
NOTE_PREFIX = "[workbench] "


def size_text(n: int) -> str:
    """``1 MiB``, ``512 KiB``, ``1,234 bytes``: a limit as a person reads it."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size:,} {unit}"
    return f"{n:,} bytes"


def gap_line(lines: int, nbytes: int, limit: int, cut: bool) -> str:
    """The line a capped record has where output was left out."""
    what = f"{lines:,} line{'' if lines == 1 else 's'} ({nbytes:,} bytes) of output left out here"
    if cut:
        what += ", and the start of the next line"
    return (
        f"{NOTE_PREFIX}{what}: a record keeps {size_text(limit)} of log, its first and last "
        "part (the log limit)"
    )


def _char_start(buf: bytes | bytearray, at: int) -> int:
    """``at``, moved back to the start of the UTF-8 character it falls in (at most 3 bytes), so a
    cut leaves whole characters on both sides; ``at`` itself for bytes that are not UTF-8.
    (CloudWatch takes UTF-8 messages only. UNVERIFIED: that Lambda's own cut does the same.)"""
    cut = at
    while cut > 0 and at - cut < 3 and (buf[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 and (buf[cut] & 0xC0) != 0x80 else at


class EventSplitter:
    """Cuts a byte stream into log events: one per line, a line longer than ``max_event`` cut
    into pieces of ``max_event`` bytes (the last one shorter). Linear in the bytes fed: a piece
    leaves as soon as it is complete, so what waits for its line break is never more than
    ``max_event`` bytes."""

    def __init__(self, max_event: int = MAX_EVENT_BYTES) -> None:
        self.max_event = max_event
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The events ``data`` completes, in order."""
        events: list[bytes] = []
        newline = data.find(b"\n")
        if newline < 0:
            self._pending += data
            self._cut_pieces(events)
            return events
        if self._pending:
            self._pending += data[:newline]
            self._cut_pieces(events)
            events.append(bytes(self._pending))
            self._pending.clear()
        else:
            self._split_line(data[:newline], events)
        *lines, rest = data[newline + 1 :].split(b"\n")
        limit = self.max_event
        for line in lines:
            if len(line) > limit:
                self._split_line(line, events)
            else:
                events.append(line)
        self._pending += rest
        self._cut_pieces(events)
        return events

    def flush(self) -> list[bytes]:
        """What waits for a line break, as the last event(s) (the output ended without one)."""
        if not self._pending:
            return []
        events: list[bytes] = []
        self._split_line(bytes(self._pending), events)
        self._pending.clear()
        return events

    def _cut_pieces(self, events: list[bytes]) -> None:
        """Full pieces of a long line, as soon as more than a piece waits: a line without end
        never piles up."""
        pending, limit = self._pending, self.max_event
        while len(pending) > limit:
            cut = _char_start(pending, limit)
            events.append(bytes(pending[:cut]))
            del pending[:cut]

    def _split_line(self, line: bytes, events: list[bytes]) -> None:
        limit = self.max_event
        start = 0
        while len(line) - start > limit:
            cut = _char_start(line, start + limit)
            events.append(line[start:cut])
            start = cut
        events.append(line[start:] if start else line)


class CappedLog:
    """One invocation's (or one INIT phase's) output, as its record keeps it: all of it while it
    fits in ``limit`` bytes; past that its first part, a line saying how much was left out, and
    its last ``limit`` minus the first part's bytes, exactly (so the log's last 4 KB, Lambda's
    LogResult, stay right). Bytes count the events' own, not the line breaks between them."""

    def __init__(self, limit: int = DEFAULT_LOG_LIMIT) -> None:
        if limit < MIN_LOG_LIMIT:
            raise ValueError(
                f"log limit {limit:,} bytes is too small: at least {MIN_LOG_LIMIT:,} "
                "(the kept tail must hold the log's last 4 KB)"
            )
        self.limit = limit
        self._head: list[bytes] = []
        self._head_bytes = 0
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0  # of the events in _tail, whole
        self._tail_room = 0  # set when the head closes: limit - its bytes
        self._skip = 0  # bytes of _tail[0] already left out
        self.lines = 0  # events seen
        self.bytes = 0
        self.dropped_lines = 0  # events left out whole
        self.dropped_bytes = 0

    def add(self, event: bytes) -> None:
        size = len(event)
        self.lines += 1
        self.bytes += size
        if not self._tail_room:
            if self._head_bytes + size <= self.limit // 2:
                self._head.append(event)
                self._head_bytes += size
                return
            self._tail_room = self.limit - self._head_bytes  # the head is closed
        self._tail.append(event)
        self._tail_bytes += size
        excess = self._tail_bytes - self._skip - self._tail_room
        while excess > 0:
            first = len(self._tail[0]) - self._skip
            if first <= excess:
                self._tail.popleft()
                self._tail_bytes -= first + self._skip
                self._skip = 0
                self.dropped_lines += 1
                self.dropped_bytes += first
                excess -= first
            else:
                self._skip += excess
                self.dropped_bytes += excess
                excess = 0

    def extend(self, events: list[bytes]) -> None:
        for event in events:
            self.add(event)

    def text_lines(self) -> list[str]:
        """The kept lines, decoded, with the gap line where output was left out."""
        lines = [e.decode("utf-8", "replace") for e in self._head]
        tail = list(self._tail)
        if self.dropped_bytes:
            cut = bool(self._skip)
            if cut:
                first = tail[0]
                start = self._skip
                while start < len(first) and (first[start] & 0xC0) == 0x80:
                    start += 1  # a character cut in two: its rest is not shown either
                tail[0] = first[start:]
            lines.append(gap_line(self.dropped_lines, self.dropped_bytes, self.limit, cut))
        lines.extend(e.decode("utf-8", "replace") for e in tail)
        return lines


class LiveRate:
    """Token buckets: how many lines the live stream may show now, at most ``lines`` and
    ``nbytes`` a second after a first burst of ``burst_s`` seconds' worth."""

    def __init__(
        self,
        lines: float = LIVE_LINES_PER_S,
        nbytes: float = LIVE_BYTES_PER_S,
        burst_s: float = LIVE_BURST_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lines, self.nbytes, self.burst_s, self._clock = lines, nbytes, burst_s, clock
        self._line_tokens = lines * burst_s
        self._byte_tokens = nbytes * burst_s
        self._at = clock()

    def take(self, sizes: list[int]) -> int:
        """How many of these lines (their sizes in bytes), from the first, may go out now."""
        now = self._clock()
        elapsed, self._at = now - self._at, now
        burst = self.burst_s
        self._line_tokens = min(self.lines * burst, self._line_tokens + elapsed * self.lines)
        self._byte_tokens = min(self.nbytes * burst, self._byte_tokens + elapsed * self.nbytes)
        granted = 0
        for size in sizes[: int(self._line_tokens)]:
            if size > self._byte_tokens:
                break
            self._byte_tokens -= size
            granted += 1
        self._line_tokens -= granted
        return granted


class RuntimeOutput:
    """One environment's output pipe: ``feed`` it what is read; the log events go to the current
    ``CappedLog`` and, while someone listens, to ``live`` at a bounded rate.

    ``begin`` starts a new log (an invocation's); ``end`` closes it: the line without a break
    becomes its last event, and the live stream hears how many lines it skipped. What comes
    between two invocations (a thread still printing after its handler returned, before the
    environment froze; a runtime's stderr between its response and its next /next) opens the
    next invocation's log, as on Lambda, where it shows once the environment is thawed.
    """

    def __init__(
        self,
        limit: int = DEFAULT_LOG_LIMIT,
        *,
        live: Callable[[list[str]], None] | None = None,
        listening: Callable[[], bool] = lambda: False,
        max_event: int = MAX_EVENT_BYTES,
        rate: LiveRate | None = None,
    ) -> None:
        self.limit = limit
        self.log = CappedLog(limit)  # the INIT phase's, until the first invocation begins
        self._splitter = EventSplitter(max_event)
        self._live = live
        self._listening = listening
        self._rate = rate or LiveRate()
        self._skipped = 0  # lines the live stream did not show since it last said so
        self._between: CappedLog | None = None  # what came since the last invocation ended

    def begin(self) -> CappedLog:
        """Start the next invocation's log, with what was written since the last one ended."""
        self.flush()
        between, self._between = self._between, None
        self.log = CappedLog(self.limit)
        if between is not None and between.lines:
            self.log.extend([line.encode() for line in between.text_lines()])
        self._skipped = 0
        return self.log

    def feed(self, data: bytes) -> None:
        self._take(self._splitter.feed(data))

    def note(self, line: str) -> None:
        """A line of the workbench's own in the current log (and the live stream)."""
        self._take([line.encode()])

    def flush(self) -> None:
        """The line still waiting for its break ends here (the runtime exited)."""
        self._take(self._splitter.flush())

    def end(self) -> CappedLog:
        """The current log, complete (a last line without a break included); what comes after
        it is kept for the next ``begin``."""
        self.flush()
        self._note_skipped()
        log, self.log = self.log, CappedLog(self.limit)
        self._between = self.log
        return log

    def _take(self, events: list[bytes]) -> None:
        if not events:
            return
        self.log.extend(events)
        if self._live is None or not self._listening():
            return
        shown = self._rate.take([len(e) for e in events])
        if shown and self._skipped:
            self._note_skipped()
        self._skipped += len(events) - shown
        if shown:
            self._live([e.decode("utf-8", "replace") for e in events[:shown]])

    def _note_skipped(self) -> None:
        if self._skipped and self._live is not None and self._listening():
            self._live(
                [
                    f"{NOTE_PREFIX}{self._skipped:,} lines not shown live (more than "
                    f"{self._rate.lines:,.0f} lines or {size_text(int(self._rate.nbytes))} a "
                    "second); the invocation's record has its log"
                ]
            )
        self._skipped = 0
