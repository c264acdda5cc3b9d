"""A runtime's output as log events and a bounded record log (``engine/runtime/output.py``).

The floods themselves, through real runtimes and a real pipe, are in ``test_output_flood.py``;
these pin the rules: where a long line is cut, what a capped log keeps and says it left out,
how many lines the live stream shows.
"""

from __future__ import annotations

import random
import re

import pytest

from workbench.engine import EngineSettings
from workbench.engine.runtime.output import (
    DEFAULT_LOG_LIMIT,
    MAX_EVENT_BYTES,
    MIN_LOG_LIMIT,
    CappedLog,
    EventSplitter,
    LiveRate,
    RuntimeOutput,
)

KB = 1024
GAP = re.compile(
    r"\[workbench\] ([\d,]+) lines? \(([\d,]+) bytes\) of output left out here"
    r"(, and the start of the next line)?: a record keeps (.+) of log, its first and last part "
    r"\(the log limit\)"
)


def feed_in_pieces(data: bytes, sizes: list[int]) -> list[bytes]:
    """Every event a splitter makes of ``data`` read in pieces of these sizes (cycled)."""
    splitter = EventSplitter()
    events: list[bytes] = []
    at, i = 0, 0
    while at < len(data):
        size = sizes[i % len(sizes)]
        events += splitter.feed(data[at : at + size])
        at, i = at + size, i + 1
    return events + splitter.flush()


def gap(lines: list[str]) -> tuple[int, int, bool, str]:
    """(lines, bytes, cut, limit text) of the one gap line."""
    [m] = [m for line in lines if (m := GAP.fullmatch(line))]
    return int(m[1].replace(",", "")), int(m[2].replace(",", "")), bool(m[3]), m[4]


# --------------------------------------------------------------------------- log events


def test_the_event_limit_is_cloudwatchs_256_kb() -> None:
    assert MAX_EVENT_BYTES == 262_144


def test_a_600_kb_line_is_three_log_events_of_at_most_256_kb() -> None:
    line = bytes(random.Random(1).choices(b"abcdefghij", k=600 * KB))
    events = feed_in_pieces(line + b"\nnext\n", [65536])
    assert [len(e) for e in events] == [MAX_EVENT_BYTES, MAX_EVENT_BYTES, 600 * KB - 2 * 262144, 4]
    assert b"".join(events[:3]) == line
    assert events[3] == b"next"


def test_lines_are_the_same_however_the_reads_cut_them() -> None:
    rnd = random.Random(7)
    lines = [
        bytes(rnd.choices(b"xyz", k=rnd.choice([0, 1, 80, 70_000, 300_000]))) for _ in range(40)
    ]
    data = b"\n".join(lines) + b"\n"
    whole = feed_in_pieces(data, [len(data)])
    assert whole == feed_in_pieces(data, [1, 3, 65536, 7, 100_000])
    # each line is its events joined; a line longer than the limit is cut in full-size pieces
    expected = []
    for line in lines:
        pieces = [line[i : i + MAX_EVENT_BYTES] for i in range(0, len(line), MAX_EVENT_BYTES)]
        expected += pieces or [b""]
    assert whole == expected


def test_a_cut_never_splits_a_utf8_character() -> None:
    line = ("é" * 200_000).encode()  # 2 bytes each: an even limit would land on a boundary
    line = b"a" + line  # so shift it by one: every naive cut would fall inside a character
    events = feed_in_pieces(line + b"\n", [65536])
    assert len(events) == 2
    assert all(len(e) <= MAX_EVENT_BYTES for e in events)
    assert [e.decode("utf-8") for e in events]  # strict: no half character on either side
    assert b"".join(events) == line


def test_output_that_ends_without_a_line_break_is_the_last_event() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"one\ntw") == [b"one"]
    assert splitter.feed(b"o") == []
    assert splitter.flush() == [b"two"]
    assert splitter.flush() == []
    assert splitter.feed(b"\n") == [b""]  # an empty line is an (empty) event, as before


