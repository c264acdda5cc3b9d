"""The control plane for aliases: Create/Get/Update/Delete/ListAliases with RoutingConfig."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from ..engine import Engine
from ..engine.model import InvalidParameterValue, PreconditionFailed
from . import shapes, validation
from .functions import json_body, json_response
from .keys import ENGINE


def _target(request: web.Request) -> tuple[Engine, str]:
    engine: Engine = request.app[ENGINE]
    function = validation.function_name(request.match_info["function"], namespaced=False)
    name, _ = engine.resolve(function)
    return engine, name


def _alias(request: web.Request) -> str:
    return validation.alias_name(request.match_info["alias"])


def _routing(engine: Engine, name: str, body: Mapping[str, object]) -> Mapping[str, object] | None:
    config = body.get("RoutingConfig")
    if config is None:
        return None
    if not isinstance(config, dict):
        raise InvalidParameterValue('RoutingConfig must be {"AdditionalVersionWeights": {...}}')
    weights = config.get("AdditionalVersionWeights", {})
    if not isinstance(weights, dict):
        raise InvalidParameterValue("AdditionalVersionWeights must be a map of version to weight")
    validation.routing_weights(engine, name, weights)
    return weights


def _version(engine: Engine, name: str, body: Mapping[str, object]) -> str | None:
    version = _text(body, "FunctionVersion")
    return None if version is None else validation.function_version(engine, name, version)


def _text(body: Mapping[str, object], field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise InvalidParameterValue(f"{field} must be a string")
    return value


async def create_alias(request: web.Request) -> web.Response:
    engine, name = _target(request)
    body = await json_body(request)
    alias, version = _text(body, "Name"), _version(engine, name, body)
    if not alias or not version:
        raise InvalidParameterValue("CreateAlias needs Name and FunctionVersion")
    created = engine.create_alias(
        name,
        alias,  # the registry checks the name
        version,
        routing=_routing(engine, name, body),
        description=_text(body, "Description") or "",
    )
    return json_response(shapes.alias_configuration(engine, created), status=201)


async def get_alias(request: web.Request) -> web.Response:
    engine, name = _target(request)
    alias = engine.alias(name, _alias(request))
    return json_response(shapes.alias_configuration(engine, alias))


async def update_alias(request: web.Request) -> web.Response:
    engine, name = _target(request)
    alias_name = _alias(request)
    body = await json_body(request)
    revision = _text(body, "RevisionId")
    if revision is not None and revision != engine.alias(name, alias_name).revision_id:
        raise PreconditionFailed.stale_revision()
    updated = engine.update_alias(
        name,
        alias_name,
        version=_version(engine, name, body),
        routing=_routing(engine, name, body),
        description=_text(body, "Description"),
    )
    return json_response(shapes.alias_configuration(engine, updated))


async def delete_alias(request: web.Request) -> web.Response:
    engine, name = _target(request)
    engine.delete_alias(name, _alias(request))
    return web.Response(status=204)


async def list_aliases(request: web.Request) -> web.Response:
    engine, name = _target(request)
    aliases = engine.aliases(name)
    version = request.query.get("FunctionVersion")
    if version is not None:
        validation.check(version, "functionVersion", validation.FUNCTION_VERSION)
        # Lambda lists the aliases whose primary version it is, not those that route a share
        # of their traffic to it
        aliases = [a for a in aliases if a.function_version == version]
    page, marker = shapes.paginate(
        aliases, lambda a: [a.name], request.query.get("Marker"), request.query.get("MaxItems")
    )
    shown = [shapes.alias_configuration(engine, a) for a in page]
    return json_response(shapes.page("Aliases", shown, marker))
