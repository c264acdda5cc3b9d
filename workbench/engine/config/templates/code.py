"""Where a template function's code is: a local folder, a local zip, or inline source.

A zip is extracted once into a content-addressed folder under the state dir
(``template-code/<sha256>/``), so the same bytes always run from the same place and a changed zip
is a new folder (a reload). Inline code (``InlineCode``, ``Code.ZipFile``) is written the way
CloudFormation packages it: ``index.py`` for Python, ``index.js`` for Node.js.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

MAX_UNZIPPED = 250 * 1024 * 1024  # Lambda's limit for a function's code and layers, unzipped


class CodeError(Exception):
    """The code location cannot be used; the message says why and what is accepted."""


def local_code(location: str, base: Path, code_dir: Path) -> Path:
    """The folder holding the code at ``location`` (relative to ``base``, the template's folder)."""
    if location.startswith("s3://"):
        raise CodeError(
            f"{location}: code in S3 is not run here; accepted: a local folder or .zip "
            "(relative to the template), or inline code"
        )
    path = (base / location).resolve()
    if path.is_dir():
        return path
    if not path.exists():
        raise CodeError(f"{location}: not found (looked for {path})")
    if not zipfile.is_zipfile(path):
        raise CodeError(f"{location}: not a folder or a .zip file ({path})")
    return extract_zip(path, code_dir)


# (path, inode, size, mtime, ctime) -> sha256: every save under a root reads the templates
# again, and a zip that did not change need not be hashed again
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}


def _digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key not in _DIGESTS:
        if len(_DIGESTS) > 256:
            _DIGESTS.clear()
        sha = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
        _DIGESTS[key] = sha.hexdigest()
    return _DIGESTS[key]


def extract_zip(path: Path, code_dir: Path) -> Path:
    target = code_dir / _digest(path)
    if target.is_dir():
        return target
    code_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unzip-", dir=code_dir))
    scratch.chmod(0o755)  # /var/task, as Lambda's: its sandbox user is not its owner
    try:
        _unzip(path, scratch)
        try:
            os.rename(scratch, target)
        except OSError:  # another process extracted the same bytes first
            if not target.is_dir():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def _unzip(path: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > MAX_UNZIPPED:
                raise CodeError(
                    f"{path.name}: more than {MAX_UNZIPPED // (1 << 20)} MB unzipped "
                    "(Lambda's limit for code and layers)"
                )
            root = str(into.resolve())
            for member in members:
                target = os.path.realpath(os.path.join(root, member.filename))
                if not (target == root or target.startswith(root + os.sep)):
                    raise CodeError(f"{path.name}: entry {member.filename!r} points outside it")
                archive.extract(member, into)
                mode = member.external_attr >> 16
                if mode and not member.is_dir():
                    os.chmod(target, stat.S_IMODE(mode) | stat.S_IRUSR)
    except (zipfile.BadZipFile, OSError) as e:
        raise CodeError(f"{path.name}: cannot extract: {e}") from None


def inline_code(source: str, runtime: str, code_dir: Path) -> Path:
    """A folder holding ``source`` as CloudFormation would write it for ``runtime``."""
    filename = "index.js" if runtime.startswith("nodejs") else "index.py"
    digest = hashlib.sha256(f"{filename}\0{source}".encode()).hexdigest()
    target = code_dir / f"inline-{digest}"
    if not (target / filename).is_file():
        target.mkdir(parents=True, exist_ok=True)
        scratch = target / f".{filename}.tmp"
        scratch.write_text(source, encoding="utf-8")
        os.replace(scratch, target / filename)
    return target
