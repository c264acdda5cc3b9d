"""A function's ``function.toml``: read it, validate it against Lambda's limits, freeze it.

Every problem becomes a ``ConfigError`` naming the file, the line and the dotted key, so a broken
file reads like a compiler error and the caller can show it without stopping other functions.
Only the first problem in document order is reported: one fix, one reload.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import sys
import tomllib
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from .function_url import (
    RecursiveLoop,
    UrlConfig,
    UrlConfigError,
    recursive_loop,
    url_from_toml,
)
from .logging_config import (
    LEVELS_NEED_JSON,
    LoggingConfig,
    LoggingConfigError,
    build_logging,
    check_application_level,
    check_format,
    check_system_level,
)
from .triggers import TriggerError, parse_trigger
from .warm_start import SnapStart, check_fits, check_provisioned, check_snap_start

CONFIG_FILENAME = "function.toml"
DEFAULT_RUNTIME = f"python3.{sys.version_info.minor}"
DEFAULT_HANDLER = "lambda_function.lambda_handler"
# What the AWS console starts each runtime family with; `provided` runs ./bootstrap, which
# reads _HANDLER itself (AWS's custom-runtime tutorial uses "function.handler").
DEFAULT_HANDLERS = {
    "python": DEFAULT_HANDLER,
    "nodejs": "index.handler",
    "provided": "function.handler",
}
# Which Runtime API client runs a Python function: ours, or AWS's own (vendored in the folder).
RUNTIME_CLIENTS: tuple[str, ...] = ("workbench", "awslambdaric")
# Which AWS credentials a handler gets (runtime/credentials.py): the workbench's own, which reach
# only the workbench, or the host's, which reach the real account.
AwsCredentials = Literal["local", "host"]
AWS_CREDENTIALS: tuple[AwsCredentials, ...] = get_args(AwsCredentials)
# Which debugger an IDE attaches to, per runtime family (``debug = ...``; see debug_attach.py).
DEBUGGERS: dict[str, str] = {"python": "debugpy", "nodejs": "inspect"}

RUNTIMES: tuple[str, ...] = (
    *(f"python3.{minor}" for minor in range(8, 15)),
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "provided",
    "provided.al2",
    "provided.al2023",
)
TOP_LEVEL_KEYS: tuple[str, ...] = (
    "name",
    "runtime",
    "handler",
    "runtime_client",
    "debug",
    "aws_credentials",
    "memory_size",
    "timeout",
    "ephemeral_storage",
    "description",
    "reserved_concurrency",
    "provisioned_concurrency",
    "snap_start",
    "freeze",
    "logging_format",
    "application_log_level",
    "system_log_level",
    "layers",
    "environment",
    "async",
    "triggers",
    "url",
    "recursive_loop",
)
ASYNC_KEYS: tuple[str, ...] = (
    "maximum_retry_attempts",
    "maximum_event_age",
    "on_success",
    "on_failure",
)
# Names the Lambda service sets itself (LAMBDA_REFERENCE §5); a function may not override them.
RESERVED_ENV_NAMES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "TZ",
    }
)
ENV_MAX_BYTES = 4096  # Lambda: 4 KB for all variables together
MAX_LAYERS = 5  # Lambda's per-function layer limit
UNRESERVED_CONCURRENCY = 100  # Lambda always keeps this much of the account limit unreserved

NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
ENV_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
_DESTINATION_RE = re.compile(r"function:[a-zA-Z0-9_-]{1,64}|queue:[a-zA-Z0-9_-]{1,80}(\.fifo)?")
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_RE = re.compile(r"[^,\]}\n#]*")
_TOML_POSITION_RE = re.compile(r"\(at line (\d+), column \d+\)$")

KeyPath = tuple[str | int, ...]


class ConfigError(Exception):
    """A ``function.toml`` problem, located precisely enough to show as ``file:line: key``."""

    def __init__(
        self, file: Path, line: int | None, key: str | None, value: object, message: str
    ) -> None:
        # args mirror the parameters so the exception pickles (it may cross process boundaries).
        super().__init__(file, line, key, value, message)
        self.file = file
        self.line = line
        self.key = key
        self.value = value  # None: no value to show (TOML has no null)
        self.message = message

    def __str__(self) -> str:
        """One line, with any character a terminal would act on shown escaped: the file's path
        (a cloned repository's folder may be named with an escape sequence), a key, a value."""
        where = f"{self.file}:{self.line}" if self.line is not None else f"{self.file}"
        if self.key is None:
            text = f"{where}: {self.message}"
        elif self.value is None:
            text = f"{where}: {self.key}: {self.message}"
        else:
            text = f"{where}: {self.key} = {toml_repr(self.value)}: {self.message}"
        return printable(text)


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    """A validated function configuration; immutable so versions can share it safely."""

    name: str
    folder: Path
    config_file: Path
    runtime: str = DEFAULT_RUNTIME
    handler: str = DEFAULT_HANDLER
    runtime_client: str = "workbench"
    debug: str | None = None  # "debugpy" | "inspect": start under that debugger, wait for an IDE
    aws_credentials: AwsCredentials | None = None  # None: the engine's (--aws-credentials)
    memory_size: int = 128
    timeout: int = 3
    ephemeral_storage: int = 512
    description: str = ""
    reserved_concurrency: int | None = None
    # environments kept initialised per alias or version (config/warm_start.py), and whether
    # published versions start from a snapshot (SnapStart)
    provisioned_concurrency: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    snap_start: SnapStart = "None"
    # frozen between invocations, as on Lambda (runtime/environment.py); false keeps background
    # threads and timers running while the environment is idle
    freeze: bool = True
    layers: tuple[Path, ...] = ()
    logging: LoggingConfig = LoggingConfig()  # Lambda's LoggingConfig (config/logging_config.py)
    # Mappings are read-only proxies and left out of the hash (they are not hashable).
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    async_config: Mapping[str, object] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    triggers: tuple[Mapping[str, object], ...] = field(default=(), hash=False)
    # set for a function from a SAM / CloudFormation template (config_file is the template):
    # its logical id, and what the template asks for that is not run here (config/templates/)
    resource: str | None = None
    notes: tuple[str, ...] = ()
    # SAM's AutoPublishAlias (each change published, the alias moved to it) and its
    # DeploymentPreference type (how the alias shifts: reload/auto_publish.py)
    auto_publish_alias: str | None = None
    deployment: str | None = None
    from_api: bool = False  # created through the deploy API (config/api_functions.py)
    url: UrlConfig | None = None  # [url]: the function URL of $LATEST (config/function_url.py)
    recursive_loop: RecursiveLoop = "Terminate"  # as PutFunctionRecursionConfig's RecursiveLoop

    @property
    def origin(self) -> str:
        """Where the function came from, for lists: ``folder``, ``API`` or
        ``template.yaml: HelloFn``."""
        if self.from_api:
            return "API"
        if self.resource is None:
            return "folder"
        return f"{self.config_file.name}: {self.resource}"


# Where a template function's error is shown: (the function.toml key path) -> (line, the
# template's dotted property path); see config/templates/.
Locate = Callable[["KeyPath"], tuple[int | None, str]]


def load_function(folder: Path, *, account_limit: int = 1000) -> FunctionConfig:
    """Read and validate ``folder/function.toml``; errors name the file as ``folder`` was given."""
    config_file = Path(folder) / CONFIG_FILENAME
    text = _read_text(config_file)
    return parse_function(text, Path(folder), config_file, account_limit=account_limit)


def parse_function(
    text: str, folder: Path, config_file: Path, *, account_limit: int = 1000
) -> FunctionConfig:
    """Validate TOML ``text`` as the config of ``folder`` (split out so reload can test a save)."""
    return _Parser(text, Path(folder), Path(config_file), account_limit).parse()


def build_function(
    data: Mapping[str, Any],
    folder: Path,
    config_file: Path,
    *,
    locate: Locate,
    resource: str,
    notes: tuple[str, ...] = (),
    auto_publish_alias: str | None = None,
    deployment: str | None = None,
    account_limit: int = 1000,
) -> FunctionConfig:
    """Validate ``data`` (function.toml's keys, from a template resource) with the same checks
    as a ``function.toml``; ``locate`` turns a key into the template's line and property."""
    parser = _Parser("", Path(folder), Path(config_file), account_limit, locate=locate)
    fn = parser.build(dict(data))
    return replace(
        fn,
        resource=resource,
        notes=notes,
        auto_publish_alias=auto_publish_alias,
        deployment=deployment,
    )


def runtime_family(runtime: str) -> str:
    """``python``, ``nodejs`` or ``provided``: which kind of runtime process runs the function."""
    for family in ("python", "nodejs"):
        if runtime.startswith(family):
            return family
    return "provided"


def printable(text: str) -> str:
    """``text`` with each character a terminal would act on (C0 and C1 controls, line and
    paragraph separators, ...) shown escaped as Python writes it (``\\x1b``); the rest as is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def toml_repr(value: object, limit: int = 80) -> str:
    """Show a value as it would be written in TOML, on one line, shortened past ``limit``."""
    text = _toml_repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _toml_repr(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_repr(item) for item in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{_toml_key(str(k))} = {_toml_repr(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY_RE.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def dotted_key(path: KeyPath) -> str:
    """``("triggers", 0, "type")`` -> ``triggers[0].type``; non-bare keys are quoted."""
    parts: list[str] = []
    for part in path:
        if isinstance(part, int) and parts:
            parts[-1] += f"[{part}]"
        else:
            parts.append(_toml_key(str(part)) if isinstance(part, str) else f"[{part}]")
    return ".".join(parts)


def _read_text(config_file: Path) -> str:
    try:
        data = config_file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(config_file, None, None, None, "file not found") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(config_file, None, None, None, f"cannot read file: {reason}") from None
    try:
        return data.decode("utf-8-sig")  # tolerate a BOM: editors on Windows add one
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise ConfigError(config_file, line, None, None, message) from None


def _suggest(key: str, accepted: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; accepted keys: {', '.join(accepted)}"


class _Parser:
    """One validation pass; holds what every check needs to build a located error."""

    def __init__(
        self,
        text: str,
        folder: Path,
        config_file: Path,
        account_limit: int,
        locate: Locate | None = None,
    ) -> None:
        self.text = text
        self.locate = locate
        self.folder = folder.resolve()
        self.config_file = config_file
        self.account_limit = account_limit
        self._locator: _Locator | None = None
        self.checks: dict[str, tuple[str, Callable[[KeyPath, Any], Any]]] = {
            "name": ("name", self._name),
            "runtime": ("runtime", self._runtime),
            "handler": ("handler", self._handler),
            "runtime_client": ("runtime_client", self._runtime_client),
            "debug": ("debug", self._debug),
            "aws_credentials": ("aws_credentials", self._aws_credentials),
            "memory_size": ("memory_size", self._bounded(128, 10240, " (MB)")),
            "timeout": ("timeout", self._bounded(1, 900, " (seconds)")),
            "ephemeral_storage": ("ephemeral_storage", self._bounded(512, 10240, " (MB)")),
            "description": ("description", self._description),
            "reserved_concurrency": ("reserved_concurrency", self._reserved),
            "provisioned_concurrency": (
                "provisioned_concurrency",
                lambda path, value: check_provisioned(path, value, self.error),
            ),
            "snap_start": (
                "snap_start",
                lambda path, value: check_snap_start(path, value, self.error),
            ),
            "freeze": ("freeze", self._flag),
            "logging_format": ("logging_format", self._logging(check_format)),
            "application_log_level": (
                "application_log_level",
                self._logging(check_application_level),
            ),
            "system_log_level": ("system_log_level", self._logging(check_system_level)),
            "layers": ("layers", self._layers),
            "environment": ("environment", self._environment),
            "async": ("async_config", self._async),
            "triggers": ("triggers", self._triggers),
            "url": ("url", self._url),
            "recursive_loop": ("recursive_loop", self._recursive_loop),
        }

    def error(self, path: KeyPath, value: object, message: str) -> ConfigError:
        if self.locate is not None:
            line, key = self.locate(path)
            return ConfigError(self.config_file, line, key, value, message)
        if self._locator is None:  # only pay for the scan when something is wrong
            self._locator = _Locator(self.text)
        line = self._locator.line(path)
        return ConfigError(self.config_file, line, dotted_key(path), value, message)

    def parse(self) -> FunctionConfig:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise self._syntax_error(exc) from None
        return self.build(data)

    def build(self, data: dict[str, Any]) -> FunctionConfig:
        fields: dict[str, Any] = {}
        for key, value in data.items():  # document order, so the first problem is reported
            if key not in self.checks:
                raise self.error((key,), value, _suggest(key, TOP_LEVEL_KEYS))
            field_name, check = self.checks[key]
            fields[field_name] = check((key,), value)
        if "name" not in fields:
            fields["name"] = self._folder_name()
        self._combine_logging(fields)
        family = runtime_family(fields.get("runtime", DEFAULT_RUNTIME))
        fields.setdefault("handler", DEFAULT_HANDLERS[family])
        if fields.get("runtime_client", "workbench") != "workbench" and family != "python":
            raise self.error(
                ("runtime_client",),
                fields["runtime_client"],
                "applies only to python runtimes (nodejs and provided have their own client)",
            )
        check_fits(
            fields.get("runtime", DEFAULT_RUNTIME),
            fields.get("snap_start", "None"),
            fields.get("provisioned_concurrency", {}),
            fields.get("reserved_concurrency"),
            self.error,
        )
        if "debug" in fields:
            self._debug_fits(family, fields.get("runtime", DEFAULT_RUNTIME), fields["debug"])
        return FunctionConfig(folder=self.folder, config_file=self.config_file.resolve(), **fields)

    def _combine_logging(self, fields: dict[str, Any]) -> None:
        settings = [fields.pop(key, None) for key in _LOGGING_KEYS]
        try:
            fields["logging"] = build_logging(*settings)
        except LoggingConfigError as e:
            key = next(k for k, which in _LOGGING_KEYS.items() if which == e.key)
            message = e.message
            if message == LEVELS_NEED_JSON:
                message = 'levels apply only to the JSON log format: set logging_format = "JSON"'
            raise self.error((key,), e.value, message) from None

    def _logging(self, check: Callable[[object], Any]) -> Callable[[KeyPath, Any], Any]:
        def run(path: KeyPath, value: Any) -> Any:
            try:
                return check(value)
            except LoggingConfigError as e:
                raise self.error(path, value, e.message) from None

        return run

    def _debug_fits(self, family: str, runtime: str, debugger: str) -> None:
        expected = DEBUGGERS.get(family)
        if expected is None:
            raise self.error(
                ("debug",),
                debugger,
                f"a {runtime} function runs its own bootstrap: debug applies only to python "
                '(debug = "debugpy") and nodejs (debug = "inspect") runtimes',
            )
        if debugger != expected:
            raise self.error(
                ("debug",), debugger, f'a {runtime} function takes debug = "{expected}"'
            )

    def _syntax_error(self, exc: tomllib.TOMLDecodeError) -> ConfigError:
        message = str(exc)
        match = _TOML_POSITION_RE.search(message)
        if match:
            line: int | None = int(match.group(1))
        elif message.endswith("(at end of document)"):
            line = max(len(self.text.splitlines()), 1)
        else:
            line = None
        return ConfigError(self.config_file, line, None, None, f"invalid TOML: {message}")

    def _folder_name(self) -> str:
        name = self.folder.name
        if not NAME_RE.fullmatch(name):
            message = (
                f"folder name {name!r} is not a valid function name (1 to 64 letters, digits, "
                f'hyphens or underscores); set name = "..." in {CONFIG_FILENAME}'
            )
            raise ConfigError(self.config_file, None, None, None, message)
        return name

    def _name(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or not NAME_RE.fullmatch(value):
            raise self.error(path, value, "must be 1 to 64 letters, digits, hyphens or underscores")
        return value

    def _runtime(self, path: KeyPath, value: Any) -> str:
        if value not in RUNTIMES or not isinstance(value, str):
            # Suggest only a spelling fix ("nodejs20" -> "nodejs20.x"), never another version.
            close = [
                runtime
                for runtime in difflib.get_close_matches(str(value), RUNTIMES, n=3, cutoff=0.7)
                if _digits(runtime) == _digits(str(value))
            ]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(path, value, f"must be one of: {', '.join(RUNTIMES)}{hint}")
        return value

    def _handler(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > 128 or _has_space(value):
            message = "must be a non-empty string without whitespace, at most 128 characters"
            raise self.error(path, value, message)
        return value

    def _runtime_client(self, path: KeyPath, value: Any) -> str:
        if value not in RUNTIME_CLIENTS or not isinstance(value, str):
            raise self.error(path, value, f"must be one of: {', '.join(RUNTIME_CLIENTS)}")
        return value

    def _debug(self, path: KeyPath, value: Any) -> str:
        if value not in DEBUGGERS.values() or not isinstance(value, str):
            accepted = ", ".join(f'"{d}" ({family} runtimes)' for family, d in DEBUGGERS.items())
            raise self.error(path, value, f"must be one of: {accepted}")
        return value

    def _flag(self, path: KeyPath, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, value, "must be true or false")
        return value

    def _aws_credentials(self, path: KeyPath, value: Any) -> AwsCredentials:
        if value not in AWS_CREDENTIALS or not isinstance(value, str):
            raise self.error(
                path,
                value,
                'must be "local" (the workbench\'s own credentials: SDK calls reach the '
                'workbench) or "host" (this machine\'s AWS credentials: SDK calls reach real AWS)',
            )
        return value  # type: ignore[return-value]  # one of AWS_CREDENTIALS, checked above

    def _description(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or len(value) > 256:
            raise self.error(path, value, "must be a string of at most 256 characters")
        return value

    def _int(self, path: KeyPath, value: Any, low: int, high: int, unit: str = "") -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(path, value, f"must be an integer from {low} to {high}{unit}")
        return value

    def _bounded(self, low: int, high: int, unit: str) -> Callable[[KeyPath, Any], int]:
        return lambda path, value: self._int(path, value, low, high, unit)

    def _reserved(self, path: KeyPath, value: Any) -> int:
        high = max(self.account_limit - UNRESERVED_CONCURRENCY, 0)
        unit = (
            f" (the account limit {self.account_limit} minus the "
            f"{UNRESERVED_CONCURRENCY} Lambda keeps unreserved)"
        )
        return self._int(path, value, 0, high, unit)

    def _layers(self, path: KeyPath, value: Any) -> tuple[Path, ...]:
        if not isinstance(value, list):
            raise self.error(path, value, "must be an array of folder paths (strings)")
        if len(value) > MAX_LAYERS:
            raise self.error(path, value, f"at most {MAX_LAYERS} layers (Lambda's limit)")
        layers: list[Path] = []
        for index, item in enumerate(value):
            item_path = (*path, index)
            if not isinstance(item, str) or not item:
                raise self.error(item_path, item, "must be a folder path (a non-empty string)")
            resolved = (self.folder / item).resolve()
            if not resolved.is_dir():
                what = "is not a directory" if resolved.exists() else "not found"
                raise self.error(item_path, item, f"layer folder {what}: {resolved}")
            layers.append(resolved)
        return tuple(layers)

    def _environment(self, path: KeyPath, value: Any) -> Mapping[str, str]:
        if not isinstance(value, dict):
            raise self.error(path, value, 'must be a table of NAME = "value" strings')
        total = 0
        for name, item in value.items():
            item_path = (*path, name)
            if name in RESERVED_ENV_NAMES:
                raise self.error(item_path, item, f"{name} is reserved by Lambda and cannot be set")
            if not ENV_NAME_RE.fullmatch(name):
                message = (
                    "invalid variable name: must start with a letter, be at least 2 characters "
                    "and hold only letters, digits and underscores"
                )
                raise self.error(item_path, item, message)
            if not isinstance(item, str):
                raise self.error(item_path, item, "must be a string (quote it)")
            total += len(name.encode()) + len(item.encode())
        if total > ENV_MAX_BYTES:
            message = (
                f"variables total {total} bytes (names plus values); "
                f"Lambda allows at most {ENV_MAX_BYTES} (4 KB)"
            )
            raise self.error(path, None, message)
        return MappingProxyType(dict(value))

    def _async(self, path: KeyPath, value: Any) -> Mapping[str, object]:
        if not isinstance(value, dict):
            raise self.error(path, value, "must be a table ([async])")
        for key, item in value.items():
            item_path = (*path, key)
            if key == "maximum_retry_attempts":
                self._int(item_path, item, 0, 2)
            elif key == "maximum_event_age":
                self._int(item_path, item, 60, 21600, " (seconds)")
            elif key in ("on_success", "on_failure"):
                if not isinstance(item, str) or not _DESTINATION_RE.fullmatch(item):
                    raise self.error(item_path, item, 'must be "function:NAME" or "queue:NAME"')
            else:
                raise self.error(item_path, item, _suggest(key, ASYNC_KEYS))
        return MappingProxyType(dict(value))

    def _url(self, path: KeyPath, value: Any) -> UrlConfig:
        try:
            return url_from_toml(value)
        except UrlConfigError as e:
            keys = () if e.key == "url" else tuple(e.key.split("."))
            item = value
            for key in keys:
                item = item.get(key) if isinstance(item, dict) else None
            raise self.error((*path, *keys), item, e.message) from None

    def _recursive_loop(self, path: KeyPath, value: Any) -> RecursiveLoop:
        try:
            return recursive_loop(value)
        except UrlConfigError as e:
            raise self.error(path, value, e.message) from None

    def _triggers(self, path: KeyPath, value: Any) -> tuple[Mapping[str, object], ...]:
        if not isinstance(value, list):
            raise self.error(path, value, "must be an array of tables ([[triggers]])")
        triggers: list[Mapping[str, object]] = []
        for index, item in enumerate(value):
            item_path = (*path, index)
            if not isinstance(item, dict):
                raise self.error(item_path, item, "must be a table ([[triggers]])")
            try:
                parse_trigger(item)
            except TriggerError as e:
                if e.key is None:
                    raise self.error(item_path, None, e.message) from None
                raise self.error((*item_path, e.key), item.get(e.key), e.message) from None
            triggers.append(MappingProxyType(dict(item)))
        return tuple(triggers)


# function.toml's logging keys -> which setting (LoggingConfigError.key), in build order
_LOGGING_KEYS = {
    "logging_format": "format",
    "application_log_level": "application",
    "system_log_level": "system",
}


def _digits(value: str) -> str:
    return "".join(char for char in value if char.isdigit())


def _has_space(value: str) -> bool:
    return any(char.isspace() for char in value)


class _Locator:
    """Line numbers of key paths in TOML text that tomllib has already accepted.

    tomllib keeps no positions, so this re-scans the text: table and array-of-tables headers
    (numbering each ``[[x]]``), dotted keys, inline tables and (multi-line) arrays, skipping
    strings and comments. Paths are tuples such as ``("triggers", 1, "type")``. Best effort:
    on anything it does not understand it stops, and lookups fall back to the enclosing key.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        self._arrays: dict[KeyPath, int] = {}  # array-of-tables path -> current index
        try:
            self._scan()
        except (IndexError, ValueError, tomllib.TOMLDecodeError):
            pass

    def line(self, path: KeyPath) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def _line_at(self, pos: int) -> int:
        return bisect_right(self._newlines, pos) + 1

    def _record(self, path: KeyPath, line: int) -> None:
        for end in range(1, len(path) + 1):
            self.lines.setdefault(path[:end], line)

    def _skip(self, newlines: bool = False) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t":
                self.pos += 1
            elif newlines and char in "\r\n":
                self.pos += 1
            elif newlines and char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def _scan(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.text[self.pos] == "[":
                table = self._header()
            else:
                self._key_value(table)

    def _header(self) -> KeyPath:
        line = self._line_at(self.pos)
        is_array = self.text.startswith("[[", self.pos)
        self.pos += 2 if is_array else 1
        keys = self._key()
        self.pos += 2 if is_array else 1
        if not is_array:
            path = self._resolve(keys)
            self._record(path, line)
            return path
        parent = (*self._resolve(keys[:-1]), keys[-1])
        index = self._arrays.get(parent, -1) + 1
        self._arrays[parent] = index
        self._record((*parent, index), line)
        return (*parent, index)

    def _resolve(self, keys: tuple[str, ...]) -> KeyPath:
        """Insert the current index after every array-of-tables in a header's key."""
        path: list[str | int] = []
        for key in keys:
            path.append(key)
            index = self._arrays.get(tuple(path))
            if index is not None:
                path.append(index)
        return tuple(path)

    def _key_value(self, table: KeyPath) -> None:
        line = self._line_at(self.pos)
        path = (*table, *self._key())
        self._record(path, line)
        self._skip()
        if self.text[self.pos] != "=":
            raise ValueError("expected '='")
        self.pos += 1
        self._value(path)

    def _key(self) -> tuple[str, ...]:
        text = self.text
        parts: list[str] = []
        while True:
            self._skip()
            char = text[self.pos]
            if char == '"':
                start = self.pos
                self._string()
                parts.append(tomllib.loads("k = " + text[start : self.pos])["k"])
            elif char == "'":
                end = text.index("'", self.pos + 1)
                parts.append(text[self.pos + 1 : end])
                self.pos = end + 1
            else:
                match = _BARE_KEY_RE.match(text, self.pos)
                if match is None:
                    raise ValueError("expected a key")
                parts.append(match.group())
                self.pos = match.end()
            self._skip()
            if self.pos < len(text) and text[self.pos] == ".":
                self.pos += 1
                continue
            return tuple(parts)

    def _value(self, path: KeyPath) -> None:
        self._skip()
        char = self.text[self.pos]
        if char in "\"'":
            self._string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            match = _SCALAR_RE.match(self.text, self.pos)
            assert match is not None  # the pattern matches the empty string
            self.pos = match.end()

    def _array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while True:
            self._skip(newlines=True)
            if self.text[self.pos] == "]":
                self.pos += 1
                return
            self._record((*path, index), self._line_at(self.pos))
            self._value((*path, index))
            index += 1
            self._skip(newlines=True)
            if self.text[self.pos] == ",":
                self.pos += 1

    def _inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while True:
            self._skip(newlines=True)
            if self.text[self.pos] == "}":
                self.pos += 1
                return
            self._key_value(path)
            self._skip(newlines=True)
            if self.text[self.pos] == ",":
                self.pos += 1

    def _string(self) -> None:
        text = self.text
        quote = text[self.pos]
        escapes = quote == '"'
        if text.startswith(quote * 3, self.pos):
            index = self.pos + 3
            while not text.startswith(quote * 3, index):
                index += 2 if escapes and text[index] == "\\" else 1
            end = index + 3
            while end < len(text) and text[end] == quote and end - index < 5:
                end += 1  # up to two quotes may end the content: """a""""" is 'a""'
            self.pos = end
            return
        index = self.pos + 1
        while text[index] != quote:
            index += 2 if escapes and text[index] == "\\" else 1
        self.pos = index + 1
