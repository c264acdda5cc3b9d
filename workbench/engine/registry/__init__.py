"""Published versions and aliases, the code snapshots they keep, and the control plane that
describes and reconfigures functions.
"""

from __future__ import annotations

from .control_plane import CodeInfo, zip_code
from .snapshots import MAX_UNZIPPED_BYTES
from .versions import LATEST, is_alias_qualifier, is_version_number, lambda_timestamp

__all__ = [
    "CodeInfo",
    "LATEST",
    "MAX_UNZIPPED_BYTES",
    "is_alias_qualifier",
    "is_version_number",
    "lambda_timestamp",
    "zip_code",
]
