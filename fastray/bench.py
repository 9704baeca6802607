"""``python -m fastray bench``: fastray next to the process pools (and Ray,
when it is installed) on the same workloads, in one run, medians.

Every executor gets the same functions through a small adapter, so each
figure is measured the same way for all of them.
"""
from __future__ import annotations

import concurrent.futures
import gc
import multiprocessing
import os
import statistics
import time
from typing import Any, Callable

import numpy as np

MB = 1_000_000


def noop(x: Any = None) -> Any:
    return x


def checksum(x: np.ndarray) -> float:
    return float(x[::1024].sum())


def make_array(nbytes: int) -> np.ndarray:
    return np.ones(nbytes // 8)


class Executor:
    """One executor under test: start, submit, get, stop."""

    name = ""

    def load(self) -> None:
        """Imports what start() needs (not part of the start-up figure)."""

    def start(self) -> None: ...

    def submit(self, fn: Callable, *args: Any) -> Any: ...

    def result(self, handle: Any) -> Any: ...

    def results(self, handles: list) -> list:
        return [self.result(h) for h in handles]

    def stop(self) -> None: ...


class Fastray(Executor):
    name = "fastray"

    def load(self) -> None:
        import fastray
        import fastray.runtime  # noqa: F401  (what init would import)
        self.ray = fastray

    def start(self) -> None:
        self.ray.init(num_cpus=CPUS)
        self.remote: dict[Callable[..., Any], Any] = {}

    def submit(self, fn: Callable, *args: Any) -> Any:
        if fn not in self.remote:
            self.remote[fn] = self.ray.remote(fn)
        return self.remote[fn].remote(*args)

    def result(self, handle: Any) -> Any:
        return self.ray.get(handle)

    def results(self, handles: list) -> list:
        return self.ray.get(handles)

    def stop(self) -> None:
        self.ray.shutdown()


class Ray(Fastray):
    name = "Ray"

    def load(self) -> None:
        import ray
        self.ray = ray

    def start(self) -> None:
        self.ray.init(num_cpus=CPUS, include_dashboard=False, log_to_driver=False)
        self.remote = {}


class ProcessPool(Executor):
    name = "ProcessPoolExecutor"

    def start(self) -> None:
        self.pool = concurrent.futures.ProcessPoolExecutor(CPUS)

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.pool.submit(fn, *args)

    def result(self, handle: Any) -> Any:
        return handle.result()

    def stop(self) -> None:
        self.pool.shutdown()


class MultiprocessingPool(Executor):
    name = "multiprocessing.Pool"

    def start(self) -> None:
        self.pool = multiprocessing.get_context("fork").Pool(CPUS)

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.pool.apply_async(fn, args)

    def result(self, handle: Any) -> Any:
        return handle.get()

    def stop(self) -> None:
        self.pool.terminate()
        self.pool.join()


CPUS = 2


def median_time(action: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(executor: Executor, quick: bool) -> dict[str, float]:
    """Seconds (or tasks per second) for each workload."""
    figures: dict[str, float] = {}
    executor.load()
    started = time.perf_counter()
    executor.start()
    executor.result(executor.submit(noop))
    figures["init + first no-op task (ms)"] = (time.perf_counter() - started) * 1e3
    calls = 100 if quick else 1000

    def round_trips() -> None:
        for _ in range(calls):
            executor.result(executor.submit(noop))

    figures["sync round trip, no-op (µs)"] = median_time(round_trips, 5) / calls * 1e6
    count = 2_000 if quick else 20_000
    seconds = median_time(lambda: executor.results([executor.submit(noop)
                                                    for _ in range(count)]), 3)
    figures[f"async, {count} no-op tasks (tasks/s)"] = count / seconds
    array = np.random.default_rng(0).random(100 * MB // 8)
    figures["100 MB array as an argument (ms)"] = median_time(
        lambda: executor.result(executor.submit(checksum, array)), 5) * 1e3
    figures["task returning 100 MB (ms)"] = median_time(
        lambda: executor.result(executor.submit(make_array, 100 * MB)), 5) * 1e3
    if isinstance(executor, Fastray):  # and Ray
        figures.update(measure_calls(executor.ray, quick))
    started = time.perf_counter()
    executor.stop()
    figures["shutdown (ms)"] = (time.perf_counter() - started) * 1e3
    return figures


def per_second(action: Callable[[], Any], repeat: int) -> float:
    """Calls per second of action, the median of 5 timed runs of repeat calls."""
    def run() -> None:
        for _ in range(repeat):
            action()
    return repeat / median_time(run, 5)


def measure_calls(ray: Any, quick: bool) -> dict[str, float]:
    """The call-rate workloads of ``ray microbenchmark`` (same API on both)."""
    scale = 10 if quick else 1
    small = ray.put(0)
    holder = ray.put([ray.put(i) for i in range(10_000)])
    ready = [ray.put(i) for i in range(1_000)]
    return {
        "put calls (/s)": per_second(lambda: ray.put(0), 10_000 // scale),
        "get calls (/s)": per_second(lambda: ray.get(small), 10_000 // scale),
        "get of an object holding 10k refs (/s)": per_second(lambda: ray.get(holder), 5),
        "wait on 1k ready refs (/s)": per_second(
            lambda: ray.wait(ready, num_returns=len(ready)), 50 // scale),
    }


def main(quick: bool = False) -> None:
    executors: list[Executor] = [Fastray(), ProcessPool(), MultiprocessingPool()]
    try:
        import ray  # noqa: F401
        executors.insert(1, Ray())
    except ImportError:
        print("(Ray is not installed: pip install ray to compare with it)")
    results = {}
    for executor in executors:
        print(f"measuring {executor.name} ...", flush=True)
        results[executor.name] = measure(executor, quick)
    names = list(results)
    rows = list(results[names[0]])
    width = max(len(r) for r in rows)
    print(f"\n{CPUS} CPUs, {os.cpu_count()} on the machine; medians; "
          "the last columns are fastray's advantage (higher is better)")
    print(" | ".join([" " * width] + [f"{n:>20}" for n in names]
                     + [f"vs {n}" for n in names[1:]]))
    for row in rows:
        values = [results[n].get(row) for n in names]
        ours = results[names[0]][row]
        higher_is_better = "/s" in row
        ratios = ["-" if v is None else
                  f"{ours / v if higher_is_better else v / ours:.1f}x"
                  for v in values[1:]]
        print(" | ".join([row.ljust(width)]
                         + [f"{'-' if v is None else format(v, ',.1f'):>20}" for v in values]
                         + ratios))
