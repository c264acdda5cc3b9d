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
    RequestTooLarge,
    ResourceNotFound,
    TooManyRequests,
)
from .events import (
    ConcurrencyChanged,
    Dropped,
    EnvironmentEvent,
    InvokeEnd,
    InvokeStart,
    LogLine,
    Subscription,
    Throttled,
)
from .records import InvocationRecord

__all__ = [
    "ConcurrencyChanged",
    "ConfigError",
    "ConfigProblem",
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
    "RequestTooLarge",
    "ResourceNotFound",
    "Subscription",
    "Throttled",
    "TooManyRequests",
]
