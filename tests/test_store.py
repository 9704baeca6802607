"""The shared-memory object store: zero-copy reads, large arguments and
results, reference counting, spilling, a full store and bad input."""
from __future__ import annotations

import dataclasses
import gc
import os
import signal
import time

import numpy as np
import pytest

import fastray
from fastray.exceptions import ObjectStoreFullError, TaskError

from helpers import assert_pool_works, wait_for_file

MiB = 1 << 20
STORE = 256 * MiB


@pytest.fixture
def small_store():
    """A 256 MiB store whose full-store wait is short, so tests stay quick."""
    context = fastray.init(num_cpus=2, object_store_memory=STORE,
                           _system_config={"object_store_full_timeout_s": 1.0})
    yield fastray
    context.disconnect()


def store_bytes() -> int:
    return fastray.object_store_stats()["bytes"]


def wait_until(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def released() -> None:
    """Store memory is given back once refs are dropped (the scheduler may
    still be handling the last messages)."""
    gc.collect()
    wait_until(lambda: store_bytes() == 0, "the store to be empty")


# ------------------------------------------------------------- zero copy

def test_get_of_a_stored_array_maps_the_same_memory_read_only(ray):
    array = np.arange(2_000_000, dtype=np.float64)
    ref = ray.put(array)
    first, second = ray.get(ref), ray.get(ref)
    assert np.shares_memory(first, second)
    assert not np.shares_memory(first, array)
    assert not first.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 1.0
    np.testing.assert_array_equal(first, array)


def test_a_repeated_array_is_one_array_after_get(ray):
    array = np.ones(500_000)
    value = ray.get(ray.put({"a": array, "b": [array, array]}))
    assert value["a"] is value["b"][0] is value["b"][1]


@dataclasses.dataclass
class Holder:
    name: str
    data: np.ndarray


def test_arrays_inside_containers_are_zero_copy(ray):
    arrays = [np.full(300_000, i, dtype=np.int32) for i in range(3)]
    ref = ray.put({"list": arrays[:2], "tuple": (arrays[2],), "holder": Holder("h", arrays[0])})
    first, second = ray.get(ref), ray.get(ref)
    assert np.shares_memory(first["list"][1], second["list"][1])
    assert np.shares_memory(first["tuple"][0], second["tuple"][0])
    assert np.shares_memory(first["holder"].data, second["holder"].data)
    assert not first["holder"].data.flags.writeable
    assert first["holder"].name == "h"
    np.testing.assert_array_equal(first["tuple"][0], arrays[2])


def test_a_stored_array_passed_on_is_referenced_not_copied(ray):
    ref = ray.put(np.arange(1_000_000))
    stored = store_bytes()
    view = ray.get(ref)
    again = ray.put(view)
    assert store_bytes() == stored
    assert np.shares_memory(ray.get(again), view)

    @ray.remote
    def first_item(x):
        return int(x[0])

    assert ray.get(first_item.remote(view)) == 0
    assert store_bytes() == stored


def test_a_task_gets_a_read_only_view_and_two_gets_share_it(ray):
    ref = ray.put(np.arange(1_000_000))

    @ray.remote
    def inspect(r):
        a, b = ray.get(r[0]), ray.get(r[0])
        return np.shares_memory(a, b), a.flags.writeable, int(a.sum())

    shared, writeable, total = ray.get(inspect.remote([ref]))
    assert shared and not writeable
    assert total == sum(range(1_000_000))


def test_a_task_returning_its_stored_argument_copies_nothing(ray):
    @ray.remote
    def identity(x):
        return x

    ref = ray.put(np.arange(1_000_000))
    stored = store_bytes()
    out = ray.get(identity.remote(ref))
    assert store_bytes() == stored
    assert np.shares_memory(out, ray.get(ref))


# ----------------------------------------------------- arguments and results

def test_each_remote_call_sees_the_array_as_it_was_then(ray):
    @ray.remote
    def total(x):
        return int(x.sum())

    array = np.zeros(1_000_000, dtype=np.int64)
    first = total.remote(array)
    array += 1
    second = total.remote(array)
    array += 1
    assert ray.get([first, second]) == [0, 1_000_000]


def test_large_arguments_and_results_through_a_chain_of_tasks(ray):
    @ray.remote
    def make(n):
        return np.arange(n, dtype=np.float64)

    @ray.remote
    def double(x):
        assert not x.flags.writeable
        return x * 2

    @ray.remote
    def total(x, y):
        return float(x.sum() + y.sum())

    n = 5_000_000
    made = make.remote(n)
    result = ray.get(total.remote(double.remote(made), made))
    assert result == 3 * float(np.arange(n, dtype=np.float64).sum())
    array = ray.get(made)
    assert array.shape == (n,) and not array.flags.writeable


def test_a_result_with_many_arrays_in_a_container(ray):
    @ray.remote
    def parts():
        return {f"p{i}": np.full(100_000, i) for i in range(20)}

    value = ray.get(parts.remote())
    assert sorted(value) == sorted(f"p{i}" for i in range(20))
    assert all(int(value[f"p{i}"][-1]) == i for i in range(20))


def test_a_large_pickle_stream_without_arrays(ray):
    data = list(range(200_000))
    assert ray.get(ray.put(data)) == data

    @ray.remote
    def length(x):
        return len(x)

    assert ray.get(length.remote(data)) == len(data)


def test_workers_and_driver_allocate_at_once(ray):
    @ray.remote
    def produce(i):
        arrays = [ray.put(np.full(200_000, i * 10 + k)) for k in range(3)]
        return arrays, np.full(300_000, i)

    refs = [produce.remote(i) for i in range(24)]
    driver = [ray.put(np.full(250_000, -i)) for i in range(24)]
    for i, (inner, own) in enumerate(ray.get(refs)):
        assert int(own[0]) == i
        assert [int(a[0]) for a in ray.get(inner)] == [i * 10 + k for k in range(3)]
    assert [int(ray.get(r)[-1]) for r in driver] == [-i for i in range(24)]
    del refs, driver, inner, own
    released()


# --------------------------------------------------------- reference counting

def test_store_memory_returns_to_zero_after_refs_go(ray):
    @ray.remote
    def make():
        return np.ones(2_000_000)

    refs = [ray.put(np.ones(1_000_000)) for _ in range(5)] + [make.remote() for _ in range(3)]
    ray.get(refs)
    assert store_bytes() > 0
    del refs
    released()


def test_a_view_from_get_keeps_its_object_alive(ray):
    ref = ray.put(np.full(1_000_000, 7))
    view = ray.get(ref)
    del ref
    gc.collect()
    assert store_bytes() >= view.nbytes
    assert int(view.sum()) == 7_000_000
    del view
    released()


def test_an_array_kept_by_a_worker_keeps_its_object_alive(ray):
    @ray.remote
    def keep(x):
        import builtins
        builtins.kept_by_test = x
        return os.getpid()

    ref = ray.put(np.ones(1_000_000, dtype=np.int64))
    pid = ray.get(keep.remote(ref))
    del ref
    gc.collect()
    # The driver's last ref went synchronously; the worker's view remains.
    assert store_bytes() >= 8_000_000
    os.kill(pid, signal.SIGKILL)
    released()


def test_refs_inside_a_stored_value_keep_their_objects(ray):
    inner = ray.put(np.arange(1_000_000))
    outer = ray.put({"inner": inner})
    del inner
    gc.collect()
    (got,) = ray.get(outer).values()
    assert int(ray.get(got)[-1]) == 999_999


# ------------------------------------------------------- capacity and spilling

def test_ten_times_the_capacity_flows_through_a_small_store(small_store):
    ray = small_store

    @ray.remote
    def fill(i):
        return np.full(8 * MiB // 8, i, dtype=np.int64)

    total = 0
    for i in range(64):  # 64 x 40 MiB = 10 x 256 MiB
        ref = ray.put(np.full(32 * MiB // 8, i, dtype=np.int64))
        produced = fill.remote(i)
        assert int(ray.get(ref)[-1]) == i
        assert int(ray.get(produced)[0]) == i
        total += 32 * MiB + 8 * MiB
        ref = produced = None
    assert total >= 10 * STORE
    released()


def test_spilled_objects_come_back_intact(small_store):
    ray = small_store
    refs = [ray.put(np.full(50 * MiB // 8, i, dtype=np.int64)) for i in range(8)]
    stats = ray.object_store_stats()
    assert stats["spilled_objects"] >= 3
    assert stats["bytes"] <= STORE

    @ray.remote
    def ends(x):
        return int(x[0]), int(x[-1])

    assert ray.get([ends.remote(r) for r in refs]) == [(i, i) for i in range(8)]

    @ray.remote
    def ends_inside(nested):
        return [(int(a[0]), int(a[-1])) for a in (ray.get(r) for r in nested)]

    assert ray.get(ends_inside.remote(refs)) == [(i, i) for i in range(8)]
    for i, ref in enumerate(refs):
        view = ray.get(ref)
        assert view[0] == view[-1] == i
        del view
    assert ray.object_store_stats()["restores"] >= 3
    spill_dir = os.path.join(fastray.api._session_dir, "spill")
    assert os.listdir(spill_dir)
    del refs, ref
    released()
    wait_until(lambda: not os.listdir(spill_dir), "spill files to be removed")
    assert ray.object_store_stats()["spilled_bytes"] == 0


def test_a_full_store_of_mapped_objects_raises_a_clear_error(small_store):
    ray = small_store
    held = [ray.get(ray.put(np.zeros(60 * MiB // 8))) for _ in range(4)]
    started = time.monotonic()
    with pytest.raises(ObjectStoreFullError, match=r"could not make room for \d+ bytes") as error:
        ray.put(np.zeros(60 * MiB // 8))
    assert time.monotonic() - started < 10
    assert "object_store_memory" in str(error.value)

    @ray.remote
    def make():
        return np.zeros(60 * MiB // 8)

    with pytest.raises(ObjectStoreFullError):
        ray.get(make.remote())
    del held
    gc.collect()
    assert ray.get(ray.put(np.ones(60 * MiB // 8))).sum() == 60 * MiB // 8
    assert_pool_works(ray)


def test_an_object_larger_than_the_store_fails_at_once(small_store):
    started = time.monotonic()
    with pytest.raises(ObjectStoreFullError, match="larger than the whole object store"):
        small_store.put(np.zeros(300 * MiB // 8))
    assert time.monotonic() - started < 1
    assert store_bytes() == 0


def test_freed_pages_beyond_the_warm_limit_go_back_to_the_os():
    fastray.init(num_cpus=1, object_store_memory=STORE,
                 _system_config={"object_store_warm_bytes": 32 * MiB})
    refs = [fastray.put(np.ones(40 * MiB // 8)) for _ in range(4)]
    assert fastray.object_store_stats()["resident_bytes"] >= 160 * MiB
    del refs
    released()
    wait_until(lambda: fastray.object_store_stats()["resident_bytes"] <= 32 * MiB,
               "freed pages to be given back")


# ---------------------------------------------------- dying writers, bad input

def test_a_worker_dying_after_allocating_leaks_nothing(ray):
    @ray.remote(max_retries=0)
    def allocate_and_die():
        fastray.state.backend.allocate_blob(20 * MiB)
        os._exit(3)

    with pytest.raises(fastray.exceptions.WorkerCrashedError):
        ray.get(allocate_and_die.remote())
    released()
    assert int(ray.get(ray.put(np.ones(1_000_000))).sum()) == 1_000_000


def test_a_worker_killed_while_waiting_for_memory_leaves_the_store_usable(tmp_path):
    ray = fastray
    ray.init(num_cpus=2, object_store_memory=STORE,
             _system_config={"object_store_full_timeout_s": 60.0})
    held = [ray.get(ray.put(np.zeros(60 * MiB // 8))) for _ in range(4)]
    marker = tmp_path / "pid"

    @ray.remote(max_retries=0)
    def wants_memory(path):
        with open(path + ".tmp", "w") as out:
            out.write(str(os.getpid()))
        os.rename(path + ".tmp", path)
        return np.zeros(60 * MiB // 8)

    ref = wants_memory.remote(str(marker))
    wait_for_file(marker)
    wait_until(lambda: ray.object_store_stats()["allocs_waiting"] == 1,
               "the task to wait for store memory")
    os.kill(int(marker.read_text()), signal.SIGKILL)
    with pytest.raises(fastray.exceptions.WorkerCrashedError):
        ray.get(ref)
    wait_until(lambda: ray.object_store_stats()["allocs_waiting"] == 0,
               "the dead worker's request to be dropped")
    del held
    released()
    assert int(ray.get(ray.put(np.ones(60 * MiB // 8))).sum()) == 60 * MiB // 8
    assert_pool_works(ray)


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("this object refuses to be pickled")


def test_an_unpicklable_put_names_the_object_and_the_cause(ray):
    with pytest.raises(TypeError, match="Unpicklable.*refuses to be pickled"):
        ray.put([np.ones(200_000), Unpicklable()])
    assert store_bytes() == 0
    assert_pool_works(ray)


def test_an_unpicklable_argument_fails_at_remote(ray):
    @ray.remote
    def f(x):
        return x

    with pytest.raises(TypeError, match="refuses to be pickled"):
        f.remote((np.ones(200_000), Unpicklable()))
    released()
    assert_pool_works(ray)


def test_an_unpicklable_large_result_fails_at_get(ray):
    @ray.remote
    def f():
        return [np.ones(500_000), Unpicklable()]

    with pytest.raises(TaskError, match="refuses to be pickled"):
        ray.get(f.remote())
    released()
    assert_pool_works(ray)


def test_store_options_are_validated():
    with pytest.raises(ValueError, match="at least"):
        fastray.init(num_cpus=1, object_store_memory=1000)
    with pytest.raises(ValueError, match="more than this machine's memory"):
        fastray.init(num_cpus=1, object_store_memory=1 << 60)
    with pytest.raises(TypeError, match="int"):
        fastray.init(num_cpus=1, object_store_memory=2.5e8)
    with pytest.raises(ValueError, match="object_store_warm_bytes"):
        fastray.init(num_cpus=1, _system_config={"object_store_warm_bytes": -1})
    with pytest.raises(TypeError, match="_system_config"):
        fastray.init(num_cpus=1, _system_config=[1])
    assert not fastray.is_initialized()


def test_the_init_context_describes_the_store():
    context = fastray.init(num_cpus=1, object_store_memory=STORE)
    assert "0.2 GiB" in context.object_store
    assert context.address_info["object_store_address"] == context.object_store
    assert fastray.object_store_stats()["capacity"] == STORE


@pytest.mark.slow
def test_large_writes_are_copied_exactly_whatever_their_size(ray):
    """Writes of 64 MiB and more are split between threads: every byte of
    every part must land, whatever the size's remainder."""
    @ray.remote
    def pattern(n):
        return (np.arange(n, dtype=np.uint64) * 2654435761 % 251).astype(np.uint8)

    for n in (64 * MiB, 100 * MiB + 12_345):
        expected = (np.arange(n, dtype=np.uint64) * 2654435761 % 251).astype(np.uint8)
        np.testing.assert_array_equal(ray.get(ray.put(expected)), expected)   # driver writes
        np.testing.assert_array_equal(ray.get(pattern.remote(n)), expected)  # worker writes
