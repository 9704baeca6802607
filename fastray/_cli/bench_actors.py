"""The actor workloads of ``ray microbenchmark`` and what an actor costs,
for a module with Ray's API (fastray or Ray), measured the way
``python -m fastray bench`` measures its task workloads.

Ray's rows keep its shapes (1,000 calls then one get; 5,000 calls per server
from a client actor; 4 tasks of 5,000 calls each) and its definition of a
call rate.  The servers of the 1:n and n:n rows number half the runtime's
CPUs, as Ray's take half the machine's.  Every workload's actors are killed,
and their processes gone, before the next starts, so none runs beside idle
actors another left."""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .bench_measure import median_time, memory_of_tree, rate
from .bench_tasks import AsyncServer, Client, Server, call_servers, noop


RATE_ROWS = (
    "1:1 actor calls sync (/s)",
    "1:1 actor calls async (/s)",
    "1:1 actor calls concurrent (/s)",
    "1:n actor calls async (/s)",
    "n:n actor calls async (/s)",
    "1:1 async-actor calls sync (/s)",
    "1:1 async-actor calls async (/s)",
    "1:1 async-actor calls with args async (/s)",
)
# Makes a workload's actors; returns its one timed call and the actors to kill after.
Start = Callable[[], tuple[Callable[[], Any], list]]
MEMORY_ROW = "memory per idle actor (PSS, MB)"
ROUND_TRIP_ROW = "sync actor call round trip (µs)"


