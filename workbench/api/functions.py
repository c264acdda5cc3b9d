"""The control plane for functions: list, get, configure, publish, concurrency, account.

Each handler is one operation of botocore's Lambda model (LAMBDA_REFERENCE §4), with its URI,
status code and output shape. Settings are written back into the function's ``function.toml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web

from ..engine import Engine, FunctionConfig, Version
from ..engine.config import RESERVED_CONCURRENCY, SNAP_START_VALUES, range_violation
from ..engine.model import (
    InvalidParameterValue,
    InvalidRequestContent,
    ValidationError,
)
from ..engine.registry import LATEST, MAX_UNZIPPED_BYTES, is_version_number
from . import deploy, layers, logging_shape, shapes, validation
from .keys import ENGINE

# UpdateFunctionConfiguration fields the workbench can write, and their function.toml keys.
# Others (VpcConfig, Role, KMSKeyArn, Layers by ARN, …) have no local meaning: refused by name.
_SETTABLE = {
    "Description": "description",
    "Timeout": "timeout",
    "MemorySize": "memory_size",
    "Handler": "handler",
    "Runtime": "runtime",
    "Environment": "environment",
    "EphemeralStorage": "ephemeral_storage",
    "SnapStart": "snap_start",
    "LoggingConfig": "logging_format",  # and the levels: logging_shape.changes
}


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json"
    )


async def json_body(request: web.Request) -> dict[str, object]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidRequestContent(f"Could not parse request body into json: {e}") from None
    except RecursionError:
        # Lambda's wording for JSON nested too deeply to parse UNVERIFIED
        raise InvalidRequestContent(
            "Could not parse request body into json: arrays and objects nest too deeply"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequestContent("The request body must be a JSON object")
    return body


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def _name(request: web.Request, *, namespaced: bool = False) -> tuple[str, str | None]:
    """The function's name (from a name or ARN) and any qualifier in it or in ``?Qualifier``,
    both checked against the operation's model (``namespaced``: see ``validation``)."""
    function = validation.function_name(request.match_info["function"], namespaced=namespaced)
    qualifier = validation.qualifier(request.query.get("Qualifier") or None)
    return _engine(request).resolve(function, qualifier)


function_and_qualifier = _name  # for the deploy API's handlers


def _published(engine: Engine, name: str, qualifier: str | None) -> Version | None:
    """The published version ``qualifier`` names (a number, or an alias's primary version);
    None for ``$LATEST``. Unknown functions, versions and aliases are Lambda's 404."""
    engine.require_function(name)
    if not qualifier or qualifier == LATEST:
        return None
    if not is_version_number(qualifier):
        qualifier = engine.alias(name, qualifier).function_version
    if qualifier == LATEST:
        return None
    validation.version_exists_or_404(engine, name, qualifier)
    return engine.version(name, int(qualifier))


async def configuration(engine: Engine, name: str, qualifier: str | None) -> dict[str, object]:
    """The FunctionConfiguration of ``name`` at ``qualifier`` ($LATEST, a version or an alias)."""
    version = _published(engine, name, qualifier)
    if version is not None:
        return shapes.function_configuration(engine, version.config, version=version)
    problem = engine.problems.get(name)
    if problem is not None:
        return shapes.failed_configuration(engine, name, problem)
    fn = engine.functions[name]
    config = shapes.function_configuration(engine, fn, code=await engine.latest_code(name))
    uploaded = deploy.uploaded_code(engine, name) if fn.from_api else None
    if uploaded is not None:  # the zip's own digest, as Lambda reports it
        config["CodeSha256"], config["CodeSize"] = uploaded
    return config


async def list_functions(request: web.Request) -> web.Response:
    engine = _engine(request)
    listed = request.query.get("FunctionVersion")
    if listed is not None and listed != "ALL":
        raise ValidationError.constraint(
            listed, "functionVersion", "Member must satisfy enum value set: [ALL]"
        )
    everything = listed == "ALL"
    items: list[tuple[str, str]] = []
    for name in sorted({*engine.functions, *engine.problems}):
        items.append((name, LATEST))
        if everything:
            items += [(name, str(v.number)) for v in engine.versions(name)]
    page, marker = shapes.paginate(
        items,
        lambda item: [item[0], shapes.version_order(item[1])],
        request.query.get("Marker"),
        request.query.get("MaxItems"),
    )
    functions = [shapes.listed(await configuration(engine, n, q)) for n, q in page]
    return json_response(shapes.page("Functions", functions, marker))


