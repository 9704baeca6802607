"""CPU time per task on the serial path (``python benches/per_task_cpu.py``):
200,000 no-op tasks in batches of 1,000 (submit a batch, get it), and the
CPU each thread of the runtime spent on them, per task: the driver's own
thread (submit and get), the scheduler thread, and every thread of the
spawner and the workers, read from /proc; then their sum.

These figures bound the task rate on a machine with many cores, where no
thread waits for a core, so they can be measured on a small one.  A worker
polls for a few tens of microseconds before it sleeps, and that polling
counts in its figure."""
from __future__ import annotations

import argparse
import os
import threading
import time

import fastray

BATCH = 1000


def _thread_times(pid: int) -> dict[tuple[int, int, str], float]:
    """CPU seconds of each thread of pid, keyed by (pid, tid, name)."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                head, _, rest = stat.read().rpartition(")")
        except OSError:
            continue
        fields = rest.split()
        times[(pid, int(tid), head.partition("(")[2])] = (
            int(fields[11]) + int(fields[12])) / ticks
    return times


def _descendants(pid: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rpartition(")")[2].split()[1])
            except OSError:
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _all_threads() -> dict[tuple[int, int, str], float]:
    times = _thread_times(os.getpid())
    for pid in _descendants(os.getpid()):
        times.update(_thread_times(pid))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    tasks = args.tasks // BATCH * BATCH
    fastray.init(num_cpus=args.cpus)
    noop = fastray.remote(lambda: None)
    fastray.get([noop.remote() for _ in range(2 * BATCH)])
    driver = threading.get_native_id()
    before = _all_threads()
    started, driver_started = time.perf_counter(), time.thread_time()
    for _ in range(tasks // BATCH):
        assert fastray.get([noop.remote() for _ in range(BATCH)]) == [None] * BATCH
    elapsed = time.perf_counter() - started
    driver_cpu = time.thread_time() - driver_started
    after = _all_threads()
    fastray.shutdown()
    print(f"{tasks:,} no-op tasks at {tasks / elapsed:,.0f} tasks/s; CPU per task:")
    print(f"  driver thread (submit and get): {driver_cpu / tasks * 1e6:.2f} us")
    total = 0.0
    for key in sorted(after):
        spent = after[key] - before.get(key, 0.0)
        total += spent
        pid, tid, name = key
        if spent > 0 and tid != driver:
            role = "driver process" if pid == os.getpid() else "child process"
            print(f"  {role} {pid}, thread {tid} ({name}): {spent / tasks * 1e6:.2f} us")
    print(f"  every thread of every process: {total / tasks * 1e6:.2f} us")


if __name__ == "__main__":
    main()
