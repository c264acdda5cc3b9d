"""The properties of a function resource that take more than a copy into ``function.toml``'s
keys: its code, environment (with ``--env-vars``), layers, ``[async]`` settings, events, and
``AutoPublishAlias`` with its ``DeploymentPreference``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .code import CodeError, inline_code, local_code
from .context import (
    LAYER_TYPES,
    Data,
    Origin,
    Props,
    TemplateContext,
    Value,
    Where,
    number,
)
from .events import event_trigger, queue_name
from .intrinsics import KeyPath

ALIAS_NAME_RE = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]+")


# SAM's deployment types; the shifting itself is reload/auto_publish.py's
DEPLOYMENT_RE = re.compile(
    r"AllAtOnce|Canary(\d{1,2})Percent(\d{1,3})Minutes?|Linear(\d{1,2})PercentEvery(\d{1,3})Minutes?"
)


def auto_publish(
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


def environment(
    ctx: TemplateContext,
    logical_id: str,
    name: str,
    props: Props,
    where: Where,
    data: Data,
    origin: Origin,
    value: Value,
) -> None:
    """``Environment.Variables`` (Globals merged), then ``--env-vars`` over the declared ones."""
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


def code_folder(
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
    """Where a layer resource's content is (a folder, a zip, a CDK asset)."""
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


def layers(
    ctx: TemplateContext,
    props: Props,
    where: Where,
    data: Data,
    origin: Origin,
    notes: list[str],
    value: Value,
) -> None:
    """``Layers``: the template's own layer resources as folders; others listed as not run."""
    if "Layers" not in props:
        return
    layers = value("Layers")
    if not isinstance(layers, list):
        raise ctx.error(where["Layers"], "must be a list of layer ARNs (e.g. !Ref MyLayer)")
    local = ctx.stack.referenced(*LAYER_TYPES)
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


def async_config(
    ctx: TemplateContext,
    logical_id: str,
    props: Props,
    where: Where,
    data: Data,
    origin: Origin,
    notes: list[str],
    value: Value,
) -> None:
    """Dead-letter targets and ``EventInvokeConfig`` (property or resource) as ``[async]``."""
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
            config["maximum_retry_attempts"] = number(settings["MaximumRetryAttempts"])
        if "MaximumEventAgeInSeconds" in settings:
            config["maximum_event_age"] = number(settings["MaximumEventAgeInSeconds"])
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


def events(
    ctx: TemplateContext,
    logical_id: str,
    props: Props,
    where: Where,
    data: Data,
    origin: Origin,
    notes: list[str],
) -> None:
    """``Events`` (and the event source mappings that name the function) as triggers."""
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
