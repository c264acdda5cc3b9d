"""The Lambda-compatible HTTP API: Invoke and the control plane boto3 and the AWS CLI use.

Served on the engine's own event loop by ``workbench serve`` and by the TUI (DESIGN §7).
"""

from .server import DEFAULT_HOST, DEFAULT_PORT, LambdaAPIServer, start_api

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "LambdaAPIServer", "start_api"]
