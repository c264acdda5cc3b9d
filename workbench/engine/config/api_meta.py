"""What the Lambda API keeps about a function beside its configuration: tags, the resource
policy's statements, provisioned concurrency per qualifier (TagResource, AddPermission,
PutProvisionedConcurrencyConfig). Tags and statements are stored and returned, not enforced
(locally there is no IAM); provisioned concurrency is kept initialised by
``invoke/provisioned.py``.

One JSON file per function, ``<state>/api-functions/meta/<name>.json``, written atomically.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any


class FunctionMeta:
    def __init__(self, home: Path) -> None:
        self.home = home / "meta"

    def _path(self, name: str) -> Path:
        return self.home / f"{name}.json"

    def read(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads(self._path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        data.setdefault("tags", {})
        data.setdefault("statements", [])
        data.setdefault("provisioned", {})
        data.setdefault("policy_revision", str(uuid.uuid4()))
        return data

    def write(self, name: str, data: dict[str, Any]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        path = self._path(name)
        tmp = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
        tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    def drop(self, name: str) -> None:
        """The function is deleted: so is what was kept about it."""
        self._path(name).unlink(missing_ok=True)
