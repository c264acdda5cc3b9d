"""Bucket folders end to end: real files under ``buckets/NAME/``, a real engine and handlers.

Each handler appends the event it received to a file of its own, so a test sees exactly what
the function was given. Waits poll for a condition with a generous deadline, never a sleep as
the thing under test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

from tests.helpers import WAIT_S, make_function, next_event, until
from workbench.engine import Engine, EngineSettings, Subscription
from workbench.engine.config.writers import open_for_writing
from workbench.engine.model.events import BucketActivity, FunctionReloaded
from workbench.engine.shapes.s3 import encode_key
from workbench.engine.sources.buckets import Buckets, is_object_name

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    return {"ok": True}
"""


BOTH = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]


def recorder(root: Path, name: str, out: Path, **trigger: object) -> Path:
    """A function recording its events in ``out``, with one s3 trigger."""
    return make_function(
        root,
        name,
        RECORDER,
        environment={"OUT": str(out)},
        triggers=[{"type": "s3", **trigger}],
    )


def events_in(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line]


async def wait_events(out: Path, count: int, timeout: float = WAIT_S) -> list[dict]:
    def enough() -> list[dict] | None:
        found = events_in(out)
        return found if len(found) >= count else None

    return await until(
        enough,
        f"{count} events in {out.name}",
        timeout=timeout,
        step=0.05,
        explain=lambda: f"{len(events_in(out))} there",
    )


MARKERS = "markers"  # the bucket marker files go to (a function of its own follows it)


def marker_sink(root: Path, tmp_path: Path) -> None:
    """The function that follows the markers bucket (write it before the engine starts)."""
    recorder(root, "marker-sink", tmp_path / "markers.jsonl", bucket=MARKERS)


async def reported_so_far(events: Subscription, root: Path) -> list[BucketActivity]:
    """The bucket reports on ``events`` up to a marker file dropped now (the marker's last).

    The positive proof a test needs before asserting that something was *not* reported: the
    watcher hands changes over in order, and a change made before the marker settles no later
    than the marker does (or is looked at, found still open for writing, and held back); so once
    the marker is reported, every report the earlier changes were going to cause has come.
    """
    name = f"marker-{time.monotonic_ns()}.txt"
    (root / "buckets" / MARKERS / name).write_text("marker")
    passed: list[object] = []
    marker = await next_event(
        events, BucketActivity, lambda e: e.bucket == MARKERS and e.key == name, passed=passed
    )
    return [e for e in passed if isinstance(e, BucketActivity)] + [marker]


def record(event: dict) -> dict:
    [only] = event["Records"]
    return only


@contextlib.asynccontextmanager
async def running(root: Path, tmp_path: Path, **settings: object) -> AsyncIterator[Engine]:
    config = EngineSettings(
        state_dir=tmp_path / "state", background=True, time_scale=0.001, reap_interval_s=0.2
    )
    for key, value in settings.items():
        setattr(config, key, value)
    async with Engine([root], config) as engine:
        await buckets_of(engine).wait_watching()
        yield engine


def buckets_of(engine: Engine) -> Buckets:
    [part] = [p for p in engine.sources.parts if isinstance(p, Buckets)]
    return part


# --------------------------------------------------------------------------- puts and deletes


