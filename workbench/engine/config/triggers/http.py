"""``type = "http"``: an API Gateway HTTP API route, served by the HTTP trigger server.

Keys: path, method ("ANY"), payload_format ("2.0").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .registry import TriggerError, TriggerType

HTTP_METHODS: tuple[str, ...] = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PAYLOAD_FORMATS: tuple[str, ...] = ("2.0", "1.0")
_PATH_PARAM_RE = re.compile(r"\{([A-Za-z0-9_.-]+)(\+?)\}")
_PATH_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~:@!$&'()*,;=+-]*")


@dataclass(frozen=True, slots=True)
class HttpTrigger:
    path: str
    method: str = "ANY"
    payload_format: str = "2.0"
    enabled: bool = True
    type: str = "http"

    @property
    def route_key(self) -> str:
        """API Gateway's route key: ``GET /items/{id}``, ``ANY /{proxy+}``."""
        return f"{self.method} {self.path}"


def _parse(raw: Mapping[str, Any], enabled: bool) -> HttpTrigger:
    path = raw["path"]
    if not isinstance(path, str) or not path.startswith("/"):
        raise TriggerError("path", 'must be a path starting with "/", e.g. "/items/{id}"')
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        param = _PATH_PARAM_RE.fullmatch(segment)
        if param is not None:
            if param.group(2) and index != len(segments) - 1:
                raise TriggerError("path", f"a greedy {segment} must be the last segment")
        elif (
            "{" in segment
            or "}" in segment
            or not _PATH_SEGMENT_RE.fullmatch(segment)
            or (not segment and index != len(segments) - 1)
        ):
            raise TriggerError(
                "path", f"bad segment {segment!r}: use plain text, {{name}} or a last {{name+}}"
            )
    method = raw.get("method", "ANY")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise TriggerError("method", f"must be one of: {', '.join(HTTP_METHODS)}")
    fmt = raw.get("payload_format", "2.0")
    if isinstance(fmt, float):
        fmt = f"{fmt:.1f}"
    if fmt not in PAYLOAD_FORMATS:
        raise TriggerError("payload_format", 'must be "2.0" (the default) or "1.0"')
    return HttpTrigger(path, method.upper(), fmt, enabled)


HTTP = TriggerType(
    name="http",
    cls=HttpTrigger,
    keys=("path", "method", "payload_format"),
    required="path",
    parse=_parse,
    label=lambda t: f"http:{t.route_key}",
    # the HTTP trigger server lists its routes itself, once it has settled which function
    # serves a route key two of them claim
    describe=lambda t, function, roots: None,
)
