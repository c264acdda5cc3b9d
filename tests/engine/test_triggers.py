"""``[[triggers]]``: each type's keys, defaults and errors, as function.toml reports them."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.config.function import ConfigError, FunctionConfig, load_function
from workbench.engine.config.triggers import (
    HttpTrigger,
    QueueTrigger,
    S3Trigger,
    SnsTrigger,
    parse_trigger,
    triggers_of,
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # short, exact messages: "fn/function.toml:2: ..."


def load(triggers: str) -> FunctionConfig:
    folder = Path("fn")
    folder.mkdir(exist_ok=True)
    (folder / "function.toml").write_text(f'name = "fn"\n{triggers}', encoding="utf-8")
    return load_function(folder)


def error(triggers: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(triggers)
    return str(info.value)


def test_defaults_of_each_type() -> None:
    fn = load(
        '[[triggers]]\ntype = "s3"\nbucket = "uploads"\n'
        '[[triggers]]\ntype = "http"\npath = "/items/{id}"\n'
        '[[triggers]]\ntype = "queue"\nqueue = "orders"\n'
        '[[triggers]]\ntype = "sns"\ntopic = "alerts"\n'
    )
    s3, http, queue, sns = triggers_of(fn)
    assert s3 == S3Trigger("uploads", ("s3:ObjectCreated:*",), "", "", True)
    assert http == HttpTrigger("/items/{id}", "ANY", "2.0", True)
    assert http.route_key == "ANY /items/{id}"
    assert queue == QueueTrigger("orders", 10, 0, 30, False, None, None, True)
    assert sns == SnsTrigger("alerts", True)
    # the table is kept as written (a published version stores what the user wrote)
    assert [dict(t) for t in fn.triggers][0] == {"type": "s3", "bucket": "uploads"}


def test_s3_events_take_the_s3_prefix_or_not_and_filter_by_prefix_and_suffix() -> None:
    trigger = parse_trigger(
        {
            "type": "s3",
            "bucket": "my.bucket-1",
            "events": ["ObjectRemoved:*", "s3:ObjectCreated:Put"],
            "prefix": "in/",
            "suffix": ".jpg",
        }
    )
    assert isinstance(trigger, S3Trigger)
    assert trigger.events == ("s3:ObjectRemoved:*", "s3:ObjectCreated:Put")
    assert trigger.matches("ObjectCreated:Put", "in/cat.jpg")
    assert trigger.matches("ObjectRemoved:Delete", "in/cat.jpg")
    assert not trigger.matches("ObjectCreated:Put", "out/cat.jpg")
    assert not trigger.matches("ObjectCreated:Put", "in/cat.png")
    only_puts = parse_trigger({"type": "s3", "bucket": "abc", "events": ["s3:ObjectCreated:Put"]})
    assert isinstance(only_puts, S3Trigger)
    assert not only_puts.matches("ObjectRemoved:Delete", "a")


def test_queue_dead_letter_queue_defaults_when_max_receive_count_is_set() -> None:
    fn = load(
        '[[triggers]]\ntype = "queue"\nqueue = "orders"\nbatch_size = 100\n'
        "maximum_batching_window = 2\nvisibility_timeout = 5\nmax_receive_count = 3\n"
        "report_batch_item_failures = true\n"
    )
    (queue,) = triggers_of(fn)
    assert queue == QueueTrigger("orders", 100, 2, 5, True, 3, "orders-dlq", True)


def test_a_fifo_queues_default_dead_letter_queue_is_a_fifo_queue() -> None:
    fn = load('[[triggers]]\ntype = "queue"\nqueue = "orders.fifo"\nmax_receive_count = 3\n')
    (queue,) = triggers_of(fn)
    assert isinstance(queue, QueueTrigger)
    assert queue.dead_letter_queue == "orders-dlq.fifo"


def test_http_methods_are_case_insensitive_and_payload_format_may_be_a_number() -> None:
    trigger = parse_trigger(
        {"type": "http", "path": "/{proxy+}", "method": "post", "payload_format": 1.0}
    )
    assert trigger == HttpTrigger("/{proxy+}", "POST", "1.0", True)


def test_disabled_trigger() -> None:
    trigger = parse_trigger({"type": "sns", "topic": "t", "enabled": False})
    assert trigger == SnsTrigger("t", False)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'type = "s3"\nbucket = "Up"',
            'fn/function.toml:4: triggers[0].bucket = "Up": must be a bucket name: 3 to 63 of '
            "a-z, 0-9, '.' and '-' (the folder buckets/NAME/ under the root)",
        ),
        (
            'type = "s3"\nbucket = "ups"\nevents = ["ObjectCreated:Post"]',
            'fn/function.toml:5: triggers[0].events = ["ObjectCreated:Post"]: '
            "'ObjectCreated:Post' is not one of: s3:ObjectCreated:*, s3:ObjectCreated:Put, "
            "s3:ObjectRemoved:*, s3:ObjectRemoved:Delete",
        ),
        (
            'type = "s3"\nbuckets = "up"',
            'fn/function.toml:4: triggers[0].buckets = "up": unknown key for the s3 trigger; '
            "accepted: type, enabled, bucket, events, prefix, suffix",
        ),
        (
            'type = "s3"',
            "fn/function.toml:2: triggers[0]: missing bucket: every s3 trigger needs one",
        ),
        (
            'type = "http"\npath = "items"',
            'fn/function.toml:4: triggers[0].path = "items": must be a path starting with "/", '
            'e.g. "/items/{id}"',
        ),
        (
            'type = "http"\npath = "/{proxy+}/x"',
            'fn/function.toml:4: triggers[0].path = "/{proxy+}/x": a greedy {proxy+} must be the '
            "last segment",
        ),
        (
            'type = "http"\npath = "/a{id}"',
            "fn/function.toml:4: triggers[0].path = \"/a{id}\": bad segment 'a{id}': use plain "
            "text, {name} or a last {name+}",
        ),
        (
            'type = "http"\npath = "/"\nmethod = "FETCH"',
            'fn/function.toml:5: triggers[0].method = "FETCH": must be one of: ANY, GET, POST, '
            "PUT, PATCH, DELETE, HEAD, OPTIONS",
        ),
        (
            'type = "http"\npath = "/"\npayload_format = "3.0"',
            'fn/function.toml:5: triggers[0].payload_format = "3.0": must be "2.0" (the default) '
            'or "1.0"',
        ),
        (
            'type = "queue"\nqueue = "orders"\nbatch_size = 11',
            "fn/function.toml:5: triggers[0].batch_size = 11: above 10 needs "
            "maximum_batching_window of at least 1 second (as in Lambda)",
        ),
        (
            'type = "queue"\nqueue = "orders.fifo"\nbatch_size = 11\nmaximum_batching_window = 1',
            "fn/function.toml:5: triggers[0].batch_size = 11: must be an integer from 1 to 10",
        ),
        (
            'type = "queue"\nqueue = "jobs.fifo"\nmax_receive_count = 2\n'
            'dead_letter_queue = "dead"',
            'fn/function.toml:6: triggers[0].dead_letter_queue = "dead": must be a FIFO queue (a '
            "name ending in .fifo), as its queue is (SQS)",
        ),
        (
            'type = "queue"\nqueue = "orders"\nbatch_size = 0',
            "fn/function.toml:5: triggers[0].batch_size = 0: must be an integer from 1 to 10000",
        ),
        (
            'type = "queue"\nqueue = "orders"\ndead_letter_queue = "dead"',
            'fn/function.toml:5: triggers[0].dead_letter_queue = "dead": needs max_receive_count '
            "(receives before a message moves)",
        ),
        (
            'type = "queue"\nqueue = "orders"\nmax_receive_count = 2\ndead_letter_queue = "orders"',
            'fn/function.toml:6: triggers[0].dead_letter_queue = "orders": must not be the queue '
            "itself",
        ),
        (
            'type = "queue"\nqueue = "my queue"',
            'fn/function.toml:4: triggers[0].queue = "my queue": must be a queue name: 1 to 80 '
            "of letters, digits, '-' and '_'",
        ),
        (
            'type = "queue"\nqueue = "q"\nreport_batch_item_failures = "yes"',
            'fn/function.toml:5: triggers[0].report_batch_item_failures = "yes": must be true or '
            "false",
        ),
        (
            'type = "schedule"\nexpression = "every 5 minutes"',
            'fn/function.toml:4: triggers[0].expression = "every 5 minutes": must be '
            '"rate(VALUE UNIT)" or "cron(MIN HOUR DOM MONTH DOW YEAR)"',
        ),
        (
            'type = "schedule"\nexpression = "rate(5 minutes)"\ninput = "x"',
            'fn/function.toml:5: triggers[0].input = "x": must be a table: the event to send '
            "instead of the Scheduled Event",
        ),
        (
            'type = "sns"\ntopic = "a b"',
            'fn/function.toml:4: triggers[0].topic = "a b": must be a topic name: 1 to 256 of '
            "letters, digits, '-', '_'",
        ),
        (
            'type = "sns"\ntopic = "t"\nenabled = 1',
            "fn/function.toml:5: triggers[0].enabled = 1: must be true or false",
        ),
    ],
    ids=[
        "bucket-uppercase",
        "s3-unknown-event",
        "s3-unknown-key",
        "s3-missing-bucket",
        "http-relative-path",
        "http-greedy-not-last",
        "http-partial-param",
        "http-unknown-method",
        "http-payload-format",
        "queue-batch-needs-window",
        "queue-fifo-batch-at-most-10",
        "queue-fifo-dlq-must-be-fifo",
        "queue-batch-zero",
        "queue-dlq-needs-count",
        "queue-dlq-itself",
        "queue-bad-name",
        "queue-not-a-bool",
        "schedule-bad-expression",
        "schedule-input-not-table",
        "sns-bad-topic",
        "enabled-not-a-bool",
    ],
)
def test_bad_trigger_tables_are_config_errors_with_line_and_key(table: str, message: str) -> None:
    assert error(f"[[triggers]]\n{table}\n") == message
