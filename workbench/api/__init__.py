"""The Lambda-compatible HTTP API: Invoke and the control plane boto3 and the AWS CLI use.

Served on the engine's own event loop by ``workbench serve`` and by the TUI (DESIGN §7).
The server is imported when first asked for: its imports (aiohttp) are most of a start, and the
command line needs only the defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .defaults import DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    from .server import LambdaAPIServer, start_api

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "LambdaAPIServer", "start_api"]


def __getattr__(name: str) -> Any:
    if name in ("LambdaAPIServer", "start_api"):
        from .aiohttp_import import import_aiohttp

        import_aiohttp()  # (its server alone: not its client)
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
