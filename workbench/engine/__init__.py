"""The headless core of the workbench. It never imports Textual (DESIGN §1)."""

from .config import ConfigError, FunctionConfig
from .discovery import ConfigProblem
from .engine import Engine, EngineSettings, FunctionState, InvokeResult
from .errors import (
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
from .events import (
    AsyncEventChanged,
    BucketActivity,
    ConcurrencyChanged,
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
from .python_code import CodeProblem
from .records import InvocationRecord
from .versions import LATEST, Alias, Version

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
