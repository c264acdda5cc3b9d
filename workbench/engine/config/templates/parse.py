"""Read a template file (YAML or JSON) into plain dicts and lists that remember their lines.

CloudFormation's short-form tags (``!Ref X``, ``!GetAtt A.Arn``, ``!Sub ...``) become the long
form (``{"Ref": "X"}``, ``{"Fn::GetAtt": ["A", "Arn"]}``), so the resolver sees one shape. YAML
dates stay strings (``AWSTemplateFormatVersion: 2010-09-09`` is not a date to CloudFormation).
Every mapping and list is a ``Located`` subclass holding the line of each key or item, so an
error deep in a resource can say ``template.yaml:42``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..function import ConfigError

KeyPath = tuple[str | int, ...]


class LocatedDict(dict[str, Any]):
    """A mapping with the 1-based line of each of its keys (and of itself)."""

    line: int | None = None
    lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = {}


class LocatedList(list[Any]):
    """A list with the 1-based line of each of its items (and of itself)."""

    line: int | None = None
    lines: dict[int, int]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines = {}


def line_of(data: object, path: KeyPath) -> int | None:
    """The line of ``path`` in ``data`` as loaded here, or of the nearest enclosing key."""
    line = getattr(data, "line", None)
    node = data
    for part in path:
        lines = getattr(node, "lines", None)
        if lines is None or part not in lines:
            break
        line = lines[part]
        try:
            node = node[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            break
    return line


# (path, inode, size, mtime, ctime) -> the parsed template: every save under a root reads the
# templates again, and one that did not change need not be parsed again (nothing mutates it)
_PARSED: dict[tuple[str, int, int, int, int], LocatedDict] = {}


def load_template(path: Path) -> LocatedDict:
    """The template at ``path`` as located dicts; ``ConfigError`` (with its line) if unreadable."""
    try:
        stat = path.stat()
    except OSError:
        return _load(path)  # reported there
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key not in _PARSED:
        if len(_PARSED) > 64:
            _PARSED.clear()
        _PARSED[key] = _load(path)
    return _PARSED[key]


def _load(path: Path) -> LocatedDict:
    """JSON goes through the YAML loader too (JSON is YAML's flow style) for its lines; where the
    YAML loader refuses valid JSON (tabs), ``json`` reads it without lines."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, None, None, None, "template file not found") from None
    except OSError as e:
        raise ConfigError(path, None, None, None, f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(path, None, None, None, f"not valid UTF-8: {e.reason}") from None
    if path.suffix == ".json":
        try:
            plain = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(path, e.lineno, None, None, f"invalid JSON: {e.msg}") from None
    # PyYAML is imported with the first template read, not with the engine (~10 ms of a start)
    from .yaml_loader import load_yaml, yaml

    try:
        data = load_yaml(text)
    except yaml.MarkedYAMLError as e:
        if path.suffix == ".json":
            data = _located(plain)
        else:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = e.problem or e.context or "syntax error"
            raise ConfigError(path, line, None, None, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(path, None, None, None, f"invalid YAML: {e}") from None
    if not isinstance(data, LocatedDict):
        raise ConfigError(
            path, 1, None, None, "not a template: expected a mapping with Resources at the top"
        )
    return data


def _located(value: Any) -> Any:
    """JSON data as located containers without lines."""
    if isinstance(value, dict):
        return LocatedDict({k: _located(v) for k, v in value.items()})
    if isinstance(value, list):
        return LocatedList(_located(v) for v in value)
    return value
