"""Between the configuration dialog and the engine: a function's current settings, and applying
the edited ones the way the Lambda API does (UpdateFunctionConfiguration for memory, timeout,
/tmp and variables; PutFunctionConcurrency / DeleteFunctionConcurrency for reserved
concurrency), through the engine's one ``function.toml`` writer (comments and other keys kept).
"""

from __future__ import annotations

from ..engine import Engine, FunctionConfig, LambdaError
from .dialogs.configure import Refusal, Settings

# function.toml key → the dialog's field; a refusal that names the key is shown beside it
TOML_FIELDS = {
    "memory_size": "memory",
    "timeout": "timeout",
    "ephemeral_storage": "storage",
    "reserved_concurrency": "concurrency",
    "environment": "environment",
}


def settings_of(fn: FunctionConfig) -> Settings:
    return Settings(
        memory_size=fn.memory_size,
        timeout=fn.timeout,
        ephemeral_storage=fn.ephemeral_storage,
        reserved_concurrency=fn.reserved_concurrency,
        environment=dict(fn.environment),
    )


def read_only_reason(fn: FunctionConfig) -> str | None:
    """Why the dialog cannot change ``fn`` (its template owns its settings), or None."""
    if fn.resource is None:
        return None
    return (
        f"Read-only: {fn.name} is defined by the resource {fn.resource} in "
        f"{fn.config_file.name}. Change its configuration there (it reloads on save)."
    )


def _refused(error: LambdaError, field: str = "") -> Refusal:
    text = f"{error.code}: {error.message}"
    if not field:
        field = next((f for key, f in TOML_FIELDS.items() if key in error.message), "")
    return Refusal(field, text)


async def apply_settings(
    engine: Engine, name: str, before: Settings, after: Settings
) -> Refusal | None:
    """Write what changed from ``before`` to ``after``; the engine's refusal, or None.

    Reserved concurrency first: it is the change the engine may refuse on the account's state
    (the unreserved minimum), and then nothing has been written. If the other settings are then
    refused (the file as a whole is checked before it is written: 4 KB of variables), the
    reserve goes back to what it was, so a refused save changes nothing.
    """
    reserve = after.reserved_concurrency != before.reserved_concurrency
    try:
        if reserve:
            await _reserve(engine, name, after.reserved_concurrency)
    except LambdaError as e:
        return _refused(e, "concurrency")
    changes: dict[str, object | None] = {}
    if after.memory_size != before.memory_size:
        changes["memory_size"] = after.memory_size
    if after.timeout != before.timeout:
        changes["timeout"] = after.timeout
    if after.ephemeral_storage != before.ephemeral_storage:
        changes["ephemeral_storage"] = after.ephemeral_storage
    if dict(after.environment) != dict(before.environment):
        changes["environment"] = dict(after.environment)
    if not changes:
        return None
    try:
        await engine.update_configuration(name, changes)
    except LambdaError as e:
        if reserve:
            try:
                await _reserve(engine, name, before.reserved_concurrency)
            except LambdaError as undo:
                return Refusal("", f"{_refused(e).message}; and the reserve stays changed: {undo}")
        return _refused(e)
    return None


async def _reserve(engine: Engine, name: str, value: int | None) -> None:
    """PutFunctionConcurrency, or DeleteFunctionConcurrency for None."""
    if value is None:
        await engine.delete_reserved_concurrency(name)
    else:
        await engine.put_reserved_concurrency(name, value)