async def test_put_modify_delete(function_root: Path, tmp_path: Path) -> None:
    """The issue's worked example: a file dropped in the bucket folder runs the function, once,
    with S3's record; a change is another Put with a later sequencer; a delete is a Delete."""
    out = tmp_path / "out.jsonl"
    recorder(function_root, "on-upload", out, bucket="uploads", events=BOTH)
    marker_sink(function_root, tmp_path)
    async with running(function_root, tmp_path) as engine:
        folder = function_root / "buckets" / "uploads"
        assert folder.is_dir()  # created, so the user sees where to drop files
        activity = engine.subscribe()

        content = b"hello bucket\n"
        (folder / "hello.txt").write_bytes(content)
        [put] = await wait_events(out, 1)
        r = record(put)
        assert r["eventName"] == "ObjectCreated:Put"
        assert r["eventSource"] == "aws:s3" and r["eventVersion"] == "2.0"
        assert r["awsRegion"] == "us-east-1"
        assert r["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
        assert set(r["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
        assert r["eventTime"].endswith("Z") and len(r["eventTime"]) == 24
        s3 = r["s3"]
        assert s3["s3SchemaVersion"] == "1.0"
        assert s3["configurationId"] == "on-upload-s3-1"
        assert s3["bucket"] == {
            "name": "uploads",
            "ownerIdentity": {"principalId": "EXAMPLE"},
            "arn": "arn:aws:s3:::uploads",
        }
        obj = s3["object"]
        assert obj["key"] == "hello.txt" and obj["size"] == len(content)
        assert obj["eTag"] == hashlib.md5(content).hexdigest()
        assert set(obj) == {"key", "size", "eTag", "sequencer"}

        bigger = content * 3
        (folder / "hello.txt").write_bytes(bigger)
        _, second = await wait_events(out, 2)
        obj2 = record(second)["s3"]["object"]
        assert record(second)["eventName"] == "ObjectCreated:Put"
        assert obj2["size"] == len(bigger) and obj2["eTag"] == hashlib.md5(bigger).hexdigest()
        assert obj2["sequencer"] > obj["sequencer"]

        (folder / "hello.txt").unlink()
        *_, third = await wait_events(out, 3)
        r3 = record(third)
        assert r3["eventName"] == "ObjectRemoved:Delete"
        assert r3["s3"]["object"]["key"] == "hello.txt"
        assert set(r3["s3"]["object"]) == {"key", "sequencer"}  # no size or eTag
        assert r3["s3"]["object"]["sequencer"] > obj2["sequencer"]
        *seen, _marker = await reported_so_far(activity, function_root)
        assert len(events_in(out)) == 3  # once each

        # the invocation records say where they came from; the bus told of the activity
        records = engine.store.recent("on-upload", limit=10)
        assert {rec.trigger for rec in records} == {"s3:uploads"}
        assert [(e.key, e.event_name, e.size, e.functions) for e in seen] == [
            ("hello.txt", "ObjectCreated:Put", len(content), ("on-upload",)),
            ("hello.txt", "ObjectCreated:Put", len(bigger), ("on-upload",)),
            ("hello.txt", "ObjectRemoved:Delete", None, ("on-upload",)),
        ]


async def test_keys_subfolders_spaces_renames_and_temporaries(
    function_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    recorder(function_root, "f", out, bucket="docs", events=BOTH)
    marker_sink(function_root, tmp_path)
    async with running(function_root, tmp_path) as engine:
        activity = engine.subscribe()
        folder = function_root / "buckets" / "docs"
        (folder / "sub" / "dir").mkdir(parents=True)
        (folder / "sub" / "dir" / "file.txt").write_text("x")
        [sub] = await wait_events(out, 1)
        assert record(sub)["s3"]["object"]["key"] == "sub/dir/file.txt"

        (folder / "red flower (1).jpg").write_bytes(b"jpg")
        _, spaced = await wait_events(out, 2)
        assert record(spaced)["s3"]["object"]["key"] == "red+flower+%281%29.jpg"

        # temporaries are not objects; the download's final name is
        (folder / "movie.mp4.part").write_bytes(b"partial")
        (folder / ".notes.txt.swp").write_bytes(b"swap")
        (folder / "notes.txt~").write_bytes(b"backup")
        [*reports, _marker] = await reported_so_far(activity, function_root)
        assert [e.key for e in reports] == ["sub/dir/file.txt", "red flower (1).jpg"]
        assert len(events_in(out)) == 2
        os.rename(folder / "movie.mp4.part", folder / "movie.mp4")
        *_, done = await wait_events(out, 3)
        assert record(done)["s3"]["object"]["key"] == "movie.mp4"
        assert record(done)["s3"]["object"]["size"] == len(b"partial")

        # a rename: the new name is a Put, the old one a Delete
        os.rename(folder / "movie.mp4", folder / "film.mp4")
        got = await wait_events(out, 5)
        pairs = sorted((record(e)["eventName"], record(e)["s3"]["object"]["key"]) for e in got[3:])
        assert pairs == [("ObjectCreated:Put", "film.mp4"), ("ObjectRemoved:Delete", "movie.mp4")]

        # a folder is not an object; removing one removes the objects in it
        (folder / "empty").mkdir()
        [*reports, _marker] = await reported_so_far(activity, function_root)
        assert sorted(e.key for e in reports) == ["film.mp4", "movie.mp4", "movie.mp4"]
        assert len(events_in(out)) == 5
        for path in sorted((folder / "sub").rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        (folder / "sub").rmdir()
        *_, gone = await wait_events(out, 6)
        assert record(gone)["eventName"] == "ObjectRemoved:Delete"
        assert record(gone)["s3"]["object"]["key"] == "sub/dir/file.txt"


async def test_filters(function_root: Path, tmp_path: Path) -> None:
    """prefix, suffix and events: a Delete-only trigger ignores Puts; two functions on one
    bucket both run."""
    images, deletes, everything = (tmp_path / f"{n}.jsonl" for n in ("images", "del", "all"))
    recorder(function_root, "images", images, bucket="media", prefix="in/", suffix=".jpg")
    recorder(function_root, "deletes", deletes, bucket="media", events=["s3:ObjectRemoved:*"])
    recorder(function_root, "everything", everything, bucket="media")
    marker_sink(function_root, tmp_path)
    async with running(function_root, tmp_path) as engine:
        activity = engine.subscribe()
        folder = function_root / "buckets" / "media"
        (folder / "in").mkdir()
        (folder / "in" / "cat.png").write_bytes(b"png")
        (folder / "out.jpg").write_bytes(b"jpg")
        (folder / "in" / "cat.jpg").write_bytes(b"jpg!")
        got = await wait_events(everything, 3)
        assert sorted(record(e)["s3"]["object"]["key"] for e in got) == [
            "in/cat.jpg",
            "in/cat.png",
            "out.jpg",
        ]
        [image] = await wait_events(images, 1)
        assert record(image)["s3"]["object"]["key"] == "in/cat.jpg"
        assert record(image)["s3"]["configurationId"] == "images-s3-1"
        assert events_in(deletes) == []

        (folder / "out.jpg").unlink()
        [deleted] = await wait_events(deletes, 1)
        assert record(deleted)["eventName"] == "ObjectRemoved:Delete"
        await wait_events(everything, 3)
        *reports, _marker = await reported_so_far(activity, function_root)
        assert [(e.key, e.event_name) for e in reports[3:]] == [("out.jpg", "ObjectRemoved:Delete")]
        assert len(events_in(everything)) == 3  # ObjectCreated only, by default
        assert len(events_in(images)) == 1


async def test_a_half_written_file_is_reported_once_complete(
    function_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    recorder(function_root, "f", out, bucket="uploads")
    marker_sink(function_root, tmp_path)
    async with running(function_root, tmp_path) as engine:
        activity = engine.subscribe()
        path = function_root / "buckets" / "uploads" / "big.bin"
        first, rest = os.urandom(300_000), os.urandom(700_000)
        with open(path, "wb") as f:
            f.write(first)
            f.flush()
            # settled (quiet for longer than the window), looked at, held back: still open
            [_marker] = await reported_so_far(activity, function_root)
            assert events_in(out) == []
            f.write(rest)
        [put] = await wait_events(out, 1)
        obj = record(put)["s3"]["object"]
        assert obj["size"] == len(first) + len(rest)
        assert obj["eTag"] == hashlib.md5(first + rest).hexdigest()
        [*reports, _marker] = await reported_so_far(activity, function_root)
        assert [e.key for e in reports] == ["big.bin"]
        assert len(events_in(out)) == 1


async def test_files_there_at_start_are_contents_not_news(
    function_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    recorder(function_root, "f", out, bucket="uploads", events=BOTH)
    folder = function_root / "buckets" / "uploads"
    folder.mkdir(parents=True)
    (folder / "README.txt").write_text("drop files here\n")
    marker_sink(function_root, tmp_path)
    async with running(function_root, tmp_path) as engine:
        activity = engine.subscribe()
        [_marker] = await reported_so_far(activity, function_root)
        assert events_in(out) == []
        (folder / "README.txt").unlink()  # but it is an object: its delete is reported
        [deleted] = await wait_events(out, 1)
        assert record(deleted)["eventName"] == "ObjectRemoved:Delete"


async def test_a_trigger_added_by_a_reload_gets_its_folder(
    function_root: Path, tmp_path: Path
) -> None:
    """refresh(): a new bucket's folder is created and watched; a disabled trigger's is not."""
    out = tmp_path / "out.jsonl"
    recorder(function_root, "f", out, bucket="first")
    async with running(function_root, tmp_path) as engine:
        recorder(function_root, "g", out, bucket="second")
        recorder(function_root, "h", out, bucket="third", enabled=False)
        engine.reload(
            [function_root / "g" / "function.toml", function_root / "h" / "function.toml"]
        )
        folder = function_root / "buckets" / "second"
        assert folder.is_dir()
        assert not (function_root / "buckets" / "third").exists()
        await buckets_of(engine).wait_watching()
        (folder / "a.txt").write_text("a")
        [got] = await wait_events(out, 1)
        assert record(got)["s3"]["bucket"]["name"] == "second"


# --------------------------------------------------------------------------- hot reload


async def test_bucket_files_are_not_code(function_root: Path, tmp_path: Path) -> None:
    """The hot-reload watcher follows the whole root: a file dropped into a bucket must not be
    taken for a save (no rediscovery, no reload), while a real save still is."""
    out = tmp_path / "out.jsonl"
    folder = recorder(function_root, "f", out, bucket="uploads")
    async with running(function_root, tmp_path, watch=True) as engine:
        await engine.wait_watching()
        events = engine.subscribe()
        (function_root / "buckets" / "uploads" / "app.py").write_text("x = 1\n")
        (function_root / "buckets" / "uploads" / "notes.md").write_text("# notes\n")
        await wait_events(out, 2)
        (folder / "app.py").write_text(RECORDER + "\n# saved\n")
        passed: list[object] = []
        saved = await next_event(events, FunctionReloaded, passed=passed)
        reloads = [*(e for e in passed if isinstance(e, FunctionReloaded)), saved]
        assert [(e.function, e.change) for e in reloads] == [("f", "code")]
        assert reloads[0].files == (str(folder / "app.py"),)
        assert engine.source_filter.ignored(function_root / "buckets" / "uploads" / "x.txt")
        assert engine.source_filter.ignored(function_root / "buckets")
        assert not engine.source_filter.ignored(folder / "buckets" / "data.py")  # its own code


# --------------------------------------------------------------------------- pieces


def test_object_names() -> None:
    for name in ("a.txt", "photo.jpg", ".env", "part.txt", "README"):
        assert is_object_name(name), name
    for name in (
        "x.part",
        "x.crdownload",
        "x.download",
        "notes.txt~",
        ".notes.txt.swp",
        ".#notes.txt",
        "#notes.txt#",
        ".DS_Store",
        "._photo.jpg",
        "4913",
    ):
        assert not is_object_name(name), name


def test_key_encoding_as_in_notifications() -> None:
    assert encode_key("red flower.jpg") == "red+flower.jpg"
    assert encode_key("a/b c/d.txt") == "a/b+c/d.txt"
    assert encode_key("ü+=.txt") == "%C3%BC%2B%3D.txt"


def test_open_for_writing(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"")
    real = os.path.realpath(path)
    with open(path, "ab"):
        assert open_for_writing({real}) == {real}
    with open(path, "rb"):
        assert open_for_writing({real}) == set()  # reading is not writing
    assert open_for_writing({real}) == set()


def test_the_record_matches_the_sample() -> None:
    """``generate-event s3 put`` and a real bucket event have the same shape."""
    from workbench.engine.shapes import generate
    from workbench.engine.shapes.s3 import PUT, ObjectChange, s3_event

    sample = generate("s3", "put", bucket="b", key="k")
    real = s3_event(ObjectChange.now("b", "k", PUT, 3, "0" * 32), "cfg", "us-east-1")

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__

    sample["Records"][0]["s3"]["configurationId"] = "cfg"
    assert shape(real) == shape(sample)


async def test_the_on_upload_sample(tmp_path: Path) -> None:
    """The sample, with its committed bucket folder: the README there is not news; a dropped
    file is logged with its decoded key."""
    samples = Path(__file__).resolve().parents[2] / "sample_functions"
    root = tmp_path / "samples"
    shutil.copytree(samples / "on-upload", root / "on-upload")
    shutil.copytree(samples / "buckets", root / "buckets")
    marker_sink(root, tmp_path)
    async with running(root, tmp_path) as engine:
        activity = engine.subscribe()
        (root / "buckets" / "uploads" / "my photo.jpg").write_bytes(b"\xff\xd8" * 50)
        await until(lambda: engine.store.recent("on-upload"), "the on-upload record")
        [*reports, _marker] = await reported_so_far(activity, root)
        assert [e.key for e in reports] == ["my photo.jpg"]  # the README there is not news
        [rec] = engine.store.recent("on-upload")
        assert rec.status == "success"
        assert any("s3://uploads/my photo.jpg: 100 bytes, eTag " in x for x in rec.log_lines)
