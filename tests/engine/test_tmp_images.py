"""Each environment's /tmp is a filesystem of its own where the machine allows it: capped in
total at ``ephemeral_storage`` (``ENOSPC`` past it, as on Lambda), on disk (a 128 MB function
writes more than 128 MB there), gone with its environment; and the per-file fallback, forced by
``WORKBENCH_TMP_CAP=0``, says that it is one. Real loop devices and mounts.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import add_function, body, until
from workbench.engine import Engine, EngineSettings
from workbench.engine.runtime.namespaces import probe
from workbench.engine.runtime.tmp_images import (
    SWITCH_VAR,
    TEMPLATES,
    TmpImages,
    loop_mount,
    unmount_under,
)

MB = 1024 * 1024


def _images_here(tmp_path: Path) -> str:
    found = TmpImages.open(tmp_path / "probe")
    if isinstance(found, str):
        return found
    why = found.wait_probed()
    found.close()
    return why


@pytest.fixture(scope="module")
def images_here(tmp_path_factory: pytest.TempPathFactory) -> None:
    why = _images_here(tmp_path_factory.mktemp("images"))
    if why:
        pytest.skip(f"no TMPDIR images here: {why}")


WRITER = """
import errno, json, os

def handler(event, context):
    tmp = os.environ["TMPDIR"]
    if event.get("where"):
        st = os.statvfs(tmp)
        return {"tmp": tmp, "size_mb": st.f_blocks * st.f_frsize / 2**20,
                "free_mb": st.f_bavail * st.f_frsize / 2**20, "files": os.listdir(tmp)}
    written = 0  # MB, in files of 100 MB: the cap is on the total, not on one file
    for i in range(event["files"]):
        try:
            with open(os.path.join(tmp, f"part-{i}"), "wb") as f:
                for _ in range(100):
                    f.write(b"x" * 2**20)
                    written += 1
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            return {"written_mb": written, "errno": e.errno}
    return {"written_mb": written, "errno": None}
"""


def settings(tmp_path: Path, isolation: str) -> EngineSettings:
    return EngineSettings(
        keep_alive_s=30.0,
        reap_interval_s=0.2,
        state_dir=tmp_path / "state",
        isolation=isolation,  # type: ignore[arg-type]
        cpu="full",
    )


@pytest.fixture
async def engine(function_root: Path, tmp_path: Path, images_here: None) -> AsyncIterator[Engine]:
    async with Engine([function_root], settings(tmp_path, "cgroups")) as eng:
        add_function(eng, "writer", WRITER, memory_size=128, ephemeral_storage=512, timeout=120)
        yield eng


def mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


async def test_tmp_is_capped_in_total_at_the_ephemeral_storage_and_not_in_memory(
    engine: Engine,
) -> None:
    result = await engine.invoke("writer", json.dumps({"files": 7}).encode())
    got = body(result)
    # 700 MB asked for in seven files: the sixth fails with "No space left on device" once the
    # total reaches 512 MB (no single file came near the per-file limit)
    assert got["errno"] == 28, got  # ENOSPC
    assert 500 <= got["written_mb"] <= 513, got
    # the function (128 MB) wrote four times its memory: /tmp is disk, not charged as memory
    assert result.function_error is None and result.record.status == "success"
    assert result.record.max_memory_mb <= 128


async def test_each_environment_has_its_own_empty_tmp_which_goes_with_it(engine: Engine) -> None:
    first = body(await engine.invoke("writer", b'{"where": true}'))
    [env] = engine.environments("writer")
    assert env.tmpdir == first["tmp"] and mounted(first["tmp"])
    assert first["files"] == []  # (no lost+found)
    assert 512 <= first["size_mb"] < 540 and first["free_mb"] >= 512
    await engine.invoke("writer", json.dumps({"files": 1}).encode())
    # its environment goes, and its /tmp with it; the next one gets another, empty
    env.shutdown("idle")
    await until(lambda: not mounted(first["tmp"]), "the first environment's /tmp to go")
    await until(lambda: not os.path.exists(first["tmp"] + ".img"), "its image to be removed")
    second = body(await engine.invoke("writer", b'{"where": true}'))
    assert second["tmp"] != first["tmp"] and second["files"] == []
    isolation = engine.pool.isolation
    assert isolation is not None and isolation.tmp is not None
    assert "ephemeral_storage in total" in isolation.describe_tmp()


async def test_closing_the_engine_leaves_no_mount(
    function_root: Path, tmp_path: Path, images_here: None
) -> None:
    async with Engine([function_root], settings(tmp_path, "cgroups")) as engine:
        add_function(engine, "writer", WRITER)
        where = body(await engine.invoke("writer", b'{"where": true}'))["tmp"]
        assert engine.scratch is not None
        folder = str(engine.scratch.path)
        assert mounted(where)
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if folder in line]
    assert not os.path.exists(folder)


@pytest.mark.skipif(bool(probe()), reason="no namespaces here")
async def test_in_namespaces_tmp_is_the_environments_own_filesystem(
    function_root: Path, tmp_path: Path, images_here: None
) -> None:
    async with Engine([function_root], settings(tmp_path, "auto")) as engine:
        add_function(engine, "writer", WRITER, ephemeral_storage=1024)
        got = body(await engine.invoke("writer", b'{"where": true}'))
        assert got["tmp"] == "/tmp" and got["files"] == []
        assert 1024 <= got["size_mb"] < 1070


@pytest.mark.skipif(bool(probe()), reason="no namespaces here")
async def test_in_namespaces_the_hosts_mount_goes_once_bound_and_the_image_with_the_environment(
    function_root: Path, tmp_path: Path, images_here: None
) -> None:
    """Every new environment's mount namespace starts as a copy of the host's: the host keeps
    no mount of an environment's /tmp once its processes have bound it. It is still the
    environment's, capped, with what it wrote, until the environment goes, and its image then."""
    async with Engine([function_root], settings(tmp_path, "auto")) as engine:
        add_function(engine, "writer", WRITER, ephemeral_storage=512, timeout=120)
        first = body(await engine.invoke("writer", json.dumps({"files": 1}).encode()))
        assert first == {"written_mb": 100, "errno": None}
        [env] = engine.environments("writer")
        host_path = env.tmpdir
        await until(lambda: not mounted(host_path), "the host's mount of its /tmp to be detached")
        assert os.path.exists(host_path + ".img") and os.listdir(host_path) == []
        # inside, it is the same filesystem: what the first call wrote, and the total cap
        got = body(await engine.invoke("writer", b'{"where": true}'))
        assert got["tmp"] == "/tmp" and got["files"] == ["part-0"]
        assert 400 <= got["free_mb"] <= 413, got
        # (part-0 is written over: the total again stops at 512 MB)
        full = body(await engine.invoke("writer", json.dumps({"files": 6}).encode()))
        assert full["errno"] == 28 and 500 <= full["written_mb"] <= 513, full
        assert engine.environments("writer") == [env]
        env.shutdown("idle")
        await until(lambda: not os.path.exists(host_path + ".img"), "its image to be removed")
        await until(lambda: not os.path.exists(host_path), "its folder to be removed")


