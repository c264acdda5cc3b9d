"""What the functions are: ``function.toml`` and its triggers, discovery under the roots, the
source-file filter and the file watcher. Above ``model`` only.
"""

from __future__ import annotations

from .api_functions import API_DIR, ApiFunctions
from .api_layers import LAYER_ARN_RE, ApiLayers, LayerVersion
from .api_meta import FunctionMeta
from .discovery import ConfigProblem, Discovery, discover
from .function import AWS_CREDENTIALS, RESERVED_ENV_NAMES, AwsCredentials, runtime_family
from .function_url import (
    AUTH_TYPES,
    INVOKE_MODES,
    RECURSIVE_LOOPS,
    Cors,
    RecursiveLoop,
    UrlConfig,
    UrlConfigError,
    recursive_loop,
    url_from_api,
    url_to_data,
)
from .function_urls import HOST_MARK, PATH_PREFIX, FunctionUrls, UrlEntry
from .logging_config import (
    APPLICATION_LOG_LEVELS,
    LOG_FORMATS,
    SYSTEM_LOG_LEVELS,
    LoggingConfig,
)
from .templates import TemplateOptions, read_env_vars
from .triggers import (
    HttpTrigger,
    QueueTrigger,
    S3Trigger,
    ScheduleTrigger,
    SnsTrigger,
    describe,
    label,
    triggers_of,
)
from .update_rules import (
    EPHEMERAL_STORAGE,
    RANGES,
    RESERVED_CONCURRENCY,
    env_name_violation,
    range_violation,
    reserved_env_refusal,
)
from .warm_start import (
    LATEST_REFUSAL,
    SNAP_START_VALUES,
    snap_start_refusal,
    snap_start_supported,
)

__all__ = [
    "EPHEMERAL_STORAGE",
    "RANGES",
    "RESERVED_CONCURRENCY",
    "env_name_violation",
    "range_violation",
    "reserved_env_refusal",
    "AUTH_TYPES",
    "INVOKE_MODES",
    "RECURSIVE_LOOPS",
    "Cors",
    "RecursiveLoop",
    "UrlConfig",
    "UrlConfigError",
    "recursive_loop",
    "url_from_api",
    "url_to_data",
    "HOST_MARK",
    "PATH_PREFIX",
    "FunctionUrls",
    "UrlEntry",
    "LATEST_REFUSAL",
    "SNAP_START_VALUES",
    "snap_start_refusal",
    "snap_start_supported",
    "APPLICATION_LOG_LEVELS",
    "LOG_FORMATS",
    "LoggingConfig",
    "SYSTEM_LOG_LEVELS",
    "API_DIR",
    "ApiFunctions",
    "ApiLayers",
    "FunctionMeta",
    "LAYER_ARN_RE",
    "LayerVersion",
    "AWS_CREDENTIALS",
    "AwsCredentials",
    "RESERVED_ENV_NAMES",
    "ConfigProblem",
    "Discovery",
    "HttpTrigger",
    "QueueTrigger",
    "S3Trigger",
    "ScheduleTrigger",
    "SnsTrigger",
    "TemplateOptions",
    "describe",
    "discover",
    "label",
    "read_env_vars",
    "runtime_family",
    "triggers_of",
]
