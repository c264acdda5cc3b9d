"""The deploy API: CreateFunction, UpdateFunctionCode, DeleteFunction (botocore's Lambda model).

A function created here is kept in the state dir (``ApiFunctions``: its zip, the zip extracted,
a ``function.toml``) and rediscovered like a folder's, so it runs exactly as folder functions
do and survives restarts. Only API functions take new code from here: a folder's or a
template's code is its files, edited where they are.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from ..engine import Engine
from ..engine.config import ApiFunctions, FunctionMeta
from ..engine.model import (
    InvalidParameterValue,
    InvalidRequestContent,
    RequestTooLarge,
    ResourceConflict,
)
from ..engine.registry import LATEST, is_version_number
from . import functions, layers, validation
from .keys import ENGINE

# Lambda takes a request of up to this size for CreateFunction / UpdateFunctionCode (a 50 MiB
# zip, base64-encoded); past it, RequestEntityTooLargeException (413) "Request must be smaller
# than 69905067 bytes for the CreateFunction operation" (Lambda's wording in public reports)
DEPLOY_BODY_LIMIT = 69905067

# CreateFunction fields with a function.toml key (as UpdateFunctionConfiguration's)
_SETTINGS = (
    "Description",
    "Timeout",
    "MemorySize",
    "Handler",
    "Runtime",
    "Environment",
    "EphemeralStorage",
    "SnapStart",
    "LoggingConfig",
)
# fields with no local meaning that every deployment tool sends: accepted, not kept
_IGNORED = (
    "Role",
    "Architectures",
    "PackageType",
    "Tags",
    "TracingConfig",
    "FunctionName",
    "Code",
    "Publish",
    "Layers",
)


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def store_of(engine: Engine) -> ApiFunctions:
    store = engine.hot_reload.api
    assert store is not None  # wiring always gives the engine one
    return store


async def read_body(request: web.Request, operation: str) -> dict[str, object]:
    big = request.clone(client_max_size=DEPLOY_BODY_LIMIT)
    try:
        return await functions.json_body(big)
    except web.HTTPRequestEntityTooLarge:
        raise RequestTooLarge(
            f"Request must be smaller than {DEPLOY_BODY_LIMIT} bytes for the {operation} operation"
        ) from None


def zip_bytes(engine: Engine, body: Mapping[str, object], where: str) -> bytes:
    """The deployment package ``body`` names: ``ZipFile`` (base64 in the JSON), or
    ``S3Bucket``/``S3Key``: the file ``<root>/buckets/<bucket>/<key>`` of a root."""
    if "ImageUri" in body:
        raise InvalidParameterValue(
            "The workbench runs .zip deployment packages; a container image (ImageUri) cannot "
            "be run here"
        )
    zip_file = body.get("ZipFile")
    if zip_file is not None:
        if not isinstance(zip_file, str):
            raise InvalidRequestContent(f"{where}ZipFile must be a base64-encoded string")
        try:
            return base64.b64decode(zip_file, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestContent(f"{where}ZipFile is not valid base64") from None
    bucket, key = body.get("S3Bucket"), body.get("S3Key")
    if isinstance(bucket, str) and isinstance(key, str) and bucket and key:
        for root in engine.roots:
            folder = (root / "buckets" / bucket).resolve()
            path = (folder / key).resolve()
            if path.is_relative_to(folder) and path.is_file():
                return path.read_bytes()
        # Lambda's wording for a missing object UNVERIFIED
        places = ", ".join(str(root / "buckets" / bucket / key) for root in engine.roots)
        raise InvalidParameterValue(
            f"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The "
            f"specified key does not exist. (bucket {bucket}, key {key}: looked for {places})"
        )
    raise InvalidParameterValue(
        f"{where}Please provide a source for function code: ZipFile, or S3Bucket and S3Key "
        "(a file under <root>/buckets/<bucket>/)"
    )


def _settings(engine: Engine, body: Mapping[str, object]) -> dict[str, object]:
    """The function.toml keys of a CreateFunction body; anything else is refused by name."""
    unknown = [k for k in body if k not in _SETTINGS and k not in _IGNORED]
    if unknown:
        raise InvalidParameterValue(
            f"The workbench cannot set {', '.join(sorted(unknown))} on a local function; it "
            f"takes: {', '.join(_SETTINGS + _IGNORED)}"
        )
    changes = functions.config_changes({k: v for k, v in body.items() if k in _SETTINGS})
    if body.get("Layers"):
        changes["layers"] = layers.layer_folders(engine, body["Layers"])
    return {k: v for k, v in changes.items() if v is not None}


async def _configuration(engine: Engine, name: str) -> dict[str, object]:
    return await functions.configuration(engine, name, None)


async def create_function(request: web.Request) -> web.Response:
    engine = _engine(request)
    body = await read_body(request, "CreateFunction")
    name = body.get("FunctionName")
    if not isinstance(name, str):
        raise InvalidParameterValue("FunctionName is required (a name or an ARN)")
    name, _ = engine.resolve(validation.function_name(name, namespaced=False))
    if not isinstance(body.get("Runtime"), str) or not isinstance(body.get("Handler"), str):
        # UNVERIFIED: Lambda's wording when a .zip function lacks them
        raise InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with "
            "deployment packages."
        )
    validation.configuration_update(body)
    settings = _settings(engine, body)
    code = body.get("Code")
    if not isinstance(code, Mapping):
        raise InvalidParameterValue("Code is required: {ZipFile} or {S3Bucket, S3Key}")
    if engine.catalog.knows(name):
        raise ResourceConflict(f"Function already exist: {name}")
    store = store_of(engine)
    data = zip_bytes(engine, code, "Code.")
    digest = await asyncio.to_thread(store.store_zip, data)
    if engine.catalog.knows(name):  # created by another request while this one unzipped
        raise ResourceConflict(f"Function already exist: {name}")
    store.check(name, settings, digest, engine.settings.account_limit)
    engine.versioning.delete_function(name)  # a function of that name deleted earlier
    store.write(name, settings, digest)
    await _apply(engine, store, name)
    return await _answer(engine, name, body.get("Publish") is True, status=201)


async def update_function_code(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = functions.function_and_qualifier(request)
    if qualifier:
        raise InvalidParameterValue("Only $LATEST's code can be updated")
    body = await read_body(request, "UpdateFunctionCode")
    store = _require_api(engine, name, "have its code updated")
    await engine.check_revision(name, body.get("RevisionId"))
    data = zip_bytes(engine, body, "")
    if body.get("DryRun") is True:
        await asyncio.to_thread(store.store_zip, data)  # checked, kept unused
        return functions.json_response(await _configuration(engine, name))
    digest = await asyncio.to_thread(store.store_zip, data)
    store.set_code(name, digest)
    await _apply(engine, store, name)
    return await _answer(engine, name, body.get("Publish") is True, status=200)


async def delete_function(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = functions.function_and_qualifier(request)
    engine.require_function(name)
    if qualifier == LATEST:
        raise InvalidParameterValue(
            "$LATEST version cannot be deleted without deleting the function."
        )
    if qualifier is not None:
        if not is_version_number(qualifier):
            # UNVERIFIED: Lambda's wording for an alias given as DeleteFunction's qualifier
            raise InvalidParameterValue(
                f"Deletion of aliases is not supported: {qualifier} is an alias "
                "(DeleteAlias deletes it)"
            )
        validation.version_exists_or_404(engine, name, qualifier)
        engine.versioning.delete_version(name, int(qualifier))
        return web.Response(status=204)
    store = _require_api(engine, name, "deleted")
    store.delete(name)
    await _apply(engine, store, name)
    engine.versioning.delete_function(name)
    FunctionMeta(store.home).drop(name)  # its tags, policy, provisioned concurrency
    return web.Response(status=204)


def _require_api(engine: Engine, name: str, doing: str) -> ApiFunctions:
    store = store_of(engine)
    if not store.exists(name):
        engine.require_function(name)
        fn = engine.functions.get(name)
        where = fn.config_file if fn is not None else engine.problems[name].folder
        raise InvalidParameterValue(
            f"The function {name} is defined by {where}, not by the deploy API: it cannot be "
            f"{doing} through the API (change its files; they reload on save)"
        )
    return store


async def _apply(engine: Engine, store: ApiFunctions, name: str) -> None:
    """Rediscover, as a save of the function's function.toml would."""
    engine.reload([store.config_file(name), store.folder(name)])


async def _answer(engine: Engine, name: str, publish: bool, *, status: int) -> web.Response:
    if publish:
        version, _ = await engine.publish(name)
        return functions.json_response(
            functions.shapes.function_configuration(engine, version.config, version=version),
            status=status,
        )
    return functions.json_response(await _configuration(engine, name), status=status)


def stored_zip(engine: Engine, name: str) -> Path | None:
    """The zip an API function's ``$LATEST`` was uploaded as (GetFunction's Code.Location)."""
    store = store_of(engine)
    return store.zip_path(name) if store.exists(name) else None


def uploaded_code(engine: Engine, name: str) -> tuple[str, int] | None:
    """(CodeSha256, CodeSize) of the zip an API function's ``$LATEST`` was uploaded as: what
    Lambda reports, and what deployment tools compare with the zip they built."""
    path = stored_zip(engine, name)
    if path is None:
        return None
    try:
        size = path.stat().st_size
    except OSError:
        return None
    return base64.b64encode(bytes.fromhex(path.stem)).decode(), size