@dataclass(frozen=True)
class ActorSizes:
    """How big each workload is; the defaults are Ray's."""

    batch: int = 1000          # calls made before one get, on one actor
    per_server: int = 5000     # calls a client actor or a task makes
    tasks: int = 4             # tasks calling actors at once (n:n)
    servers: int = 1           # actors a client or the tasks call
    created: int = 20          # actors created at once, and held idle for the memory figure
    round_trips: int = 1000    # sync calls per round of the round-trip figure
    rounds: int = 5            # rounds of the timed figures
    quick: bool = False        # a tenth of a second per trial of a rate, not half

    @classmethod
    def for_run(cls, quick: bool, cpus: int) -> ActorSizes:
        servers = max(1, cpus // 2)
        if quick:
            return cls(batch=100, per_server=500, tasks=2, servers=servers, round_trips=100,
                       rounds=3, quick=True)
        return cls(servers=servers)


@dataclass
class ActorWorkload:
    """One of Ray's call-rate rows; check() says whether a call's result is
    right (benches/ checks it)."""

    row: str
    start: Start
    per_call: float
    check: Callable[[Any], bool]


class Actors:
    """The benchmark's actor classes and task, made with one runtime's API."""

    def __init__(self, ray: Any) -> None:
        self.ray, self.api = ray, ray.__name__
        self.server = ray.remote(num_cpus=0)(Server)
        self.async_server = ray.remote(AsyncServer)
        self.client = ray.remote(num_cpus=0)(Client)
        self.call_servers = ray.remote(call_servers)

    def retire(self, actors: list) -> None:
        """Kills actors and waits (up to 30 s) until their processes are gone."""
        pids = set(self.ray.get([actor.pid.remote() for actor in actors]))
        for actor in actors:
            self.ray.kill(actor)
        deadline = time.monotonic() + 30
        while pids & _live(pids) and time.monotonic() < deadline:
            time.sleep(0.01)


def _live(pids: set[int]) -> set[int]:
    """Those of pids whose processes still run (not exited, not zombies)."""
    live = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                    live.add(pid)
        except OSError:
            continue
    return live


def actor_workloads(actors: Actors, sizes: ActorSizes) -> list[ActorWorkload]:
    ray, batch, per_server = actors.ray, sizes.batch, sizes.per_server

    def one_call(kind: Any) -> Start:
        def start() -> tuple[Callable[[], Any], list]:
            server = kind.remote()
            return (lambda: ray.get(server.small_value.remote())), [server]
        return start

    def batch_of_calls(make: Callable[[], Any], with_args: bool = False
                       ) -> Start:
        def start() -> tuple[Callable[[], Any], list]:
            server = make()
            if with_args:
                return (lambda: ray.get([server.small_value_arg.remote(i)
                                         for i in range(batch)])), [server]
            return (lambda: ray.get([server.small_value.remote()
                                     for _ in range(batch)])), [server]
        return start

    def from_a_client() -> tuple[Callable[[], Any], list]:
        servers = [actors.server.remote() for _ in range(sizes.servers)]
        client = actors.client.remote(actors.api, servers)
        return (lambda: ray.get(client.small_value_batch.remote(per_server))), [client, *servers]

    def from_tasks() -> tuple[Callable[[], Any], list]:
        servers = [actors.server.remote() for _ in range(sizes.servers)]
        return (lambda: ray.get([actors.call_servers.remote(actors.api, servers, per_server)
                                 for _ in range(sizes.tasks)])), servers

    def oks(count: int) -> Callable[[Any], bool]:
        return lambda result: result == [b"ok"] * count

    shapes: list[tuple[Start, float, Callable[[Any], bool]]] = [
        (one_call(actors.server), 1, lambda result: result == b"ok"),
        (batch_of_calls(actors.server.remote), batch, oks(batch)),
        (batch_of_calls(lambda: actors.server.options(max_concurrency=16).remote()), batch,
         oks(batch)),
        (from_a_client, per_server * sizes.servers,
         lambda result: result == per_server * sizes.servers),
        (from_tasks, per_server * sizes.tasks, lambda result: result == [per_server] * sizes.tasks),
        (one_call(actors.async_server), 1, lambda result: result == b"ok"),
        (batch_of_calls(actors.async_server.remote), batch, oks(batch)),
        (batch_of_calls(actors.async_server.remote, with_args=True), batch, oks(batch)),
    ]
    return [ActorWorkload(row, start, per_call, check)
            for row, (start, per_call, check) in zip(RATE_ROWS, shapes, strict=True)]


def creation_row(sizes: ActorSizes) -> str:
    return f"creating {sizes.created} actors and calling each once (ms)"


def rows(sizes: ActorSizes) -> tuple[str, ...]:
    """The figures actor_figures() yields, in order: one progress step each."""
    return (MEMORY_ROW, creation_row(sizes), ROUND_TRIP_ROW, *RATE_ROWS)


def create_and_call(actors: Actors, count: int) -> list:
    """count idle actors, each called once, so each is up."""
    made = [actors.server.remote() for _ in range(count)]
    actors.ray.get([actor.small_value.remote() for actor in made])
    return made


def memory_per_idle_actor(actors: Actors, count: int) -> float:
    """(PSS of the driver and every process below it with count idle actors
    - the same with none) / count, in MB."""
    before = memory_of_tree(os.getpid())[1]
    made = create_and_call(actors, count)
    with_actors = memory_of_tree(os.getpid())[1]
    actors.retire(made)
    return (with_actors - before) / count


def creation_time(actors: Actors, sizes: ActorSizes) -> float:
    """Seconds to create sizes.created actors and call each once (median)."""
    times = []
    for _ in range(sizes.rounds):
        made: list = []
        times.append(median_time(lambda: made.extend(create_and_call(actors, sizes.created)), 1))
        actors.retire(made)
    return statistics.median(times)


def round_trip(actors: Actors, sizes: ActorSizes) -> float:
    """Seconds one sync call to an actor takes (median of rounds of calls)."""
    server = actors.server.remote()
    get, calls = actors.ray.get, sizes.round_trips
    seconds = median_time(lambda: [get(server.small_value.remote()) for _ in range(calls)],
                          sizes.rounds) / calls
    actors.retire([server])
    return seconds


def actor_figures(ray: Any, sizes: ActorSizes, step: Callable[[str], None]
                  ) -> Iterator[tuple[str, float]]:
    """rows(sizes)' figures for a started runtime; step(row) before each."""
    actors = Actors(ray)
    ray.get([ray.remote(noop).remote() for _ in range(10)])
    actors.retire(create_and_call(actors, 1))          # the first actor's imports
    step(MEMORY_ROW)
    yield MEMORY_ROW, memory_per_idle_actor(actors, sizes.created)
    step(creation_row(sizes))
    yield creation_row(sizes), creation_time(actors, sizes) * 1e3
    step(ROUND_TRIP_ROW)
    yield ROUND_TRIP_ROW, round_trip(actors, sizes) * 1e6
    for workload in actor_workloads(actors, sizes):
        step(workload.row)
        call, made = workload.start()
        yield workload.row, rate(call, workload.per_call, sizes.quick)
        actors.retire(made)
