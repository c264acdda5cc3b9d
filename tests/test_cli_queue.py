"""``workbench queue …`` as a user runs it: each verb on a real state dir, and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.engine.storage.queues import QueueStore


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def run(tmp_path: Path, state: Path, *args: str, capsys) -> tuple[int, str, str]:
    code = main(["queue", *args, "-r", str(tmp_path), "--state-dir", str(state)])
    out, err = capsys.readouterr()
    return code, out, err


def test_each_verb(tmp_path: Path, state: Path, capsys) -> None:
    create = ["create", "orders", "--visibility-timeout", "5", "--dead-letter-queue", "dead"]
    code, out, _ = run(tmp_path, state, *create, "--max-receive-count", "2", capsys=capsys)
    assert code == 0 and "orders" in out
    code, out, _ = run(
        tmp_path, state, "send", "orders", '{"id": 1}', "--attribute", "kind=order", capsys=capsys
    )
    assert code == 0
    message_id = out.strip()
    message_file = tmp_path / "m.json"
    message_file.write_text('{"id": 2}')
    assert (
        run(tmp_path, state, "send", "orders", "--file", str(message_file), capsys=capsys)[0] == 0
    )
    code, out, _ = run(tmp_path, state, "list", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "VISIBLE", "IN"]
    [orders] = [line for line in lines if line.startswith("orders")]
    assert orders.split()[1] == "2"
    assert "dead after 2 receives" in orders
    code, out, _ = run(tmp_path, state, "receive", "orders", "--max", "1", capsys=capsys)
    [message] = json.loads(out)
    assert message["MessageId"] == message_id
    assert message["Body"] == '{"id": 1}'
    assert message["MessageAttributes"]["kind"]["StringValue"] == "order"
    # received without --delete: in flight now
    store = QueueStore(state / "workbench.db")
    info = store.get("orders")
    assert (info.depth, info.in_flight) == (1, 1)
    code, out, _ = run(tmp_path, state, "receive", "orders", "-n", "10", "--delete", capsys=capsys)
    assert [m["Body"] for m in json.loads(out)] == ['{"id": 2}']
    assert store.get("orders").depth == 0 and store.get("orders").in_flight == 1
    code, _, err = run(tmp_path, state, "purge", "orders", capsys=capsys)
    assert code == 0 and "purged 1" in err
    code, _, err = run(tmp_path, state, "delete", "orders", capsys=capsys)
    assert code == 0 and not store.exists("orders")
    store.close()


def test_send_from_stdin_in_another_process(tmp_path: Path, state: Path) -> None:
    store = QueueStore(state / "workbench.db")
    store.create("q")
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "queue", "send", "q", "-f", "-"]
        + ["--state-dir", str(state)],
        input="from stdin",
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    [message] = store.receive("q")
    assert message.message_id == result.stdout.strip()
    assert message.body == "from stdin"
    store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["send", "nope", "x"], "queue not found: 'nope' (queues: known"),
        (["receive", "nope"], "queue not found: 'nope'"),
        (["purge", "nope"], "queue not found"),
        (["delete", "nope"], "queue not found"),
        (["create", "bad name"], "invalid queue name 'bad name'"),
        (["create", "known", "--visibility-timeout", "9"], "already exists with different"),
        (["create", "x", "--dead-letter-queue", "d"], "needs both"),
        (["send", "known"], "missing MESSAGE"),
        (["send", "known", "x", "--attribute", "novalue"], "expected NAME=VALUE"),
        (["send", "known", "--file", "/does/not/exist"], "cannot read message file"),
        (["send", "known", "x" * (1024 * 1024 + 1)], "at most 1048576 bytes"),
        (["receive", "known", "--max", "11"], "from 1 to 10"),
    ],
)
def test_bad_input_exits_2(tmp_path: Path, state: Path, capsys, args: list[str], message: str):
    assert run(tmp_path, state, "create", "known", capsys=capsys)[0] == 0
    code, _, err = run(tmp_path, state, *args, capsys=capsys)
    assert code == 2
    assert message in err
    assert err.startswith("workbench: ") and "Traceback" not in err


def test_bad_number_is_a_usage_error(tmp_path: Path, state: Path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["queue", "create", "q", "--visibility-timeout", "soon", "--state-dir", str(state)])
    assert e.value.code == 2
    assert "not a whole number of seconds: 'soon'" in capsys.readouterr().err


def test_list_empty(tmp_path: Path, state: Path, capsys) -> None:
    code, out, err = run(tmp_path, state, "list", capsys=capsys)
    assert code == 0 and out == "" and "no queues yet" in err


def test_a_fifo_queue_from_the_cli(tmp_path: Path, state: Path, capsys) -> None:
    code, out, _ = run(
        tmp_path, state, "create", "jobs.fifo", "--content-based-deduplication", capsys=capsys
    )
    assert code == 0 and out.startswith("FIFO queue jobs.fifo ready")
    code, _, err = run(tmp_path, state, "send", "jobs.fifo", "a", capsys=capsys)
    assert code == 2
    assert err == "workbench: The request must contain the parameter MessageGroupId.\n"
    code, _, err = run(
        tmp_path, state, "send", "jobs.fifo", "a", "--group-id", "g", "--delay", "3", capsys=capsys
    )
    assert code == 2 and "DelaySeconds is invalid" in err
    ids = [
        run(tmp_path, state, "send", "jobs.fifo", body, "--group-id", "g", capsys=capsys)[1]
        for body in ("a", "b", "a")
    ]
    assert ids[0] == ids[2] != ids[1]  # the second "a" is a duplicate within five minutes
    code, out, _ = run(tmp_path, state, "receive", "jobs.fifo", "-n", "10", capsys=capsys)
    assert [m["Body"] for m in json.loads(out)] == ["a", "b"]
