"""Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s): a function's ``[async]`` table.

The settings are the function.toml's own (written back as UpdateFunctionConfiguration writes,
comments kept), so they apply to ``$LATEST`` and are published with it: a configuration for a
version or an alias alone has no place here and is refused by name. Destinations are a local
function or queue (``function:NAME`` / ``queue:NAME`` in function.toml) given as their ARNs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web

from ..engine import Engine
from ..engine.model import InvalidParameterValue, ResourceNotFound, ValidationError, violation
from ..engine.registry import LATEST
from . import functions
from .keys import ENGINE

_FUNCTION_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:([a-zA-Z0-9_-]+)")
_QUEUE_ARN = re.compile(r"arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:\d{12}:([a-zA-Z0-9_-]+(?:\.fifo)?)")
_FIELDS = {
    "MaximumRetryAttempts": ("maximum_retry_attempts", "maximumRetryAttempts", 0, 2),
    "MaximumEventAgeInSeconds": ("maximum_event_age", "maximumEventAgeInSeconds", 60, 21600),
}
_DESTINATIONS = {"OnSuccess": "on_success", "OnFailure": "on_failure"}


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def _function(request: web.Request) -> str:
    engine = _engine(request)
    name, qualifier = functions.function_and_qualifier(request)
    engine.require_function(name)
    if qualifier not in (None, LATEST):
        raise InvalidParameterValue(
            f"The workbench keeps one event-invoke config per function, in its function.toml "
            f"([async]), for $LATEST and the versions published from it; give no Qualifier "
            f"(or $LATEST), not {qualifier}"
        )
    return name


def _destination_arn(engine: Engine, target: str) -> str:
    kind, _, name = target.partition(":")
    s = engine.settings
    if kind == "queue":
        return f"arn:aws:sqs:{s.region}:{s.account_id}:{name}"
    return engine.arn(name)


def _shape(engine: Engine, name: str) -> dict[str, object]:
    fn = engine.latest(name)
    settings = fn.async_config
    if not settings:
        # UNVERIFIED: Lambda's wording when a function has no event-invoke config
        raise ResourceNotFound(f"The function {engine.arn(name)} doesn't have an EventInvokeConfig")
    try:
        modified = fn.config_file.stat().st_mtime
    except OSError:
        modified = 0.0
    body: dict[str, object] = {"LastModified": modified, "FunctionArn": engine.arn(name, LATEST)}
    for field, (key, *_rest) in _FIELDS.items():
        if key in settings:
            body[field] = settings[key]
    destinations = {
        field: {"Destination": _destination_arn(engine, str(settings[key]))}
        for field, key in _DESTINATIONS.items()
        if key in settings
    }
    body["DestinationConfig"] = destinations
    return body


def _changes(body: Mapping[str, object]) -> dict[str, object | None]:
    """The ``[async]`` keys a request sets (None: cleared)."""
    found = []
    changes: dict[str, object | None] = {}
    for field, (key, model_field, low, high) in _FIELDS.items():
        if field not in body:
            continue
        value = body[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameterValue(f"{field} must be an integer")
        if value < low:
            found.append(
                violation(
                    value, model_field, f"Member must have value greater than or equal to {low}"
                )
            )
        elif value > high:
            found.append(
                violation(
                    value, model_field, f"Member must have value less than or equal to {high}"
                )
            )
        changes[key] = value
    if found:
        raise ValidationError.of(found)
    config = body.get("DestinationConfig")
    if config is not None:
        if not isinstance(config, Mapping):
            raise InvalidParameterValue("DestinationConfig must be {OnSuccess, OnFailure}")
        for field, key in _DESTINATIONS.items():
            target = config.get(field)
            arn = target.get("Destination") if isinstance(target, Mapping) else None
            changes[key] = _local_target(arn) if arn else None
    return changes


def _local_target(arn: object) -> str:
    text = str(arn)
    if match := _FUNCTION_ARN.fullmatch(text):
        return f"function:{match[1]}"
    if match := _QUEUE_ARN.fullmatch(text):
        return f"queue:{match[1]}"
    raise InvalidParameterValue(
        f"The destination {text} is not one the workbench can deliver to: give a function's "
        "ARN (arn:aws:lambda:…:function:NAME) or a local queue's (arn:aws:sqs:…:NAME)"
    )


async def _write(engine: Engine, name: str, settings: Mapping[str, object | None]) -> None:
    table = {k: v for k, v in settings.items() if v is not None}
    await engine.update_configuration(name, {"async": table or None})


async def put_config(request: web.Request) -> web.Response:
    """Put replaces the whole configuration (fields not given are cleared)."""
    engine = _engine(request)
    name = _function(request)
    changes = _changes(await functions.json_body(request))
    await _write(engine, name, changes)
    return functions.json_response(_shape(engine, name))


async def update_config(request: web.Request) -> web.Response:
    """Update changes only the fields given."""
    engine = _engine(request)
    name = _function(request)
    changes = _changes(await functions.json_body(request))
    await _write(engine, name, {**engine.latest(name).async_config, **changes})
    return functions.json_response(_shape(engine, name))


async def get_config(request: web.Request) -> web.Response:
    engine = _engine(request)
    return functions.json_response(_shape(engine, _function(request)))


async def delete_config(request: web.Request) -> web.Response:
    engine = _engine(request)
    name = _function(request)
    _shape(engine, name)  # 404 when there is none
    await _write(engine, name, {})
    return web.Response(status=204)


async def list_configs(request: web.Request) -> web.Response:
    engine = _engine(request)
    name = _function(request)
    configs = [_shape(engine, name)] if engine.latest(name).async_config else []
    return functions.json_response({"FunctionEventInvokeConfigs": configs})