def test_a_line_without_end_never_piles_up() -> None:
    """50 MB with no line break: full pieces leave as soon as they are complete."""
    splitter = EventSplitter()
    chunk = b"z" * 65536
    count = 0
    for _ in range(800):
        count += len(splitter.feed(chunk))
        assert len(splitter._pending) <= MAX_EVENT_BYTES
    assert count + len(splitter.flush()) == 50 * 1024 * KB // MAX_EVENT_BYTES


# --------------------------------------------------------------------------- the record's cap


def test_a_log_that_fits_is_kept_whole_without_a_gap_line() -> None:
    log = CappedLog(64 * KB)
    events = [b"line %d" % i for i in range(1000)]
    log.extend(events)
    assert log.text_lines() == [e.decode() for e in events]
    assert (log.dropped_lines, log.dropped_bytes) == (0, 0)


def test_a_log_that_fits_exactly_loses_nothing() -> None:
    """The tail gets what the head left: a log of exactly the limit is kept whole."""
    log = CappedLog(16 * KB)
    events = [b"a" * 3000, b"b" * 6000, b"c" * (16 * KB - 9000)]
    log.extend(events)
    assert log.text_lines() == [e.decode() for e in events]


def test_a_flood_keeps_the_first_and_last_part_and_says_what_it_left_out() -> None:
    limit = 16 * KB
    log = CappedLog(limit)
    events = [b"%06d " % i + b"." * 93 for i in range(5000)]  # 100 bytes each
    log.extend(events)
    lines = log.text_lines()
    n, nbytes, cut, limit_text = gap(lines)
    at = next(i for i, line in enumerate(lines) if GAP.fullmatch(line))
    head, tail = lines[:at], lines[at + 1 :]
    assert head == [e.decode() for e in events[:81]]  # 8,100 bytes: the first half, whole lines
    # the tail is the last (limit - head) bytes exactly: whole lines and the end of one more
    tail_bytes = limit - 8100
    assert "".join(tail) == b"".join(events)[-tail_bytes:].decode()
    assert cut and tail[0] == events[-83].decode()[-(tail_bytes - 82 * 100) :]
    assert n == 5000 - 81 - 83
    assert nbytes == 5000 * 100 - limit
    assert limit_text == "16 KiB"
    assert sum(len(x) for x in head + tail) == limit


def test_the_gap_counts_lines_and_bytes_and_the_kept_tail_is_exact() -> None:
    """Whatever the sizes: kept + left out = written, and the last bytes are the last bytes (so
    X-Amz-Log-Result, the log's last 4 KB, is right)."""
    rnd = random.Random(3)
    for _ in range(30):
        limit = rnd.choice([MIN_LOG_LIMIT, 20_000, 64 * KB])
        events = [bytes(rnd.choices(b"pq", k=rnd.choice([0, 5, 900, 30_000]))) for _ in range(60)]
        log = CappedLog(limit)
        log.extend(events)
        lines = log.text_lines()
        total = sum(map(len, events))
        if total <= limit:
            assert lines == [e.decode() for e in events]
            continue
        n, nbytes, cut, _ = gap(lines)
        kept = [x for x in lines if not GAP.fullmatch(x)]
        assert sum(map(len, kept)) + nbytes == total
        assert sum(map(len, kept)) == limit
        whole_kept = len(kept) - (1 if cut else 0)
        assert n + whole_kept + (1 if cut else 0) == len(events)
        at = lines.index(next(x for x in lines if GAP.fullmatch(x)))
        tail = "".join(lines[at + 1 :]).encode()
        assert b"".join(events).endswith(tail) and len(tail) >= limit // 2


def test_a_cut_tail_line_starts_on_a_whole_character() -> None:
    log = CappedLog(MIN_LOG_LIMIT)
    log.add(("ü" * 20_000).encode())  # 40,000 bytes: only its last 8 KiB are kept
    [marker, rest] = log.text_lines()
    assert GAP.fullmatch(marker)
    assert set(rest) == {"ü"} and len(rest.encode()) in (MIN_LOG_LIMIT, MIN_LOG_LIMIT - 1)


