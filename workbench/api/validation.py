"""Request parameters checked against botocore's Lambda model before the engine sees them.

Function names, qualifiers, versions and alias names arrive in paths, query strings and JSON
fields. Lambda answers one outside the model's pattern or length with ``ValidationException``
(``1 validation error detected: Value '...' at 'qualifier' failed to satisfy constraint: ...``,
LAMBDA_REFERENCE §3), and a well-formed version number that names no version with
``ResourceNotFoundException`` ``Function not found: <arn>:<version>``: a number too large for
any version to have (``99999999999999999999999``) is such a number, not a server error.

Patterns and lengths are botocore's ``lambda/2015-03-31/service-2.json`` (1.44): the shapes
``FunctionName``, ``NamespacedFunctionName``, ``NumericLatestPublishedOrAliasQualifier``,
``VersionWithLatestPublished``, ``AdditionalVersion`` and ``Alias``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..engine import Engine, ResourceNotFound, ValidationError
from ..engine.config import (
    EPHEMERAL_STORAGE,
    RANGES,
    env_name_violation,
    range_violation,
    reserved_env_refusal,
)
from ..engine.model import InvalidParameterValue, violation
from . import logging_shape

# Versions are numbered from 1 and stored as SQLite INTEGERs (signed 64-bit); Lambda's own
# version numbers are Java longs (UNVERIFIED). No number above this can name a version.
MAX_VERSION = 2**63 - 1
_ECHO = 256  # characters of a rejected value repeated in the message


@dataclass(frozen=True, slots=True)
class Constraint:
    """A string shape of the model: its pattern (matched whole) and length bounds."""

    pattern: str
    max_length: int
    min_length: int = 1
    hint: str = ""  # what the pattern means, for people

    def violations(self, value: str) -> list[str]:
        found = []
        if re.fullmatch(self.pattern, value) is None:
            hint = f" ({self.hint})" if self.hint else ""
            found.append(f"Member must satisfy regular expression pattern: {self.pattern}{hint}")
        if len(value) > self.max_length:
            found.append(f"Member must have length less than or equal to {self.max_length}")
        elif len(value) < self.min_length:
            found.append(f"Member must have length greater than or equal to {self.min_length}")
        return found


_NAME_PREFIX = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?"
)
FUNCTION_NAME = Constraint(_NAME_PREFIX + r"([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?", 140)
NAMESPACED_FUNCTION_NAME = Constraint(
    _NAME_PREFIX + r"([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?", 256
)
QUALIFIER = Constraint(r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+", 128)
FUNCTION_VERSION = Constraint(r"(\$LATEST(\.PUBLISHED)?|[0-9]+)", 1024)
ADDITIONAL_VERSION = Constraint(r"[0-9]+", 1024)
# A plain function name (no ARN, no qualifier) is at most 64 characters; the model's length
# bounds (140, 256) are the full ARN's (LAMBDA_REFERENCE §3).
MAX_NAME_LENGTH = 64
HANDLER = Constraint(r"[^\s]+", 128, min_length=0)
DESCRIPTION_MAX = 256
# UpdateFunctionConfiguration's numbers and names: engine/config/update_rules.py (the TUI's
# configuration dialog words its refusals the same way)
ALIAS_NAME = Constraint(
    r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)", 128, hint="letters, digits, - and _, and not all digits"
)


def _echo(value: str) -> str:
    return value if len(value) <= _ECHO else value[:_ECHO] + "…"


def check(value: str, field: str, constraint: Constraint) -> str:
    """``value`` if it satisfies ``constraint``; else Lambda's ``ValidationException``."""
    found = constraint.violations(value)
    if not found:
        return value
    if len(found) == 1:
        raise ValidationError.constraint(_echo(value), field, found[0])
    # wording of several violations of one value UNVERIFIED (Lambda's: "; "-separated)
    raise ValidationError(
        f"{len(found)} validation errors detected: "
        + "; ".join(
            f"Value '{_echo(value)}' at '{field}' failed to satisfy constraint: {what}"
            for what in found
        )
    )


