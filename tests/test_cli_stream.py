"""``workbench stream …`` as a user runs it: each verb on a real state dir, its refusals, and a
put from another process reaching a running serve's kinesis trigger."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import make_function, until_sync
from tests.test_cli_serve import start_serve, until_line
from workbench.cli import main
from workbench.engine.storage.streams import StreamStore


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def run(tmp_path: Path, state: Path, *args: str, capsys) -> tuple[int, str, str]:
    code = main(["stream", *args, "-r", str(tmp_path), "--state-dir", str(state)])
    out, err = capsys.readouterr()
    return code, out, err


def test_each_verb(tmp_path: Path, state: Path, capsys) -> None:
    code, out, _ = run(tmp_path, state, "create", "clicks", "--shards", "2", capsys=capsys)
    assert code == 0 and out.strip() == "stream clicks ready (2 shard(s))"
    code, out, _ = run(tmp_path, state, "put", "clicks", '{"n": 1}', "-k", "user-1", capsys=capsys)
    assert code == 0
    shard, seq = out.split()
    store = StreamStore(state / "workbench.db")
    [record] = store.read("clicks", int(shard.rsplit("-", 1)[1]), 0, 10)
    assert (record.data, record.partition_key, record.sequence_number) == (
        b'{"n": 1}',
        "user-1",
        seq,
    )
    code, out, _ = run(tmp_path, state, "list", capsys=capsys)
    assert out.splitlines()[1].split() == ["clicks", "2", "1", "24", "h"]
    code, out, _ = run(tmp_path, state, "get", "clicks", "--shard", shard, capsys=capsys)
    [got] = json.loads(out)
    assert base64.b64decode(got["Data"]) == b'{"n": 1}' and got["SequenceNumber"] == seq
    code, _, err = run(tmp_path, state, "delete", "clicks", capsys=capsys)
    assert code == 0 and store.list() == []
    store.close()


def test_put_lines_from_stdin_in_another_process(tmp_path: Path, state: Path) -> None:
    store = StreamStore(state / "workbench.db")
    store.create("s")
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "stream", "put", "s", "-f", "-", "--lines"]
        + ["--state-dir", str(state)],
        input="one\ntwo\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert [r.data for r in store.read("s", 0, 0, 10)] == [b"one", b"two"]
    assert len(result.stdout.splitlines()) == 2
    store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["put", "nope", "x"], "Stream nope not found (streams: known"),
        (["get", "nope"], "Stream nope not found"),
        (["delete", "nope"], "Stream nope not found"),
        (["create", "bad name"], "stream name 'bad name' is not valid"),
        (["create", "known"], "already exists"),
        (["create", "x", "--shards", "0"], "ShardCount must be an integer from 1 to 64"),
        (["put", "known"], "missing DATA"),
        (["put", "known", "--file", "/does/not/exist"], "cannot read record file"),
        (["put", "known", "x" * (1024 * 1024)], "at most 1048576"),
        (["get", "known", "--shard", "shardId-000000000003"], "does not exist"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, state: Path, capsys, args: list[str], message: str):
    store = StreamStore(state / "workbench.db")
    store.create("known")
    store.close()
    code, _, err = run(tmp_path, state, *args, capsys=capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_serve_lists_the_mapping_and_a_cli_put_reaches_the_handler(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    out = tmp_path / "events.jsonl"
    code = (
        "import json, os\n"
        "def handler(event, context):\n"
        "    with open(os.environ['OUT'], 'a') as f:\n"
        "        f.write(json.dumps(event) + '\\n')\n"
    )
    trigger = {
        "type": "kinesis",
        "stream": "clicks",
        "starting_position": "TRIM_HORIZON",
        "batch_size": 5,
    }
    make_function(root, "sink", code, triggers=[trigger], environment={"OUT": str(out)})
    state = tmp_path / "state"
    proc, _, output = start_serve(root, state)
    try:
        table = until_line(output, lambda line: line.startswith("  stream "))
        assert table[-1] == "  stream clicks -> sink (from TRIM_HORIZON, batch 5)"
        put = subprocess.run(
            [sys.executable, "-m", "workbench", "stream", "put", "clicks", "hello"]
            + ["-k", "k1", "--state-dir", str(state), "-r", str(root)],
            capture_output=True,
            text=True,
        )
        assert put.returncode == 0, put.stderr
        seq = put.stdout.split()[1]
        until_sync(lambda: out.exists() and out.read_text().endswith("\n"))  # (its whole line)
        [record] = json.loads(out.read_text())["Records"]
        assert base64.b64decode(record["kinesis"]["data"]) == b"hello"
        assert record["kinesis"]["partitionKey"] == "k1"
        assert record["eventID"] == f"shardId-000000000000:{seq}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_bad_trigger_config_is_located(tmp_path: Path, capsys) -> None:
    root = tmp_path / "functions"
    trigger = {"type": "kinesis", "stream": "s", "starting_position": "EARLIEST"}
    make_function(root, "sink", "def handler(e, c):\n    return 1\n", triggers=[trigger])
    code = main(["list", "-r", str(root), "--state-dir", str(tmp_path / "state")])
    out, err = capsys.readouterr()
    text = out + err
    assert code == 0  # the listing shows the broken function beside the others
    located = r'sink/function.toml:\d+: triggers\[0\]\.starting_position = "EARLIEST": must'
    assert re.search(located, text), text
    assert "LATEST, TRIM_HORIZON, AT_TIMESTAMP" in text
    assert "Traceback" not in text
