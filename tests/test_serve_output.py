"""What ``workbench serve`` prints of an invocation's log: all of it while it is small, a bounded
first and last part of a flood (saying what it skipped), Lambda's own lines always; and the
``--log-limit`` option of serve and the TUI."""

from __future__ import annotations

import base64
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import make_function
from workbench.cli.serve_text import SERVE_LOG_BYTES, log_text
from workbench.engine import InvocationRecord

RID = "0d3a8f5e-7c21-4b9a-9e51-1f2a3b4c5d6e"
START = f"START RequestId: {RID} Version: $LATEST"
END = f"END RequestId: {RID}"
REPORT = f"REPORT RequestId: {RID}\tDuration: 1.00 ms\tBilled Duration: 1 ms\t"
SKIPPED = re.compile(
    r"\[workbench\] ([\d,]+) lines \(([\d,]+) bytes\) of this log not printed here: serve prints "
    r"64 KiB of each invocation's log, its first and last part; the invocation's record has more"
)


def record(lines: list[str], *, cold: bool = False) -> InvocationRecord:
    return InvocationRecord(request_id=RID, function="f", cold=cold, log_lines=lines)


# --------------------------------------------------------------------------- log_text


def test_a_log_that_fits_is_printed_whole() -> None:
    lines = [START, *(f"line {i}" for i in range(100)), END, REPORT]
    assert log_text(record(lines)) == "\n".join(lines)


def test_a_flood_prints_its_first_and_last_part_and_what_it_skipped() -> None:
    own = [f"line {i:05d} " + "." * 89 for i in range(20_000)]  # 100 bytes each, 2,000,000
    gap = "[workbench] 9,000 lines (900,000 bytes) of output left out here: ..."
    cold = [
        "INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:x",
        "INIT_REPORT Init Duration: 1.00 ms\tPhase: init\tStatus: error",
    ]
    lines = [cold[0], cold[1], START, *own[:10_000], gap, *own[10_000:], END, REPORT]
    printed = log_text(record(lines, cold=True)).split("\n")
    [note] = [x for x in printed if SKIPPED.fullmatch(x)]
    m = SKIPPED.fullmatch(note)
    assert m is not None
    head, tail = printed[3 : printed.index(note)], printed[printed.index(note) + 1 :]
    assert printed[:3] == [cold[0], cold[1], START]  # Lambda's lines are always printed
    assert head == [*own[:327], own[327][: 32 * 1024 - 327 * 100]]  # 32 KiB, a line cut
    assert tail[-2:] == [END, REPORT]
    assert gap in tail  # the record's own note of what it left out, always printed
    kept = [x for x in printed if x not in (*cold, START, gap, note, END, REPORT)]
    assert sum(len(x) for x in kept) == SERVE_LOG_BYTES  # the first and the last 32 KiB
    assert "".join(own).endswith("".join(tail[: tail.index(END)]).replace(gap, ""))
    assert int(m[1].replace(",", "")) == 20_000 - len(kept)  # two lines were cut, not skipped
    assert int(m[2].replace(",", "")) == 2_000_000 - SERVE_LOG_BYTES


def test_a_retried_init_keeps_both_reports_through_a_flood() -> None:
    """INIT failed, then its retry in the invocation printed a flood: the first INIT's report
    (Phase: init) is printed as the retry's is, whatever the output around them."""
    own = [f"line {i:05d} " + "." * 89 for i in range(20_000)]
    first = "INIT_REPORT Init Duration: 1.00 ms\tPhase: init\tStatus: error\tError Type: E"
    retry = "INIT_REPORT Init Duration: 2.00 ms\tPhase: invoke\tStatus: error\tError Type: E"
    init_start = "INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:x"
    lines = [init_start, *own[:10_000], first, *own[10_000:], retry, START, END, REPORT]
    r = record(lines, cold=True)
    r.init_retry_ms = 2.0
    printed = log_text(r).split("\n")
    assert first in printed and retry in printed and init_start in printed
    assert printed[-4:] == [retry, START, END, REPORT]


def test_lines_that_look_like_lambdas_do_not_pass_the_bound() -> None:
    fake = [f"START RequestId: {RID} Version: $LATEST"] * 5000 + ["[workbench] x" * 10] * 5000
    lines = [START, *fake, END, REPORT]
    printed = log_text(record(lines))
    assert len(printed.encode()) < SERVE_LOG_BYTES + 2048