async def test_a_killed_engines_mounts_are_undone(tmp_path: Path, images_here: None) -> None:
    """What an engine killed with ``kill -9`` leaves mounted, the next one's sweep unmounts
    (``tmp_dirs.py`` calls this before removing the folder)."""
    images = TmpImages.open(tmp_path / "engine-dead")
    assert isinstance(images, TmpImages)
    target, mount = images.take(512)
    if mount is not None:
        mount()
    assert mounted(target)
    assert unmount_under(tmp_path / "engine-dead") >= 1
    assert not mounted(target)
    images.close()


async def test_a_folder_left_without_its_lock_and_still_mounted_is_swept(
    tmp_path: Path, images_here: None
) -> None:
    """An engine's close removes its lock with its folder; an image mounted after its unmount
    pass (a spare made late) kept the folder, lock-less, mounted for good: the next sweep
    unmounts it and removes the folder."""
    from workbench.engine.runtime.tmp_dirs import sweep

    images = TmpImages.open(tmp_path / "elsewhere")  # (only for its image template)
    assert isinstance(images, TmpImages)
    folder = tmp_path / "root" / "engine-1-closed"
    target = folder / "tmp-late"
    target.mkdir(parents=True)
    image = tmp_path / "late.img"
    shutil.copyfile(images._template(16), image)
    loop_mount(str(image), str(target))
    try:
        assert mounted(str(target)) and not (folder / ".lock").exists()
        assert sweep(tmp_path / "root") == [folder]
        assert not mounted(str(target)) and not folder.exists()
    finally:
        unmount_under(folder)
        images.close()


async def test_an_image_mounted_after_close_is_undone_at_once(
    tmp_path: Path, images_here: None
) -> None:
    """An environment starting while the engine closes (its image mounted in a spawning thread
    after ``close``): nothing stays mounted (this left the folders the test above sweeps)."""
    images = TmpImages.open(tmp_path / "engine-closing")
    assert isinstance(images, TmpImages)
    late, mount = images.take(16)  # (no spare of this size yet: mounted by the caller)
    assert mount is not None
    images.close()
    mount()
    assert not mounted(late) and not os.path.exists(late)


