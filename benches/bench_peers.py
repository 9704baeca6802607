"""fastray next to its peers on each workload of ``python -m fastray bench``
(``pytest benches/bench_peers.py --benchmark-group-by=group``).

ProcessPoolExecutor(2) and multiprocessing.Pool(2) always run; Ray, loky
and a dask LocalCluster too when installed (``pip install -e ".[bench]"``).
The adapters and workloads are fastray._cli.bench's, so both report the same
thing."""
from __future__ import annotations

from typing import Any

import pytest

from fastray._cli import bench

EXECUTORS = [executor.name for executor in bench.installed()]
WORKLOADS = bench.peer_workloads(quick=False)


@pytest.fixture(scope="module", params=EXECUTORS)
def executor(request):
    started = bench.executor_named(request.param)
    started.load()
    started.start()
    started.result(started.submit(bench.noop))
    yield started
    started.stop()


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.row for w in WORKLOADS])
def test_workload(benchmark, executor, workload):
    benchmark.group = workload.row
    result = benchmark.pedantic(workload.make(executor), rounds=workload.rounds,
                                warmup_rounds=1)
    assert workload.check(result), f"{workload.row}: wrong result"


@pytest.mark.parametrize("name", EXECUTORS)
def test_start_first_task_and_stop(benchmark, name):
    benchmark.group = "init + first no-op task + shutdown"
    executor = bench.executor_named(name)
    executor.load()

    def cycle() -> Any:
        executor.start()
        result = executor.result(executor.submit(bench.noop, 1))
        executor.stop()
        return result

    assert benchmark.pedantic(cycle, rounds=3) == 1
