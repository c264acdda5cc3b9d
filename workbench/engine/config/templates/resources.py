"""A template's function resources as ``FunctionConfig``s, through function.toml's own checks.

Each ``AWS::Serverless::Function`` / ``AWS::Lambda::Function`` becomes the table a
``function.toml`` would hold (``Globals.Function`` merged in first, as SAM does), validated by
``build_function``, so a template function has exactly a folder function's limits and errors.
Properties with a ``function.toml`` counterpart map onto it; the others are kept as notes on the
function ("not run here"), never dropped without a word.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping
from typing import Any

from ..function import NAME_RE, FunctionConfig, KeyPath, build_function, dotted_key
from .context import FUNCTION_TYPES, TemplateContext, number, reraise
from .intrinsics import NO_VALUE, dotted
from .parse import line_of
from .properties import (
    async_config,
    auto_publish,
    code_folder,
    environment,
    events,
    layers,
)

__all__ = ["FUNCTION_TYPES", "TemplateContext", "build", "function_name", "reraise"]

# property -> function.toml key, for the plain values
_SIMPLE = {
    "Handler": "handler",
    "Runtime": "runtime",
    "MemorySize": "memory_size",
    "Timeout": "timeout",
    "Description": "description",
    "ReservedConcurrentExecutions": "reserved_concurrency",
}


_INTEGERS = ("memory_size", "timeout", "reserved_concurrency", "ephemeral_storage")


# read elsewhere in this module (code, events, async, name)
_HANDLED = {
    *_SIMPLE,
    "FunctionName",
    "CodeUri",
    "InlineCode",
    "Code",
    "PackageType",
    "Events",
    "Environment",
    "EphemeralStorage",
    "LoggingConfig",
    "Layers",
    "DeadLetterQueue",
    "DeadLetterConfig",
    "EventInvokeConfig",
    "Architectures",
    "AutoPublishAlias",
    "DeploymentPreference",
    "FunctionUrlConfig",
    "ProvisionedConcurrencyConfig",
    "SnapStart",
}


_WHY = {
    "Role": "IAM is not enforced locally",
    "Policies": "IAM is not enforced locally",
    "PermissionsBoundary": "IAM is not enforced locally",
    "VpcConfig": "functions reach this machine's network",
    "Tracing": "no X-Ray here",
    "TracingConfig": "no X-Ray here",
}


def function_url(config: Any) -> Any:
    """SAM's ``FunctionUrlConfig`` (Lambda's key names) as function.toml's ``[url]``; a value
    that is not a mapping is left for ``[url]``'s own check to report."""
    if not isinstance(config, Mapping):
        return config
    snake = {"AuthType": "auth_type", "InvokeMode": "invoke_mode", "Cors": "cors"}
    out = {snake.get(k, k): v for k, v in config.items()}
    cors = out.get("cors")
    if isinstance(cors, Mapping):
        out["cors"] = {re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower(): v for k, v in cors.items()}
    return out


def function_name(ctx: TemplateContext, logical_id: str) -> str:
    return ctx.stack.local_name(logical_id)


