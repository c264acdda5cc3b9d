"""The headless core of the workbench. It never imports Textual (DESIGN §1).

Its public names are loaded on first use (PEP 562), so a command that needs one corner of the
engine (``generate-event`` needs only ``engine.shapes``) does not pay for all of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config.discovery import ConfigProblem
    from .config.function import ConfigError, FunctionConfig
    from .config.settings import EngineSettings
    from .engine import Engine
    from .invoke.answer_first import Answer, invoke_answer_first
    from .invoke.function_state import FunctionState
    from .invoke.results import InvocationCancelled, InvokeResult
    from .invoke.scaling import LAMBDA_SCALING_RATE
    from .invoke.streaming import StreamingInvocation, invoke_stream
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
        RecursionStopped,
        RegistryChanged,
        ResponseChunk,
        ScheduleFired,
        Subscription,
        Throttled,
    )
    from .model.problems import CodeProblem
    from .model.records import InvocationRecord
    from .registry.versions import LATEST, Alias, Version
    from .runtime.response_stream import STREAM_LIMIT, StreamEnd

_WHERE = {  # public name -> the module under workbench.engine that defines it
    "Alias": "registry.versions",
    "AsyncEventChanged": "model.events",
    "BucketActivity": "model.events",
    "CodeProblem": "model.problems",
    "ConcurrencyChanged": "model.events",
    "DatabaseIncident": "model.events",
    "ConfigError": "config.function",
    "ConfigProblem": "config.discovery",
    "DebugEvent": "model.events",
    "Dropped": "model.events",
    "Engine": "engine",
    "EngineSettings": "config.settings",
    "LAMBDA_SCALING_RATE": "invoke.scaling",
    "EnvironmentEvent": "model.events",
    "FunctionConfig": "config.function",
    "FunctionNotReady": "model.errors",
    "FunctionReloaded": "model.events",
    "FunctionState": "invoke.function_state",
    "InvalidParameterValue": "model.errors",
    "InvalidRequestContent": "model.errors",
    "InvalidRuntime": "model.errors",
    "InvocationRecord": "model.records",
    "InvokeEnd": "model.events",
    "InvocationCancelled": "invoke.results",
    "InvokeResult": "invoke.results",
    "InvokeStart": "model.events",
    "STREAM_LIMIT": "runtime.response_stream",
    "StreamEnd": "runtime.response_stream",
    "StreamingInvocation": "invoke.streaming",
    "invoke_stream": "invoke.streaming",
    "Answer": "invoke.answer_first",
    "invoke_answer_first": "invoke.answer_first",
    "LATEST": "registry.versions",
    "LambdaError": "model.errors",
    "LogLine": "model.events",
    "PreconditionFailed": "model.errors",
    "RegistryChanged": "model.events",
    "RequestTooLarge": "model.errors",
    "ResourceConflict": "model.errors",
    "ResourceNotFound": "model.errors",
    "RecursionStopped": "model.events",
    "ResponseChunk": "model.events",
    "ScheduleFired": "model.events",
    "Subscription": "model.events",
    "Throttled": "model.events",
    "TooManyRequests": "model.errors",
    "ValidationError": "model.errors",
    "Version": "registry.versions",
}


def __getattr__(name: str) -> object:
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "LATEST",
    "STREAM_LIMIT",
    "StreamEnd",
    "StreamingInvocation",
    "invoke_stream",
    "Answer",
    "invoke_answer_first",
    "Alias",
    "AsyncEventChanged",
    "BucketActivity",
    "RecursionStopped",
    "ScheduleFired",
    "CodeProblem",
    "FunctionReloaded",
    "RegistryChanged",
    "ResourceConflict",
    "ValidationError",
    "Version",
    "ConcurrencyChanged",
    "DatabaseIncident",
    "ConfigError",
    "ConfigProblem",
    "DebugEvent",
    "Dropped",
    "Engine",
    "EngineSettings",
    "LAMBDA_SCALING_RATE",
    "EnvironmentEvent",
    "FunctionConfig",
    "FunctionNotReady",
    "FunctionState",
    "InvalidParameterValue",
    "InvalidRequestContent",
    "InvalidRuntime",
    "InvocationRecord",
    "InvokeEnd",
    "InvocationCancelled",
    "InvokeResult",
    "InvokeStart",
    "LambdaError",
    "LogLine",
    "PreconditionFailed",
    "RequestTooLarge",
    "ResourceNotFound",
    "ResponseChunk",
    "Subscription",
    "Throttled",
    "TooManyRequests",
]
