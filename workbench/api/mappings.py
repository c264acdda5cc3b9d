"""Create/Get/Update/Delete/ListEventSourceMappings onto the local queues.

A mapping is a ``type = "queue"`` trigger in its function's function.toml (written back as
UpdateFunctionConfiguration writes, comments kept), carrying its ``uuid``; a queue trigger
written by hand has a UUID derived from its function and queue, so every mapping is listed
and can be changed here. A template's mappings are its own (changed in the template).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator, Mapping

from aiohttp import web

from ..engine import Engine
from ..engine.model import InvalidParameterValue, ResourceConflict, ResourceNotFound
from . import functions, shapes, validation
from .keys import ENGINE

_QUEUE_ARN = re.compile(r"arn:aws[a-zA-Z-]*:sqs:([a-z0-9-]+):(\d{12}):([a-zA-Z0-9_-]+(?:\.fifo)?)")
_NAMESPACE = uuid.UUID("3f1d2c58-5b8e-4f7e-9a43-0c6f1e2d7b10")
# request fields → queue trigger keys
_FIELDS = {"BatchSize": "batch_size", "MaximumBatchingWindowInSeconds": "maximum_batching_window"}


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def _mapping_id(function: str, index: int, trigger: Mapping[str, object]) -> str:
    given = trigger.get("uuid")
    if isinstance(given, str):
        return given
    return str(uuid.uuid5(_NAMESPACE, f"{function}/{index}/{trigger.get('queue')}"))


def _all(engine: Engine) -> Iterator[tuple[str, int, str, Mapping[str, object]]]:
    """(function, trigger index, UUID, trigger) of every queue trigger."""
    for name, fn in engine.functions.items():
        for index, trigger in enumerate(fn.triggers):
            if trigger.get("type") == "queue":
                yield name, index, _mapping_id(name, index, trigger), trigger


def _find(engine: Engine, mapping_id: str) -> tuple[str, int, Mapping[str, object]]:
    for name, index, found, trigger in _all(engine):
        if found == mapping_id:
            return name, index, trigger
    # UNVERIFIED: Lambda's wording for an unknown mapping
    raise ResourceNotFound(
        f"The resource you requested does not exist. (Service: Lambda, UUID {mapping_id})"
    )


def _shape(
    engine: Engine, name: str, mapping_id: str, trigger: Mapping[str, object], state: str | None
) -> dict[str, object]:
    s = engine.settings
    enabled = trigger.get("enabled", True) is not False
    fn = engine.functions.get(name)
    try:
        modified = fn.config_file.stat().st_mtime if fn is not None else time.time()
    except OSError:
        modified = time.time()
    body: dict[str, object] = {
        "UUID": mapping_id,
        "BatchSize": trigger.get("batch_size", 10),
        "MaximumBatchingWindowInSeconds": trigger.get("maximum_batching_window", 0),
        "EventSourceArn": f"arn:aws:sqs:{s.region}:{s.account_id}:{trigger['queue']}",
        "FunctionArn": engine.arn(name),
        "LastModified": modified,
        "State": state or ("Enabled" if enabled else "Disabled"),
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": (
            ["ReportBatchItemFailures"] if trigger.get("report_batch_item_failures") else []
        ),
    }
    return body


def _settings(body: Mapping[str, object]) -> dict[str, object]:
    changes: dict[str, object] = {}
    for field, key in _FIELDS.items():
        if field in body:
            value = body[field]
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidParameterValue(f"{field} must be an integer")
            changes[key] = value
    if "Enabled" in body:
        if not isinstance(body["Enabled"], bool):
            raise InvalidParameterValue("Enabled must be true or false")
        changes["enabled"] = body["Enabled"]
    if "FunctionResponseTypes" in body:
        types = body["FunctionResponseTypes"]
        if not isinstance(types, list) or any(t != "ReportBatchItemFailures" for t in types):
            raise InvalidParameterValue(
                'FunctionResponseTypes must be [] or ["ReportBatchItemFailures"]'
            )
        changes["report_batch_item_failures"] = bool(types)
    unknown = sorted(
        k
        for k in body
        if k not in (*_FIELDS, "Enabled", "FunctionResponseTypes", "FunctionName", "EventSourceArn")
    )
    if unknown:
        raise InvalidParameterValue(
            f"The workbench cannot set {', '.join(unknown)} on a local queue mapping; it takes: "
            "FunctionName, EventSourceArn, Enabled, BatchSize, MaximumBatchingWindowInSeconds, "
            "FunctionResponseTypes"
        )
    return changes


async def _write_triggers(engine: Engine, name: str, triggers: list[dict[str, object]]) -> None:
    await engine.update_configuration(name, {"triggers": triggers or None})


def _function_name(engine: Engine, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidParameterValue("FunctionName is required (a name or an ARN)")
    name, _ = engine.resolve(validation.function_name(value, namespaced=False))
    engine.require_function(name)
    return name


async def create_mapping(request: web.Request) -> web.Response:
    engine = _engine(request)
    body = await functions.json_body(request)
    name = _function_name(engine, body.get("FunctionName"))
    arn = body.get("EventSourceArn")
    match = _QUEUE_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise InvalidParameterValue(
            f"EventSourceArn {arn!r}: the workbench maps local queues "
            "(arn:aws:sqs:REGION:ACCOUNT:NAME); other event sources are not run here"
        )
    if (match[1], match[2]) != (engine.settings.region, engine.settings.account_id):
        raise InvalidParameterValue(f"{arn} is not a queue of this workbench's Region and account")
    queue = match[3]
    for other, _, found, existing in _all(engine):
        if other == name and existing.get("queue") == queue:
            # UNVERIFIED: Lambda's wording for a duplicate mapping
            raise ResourceConflict(
                f'An event source mapping with SQS arn (" {arn} ") and function '
                f'(" {name} ") already exists. Please update or delete the existing mapping '
                f"with UUID {found}"
            )
    mapping_id = str(uuid.uuid4())
    new: dict[str, object] = {"type": "queue", "queue": queue, "uuid": mapping_id}
    new.update(_settings(body))
    fn = engine.latest(name)
    await _write_triggers(engine, name, [*map(dict, fn.triggers), new])
    _, _, written = _find(engine, mapping_id)
    return functions.json_response(
        _shape(engine, name, mapping_id, written, "Creating"), status=202
    )


async def get_mapping(request: web.Request) -> web.Response:
    engine = _engine(request)
    mapping_id = request.match_info["uuid"]
    name, _, trigger = _find(engine, mapping_id)
    return functions.json_response(_shape(engine, name, mapping_id, trigger, None))


async def update_mapping(request: web.Request) -> web.Response:
    engine = _engine(request)
    mapping_id = request.match_info["uuid"]
    name, index, _ = _find(engine, mapping_id)
    body = await functions.json_body(request)
    if "FunctionName" in body and _function_name(engine, body["FunctionName"]) != name:
        raise InvalidParameterValue(
            "The workbench keeps a mapping in its function's function.toml: delete it and "
            "create one for the other function"
        )
    triggers = [dict(t) for t in engine.latest(name).triggers]
    triggers[index] = {**triggers[index], "uuid": mapping_id, **_settings(body)}
    await _write_triggers(engine, name, triggers)
    _, _, written = _find(engine, mapping_id)
    return functions.json_response(
        _shape(engine, name, mapping_id, written, "Updating"), status=202
    )


async def delete_mapping(request: web.Request) -> web.Response:
    engine = _engine(request)
    mapping_id = request.match_info["uuid"]
    name, index, trigger = _find(engine, mapping_id)
    triggers = [dict(t) for t in engine.latest(name).triggers]
    del triggers[index]
    answer = _shape(engine, name, mapping_id, trigger, "Deleting")
    await _write_triggers(engine, name, triggers)
    return functions.json_response(answer, status=202)


async def list_mappings(request: web.Request) -> web.Response:
    engine = _engine(request)
    wanted = request.query.get("FunctionName")
    source = request.query.get("EventSourceArn")
    name = engine.resolve(wanted)[0] if wanted else None
    items = [
        _shape(engine, fn, found, trigger, None)
        for fn, _, found, trigger in _all(engine)
        if name is None or fn == name
    ]
    items = [i for i in items if source is None or i["EventSourceArn"] == source]
    page, marker = shapes.paginate(
        items,
        lambda item: [str(item["UUID"])],
        request.query.get("Marker"),
        request.query.get("MaxItems"),
    )
    return functions.json_response(shapes.page("EventSourceMappings", page, marker))
