"""Functions created through the deploy API (CreateFunction), kept in the state dir.

Layout under ``<state>/api-functions``: ``zips/<sha256>.zip`` (the bytes uploaded, served back
by GetFunction's ``Code.Location``), ``code/<sha256>/`` (that zip extracted, the function's
folder: content-addressed, so a code update is a new folder and never a half-written one), and
``functions/<name>/function.toml`` (its settings, the file UpdateFunctionConfiguration edits)
beside ``functions/<name>/code`` (the digest of its code). Discovery reads them as it reads a
root's folders, so an API function is an ordinary function: versions, aliases, triggers, reload.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from ..model.errors import InvalidParameterValue
from .function import CONFIG_FILENAME, ConfigError, FunctionConfig, parse_function

API_DIR = "api-functions"
CODE_FILE = "code"  # beside function.toml: the sha256 (hex) of the function's zip
# Lambda's quota for a deployment package, unzipped (Lambda quotas page: 250 MB)
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


class ApiFunctions:
    """The store of API-created functions under ``home`` (``<state>/api-functions``)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def folder(self, name: str) -> Path:
        return self.home / "functions" / name

    def config_file(self, name: str) -> Path:
        return self.folder(name) / CONFIG_FILENAME

    def exists(self, name: str) -> bool:
        return self.config_file(name).is_file()

    def digest(self, name: str) -> str:
        return (self.folder(name) / CODE_FILE).read_text(encoding="ascii").strip()

    def zip_path(self, name: str) -> Path:
        return self.home / "zips" / f"{self.digest(name)}.zip"

    # ----------------------------------------------------------------- reading

    def load(self, account_limit: int = 1000) -> tuple[list[FunctionConfig], list[ConfigError]]:
        """Every stored function, and what is wrong with those that do not load."""
        functions: list[FunctionConfig] = []
        problems: list[ConfigError] = []
        base = self.home / "functions"
        try:
            names = sorted(p.name for p in base.iterdir() if p.is_dir())
        except OSError:
            return functions, problems
        for name in names:
            config_file = self.config_file(name)
            try:
                text = config_file.read_text(encoding="utf-8")
                code = self.home / "code" / self.digest(name)
            except OSError as e:
                problems.append(ConfigError(config_file, None, None, None, f"unreadable: {e}"))
                continue
            try:
                fn = parse_function(text, code, config_file, account_limit=account_limit)
            except ConfigError as e:
                problems.append(e)
                continue
            functions.append(replace(fn, from_api=True))
        return functions, problems

    # ----------------------------------------------------------------- writing

    def store_zip(self, data: bytes) -> str:
        """Keep ``data`` (a deployment package) and its extracted folder; its sha256 (hex).

        A zip that is not one, or that escapes its folder, or holds more than 250 MB, is
        Lambda's InvalidParameterValueException (its wording, from public error reports). The
        50 MB quota on a direct upload is the request's (the API's ``DEPLOY_BODY_LIMIT``); a
        package from a bucket has none.
        """
        digest = hashlib.sha256(data).hexdigest()
        code = self.home / "code" / digest
        if code.is_dir():
            return digest
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            members = archive.infolist()
        except (zipfile.BadZipFile, ValueError, OSError):
            raise InvalidParameterValue(
                "Could not unzip uploaded file. Please check your file, then try to upload again."
            ) from None
        total = sum(m.file_size for m in members)
        if total > MAX_UNZIPPED_BYTES:
            raise InvalidParameterValue(
                f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
            )
        for member in members:
            path = member.filename
            if path.startswith("/") or ".." in Path(path).parts:
                raise InvalidParameterValue(
                    f"Could not unzip uploaded file: the entry {path!r} points outside the "
                    "package (absolute or '..'); entries must be relative paths"
                )
        (self.home / "code").mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=self.home / "code"))
        tmp.chmod(0o755)  # /var/task, as Lambda's: its sandbox user is not its owner
        try:
            for member in members:
                self._extract(archive, member, tmp)
            zips = self.home / "zips"
            zips.mkdir(parents=True, exist_ok=True)
            self._write_atomically(zips / f"{digest}.zip", data)
            os.replace(tmp, code)
        except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError) as e:
            raise InvalidParameterValue(
                f"Could not unzip uploaded file. Please check your file, then try to upload "
                f"again. ({e})"
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return digest

    @staticmethod
    def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, into: Path) -> None:
        target = into / member.filename
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        # a zip made on Windows carries no mode: readable, as Lambda makes it (UNVERIFIED)
        mode = stat.S_IMODE(member.external_attr >> 16) or 0o644
        os.chmod(target, mode | 0o444)

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def check(self, name: str, settings: Mapping[str, object], digest: str, limit: int) -> None:
        """Validate ``settings`` as a function.toml would be, before anything is written."""
        text = self._toml(name, settings)
        try:
            parse_function(
                text, self.home / "code" / digest, self.config_file(name), account_limit=limit
            )
        except ConfigError as e:
            raise InvalidParameterValue(_as_api_error(e)) from None

    def write(self, name: str, settings: Mapping[str, object], digest: str) -> None:
        """Write (or replace) the function's function.toml and code pointer."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        self._write_atomically(folder / CONFIG_FILENAME, self._toml(name, settings).encode())
        self.set_code(name, digest)

    def set_code(self, name: str, digest: str) -> None:
        self._write_atomically(self.folder(name) / CODE_FILE, f"{digest}\n".encode())

    def delete(self, name: str) -> None:
        """Forget the function; its code stays while another function or version uses it."""
        shutil.rmtree(self.folder(name), ignore_errors=True)

    @staticmethod
    def _toml(name: str, settings: Mapping[str, object]) -> str:
        import tomlkit  # with the first function created through the API, not every start

        doc = tomlkit.document()
        doc["name"] = name
        for key, value in settings.items():
            if value is not None and value != {}:
                doc[key] = value
        return tomlkit.dumps(doc)


def _as_api_error(error: ConfigError) -> str:
    """A function.toml error in the API's terms (the key, not a file the caller never saw)."""
    if error.key is None:
        return error.message
    return f"{error.key}: {error.message}"
