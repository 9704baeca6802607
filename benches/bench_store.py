"""The object store: put bandwidth next to np.copyto, the first get of fresh
arrays of three sizes, and a task on a stored array next to
ProcessPoolExecutor, all in one run
(``pytest benches/bench_store.py --benchmark-group-by=group``).  Arrays
passed by value and returned are in bench_peers.py."""
from __future__ import annotations

import concurrent.futures
import gc

import numpy as np
import pytest

import fastray

from fastray._cli.bench_tasks import checksum, make_array

MB = 1_000_000
CPUS = 2


@pytest.fixture(scope="module")
def runtime():
    fastray.init(num_cpus=CPUS, object_store_memory=4 * 2**30)
    yield fastray
    fastray.shutdown()


@pytest.fixture(scope="module")
def pool():
    with concurrent.futures.ProcessPoolExecutor(CPUS) as executor:
        executor.submit(checksum, np.ones(8)).result()
        yield executor


@pytest.fixture(scope="module")
def array_400mb():
    return np.random.default_rng(0).random(400 * MB // 8)


@pytest.fixture(scope="module")
def array_1gb():
    return np.random.default_rng(1).random(1000 * MB // 8)


@pytest.mark.benchmark(group="put of a 1 GB array")
def test_put_1gb(benchmark, runtime, array_1gb):
    def put_and_free():
        ref = fastray.put(array_1gb)
        del ref

    benchmark.pedantic(put_and_free, rounds=7, warmup_rounds=1)
    assert np.array_equal(fastray.get(fastray.put(array_1gb)), array_1gb)


@pytest.mark.benchmark(group="put of a 1 GB array")
def test_copyto_1gb_baseline(benchmark, array_1gb):
    target = np.empty_like(array_1gb)
    target.fill(0)  # touched, as the store's recycled memory is
    benchmark.pedantic(np.copyto, args=(target, array_1gb), rounds=7, warmup_rounds=1)
    assert np.array_equal(target, array_1gb)


@pytest.mark.parametrize("nbytes", [1 * MB, 100 * MB, 1000 * MB], ids=["1MB", "100MB", "1GB"])
@pytest.mark.benchmark(group="first get of a freshly stored array")
def test_first_get(benchmark, runtime, nbytes):
    """Each round gets an object stored just before and never read.  Writing
    a large array evicts the CPU caches, which would charge the next few
    microseconds of any Python code to the get; a get of an unrelated small
    object first warms the interpreter again, so the figure is the get's own."""
    refs = []
    warm = fastray.put(make_array(1 * MB))

    def store_fresh():
        refs.clear()
        gc.collect()
        refs.append(fastray.put(make_array(nbytes)))
        for _ in range(3):
            fastray.get(warm)
        return (refs[0],), {}

    got = benchmark.pedantic(fastray.get, setup=store_fresh, rounds=9)
    refs.clear()
    assert got.nbytes == nbytes and got[0] == got[-1] == 1


@pytest.mark.benchmark(group="task on a stored 400 MB array")
def test_task_on_stored_array(benchmark, runtime, array_400mb):
    task = fastray.remote(checksum)
    ref = fastray.put(array_400mb)
    total = benchmark.pedantic(lambda: fastray.get(task.remote(ref)), rounds=7, warmup_rounds=2)
    assert total == checksum(array_400mb)


@pytest.mark.benchmark(group="task on a stored 400 MB array")
def test_task_on_array_process_pool(benchmark, pool, array_400mb):
    total = benchmark.pedantic(lambda: pool.submit(checksum, array_400mb).result(), rounds=5,
                               warmup_rounds=1)
    assert total == checksum(array_400mb)
