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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..function import NAME_RE, ConfigError, FunctionConfig, KeyPath, build_function, dotted_key
from .code import CodeError, inline_code, local_code
from .events import event_trigger, queue_name
from .intrinsics import Stack, TemplateError, dotted
from .parse import line_of

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
# property -> function.toml key, for the plain values
_SIMPLE = {
    "Handler": "handler",
    "Runtime": "runtime",
    "MemorySize": "memory_size",
    "Timeout": "timeout",
    "Description": "description",
    "ReservedConcurrentExecutions": "reserved_concurrency",
}
Props = dict[str, Any]  # a resource's properties, Globals merged in, not yet resolved
Where = dict[str, KeyPath]  # property -> its path in the template
Data = dict[str, Any]  # function.toml's keys
Origin = dict[KeyPath, KeyPath]  # function.toml key path -> template path
Value = Callable[[str], Any]  # a property, resolved
ALIAS_NAME_RE = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]+")
# SAM's deployment types; the shifting itself is reload/auto_publish.py's
DEPLOYMENT_RE = re.compile(
    r"AllAtOnce|Canary(\d{1,2})Percent(\d{1,3})Minutes?|Linear(\d{1,2})PercentEvery(\d{1,3})Minutes?"
)
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
    "Layers",
    "DeadLetterQueue",
    "DeadLetterConfig",
    "EventInvokeConfig",
    "Architectures",
    "AutoPublishAlias",
    "DeploymentPreference",
}
_WHY = {
    "ProvisionedConcurrencyConfig": "environments start on demand here",
    "FunctionUrlConfig": "route it with an HttpApi event instead",
    "LoggingConfig": "logs are Lambda's text format here",
    "Role": "IAM is not enforced locally",
    "Policies": "IAM is not enforced locally",
    "PermissionsBoundary": "IAM is not enforced locally",
    "VpcConfig": "functions reach this machine's network",
    "Tracing": "no X-Ray here",
    "TracingConfig": "no X-Ray here",
}


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
            data[key] = _number(value(prop)) if key in _INTEGERS else value(prop)
            origin[(key,)] = where[prop]
    if "EphemeralStorage" in props:
        storage = value("EphemeralStorage")
        size = storage.get("Size") if isinstance(storage, Mapping) else storage
        data["ephemeral_storage"] = _number(size)
        origin[("ephemeral_storage",)] = where["EphemeralStorage"]
    _environment(ctx, logical_id, name, props, where, data, origin, value)
    folder = _code_folder(ctx, logical_id, resource, props, where, data, value)
    _layers(ctx, props, where, data, origin, notes, value)
    _async(ctx, logical_id, props, where, data, origin, notes, value)
    _events(ctx, logical_id, props, where, data, origin, notes)
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
    alias, deployment = _auto_publish(ctx, props, where, notes, value)
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


def _has(raw: Any, path: KeyPath) -> bool:
    node = raw
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _auto_publish(
    ctx: TemplateContext, props: Props, where: Where, notes: list[str], value: Value
) -> tuple[str | None, str | None]:
    """``AutoPublishAlias`` (checked as Lambda checks an alias name) and the
    ``DeploymentPreference`` type that shifts it (AllAtOnce, CanaryXPercentYMinutes,
    LinearXPercentEveryYMinutes; hooks and alarms are not run here)."""
    alias = value("AutoPublishAlias") if "AutoPublishAlias" in props else None
    if alias is not None and not (
        isinstance(alias, str) and len(alias) <= 128 and ALIAS_NAME_RE.fullmatch(alias)
    ):
        raise ctx.error(
            where["AutoPublishAlias"],
            "an alias name is 1 to 128 letters, digits, - and _, and not all digits",
            alias,
        )
    if "DeploymentPreference" not in props:
        return alias, None
    preference = value("DeploymentPreference")
    at = where["DeploymentPreference"]
    if not isinstance(preference, Mapping):
        raise ctx.error(at, "must be a mapping with Type")
    if alias is None:
        raise ctx.error(at, "needs AutoPublishAlias (the alias it shifts)")
    for key in ("Hooks", "Alarms", "TriggerConfigurations", "Role", "PassthroughCondition"):
        if key in preference:
            notes.append(f"DeploymentPreference {key}: not run here")
    if preference.get("Enabled") in (False, "false", "False"):
        return alias, None
    kind = preference.get("Type")
    if not isinstance(kind, str) or not DEPLOYMENT_RE.fullmatch(kind):
        raise ctx.error(
            (*at, "Type"),
            "must be AllAtOnce, Canary<N>Percent<M>Minutes or Linear<N>PercentEvery<M>Minutes "
            "(e.g. Canary10Percent5Minutes, Linear10PercentEvery1Minute)",
            kind,
        )
    return alias, None if kind == "AllAtOnce" else kind


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


