"""``workbench deploy NAME[:ALIAS]``: the way out to real AWS Lambda (or any endpoint that speaks
its API, such as another ``workbench serve``), with the caller's own AWS credentials and Region.

It creates the function or brings it up to date — its code (the package of ``workbench
package``: Lambda's CodeSha256 tells whether it changed), then its configuration — and with an
alias publishes a version and points the alias at it. It prints each change, or that there was
none. Needs boto3 (``pip install 'workbench[deploy]'``); triggers, layers and the ``[async]``
settings are not deployed (said at the end).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .common import EXIT_OK, BadInput
from .package import code_sha256, function_of, package_bytes

if TYPE_CHECKING:
    from ..engine import FunctionConfig

INSTALL = "workbench deploy needs boto3: pip install 'workbench[deploy]'"


def _configuration(fn: FunctionConfig) -> dict[str, Any]:
    """What of ``fn`` Lambda's function configuration holds, as the API spells it."""
    return {
        "Runtime": fn.runtime,
        "Handler": fn.handler,
        "MemorySize": fn.memory_size,
        "Timeout": fn.timeout,
        "EphemeralStorage": {"Size": fn.ephemeral_storage},
        "Environment": {"Variables": dict(fn.environment)},
        "Description": fn.description or "",
        # without LogGroup: Lambda names its own (/aws/lambda/NAME) unless told otherwise
        "LoggingConfig": {k: v for k, v in fn.logging.to_api(fn.name).items() if k != "LogGroup"},
    }


def _changed(remote: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    changed = {}
    for key, value in wanted.items():
        have = remote.get(key)
        if key == "Environment":
            have = {"Variables": (have or {}).get("Variables", {})}
        elif key == "LoggingConfig":  # compared on what we set: the log group stays theirs
            have = {k: v for k, v in (have or {}).items() if k != "LogGroup"}
        if have != value:
            changed[key] = value
    return changed


def cmd_deploy(args: argparse.Namespace) -> int:
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise BadInput(INSTALL) from None
    name, _, alias = args.target.partition(":")
    fn = function_of(args, name)
    data = package_bytes(args, fn)
    sha = code_sha256(data)
    options: dict[str, Any] = {}
    if args.endpoint_url:
        options["endpoint_url"] = args.endpoint_url
    if args.aws_region:
        options["region_name"] = args.aws_region
    try:
        client = boto3.client("lambda", **options)
        return _deploy(client, fn, data, sha, alias, args.role, ClientError)
    except ClientError as e:
        error = e.response.get("Error", {})
        raise BadInput(f"{error.get('Code', 'error')}: {error.get('Message', e)}") from None
    except BotoCoreError as e:  # no credentials, no Region, no connection
        raise BadInput(str(e)) from None


def _deploy(
    client: Any,
    fn: FunctionConfig,
    data: bytes,
    sha: str,
    alias: str,
    role: str | None,
    client_error: type[Exception],
) -> int:
    name, wanted = fn.name, _configuration(fn)
    said: list[str] = []
    try:
        remote = client.get_function(FunctionName=name)["Configuration"]
    except client_error as e:
        if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":  # type: ignore[attr-defined]
            raise
        remote = None
    if remote is None:
        if not role:
            raise BadInput(f"{name} is not there yet: creating it needs --role ARN (its role)")
        client.create_function(FunctionName=name, Role=role, Code={"ZipFile": data}, **wanted)
        client.get_waiter("function_active_v2").wait(FunctionName=name)
        said.append(f"created {name} (CodeSha256 {sha})")
    else:
        if remote.get("CodeSha256") != sha:
            client.update_function_code(FunctionName=name, ZipFile=data)
            client.get_waiter("function_updated_v2").wait(FunctionName=name)
            said.append(f"code: {remote.get('CodeSha256')} -> {sha}")
        changed = _changed(remote, wanted)
        if changed:
            client.update_function_configuration(FunctionName=name, **changed)
            client.get_waiter("function_updated_v2").wait(FunctionName=name)
            for key, value in changed.items():
                said.append(f"configuration: {key} {remote.get(key)!r} -> {value!r}")
    if alias:
        version = client.publish_version(FunctionName=name, CodeSha256=sha)["Version"]
        try:
            current = client.get_alias(FunctionName=name, Name=alias)["FunctionVersion"]
        except client_error as e:
            if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":  # type: ignore[attr-defined]
                raise
            client.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
            said.append(f"alias {alias} created -> version {version}")
        else:
            if current != version:
                client.update_alias(FunctionName=name, Name=alias, FunctionVersion=version)
                said.append(f"alias {alias}: version {current} -> {version}")
    for line in said or [f"{name}: no changes"]:
        print(line)
    print("not deployed: triggers, layers and [async] settings (deploy them with your IaC tool)")
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Declare ``deploy`` on the ``workbench`` parser."""
    p = sub.add_parser(
        "deploy",
        parents=[common],
        help="create or update a function on AWS Lambda (or an endpoint speaking its API)",
        description="Create NAME on Lambda, or update its code and configuration there; with "
        "ALIAS, publish a version and point the alias at it. Uses your AWS credentials and "
        "Region (the AWS CLI's and boto3's: environment, ~/.aws). Needs boto3.",
    )
    p.add_argument("target", metavar="NAME[:ALIAS]", help="the function, and an alias to move")
    p.add_argument("--endpoint-url", metavar="URL", help="another endpoint than AWS's")
    p.add_argument(
        "--region",
        dest="aws_region",
        metavar="REGION",
        help="the Region (default: your AWS config's)",
    )
    p.add_argument("--role", metavar="ARN", help="the execution role, to create the function")
    p.set_defaults(func=cmd_deploy)