def build(ctx: TemplateContext, logical_id: str) -> FunctionConfig:
    """The function resource ``logical_id`` as a validated config; ``ConfigError`` if not."""
    stack, resource = ctx.stack, ctx.stack.resources[logical_id]
    base: KeyPath = ("Resources", logical_id, "Properties")
    props, where = _merged_properties(ctx, logical_id, resource)
    data: dict[str, Any] = {}
    # function.toml key path -> where it came from in the template
    origin: dict[KeyPath, KeyPath] = {}
    notes: list[str] = []

    def value(prop: str) -> Any:
        return stack.resolve(props[prop], where[prop])

    for prop in [p for p in props if p in _HANDLED and _is_if(props[p])]:
        if value(prop) is NO_VALUE:  # !If [Cond, X, !Ref AWS::NoValue]: as if not given
            del props[prop]

    name = function_name(ctx, logical_id)
    if not NAME_RE.fullmatch(name):
        at = where.get("FunctionName", ("Resources", logical_id))
        raise ctx.error(at, "a function name is 1 to 64 letters, digits, hyphens or underscores")
    data["name"] = name
    if resource.get("Type") == "AWS::Lambda::Function" or "PackageType" in props:
        package = value("PackageType") if "PackageType" in props else "Zip"
        if package != "Zip":
            raise ctx.error(
                where["PackageType"], "container image functions are not run here; accepted: Zip"
            )
    for prop, key in _SIMPLE.items():
        if prop in props:
            data[key] = number(value(prop)) if key in _INTEGERS else value(prop)
            origin[(key,)] = where[prop]
    if "EphemeralStorage" in props:
        storage = value("EphemeralStorage")
        size = storage.get("Size") if isinstance(storage, Mapping) else storage
        data["ephemeral_storage"] = number(size)
        origin[("ephemeral_storage",)] = where["EphemeralStorage"]
    if "LoggingConfig" in props:
        _logging(ctx, value("LoggingConfig"), where["LoggingConfig"], data, origin, notes)
    environment(ctx, logical_id, name, props, where, data, origin, value)
    folder = code_folder(ctx, logical_id, resource, props, where, data, value)
    layers(ctx, props, where, data, origin, notes, value)
    async_config(ctx, logical_id, props, where, data, origin, notes, value)
    events(ctx, logical_id, props, where, data, origin, notes)
    if "FunctionUrlConfig" in props:
        data["url"] = function_url(value("FunctionUrlConfig"))
        origin[("url",)] = where["FunctionUrlConfig"]
    if "Architectures" in props:
        arch = value("Architectures")
        here = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
            platform.machine().lower(), platform.machine()
        )
        if isinstance(arch, list) and arch and arch != [here]:
            notes.append(f"Architectures {', '.join(map(str, arch))}: runs on {here} here")
    for prop in props:
        if prop not in _HANDLED:
            why = _WHY.get(prop)
            notes.append(f"{prop}: not run here" + (f" ({why})" if why else ""))
    alias, deployment = auto_publish(ctx, props, where, notes, value)
    _warm_start(ctx, props, where, data, origin, notes, value, alias)
    if ctx.built:
        notes.insert(0, f"from the built template {ctx.file} (run `sam build` again to update)")

    def locate(path: KeyPath) -> tuple[int | None, str]:
        for end in range(len(path), 0, -1):
            if path[:end] in origin:
                at, rest = origin[path[:end]], path[end:]
                while rest and _has(ctx.raw, (*at, rest[0])):  # Variables.NAME is in the template
                    at, rest = (*at, rest[0]), rest[1:]
                key = dotted(at) + (f" ({dotted_key(rest)})" if rest else "")
                return line_of(ctx.raw, at), key
        return line_of(ctx.raw, base), dotted(base)

    return build_function(
        data,
        folder,
        ctx.file,
        locate=locate,
        resource=logical_id,
        notes=tuple(notes),
        auto_publish_alias=alias,
        deployment=deployment,
        account_limit=ctx.account_limit,
    )


