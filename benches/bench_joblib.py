"""joblib Parallel with the fastray backend next to joblib's default (loky),
in one run (``pytest benches/bench_joblib.py --benchmark-group-by=group``):
many tiny calls, and a few calls on a large array."""
from __future__ import annotations

import joblib
import numpy as np
import pytest

import fastray
import fastray.joblib

TINY_CALLS = 100_000
ARRAY_CALLS = 16


def square(x):
    return x * x


def checksum(array):
    return float(array[::1024].sum())


@pytest.fixture(scope="module")
def runtime():
    fastray.init(num_cpus=2)
    fastray.joblib.register()
    yield
    fastray.shutdown()


@pytest.fixture(scope="module")
def array_200mb():
    return np.random.default_rng(0).random(200_000_000 // 8)


def tiny_calls():
    return joblib.Parallel(n_jobs=2)(joblib.delayed(square)(i) for i in range(TINY_CALLS))


def array_calls(array):
    return joblib.Parallel(n_jobs=2)(joblib.delayed(checksum)(array) for _ in range(ARRAY_CALLS))


@pytest.mark.benchmark(group=f"joblib: {TINY_CALLS:,} tiny calls")
def test_tiny_calls_fastray(benchmark, runtime):
    with joblib.parallel_backend("fastray"):
        squares = benchmark.pedantic(tiny_calls, rounds=3, warmup_rounds=1)
    assert squares == [i * i for i in range(TINY_CALLS)]


@pytest.mark.benchmark(group=f"joblib: {TINY_CALLS:,} tiny calls")
def test_tiny_calls_loky(benchmark):
    with joblib.parallel_backend("loky"):
        squares = benchmark.pedantic(tiny_calls, rounds=3, warmup_rounds=1)
    assert squares == [i * i for i in range(TINY_CALLS)]


@pytest.mark.benchmark(group=f"joblib: {ARRAY_CALLS} calls on a 200 MB array")
def test_array_calls_fastray(benchmark, runtime, array_200mb):
    with joblib.parallel_backend("fastray"):
        sums = benchmark.pedantic(array_calls, args=(array_200mb,), rounds=3, warmup_rounds=1)
    assert sums == [checksum(array_200mb)] * ARRAY_CALLS


@pytest.mark.benchmark(group=f"joblib: {ARRAY_CALLS} calls on a 200 MB array")
def test_array_calls_loky(benchmark, array_200mb):
    with joblib.parallel_backend("loky"):
        sums = benchmark.pedantic(array_calls, args=(array_200mb,), rounds=3, warmup_rounds=1)
    assert sums == [checksum(array_200mb)] * ARRAY_CALLS
