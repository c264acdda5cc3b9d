"""A record's log lines for people: each line's level, JSON lines rendered readably, a level
filter.

Under ``LogFormat: JSON`` a function's log is one JSON object a line (AWS's runtimes' application
records, Lambda's ``platform.*`` records); on screen they read like the text format: time, level,
logger, message, then the extra fields, a stack trace under them. Levels are read from every
format the runtimes write (JSON ``level``, Python's ``[LEVEL]``, Node's tab-separated level),
folded onto Lambda's names (WARNING -> WARN, CRITICAL -> FATAL).

The level filter keeps the lines at or above its level; function output with no level
(``print``, ``process.stdout``) shows only unfiltered; Lambda's own lines always show (they
frame each invocation).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from textual.content import Content

Level = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
LEVELS: tuple[Level, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
# the filter's steps (None: everything), as ``l`` cycles them
FILTER_STEPS: tuple[Level | None, ...] = (None, "DEBUG", "INFO", "WARN", "ERROR")
_FOLD: dict[str, Level] = {
    **{name: name for name in LEVELS},
    "WARNING": "WARN",
    "CRITICAL": "FATAL",
    "NOTSET": "TRACE",
}
LEVEL_STYLES: dict[Level, str] = {
    "TRACE": "dim",
    "DEBUG": "dim",
    "INFO": "$success",
    "WARN": "bold $warning",
    "ERROR": "bold $error",
    "FATAL": "bold reverse $error",
}
PLATFORM_PREFIXES = ("START ", "END ", "REPORT ", "INIT_START ", "INIT_REPORT ")
_PY_TEXT = re.compile(r"\[([A-Z]+)\]\t")  # [INFO]\t2024-...Z\t<rid>\tmessage
_NODE_TEXT = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z\t[^\t]*\t([A-Z]+)\t")  # ts\trid\tLEVEL\tmsg
# fields an application record's line shows in its own places, not as key=value
_SHOWN = {"timestamp", "level", "message", "logger", "requestId", "stackTrace", "log_level"}


@dataclass(frozen=True, slots=True)
class LogLine:
    """One stored line: its level (None: none), whether Lambda wrote it, its JSON if any."""

    text: str
    level: Level | None
    platform: bool
    data: dict[str, Any] | None = None


def parse(stored: str) -> LogLine:
    if stored.startswith("{"):
        try:
            data = json.loads(stored)
        except ValueError:
            data = None
        if isinstance(data, dict):
            if isinstance(data.get("type"), str) and "record" in data:
                return LogLine(stored, None, True, data)
            raw = data.get("level", data.get("log_level"))
            level = _FOLD.get(raw.upper()) if isinstance(raw, str) else None
            return LogLine(stored, level, False, data)
    if stored.startswith(PLATFORM_PREFIXES):
        return LogLine(stored, None, True)
    match = _PY_TEXT.match(stored) or _NODE_TEXT.match(stored)
    if stored.startswith("[ERROR] "):  # an unhandled error's record (Python's text format)
        return LogLine(stored, "ERROR", False)
    return LogLine(stored, _FOLD.get(match.group(1)) if match else None, False)


def shown(line: LogLine, at_least: Level | None) -> bool:
    """Whether the filter ``at_least`` (None: no filter) keeps the line."""
    if at_least is None or line.platform:
        return True
    if line.level is None:
        return False
    return LEVELS.index(line.level) >= LEVELS.index(at_least)


def _time(value: object) -> str:
    """``2024-01-02T03:04:05.678Z`` -> ``03:04:05.678`` (the date is the record's)."""
    text = str(value)
    return text[11:].rstrip("Z") if len(text) > 11 and text[10] == "T" else text


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _platform(data: dict[str, Any]) -> Content:
    record = data.get("record")
    record = record if isinstance(record, dict) else {}
    parts = [f"{k}={_value(v)}" for k, v in record.items() if k != "metrics"]
    metrics = record.get("metrics")
    if isinstance(metrics, dict):
        parts += [f"{k}={_value(v)}" for k, v in metrics.items()]
    return Content.assemble(
        (_time(data.get("time", "")), "dim"),
        " ",
        (str(data.get("type")), "bold $accent"),
        "  ",
        "  ".join(parts),
    )


def _application(line: LogLine) -> list[Content]:
    data = line.data or {}
    level = line.level
    head = Content.assemble(
        (_time(data.get("timestamp", "")), "dim"),
        " ",
        (f"{level or '-':<5}", LEVEL_STYLES.get(level, "") if level else "dim"),
        " ",
        *(((f"{data['logger']}: ", "$secondary"),) if data.get("logger") else ()),
        _value(data.get("message", data.get("errorMessage", ""))),
    )
    extra = [f"{k}={_value(v)}" for k, v in data.items() if k not in _SHOWN]
    out = [head]
    if extra:
        out.append(Content.styled("    " + "  ".join(extra), "dim"))
    trace = data.get("stackTrace")
    if isinstance(trace, list):
        for frame in trace:
            for part in str(frame).rstrip("\n").split("\n"):
                out.append(Content.styled("    " + part, "dim"))
    return out


def render(line: LogLine) -> list[Content]:
    """Screen lines for one stored line; a text line exactly as stored (a CR starts a new
    screen line)."""
    if line.data is not None:
        return [_platform(line.data)] if line.platform else _application(line)
    parts = [Content(part.expandtabs(4)) for part in line.text.split("\r")]
    return [p.stylize("bold $accent") for p in parts] if line.platform else parts


def has_json(lines: list[LogLine]) -> bool:
    return any(line.data is not None for line in lines)