def _warm_start(
    ctx: TemplateContext,
    props: Mapping[str, Any],
    where: Mapping[str, KeyPath],
    data: dict[str, Any],
    origin: dict[KeyPath, KeyPath],
    notes: list[str],
    value: Any,
    alias: str | None,
) -> None:
    """``SnapStart`` -> ``snap_start``; SAM's ``ProvisionedConcurrencyConfig``, which applies to
    the ``AutoPublishAlias``, -> ``provisioned_concurrency = { alias = N }``."""
    if "SnapStart" in props:
        snap = value("SnapStart")
        data["snap_start"] = snap.get("ApplyOn", "None") if isinstance(snap, Mapping) else snap
        origin[("snap_start",)] = where["SnapStart"]
    if "ProvisionedConcurrencyConfig" not in props:
        return
    at = where["ProvisionedConcurrencyConfig"]
    config = value("ProvisionedConcurrencyConfig")
    count = config.get("ProvisionedConcurrentExecutions") if isinstance(config, Mapping) else None
    if count is None:
        raise ctx.error(at, "must be a mapping with ProvisionedConcurrentExecutions")
    if alias is None:
        notes.append(
            "ProvisionedConcurrencyConfig: not run here (SAM applies it to the "
            "AutoPublishAlias, and there is none)"
        )
        return
    data["provisioned_concurrency"] = {alias: number(count)}
    origin[("provisioned_concurrency",)] = at


# LoggingConfig's properties -> function.toml keys (checked there, errors located here)
_LOGGING = {
    "LogFormat": "logging_format",
    "ApplicationLogLevel": "application_log_level",
    "SystemLogLevel": "system_log_level",
}


def _logging(
    ctx: TemplateContext,
    config: Any,
    at: KeyPath,
    data: dict[str, Any],
    origin: dict[KeyPath, KeyPath],
    notes: list[str],
) -> None:
    """``LoggingConfig`` onto function.toml's logging keys; ``LogGroup`` is only a note."""
    if not isinstance(config, Mapping):
        raise ctx.error(at, "must be a mapping (LogFormat, ApplicationLogLevel, SystemLogLevel)")
    for prop, item in config.items():
        key = _LOGGING.get(prop)
        if key is not None:
            data[key] = item
            origin[(key,)] = (*at, prop)
        elif prop == "LogGroup":
            notes.append("LoggingConfig.LogGroup: not run here (logs stay in the workbench)")
        else:
            accepted = ", ".join([*_LOGGING, "LogGroup"])
            raise ctx.error((*at, prop), f"unknown property; accepted: {accepted}")


def _is_if(raw: Any) -> bool:
    return isinstance(raw, Mapping) and len(raw) == 1 and "Fn::If" in raw


def _has(raw: Any, path: KeyPath) -> bool:
    node = raw
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _merged_properties(
    ctx: TemplateContext, logical_id: str, resource: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, KeyPath]]:
    """The resource's properties with ``Globals.Function`` under them (SAM functions only):
    a function's value wins, ``Environment.Variables`` merge, ``Layers`` add up."""
    base: KeyPath = ("Resources", logical_id, "Properties")
    props = resource.get("Properties") or {}
    if not isinstance(props, Mapping):
        raise ctx.error(base, "must be a mapping")
    merged: dict[str, Any] = {}
    where: dict[str, KeyPath] = {}
    if resource.get("Type") == "AWS::Serverless::Function":
        globals_ = (ctx.raw.get("Globals") or {}).get("Function") or {}
        if not isinstance(globals_, Mapping):
            raise ctx.error(("Globals", "Function"), "must be a mapping")
        for key, item in globals_.items():
            merged[key] = item
            where[key] = ("Globals", "Function", key)
    for key, item in props.items():
        mine: KeyPath = (*base, key)
        if key == "Environment" and isinstance(merged.get(key), Mapping):
            both = _plain_variables(merged[key]), _plain_variables(item)
            if both[0] is not None and both[1] is not None:
                item = {**item, "Variables": {**both[0], **both[1]}}
        elif key == "Layers" and isinstance(merged.get(key), list) and isinstance(item, list):
            item = [*merged[key], *item]
        merged[key] = item
        where[key] = mine
    return merged, where


def _plain_variables(environment: Any) -> dict[str, Any] | None:
    if isinstance(environment, Mapping):
        variables = environment.get("Variables") or {}
        if isinstance(variables, Mapping) and not (
            len(variables) == 1 and next(iter(variables)).startswith(("Fn::", "Ref"))
        ):
            return dict(variables)
    return None
