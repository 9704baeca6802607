"""The task and object workloads of ``ray microbenchmark``, on fastray and
(when installed) Ray, in one run
(``pytest benches/bench_microbenchmark.py --benchmark-group-by=group``).
Each timed call is one of Ray's: a batch of 1,000 tasks counts as one call;
``extra_info`` holds the units one call is worth."""
from __future__ import annotations

import pytest

from fastray._cli import bench

APIS = [executor.name for executor in bench.installed(["fastray", "Ray"])]


@pytest.fixture(scope="module", params=APIS)
def workloads(request):
    executor = bench.executor_named(request.param)
    executor.load()
    executor.start()
    assert isinstance(executor, bench.Fastray)
    yield {row: (call, per_call) for row, call, per_call
           in bench.microbenchmark_workloads(executor.ray, quick=False)}
    executor.stop()


@pytest.mark.parametrize("row", bench.MICROBENCHMARK_ROWS)
def test_microbenchmark(benchmark, workloads, row):
    benchmark.group = row
    call, per_call = workloads[row]
    benchmark.extra_info["units_per_call"] = per_call
    benchmark(call)
