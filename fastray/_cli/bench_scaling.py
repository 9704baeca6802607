"""``python -m fastray bench --scaling``: how each executor's figures move
with the number of workers N (1, 2, 4, ... up to the machine's cores), in
one run: no-op tasks async and sync, CPU-bound efficiency, and fastray's
start-up.  Each (executor, N) is measured in a fresh interpreter, like the
other tables, with N given through FASTRAY_BENCH_CPUS."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Iterator

from .bench_measure import median_time
from .bench_tasks import noop, spin

# The executors the table compares (those installed are measured).
EXECUTORS = ("fastray", "multiprocessing.Pool", "ProcessPoolExecutor", "loky")
SPIN_S = 0.005          # one CPU-bound task: about 5 ms of pure Python
TASKS_PER_WORKER = 16   # CPU-bound tasks per worker in one timed batch

ROWS = ("init + first no-op task (ms)", "async no-op tasks (/s)", "sync round trip (µs)",
        "CPU-bound efficiency")


def worker_counts(cores: int) -> list[int]:
    """1, 2, 4, ... below cores, then cores itself."""
    counts = [1]
    while counts[-1] * 2 < cores:
        counts.append(counts[-1] * 2)
    return counts + [cores] if cores > 1 else counts


def loops_for(seconds: float) -> int:
    """How many spin() loops take about seconds here, in this process."""
    loops = 10_000
    while True:
        started = time.perf_counter()
        spin(loops)
        took = time.perf_counter() - started
        if took > seconds / 4:
            return max(1, int(loops * seconds / took))
        loops *= 4


def figures(executor: Any, workers: int, quick: bool,
            step: Callable[[str], None]) -> Iterator[tuple[str, float]]:
    """One executor's row for N = workers: start-up (fastray's only), no-op
    throughput and round trip, and CPU-bound efficiency: tasks/s over N
    times the rate of the same function in a plain loop here, measured in
    the same run."""
    step(f"{executor.name}, {workers} worker(s)")
    loops = loops_for(SPIN_S)
    # Once warm the loop runs faster: size it again, then time it alone.
    loops = max(1, int(loops * SPIN_S / median_time(lambda: spin(loops), 11)))
    executor.load()
    started = time.perf_counter()
    executor.start()
    executor.result(executor.submit(noop))
    if executor.name == "fastray":
        yield ROWS[0], (time.perf_counter() - started) * 1e3
    count = 2_000 if quick else 20_000
    yield ROWS[1], count / median_time(
        lambda: executor.results([executor.submit(noop) for _ in range(count)]), 3)
    calls = 100 if quick else 1_000
    yield ROWS[2], median_time(
        lambda: [executor.result(executor.submit(noop)) for _ in range(calls)], 3) / calls * 1e6
    tasks = TASKS_PER_WORKER * workers
    efficiencies = []
    for round_ in range(4):
        # Timed alone right before each batch: this machine's speed drifts.
        alone = median_time(lambda: spin(loops), 9)
        took = median_time(
            lambda: executor.results([executor.submit(spin, loops) for _ in range(tasks)]), 1)
        if round_:   # the first batch warms each worker's loop up
            efficiencies.append(tasks * alone / (took * workers))
    yield ROWS[3], statistics.median(efficiencies)
    executor.stop()


def table(report: dict[int, dict[str, dict[str, float]]]) -> str:
    """A markdown table: a row per executor and figure, a column per N."""
    names = list(dict.fromkeys(name for by_name in report.values() for name in by_name))
    header = ["executor: figure", *(f"N = {workers}" for workers in report)]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name in names:
        for row in ROWS:
            cells = [_cell(by_name.get(name, {}).get(row), row) for by_name in report.values()]
            if any(cell != "–" for cell in cells):
                lines.append(f"| {name}: {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float | None, row: str) -> str:
    if value is None:
        return "–"
    if row == ROWS[3]:
        return f"{value:.2f}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
