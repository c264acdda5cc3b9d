"""A function URL's configuration (``[url]`` in function.toml, the ``*FunctionUrlConfig`` API,
SAM's ``FunctionUrlConfig``) and the function's recursive-loop setting.

One validated value, ``UrlConfig``, whichever way it came in: function.toml spells Lambda's keys
in snake_case (``auth_type``, ``invoke_mode``, ``[url.cors]`` with ``allow_origins`` …), the API
and templates in Lambda's own (``AuthType``, ``Cors.AllowOrigins`` …). Limits are botocore's
service model's (``Cors``: at most 100 origins and headers, 6 methods, ``MaxAge`` 0..86400).

The url-id is stable per account, Region, function and qualifier (a hash, 32 lowercase
characters as Lambda's): the same URL across restarts, so a bookmark or a front end's config
keeps working. Lambda's own ids are random; a local one need not be.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

AuthType = Literal["NONE", "AWS_IAM"]
InvokeMode = Literal["BUFFERED", "RESPONSE_STREAM"]
RecursiveLoop = Literal["Terminate", "Allow"]
AUTH_TYPES: tuple[AuthType, ...] = ("NONE", "AWS_IAM")
INVOKE_MODES: tuple[InvokeMode, ...] = ("BUFFERED", "RESPONSE_STREAM")
RECURSIVE_LOOPS: tuple[RecursiveLoop, ...] = ("Terminate", "Allow")
URL_KEYS = ("auth_type", "invoke_mode", "cors")
CORS_KEYS = (
    "allow_credentials",
    "allow_headers",
    "allow_methods",
    "allow_origins",
    "expose_headers",
    "max_age",
)
# botocore: the API name of each key, and each list's largest size
_API_NAMES = {
    "allow_credentials": "AllowCredentials",
    "allow_headers": "AllowHeaders",
    "allow_methods": "AllowMethods",
    "allow_origins": "AllowOrigins",
    "expose_headers": "ExposeHeaders",
    "max_age": "MaxAge",
}
_LIST_MAX = {"allow_headers": 100, "allow_methods": 6, "allow_origins": 100, "expose_headers": 100}
_ITEM_MAX = {
    "allow_headers": 1024,
    "allow_methods": 6,
    "allow_origins": 253,
    "expose_headers": 1024,
}
HTTP_METHODS = ("GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*")


class UrlConfigError(ValueError):
    """A bad value: ``key`` (function.toml's spelling) and what is accepted."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class Cors:
    allow_credentials: bool | None = None
    allow_headers: tuple[str, ...] | None = None
    allow_methods: tuple[str, ...] | None = None
    allow_origins: tuple[str, ...] | None = None
    expose_headers: tuple[str, ...] | None = None
    max_age: int | None = None

    def to_api(self) -> dict[str, object]:
        """Lambda's ``Cors`` shape: the keys that were set."""
        out: dict[str, object] = {}
        for key, api in _API_NAMES.items():
            value = getattr(self, key)
            if value is not None:
                out[api] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, slots=True)
class UrlConfig:
    auth_type: AuthType = "NONE"
    invoke_mode: InvokeMode = "BUFFERED"
    cors: Cors | None = None


