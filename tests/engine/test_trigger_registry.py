"""The trigger registry: every type registered once, with its parse, label, description and
event source; what function.toml users see of it (labels, serve's lines, errors) unchanged."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import make_function
from workbench.cli.serve_text import source_lines
from workbench.engine import Engine, EngineSettings
from workbench.engine.config.function import ConfigError, load_function
from workbench.engine.config.triggers import (
    S3,
    TRIGGERS,
    SnsTrigger,
    TriggerError,
    TriggerRegistry,
    TriggerType,
    describe,
    label,
    numbered_triggers,
    parse_trigger,
    triggers_of,
)
from workbench.engine.sources.async_invoke import AsyncDispatcher
from workbench.engine.sources.buckets import Buckets
from workbench.engine.sources.queue_pollers import QueuePollers
from workbench.engine.sources.registry import SOURCES, EventSource, register_source
from workbench.engine.sources.scheduler import Scheduler
from workbench.engine.sources.stream_pollers import StreamPollers

TYPES = ("s3", "http", "queue", "schedule", "sns", "kinesis")


def test_every_type_is_registered_once_in_the_order_errors_list_them() -> None:
    assert TRIGGERS.names() == TYPES
    for name in TYPES:
        kind = TRIGGERS[name]
        [type_field] = [f for f in dataclasses.fields(kind.cls) if f.name == "type"]
        assert type_field.default == name  # a parsed trigger finds its type again
        assert kind.required == kind.keys[0]


def test_every_type_has_its_event_source() -> None:
    assert set(SOURCES) == set(TYPES)
    background = {
        name: (source.part, source.exclusive)
        for name, source in SOURCES.items()
        if source.part is not None
    }
    assert background == {
        "queue": (QueuePollers, False),
        "schedule": (Scheduler, True),
        "s3": (Buckets, True),
        "kinesis": (StreamPollers, True),
    }


async def test_a_background_engine_runs_the_registered_sources(tmp_path: Path) -> None:
    settings = EngineSettings(state_dir=tmp_path / "state", background=True)
    async with Engine([tmp_path], settings) as engine:
        parts = [type(p) for p in engine.sources.parts]
    # the dispatcher and the shared sources, then the exclusive ones (this engine has the lock)
    assert parts == [AsyncDispatcher, QueuePollers, Scheduler, Buckets, StreamPollers]


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"type": "s3", "bucket": "uploads"}, "s3:uploads"),
        ({"type": "http", "path": "/items/{id}", "method": "get"}, "http:GET /items/{id}"),
        ({"type": "http", "path": "/"}, "http:ANY /"),
        ({"type": "queue", "queue": "jobs"}, "queue:jobs"),
        ({"type": "schedule", "expression": "rate(5 minutes)"}, "schedule:rate(5 minutes)"),
        ({"type": "sns", "topic": "alerts"}, "sns:alerts"),
        ({"type": "sns", "topic": "alerts", "enabled": False}, "sns:alerts (disabled)"),
    ],
)
def test_labels(table: dict[str, Any], expected: str) -> None:
    assert label(parse_trigger(table)) == expected


def test_descriptions_are_serves_lines() -> None:
    roots = [Path("/a"), Path("/b")]
    tables: list[tuple[dict[str, Any], str | None]] = [
        (
            {"type": "s3", "bucket": "uploads", "events": ["ObjectCreated:*", "ObjectRemoved:*"]},
            "bucket uploads (/a/buckets/uploads/, /b/buckets/uploads/) -> fn "
            "[ObjectCreated:*, ObjectRemoved:*]",
        ),
        ({"type": "queue", "queue": "jobs"}, "queue jobs -> fn (batch 10)"),
        (
            {"type": "queue", "queue": "jobs", "batch_size": 5, "max_receive_count": 2},
            "queue jobs -> fn (batch 5, to jobs-dlq after 2 receives)",
        ),
        ({"type": "sns", "topic": "alerts"}, "topic alerts -> fn"),
        # listed by their running sources: the HTTP routes and the scheduler's rules
        ({"type": "http", "path": "/x"}, None),
        ({"type": "schedule", "expression": "rate(1 hour)"}, None),
    ]
    for table, line in tables:
        assert describe(parse_trigger(table), "fn", roots) == line, table


async def test_serve_lists_each_functions_triggers_in_order(tmp_path: Path) -> None:
    root = tmp_path / "functions"
    code = "def handler(event, context):\n    return 1\n"
    make_function(
        root,
        "b",
        code,
        triggers=[
            {"type": "sns", "topic": "alerts"},
            {"type": "s3", "bucket": "uploads"},
            {"type": "sns", "topic": "off", "enabled": False},
        ],
    )
    make_function(
        root,
        "a",
        code,
        triggers=[{"type": "http", "path": "/a"}, {"type": "queue", "queue": "jobs"}],
    )
    async with Engine([root], EngineSettings(state_dir=tmp_path / "state")) as engine:
        assert engine.scheduler is None  # no background: no schedules to list
        assert source_lines(engine) == [
            "  queue jobs -> a (batch 10)",
            "  topic alerts -> b",
            f"  bucket uploads ({root.resolve()}/buckets/uploads/) -> b [ObjectCreated:*]",
        ]


def load_error(tmp_path: Path, table: str) -> str:
    folder = tmp_path / "fn"
    folder.mkdir(exist_ok=True)
    (folder / "function.toml").write_text(f'name = "fn"\n[[triggers]]\n{table}\n')
    with pytest.raises(ConfigError) as info:
        load_function(folder)
    return str(info.value).removeprefix(f"{folder}/")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'type = "kafka"\ntopic = "s"',
            'function.toml:3: triggers[0].type = "kafka": must be one of: '
            "s3, http, queue, schedule, sns, kinesis",
        ),
        (
            'type = ["s3"]\nbucket = "uploads"',
            'function.toml:3: triggers[0].type = ["s3"]: must be one of: '
            "s3, http, queue, schedule, sns, kinesis",
        ),
        (
            'bucket = "uploads"',
            "function.toml:2: triggers[0]: missing type; must be one of: "
            "s3, http, queue, schedule, sns, kinesis",
        ),
        (
            'type = "sns"\ntopic = "t"\nqueue = "q"',
            'function.toml:5: triggers[0].queue = "q": unknown key for the sns trigger; '
            "accepted: type, enabled, topic",
        ),
    ],
    ids=["unknown-type", "type-not-a-string", "missing-type", "another-types-key"],
)
def test_unknown_types_and_keys_are_the_same_config_errors(
    tmp_path: Path, table: str, message: str
) -> None:
    assert load_error(tmp_path, table) == message


@dataclasses.dataclass(frozen=True, slots=True)
class EchoTrigger:
    word: str
    enabled: bool = True
    type: str = "echo"


def _echo(raw: Mapping[str, Any], enabled: bool) -> EchoTrigger:
    if not isinstance(raw["word"], str):
        raise TriggerError("word", "must be a string")
    return EchoTrigger(raw["word"], enabled)


ECHO = TriggerType(
    name="echo",
    cls=EchoTrigger,
    keys=("word",),
    required="word",
    parse=_echo,
    label=lambda t: f"echo:{t.word}",
    describe=lambda t, function, roots: f"echo {t.word} -> {function}",
)


def test_a_new_type_is_one_registration() -> None:
    """Parsing, the errors, the label and the description all follow from the registration."""
    registry = TriggerRegistry(S3, ECHO)
    trigger = registry.parse({"type": "echo", "word": "hi", "enabled": False})
    assert trigger == EchoTrigger("hi", False)
    assert registry.label(trigger) == "echo:hi (disabled)"
    assert registry.describe(trigger, "fn", []) == "echo hi -> fn"
    with pytest.raises(TriggerError, match=r"^must be one of: s3, echo$"):
        registry.parse({"type": "sns", "topic": "t"})
    with pytest.raises(TriggerError, match=r"^missing word: every echo trigger needs one$"):
        registry.parse({"type": "echo"})
    with pytest.raises(TriggerError, match="accepted: type, enabled, word$"):
        registry.parse({"type": "echo", "word": "hi", "bucket": "b"})
    assert "echo" not in TRIGGERS  # the workbench's own registry is untouched


def test_a_type_is_registered_once() -> None:
    registry = TriggerRegistry(S3)
    with pytest.raises(ValueError, match="'s3' is registered already"):
        registry.register(S3)
    with pytest.raises(ValueError, match="S3Trigger is registered already"):
        registry.register(dataclasses.replace(S3, name="bucket"))


def test_a_source_serves_a_registered_type_and_only_one() -> None:
    with pytest.raises(ValueError, match="no trigger type 'echo' to serve; the types: s3, http"):
        register_source(EventSource("echo", "nothing"))
    with pytest.raises(ValueError, match="'sns' has its source already"):
        register_source(EventSource("sns", "a second topic source"))
    assert SOURCES["sns"].serves.startswith("topics")


def test_triggers_of_one_type_keeps_them_in_order(tmp_path: Path) -> None:
    folder = make_function(
        tmp_path,
        "fn",
        "def handler(e, c):\n    return 1\n",
        triggers=[
            {"type": "sns", "topic": "one"},
            {"type": "queue", "queue": "q"},
            {"type": "sns", "topic": "two"},
        ],
    )
    fn = load_function(folder)
    assert [t.topic for t in triggers_of(fn, SnsTrigger)] == ["one", "two"]
    assert [(i, t.topic) for i, t in numbered_triggers(fn, SnsTrigger)] == [(0, "one"), (2, "two")]
    assert len(triggers_of(fn)) == 3
