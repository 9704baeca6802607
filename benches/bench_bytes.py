"""Large bytes-like values passed to a task by value, next to a numpy array
of the same size: each round is ``f.remote(value)`` and a get of what f
returns, the value's size; and a get of a put of each kind
(``pytest benches/bench_bytes.py --benchmark-group-by=group``; the size is
1 GB, or FASTRAY_BENCH_GB gigabytes)."""
from __future__ import annotations

import os

import numpy as np
import pytest

import fastray

SIZE = int(float(os.environ.get("FASTRAY_BENCH_GB", "1")) * 1_000_000_000)
KINDS = ["ndarray", "bytes", "bytearray", "memoryview"]


def size_of(value) -> int:
    return memoryview(value).nbytes


@pytest.fixture(scope="module")
def runtime():
    fastray.init(num_cpus=2, object_store_memory=SIZE + 2**30)
    yield fastray
    fastray.shutdown()


@pytest.fixture(params=KINDS)
def value(request):
    """One value of the kind, made anew for each test (only one lives at a time)."""
    array = np.arange(SIZE, dtype=np.uint8)
    if request.param == "ndarray":
        return array
    data = array.tobytes()
    del array
    if request.param == "bytearray":
        return bytearray(data)
    return data if request.param == "bytes" else memoryview(data)


def test_task_on_a_large_value(benchmark, runtime, value):
    benchmark.group = f"f.remote({SIZE / 1e9:g} GB value), f returns its size"
    task = fastray.remote(size_of)
    assert benchmark.pedantic(lambda: fastray.get(task.remote(value)), rounds=3) == SIZE


def test_get_of_a_put_large_value(benchmark, runtime, value):
    benchmark.group = f"get(put({SIZE / 1e9:g} GB value))"
    got = benchmark.pedantic(lambda: fastray.get(fastray.put(value)), rounds=3)
    assert memoryview(got) == memoryview(value)
