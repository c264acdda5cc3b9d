"""The headless core of the workbench. It never imports Textual (DESIGN §1)."""

from .config.discovery import ConfigProblem
from .config.function import ConfigError, FunctionConfig
from .config.settings import EngineSettings
from .engine import Engine
from .invoke.function_state import FunctionState
from .invoke.results import InvokeResult
from .model.errors import (
    FunctionNotReady,
    InvalidParameterValue,
    InvalidRequestContent,
    InvalidRuntime,
    LambdaError,
    PreconditionFailed,
    RequestTooLarge,
    ResourceConflict,
    ResourceNotFound,
    TooManyRequests,
    ValidationError,
)
from .model.events import (
    AsyncEventChanged,
    BucketActivity,
    ConcurrencyChanged,
    DatabaseIncident,
    DebugEvent,
    Dropped,
    EnvironmentEvent,
    FunctionReloaded,
    InvokeEnd,
    InvokeStart,
    LogLine,
    RegistryChanged,
    ScheduleFired,
    Subscription,
    Throttled,
)
from .model.problems import CodeProblem
from .model.records import InvocationRecord
from .registry.versions import LATEST, Alias, Version

__all__ = [
    "LATEST",
    "Alias",
    "AsyncEventChanged",
    "BucketActivity",
    "ScheduleFired",
    "CodeProblem",
    "FunctionReloaded",
    "RegistryChanged",
    "ResourceConflict",
    "ValidationError",
    "Version",
    "ConcurrencyChanged",
    "ConfigError",
    "ConfigProblem",
    "DatabaseIncident",
    "DebugEvent",
    "Dropped",
    "Engine",
    "EngineSettings",
    "EnvironmentEvent",
    "FunctionConfig",
    "FunctionNotReady",
    "FunctionState",
    "InvalidParameterValue",
    "InvalidRequestContent",
    "InvalidRuntime",
    "InvocationRecord",
    "InvokeEnd",
    "InvokeResult",
    "InvokeStart",
    "LambdaError",
    "LogLine",
    "PreconditionFailed",
    "RequestTooLarge",
    "ResourceNotFound",
    "Subscription",
    "Throttled",
    "TooManyRequests",
]
