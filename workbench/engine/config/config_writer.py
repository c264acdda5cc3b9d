"""Writing settings back into a ``function.toml`` (UpdateFunctionConfiguration, concurrency).

The file is the source of truth, and people write comments in it, so it is edited in place with
tomlkit, which keeps comments, order and formatting. The edited text is validated as a whole
before anything is written: a change Lambda would refuse leaves the file untouched. The write is
atomic (a temporary file renamed over the old one), so the watcher never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.errors import InvalidParameterValue, LambdaError
from .function import ConfigError, FunctionConfig, parse_function

if TYPE_CHECKING:
    import tomlkit


def rewrite_config(
    config_file: Path, changes: Mapping[str, object | None], *, account_limit: int
) -> FunctionConfig:
    """Apply ``changes`` (top-level key → value; ``None`` removes the key) to ``config_file``.

    ``environment`` is a whole table: its variables are replaced, keeping the table's comments.
    Returns the configuration the new file describes.
    """
    import tomlkit  # with the first write, not with the engine (~5 ms of every start)
    from tomlkit.exceptions import TOMLKitError

    try:
        text = config_file.read_text(encoding="utf-8")
    except OSError as e:
        raise LambdaError(f"Cannot read {config_file}: {e.strerror or e}") from None
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise InvalidParameterValue(
            f"{config_file} is not valid TOML ({e}); fix it by hand before updating it"
        ) from None
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        elif key == "environment" and isinstance(value, Mapping):
            _replace_table(doc, key, value)
        else:
            doc[key] = value
    new_text = tomlkit.dumps(doc)
    try:
        fn = parse_function(new_text, config_file.parent, config_file, account_limit=account_limit)
    except ConfigError as e:
        raise InvalidParameterValue(f"The change was not written: {e}") from None
    _write_atomically(config_file, new_text)
    return fn


def _replace_table(doc: tomlkit.TOMLDocument, key: str, values: Mapping[str, object]) -> None:
    if not values:
        doc.pop(key, None)  # Lambda drops an empty Environment
        return
    table = doc.get(key)
    if not isinstance(table, MutableMapping):
        doc[key] = dict(values)
        return
    for name in [n for n in table if n not in values]:
        del table[name]
    for name, value in values.items():
        table[name] = value


def _write_atomically(path: Path, text: str) -> None:
    try:
        mode = path.stat().st_mode & 0o777
        fd, tmp = tempfile.mkstemp(prefix=".function.toml-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise LambdaError(f"Cannot write {path}: {e.strerror or e}") from None