async def test_the_per_file_fallback_is_forced_and_said(
    function_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SWITCH_VAR, "0")
    async with Engine([function_root], settings(tmp_path, "cgroups")) as engine:
        add_function(engine, "writer", WRITER)
        got = body(await engine.invoke("writer", b'{"where": true}'))
        assert not mounted(got["tmp"])
        isolation = engine.pool.isolation
        assert isolation is not None and isolation.tmp is None
        assert isolation.describe_tmp() == (
            f"/tmp: ephemeral_storage per file only, not in total (asked for with {SWITCH_VAR}=0)"
        )


HOSTILE = """
import ctypes, errno, os

def handler(event, context):
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/tmp/kept", "w") as f:
        f.write("x")
    unmounted = libc.umount2(b"/tmp", 2)  # MNT_DETACH
    umount_errno = ctypes.get_errno()
    remounted = libc.mount(None, b"/tmp", None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND
    mount_errno = ctypes.get_errno()
    loops = [name for name in os.listdir("/dev") if name.startswith("loop")]
    moved = None
    for procs in ("/sys/fs/cgroup/memory/cgroup.procs", "/sys/fs/cgroup/cgroup.procs"):
        if os.path.exists(procs):
            try:
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))
                moved = "moved"
            except OSError as e:
                moved = e.errno
    st = os.statvfs("/tmp")
    return {"unmounted": unmounted, "umount_errno": umount_errno, "remounted": remounted,
            "mount_errno": mount_errno, "loops": loops, "kept": os.path.exists("/tmp/kept"),
            "moved": moved, "size_mb": st.f_blocks * st.f_frsize >> 20}
"""


@pytest.mark.skipif(bool(probe()), reason="no namespaces here")
async def test_a_handler_cannot_undo_or_reach_its_tmp_filesystem(
    function_root: Path, tmp_path: Path, images_here: None
) -> None:
    """A hostile handler in its namespaces: it cannot unmount or remount its /tmp (no
    capabilities), sees no loop device to mount another, and cannot move itself out of its
    cgroup (its own, read-only, are all it sees of them)."""
    async with Engine([function_root], settings(tmp_path, "auto")) as engine:
        add_function(engine, "hostile", HOSTILE)
        got = body(await engine.invoke("hostile", b"{}"))
        [env] = engine.environments("hostile")
        assert got["unmounted"] == -1 and got["umount_errno"] == 1  # EPERM
        assert got["remounted"] == -1 and got["mount_errno"] == 1
        assert got["loops"] == [] and got["moved"] == 30  # EROFS
        # still its filesystem (the host no longer has a mount of it: the engine detached it
        # once the runtime had bound it; it lives in the environment's namespace)
        assert got["kept"] and 512 <= got["size_mb"] < 540, got
        assert os.path.exists(env.tmpdir + ".img")


def test_the_next_engine_copies_the_template_an_earlier_one_made_instead_of_formatting(
    tmp_path: Path, images_here: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = TmpImages(tmp_path / "engine-1")
    assert first.wait_probed() == ""
    first.close()
    [shared] = (tmp_path / TEMPLATES).iterdir()  # kept beside the engines' folders
    assert shared.name.startswith(f"ext4-512-{os.getuid()}-")

    def no_mke2fs(self: TmpImages, path: str, size: int) -> int:
        raise AssertionError("formatted again")

    monkeypatch.setattr(TmpImages, "_format", no_mke2fs)
    second = TmpImages(tmp_path / "engine-2")
    try:
        assert second.wait_probed() == ""  # mounting works: its copy was mounted once
        target, mount = second.take(512)
        if mount is not None:
            mount()
        st = os.statvfs(target)
        assert st.f_bavail * st.f_frsize >= 512 * MB  # Lambda's 512 MB free in it
        assert oct(os.stat(target).st_mode & 0o777) == oct(0o700) and os.listdir(target) == []
    finally:
        second.close()


def test_a_broken_shared_template_is_made_again(tmp_path: Path, images_here: None) -> None:
    shared = tmp_path / TEMPLATES / f"ext4-512-{os.getuid()}-{os.getgid()}.img"
    shared.parent.mkdir()
    shared.write_bytes(b"not an ext4 image")
    images = TmpImages(tmp_path / "engine-1")
    try:
        assert images.wait_probed() == ""
    finally:
        images.close()
    assert shared.stat().st_size > 512 * MB  # replaced by a good one (sparse)
