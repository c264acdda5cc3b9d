"""Output floods through real runtimes and a real pipe: a handler printing tens or hundreds of
megabytes, with or without line breaks, at INIT, until a timeout, until a crash, from a thread
while idle. Each completes as Lambda would end it, its record keeps a bounded log that says what
it left out, and nothing in the engine holds the flood whole.

(How long the loop stalls during a flood is wall-clock: ``benchmarks/output_flood.py``.)
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
from pathlib import Path

import psutil

from workbench.engine import Engine, EngineSettings, InvokeResult, LogLine

from ..helpers import add_function

KB = 1024
MB = 1024 * KB
LIMIT = 1 * MB  # the default log limit
EVENT = 256 * KB  # CloudWatch's largest log event
GAP = re.compile(
    r"\[workbench\] ([\d,]+) lines? \(([\d,]+) bytes\) of output left out here"
    r"(, and the start of the next line)?: a record keeps (.+) of log, its first and last part "
    r"\(the log limit\)"
)
LIVE_NOTE = re.compile(r"\[workbench\] ([\d,]+) lines not shown live \(")
ALPHABET = "abcdefghijklmnopqrstuvwxyz"

# Writes `mb` MB of the alphabet over and over, with no line break at all.
NO_BREAK = """
import sys
def handler(event, context):
    flood = (b"abcdefghijklmnopqrstuvwxyz" * (1024 * 1024 // 26 + 2))
    out = sys.stdout.buffer
    at = 0
    for _ in range(event["mb"]):
        out.write(flood[at % 26 : at % 26 + 1024 * 1024])
        at += 1024 * 1024
    out.flush()
    return "done"
"""

# Writes `mb` MB of 128-byte lines: "line 0000042 ....\\n".
LINES = """
import sys
def handler(event, context):
    out = sys.stdout.buffer
    n = event["mb"] * 1024 * 1024 // 128
    dots = b"." * 114 + b"\\n"
    for start in range(0, n, 8192):
        out.write(b"".join(b"line %07d " % i + dots for i in range(start, start + 8192)))
    out.flush()
    return n
"""


def flood_bytes(start: int, end: int) -> bytes:
    """Bytes ``start:end`` of the NO_BREAK handler's output."""
    return "".join(ALPHABET[i % 26] for i in range(start, end)).encode()


def own_output(result: InvokeResult) -> list[str]:
    """The function's lines in its record: between START and END."""
    lines = result.record.log_lines
    start = next(i for i, x in enumerate(lines) if x.startswith("START RequestId: "))
    end = next(i for i, x in enumerate(lines) if x.startswith("END RequestId: "))
    return lines[start + 1 : end]


def gap(lines: list[str]) -> tuple[int, int, bool, str, int]:
    """(lines, bytes, cut, limit text, index) of the one gap line."""
    [(i, m)] = [(i, m) for i, x in enumerate(lines) if (m := GAP.fullmatch(x))]
    return int(m[1].replace(",", "")), int(m[2].replace(",", "")), bool(m[3]), m[4], i


def state_size(engine: Engine) -> int:
    """Bytes of the state database and its write-ahead log, all written records committed."""
    assert engine.store is not None
    engine.store.flush()
    db = engine.state_dir / "workbench.db"
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


class Sampler:
    """The engine's resident memory, sampled on its own loop while a flood runs."""

    def __init__(self) -> None:
        self.proc = psutil.Process(os.getpid())
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            await asyncio.sleep(0.005)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self.proc.memory_info().rss)


# --------------------------------------------------------------------------- no line break


async def test_50_mb_without_a_line_break_completes_with_a_capped_log(engine: Engine) -> None:
    add_function(engine, "nobreak", NO_BREAK, timeout=120)
    result = await engine.invoke("nobreak", b'{"mb": 50}')
    assert (result.record.status, result.payload) == ("success", b'"done"')
    total = 50 * MB
    out = own_output(result)
    n, nbytes, cut, limit_text, at = gap(out)
    # 200 log events of 256 KB: the first two kept, then the gap, then the last two
    assert (n, nbytes, cut, limit_text) == (196, total - LIMIT, False, "1 MiB")
    assert [len(x) for x in out] == [EVENT, EVENT, len(out[2]), EVENT, EVENT]
    assert "".join(out[:at]).encode() == flood_bytes(0, 2 * EVENT)
    assert "".join(out[at + 1 :]).encode() == flood_bytes(total - 2 * EVENT, total)
    # X-Amz-Log-Result: the last 4 KB of the log, the flood's end then END and REPORT
    tail = base64.b64decode(result.log_tail())
    rid = result.record.request_id
    report = result.record.log_lines[-1]
    ending = f"\nEND RequestId: {rid}\n{report}\n".encode()
    assert len(tail) == 4096 and tail.endswith(ending)
    assert tail[: -len(ending)] == flood_bytes(total - (4096 - len(ending)), total)
    # the store keeps the same capped record
    assert engine.store is not None
    stored = await asyncio.to_thread(engine.store.get, rid)
    assert stored is not None and stored.log_lines == result.record.log_lines


# --------------------------------------------------------------------------- 200 MB of lines


async def test_200_mb_of_lines_completes_in_bounded_memory_and_the_db_grows_by_the_cap(
    engine: Engine,
) -> None:
    add_function(engine, "lines", LINES, timeout=300)
    await engine.invoke("lines", b'{"mb": 1}')  # warm: the environment and the store exist
    before = state_size(engine)
    events = engine.subscribe(maxsize=10_000_000)  # so the test sees every event it was sent
    with Sampler() as memory:
        result = await engine.invoke("lines", b'{"mb": 200}')
    n = 200 * MB // 128
    assert (result.record.status, result.payload) == ("success", str(n).encode())

    # The engine held no flood: its memory grew by a few MB at most, not 200.
    assert memory.peak - memory.base < 64 * MB, (memory.peak - memory.base) / MB

    # The record: the first 4,128 lines (127 bytes each without the break, in 512 KiB), the gap,
    # then the last 1 MiB - 4,128 * 127 bytes: 4,128 whole lines and the end of one more.
    out = own_output(result)
    dropped, nbytes, cut, limit_text, at = gap(out)
    head, tail = out[:at], out[at + 1 :]
    assert [int(x[5:12]) for x in head] == list(range(4128))
    assert [int(x[5:12]) for x in tail[1:]] == list(range(n - 4128, n))
    assert cut and tail[0] == "." * (LIMIT - 2 * 4128 * 127)  # the cut line's last bytes
    assert dropped == n - 2 * 4128 - 1
    assert nbytes == n * 127 - LIMIT
    assert limit_text == "1 MiB"

    # The database grew by about the record (its log is the cap), not by the flood.
    growth = state_size(engine) - before
    assert growth < 3 * LIMIT, growth / MB

    # The live stream: a bounded share of the lines, and notes counting every line it skipped.
    rid = result.record.request_id
    live = [e.line for e in events.get_nowait() if isinstance(e, LogLine) and e.request_id == rid]
    skipped = sum(int(m[1].replace(",", "")) for x in live if (m := LIVE_NOTE.match(x)))
    shown = [x for x in live if not x.startswith("[workbench] ")]
    assert skipped and len(shown) + skipped == n
    assert len(shown) < n // 10
    assert [int(x[5:12]) for x in shown[:2000]] == list(range(2000))  # the start, in order


# --------------------------------------------------------------------------- long lines


async def test_a_600_kb_line_becomes_three_log_events(engine: Engine) -> None:
    add_function(
        engine,
        "longline",
        """
        def handler(event, context):
            print("before")
            print("x" * (600 * 1024))
            print("after")
            return 1
        """,
    )
    events = engine.subscribe()
    result = await engine.invoke("longline", b"{}")
    out = own_output(result)
    assert [len(x) for x in out] == [6, EVENT, EVENT, 600 * KB - 2 * EVENT, 5]
    assert out[0] == "before" and out[-1] == "after" and set("".join(out[1:4])) == {"x"}
    rid = result.record.request_id
    live = [e.line for e in events.get_nowait() if isinstance(e, LogLine) and e.request_id == rid]
    assert live == out  # the live stream shows the same events


# --------------------------------------------------------------------------- fault rows


async def test_a_flood_until_the_timeout_is_a_timeout_with_a_capped_log(engine: Engine) -> None:
    add_function(
        engine,
        "forever",
        """
        import sys
        def handler(event, context):
            print("started", flush=True)
            block = b"w" * 65536
            while True:
                sys.stdout.buffer.write(block)
        """,
        timeout=2,
    )
    result = await engine.invoke("forever", b"{}")
    assert result.record.status == "timeout"
    assert result.record.error_type == "Sandbox.Timedout"
    lines = result.record.log_lines
    rid = result.record.request_id
    out = own_output(result)
    dropped, nbytes, _, _, at = gap(out)
    assert out[0] == "started" and dropped > 0 and nbytes > 0
    assert re.fullmatch(rf".* {rid} Task timed out after 2\.00 seconds", out[-1])
    assert lines[-2:] == [f"END RequestId: {rid}", lines[-1]]
    assert lines[-1].startswith(f"REPORT RequestId: {rid}\t")
    assert sum(len(x.encode()) for x in out[:at] + out[at + 1 : -1]) == LIMIT


async def test_a_flood_at_init_is_capped_in_the_cold_record(engine: Engine) -> None:
    add_function(
        engine,
        "loud_init",
        """
        import sys
        for i in range(20 * 1024 * 1024 // 64):
            sys.stdout.write("init %06d " % i + "-" * 51 + "\\n")
        def handler(event, context):
            print("handled")
            return 2
        """,
    )
    result = await engine.invoke("loud_init", b"{}")
    assert result.payload == b"2"
    lines = result.record.log_lines
    rid = result.record.request_id
    start = lines.index(f"START RequestId: {rid} Version: $LATEST")
    init = lines[1:start]
    assert lines[0].startswith("INIT_START ")
    dropped, nbytes, _, _, at = gap(init)
    assert init[0].startswith("init 000000 ") and init[-1].startswith(f"init {327679:06d} ")
    assert nbytes == 20 * MB - 327680 - LIMIT  # the output's bytes without its line breaks
    assert own_output(result) == ["handled"]
    assert dropped > 300_000
    warm = await engine.invoke("loud_init", b"{}")  # INIT's output is the cold record's only
    assert own_output(warm) == ["handled"]


async def test_a_flood_then_a_crash_keeps_the_last_line_without_its_break(engine: Engine) -> None:
    add_function(
        engine,
        "crasher",
        """
        import os, sys
        def handler(event, context):
            out = sys.stdout.buffer
            for i in range(40):
                out.write(b"z" * (256 * 1024) + b"\\n")
            out.write(b"last words without a break")
            out.flush()
            os._exit(3)
        """,
    )
    result = await engine.invoke("crasher", b"{}")
    assert result.record.status == "crash"
    assert result.record.error_type == "Runtime.ExitError"
    out = own_output(result)
    dropped, nbytes, cut, _, _ = gap(out)
    # 40 events and the last words: the first two kept, and the last 512 KiB exactly (the last
    # words and all but their length of two more events: a third is cut at its start)
    assert (dropped, nbytes, cut) == (36, 36 * EVENT + 26, True)
    assert out[-1] == "last words without a break"


async def test_an_unfrozen_idle_environments_flood_is_capped_into_the_next_record(
    engine: Engine,
) -> None:
    """A thread goes on printing after the response in an environment that is not frozen
    (freeze = false): what it prints between invocations opens the next invocation's log,
    capped like any, and it costs the engine no memory."""
    add_function(
        engine,
        "background",
        """
        import sys, threading
        def flood():
            line = b"bg " + b"b" * 1000 + b"\\n"
            while True:
                sys.stdout.buffer.write(line * 64)
        started = False
        def handler(event, context):
            global started
            if not started:
                started = True
                threading.Thread(target=flood, daemon=True).start()
            return "ok"
        """,
        timeout=10,
        freeze=False,
    )
    with Sampler() as memory:
        await engine.invoke("background", b"{}")
        [env] = engine.environments("background")
        read = 0
        while read < 200 * MB:  # let 200 MB go by while the environment is idle
            before = env._output.log.bytes
            await asyncio.sleep(0.05)
            read += max(env._output.log.bytes - before, 0)
        second = await engine.invoke("background", b"{}")
    assert memory.peak - memory.base < 64 * MB, (memory.peak - memory.base) / MB
    out = own_output(second)
    assert sum(len(x.encode()) for x in out) <= LIMIT + 200  # its share: capped (and a gap line)


# --------------------------------------------------------------------------- the setting


async def test_the_log_limit_setting_caps_the_record(
    function_root: Path, engine_settings: EngineSettings
) -> None:
    engine_settings.log_limit = 64 * KB
    async with Engine([function_root], engine_settings) as engine:
        add_function(engine, "lines", LINES, timeout=60)
        result = await engine.invoke("lines", b'{"mb": 1}')
    out = own_output(result)
    _, _, _, limit_text, at = gap(out)
    assert limit_text == "64 KiB"
    assert sum(len(x.encode()) for i, x in enumerate(out) if i != at) == 64 * KB
