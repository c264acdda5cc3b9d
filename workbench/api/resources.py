"""Tags, resource policies and provisioned concurrency: TagResource / UntagResource / ListTags,
AddPermission / RemovePermission / GetPolicy, Put/Get/DeleteProvisionedConcurrencyConfig.

Tags and policies are stored (``FunctionMeta``) and returned as Lambda returns them, not enforced:
the workbench has no IAM. Provisioned concurrency is real: the engine keeps that many environments
initialised (``engine/invoke/provisioned.py``), IN_PROGRESS until they are, then READY.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from ..engine import Engine
from ..engine.config import LATEST_REFUSAL, FunctionMeta
from ..engine.invoke import ProvisionedState
from ..engine.model import (
    InvalidParameterValue,
    LambdaError,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from ..engine.registry import LATEST, is_version_number, lambda_timestamp
from . import deploy, functions, validation
from .keys import ENGINE


class ProvisionedConfigNotFound(LambdaError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def meta_of(engine: Engine) -> FunctionMeta:
    return FunctionMeta(deploy.store_of(engine).home)


# --------------------------------------------------------------------------- tags


def _tagged(request: web.Request) -> str:
    """The function a tag operation's ``{Resource}`` (a function ARN) names."""
    engine = _engine(request)
    resource = request.match_info["resource"]
    if not resource.startswith("arn:"):
        # UNVERIFIED: Lambda's wording for a resource that is not an ARN
        raise InvalidParameterValue(f"Resource {resource!r} is not a function ARN")
    name, qualifier = engine.resolve(resource)
    if qualifier:
        raise InvalidParameterValue(
            "Tags apply to a function, not a version or alias: give the unqualified function ARN"
        )
    engine.require_function(name)
    return name


async def tag_resource(request: web.Request) -> web.Response:
    engine = _engine(request)
    name = _tagged(request)
    tags = (await functions.json_body(request)).get("Tags")
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise InvalidParameterValue('Tags must be {"key": "value"} strings')
    if any(k.lower().startswith("aws:") for k in tags):
        raise InvalidParameterValue("Tag keys starting with aws: are reserved for AWS")
    data = meta_of(engine).read(name)
    data["tags"].update(tags)
    if len(data["tags"]) > 50:
        raise InvalidParameterValue("A function can have at most 50 tags")
    meta_of(engine).write(name, data)
    return web.Response(status=204)


async def untag_resource(request: web.Request) -> web.Response:
    engine = _engine(request)
    name = _tagged(request)
    data = meta_of(engine).read(name)
    for key in request.query.getall("tagKeys", []):
        data["tags"].pop(key, None)
    meta_of(engine).write(name, data)
    return web.Response(status=204)


async def list_tags(request: web.Request) -> web.Response:
    engine = _engine(request)
    return functions.json_response({"Tags": meta_of(engine).read(_tagged(request))["tags"]})


# --------------------------------------------------------------------------- policy


def _statement(engine: Engine, name: str, qualifier: str | None, body: dict[str, Any]) -> dict:
    sid, action, principal = body.get("StatementId"), body.get("Action"), body.get("Principal")
    for field, value in (("StatementId", sid), ("Action", action), ("Principal", principal)):
        if not isinstance(value, str) or not value:
            raise InvalidParameterValue(f"{field} is required (a string)")
    assert isinstance(principal, str)
    if principal == "*" or principal.isdigit() or principal.startswith("arn:"):
        who: object = "*" if principal == "*" else {"AWS": principal}
    else:
        who = {"Service": principal}
    statement: dict[str, object] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": who,
        "Action": action,
        "Resource": engine.arn(name, qualifier),
    }
    condition: dict[str, dict[str, object]] = {}
    if isinstance(body.get("SourceArn"), str):
        condition["ArnLike"] = {"AWS:SourceArn": body["SourceArn"]}
    if isinstance(body.get("SourceAccount"), str):
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = body["SourceAccount"]
    if isinstance(body.get("PrincipalOrgID"), str):
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = body["PrincipalOrgID"]
    if isinstance(body.get("FunctionUrlAuthType"), str):
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = body[
            "FunctionUrlAuthType"
        ]
    if condition:
        statement["Condition"] = condition
    return statement


def _check_revision(data: dict[str, Any], revision: object) -> None:
    if revision is not None and revision != data["policy_revision"]:
        raise PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy "
            "API to retrieve the latest Revision Id"
        )


