"""Response streaming: time to first byte against the buffered invoke of the same run.

    python benchmarks/streaming.py [--rounds R] [--n N] [--work-ms W]

Engine side (``invoke_stream``, what InvokeWithResponseStream and RESPONSE_STREAM function URLs
read) and over HTTP (boto3's ``invoke_with_response_stream`` against the Lambda API):

- baseline: ``await engine.invoke`` of a warm handler returning a small payload;
- a streaming handler (a Python generator) yielding a first chunk, then working ``W`` ms (default
  20), then yielding the rest: its time to the first chunk, and to the end;
- the same handler through plain Invoke (buffered whole): its first byte is its last;
- boto3 over HTTP: buffered ``invoke`` and the streamed first ``PayloadChunk``.

Then the bandwidth cap: 10 MB streamed (6 MB at full speed, 4 MB at 2 MB/s: ~2 s expected).
Ratios are against the baseline's p50; rounds alternate the measurements.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import figures

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("WORKBENCH_CPU", "full")  # the workbench's speed, not a 128 MB CPU share

import engine_loop  # noqa: E402  (after the path to workbench is set)

from workbench.api import start_api  # noqa: E402
from workbench.engine import Engine, EngineSettings, invoke_stream  # noqa: E402

PLAIN = "def handler(event, context):\n    return {'ok': True}\n"
STREAMER = """
import time
def handler(event, context):
    yield b"first"
    time.sleep(event.get("work_ms", 0) / 1000)
    yield b"rest"
"""
BIG = """
def handler(event, context):
    chunk = b"x" * (256 * 1024)
    for _ in range(event["mb"] * 4):
        yield chunk
"""


def write(root: Path, name: str, code: str) -> None:
    (root / name).mkdir()
    (root / name / "app.py").write_text(code)
    (root / name / "function.toml").write_text('handler = "app.handler"\ntimeout = 60\n')


async def stream_times(engine: Engine, payload: bytes) -> tuple[float, float]:
    t = time.perf_counter()
    call = await invoke_stream(engine, "streamer", payload)
    first = None
    async for _ in call:
        if first is None:
            first = time.perf_counter() - t
    return (first or 0.0) * 1000, (time.perf_counter() - t) * 1000


def boto_times(url: str, payload: bytes, n: int, buffered: list[float], ttfb: list[float]) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}),
    )
    for _ in range(5):
        client.invoke(FunctionName="plain", Payload=b"{}")["Payload"].read()
    for _ in range(n):
        t = time.perf_counter()
        client.invoke(FunctionName="plain", Payload=b"{}")["Payload"].read()
        buffered.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        events = iter(
            client.invoke_with_response_stream(FunctionName="streamer", Payload=payload)[
                "EventStream"
            ]
        )
        next(events)
        ttfb.append((time.perf_counter() - t) * 1000)
        for _ in events:
            pass


async def run(rounds: int, n: int, work_ms: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="wb-bench-streaming-"))
    write(root, "plain", PLAIN)
    write(root, "streamer", STREAMER)
    write(root, "big", BIG)
    state = Path(tempfile.mkdtemp(prefix="wb-bench-streaming-state-"))
    settings = EngineSettings(state_dir=state, keep_alive_s=3600)
    payload = f'{{"work_ms": {work_ms}}}'.encode()
    base: list[float] = []
    first: list[float] = []
    whole: list[float] = []
    plain_invoke: list[float] = []
    http_buffered: list[float] = []
    http_ttfb: list[float] = []
    async with Engine([root], settings) as engine:
        for _ in range(20):
            await engine.invoke("plain", b"{}")
            await stream_times(engine, payload)
        for _ in range(rounds):
            for _ in range(n):
                t = time.perf_counter()
                await engine.invoke("plain", b"{}")
                base.append((time.perf_counter() - t) * 1000)
                f, w = await stream_times(engine, payload)
                first.append(f)
                whole.append(w)
                t = time.perf_counter()
                await engine.invoke("streamer", payload)
                plain_invoke.append((time.perf_counter() - t) * 1000)
        server = await start_api(engine, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.port}"
        worker = threading.Thread(
            target=boto_times, args=(url, payload, n * rounds, http_buffered, http_ttfb)
        )
        worker.start()
        while worker.is_alive():
            await asyncio.sleep(0.01)
        t = time.perf_counter()
        call = await invoke_stream(engine, "big", b'{"mb": 10}')
        size = 0
        async for chunk in call:
            size += len(chunk)
        capped_s = time.perf_counter() - t
        await server.close()
    p50 = statistics.median(base)

    row = functools.partial(figures.row, base=p50, width=52)

    print(f"workbench response streaming benchmark — {engine_loop.describe()}")
    print(f"handler works {work_ms} ms between its chunks; ratio: against the baseline's p50")
    print(row("baseline: engine.invoke, warm, small payload", base))
    print(row("streamed: first chunk (invoke_stream)", first))
    print(row("streamed: whole response", whole))
    print(row("same handler through plain Invoke (buffered)", plain_invoke))
    print(row("HTTP: boto3 invoke, buffered, small payload", http_buffered))
    print(row("HTTP: boto3 invoke_with_response_stream, 1st chunk", http_ttfb))
    print(
        f"  bandwidth cap: {size / 1e6:.1f} MB streamed in {capped_s:.2f} s "
        f"(6 MiB uncapped, then 2 MiB/s: ≥ {(size - 6 * 2**20) / 2**21:.2f} s expected)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--work-ms", type=int, default=20)
    args = ap.parse_args()
    engine_loop.run(run(args.rounds, args.n, args.work_ms))


if __name__ == "__main__":
    main()