def test_a_single_huge_line_is_cut_not_skipped() -> None:
    lines = [START, "a" * 100_000 + "z" * 100_000, END, REPORT]
    printed = log_text(record(lines)).split("\n")
    assert printed[0] == START and printed[-2:] == [END, REPORT]
    assert printed[1] == "a" * 32 * 1024
    assert SKIPPED.fullmatch(printed[2])
    assert printed[3] == "z" * 32 * 1024


# --------------------------------------------------------------------------- a real serve

FLOOD = """
import sys
def handler(event, context):
    out = sys.stdout.buffer
    for i in range(event["lines"]):
        out.write(b"flood %07d " % i + b"~" * 100 + b"\\n")
    return "flooded"
"""


def start_serve(root: Path, state: Path, *extra: str) -> tuple[subprocess.Popen, str, queue.Queue]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", str(root), "--port", "0"]
        + ["--http-port", "0", "--state-dir", str(state), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x.rstrip("\n")) for x in proc.stdout or ()], daemon=True
    ).start()
    seen: list[str] = []
    while True:
        try:
            seen.append(lines.get(timeout=30))
        except queue.Empty:
            proc.kill()
            raise AssertionError("serve did not start:\n" + "\n".join(seen)) from None
        if m := re.search(r"Lambda API on (http://\S+)", seen[-1]):
            return proc, m[1], lines


