"""The engine's control plane: what ``$LATEST``'s code is, and changing a function's settings.

A mixin of ``Engine``, used by the Lambda-compatible API (GetFunction, UpdateFunctionConfiguration,
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.config_writer import rewrite_config
from ..config.function import UNRESERVED_CONCURRENCY, FunctionConfig
from ..model.errors import FunctionNotReady, InvalidParameterValue, PreconditionFailed
from .snapshots import code_files, write_zip
from .versions import Version, config_to_json

if TYPE_CHECKING:
    from ..engine import Engine


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


class ControlAPI:
    """Describing and configuring functions (see the module docstring)."""

    def _latest(self: Engine, name: str) -> FunctionConfig:
        self._require_function(name)
        fn = self.functions.get(name)
        if fn is None:
            raise FunctionNotReady(
                f"The function {name} cannot be changed or described: its configuration is "
                f"invalid: {self.problems[name].error}"
            )
        return fn

    async def latest_code(self: Engine, name: str) -> CodeInfo:
        """``$LATEST``'s CodeSha256, CodeSize, LastModified and RevisionId (cached per save)."""
        fn = self._latest(name)
        state = self._states.get(name)
        revision = state.revision if state is not None else 0
        cached = self._code_info.get(name)
        if cached is not None and cached[0] == revision and cached[1] == fn:
            return cached[2]
        info = await asyncio.to_thread(measure_code, fn)
        self._code_info[name] = (revision, fn, info)
        return info

    async def check_revision(self: Engine, name: str, revision_id: object) -> None:
        """A RevisionId given with a change must be ``$LATEST``'s current one (Lambda's 412)."""
        if revision_id is not None and revision_id != (await self.latest_code(name)).revision_id:
            raise PreconditionFailed.stale_revision()

    async def update_configuration(
        self: Engine,
        name: str,
        changes: Mapping[str, object | None],
        *,
        revision_id: str | None = None,
    ) -> FunctionConfig:
        """Write ``changes`` (function.toml keys) into the function's file, and apply them now."""
        fn = self._latest(name)
        await self.check_revision(name, revision_id)
        rewrite_config(fn.config_file, changes, account_limit=self.settings.account_limit)
        self.reload([fn.config_file])
        return self._latest(name)

    async def latest_zip(self: Engine, fn: FunctionConfig) -> bytes:
        return await asyncio.to_thread(zip_code, fn)

    def code_zip_path(self: Engine, version: Version) -> Path:
        """Where the code store keeps a published version's zip."""
        digest = base64.b64decode(version.code_sha256).hex()
        return self._registry().code.zip_path(digest)

    def reserved_concurrency(self: Engine, name: str) -> int | None:
        return self._latest(name).reserved_concurrency

    async def put_reserved_concurrency(self: Engine, name: str, value: int) -> int:
        fn = self._latest(name)
        others = self._reserved_total - (fn.reserved_concurrency or 0)
        if others + value > self.settings.account_limit - UNRESERVED_CONCURRENCY:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of "
                f"[{UNRESERVED_CONCURRENCY}]."
            )
        await self.update_configuration(name, {"reserved_concurrency": value})
        return value

    async def delete_reserved_concurrency(self: Engine, name: str) -> None:
        await self.update_configuration(name, {"reserved_concurrency": None})

    @property
    def unreserved_concurrency(self: Engine) -> int:
        return self.settings.account_limit - self._reserved_total
