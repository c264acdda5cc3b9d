"""The YAML loader for templates: SafeLoader with CloudFormation's tags, string dates and
located containers (``parse.py``'s ``LocatedDict`` / ``LocatedList``). A module of its own so
that PyYAML is imported only when a template is read."""

from __future__ import annotations

from typing import Any

import yaml

from .parse import LocatedDict, LocatedList

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


def load_yaml(text: str) -> Any:
    """``text`` as located containers; raises PyYAML's errors."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