def function_name(value: str, *, namespaced: bool) -> str:
    """The ``{FunctionName}`` of a path: a name, ``name:qualifier`` or an ARN.

    ``namespaced``: the operation takes a ``NamespacedFunctionName`` (Invoke, GetFunction,
    GetFunctionConfiguration, ListVersionsByFunction), which also allows ``.`` in the name.
    A plain name longer than 64 characters is refused as Lambda does ("Value '...' at
    'functionName' failed to satisfy constraint: Member must have length less than or equal to
    64", from a public CloudFormation error report).
    """
    check(value, "functionName", NAMESPACED_FUNCTION_NAME if namespaced else FUNCTION_NAME)
    if ":" not in value and len(value) > MAX_NAME_LENGTH:
        raise ValidationError.constraint(
            _echo(value),
            "functionName",
            f"Member must have length less than or equal to {MAX_NAME_LENGTH}",
        )
    return value


def configuration_update(body: Mapping[str, object]) -> None:
    """UpdateFunctionConfiguration's values against Lambda's constraints: every violation in one
    ``ValidationException``, as Lambda reports them; reserved environment variable names are
    Lambda's ``InvalidParameterValueException`` (its wording, from public error reports)."""
    found = [
        v
        for key, field, low, high in RANGES
        if (v := range_violation(body.get(key), field, low, high)) is not None
    ]
    storage = body.get("EphemeralStorage")
    if isinstance(storage, Mapping):
        field, low, high = EPHEMERAL_STORAGE
        if (v := range_violation(storage.get("Size"), field, low, high)) is not None:
            found.append(v)
    found += logging_shape.violations(body)
    description = body.get("Description")
    if isinstance(description, str) and len(description) > DESCRIPTION_MAX:
        found.append(
            violation(
                _echo(description),
                "description",
                f"Member must have length less than or equal to {DESCRIPTION_MAX}",
            )
        )
    handler = body.get("Handler")
    if isinstance(handler, str):
        found += [violation(_echo(handler), "handler", c) for c in HANDLER.violations(handler)]
    variables = _variables(body.get("Environment"))
    if (v := env_name_violation(variables)) is not None:
        found.append(v)
    if found:
        raise ValidationError.of(found)
    refusal = reserved_env_refusal(variables)
    if refusal is not None:
        raise InvalidParameterValue(refusal)


def _variables(environment: object) -> Mapping[object, object]:
    if isinstance(environment, Mapping):
        variables = environment.get("Variables")
        if isinstance(variables, Mapping):
            return variables
    return {}


def qualifier(value: str | None) -> str | None:
    """``?Qualifier=``: ``$LATEST``, a version number or an alias name (or absent)."""
    return None if value is None else check(value, "qualifier", QUALIFIER)


def version_exists_or_404(engine: Engine, name: str, version: str) -> None:
    """A version number no version can have is Lambda's 404, as any unknown version is."""
    if version.isascii() and version.isdigit() and int(version) > MAX_VERSION:
        raise ResourceNotFound(f"Function not found: {engine.arn(name, version)}")


def function_version(engine: Engine, name: str, value: str) -> str:
    """An alias's ``FunctionVersion``: ``$LATEST`` or a version number that can exist."""
    check(value, "functionVersion", FUNCTION_VERSION)
    version_exists_or_404(engine, name, value)
    return value


def routing_weights(engine: Engine, name: str, weights: Mapping[str, object]) -> None:
    """``RoutingConfig.AdditionalVersionWeights``' keys: version numbers that can exist (the
    weights themselves are the registry's to check)."""
    for version in weights:
        found = ADDITIONAL_VERSION.violations(version)
        if found:
            raise ValidationError.constraint(
                _echo(version),
                "routingConfig.additionalVersionWeights",
                f"Map keys must satisfy constraint: [{', '.join(found)}]",
            )
        version_exists_or_404(engine, name, version)


def alias_name(value: str) -> str:
    return check(value, "name", ALIAS_NAME)