def _number(value: Any) -> Any:
    """CloudFormation takes numbers as strings too (parameters always are)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _environment(
    ctx: TemplateContext,
    logical_id: str,
    name: str,
    props: Props,
    where: Where,
    data: Data,
    origin: Origin,
    value: Value,
) -> None:
    variables: dict[str, Any] = {}
    if "Environment" in props:
        environment = value("Environment")
        if not isinstance(environment, Mapping):
            raise ctx.error(where["Environment"], "must be a mapping with Variables")
        variables = dict(environment.get("Variables") or {})
        origin[("environment",)] = (*where["Environment"], "Variables")
    # --env-vars (SAM's format): Parameters for every function, then the function's own;
    # as in `sam local`, only variables the template declares are overridden
    for scope in ("Parameters", logical_id, name):
        overrides = ctx.env_vars.get(scope)
        if isinstance(overrides, Mapping):
            for key, item in overrides.items():
                if key in variables:
                    variables[key] = item
    if variables or "Environment" in props:
        data["environment"] = {k: _env_text(v) for k, v in variables.items()}


def _env_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value  # a non-string is reported by the environment check


def _code_folder(
    ctx: TemplateContext,
    logical_id: str,
    resource: Mapping[str, Any],
    props: Props,
    where: Where,
    data: Data,
    value: Value,
) -> Path:
    """Where the function's code is (see code.py); CDK's asset metadata wins over Code."""
    base = ctx.file.parent
    try:
        asset = (resource.get("Metadata") or {}).get("aws:asset:path")
        if isinstance(asset, str) and (resource.get("Metadata") or {}).get(
            "aws:asset:property", "Code"
        ) in ("Code", "CodeUri"):
            return local_code(asset, base, ctx.code_dir)
        if "InlineCode" in props:
            return inline_code(str(value("InlineCode")), str(data.get("runtime", "")), ctx.code_dir)
        if "Code" in props:
            code = value("Code")
            if isinstance(code, str):
                return local_code(code, base, ctx.code_dir)
            if isinstance(code, Mapping) and "ZipFile" in code:
                return inline_code(str(code["ZipFile"]), str(data.get("runtime", "")), ctx.code_dir)
            if isinstance(code, Mapping) and "ImageUri" in code:
                raise CodeError("container image functions are not run here; accepted: Zip")
            raise CodeError(
                "code in S3 (S3Bucket/S3Key) is not run here; accepted: ZipFile (inline), a "
                "local path (as `aws cloudformation package` reads it), or a CDK asset"
            )
        uri = value("CodeUri") if "CodeUri" in props else "."  # as sam local defaults it
        if isinstance(uri, Mapping):
            raise CodeError(
                "code in S3 (Bucket/Key) is not run here; accepted: a local folder or .zip "
                "(relative to the template)"
            )
        return local_code(str(uri), base, ctx.code_dir)
    except CodeError as e:
        prop = next((p for p in ("InlineCode", "Code", "CodeUri") if p in props), None)
        at = where[prop] if prop else ("Resources", logical_id)
        raise ctx.error(at, str(e)) from None


def layer_folder(ctx: TemplateContext, logical_id: str) -> Path:
    resource = ctx.stack.resources[logical_id]
    path: KeyPath = ("Resources", logical_id, "Properties")
    props = resource.get("Properties") or {}
    base = ctx.file.parent
    try:
        asset = (resource.get("Metadata") or {}).get("aws:asset:path")
        if isinstance(asset, str):
            return local_code(asset, base, ctx.code_dir)
        prop = "ContentUri" if "ContentUri" in props else "Content"
        content = ctx.stack.resolve(props.get(prop), (*path, prop))
        if not isinstance(content, str):
            raise CodeError(
                f"{prop}: a layer in S3 is not run here; accepted: a local folder or .zip"
            )
        return local_code(content, base, ctx.code_dir)
    except CodeError as e:
        raise ctx.error(path, str(e)) from None


def _layers(
    ctx: TemplateContext,
    props: Props,
    where: Where,
    data: Data,
    origin: Origin,
    notes: list[str],
    value: Value,
) -> None:
    if "Layers" not in props:
        return
    layers = value("Layers")
    if not isinstance(layers, list):
        raise ctx.error(where["Layers"], "must be a list of layer ARNs (e.g. !Ref MyLayer)")
    local = {
        ctx.stack.arn(logical_id): logical_id
        for logical_id in ctx.stack.resources
        if ctx.stack.resource_type(logical_id) in LAYER_TYPES
    }
    folders = []
    for arn in layers:
        logical_id = local.get(str(arn))
        if logical_id is None:
            notes.append(
                f"layer {arn}: not in this template, not run here (the function runs without it)"
            )
            continue
        folders.append(str(layer_folder(ctx, logical_id)))
    data["layers"] = folders
    origin[("layers",)] = where["Layers"]


def _destination(target: Any) -> str | None:
    """``queue:NAME`` / ``function:NAME`` for an SQS or Lambda ARN; None for others."""
    if not isinstance(target, str):
        return None
    if target.startswith("arn:aws:sqs:") or target.startswith("https://sqs."):
        return f"queue:{queue_name(target)}"
    if target.startswith("arn:aws:lambda:") and ":function:" in target:
        return "function:" + target.split(":function:", 1)[1].split(":", 1)[0]
    return None


def _async(
    ctx: TemplateContext,
    logical_id: str,
    props: Props,
    where: Where,
    data: Data,
    origin: Origin,
    notes: list[str],
    value: Value,
) -> None:
    config: dict[str, Any] = {}
    for prop in ("DeadLetterQueue", "DeadLetterConfig"):
        if prop in props:
            dlq = value(prop)
            target = dlq.get("TargetArn") if isinstance(dlq, Mapping) else None
            destination = _destination(target)
            if destination is None:
                notes.append(f"{prop} {target}: only an SQS queue is run here")
            else:
                config["on_failure"] = destination
                origin[("async",)] = where[prop]
    invoke_configs = []
    if "EventInvokeConfig" in props:
        invoke_configs.append((where["EventInvokeConfig"], value("EventInvokeConfig")))
    if logical_id in ctx.extra_async:
        invoke_configs.append(ctx.extra_async[logical_id])
    for at, settings in invoke_configs:
        if not isinstance(settings, Mapping):
            raise ctx.error(at, "must be a mapping")
        origin[("async",)] = at
        if "MaximumRetryAttempts" in settings:
            config["maximum_retry_attempts"] = _number(settings["MaximumRetryAttempts"])
        if "MaximumEventAgeInSeconds" in settings:
            config["maximum_event_age"] = _number(settings["MaximumEventAgeInSeconds"])
        for when, key in (("OnSuccess", "on_success"), ("OnFailure", "on_failure")):
            target = ((settings.get("DestinationConfig") or {}).get(when) or {}).get("Destination")
            if target is None:
                continue
            destination = _destination(target)
            if destination is None:
                notes.append(f"EventInvokeConfig {when} {target}: only SQS and Lambda run here")
            else:
                config[key] = destination
    if config:
        data["async"] = config


def _events(
    ctx: TemplateContext,
    logical_id: str,
    props: Props,
    where: Where,
    data: Data,
    origin: Origin,
    notes: list[str],
) -> None:
    triggers: list[dict[str, Any]] = []
    if "Events" in props:
        events = props["Events"]
        if not isinstance(events, Mapping):
            raise ctx.error(where["Events"], "must be a mapping of event name to event")
        for name, event in events.items():
            path = (*where["Events"], name)
            trigger, event_notes = event_trigger(name, event, ctx.stack, path)
            notes.extend(event_notes)
            if trigger is not None:
                origin[("triggers", len(triggers))] = path
                triggers.append(trigger)
    for path, trigger in ctx.extra_triggers.get(logical_id, []):
        origin[("triggers", len(triggers))] = path
        triggers.append(trigger)
    notes.extend(ctx.extra_notes.get(logical_id, []))
    if triggers:
        data["triggers"] = triggers
        origin.setdefault(("triggers",), where.get("Events", ("Resources", logical_id)))


def reraise(ctx: TemplateContext, error: TemplateError) -> ConfigError:
    return ctx.error(error.path, error.message)
