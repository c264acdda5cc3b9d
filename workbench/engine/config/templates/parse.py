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

import yaml

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


# libyaml's parser where PyYAML was built with it: several times faster on a large template
# (every save under a root reads the templates again)
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader with CloudFormation's tags, string dates and located containers."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    result = LocatedDict()
    result.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            # CloudFormation's keys are strings: `On:` or `200:` as written, not True or 200
            key = str(key_node.value)
        else:
            key = str(loader.construct_object(key_node, deep=True))
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList()
    result.line = node.start_mark.line + 1
    for index, item in enumerate(node.value):
        result.append(loader.construct_object(item, deep=True))
        result.lines[index] = item.start_mark.line + 1
    return result


def _tag(loader: _Loader, suffix: str, node: yaml.Node) -> LocatedDict:
    """``!Ref X`` → ``{"Ref": X}``; ``!GetAtt A.B`` → ``{"Fn::GetAtt": ["A", "B"]}``; ``!X v``
    → ``{"Fn::X": v}`` (``!Condition`` → ``{"Condition": v}``)."""
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = _sequence(loader, node)
    else:
        value = _mapping(loader, node)  # type: ignore[arg-type]
    if suffix == "GetAtt" and isinstance(value, str):
        value = LocatedList(value.split(".", 1))
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    result = LocatedDict({name: value})
    result.line = node.start_mark.line + 1
    result.lines[name] = result.line
    return result


def _timestamp(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_Loader.add_multi_constructor("!", _tag)


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
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
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
