"""Cost per task from 1,000 to 1,000,000 queued tasks: submit them all, then
get them all (``python benches/scale.py [COUNT ...]``).  Reports the time per
task and the driver's memory per pending task: every task waits for one gate
task, so all are pending while the driver's RSS growth is read.  With
``--ray`` the same runs on Ray (``python benches/scale.py --ray 100000``)."""
from __future__ import annotations

import gc
import os
import sys
import tempfile
import time

import fastray

api = fastray


def wait_for(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.001)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def main(counts: list[int]) -> None:
    api.init(num_cpus=2)
    noop = api.remote(lambda gate=None: None)
    gate_task = api.remote(wait_for)
    api.get([noop.remote() for _ in range(100)])
    flag = os.path.join(tempfile.mkdtemp(), "open")
    print(f"{'tasks':>10} {'submit µs/task':>15} {'total µs/task':>14} "
          f"{'bytes/pending task':>19}")
    for count in counts:
        gc.collect()
        gate = gate_task.remote(flag)
        before = rss_bytes()
        started = time.perf_counter()
        refs = [noop.remote(gate) for _ in range(count)]
        submitted = time.perf_counter()
        pending = rss_bytes() - before
        open(flag, "w").close()
        results = api.get(refs)
        os.remove(flag)
        finished = time.perf_counter()
        assert results == [None] * count
        del refs, results
        print(f"{count:>10,} {(submitted - started) / count * 1e6:>15.1f} "
              f"{(finished - started) / count * 1e6:>14.1f} {pending / count:>19.0f}")
    api.shutdown()


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "--ray" in arguments:
        arguments.remove("--ray")
        import ray
        api = ray
    main([int(n) for n in arguments] or [1_000, 10_000, 100_000, 1_000_000])
