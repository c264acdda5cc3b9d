"""The engine's control plane: what ``$LATEST``'s code is, and changing a function's settings.

Used by the Lambda-compatible API (GetFunction, UpdateFunctionConfiguration,
Put/DeleteFunctionConcurrency). Settings are written back into the function's ``function.toml``
(``config_writer.py``) and applied at once, as a save would be; the watcher then sees a file
that is already loaded and reloads nothing more.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config.catalog import Catalog
from ..config.config_writer import rewrite_config
from ..config.function import UNRESERVED_CONCURRENCY, FunctionConfig
from ..model.errors import InvalidParameterValue, PreconditionFailed, ResourceConflict
from .service import RegistryService
from .snapshots import code_files, write_zip
from .versions import Version, config_to_json


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """``$LATEST``'s package as Lambda describes it: the zip's digest and size, when saved."""

    code_sha256: str  # base64 of the SHA-256 of the (deterministic) zip, as a publish stores it
    code_size: int
    last_modified: float  # newest mtime of the code files and function.toml
    revision_id: str  # changes whenever the code or the configuration does


def zip_code(fn: FunctionConfig, files: list[tuple[str, Path]] | None = None) -> bytes:
    """The folder's code zipped the way a publish zips it (so digests match the version's)."""
    with tempfile.TemporaryDirectory(prefix="workbench-code-") as folder:
        zip_path = Path(folder) / "code.zip"
        write_zip(code_files(fn.folder) if files is None else files, zip_path)
        return zip_path.read_bytes()


def measure_code(fn: FunctionConfig) -> CodeInfo:
    files = code_files(fn.folder)  # walked once: for the newest mtime and for the zip
    newest = max([fn.config_file.stat().st_mtime, *(p.stat().st_mtime for _, p in files)])
    data = zip_code(fn, files)
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    size = len(data)
    revision = hashlib.sha256((sha + config_to_json(fn)).encode()).digest()[:16]
    return CodeInfo(sha, size, newest, str(uuid.UUID(bytes=revision, version=4)))


class ControlPlane:
    """Describing and configuring functions (see the module docstring).

    ``apply`` applies a rewritten ``function.toml`` at once, as hot reload applies a save.
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        registry: RegistryService,
        account_limit: int,
        apply: Callable[[list[Path]], object],
    ) -> None:
        self.catalog = catalog
        self.registry = registry
        self.account_limit = account_limit
        self._apply = apply
        self._code_info: dict[str, tuple[int, FunctionConfig, CodeInfo]] = {}

    def latest(self, name: str) -> FunctionConfig:
        """``$LATEST``'s configuration (``FunctionNotReady`` while its function.toml is broken)."""
        return self.catalog.latest(name)

    async def latest_code(self, name: str) -> CodeInfo:
        """``$LATEST``'s CodeSha256, CodeSize, LastModified and RevisionId (cached per save)."""
        fn = self.latest(name)
        revision = self.catalog.revision(name)
        cached = self._code_info.get(name)
        if cached is not None and cached[0] == revision and cached[1] == fn:
            return cached[2]
        info = await asyncio.to_thread(measure_code, fn)
        self._code_info[name] = (revision, fn, info)
        return info

    async def check_revision(self, name: str, revision_id: object) -> None:
        """A RevisionId given with a change must be ``$LATEST``'s current one (Lambda's 412)."""
        if revision_id is not None and revision_id != (await self.latest_code(name)).revision_id:
            raise PreconditionFailed.stale_revision()

    async def update_configuration(
        self,
        name: str,
        changes: Mapping[str, object | None],
        *,
        revision_id: str | None = None,
    ) -> FunctionConfig:
        """Write ``changes`` (function.toml keys) into the function's file, and apply them now."""
        fn = self.latest(name)
        if fn.resource is not None:
            # its settings are the template's: writing function.toml keys into it would break it
            # UNVERIFIED: Lambda has no such case; a 409 as for a function not ready to change
            raise ResourceConflict(
                f"The function {name} is defined by the resource {fn.resource} in "
                f"{fn.config_file}: change its configuration there (it reloads on save)"
            )
        await self.check_revision(name, revision_id)
        rewrite_config(fn.config_file, changes, account_limit=self.account_limit)
        self._apply([fn.config_file])
        return self.latest(name)

    async def latest_zip(self, fn: FunctionConfig) -> bytes:
        return await asyncio.to_thread(zip_code, fn)

    def code_zip_path(self, version: Version) -> Path:
        """Where the code store keeps a published version's zip."""
        digest = base64.b64decode(version.code_sha256).hex()
        return self.registry.require().code.zip_path(digest)

    def reserved_concurrency(self, name: str) -> int | None:
        return self.latest(name).reserved_concurrency

    async def put_reserved_concurrency(self, name: str, value: int) -> int:
        fn = self.latest(name)
        others = self.catalog.reserved_total - (fn.reserved_concurrency or 0)
        if others + value > self.account_limit - UNRESERVED_CONCURRENCY:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of "
                f"[{UNRESERVED_CONCURRENCY}]."
            )
        await self.update_configuration(name, {"reserved_concurrency": value})
        return value

    async def delete_reserved_concurrency(self, name: str) -> None:
        await self.update_configuration(name, {"reserved_concurrency": None})
