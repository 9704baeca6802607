"""Where a no-op task's CPU time goes: each fastray thread and process, in
microseconds of CPU per task, over a long run of async no-op tasks.  The
serial path (the driver thread and the scheduler's threads) bounds the task
rate whatever the number of cores, so these figures, measurable on two
cores, say what a large machine could reach."""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Iterator

from .bench_tasks import noop

BATCH = 10_000
_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _cpu_of(stat_path: str) -> float:
    """Seconds of CPU (user + system) in a /proc .../stat file."""
    try:
        with open(stat_path) as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def _thread_cpu(name: str) -> float:
    thread = next((t for t in threading.enumerate() if t.name == name), None)
    if thread is None or thread.native_id is None:
        return 0.0
    return _cpu_of(f"/proc/self/task/{thread.native_id}/stat")


def _snapshot(runtime: Any) -> dict[str, float]:
    workers = runtime.worker_pids()
    return {"driver thread": time.thread_time(),
            "scheduler thread": _thread_cpu("fastray-scheduler"),
            "store thread": _thread_cpu("fastray-store"),
            "workers, together": sum(_cpu_of(f"/proc/{pid}/stat") for pid in workers),
            "spawner": _cpu_of(f"/proc/{runtime.spawner_pid}/stat")}


def thread_figures(ray: Any, runtime: Any, tasks: int,
                   step: Callable[[str], None]) -> Iterator[tuple[str, float]]:
    """CPU per task of each part, their sum, and the task rate, over tasks
    no-op tasks submitted BATCH at a time (the workers stay the same
    processes throughout, so their counters cover the whole run)."""
    remote = ray.remote(noop)
    ray.get([remote.remote() for _ in range(BATCH)])
    step(f"fastray: {tasks:,} no-op tasks, CPU per thread and process")
    before = _snapshot(runtime)
    started = time.perf_counter()
    for _ in range(tasks // BATCH):
        ray.get([remote.remote() for _ in range(BATCH)])
    seconds = time.perf_counter() - started
    after = _snapshot(runtime)
    done = tasks // BATCH * BATCH
    for part in before:
        yield f"{part} (µs of CPU per task)", (after[part] - before[part]) / done * 1e6
    yield ("all of them (µs of CPU per task)",
           sum(after[part] - before[part] for part in before) / done * 1e6)
    yield "async no-op tasks (/s)", done / seconds
