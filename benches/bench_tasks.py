"""No-op task latency and throughput: fastray next to ProcessPoolExecutor,
measured in the same run (``pytest benches/ --benchmark-group-by=group``)."""
from __future__ import annotations

import concurrent.futures
import os

import pytest

import fastray

CPUS = os.cpu_count() or 2
ASYNC_TASKS = 20_000


def noop(x=None):
    return x


@pytest.fixture(scope="module")
def runtime():
    fastray.init(num_cpus=CPUS)
    yield fastray.remote(noop)
    fastray.shutdown()


@pytest.fixture(scope="module")
def pool():
    with concurrent.futures.ProcessPoolExecutor(CPUS) as executor:
        executor.submit(noop).result()
        yield executor


@pytest.mark.benchmark(group="sync round trip, no-op task")
def test_sync_fastray(benchmark, runtime):
    fastray.get(runtime.remote())
    benchmark(lambda: fastray.get(runtime.remote()))


@pytest.mark.benchmark(group="sync round trip, no-op task")
def test_sync_process_pool(benchmark, pool):
    benchmark(lambda: pool.submit(noop).result())


@pytest.mark.benchmark(group=f"async: submit {ASYNC_TASKS} no-op tasks, get all")
def test_async_fastray(benchmark, runtime):
    benchmark.pedantic(lambda: fastray.get([runtime.remote() for _ in range(ASYNC_TASKS)]),
                       rounds=3, iterations=1)


@pytest.mark.benchmark(group=f"async: submit {ASYNC_TASKS} no-op tasks, get all")
def test_async_process_pool(benchmark, pool):
    benchmark.pedantic(lambda: [f.result() for f in [pool.submit(noop)
                                                     for _ in range(ASYNC_TASKS)]],
                       rounds=3, iterations=1)
