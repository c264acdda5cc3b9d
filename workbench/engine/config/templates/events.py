"""A SAM function's ``Events`` (and CloudFormation's event source mappings) as ``[[triggers]]``.

Each supported event becomes the trigger table a ``function.toml`` would hold, so one validation
and one set of event sources serve both: ``Api`` → an HTTP route with payload 1.0, ``HttpApi`` →
2.0, ``S3`` → a bucket folder, ``SQS`` → a queue mapping, ``SNS`` → a topic subscription,
``Schedule`` / ``ScheduleV2`` → a schedule. Any other type is listed on the function as not run
here, never dropped without a word.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .intrinsics import KeyPath, Stack, TemplateError

SUPPORTED_EVENTS = ("Api", "HttpApi", "S3", "SQS", "SNS", "Schedule", "ScheduleV2")


def event_trigger(
    name: str, event: Any, stack: Stack, path: KeyPath
) -> tuple[dict[str, Any] | None, list[str]]:
    """The trigger table for one entry of ``Events`` (None if not run here) and its notes."""
    if not isinstance(event, Mapping):
        raise TemplateError(path, "must be a mapping with Type and Properties")
    kind = stack.resolve(event.get("Type"), (*path, "Type"))
    props_path = (*path, "Properties")
    props = stack.resolve(event.get("Properties") or {}, props_path)
    if not isinstance(props, Mapping):
        raise TemplateError(props_path, "must be a mapping")
    if kind not in SUPPORTED_EVENTS:
        return None, [f"event {name} ({kind}): not run here (runs: {', '.join(SUPPORTED_EVENTS)})"]
    notes: list[str] = []
    trigger: dict[str, Any]
    if kind in ("Api", "HttpApi"):
        path_value = props.get("Path")
        method = props.get("Method")
        if kind == "HttpApi" and path_value == "$default":
            path_value, method = None, None
        if kind == "HttpApi" and path_value is None and method is None:
            # the $default route; /{proxy+} is the nearest route key (it does not match "/")
            path_value, method = "/{proxy+}", "ANY"
        if path_value is None:
            raise TemplateError(props_path, "missing Path (e.g. /items/{id})")
        method = "ANY" if method in (None, "*", "any", "x-amazon-apigateway-any-method") else method
        fmt = "1.0" if kind == "Api" else str(props.get("PayloadFormatVersion", "2.0"))
        trigger = {"type": "http", "path": path_value, "method": str(method).upper()}
        trigger["payload_format"] = fmt
        for key in ("Auth", "RequestParameters", "RequestModel"):
            if key in props:
                notes.append(f"event {name}: {key} not applied here")
    elif kind == "S3":
        trigger = {"type": "s3", "bucket": _last(props.get("Bucket"), ":::"), "events": []}
        events = props.get("Events", ["s3:ObjectCreated:*"])
        trigger["events"] = [events] if isinstance(events, str) else events
        rules = ((props.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, Mapping) and str(rule.get("Name", "")).lower() in (
                "prefix",
                "suffix",
            ):
                trigger[str(rule["Name"]).lower()] = rule.get("Value", "")
    elif kind == "SQS":
        trigger = {"type": "queue", "queue": queue_name(props.get("Queue"))}
        _copy(props, trigger, "BatchSize", "batch_size")
        _copy(props, trigger, "MaximumBatchingWindowInSeconds", "maximum_batching_window")
        if "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []):
            trigger["report_batch_item_failures"] = True
        _copy(props, trigger, "Enabled", "enabled")
        trigger.update(_queue_settings(stack, props.get("Queue")))
        for key in ("FilterCriteria", "ScalingConfig"):
            if key in props:
                notes.append(f"event {name}: {key} not applied here")
    elif kind == "SNS":
        trigger = {"type": "sns", "topic": _last(props.get("Topic"), ":")}
        for key in ("FilterPolicy", "SqsSubscription"):
            if key in props:
                notes.append(f"event {name}: {key} not applied here")
    else:  # Schedule, ScheduleV2
        key = "Schedule" if kind == "Schedule" else "ScheduleExpression"
        trigger = {"type": "schedule", "expression": props.get(key)}
        if "Input" in props:
            try:
                trigger["input"] = json.loads(str(props["Input"]))
            except json.JSONDecodeError as e:
                raise TemplateError((*props_path, "Input"), f"must be a JSON string: {e}") from None
        if "Name" in props:
            trigger["name"] = props["Name"]
        if "Enabled" in props:
            trigger["enabled"] = props["Enabled"]
        if "State" in props:
            trigger["enabled"] = str(props["State"]).upper() == "ENABLED"
        for key in ("ScheduleExpressionTimezone", "FlexibleTimeWindow", "StartDate", "EndDate"):
            if key in props:
                notes.append(f"event {name}: {key} not applied here (schedules run in UTC)")
    return trigger, notes


def _queue_settings(stack: Stack, queue: Any) -> dict[str, Any]:
    """A template queue's own settings (visibility timeout, redrive to a dead-letter queue), as
    the queue trigger takes them: the local queue is created with them."""
    logical_id = stack.referenced("AWS::SQS::Queue").get(str(queue))
    return {} if logical_id is None else queue_settings(stack, logical_id)


def queue_settings(stack: Stack, logical_id: str) -> dict[str, Any]:
    """``visibility_timeout``, ``dead_letter_queue`` and ``max_receive_count`` of an
    ``AWS::SQS::Queue`` resource, where it sets them."""
    path: KeyPath = ("Resources", logical_id, "Properties")
    props = stack.resolve(stack.resources[logical_id].get("Properties") or {}, path)
    settings: dict[str, Any] = {}
    _copy(props, settings, "VisibilityTimeout", "visibility_timeout")
    redrive = props.get("RedrivePolicy")
    if isinstance(redrive, str):
        try:
            redrive = json.loads(redrive)
        except json.JSONDecodeError:
            raise TemplateError((*path, "RedrivePolicy"), "must be a mapping or JSON") from None
    if isinstance(redrive, Mapping) and "deadLetterTargetArn" in redrive:
        settings["dead_letter_queue"] = queue_name(redrive["deadLetterTargetArn"])
        _copy(redrive, settings, "maxReceiveCount", "max_receive_count")
    return settings


def queue_name(value: Any) -> Any:
    """A queue's name from its ARN or URL (what ``!GetAtt Q.Arn`` / ``!Ref Q`` give)."""
    if isinstance(value, str) and value.startswith("https://"):
        return value.rstrip("/").rsplit("/", 1)[-1]
    return _last(value, ":")


def _last(value: Any, separator: str) -> Any:
    """The name at the end of an ARN (a bare name is kept as it is)."""
    if isinstance(value, str) and value.startswith("arn:"):
        return value.rsplit(separator, 1)[-1]
    return value


def _copy(props: Mapping[str, Any], trigger: dict[str, Any], key: str, to: str) -> None:
    if key in props:
        value = props[key]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        elif isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        trigger[to] = value
