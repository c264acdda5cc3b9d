"""Published versions and aliases, kept in SQLite beside the invocation records.

A version is an immutable snapshot of a function's code and configuration, numbered 1, 2, 3…
per function; an alias names a version and may send a weighted share of its invocations to one
more version. The rules are Lambda's (LAMBDA_REFERENCE §4): publishing unchanged code and
config returns the last version instead of a new one; alias names are not all digits; an alias
routes to at most one additional version, with a weight in [0, 1], and routing needs both
versions published (never ``$LATEST``).
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from ..config.function import FunctionConfig
from ..config.logging_config import LoggingConfig
from ..model.errors import (
    InvalidParameterValue,
    LambdaError,
    ResourceConflict,
    ResourceNotFound,
    ValidationError,
)
from ..model.ids import new_uuid
from ..storage.database import Database, shared
from .snapshots import CodeStore

LATEST = "$LATEST"
ALIAS_PATTERN = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
_ALIAS_RE = re.compile(ALIAS_PATTERN)
VERSION_PATTERN = r"(\$LATEST|[0-9]+)"
_VERSION_RE = re.compile(VERSION_PATTERN)
_NUMBER_RE = re.compile(r"[0-9]+")
MAX_ALIAS_NAME = 128
MAX_DESCRIPTION = 256

# The configuration a version freezes (Lambda's version-level settings). Reserved concurrency,
# the async config and triggers belong to the function, so changing them publishes nothing new.
VERSIONED_FIELDS = (
    "runtime",
    "handler",
    "runtime_client",
    "aws_credentials",
    "memory_size",
    "timeout",
    "ephemeral_storage",
    "description",
    "layers",
    "environment",
    "snap_start",
    "logging",
)


_T = TypeVar("_T")

MAX_VERSION_NUMBER = 2**63 - 1  # SQLite's INTEGER: no version can have a larger number


def version_number(text: str) -> int:
    """A numeric qualifier's version number; 0 (which no version has) when it has too many
    digits to be one (``int()`` of 4,300 digits raises, and SQLite's integers stop at 2**63)."""
    digits = text.lstrip("0")
    return int(digits) if digits and len(digits) <= 19 else 0


def lambda_timestamp(epoch_s: float) -> str:
    """Lambda's ``LastModified``: ``2020-04-10T19:06:32.563+0000``."""
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def is_version_number(qualifier: str) -> bool:
    """``3``: a published version's number (Lambda's ``[0-9]+``)."""
    return _NUMBER_RE.fullmatch(qualifier) is not None


def is_alias_qualifier(qualifier: str | None) -> bool:
    """An invocation qualifier that names an alias: neither ``$LATEST`` nor a version number."""
    return bool(qualifier) and qualifier != LATEST and not is_version_number(qualifier)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- config as JSON


def config_to_json(fn: FunctionConfig) -> str:
    return json.dumps(
        {
            "name": fn.name,
            "folder": str(fn.folder),
            "config_file": str(fn.config_file),
            "runtime": fn.runtime,
            "handler": fn.handler,
            "runtime_client": fn.runtime_client,
            "aws_credentials": fn.aws_credentials,
            "memory_size": fn.memory_size,
            "timeout": fn.timeout,
            "ephemeral_storage": fn.ephemeral_storage,
            "description": fn.description,
            "reserved_concurrency": fn.reserved_concurrency,
            "layers": [str(layer) for layer in fn.layers],
            "environment": dict(fn.environment),
            "logging": _logging_to_json(fn.logging),
            "async_config": dict(fn.async_config),
            "triggers": [dict(t) for t in fn.triggers],
            "resource": fn.resource,
            "notes": list(fn.notes),
            "from_api": fn.from_api,
            "snap_start": fn.snap_start,
        },
        sort_keys=True,
        default=str,  # TOML dates and times in triggers
    )


def config_from_json(text: str) -> FunctionConfig:
    data = json.loads(text)
    return FunctionConfig(
        name=data["name"],
        folder=Path(data["folder"]),
        config_file=Path(data["config_file"]),
        runtime=data["runtime"],
        handler=data["handler"],
        runtime_client=data.get("runtime_client", "workbench"),  # absent before issue 5
        aws_credentials=data.get("aws_credentials"),  # absent before issue 16
        memory_size=data["memory_size"],
        timeout=data["timeout"],
        ephemeral_storage=data["ephemeral_storage"],
        description=data["description"],
        reserved_concurrency=data["reserved_concurrency"],
        layers=tuple(Path(p) for p in data["layers"]),
        environment=MappingProxyType(data["environment"]),
        logging=_logging_from_json(data.get("logging")),  # absent before issue 20: Text
        async_config=MappingProxyType(data["async_config"]),
        triggers=tuple(MappingProxyType(t) for t in data["triggers"]),
        resource=data.get("resource"),  # absent before issue 18: a folder's function
        notes=tuple(data.get("notes", ())),
        from_api=data.get("from_api", False),  # absent before the deploy API
        snap_start=data.get("snap_start", "None"),  # absent before SnapStart
    )


def _logging_to_json(config: LoggingConfig) -> dict[str, str | None]:
    return {
        "format": config.format,
        "application_level": config.application_level,
        "system_level": config.system_level,
    }


def _logging_from_json(data: object) -> LoggingConfig:
    if not isinstance(data, dict):
        return LoggingConfig()
    return LoggingConfig(
        data.get("format", "Text"), data.get("application_level"), data.get("system_level")
    )


def versioned_settings(fn: FunctionConfig) -> tuple[object, ...]:
    """What must differ (besides the code) for a publish to make a new version."""
    return tuple(
        sorted(fn.environment.items()) if name == "environment" else getattr(fn, name)
        for name in VERSIONED_FIELDS
    )


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Version:
    function: str
    number: int
    description: str
    code_sha256: str
    code_size: int
    config: FunctionConfig  # folder and layers point into the code store
    created_at: float
    revision_id: str

    @property
    def last_modified(self) -> str:
        return lambda_timestamp(self.created_at)


@dataclass(frozen=True, slots=True)
class Alias:
    function: str
    name: str
    function_version: str  # "$LATEST" or a version number
    description: str = ""
    routing: Mapping[str, float] = field(default_factory=dict)  # {"3": 0.1}: 10 % to version 3
    revision_id: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0

    def pick(self, rand: Callable[[], float] = random.random) -> str:
        """The version this invocation runs: the additional one with its weight's chance."""
        for version, weight in self.routing.items():
            if rand() < weight:
                return version
        return self.function_version

    def share(self, version: str) -> float:
        """The configured share of traffic ``version`` gets through this alias."""
        extra = sum(self.routing.values())
        if version == self.function_version:
            return 1.0 - extra
        return float(self.routing.get(version, 0.0))


# --------------------------------------------------------------------------- validation


def check_alias_name(name: str) -> None:
    if not 1 <= len(name) <= MAX_ALIAS_NAME:
        raise ValidationError.constraint(
            name, "name", f"Member must have length between 1 and {MAX_ALIAS_NAME}"
        )
    if not _ALIAS_RE.fullmatch(name):
        raise ValidationError.constraint(
            name,
            "name",
            f"Member must satisfy regular expression pattern: {ALIAS_PATTERN} "
            "(letters, digits, - and _, and not all digits)",
        )


def check_description(description: str) -> None:
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError.constraint(
            description[:40] + "…",
            "description",
            f"Member must have length less than or equal to {MAX_DESCRIPTION}",
        )


def parse_routing(pairs: Mapping[str, object]) -> dict[str, float]:
    """``{"2": 0.1}`` checked against Lambda's model: version keys, weights in [0.0, 1.0]."""
    routing: dict[str, float] = {}
    for version, weight in pairs.items():
        if not is_version_number(str(version)):
            raise ValidationError.constraint(
                version,
                "routingConfig.additionalVersionWeights",
                "Map keys must satisfy constraint: [Member must satisfy regular expression "
                "pattern: [0-9]+] (a published version number)",
            )
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValidationError.constraint(
                weight, "routingConfig.additionalVersionWeights", "Map value must be a number"
            )
        if not (0.0 <= float(weight) <= 1.0) or math.isnan(float(weight)):
            raise ValidationError.constraint(
                f"{{{version}={weight}}}",
                "routingConfig.additionalVersionWeights",
                "Map value must satisfy constraint: [Member must have value less than or equal "
                "to 1.0, Member must have value greater than or equal to 0.0]",
            )
        routing[str(version_number(str(version)))] = float(weight)
    return routing


# --------------------------------------------------------------------------- the registry


class Registry:
    """Versions and aliases of every function, in the workbench's SQLite database.

    Versions never change once written, so they are cached; aliases are read on every use,
    so one changed by another process (``workbench alias update`` beside the TUI) takes effect
    at the next invocation.
    """

    def __init__(
        self, db: Path | Database, code: CodeStore, arn: Callable[[str, str | None], str]
    ) -> None:
        self._db, self._owns_db = shared(db)
        self.path = self._db.home
        self.code = code
        self.arn = arn
        self._conn = self._db.connect()
        self._lock = threading.RLock()  # publish runs in a worker thread; writes re-enter reads
        self._versions: dict[tuple[str, int], Version] = {}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._owns_db:
                self._db.close()

    def generation(self) -> int:
        """Bumped by every write: a cheap way to notice another process's publish."""
        with self._lock:
            return int(self._conn.execute("SELECT value FROM registry_generation").fetchone()[0])

    def _write(self, work: Callable[[], _T]) -> _T:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                self._conn.execute("UPDATE registry_generation SET value = value + 1")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return result

    # ----------------------------------------------------------------- versions

    def publish(self, fn: FunctionConfig, description: str | None = None) -> tuple[Version, bool]:
        """Snapshot ``fn``'s code (and layers) and config as the next version.

        Returns (version, created). When neither code nor config changed since the last
        version, that version comes back with ``created`` False (Lambda's rule). The version's
        description is ``description``, or else the function's own.
        """
        description = fn.description if description is None else description
        check_description(description)
        code = self.code.snapshot(fn.folder)
        layers = tuple(self.code.snapshot(layer, what="layer").folder for layer in fn.layers)
        # `debug` (IDE attach) is about the code being edited, not frozen: a published version
        # starts under a debugger only with --debug-port (EngineSettings.debug_port)
        frozen = replace(fn, folder=code.folder, layers=layers, debug=None)

        def work() -> tuple[Version, bool]:
            last = self._last_version(fn.name)
            if (
                last is not None
                and last.code_sha256 == code.code_sha256
                and versioned_settings(last.config) == versioned_settings(frozen)
            ):
                return last, False
            number = (last.number if last else 0) + 1
            version = Version(
                fn.name,
                number,
                description,
                code.code_sha256,
                code.code_size,
                frozen,
                time.time(),
                new_uuid(),
            )
            self._conn.execute(
                "INSERT INTO versions (function, version, description, code_sha256, code_size, "
                "config, created_at, revision_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fn.name,
                    number,
                    description,
                    version.code_sha256,
                    version.code_size,
                    config_to_json(frozen),
                    version.created_at,
                    version.revision_id,
                ),
            )
            return version, True

        version, created = self._write(work)
        self._versions[(version.function, version.number)] = version
        return version, created

    def _last_version(self, function: str) -> Version | None:
        row = self._conn.execute(
            _VERSION_SELECT + " WHERE function = ? ORDER BY version DESC LIMIT 1", (function,)
        ).fetchone()
        return _version_from_row(row) if row else None

    def version(self, function: str, number: int) -> Version | None:
        if not 0 < number <= MAX_VERSION_NUMBER:
            return None  # e.g. 99999999999999999999999: no version has it (not an OverflowError)
        cached = self._versions.get((function, number))
        if cached is not None:
            return cached
        with self._lock:
            row = self._conn.execute(
                _VERSION_SELECT + " WHERE function = ? AND version = ?", (function, number)
            ).fetchone()
        if row is None:
            return None
        version = self._versions[(function, number)] = _version_from_row(row)
        return version

    def ensure_files(self, function: str, number: int) -> None:
        """Re-extract a version's code and layers from their zips if their folders are gone."""
        version = self.version(function, number)
        if version is None:
            return
        for folder in (version.config.folder, *version.config.layers):
            if not folder.is_dir():
                try:
                    self.code.extract(folder.name)
                except (OSError, zipfile.BadZipFile) as e:
                    raise LambdaError(
                        f"The code of {self.arn(function, str(number))} is missing from the "
                        f"code store: {self.code.zip_path(folder.name)}: {e}"
                    ) from None

    def versions(self, function: str) -> list[Version]:
        """Every published version of ``function``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                _VERSION_SELECT + " WHERE function = ? ORDER BY version", (function,)
            ).fetchall()
        return [_version_from_row(row) for row in rows]

    def require_version(self, function: str, version: str) -> None:
        """``version`` is ``$LATEST`` or a published version of ``function``."""
        if not _VERSION_RE.fullmatch(version):
            raise ValidationError.constraint(
                version,
                "functionVersion",
                f"Member must satisfy regular expression pattern: {VERSION_PATTERN}",
            )
        if version != LATEST and self.version(function, version_number(version)) is None:
            raise ResourceNotFound(f"Function not found: {self.arn(function, version)}")

    # ----------------------------------------------------------------- aliases

    def alias(self, function: str, name: str) -> Alias | None:
        with self._lock:
            row = self._conn.execute(
                _ALIAS_SELECT + " WHERE function = ? AND name = ?", (function, name)
            ).fetchone()
        return _alias_from_row(row) if row else None

    def aliases(self, function: str) -> list[Alias]:
        with self._lock:
            rows = self._conn.execute(
                _ALIAS_SELECT + " WHERE function = ? ORDER BY name", (function,)
            ).fetchall()
        return [_alias_from_row(row) for row in rows]

    def _check_target(self, function: str, version: str, routing: Mapping[str, float]) -> None:
        self.require_version(function, version)
        if len(routing) > 1:
            raise InvalidParameterValue(
                "An alias can route to at most one additional version; got "
                f"{len(routing)}: {', '.join(sorted(routing))}"
            )
        for extra in routing:
            if version == LATEST:
                raise InvalidParameterValue(
                    "Invalid function version $LATEST: an alias that routes to more than one "
                    "version must point to published versions, not $LATEST"
                )
            if extra == version:
                raise InvalidParameterValue(
                    f"The additional version {extra} is the alias's own version: route to a "
                    "different published version"
                )
            self.require_version(function, extra)

    def create_alias(
        self,
        function: str,
        name: str,
        version: str,
        *,
        routing: Mapping[str, object] | None = None,
        description: str = "",
    ) -> Alias:
        check_alias_name(name)
        check_description(description)
        weights = parse_routing(routing or {})
        self._check_target(function, version, weights)
        now = time.time()
        alias = Alias(function, name, version, description, weights, new_uuid(), now, now)

        def work() -> None:
            exists = self._conn.execute(
                "SELECT 1 FROM aliases WHERE function = ? AND name = ?", (function, name)
            ).fetchone()
            if exists:
                raise ResourceConflict(f"Alias already exists: {self.arn(function, name)}")
            self._conn.execute(
                "INSERT INTO aliases (function, name, function_version, description, routing, "
                "revision_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _alias_row(alias),
            )

        self._write(work)
        return alias

    def update_alias(
        self,
        function: str,
        name: str,
        *,
        version: str | None = None,
        routing: Mapping[str, object] | None = None,
        description: str | None = None,
    ) -> Alias:
        """Change what is given; ``routing={}`` removes the routing, ``None`` keeps it."""
        check_alias_name(name)
        if description is not None:
            check_description(description)
        weights = parse_routing(routing) if routing is not None else None

        def work() -> Alias:
            row = self._conn.execute(
                _ALIAS_SELECT + " WHERE function = ? AND name = ?", (function, name)
            ).fetchone()
            if row is None:
                raise ResourceNotFound(f"Alias not found: {self.arn(function, name)}")
            old = _alias_from_row(row)
            new = replace(
                old,
                function_version=old.function_version if version is None else version,
                routing=old.routing if weights is None else weights,
                description=old.description if description is None else description,
                revision_id=new_uuid(),
                updated_at=time.time(),
            )
            self._check_target(function, new.function_version, new.routing)
            self._conn.execute(
                "UPDATE aliases SET function_version = ?, description = ?, routing = ?, "
                "revision_id = ?, updated_at = ? WHERE function = ? AND name = ?",
                (
                    new.function_version,
                    new.description,
                    json.dumps(dict(new.routing)),
                    new.revision_id,
                    new.updated_at,
                    function,
                    name,
                ),
            )
            return new

        return self._write(work)

    def delete_alias(self, function: str, name: str) -> None:
        check_alias_name(name)

        def work() -> None:
            cursor = self._conn.execute(
                "DELETE FROM aliases WHERE function = ? AND name = ?", (function, name)
            )
            if cursor.rowcount == 0:
                raise ResourceNotFound(f"Alias not found: {self.arn(function, name)}")

        self._write(work)

    def delete_version(self, function: str, number: int) -> None:
        """Delete one published version; one an alias routes to cannot be (Lambda's 409)."""

        def work() -> None:
            using = [
                a.name
                for a in self.aliases(function)
                if a.function_version == str(number) or str(number) in a.routing
            ]
            if using:
                # UNVERIFIED: Lambda's wording for a version an alias still references
                raise ResourceConflict(
                    f"Unable to delete version because the following aliases reference it: {using}"
                )
            cursor = self._conn.execute(
                "DELETE FROM versions WHERE function = ? AND version = ?", (function, number)
            )
            if cursor.rowcount == 0:
                raise ResourceNotFound(f"Function not found: {self.arn(function, str(number))}")

        self._write(work)
        self._versions.pop((function, number), None)

    def delete_function(self, function: str) -> None:
        """Forget every version and alias of ``function`` (DeleteFunction without qualifier)."""

        def work() -> None:
            self._conn.execute("DELETE FROM aliases WHERE function = ?", (function,))
            self._conn.execute("DELETE FROM versions WHERE function = ?", (function,))

        self._write(work)
        for key in [k for k in self._versions if k[0] == function]:
            del self._versions[key]


_VERSION_SELECT = (
    "SELECT function, version, description, code_sha256, code_size, config, created_at, "
    "revision_id FROM versions"
)
_ALIAS_SELECT = (
    "SELECT function, name, function_version, description, routing, revision_id, created_at, "
    "updated_at FROM aliases"
)


def _version_from_row(row: tuple) -> Version:
    function, number, description, sha, size, config, created_at, revision_id = row
    return Version(
        function, number, description, sha, size, config_from_json(config), created_at, revision_id
    )


def _alias_from_row(row: tuple) -> Alias:
    function, name, version, description, routing, revision_id, created_at, updated_at = row
    return Alias(
        function, name, version, description, json.loads(routing), revision_id, created_at,
        updated_at,
    )  # fmt: skip


def _alias_row(alias: Alias) -> tuple:
    return (
        alias.function,
        alias.name,
        alias.function_version,
        alias.description,
        json.dumps(dict(alias.routing)),
        alias.revision_id,
        alias.created_at,
        alias.updated_at,
    )
