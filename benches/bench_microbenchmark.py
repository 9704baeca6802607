"""The task and object workloads of ``ray microbenchmark``, on fastray and
(when installed) Ray, in one run
(``pytest benches/bench_microbenchmark.py --benchmark-group-by=group``).
Each timed call is one of Ray's: a batch of 1,000 tasks counts as one call;
``extra_info`` holds the units one call is worth."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from fastray._cli import bench

MiB = 1024 * 1024

# What one call of each row returns, in MICROBENCHMARK_ROWS' order: a check
# of (the module with Ray's API, the call's result).
RESULT_CHECKS: list[Callable[[Any, Any], bool]] = [
    lambda ray, result: result == b"ok",
    lambda ray, result: result == [b"ok"] * 1000,
    lambda ray, result: result == [b"ok"] * 1000,
    lambda ray, result: ray.get(result) == 0,
    lambda ray, result: result == 0,
    lambda ray, result: ray.get(result).nbytes == 100 * MiB * 8,
    lambda ray, result: result.nbytes == 100 * bench.MB and result[0] == result[-1] == 1,
    lambda ray, result: len(result) == 10_000 and ray.get(result[-1]) == 1,
    lambda ray, result: result == [],
]

APIS = [executor.name for executor in bench.installed(["fastray", "Ray"])]


@pytest.fixture(scope="module", params=APIS)
def workloads(request):
    executor = bench.started(request.param)
    assert isinstance(executor, bench.Fastray)
    yield executor.ray, {row: (call, per_call, check) for (row, call, per_call), check
                         in zip(bench.microbenchmark_workloads(executor.ray, quick=False),
                                RESULT_CHECKS, strict=True)}
    executor.stop()


@pytest.mark.parametrize("row", bench.MICROBENCHMARK_ROWS)
def test_microbenchmark(benchmark, workloads, row):
    benchmark.group = row
    ray, calls = workloads
    call, per_call, check = calls[row]
    benchmark.extra_info["units_per_call"] = per_call
    assert check(ray, benchmark(call))
