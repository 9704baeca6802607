"""n:n actor calls as the number of cores grows (``python
benches/actor_scaling.py [N ...]``, by default 2, 4, ... up to the
machine's cores): N tasks each make CALLS async calls spread over N actors,
then get them all, as Ray's n:n workload with N callers and N servers.
Each N runs in a runtime of N CPUs; prints the median rate of ROUNDS
rounds and its ratio to the first N's."""
from __future__ import annotations

import os
import statistics
import sys
import time

import fastray

CALLS = 5_000
ROUNDS = 5


@fastray.remote
class Server:
    def small_value(self) -> bytes:
        return b"ok"


@fastray.remote
def caller(servers: list) -> int:
    refs = [servers[i % len(servers)].small_value.remote() for i in range(CALLS)]
    return len(fastray.get(refs))


def rate_with(count: int) -> float:
    fastray.init(num_cpus=count)
    servers = [Server.remote() for _ in range(count)]
    fastray.get([s.small_value.remote() for s in servers])
    fastray.get([caller.remote(servers) for _ in range(count)])   # warm the workers
    rates = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        done = fastray.get([caller.remote(servers) for _ in range(count)])
        rates.append(sum(done) / (time.perf_counter() - started))
    fastray.shutdown()
    return statistics.median(rates)


def main(counts: list[int]) -> None:
    first = None
    print(f"{'N':>3} {'calls/s':>10} {'vs first N':>10}   (median of {ROUNDS} rounds)")
    for count in counts:
        rate = rate_with(count)
        first = first or rate
        print(f"{count:>3} {rate:>10,.0f} {rate / first:>9.2f}x", flush=True)


if __name__ == "__main__":
    cores = os.cpu_count() or 2
    default = [n for n in (2, 4, 8, 16, 32) if n < cores] + [cores]
    main([int(arg) for arg in sys.argv[1:]] or default)
