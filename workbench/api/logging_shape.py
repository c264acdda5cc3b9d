"""The Lambda API's ``LoggingConfig`` (botocore's shape: ``LogFormat``, ``ApplicationLogLevel``,
``SystemLogLevel``, ``LogGroup``) to and from function.toml's logging keys."""

from __future__ import annotations

from collections.abc import Mapping

from ..engine.config import APPLICATION_LOG_LEVELS, LOG_FORMATS, SYSTEM_LOG_LEVELS
from ..engine.model import InvalidParameterValue, violation

# member -> (the field's name in messages, its enum (the model's order), function.toml key)
_MEMBERS = {
    "LogFormat": ("loggingConfig.logFormat", ("JSON", "Text"), "logging_format"),
    "ApplicationLogLevel": (
        "loggingConfig.applicationLogLevel",
        APPLICATION_LOG_LEVELS,
        "application_log_level",
    ),
    "SystemLogLevel": ("loggingConfig.systemLogLevel", SYSTEM_LOG_LEVELS, "system_log_level"),
}
assert set(_MEMBERS["LogFormat"][1]) == set(LOG_FORMATS)


def violations(body: Mapping[str, object]) -> list[str]:
    """Enum violations in the body's ``LoggingConfig``, in the model's words."""
    config = body.get("LoggingConfig")
    if not isinstance(config, Mapping):
        return []
    found = []
    for member, (field, accepted, _key) in _MEMBERS.items():
        value = config.get(member)
        if value is not None and value not in accepted:
            constraint = f"Member must satisfy enum value set: [{', '.join(accepted)}]"
            found.append(violation(value, field, constraint))
    return found


def changes(value: object) -> dict[str, object | None]:
    """function.toml keys for a ``LoggingConfig``: what it names is set; ``LogFormat: Text``
    removes the levels (Lambda keeps none under Text); ``LogGroup`` is accepted and unused
    (logs stay in the workbench). A level under Text is refused by function.toml's check."""
    if not isinstance(value, Mapping):
        raise InvalidParameterValue(
            "LoggingConfig must be an object: {LogFormat, ApplicationLogLevel, SystemLogLevel}"
        )
    unknown = sorted(k for k in value if k not in _MEMBERS and k != "LogGroup")
    if unknown:
        raise InvalidParameterValue(
            f"LoggingConfig has no {', '.join(unknown)}; it takes: "
            f"{', '.join([*_MEMBERS, 'LogGroup'])}"
        )
    out: dict[str, object | None] = {}
    if value.get("LogFormat") == "Text":
        out["application_log_level"] = out["system_log_level"] = None
    for member, (_field, _accepted, key) in _MEMBERS.items():
        if value.get(member) is not None:
            out[key] = value[member]
    return out