def test_serve_prints_a_flood_bounded_and_the_apis_log_tail_is_its_end(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "flood", FLOOD, timeout=120)
    proc, url, output = start_serve(root, tmp_path / "state")
    try:
        n = 200_000  # 23 MB
        request = urllib.request.Request(
            f"{url}/2015-03-31/functions/flood/invocations",
            data=json.dumps({"lines": n}).encode(),
            headers={"X-Amz-Log-Type": "Tail"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            assert json.loads(response.read()) == "flooded"
            tail = base64.b64decode(response.headers["X-Amz-Log-Result"]).decode()
        # LogResult: the last 4 KB of the log: the flood's last lines, END and REPORT
        assert len(tail.encode()) == 4096
        *flood, end, report, last = tail.split("\n")
        assert last == "" and end.startswith("END RequestId: ")
        assert report.startswith(end.replace("END", "REPORT") + "\t")
        assert flood[-1] == f"flood {n - 1:07d} " + "~" * 100
        assert flood[-2] == f"flood {n - 2:07d} " + "~" * 100

        printed: list[str] = []
        while not printed or not printed[-1].startswith("REPORT RequestId: "):
            printed.append(output.get(timeout=60))
        printed = printed[next(i for i, x in enumerate(printed) if x.startswith("START")) :]
        own = [x for x in printed if x.startswith("flood ")]
        assert own[0] == "flood 0000000 " + "~" * 100
        assert own[-1] == f"flood {n - 1:07d} " + "~" * 100
        assert sum(len(x) for x in own) <= SERVE_LOG_BYTES
        [note] = [x for x in printed if SKIPPED.fullmatch(x)]
        assert any("of output left out here" in x for x in printed)  # the record's own note
        assert printed[-2] == end and printed[-1] == report
        assert sum(len(x) + 1 for x in printed) < SERVE_LOG_BYTES + 2048
        assert note
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


# --------------------------------------------------------------------------- --log-limit


def test_serve_log_limit_sets_what_a_record_keeps(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    make_function(root, "flood", FLOOD, timeout=60)
    proc, url, output = start_serve(root, tmp_path / "state", "--log-limit", "64K")
    try:
        request = urllib.request.Request(
            f"{url}/2015-03-31/functions/flood/invocations", data=b'{"lines": 20000}'
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read()) == "flooded"
        printed: list[str] = []
        while not printed or not printed[-1].startswith("REPORT RequestId: "):
            printed.append(output.get(timeout=60))
        [gap] = [x for x in printed if "of output left out here" in x]
        kept = "a record keeps 64 KiB of log, its first and last part (the log limit)"
        assert gap.endswith(f": {kept}")
        assert not any(SKIPPED.fullmatch(x) for x in printed)  # 64 KiB: serve prints it all
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_the_tuis_log_limit_reaches_its_engine(tmp_path: Path) -> None:
    from workbench.tui.app import WorkbenchApp

    app = WorkbenchApp([tmp_path], state_dir=tmp_path / "state", log_limit=256 * 1024)
    assert app.engine.settings.log_limit == 256 * 1024
    assert WorkbenchApp([tmp_path], state_dir=tmp_path / "s2").engine.settings.log_limit == (
        1024 * 1024
    )


@pytest.mark.parametrize("verb", [["serve"], []])  # serve and the TUI
@pytest.mark.parametrize("value", ["4k", "lots", "1g"])
def test_a_bad_log_limit_is_refused_before_anything_starts(
    tmp_path: Path, verb: list[str], value: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", *verb, str(tmp_path), "--log-limit", value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith(
        f"argument --log-limit: invalid log limit '{value}': a size of at least 8K, in bytes or "
        "with K or M (powers of 1024), e.g. 512K or 4M"
    )
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_lambdas_json_records_are_always_printed_too() -> None:
    """Under ``logging_format = "JSON"`` Lambda's lines are its ``platform.*`` records."""

    def rec(kind: str, body: str) -> str:
        return f'{{"time":"2024-01-02T03:04:05.678Z","type":"platform.{kind}","record":{body}}}'

    init = rec("initStart", '{"initializationType":"on-demand","phase":"init"}')
    start = rec("start", f'{{"requestId":"{RID}","version":"$LATEST"}}')
    done = rec("runtimeDone", f'{{"requestId":"{RID}","status":"success"}}')
    report = rec("report", f'{{"requestId":"{RID}","status":"success"}}')
    own = [f"line {i:05d} " + "." * 89 for i in range(5_000)]
    # INIT's own flood puts platform.start in the middle of the log, past the first part
    lines = [init, *own, start, *own, done, report]
    printed = log_text(record(lines, cold=True)).split("\n")
    assert printed[0] == init and start in printed and printed[-2:] == [done, report]
    assert any(SKIPPED.fullmatch(x) for x in printed)


def test_serve_keeps_answering_while_nobody_reads_its_output(tmp_path: Path) -> None:
    # a terminal paused with ctrl+s, a pipe nobody drains: serve's log writes block, and they
    # stopped the engine with them once the pipe's 64 KiB were full (every invocation hung)
    root = tmp_path / "functions"
    make_function(root, "hello", "def handler(event, context):\n    return 'hi'\n")
    silent = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", str(root), "--port", "0"]
        + ["--http-port", "0", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert silent.stdout is not None
        head = b""
        while b"Lambda API on " not in head:
            chunk = silent.stdout.read1(65536)  # its banner; then nothing is read for a while
            assert chunk, head.decode()
            head += chunk
        port = re.search(rb"Lambda API on http://127\.0\.0\.1:(\d+)", head)
        assert port is not None
        invoke = f"http://127.0.0.1:{int(port[1])}/2015-03-31/functions/hello/invocations"
        for _ in range(1500):  # ~400 bytes of log each: 600 KB, ten pipes' worth
            with urllib.request.urlopen(urllib.request.Request(invoke, b"{}"), timeout=10) as r:
                assert r.read() == b'"hi"'
        # read again at last: every line that waited is there, nothing was dropped
        silent.send_signal(signal.SIGINT)
        rest, _ = silent.communicate(timeout=60)
        out = head + rest
        assert out.count(b"START RequestId: ") == 1500, out[-2000:].decode()
        assert out.count(b"REPORT RequestId: ") == 1500
        assert b"log lines not printed here" not in out
    finally:
        if silent.poll() is None:
            silent.kill()
            silent.wait()


async def test_lines_past_the_limit_while_the_output_is_stalled_are_counted_then_said() -> None:
    import asyncio
    import os

    from workbench.cli.log_writer import LogWriter

    read_fd, write_fd = os.pipe()
    out = os.fdopen(write_fd, "w")
    log = LogWriter(out, max_pending=100_000)
    line = "x" * 99  # 100 bytes with its newline
    for i in range(3_000):  # 300 KB: the pipe takes 64 KiB, then 100 KB wait, the rest drop
        log.line(f"{i:04d}{line[4:]}")
        if i % 100 == 0:
            await asyncio.sleep(0.01)  # the writer thread fills the pipe meanwhile
    await asyncio.sleep(0.2)
    with os.fdopen(read_fd, "rb") as reader:
        os.set_blocking(read_fd, False)
        got = b""
        for _ in range(200):  # read until the writer has said what it dropped
            try:
                got += reader.read() or b""
            except BlockingIOError:
                pass
            if b"log lines not printed here" in got:
                break
            await asyncio.sleep(0.02)
        log.close()
        out.close()
    text = got.decode()
    lines = text.splitlines()
    [note] = [x for x in lines if "log lines not printed here" in x]
    written = [x for x in lines if x is not note]
    dropped = int(note.split()[1].replace(",", ""))
    assert dropped > 0 and len(written) + dropped == 3_000
    assert [int(x[:4]) for x in written] == list(range(len(written)))  # in order, the first ones