async def get_function(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = _name(request, namespaced=True)
    config = await configuration(engine, name, qualifier)
    location = request.url.with_path(f"/workbench/code/{name}").with_query(
        {"Qualifier": str(config["Version"])}
    )
    body: dict[str, object] = {
        "Configuration": config,
        "Code": {"RepositoryType": "S3", "Location": str(location)},
    }
    fn = engine.functions.get(name)
    if fn is not None and fn.reserved_concurrency is not None:
        body["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
    return json_response(body)


async def get_configuration(request: web.Request) -> web.Response:
    name, qualifier = _name(request, namespaced=True)
    return json_response(await configuration(_engine(request), name, qualifier))


def config_changes(body: Mapping[str, object]) -> dict[str, object | None]:
    changes: dict[str, object | None] = {}
    for field, value in body.items():
        if field == "RevisionId":
            continue
        key = _SETTABLE.get(field)
        if key is None:
            raise InvalidParameterValue(
                f"The workbench cannot set {field} on a local function; "
                f"it can set: {', '.join(_SETTABLE)}"
            )
        if field == "Environment":
            variables = value.get("Variables", {}) if isinstance(value, dict) else None
            if not isinstance(variables, dict):
                raise InvalidParameterValue('Environment must be {"Variables": {NAME: value}}')
            value = variables
        elif field == "EphemeralStorage":
            value = value.get("Size") if isinstance(value, dict) else None
            if value is None:
                raise InvalidParameterValue('EphemeralStorage must be {"Size": MB}')
        elif field == "SnapStart":
            value = value.get("ApplyOn", "None") if isinstance(value, dict) else None
            if value not in SNAP_START_VALUES:
                raise InvalidParameterValue(
                    'SnapStart must be {"ApplyOn": "PublishedVersions"} or {"ApplyOn": "None"}'
                )
        elif field == "LoggingConfig":
            changes.update(logging_shape.changes(value))
            continue
        changes[key] = value
    return changes


async def update_configuration(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = _name(request)
    if qualifier:
        raise InvalidParameterValue("Only $LATEST's configuration can be updated")
    body = await json_body(request)
    validation.configuration_update(body)
    revision = body.get("RevisionId")
    changes = config_changes({k: v for k, v in body.items() if k != "Layers"})
    if "Layers" in body:  # version ARNs of layers published here ([] removes them)
        changes["layers"] = layers.layer_folders(engine, body["Layers"]) or None
    await engine.update_configuration(
        name,
        changes,
        revision_id=revision if isinstance(revision, str) else None,
    )
    return json_response(await configuration(engine, name, None))


async def publish_version(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, _ = _name(request)
    body = await json_body(request)
    latest = await engine.latest_code(name)
    expected_sha = body.get("CodeSha256")
    uploaded = deploy.uploaded_code(engine, name)
    shown = uploaded[0] if uploaded is not None else latest.code_sha256
    if expected_sha is not None and expected_sha not in (latest.code_sha256, shown):
        raise InvalidParameterValue(
            f"CodeSha256 ({expected_sha}) is different from current CodeSha256 in $LATEST "
            f"({shown}). Please try again."
        )
    await engine.check_revision(name, body.get("RevisionId"))
    description = body.get("Description")
    version, _ = await engine.publish(name, description if isinstance(description, str) else None)
    return json_response(
        shapes.function_configuration(engine, version.config, version=version), status=201
    )


async def list_versions(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, _ = _name(request, namespaced=True)
    items: list[str] = [LATEST, *(str(v.number) for v in engine.versions(name))]
    page, marker = shapes.paginate(
        items,
        lambda q: [shapes.version_order(q)],
        request.query.get("Marker"),
        request.query.get("MaxItems"),
    )
    versions = [await configuration(engine, name, q) for q in page]
    return json_response(shapes.page("Versions", versions, marker))


# --------------------------------------------------------------------------- concurrency


async def put_concurrency(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, _ = _name(request)
    body = await json_body(request)
    value = body.get("ReservedConcurrentExecutions")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValue("ReservedConcurrentExecutions must be an integer")
    field, low = RESERVED_CONCURRENCY
    if (found := range_violation(value, field, low, None)) is not None:
        raise ValidationError.of([found])
    await engine.put_reserved_concurrency(name, value)
    return json_response({"ReservedConcurrentExecutions": value})


async def get_concurrency(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, _ = _name(request)
    value = engine.reserved_concurrency(name)
    return json_response({} if value is None else {"ReservedConcurrentExecutions": value})


async def delete_concurrency(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, _ = _name(request)
    await engine.delete_reserved_concurrency(name)
    return web.Response(status=204)


async def account_settings(request: web.Request) -> web.Response:
    engine = _engine(request)
    sizes = []
    for name in engine.functions:
        sizes.append((await engine.latest_code(name)).code_size)
        sizes += [v.code_size for v in engine.versions(name)]
    return json_response(
        {
            "AccountLimit": {
                "CodeSizeUnzipped": MAX_UNZIPPED_BYTES,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": engine.settings.account_limit,
                "TotalCodeSize": 80530636800,
                "UnreservedConcurrentExecutions": engine.unreserved_concurrency,
            },
            "AccountUsage": {
                "FunctionCount": len(engine.functions) + len(engine.problems),
                "TotalCodeSize": sum(sizes),
            },
        }
    )


# --------------------------------------------------------------------------- code download


async def code_zip(request: web.Request) -> web.StreamResponse:
    """GetFunction's ``Code.Location``: the function's package, as the zip a publish stores."""
    engine = _engine(request)
    name, qualifier = _name(request, namespaced=True)
    version = _published(engine, name, qualifier)
    if version is not None:
        return web.FileResponse(engine.code_zip_path(version))
    uploaded = deploy.stored_zip(engine, name)
    if uploaded is not None:  # created through the deploy API: the very bytes uploaded
        return web.FileResponse(uploaded, headers={"Content-Type": "application/zip"})
    fn: FunctionConfig = engine.latest(name)
    data = await engine.latest_zip(fn)
    return web.Response(body=data, content_type="application/zip")
