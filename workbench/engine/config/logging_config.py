"""Lambda's advanced logging controls (``LoggingConfig``): the log format and the two log levels.

One frozen value shared by ``function.toml``, templates and the Lambda API, so all three accept
and refuse the same things. Lambda filters by level only under the JSON format (its API refuses
a level with ``Text``), and tells the runtime through ``AWS_LAMBDA_LOG_FORMAT`` and
``AWS_LAMBDA_LOG_LEVEL`` [DG:monitoring-cloudwatchlogs-advanced].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

LogFormat = Literal["Text", "JSON"]
ApplicationLogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
SystemLogLevel = Literal["DEBUG", "INFO", "WARN"]
LOG_FORMATS: tuple[LogFormat, ...] = get_args(LogFormat)
APPLICATION_LOG_LEVELS: tuple[ApplicationLogLevel, ...] = get_args(ApplicationLogLevel)
SYSTEM_LOG_LEVELS: tuple[SystemLogLevel, ...] = get_args(SystemLogLevel)
# What Lambda uses under JSON when a level is not given [DG:monitoring-cloudwatchlogs-advanced].
DEFAULT_LEVEL = "INFO"
LEVELS_NEED_JSON = "log levels apply only to the JSON log format (set the format to JSON)"


class LoggingConfigError(ValueError):
    """A bad logging setting: ``key`` is which one (``format``, ``application``, ``system``)."""

    def __init__(self, key: str, value: object, message: str) -> None:
        super().__init__(key, value, message)
        self.key = key
        self.value = value
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """A function's ``LoggingConfig``; levels are None under ``Text`` (Lambda keeps none)."""

    format: LogFormat = "Text"
    application_level: ApplicationLogLevel | None = None
    system_level: SystemLogLevel | None = None

    @property
    def json(self) -> bool:
        return self.format == "JSON"

    def runtime_env(self) -> dict[str, str]:
        """The variables Lambda sets for the runtime. UNVERIFIED: whether Lambda also sets
        ``AWS_LAMBDA_LOG_FORMAT=Text`` for a function left at the default; both runtimes treat
        a missing variable as Text, so we set nothing then."""
        if not self.json:
            return {}
        return {
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": self.application_level or DEFAULT_LEVEL,
        }

    def to_api(self, function_name: str) -> dict[str, str]:
        """The API's ``LoggingConfig`` (botocore's ``LoggingConfig`` shape)."""
        out: dict[str, str] = {"LogFormat": self.format}
        if self.json:
            out["ApplicationLogLevel"] = self.application_level or DEFAULT_LEVEL
            out["SystemLogLevel"] = self.system_level or DEFAULT_LEVEL
        out["LogGroup"] = f"/aws/lambda/{function_name}"
        return out


def check_format(value: object) -> LogFormat:
    if value not in LOG_FORMATS or not isinstance(value, str):
        raise LoggingConfigError("format", value, 'must be "JSON" or "Text"')
    return value


def check_application_level(value: object) -> ApplicationLogLevel:
    if value not in APPLICATION_LOG_LEVELS or not isinstance(value, str):
        accepted = ", ".join(APPLICATION_LOG_LEVELS)
        raise LoggingConfigError("application", value, f"must be one of: {accepted}")
    return value


def check_system_level(value: object) -> SystemLogLevel:
    if value not in SYSTEM_LOG_LEVELS or not isinstance(value, str):
        accepted = ", ".join(SYSTEM_LOG_LEVELS)
        raise LoggingConfigError("system", value, f"must be one of: {accepted}")
    return value


def build_logging(
    log_format: LogFormat | None,
    application_level: ApplicationLogLevel | None,
    system_level: SystemLogLevel | None,
) -> LoggingConfig:
    """Combine checked settings; a level without the JSON format is refused, as Lambda's API
    refuses it (UNVERIFIED: its exact message)."""
    fmt = log_format or "Text"
    if fmt != "JSON":
        if application_level is not None:
            raise LoggingConfigError("application", application_level, LEVELS_NEED_JSON)
        if system_level is not None:
            raise LoggingConfigError("system", system_level, LEVELS_NEED_JSON)
    return LoggingConfig(fmt, application_level, system_level)


def logging_from_api(value: object, current: LoggingConfig | None = None) -> LoggingConfig:
    """The API's ``LoggingConfig`` object, over ``current`` (UpdateFunctionConfiguration keeps
    what it does not name). ``LogGroup`` is accepted and ignored: logs stay in the workbench."""
    if not isinstance(value, dict):
        raise LoggingConfigError("format", value, "LoggingConfig must be an object")
    base = current or LoggingConfig()
    fmt = check_format(value["LogFormat"]) if "LogFormat" in value else base.format
    app = base.application_level if fmt == "JSON" else None
    system = base.system_level if fmt == "JSON" else None
    if "ApplicationLogLevel" in value:
        app = check_application_level(value["ApplicationLogLevel"])
    if "SystemLogLevel" in value:
        system = check_system_level(value["SystemLogLevel"])
    return build_logging(fmt, app, system)
