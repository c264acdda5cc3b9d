"""Execution environments: the runtime processes, their sandbox and launch, the per-environment
Runtime API server, the debugger broker.
"""

from __future__ import annotations

from .debug_attach import HOST, INSTALL_HINT, debugger_for, debugpy_folder
from .debugger import OUTPUT_CAP

__all__ = ["HOST", "INSTALL_HINT", "OUTPUT_CAP", "debugger_for", "debugpy_folder"]
