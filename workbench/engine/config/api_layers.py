"""Layer versions published through the deploy API (PublishLayerVersion), in the state dir.

``<state>/api-functions/layers/<name>/<version>/``: ``content/`` (the zip extracted; a layer
version never changes, so it is its own folder, and a function's ``layers`` names it as it
names any layer folder) and ``layer.json`` (description, runtimes, licence, the zip's digest,
when). ``<name>/last`` keeps the highest number given: as on Lambda, a deleted version's number
is never given again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .api_functions import ApiFunctions

LAYER_ARN_RE = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9_-]+):(?P<version>[0-9]+)"
)


@dataclass(frozen=True)
class LayerVersion:
    name: str
    version: int
    description: str
    compatible_runtimes: tuple[str, ...]
    compatible_architectures: tuple[str, ...]
    license_info: str | None
    digest: str  # sha256 (hex) of the zip published
    code_size: int
    created: float  # epoch seconds
    content: Path  # the extracted folder: what a function's ``layers`` names


class ApiLayers:
    """The layer versions under ``<store.home>/layers``."""

    def __init__(self, store: ApiFunctions) -> None:
        self.store = store
        self.home = store.home / "layers"

    def publish(
        self,
        name: str,
        data: bytes,
        *,
        description: str = "",
        runtimes: tuple[str, ...] = (),
        architectures: tuple[str, ...] = (),
        license_info: str | None = None,
    ) -> LayerVersion:
        """Keep ``data`` (checked as a function's package is) as the layer's next version."""
        digest = self.store.store_zip(data)
        folder = self.home / name
        folder.mkdir(parents=True, exist_ok=True)
        number = max(self._last(name), *self._numbers(name), 0) + 1
        (folder / "last").write_text(f"{number}\n", encoding="ascii")
        target = folder / str(number)
        tmp = folder / f".{number}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(self.store.home / "code" / digest, tmp / "content", symlinks=True)
        meta = {
            "description": description,
            "compatible_runtimes": list(runtimes),
            "compatible_architectures": list(architectures),
            "license_info": license_info,
            "digest": digest,
            "code_size": len(data),
            "created": time.time(),
        }
        (tmp / "layer.json").write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, target)
        found = self.get(name, number)
        assert found is not None
        return found

    def get(self, name: str, number: int) -> LayerVersion | None:
        folder = self.home / name / str(number)
        try:
            meta = json.loads((folder / "layer.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return LayerVersion(
            name,
            number,
            meta["description"],
            tuple(meta["compatible_runtimes"]),
            tuple(meta["compatible_architectures"]),
            meta["license_info"],
            meta["digest"],
            meta["code_size"],
            meta["created"],
            folder / "content",
        )

    def versions(self, name: str) -> list[LayerVersion]:
        """Newest first, as ListLayerVersions lists them."""
        found = [self.get(name, n) for n in sorted(self._numbers(name), reverse=True)]
        return [v for v in found if v is not None]

    def names(self) -> list[str]:
        try:
            folders = [p.name for p in self.home.iterdir() if p.is_dir()]
        except OSError:
            return []
        return sorted(name for name in folders if self.versions(name))

    def delete(self, name: str, number: int, *, keep_content: bool = False) -> None:
        """Delete the version; ``keep_content``: its folder stays for the functions using it
        (as on Lambda, they keep running with it), only the version is gone."""
        folder = self.home / name / str(number)
        if keep_content:
            (folder / "layer.json").unlink(missing_ok=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)

    def zip_path(self, version: LayerVersion) -> Path:
        return self.store.home / "zips" / f"{version.digest}.zip"

    def of_folder(self, folder: Path) -> tuple[str, int] | None:
        """(name, version) when ``folder`` is a published layer version's content."""
        if folder.name != "content" or folder.parent.parent.parent != self.home:
            return None
        try:
            return folder.parent.parent.name, int(folder.parent.name)
        except ValueError:
            return None

    def _numbers(self, name: str) -> list[int]:
        try:
            return [int(p.name) for p in (self.home / name).iterdir() if p.name.isdigit()]
        except OSError:
            return []

    def _last(self, name: str) -> int:
        try:
            return int((self.home / name / "last").read_text(encoding="ascii"))
        except (OSError, ValueError):
            return 0