async def add_permission(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = functions.function_and_qualifier(request)
    engine.require_function(name)
    body = await functions.json_body(request)
    statement = _statement(engine, name, qualifier, body)
    data = meta_of(engine).read(name)
    _check_revision(data, body.get("RevisionId"))
    if any(
        s["statement"]["Sid"] == statement["Sid"] and s["qualifier"] == qualifier
        for s in data["statements"]
    ):  # each qualifier (the function, a version, an alias) has a policy of its own
        raise ResourceConflict(
            f"The statement id ({statement['Sid']}) provided already exists. Please provide a "
            "new statement id, or remove the existing statement."
        )
    data["statements"].append({"qualifier": qualifier, "statement": statement})
    data["policy_revision"] = str(uuid.uuid4())
    meta_of(engine).write(name, data)
    return functions.json_response({"Statement": json.dumps(statement)}, status=201)


async def remove_permission(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = functions.function_and_qualifier(request)
    engine.require_function(name)
    sid = request.match_info["sid"]
    data = meta_of(engine).read(name)
    _check_revision(data, request.query.get("RevisionId"))
    kept = [
        s
        for s in data["statements"]
        if not (s["statement"]["Sid"] == sid and s["qualifier"] == qualifier)
    ]
    if len(kept) == len(data["statements"]):
        # UNVERIFIED: Lambda's wording for an unknown statement id
        raise ResourceNotFound("The resource you requested does not exist.")
    data["statements"] = kept
    data["policy_revision"] = str(uuid.uuid4())
    meta_of(engine).write(name, data)
    return web.Response(status=204)


async def get_policy(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = functions.function_and_qualifier(request)
    engine.require_function(name)
    data = meta_of(engine).read(name)
    statements = [s["statement"] for s in data["statements"] if s["qualifier"] == qualifier]
    if not statements:
        raise ResourceNotFound("The resource you requested does not exist.")
    policy = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
    return functions.json_response(
        {"Policy": json.dumps(policy), "RevisionId": data["policy_revision"]}
    )


# --------------------------------------------------------------------------- provisioned


def _provisioned_qualifier(request: web.Request) -> tuple[str, str]:
    engine = _engine(request)
    name, qualifier = functions.function_and_qualifier(request)
    engine.require_function(name)
    if not qualifier or qualifier == LATEST:
        raise InvalidParameterValue(LATEST_REFUSAL)
    if is_version_number(qualifier):
        validation.version_exists_or_404(engine, name, qualifier)
    else:
        engine.alias(name, qualifier)  # 404 for an unknown alias
    return name, qualifier


async def put_provisioned(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = _provisioned_qualifier(request)
    value = (await functions.json_body(request)).get("ProvisionedConcurrentExecutions")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterValue("ProvisionedConcurrentExecutions must be an integer >= 1")
    state = engine.pool.provisioned.put(name, qualifier, value)
    return functions.json_response(_provisioned_shape(state), status=202)


def _provisioned_shape(state: ProvisionedState) -> dict[str, object]:
    shape: dict[str, object] = {
        "RequestedProvisionedConcurrentExecutions": state.requested,
        "AvailableProvisionedConcurrentExecutions": state.available,
        "AllocatedProvisionedConcurrentExecutions": state.allocated,
        "Status": state.status,
        "LastModified": lambda_timestamp(state.modified),
    }
    if state.reason is not None:
        shape["StatusReason"] = state.reason
    return shape


async def get_provisioned(request: web.Request) -> web.Response:
    """GetProvisionedConcurrencyConfig, or ListProvisionedConcurrencyConfigs (``?List=ALL``:
    the same path)."""
    engine = _engine(request)
    if "List" in request.query:
        return _list_provisioned(request)
    name, qualifier = _provisioned_qualifier(request)
    state = engine.pool.provisioned.state(name, qualifier)
    if state is None:
        raise ProvisionedConfigNotFound("No Provisioned Concurrency Config found for this function")
    return functions.json_response(_provisioned_shape(state))


def _list_provisioned(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, _ = functions.function_and_qualifier(request)
    engine.require_function(name)
    configs = []
    for state in engine.pool.provisioned.states(name):
        shape = _provisioned_shape(state)
        configs.append({"FunctionArn": engine.arn(name, state.qualifier), **shape})
    marker = request.query.get("Marker")
    start = int(marker) if marker and marker.isdigit() else 0
    try:
        size = max(1, min(int(request.query.get("MaxItems", "50")), 50))
    except ValueError:
        raise InvalidParameterValue("MaxItems must be an integer from 1 to 50") from None
    page: dict[str, object] = {"ProvisionedConcurrencyConfigs": configs[start : start + size]}
    if start + size < len(configs):
        page["NextMarker"] = str(start + size)
    return functions.json_response(page)


async def delete_provisioned(request: web.Request) -> web.Response:
    engine = _engine(request)
    name, qualifier = _provisioned_qualifier(request)
    engine.pool.provisioned.delete(name, qualifier)
    return web.Response(status=204)
