"""The content-addressed code store and its deterministic zips; the source filter."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from workbench.engine.config.source_filter import SourceFilter
from workbench.engine.model.errors import InvalidParameterValue, LambdaError
from workbench.engine.registry import snapshots
from workbench.engine.registry.snapshots import CodeStore, code_files


def tree(root: Path, files: dict[str, str], *, mtime: int | None = None) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    return root


FILES = {"app.py": "def handler(e, c):\n    return 1\n", "lib/util.py": "X = 1\n", "data.txt": "d"}


def test_the_same_files_give_the_same_zip_whatever_their_times(tmp_path: Path) -> None:
    store = CodeStore(tmp_path / "code")
    one = store.snapshot(tree(tmp_path / "one", FILES, mtime=1_000_000_000))
    two = store.snapshot(tree(tmp_path / "two", dict(reversed(FILES.items())), mtime=1_700_000_000))
    assert one == two
    zips = sorted(p.name for p in (tmp_path / "code").glob("*.zip"))
    assert zips == [base64.b64decode(one.code_sha256).hex() + ".zip"]  # stored once


def test_code_sha256_is_base64_of_the_sha256_of_the_zip(tmp_path: Path) -> None:
    store = CodeStore(tmp_path / "code")
    snap = store.snapshot(tree(tmp_path / "f", FILES))
    digest = base64.b64decode(snap.code_sha256)
    data = (tmp_path / "code" / f"{digest.hex()}.zip").read_bytes()
    assert hashlib.sha256(data).digest() == digest and snap.code_size == len(data)
    with zipfile.ZipFile(tmp_path / "code" / f"{digest.hex()}.zip") as zf:
        assert zf.namelist() == ["app.py", "data.txt", "lib/util.py"]  # sorted
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert zf.testzip() is None


def test_any_content_change_changes_the_digest(tmp_path: Path) -> None:
    store = CodeStore(tmp_path / "code")
    before = store.snapshot(tree(tmp_path / "f", FILES))
    (tmp_path / "f" / "lib" / "util.py").write_text("X = 2\n")
    after = store.snapshot(tmp_path / "f")
    assert before.code_sha256 != after.code_sha256
    (tmp_path / "f" / "lib" / "util.py").rename(tmp_path / "f" / "lib" / "other.py")
    assert store.snapshot(tmp_path / "f").code_sha256 not in (before.code_sha256, after.code_sha256)


def test_what_is_not_code_stays_out(tmp_path: Path) -> None:
    folder = tree(
        tmp_path / "f",
        {
            **FILES,
            "function.toml": 'handler = "app.handler"\n',
            "__pycache__/app.cpython-311.pyc": "x",
            ".git/HEAD": "ref",
            ".workbench/workbench.db": "x",
            ".app.py.swp": "x",
            "app.py~": "x",
            "sub/function.toml": "kept: only the top one is the config",
            ".env": "kept: hidden files are code",
        },
    )
    names = [name for name, _ in code_files(folder)]
    assert names == [".env", "app.py", "data.txt", "lib/util.py", "sub/function.toml"]


def test_the_executable_bit_survives_and_the_tree_is_read_only(tmp_path: Path) -> None:
    folder = tree(tmp_path / "f", {"bootstrap": "#!/bin/sh\n", "app.py": "x = 1\n"})
    (folder / "bootstrap").chmod(0o755)
    snap = CodeStore(tmp_path / "code").snapshot(folder)
    assert (snap.folder / "bootstrap").read_text() == "#!/bin/sh\n"
    assert stat.S_IMODE((snap.folder / "bootstrap").stat().st_mode) == 0o555
    assert stat.S_IMODE((snap.folder / "app.py").stat().st_mode) == 0o444


def test_a_deleted_tree_is_extracted_again_from_its_zip(tmp_path: Path) -> None:
    store = CodeStore(tmp_path / "code")
    snap = store.snapshot(tree(tmp_path / "f", FILES))
    shutil.rmtree(snap.folder)
    store.extract(snap.folder.name)
    assert (snap.folder / "lib" / "util.py").read_text() == "X = 1\n"


def test_too_much_code_is_refused_with_lambdas_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "MAX_UNZIPPED_BYTES", 10)
    with pytest.raises(InvalidParameterValue, match="Unzipped size must be smaller than 10 bytes"):
        CodeStore(tmp_path / "code").snapshot(tree(tmp_path / "f", FILES))
    assert list((tmp_path / "code").iterdir()) == []  # nothing half-written is left


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("/r/f/app.py", False),
        ("/r/f/node_modules/x/index.js", False),  # a Node function's dependencies are code
        ("/r/f/.git/index", True),
        ("/r/f/__pycache__/app.cpython-311.pyc", True),
        ("/r/f/app.pyc", True),
        ("/r/f/.app.py.swp", True),
        ("/r/f/.app.py.swx", True),
        ("/r/f/app.py~", True),
        ("/r/f/.#app.py", True),
        ("/r/f/#app.py#", True),
        ("/r/f/4913", True),
        ("/r/.workbench/workbench.db-wal", True),
        ("/state/code/x.zip", True),
        ("/r/f/app.py.___jb_tmp___", True),
    ],
)
def test_the_source_filter(path: str, ignored: bool) -> None:
    assert SourceFilter([Path("/state")]).ignored(path) is ignored


def test_a_store_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "code"
    blocker.write_text("a file where the store's folder should be")
    with pytest.raises(LambdaError, match=r"Cannot snapshot the function folder .*/f: .*code"):
        CodeStore(blocker).snapshot(tree(tmp_path / "f", FILES))