def test_a_log_limit_below_the_minimum_is_refused_with_the_minimum() -> None:
    with pytest.raises(ValueError, match=r"log limit 4,096 bytes is too small: at least 8,192"):
        CappedLog(4096)


def test_engine_settings_default_to_the_output_modules_limit() -> None:
    assert EngineSettings().log_limit == DEFAULT_LOG_LIMIT == 1024 * KB


# --------------------------------------------------------------------------- the live stream


class Clock:
    """A clock the test moves by hand (the rate is per second)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_live_stream_shows_a_burst_then_a_rate_and_counts_what_it_skipped() -> None:
    clock = Clock()
    shown: list[str] = []
    out = RuntimeOutput(
        DEFAULT_LOG_LIMIT,
        live=shown.extend,
        listening=lambda: True,
        rate=LiveRate(lines=10, nbytes=1024, burst_s=2, clock=clock),
    )
    out.begin()
    out.feed(b"".join(b"a%d\n" % i for i in range(50)))
    assert shown == [f"a{i}" for i in range(20)]  # the burst: two seconds' worth
    clock.now += 1.0  # ten more may go
    out.feed(b"".join(b"b%d\n" % i for i in range(50)))
    assert shown[20] == (
        "[workbench] 30 lines not shown live (more than 10 lines or 1 KiB a second); the "
        "invocation's record has its log"
    )
    assert shown[21:] == [f"b{i}" for i in range(10)]
    out.feed(b"tail without a break")
    log = out.end()  # the invocation ends: the rest is told, and the last line is in its log
    assert shown[-1].startswith("[workbench] 41 lines not shown live")
    assert log.text_lines()[-1] == "tail without a break"
    assert log.lines == 101


def test_the_live_stream_is_bounded_in_bytes_too() -> None:
    """Long lines: the byte rate holds them back, however few they are."""
    clock = Clock()
    shown: list[str] = []
    out = RuntimeOutput(
        DEFAULT_LOG_LIMIT,
        live=shown.extend,
        listening=lambda: True,
        rate=LiveRate(lines=1000, nbytes=300 * KB, burst_s=1, clock=clock),
    )
    out.begin()
    out.feed(b"x" * (100 * KB) + b"\n" + b"y" * (250 * KB) + b"\n" + b"z\n")
    assert [len(x) for x in shown] == [100 * KB]  # the 250 KB line would pass 300 KB: it waits
    clock.now += 1.0
    out.feed(b"w\n")
    assert shown[1].startswith("[workbench] 2 lines not shown live")
    assert shown[2:] == ["w"]


def test_nothing_is_decoded_for_the_live_stream_when_nobody_listens() -> None:
    shown: list[str] = []
    out = RuntimeOutput(DEFAULT_LOG_LIMIT, live=shown.extend, listening=lambda: False)
    out.feed(b"x\n" * 10_000)
    assert shown == []
    assert out.end().lines == 10_000


def test_output_between_invocations_opens_the_next_invocations_log() -> None:
    """As on Lambda, where a thawed environment's leftover output lands in the next
    invocation's log; bounded like any log."""
    out = RuntimeOutput(MIN_LOG_LIMIT)
    init = out.log
    out.feed(b"module level\n")
    first = out.begin()
    out.feed(b"in the handler\n")
    assert out.end() is first
    out.feed(b"a background thread, idle\n" * 10_000)
    assert init.text_lines() == ["module level"]
    assert first.text_lines() == ["in the handler"]
    second = out.begin()
    out.feed(b"the second handler\n")
    assert out.end() is second
    lines = second.text_lines()
    assert lines[0] == "a background thread, idle"
    assert lines[-1] == "the second handler"
    assert any("left out here" in line for line in lines)  # capped: its first and last part
    assert sum(len(line.encode()) for line in lines) < 2 * MIN_LOG_LIMIT
    assert out.begin().text_lines() == []  # nothing came between these two
