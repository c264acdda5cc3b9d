"""Which templates a set of roots holds, and each one's functions (or what is wrong with it).

A root's ``template.yaml`` / ``template.yml`` / ``template.json`` (SAM's names, in its order),
its ``.aws-sam/build/template.yaml`` instead when ``sam build`` made one (as ``sam local``
does), each stack template a ``cdk.out/manifest.json`` lists, and every ``--template`` given.
One broken template, or one broken function in it, is a problem beside the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..function import ConfigError, FunctionConfig
from ..triggers.s3 import BUCKET_RE
from ..triggers.sns import TOPIC_NAME_RE
from .events import queue_settings
from .intrinsics import Stack, TemplateError
from .parse import load_template
from .resources import FUNCTION_TYPES, TemplateContext, build, function_name, reraise

TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")
BUILT_TEMPLATE = Path(".aws-sam") / "build" / "template.yaml"
CDK_OUT = "cdk.out"


@dataclass(frozen=True)
class TemplateOptions:
    """How templates are read: the ones given besides the roots', their parameters, and the
    environment-variable overrides (SAM's ``--env-vars`` JSON)."""

    files: tuple[Path, ...] = ()
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    env_vars: Path | None = None
    code_dir: Path | None = None  # where zips are extracted; default <first root>/.workbench
    region: str = "us-east-1"
    account_id: str = "123456789012"


@dataclass(frozen=True)
class TemplateFile:
    path: Path  # absolute
    stack_name: str
    built: bool = False
    given: bool = True  # named by --template or a cdk.out manifest, not found by its name


# what makes a mapping a CloudFormation template (a root's template.yaml may be another tool's)
CLOUDFORMATION_KEYS = ("Resources", "AWSTemplateFormatVersion", "Transform")


@dataclass
class TemplateProblem:
    """A function (or a whole template) that could not be loaded."""

    name: str
    where: Path  # the template
    error: ConfigError


@dataclass(frozen=True)
class QueueResource:
    """An ``AWS::SQS::Queue`` of a template: the engine creates it locally (if missing), so a
    handler can send to it before anything consumes it."""

    name: str
    visibility_timeout: int = 30
    dead_letter_queue: str | None = None
    max_receive_count: int | None = None


@dataclass
class Loaded:
    functions: list[FunctionConfig] = field(default_factory=list)
    problems: list[TemplateProblem] = field(default_factory=list)
    queues: dict[str, QueueResource] = field(default_factory=dict)
    topics: set[str] = field(default_factory=set)  # AWS::SNS::Topic names
    buckets: set[str] = field(default_factory=set)  # AWS::S3::Bucket names


def find_templates(roots: Sequence[Path], given: Sequence[Path]) -> list[TemplateFile]:
    found: list[TemplateFile] = []
    for root in roots:
        root = Path(root).resolve()
        for name in TEMPLATE_NAMES:
            if (root / name).is_file():
                built = root / BUILT_TEMPLATE
                if built.is_file():
                    found.append(TemplateFile(built, root.name, built=True))
                else:
                    found.append(TemplateFile(root / name, root.name, given=False))
                break
        found.extend(_cdk_templates(root / CDK_OUT))
    for path in given:
        path = Path(path).resolve()
        if path.is_dir():
            found.extend(_cdk_templates(path))
        else:
            found.append(TemplateFile(path, path.parent.name))
    unique: dict[Path, TemplateFile] = {}
    for template in found:  # once each; named with --template, it is meant as a template
        known = unique.get(template.path)
        if known is None or (template.given and not known.given):
            unique[template.path] = template
    return list(unique.values())


def _cdk_templates(cdk_out: Path) -> list[TemplateFile]:
    manifest = cdk_out / "manifest.json"
    if not manifest.is_file():
        return []
    try:
        artifacts = json.loads(manifest.read_text(encoding="utf-8")).get("artifacts") or {}
    except (OSError, ValueError, AttributeError):
        return [TemplateFile(manifest, CDK_OUT)]  # reported when loaded: not a template
    found = []
    for name, artifact in artifacts.items():
        if isinstance(artifact, dict) and artifact.get("type") == "aws:cloudformation:stack":
            template = (artifact.get("properties") or {}).get("templateFile")
            if isinstance(template, str):
                found.append(TemplateFile((cdk_out / template).resolve(), str(name)))
    return found


def load_all(roots: Sequence[Path], options: TemplateOptions, account_limit: int) -> Loaded:
    loaded = Loaded()
    code_dir = options.code_dir or Path(roots[0]).resolve() / ".workbench" / "template-code"
    env_vars: Mapping[str, Any] = {}
    if options.env_vars is not None:
        try:
            env_vars = read_env_vars(options.env_vars)
        except ConfigError as e:
            loaded.problems.append(TemplateProblem(options.env_vars.name, options.env_vars, e))
    for template in find_templates(roots, options.files):
        try:
            _load_one(template, options, env_vars, code_dir, account_limit, loaded)
        except ConfigError as e:
            loaded.problems.append(TemplateProblem(_shown(template.path), template.path, e))
    return loaded


def read_env_vars(path: Path) -> Mapping[str, Any]:
    """SAM's ``--env-vars`` file: ``{"Parameters": {...}, "LogicalId": {"VAR": "value"}}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise ConfigError(path, None, None, None, f"cannot read: {e.strerror or e}") from None
    except ValueError as e:
        line = getattr(e, "lineno", None)
        raise ConfigError(path, line, None, None, f"invalid JSON: {e}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(
            path,
            None,
            None,
            None,
            'must be {"Parameters": {"VAR": "value"}, "FunctionLogicalId": {"VAR": "value"}}',
        )
    return data


def _shown(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[-2:]) if parts[-2:-1] in (("cdk.out",), ("build",)) else path.name


def _load_one(
    template: TemplateFile,
    options: TemplateOptions,
    env_vars: Mapping[str, Any],
    code_dir: Path,
    account_limit: int,
    loaded: Loaded,
) -> None:
    raw = load_template(template.path)
    if not template.given and not any(key in raw for key in CLOUDFORMATION_KEYS):
        return  # another tool's template.yaml (no Resources, no format version): not ours
    stack = Stack(
        raw, options.parameter_overrides, options.region, options.account_id, template.stack_name
    )
    ctx = TemplateContext(
        stack, raw, template.path, code_dir, env_vars, account_limit, built=template.built
    )
    resources = raw.get("Resources")
    if not isinstance(resources, Mapping) or not resources:
        raise ctx.error(("Resources",), "a template needs a Resources mapping")
    _cross_resources(ctx, loaded)
    for logical_id, resource in resources.items():
        if isinstance(resource, Mapping) and resource.get("Type") in _LOCAL_RESOURCES:
            _local_resource(ctx, logical_id, resource, loaded)
        if not isinstance(resource, Mapping) or resource.get("Type") not in FUNCTION_TYPES:
            continue
        try:
            condition = resource.get("Condition")
            if condition is not None and not stack.condition(
                condition, ("Resources", logical_id, "Condition")
            ):
                continue  # not created, as in CloudFormation
            loaded.functions.append(build(ctx, logical_id))
        except TemplateError as e:
            error = reraise(ctx, e)
            loaded.problems.append(TemplateProblem(_name(ctx, logical_id), ctx.file, error))
        except ConfigError as e:
            loaded.problems.append(TemplateProblem(_name(ctx, logical_id), ctx.file, e))


_LOCAL_RESOURCES = ("AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::S3::Bucket")


def _local_resource(
    ctx: TemplateContext, logical_id: str, resource: Mapping[str, Any], loaded: Loaded
) -> None:
    """A queue, topic or bucket of the template, to create locally as a deployed stack has it
    (one a function's event names reports its problems there; this one is only created)."""
    try:
        condition = resource.get("Condition")
        path = ("Resources", logical_id, "Condition")
        if condition is not None and not ctx.stack.condition(condition, path):
            return
        name = ctx.stack.local_name(logical_id)
        kind = resource.get("Type")
        if kind == "AWS::SQS::Queue":
            queue = QueueResource(name, **queue_settings(ctx.stack, logical_id))
            loaded.queues.setdefault(name, queue)
        elif kind == "AWS::SNS::Topic" and TOPIC_NAME_RE.fullmatch(name):
            loaded.topics.add(name)
        elif kind == "AWS::S3::Bucket" and BUCKET_RE.fullmatch(name):
            loaded.buckets.add(name)
    except (TemplateError, TypeError):
        return


def _name(ctx: TemplateContext, logical_id: str) -> str:
    try:
        return function_name(ctx, logical_id)
    except TemplateError:
        return logical_id


def _cross_resources(ctx: TemplateContext, loaded: Loaded) -> None:
    """Resources that configure a function from outside it (CDK writes these): event source
    mappings onto SQS queues, and event-invoke configs. A broken one is a problem of its own."""
    stack = ctx.stack
    functions = {
        _name(ctx, logical_id): logical_id
        for logical_id in stack.resources
        if stack.resource_type(logical_id) in FUNCTION_TYPES
    }
    for logical_id, resource in stack.resources.items():
        kind = stack.resource_type(logical_id)
        if kind not in ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"):
            continue
        path = ("Resources", logical_id, "Properties")
        try:
            props = stack.resolve(resource.get("Properties") or {}, path)
        except TemplateError as e:
            loaded.problems.append(TemplateProblem(logical_id, ctx.file, reraise(ctx, e)))
            continue
        if not isinstance(props, dict):
            continue
        target = str(props.get("FunctionName", ""))
        target = target.split(":function:", 1)[-1].split(":", 1)[0]
        function = functions.get(target)
        if function is None:
            continue  # a function of another stack
        if kind == "AWS::Lambda::EventInvokeConfig":
            ctx.extra_async[function] = (path, props)
            continue
        source = str(props.get("EventSourceArn", ""))
        if not source.startswith("arn:aws:sqs:"):
            ctx.extra_notes.setdefault(function, []).append(
                f"{logical_id} (event source {source or '?'}): not run here (runs: SQS)"
            )
            continue
        trigger: dict[str, Any] = {"type": "queue", "queue": source.rsplit(":", 1)[-1]}
        for key, to in (
            ("BatchSize", "batch_size"),
            ("MaximumBatchingWindowInSeconds", "maximum_batching_window"),
            ("Enabled", "enabled"),
        ):
            if key in props:
                trigger[to] = props[key]
        if "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []):
            trigger["report_batch_item_failures"] = True
        ctx.extra_triggers.setdefault(function, []).append((path, trigger))
