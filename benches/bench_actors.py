"""The actor workloads of ``ray microbenchmark`` and what creating and
holding actors costs, on fastray and (when installed) Ray, in one run
(``pytest benches/bench_actors.py --benchmark-group-by=group``).

Each timed call is one of Ray's (a batch of 1,000 calls then one get counts
as one call; ``extra_info`` holds the calls one is worth); the sync call's
time is the round trip.  The creation row's ``extra_info`` holds the memory
per idle actor.  The workloads are fastray._cli.bench_actors', so
``python -m fastray bench`` reports the same thing."""
from __future__ import annotations

import pytest

from fastray._cli import bench, bench_actors

APIS = [executor.name for executor in bench.installed(["fastray", "Ray"])]
SIZES = bench_actors.ActorSizes.for_run(quick=False, cpus=bench.CPUS)


@pytest.fixture(scope="module", params=APIS)
def actors(request):
    executor = bench.started(request.param)
    assert isinstance(executor, bench.Fastray)
    made = bench_actors.Actors(executor.ray)
    made.retire(bench_actors.create_and_call(made, 1))    # the first actor's imports
    yield made
    executor.stop()


@pytest.mark.parametrize("row", bench_actors.RATE_ROWS)
def test_actor_calls(benchmark, actors, row):
    benchmark.group = row
    workload = next(w for w in bench_actors.actor_workloads(actors, SIZES) if w.row == row)
    benchmark.extra_info["calls_per_call"] = workload.per_call
    call, made = workload.start()
    try:
        assert workload.check(benchmark(call)), f"{row}: wrong result"
    finally:
        actors.retire(made)


def test_create_actors_and_call_each(benchmark, actors):
    benchmark.group = bench_actors.creation_row(SIZES)
    benchmark.extra_info[bench_actors.MEMORY_ROW] = bench_actors.memory_per_idle_actor(
        actors, SIZES.created)
    made: list = []

    def retire_the_last_round() -> None:
        actors.retire(made)
        made.clear()

    benchmark.pedantic(lambda: made.extend(bench_actors.create_and_call(actors, SIZES.created)),
                       setup=retire_the_last_round, rounds=SIZES.rounds)
    assert len(made) == SIZES.created
    retire_the_last_round()