def _cors(value: Mapping[str, Any], api: bool) -> Cors:
    names = {v: k for k, v in _API_NAMES.items()} if api else {k: k for k in _API_NAMES}
    fields: dict[str, Any] = {}
    for given, item in value.items():
        key = names.get(given)
        if key is None:
            accepted = ", ".join(names)
            raise UrlConfigError(f"cors.{given}", f"is not a CORS setting (accepted: {accepted})")
        where = f"cors.{given}"
        if key == "allow_credentials":
            if not isinstance(item, bool):
                raise UrlConfigError(where, "must be true or false")
            fields[key] = item
        elif key == "max_age":
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 86400:
                raise UrlConfigError(where, "must be an integer from 0 to 86400 (seconds)")
            fields[key] = item
        else:
            if not isinstance(item, list | tuple) or not all(isinstance(s, str) for s in item):
                raise UrlConfigError(where, "must be a list of strings")
            if len(item) > _LIST_MAX[key]:
                raise UrlConfigError(where, f"must have at most {_LIST_MAX[key]} items")
            long = [s for s in item if len(s) > _ITEM_MAX[key]]
            if long:
                raise UrlConfigError(
                    where, f"{long[0]!r} is longer than {_ITEM_MAX[key]} characters"
                )
            if key == "allow_methods":
                bad = [m for m in item if m.upper() not in HTTP_METHODS]
                if bad:
                    raise UrlConfigError(
                        where, f"{bad[0]!r} is not a method (accepted: {', '.join(HTTP_METHODS)})"
                    )
            fields[key] = tuple(item)
    return Cors(**fields)


def _choice(key: str, value: object, accepted: tuple[str, ...]) -> str:
    if value not in accepted:
        raise UrlConfigError(key, f"must be one of {', '.join(map(repr, accepted))}")
    assert isinstance(value, str)
    return value


def url_from_toml(value: object) -> UrlConfig:
    """function.toml's ``[url]`` table (``auth_type`` is required, as the API's ``AuthType``)."""
    if not isinstance(value, dict):
        raise UrlConfigError("url", "must be a table ([url])")
    for key in value:
        if key not in URL_KEYS:
            raise UrlConfigError(key, f"is not a [url] key (accepted: {', '.join(URL_KEYS)})")
    if "auth_type" not in value:
        raise UrlConfigError("auth_type", 'is required: "NONE" (public) or "AWS_IAM" (signed)')
    cors = value.get("cors")
    if cors is not None and not isinstance(cors, dict):
        raise UrlConfigError("cors", "must be a table ([url.cors])")
    return UrlConfig(
        auth_type=_choice("auth_type", value["auth_type"], AUTH_TYPES),  # type: ignore[arg-type]
        invoke_mode=_choice(  # type: ignore[arg-type]
            "invoke_mode", value.get("invoke_mode", "BUFFERED"), INVOKE_MODES
        ),
        cors=None if cors is None else _cors(cors, api=False),
    )


def url_from_api(body: Mapping[str, Any], base: UrlConfig | None = None) -> UrlConfig:
    """A Create/UpdateFunctionUrlConfig body over ``base`` (Update changes what it names).
    Errors name the API's keys."""
    auth = body.get("AuthType", base.auth_type if base else None)
    if auth is None:
        raise UrlConfigError("AuthType", "is required: NONE or AWS_IAM")
    mode = body.get("InvokeMode", base.invoke_mode if base else "BUFFERED")
    cors = base.cors if base else None
    if "Cors" in body:
        if not isinstance(body["Cors"], dict):
            raise UrlConfigError("Cors", "must be an object")
        cors = _cors(body["Cors"], api=True)
    return UrlConfig(
        auth_type=_choice("AuthType", auth, AUTH_TYPES),  # type: ignore[arg-type]
        invoke_mode=_choice("InvokeMode", mode, INVOKE_MODES),  # type: ignore[arg-type]
        cors=cors,
    )


def url_to_data(config: UrlConfig) -> dict[str, object]:
    """The API's spelling, for storing and answering."""
    data: dict[str, object] = {"AuthType": config.auth_type, "InvokeMode": config.invoke_mode}
    if config.cors is not None:
        data["Cors"] = config.cors.to_api()
    return data


def url_id(account_id: str, region: str, name: str, qualifier: str | None) -> str:
    """32 lowercase characters (a-z, 2-7), the same every time for the same URL."""
    key = f"{account_id}:{region}:{name}:{qualifier or ''}".encode()
    return base64.b32encode(hashlib.sha256(key).digest()).decode().lower()[:32]


def recursive_loop(value: object, key: str = "recursive_loop") -> RecursiveLoop:
    return _choice(key, value, RECURSIVE_LOOPS)  # type: ignore[return-value]
