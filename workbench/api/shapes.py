"""Lambda's control-plane shapes (LAMBDA_REFERENCE §4): FunctionConfiguration, aliases, pages.

Field names and value formats are botocore's model's, so boto3 parses them and waiters
(``function_active``, ``function_updated``) succeed at once: a local function is always
``State: Active`` and ``LastUpdateStatus: Successful`` unless its ``function.toml`` is broken.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ..engine import Alias, Engine, FunctionConfig, Version
from ..engine.config import ApiLayers, ConfigProblem, runtime_family, snap_start_supported
from ..engine.model import InvalidParameterValue, ValidationError, runtime_version_arn
from ..engine.registry import LATEST, CodeInfo, lambda_timestamp

DEFAULT_PAGE = 50  # Lambda returns up to 50 items per list call
MAX_PAGE = 10_000
# Fields ListFunctions leaves out (LAMBDA_REFERENCE §4: "returns a subset of fields").
_NOT_LISTED = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus")

T = TypeVar("T")


def role_arn(engine: Engine, name: str) -> str:
    """Every Lambda function has an execution role; locally there is no IAM, so it is named
    as the console names the role it creates."""
    return f"arn:aws:iam::{engine.settings.account_id}:role/service-role/{name}-role"


def layer_arn(engine: Engine, layer: Path) -> str:
    """A layer published through the API has its version's ARN; a layer folder of the roots
    is named after the folder."""
    s = engine.settings
    if engine.hot_reload.api is not None:
        found = ApiLayers(engine.hot_reload.api).of_folder(layer)
        if found is not None:
            return f"arn:aws:lambda:{s.region}:{s.account_id}:layer:{found[0]}:{found[1]}"
    return f"arn:aws:lambda:{s.region}:{s.account_id}:layer:{layer.name}:1"


def base64_sha(hex_digest: str) -> str:
    """A sha256 as Lambda shows it (CodeSha256): base64 of the digest's bytes."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def function_configuration(
    engine: Engine,
    fn: FunctionConfig,
    *,
    version: Version | None = None,
    code: CodeInfo | None = None,
) -> dict[str, object]:
    """A FunctionConfiguration of ``$LATEST`` (give ``code``) or of a published ``version``."""
    if version is not None:
        qualifier = str(version.number)
        arn = engine.arn(fn.name, qualifier)
        sha, size = version.code_sha256, version.code_size
        modified, revision = version.last_modified, version.revision_id
        description = version.description
    else:
        assert code is not None
        qualifier, arn = LATEST, engine.arn(fn.name)
        sha, size = code.code_sha256, code.code_size
        modified, revision = lambda_timestamp(code.last_modified), code.revision_id
        description = fn.description
    config: dict[str, object] = {
        "FunctionName": fn.name,
        "FunctionArn": arn,
        "Runtime": fn.runtime,
        "Role": role_arn(engine, fn.name),
        "Handler": fn.handler,
        "CodeSize": size,
        "Description": description,
        "Timeout": fn.timeout,
        "MemorySize": fn.memory_size,
        "LastModified": modified,
        "CodeSha256": sha,
        "Version": qualifier,
    }
    if fn.environment:
        config["Environment"] = {"Variables": dict(fn.environment)}
    config["TracingConfig"] = {"Mode": "PassThrough"}
    config["RevisionId"] = revision
    if fn.layers:
        config["Layers"] = [{"Arn": layer_arn(engine, layer), "CodeSize": 0} for layer in fn.layers]
    config.update(
        {
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": fn.ephemeral_storage},
            # On for a published version restored from its snapshot; $LATEST is never
            "SnapStart": {
                "ApplyOn": fn.snap_start,
                "OptimizationStatus": "On"
                if version is not None
                and snap_start_supported(fn.runtime)
                and fn.snap_start == "PublishedVersions"
                else "Off",
            },
            "LoggingConfig": fn.logging.to_api(fn.name),
        }
    )
    if runtime_family(fn.runtime) != "provided":
        config["RuntimeVersionConfig"] = {"RuntimeVersionArn": runtime_version_arn(fn.runtime)}
    return config


def failed_configuration(engine: Engine, name: str, problem: ConfigProblem) -> dict[str, object]:
    """A function whose ``function.toml`` does not load: Lambda's ``State: Failed``."""
    return {
        "FunctionName": name,
        "FunctionArn": engine.arn(name),
        "Version": LATEST,
        "State": "Failed",
        "StateReason": str(problem.error),
        "StateReasonCode": "InvalidConfiguration",
        "LastUpdateStatus": "Failed",
        "LastUpdateStatusReason": str(problem.error),
        "LastUpdateStatusReasonCode": "InvalidConfiguration",
        "PackageType": "Zip",
    }


def listed(config: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in config.items() if k not in _NOT_LISTED}


def alias_configuration(engine: Engine, alias: Alias) -> dict[str, object]:
    shape: dict[str, object] = {
        "AliasArn": engine.arn(alias.function, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
    }
    if alias.routing:
        shape["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.routing)}
    shape["RevisionId"] = alias.revision_id
    return shape


# --------------------------------------------------------------------------- pagination


def page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    try:
        size = int(value)
    except ValueError:
        raise ValidationError.constraint(value, "maxItems", "Member must be a number") from None
    if not 1 <= size <= MAX_PAGE:
        relation = "greater than or equal to 1" if size < 1 else f"less than or equal to {MAX_PAGE}"
        raise ValidationError.constraint(value, "maxItems", f"Member must have value {relation}")
    return size


def version_order(version: str) -> int:
    """Lambda lists ``$LATEST`` first, then versions by number."""
    return -1 if version == LATEST else int(version)


def _is_key_part(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def paginate(
    items: Sequence[T], key: Callable[[T], list[object]], marker: str | None, max_items: str | None
) -> tuple[list[T], str | None]:
    """One page of ``items`` (sorted by ``key``) after ``marker``; and the next page's marker.

    A marker is the (opaque, base64) key of the last item returned, so items added or removed
    between calls neither repeat nor skip the others.
    """
    size = page_size(max_items)
    ordered = sorted(items, key=key)
    if marker:
        try:
            after = json.loads(base64.urlsafe_b64decode(marker.encode()))
            # a marker is one of our keys, a list of names and numbers; anything else (nested
            # too deep for the parser, of another shape) is not one we gave out
            if not isinstance(after, list) or not all(_is_key_part(part) for part in after):
                raise TypeError("not a key")
            ordered = [item for item in ordered if key(item) > after]
        except (ValueError, RecursionError, TypeError):
            raise InvalidParameterValue(f"Invalid marker: {marker}") from None
    page = ordered[:size]
    if len(ordered) > size:
        last = json.dumps(key(page[-1]), separators=(",", ":")).encode()
        return page, base64.urlsafe_b64encode(last).decode()
    return page, None


def page(field: str, items: list[dict[str, object]], marker: str | None) -> dict[str, object]:
    """A list operation's output: the items, and ``NextMarker`` when there are more."""
    body: dict[str, object] = {field: items}
    if marker:
        body["NextMarker"] = marker
    return body
