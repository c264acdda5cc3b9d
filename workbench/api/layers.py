"""Layers through the deploy API: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers,
ListLayerVersions, DeleteLayerVersion (botocore's Lambda model), and a function's ``Layers``
given as those versions' ARNs (CreateFunction, UpdateFunctionConfiguration).

A published version is a folder in the state dir (``ApiLayers``): a function that names its ARN
gets that folder in its ``layers``, merged at /opt as any layer folder is.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from ..engine import Engine
from ..engine.config import LAYER_ARN_RE, ApiLayers, LayerVersion
from ..engine.model import InvalidParameterValue, ResourceNotFound, ValidationError
from ..engine.registry import lambda_timestamp
from . import deploy, functions, shapes
from .keys import ENGINE

_LAYER_NAME = r"[a-zA-Z0-9_-]+"
_MAX_LAYERS = 5  # Lambda's limit on a function's layers


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def store(engine: Engine) -> ApiLayers:
    return ApiLayers(deploy.store_of(engine))


def layer_arn(engine: Engine, name: str) -> str:
    s = engine.settings
    return f"arn:aws:lambda:{s.region}:{s.account_id}:layer:{name}"


def _name(request: web.Request) -> str:
    """``{LayerName}``: a name or a layer ARN (without version), as the model allows."""
    value = request.match_info["layer"]
    match = LAYER_ARN_RE.fullmatch(value + ":1") if value.startswith("arn:") else None
    if match is not None:
        return match["name"]
    if not re.fullmatch(_LAYER_NAME, value) or len(value) > 140:
        raise ValidationError.constraint(
            value, "layerName", f"Member must satisfy regular expression pattern: {_LAYER_NAME}"
        )
    return value


def _number(request: web.Request) -> int:
    value = request.match_info["version"]
    if not value.isdigit():
        raise ValidationError.constraint(
            value, "versionNumber", "Member must satisfy regular expression pattern: [0-9]+"
        )
    return int(value)


def _shape(engine: Engine, request: web.Request, v: LayerVersion) -> dict[str, object]:
    location = request.url.with_path(f"/workbench/layer-code/{v.name}/{v.version}").with_query(None)
    body: dict[str, object] = {
        "Content": {
            "Location": str(location),
            "CodeSha256": shapes.base64_sha(v.digest),
            "CodeSize": v.code_size,
        },
        "LayerArn": layer_arn(engine, v.name),
        "LayerVersionArn": f"{layer_arn(engine, v.name)}:{v.version}",
        "Description": v.description,
        "CreatedDate": lambda_timestamp(v.created),
        "Version": v.version,
        "CompatibleRuntimes": list(v.compatible_runtimes),
        "CompatibleArchitectures": list(v.compatible_architectures),
    }
    if v.license_info is not None:
        body["LicenseInfo"] = v.license_info
    return body


def _strings(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameterValue(f"{field} must be a list of strings")
    return tuple(value)


async def publish_layer_version(request: web.Request) -> web.Response:
    engine = _engine(request)
    name = _name(request)
    body = await deploy.read_body(request, "PublishLayerVersion")
    content = body.get("Content")
    if not isinstance(content, dict):
        raise InvalidParameterValue("Content is required: {ZipFile} or {S3Bucket, S3Key}")
    data = deploy.zip_bytes(engine, content, "Content.")
    description = body.get("Description", "")
    license_info = body.get("LicenseInfo")
    version = await asyncio.to_thread(
        store(engine).publish,
        name,
        data,
        description=description if isinstance(description, str) else "",
        runtimes=_strings(body.get("CompatibleRuntimes"), "CompatibleRuntimes"),
        architectures=_strings(body.get("CompatibleArchitectures"), "CompatibleArchitectures"),
        license_info=license_info if isinstance(license_info, str) else None,
    )
    return functions.json_response(_shape(engine, request, version), status=201)


def _require(engine: Engine, name: str, number: int) -> LayerVersion:
    found = store(engine).get(name, number)
    if found is None:
        # UNVERIFIED: Lambda's wording for a layer version that does not exist
        raise ResourceNotFound("The resource you requested does not exist.")
    return found


async def get_layer_version(request: web.Request) -> web.Response:
    engine = _engine(request)
    version = _require(engine, _name(request), _number(request))
    return functions.json_response(_shape(engine, request, version))


async def list_layers(request: web.Request) -> web.Response:
    """ListLayers, or GetLayerVersionByArn (the same path with ``?find=LayerVersion``)."""
    engine = _engine(request)
    if request.query.get("find") == "LayerVersion":
        name, number = resolve_arn(engine, request.query.get("Arn", ""))
        return functions.json_response(_shape(engine, request, _require(engine, name, number)))
    runtime = request.query.get("CompatibleRuntime")
    layers: list[dict[str, object]] = []
    for name in store(engine).names():
        matching = [
            v
            for v in store(engine).versions(name)
            if runtime is None or runtime in v.compatible_runtimes
        ]
        if matching:
            latest = _shape(engine, request, matching[0])
            del latest["Content"], latest["LayerArn"]
            layers.append(
                {
                    "LayerName": name,
                    "LayerArn": layer_arn(engine, name),
                    "LatestMatchingVersion": latest,
                }
            )
    page, marker = shapes.paginate(
        layers,
        lambda item: [str(item["LayerName"])],
        request.query.get("Marker"),
        request.query.get("MaxItems"),
    )
    return functions.json_response(shapes.page("Layers", page, marker))


async def list_layer_versions(request: web.Request) -> web.Response:
    engine = _engine(request)
    name = _name(request)
    runtime = request.query.get("CompatibleRuntime")
    versions = []
    for v in store(engine).versions(name):
        if runtime is None or runtime in v.compatible_runtimes:
            shape = _shape(engine, request, v)
            del shape["Content"], shape["LayerArn"]
            versions.append(shape)
    page, marker = shapes.paginate(
        versions,
        lambda item: [-int(str(item["Version"]))],
        request.query.get("Marker"),
        request.query.get("MaxItems"),
    )
    return functions.json_response(shapes.page("LayerVersions", page, marker))


async def delete_layer_version(request: web.Request) -> web.Response:
    """As on Lambda, deleting a version that is not there succeeds; functions that use it keep
    their copy (here: the folder stays while a function's layers name it)."""
    engine = _engine(request)
    name, number = _name(request), _number(request)
    version = store(engine).get(name, number)
    if version is not None:
        in_use = any(version.content in fn.layers for fn in engine.functions.values())
        store(engine).delete(name, number, keep_content=in_use)
    return web.Response(status=204)


async def layer_code(request: web.Request) -> web.StreamResponse:
    """A layer version's ``Content.Location``: the zip as published."""
    engine = _engine(request)
    version = _require(engine, _name(request), _number(request))
    return web.FileResponse(
        store(engine).zip_path(version), headers={"Content-Type": "application/zip"}
    )


def resolve_arn(engine: Engine, arn: object) -> tuple[str, int]:
    """(name, version) of a layer version ARN of this workbench's Region and account."""
    match = LAYER_ARN_RE.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise ValidationError.constraint(
            arn,
            "arn",
            "Member must satisfy regular expression pattern: "
            "arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+"
            ":[0-9]+",
        )
    s = engine.settings
    if (match["region"], match["account"]) != (s.region, s.account_id):
        raise InvalidParameterValue(
            f"Layer version {arn} is not of this workbench's Region and account "
            f"({s.region}, {s.account_id}): only layers published here can be used"
        )
    return match["name"], int(match["version"])


def layer_folders(engine: Engine, arns: object) -> list[str]:
    """A function's ``Layers`` (version ARNs) as the folders its function.toml names."""
    if not isinstance(arns, list):
        raise InvalidParameterValue("Layers must be a list of layer version ARNs")
    if len(arns) > _MAX_LAYERS:
        raise InvalidParameterValue(f"Cannot reference more than {_MAX_LAYERS} layers.")
    folders: list[str] = []
    for arn in arns:
        name, number = resolve_arn(engine, arn)
        version = store(engine).get(name, number)
        if version is None:
            # UNVERIFIED: Lambda's wording for a layer version that does not exist
            raise InvalidParameterValue(f"Layer version {arn} does not exist.")
        folders.append(str(version.content))
    return folders


def arn_of_folder(engine: Engine, folder: Path) -> str | None:
    """The version ARN of a published layer's folder (None: a layer folder of the roots)."""
    found = store(engine).of_folder(folder)
    if found is None:
        return None
    return f"{layer_arn(engine, found[0])}:{found[1]}"
