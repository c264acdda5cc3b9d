"""Execution environments: the runtime processes, their sandbox and launch, the per-environment
Runtime API server, the debugger broker.
"""

from __future__ import annotations

from .credentials import CredentialsError, LocalCredentials, local_credentials
from .debug_attach import HOST, INSTALL_HINT, debugger_for, debugpy_folder
from .debugger import OUTPUT_CAP
from .interpreters import Interpreter, Interpreters
from .isolation import (
    CPU_MODES,
    ISOLATION_MODES,
    NOT_STOPPED,
    Isolation,
    namespaces_here,
    network_here,
)
from .launch import LaunchError, cannot_start, enters_namespaces
from .output import DEFAULT_LOG_LIMIT, MIN_LOG_LIMIT, NOTE_PREFIX, size_text

__all__ = [
    "CPU_MODES",
    "ISOLATION_MODES",
    "NOT_STOPPED",
    "Isolation",
    "enters_namespaces",
    "namespaces_here",
    "network_here",
    "CredentialsError",
    "LocalCredentials",
    "local_credentials",
    "DEFAULT_LOG_LIMIT",
    "HOST",
    "INSTALL_HINT",
    "Interpreter",
    "Interpreters",
    "LaunchError",
    "cannot_start",
    "MIN_LOG_LIMIT",
    "NOTE_PREFIX",
    "OUTPUT_CAP",
    "debugger_for",
    "debugpy_folder",
    "size_text",
]
