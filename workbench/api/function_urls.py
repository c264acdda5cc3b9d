"""Function URL configs and recursion config on the Lambda API:
Create/Get/Update/Delete/ListFunctionUrlConfig(s) (``/2021-10-31/functions/{name}/url``) and
Put/GetFunctionRecursionConfig (``/2024-08-31/functions/{name}/recursion-config``).

Shapes and errors as botocore's service model has them. The qualifier of a URL is an alias (the
model's ``FunctionUrlQualifier`` refuses a version number, and ``$LATEST`` by its pattern) or
none. A URL from function.toml (or a template) is the file's: Create for the same target is a
409, Update and Delete are refused with a message saying to edit the file.
"""

from __future__ import annotations

import datetime as dt
import re

from aiohttp import web

from ..engine import Engine
from ..engine.config import (
    FunctionUrls,
    UrlConfigError,
    UrlEntry,
    recursive_loop,
    url_from_api,
)
from ..engine.model import InvalidParameterValue, ResourceConflict, ResourceNotFound
from . import functions, resources, validation
from .keys import ENGINE

_QUALIFIER_RE = re.compile(r"(?!^\d+$)^[0-9a-zA-Z-_]{1,128}$")  # FunctionUrlQualifier


def urls_of(engine: Engine) -> FunctionUrls:
    """The engine's function URLs, as loaded now (the HTTP trigger server uses it too)."""
    settings = engine.settings
    return FunctionUrls(
        engine.functions,
        resources.meta_of(engine),
        account_id=settings.account_id,
        region=settings.region,
    )


def _iso(epoch: float) -> str:
    # UNVERIFIED: Lambda's CreationTime is ISO 8601; the precision of its fraction is a guess
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shape(engine: Engine, entry: UrlEntry, *, modified: bool = True) -> dict[str, object]:
    """``FunctionUrlConfig`` as Get/Update/List return it (Create has no LastModifiedTime)."""
    config = entry.config
    out: dict[str, object] = {
        "FunctionUrl": entry.url(engine.settings.region, engine.settings.http_port),
        "FunctionArn": engine.arn(entry.function, entry.qualifier),
        "AuthType": config.auth_type,
    }
    if config.cors is not None:
        out["Cors"] = config.cors.to_api()
    out["CreationTime"] = _iso(entry.created)
    if modified:
        out["LastModifiedTime"] = _iso(entry.modified)
    out["InvokeMode"] = config.invoke_mode
    return out


def _target(request: web.Request) -> tuple[Engine, str, str | None]:
    engine: Engine = request.app[ENGINE]
    function = validation.function_name(request.match_info["function"], namespaced=False)
    raw = request.query.get("Qualifier") or None
    name, qualifier = engine.resolve(function, raw)
    if qualifier is not None:
        if not _QUALIFIER_RE.match(qualifier):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
            )
    engine.require_function(name)
    if qualifier is not None:
        engine.alias(name, qualifier)  # Lambda's 404 for an alias that does not exist
    return engine, name, qualifier


def _config(body: dict[str, object], base: UrlEntry | None = None) -> object:
    try:
        return url_from_api(body, base.config if base else None)
    except UrlConfigError as e:
        raise InvalidParameterValue(f"{e.key} {e.message}") from None


def _not_found(engine: Engine, name: str, qualifier: str | None) -> ResourceNotFound:
    # UNVERIFIED: Lambda's wording for a function without a URL config
    return ResourceNotFound(
        f"The resource you requested does not exist. (no function URL config for "
        f"{engine.arn(name, qualifier)})"
    )


def _filed(entry: UrlEntry) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"The function URL of {entry.function} is set in {entry.origin} ([url] or "
        "FunctionUrlConfig); change or remove it there"
    )


async def create_url(request: web.Request) -> web.Response:
    engine, name, qualifier = _target(request)
    body = await functions.json_body(request)
    config = _config(body)
    urls = urls_of(engine)
    if urls.get(name, qualifier) is not None:
        raise ResourceConflict(
            f"Failed to create function url config for [functionArn = "
            f"{engine.arn(name, qualifier)}]. Error message:  FunctionUrlConfig exists for this "
            "Lambda function"
        )
    entry = urls.put(name, qualifier, config, new=True)  # type: ignore[arg-type]
    return functions.json_response(shape(engine, entry, modified=False), status=201)


async def get_url(request: web.Request) -> web.Response:
    engine, name, qualifier = _target(request)
    entry = urls_of(engine).get(name, qualifier)
    if entry is None:
        raise _not_found(engine, name, qualifier)
    return functions.json_response(shape(engine, entry))


def _api_entry(engine: Engine, name: str, qualifier: str | None) -> UrlEntry:
    """The URL config the API may change: one that exists and was made through the API."""
    entry = urls_of(engine).get(name, qualifier)
    if entry is None:
        raise _not_found(engine, name, qualifier)
    if entry.origin != "API":
        raise _filed(entry)
    return entry


async def update_url(request: web.Request) -> web.Response:
    engine, name, qualifier = _target(request)
    body = await functions.json_body(request)
    urls = urls_of(engine)
    entry = _api_entry(engine, name, qualifier)
    config = _config(body, entry)
    entry = urls.put(name, qualifier, config, new=False)  # type: ignore[arg-type]
    return functions.json_response(shape(engine, entry))


async def delete_url(request: web.Request) -> web.Response:
    engine, name, qualifier = _target(request)
    _api_entry(engine, name, qualifier)
    urls_of(engine).delete(name, qualifier)
    return web.Response(status=204)


async def list_urls(request: web.Request) -> web.Response:
    engine: Engine = request.app[ENGINE]
    name, qualifier = engine.resolve(
        validation.function_name(request.match_info["function"], namespaced=False)
    )
    engine.require_function(name)
    entries = urls_of(engine).of(name)
    start = 0
    marker = request.query.get("Marker")
    if marker:
        try:
            start = int(marker)
        except ValueError:
            raise InvalidParameterValue(f"Marker {marker!r} is not one this API gave") from None
    size = 50
    if "MaxItems" in request.query:
        try:
            size = int(request.query["MaxItems"])
        except ValueError:
            size = 0
        if not 1 <= size <= 50:
            raise InvalidParameterValue("MaxItems must be an integer from 1 to 50")
    page = entries[start : start + size]
    out: dict[str, object] = {"FunctionUrlConfigs": [shape(engine, e) for e in page]}
    if start + size < len(entries):
        out["NextMarker"] = str(start + size)
    return functions.json_response(out)


# ----------------------------------------------------------------------------- recursion


def _function(request: web.Request) -> tuple[Engine, str]:
    engine: Engine = request.app[ENGINE]
    name, qualifier = engine.resolve(
        validation.function_name(request.match_info["function"], namespaced=False)
    )
    if qualifier:
        raise InvalidParameterValue("The recursion config applies to a function, not a version")
    engine.require_function(name)
    return engine, name


async def put_recursion(request: web.Request) -> web.Response:
    engine, name = _function(request)
    body = await functions.json_body(request)
    try:
        value = recursive_loop(body.get("RecursiveLoop"), "RecursiveLoop")
    except UrlConfigError as e:
        raise InvalidParameterValue(f"{e.key} {e.message}") from None
    urls_of(engine).put_recursive_loop(name, value)
    return functions.json_response({"RecursiveLoop": value})


async def get_recursion(request: web.Request) -> web.Response:
    engine, name = _function(request)
    return functions.json_response({"RecursiveLoop": urls_of(engine).recursive_loop(name)})
