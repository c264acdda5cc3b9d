"""One template being loaded, and the shapes the function-resource modules pass around."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..function import ConfigError, KeyPath
from .intrinsics import Stack, TemplateError, dotted
from .parse import line_of

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


Props = dict[str, Any]  # a resource's properties, Globals merged in, not yet resolved
Where = dict[str, KeyPath]  # property -> its path in the template
Data = dict[str, Any]  # function.toml's keys
Origin = dict[KeyPath, KeyPath]  # function.toml key path -> template path
Value = Callable[[str], Any]  # a property, resolved


@dataclass
class TemplateContext:
    """One template being loaded: its stack, where it lives, and what overrides it."""

    stack: Stack
    raw: Mapping[str, Any]  # the template as parsed (with lines)
    file: Path
    code_dir: Path
    env_vars: Mapping[str, Any]
    account_limit: int
    extra_triggers: dict[str, list[tuple[KeyPath, dict[str, Any]]]] = field(default_factory=dict)
    extra_notes: dict[str, list[str]] = field(default_factory=dict)
    extra_async: dict[str, tuple[KeyPath, dict[str, Any]]] = field(default_factory=dict)
    built: bool = False  # .aws-sam/build/template.yaml

    def error(self, path: KeyPath, message: str, value: object = None) -> ConfigError:
        return ConfigError(self.file, line_of(self.raw, path), dotted(path), value, message)


def reraise(ctx: TemplateContext, error: TemplateError) -> ConfigError:
    """An intrinsic's error, located in the template (file, line, dotted property)."""
    return ctx.error(error.path, error.message)


def number(value: Any) -> Any:
    """CloudFormation takes numbers as strings too (parameters always are)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value
