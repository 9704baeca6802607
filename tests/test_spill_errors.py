"""Spill files that cannot be written or read back: the error comes at
once, names the file and the OS error, and says what kind of failure it is
(a lost object, or a full store that could not spill)."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

import numpy as np
import pytest

import fastray
from fastray.exceptions import ObjectLostError, ObjectStoreFullError, RayError

from helpers import assert_pool_works

MiB = 1 << 20
STORE = 256 * MiB
# Each failure below must come well before the store's 10 s wait for memory.
AT_ONCE = 5.0


@pytest.fixture
def store():
    """A 256 MiB store that waits the default 10 s for memory."""
    context = fastray.init(num_cpus=1, object_store_memory=STORE)
    yield fastray
    context.disconnect()


def spill_dir() -> str:
    return os.path.join(fastray.api._session_dir, "spill")


def spill_some(ray) -> list:
    """Puts 8 x 50 MiB into the 256 MiB store: the oldest go to disk."""
    refs = [ray.put(np.full(50 * MiB // 8, i, dtype=np.int64)) for i in range(8)]
    assert ray.object_store_stats()["spilled_objects"] >= 3
    return refs


def test_a_deleted_spill_file_is_a_lost_object_at_once(store):
    refs = spill_some(store)
    files = os.listdir(spill_dir())
    for name in files:
        os.unlink(os.path.join(spill_dir(), name))
    started = time.monotonic()
    with pytest.raises(ObjectLostError, match="No such file or directory") as error:
        store.get(refs[0])
    assert time.monotonic() - started < AT_ONCE
    assert isinstance(error.value, RayError)
    assert os.path.join(spill_dir(), "") in str(error.value)
    assert any(name in str(error.value) for name in files)
    # Objects still in memory are unaffected, and the store keeps working.
    assert int(store.get(refs[-1])[0]) == 7
    del refs
    assert_pool_works(store)


def test_a_spill_file_replaced_by_a_symlink_is_not_followed(store, tmp_path):
    refs = spill_some(store)
    name = sorted(os.listdir(spill_dir()))[0]
    path = os.path.join(spill_dir(), name)
    # Same bytes elsewhere: following the link would return them unnoticed.
    elsewhere = tmp_path / "elsewhere"
    shutil.copyfile(path, elsewhere)
    os.unlink(path)
    os.symlink(elsewhere, path)
    with pytest.raises(ObjectLostError, match="symbolic links") as error:
        for ref in refs:
            store.get(ref)
    assert path in str(error.value)


@contextlib.contextmanager
def small_disk(path: str, size: str):
    """A tmpfs of the given size mounted at path for the duration."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path],
                   check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", path], check=True)


needs_mount = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None,
    reason="mounting a small tmpfs as the spill disk needs root and mount(8)")


@needs_mount
def test_a_full_spill_disk_fails_a_put_at_once_saying_why(store):
    with small_disk(spill_dir(), "1m"):
        refs = [store.put(np.full(60 * MiB // 8, i, dtype=np.int64)) for i in range(4)]
        started = time.monotonic()
        with pytest.raises(ObjectStoreFullError, match="spilling to disk failed") as error:
            store.put(np.zeros(60 * MiB // 8))
        assert time.monotonic() - started < AT_ONCE
        assert "No space left on device" in str(error.value)
        assert spill_dir() in str(error.value)
        assert "mapped by get()" not in str(error.value)
        # Nothing half-written is left on the small disk.
        assert os.listdir(spill_dir()) == []
        assert [int(store.get(ref)[0]) for ref in refs] == [0, 1, 2, 3]
        del refs


@needs_mount
def test_a_full_spill_disk_fails_a_get_of_a_spilled_object_at_once(store):
    with small_disk(spill_dir(), "110m"):
        # Two of these fit on the disk; reading one back needs a third spilled.
        refs = [store.put(np.full(50 * MiB // 8, i, dtype=np.int64)) for i in range(7)]
        assert store.object_store_stats()["spilled_objects"] == 2
        started = time.monotonic()
        with pytest.raises(ObjectStoreFullError, match="spilling to disk failed") as error:
            store.get(refs[0])
        assert time.monotonic() - started < AT_ONCE
        assert "could not be read back" in str(error.value)
        assert "No space left on device" in str(error.value)
        assert int(store.get(refs[-1])[0]) == 6
        del refs
