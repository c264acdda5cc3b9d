"""Every function URL the workbench serves, from function.toml's ``[url]`` (and templates) and
from the API (``CreateFunctionUrlConfig``), and each function's recursive-loop setting.

A URL from a file belongs to the file: the API shows it, and refuses to create another for the
same function and qualifier or to change or delete it (edit the file). A URL made through the API
is kept with the function's other API state (``FunctionMeta``: ``urls``, by qualifier, "" for
the unqualified function), so it outlives a restart. ``PutFunctionRecursionConfig`` is kept
there too (``recursion``) and wins over the file's ``recursive_loop``.

Where a URL is served: the HTTP trigger server, by Host ``<url-id>.lambda-url.<region>.localhost``
and by the path prefix ``/lambda-url/<function>[:<alias>]/`` (``PATH_PREFIX``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .api_meta import FunctionMeta
from .function import FunctionConfig
from .function_url import RecursiveLoop, UrlConfig, url_from_api, url_id, url_to_data

PATH_PREFIX = "/lambda-url/"
HOST_MARK = ".lambda-url."
DEFAULT_PORT = 3000  # the HTTP trigger server's (api/http_trigger.py), when it is not listening


@dataclass(frozen=True, slots=True)
class UrlEntry:
    """One served function URL."""

    function: str
    qualifier: str | None
    config: UrlConfig
    url_id: str
    created: float
    modified: float
    origin: str  # "API", or the file that sets it: a function.toml, "template.yaml: Fn"

    def host(self, region: str) -> str:
        return f"{self.url_id}.lambda-url.{region}.localhost"

    def url(self, region: str, port: int | None) -> str:
        """``http://<url-id>.lambda-url.<region>.localhost:<port>/`` (Lambda's is
        ``https://<url-id>.lambda-url.<region>.on.aws/``)."""
        return f"http://{self.host(region)}:{port or DEFAULT_PORT}/"

    def path_url(self, port: int | None) -> str:
        """The same URL by path prefix, for clients that cannot resolve ``*.localhost``."""
        target = self.function + (f":{self.qualifier}" if self.qualifier else "")
        return f"http://127.0.0.1:{port or DEFAULT_PORT}{PATH_PREFIX}{target}/"


class FunctionUrls:
    """A view over the functions as loaded now and their stored API state; cheap to make."""

    def __init__(
        self,
        functions: Mapping[str, FunctionConfig],
        meta: FunctionMeta,
        *,
        account_id: str,
        region: str,
    ) -> None:
        self.functions = functions
        self.meta = meta
        self.account_id = account_id
        self.region = region

    def _id(self, name: str, qualifier: str | None) -> str:
        return url_id(self.account_id, self.region, name, qualifier)

    def _from_file(self, fn: FunctionConfig) -> UrlEntry | None:
        if fn.url is None:
            return None
        try:
            modified = fn.config_file.stat().st_mtime
        except OSError:
            modified = time.time()
        origin = fn.origin if fn.resource or fn.from_api else str(fn.config_file)
        entry_id = self._id(fn.name, None)
        return UrlEntry(fn.name, None, fn.url, entry_id, modified, modified, origin)

    def of(self, name: str) -> list[UrlEntry]:
        """The function's URLs: the unqualified one first, then by alias."""
        fn = self.functions.get(name)
        if fn is None:
            return []
        found: dict[str, UrlEntry] = {}
        filed = self._from_file(fn)
        if filed is not None:
            found[""] = filed
        for key, stored in self.meta.read(name).get("urls", {}).items():
            if key in found:
                continue  # the file owns it
            qualifier = key or None
            config = url_from_api(stored["config"])
            found[key] = UrlEntry(
                name,
                qualifier,
                config,
                self._id(name, qualifier),
                stored["created"],
                stored["modified"],
                "API",
            )
        return [found[k] for k in sorted(found)]

    def all(self) -> list[UrlEntry]:
        return [entry for name in sorted(self.functions) for entry in self.of(name)]

    def get(self, name: str, qualifier: str | None) -> UrlEntry | None:
        return next((e for e in self.of(name) if e.qualifier == qualifier), None)

    def by_id(self, wanted: str) -> UrlEntry | None:
        return next((e for e in self.all() if e.url_id == wanted), None)

    def by_target(self, target: str) -> UrlEntry | None:
        """``name`` or ``name:alias``, as in the path prefix."""
        name, _, qualifier = target.partition(":")
        return self.get(name, qualifier or None)

    # ------------------------------------------------------------------ the API's changes

    def put(self, name: str, qualifier: str | None, config: UrlConfig, *, new: bool) -> UrlEntry:
        """Store an API URL (``new``: Create, else Update; the caller checked it may)."""
        data = self.meta.read(name)
        urls: dict[str, Any] = data.setdefault("urls", {})
        now = time.time()
        created = now if new else urls.get(qualifier or "", {}).get("created", now)
        urls[qualifier or ""] = {"config": url_to_data(config), "created": created, "modified": now}
        self.meta.write(name, data)
        entry = self.get(name, qualifier)
        assert entry is not None
        return entry

    def delete(self, name: str, qualifier: str | None) -> None:
        data = self.meta.read(name)
        data.setdefault("urls", {}).pop(qualifier or "", None)
        self.meta.write(name, data)

    # ------------------------------------------------------------------ recursion

    def recursive_loop(self, name: str) -> RecursiveLoop:
        stored = self.meta.read(name).get("recursion")
        if stored in ("Terminate", "Allow"):
            return stored
        fn = self.functions.get(name)
        return fn.recursive_loop if fn is not None else "Terminate"

    def put_recursive_loop(self, name: str, value: RecursiveLoop) -> None:
        data = self.meta.read(name)
        data["recursion"] = value
        self.meta.write(name, data)
