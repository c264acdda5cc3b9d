"""Immutable code snapshots for published versions, in a content-addressed store.

Publishing zips the function's folder deterministically (sorted paths, fixed timestamps and
modes, so the same files always give the same bytes) and keys the zip by its SHA-256, as Lambda
keys an uploaded package: ``CodeSha256`` is the base64 of that digest. The store keeps the zip
(``code/<hex>.zip``) and the tree extracted from it (``code/<hex>/``), which a version's
environments run from. Files there are read-only, as Lambda's ``/var/task`` is. Writes are
atomic renames, so two processes publishing the same code at once both end up with one copy.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..config.function import CONFIG_FILENAME
from ..config.source_filter import SourceFilter
from ..model.errors import InvalidParameterValue, LambdaError

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build clock leaks in
MAX_UNZIPPED_BYTES = 262_144_000  # Lambda: 250 MB unzipped, layers included
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One stored package: its digest, its zip's size, and where its files are."""

    code_sha256: str  # base64 of the SHA-256 of the zip, as Lambda reports it
    code_size: int  # bytes of the zip (Lambda's CodeSize)
    folder: Path  # the extracted files


def code_files(folder: Path, source_filter: SourceFilter | None = None) -> list[tuple[str, Path]]:
    """(zip name, path) of every code file under ``folder``, sorted by name.

    ``function.toml`` at the top is configuration, not code (a config-only change leaves
    ``CodeSha256`` alone, as in Lambda). Symlinked files are read through; symlinked folders are
    not entered, so a link loop cannot hang a publish.
    """
    source_filter = source_filter or SourceFilter()
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not source_filter.ignored_name(d, is_dir=True)]
        relative = Path(dirpath).relative_to(folder)
        for name in filenames:
            if source_filter.ignored_name(name, is_dir=False):
                continue
            if relative == Path(".") and name == CONFIG_FILENAME:
                continue
            path = Path(dirpath) / name
            if path.is_file():  # skips sockets, fifos and dangling links
                found.append(((relative / name).as_posix(), path))
    found.sort()
    return found


def write_zip(files: list[tuple[str, Path]], out: Path) -> int:
    """Zip ``files`` deterministically into ``out``; returns the unzipped size in bytes."""
    total = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, path in files:
            mode = path.stat().st_mode
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below is read back
            executable = mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            size = path.stat().st_size
            total += size
            with path.open("rb") as src, zf.open(info, "w", force_zip64=size > 2**31) as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
    return total


def sha256_file(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


class CodeStore:
    """``root/<hex>.zip`` and ``root/<hex>/``: packages keyed by the SHA-256 of their zip."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def snapshot(self, folder: Path, *, what: str = "function") -> Snapshot:
        """Zip ``folder``'s code and store it (once per distinct content).

        A file that cannot be read, or a store that cannot be written (a full disk), is a
        ``LambdaError`` naming the path: the publish fails and nothing half-written is kept.
        """
        try:
            return self._snapshot(Path(folder), what)
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            raise LambdaError(
                f"Cannot snapshot the {what} folder {folder}: {where}{e.strerror or e}"
            ) from None

    def _snapshot(self, folder: Path, what: str) -> Snapshot:
        self.root.mkdir(parents=True, exist_ok=True)
        files = code_files(folder)
        fd, tmp_name = tempfile.mkstemp(prefix=".zip-", dir=self.root)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            unzipped = write_zip(files, tmp)
            if unzipped > MAX_UNZIPPED_BYTES:
                raise InvalidParameterValue(
                    f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes "
                    f"({what} folder {folder} holds {unzipped} bytes of code)"
                )
            digest = sha256_file(tmp)
            size = tmp.stat().st_size
            zip_path = self.zip_path(digest.hex())
            if zip_path.exists():
                tmp.unlink()
            else:
                tmp.replace(zip_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.extract(digest.hex())
        return Snapshot(base64.b64encode(digest).decode(), size, self.folder(digest.hex()))

    def zip_path(self, digest_hex: str) -> Path:
        return self.root / f"{digest_hex}.zip"

    def folder(self, digest_hex: str) -> Path:
        return self.root / digest_hex

    def extract(self, digest_hex: str) -> Path:
        """A package's files, extracted from its zip if they are not there (yet, or anymore)."""
        target = self.folder(digest_hex)
        if target.is_dir():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=".tree-", dir=self.root))
        tmp.chmod(0o755)  # /var/task, as Lambda's: its sandbox user is not its owner
        try:
            with zipfile.ZipFile(self.zip_path(digest_hex)) as zf:
                for info in zf.infolist():
                    dest = tmp / info.filename
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, dest.open("wb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
                    executable = (info.external_attr >> 16) & stat.S_IXUSR
                    dest.chmod(0o555 if executable else 0o444)  # read-only, like /var/task
            try:
                tmp.rename(target)
            except OSError:  # another process extracted it first
                if not target.is_dir():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target
