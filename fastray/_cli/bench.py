"""``python -m fastray bench``: fastray next to its peers on the same
workloads, in one run, medians and ratios.

Four tables:

- *peers*: fastray, ProcessPoolExecutor(2) and multiprocessing.Pool(2)
  always, and Ray, loky and a dask LocalCluster when installed (the
  ``bench`` extra), through one small adapter each, so every figure is taken
  the same way for all of them;
- *Ray's microbenchmark*: the workloads of ``ray microbenchmark`` that need
  only tasks and objects, on fastray and (when installed) Ray;
- *actors*: its actor workloads, and what creating and holding actors
  costs (fastray/_cli/bench_actors.py), on the same two;
- *threads*: fastray's CPU per no-op task in each of its threads and
  processes (fastray/_cli/bench_threads.py), which bounds its task rate on
  any number of cores.

``benches/`` runs the same adapters and workloads under pytest-benchmark.
"""
from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import platform
import select
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from . import bench_actors, bench_scaling, bench_threads
from .bench_measure import median_time, memory_of_tree, rate
from .bench_tasks import checksum, make_array, noop

MB = 1_000_000
# How many workers each executor gets: --cpus (which the measuring
# interpreters read from this variable), by default every core.
CPUS_VARIABLE = "FASTRAY_BENCH_CPUS"
CPUS = int(os.environ.get(CPUS_VARIABLE) or os.cpu_count() or 1)


# ---------------------------------------------------------------- executors


class Executor:
    """One executor under test: start, submit, get, stop."""

    name = ""
    module = ""   # what must be importable for it to run

    def load(self) -> None:
        """Imports what start() needs (not part of the start-up figure)."""

    def start(self) -> None: ...

    def submit(self, fn: Callable, *args: Any) -> Any: ...

    def result(self, handle: Any) -> Any: ...

    def results(self, handles: list) -> list:
        return [self.result(h) for h in handles]

    def stop(self) -> None: ...


class Fastray(Executor):
    name = module = "fastray"

    def load(self) -> None:
        import fastray
        import fastray.runtime  # noqa: F401  (what init imports)
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
    name, module = "Ray", "ray"

    def load(self) -> None:
        import ray
        self.ray = ray

    def start(self) -> None:
        self.ray.init(num_cpus=CPUS, include_dashboard=False, log_to_driver=False)
        self.remote = {}


class ProcessPool(Executor):
    name, module = "ProcessPoolExecutor", "concurrent.futures"

    def start(self) -> None:
        self.pool: concurrent.futures.Executor = concurrent.futures.ProcessPoolExecutor(CPUS)

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.pool.submit(fn, *args)

    def result(self, handle: Any) -> Any:
        return handle.result()

    def stop(self) -> None:
        self.pool.shutdown()


class Loky(ProcessPool):
    name = module = "loky"

    def load(self) -> None:
        import loky
        self.loky = loky

    def start(self) -> None:
        self.pool = self.loky.ProcessPoolExecutor(CPUS)


class MultiprocessingPool(Executor):
    name, module = "multiprocessing.Pool", "multiprocessing"

    def start(self) -> None:
        self.pool = multiprocessing.get_context("fork").Pool(CPUS)

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.pool.apply_async(fn, args)

    def result(self, handle: Any) -> Any:
        return handle.get()

    def stop(self) -> None:
        self.pool.terminate()
        self.pool.join()


class Dask(Executor):
    name, module = "dask LocalCluster", "dask.distributed"

    def load(self) -> None:
        import dask.distributed
        self.distributed = dask.distributed

    def start(self) -> None:
        self.cluster = self.distributed.LocalCluster(
            n_workers=CPUS, threads_per_worker=1, processes=True, dashboard_address=None)
        self.client = self.distributed.Client(self.cluster)

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def result(self, handle: Any) -> Any:
        return handle.result()

    def results(self, handles: list) -> list:
        return self.client.gather(handles)

    def stop(self) -> None:
        self.client.close()
        self.cluster.close()


EXECUTORS: list[type[Executor]] = [Fastray, Ray, ProcessPool, MultiprocessingPool, Loky, Dask]


def installed(names: list[str] | None = None) -> list[Executor]:
    """The executors whose modules import here (all of them, or those named)."""
    import importlib.util
    chosen = []
    for kind in EXECUTORS:
        if names is not None and kind.name not in names:
            continue
        if importlib.util.find_spec(kind.module.split(".")[0]) is None:
            continue
        if "." in kind.module:
            try:
                importlib.import_module(kind.module)
            except ImportError:
                continue
        chosen.append(kind())
    return chosen


# ---------------------------------------------------------------- workloads


# numpy is imported after the start-up is timed (argv[2] "numpy-last"), or,
# as a numeric script does, before it ("numpy-first"): for 10-20 ms after its
# import, OpenBLAS's threads spin, which on 2 cores slows whatever starts then.
STARTUP_SCRIPT = """
import json, os, sys, time
if sys.argv[2] == "numpy-first":
    import numpy
from fastray._cli.bench import executor_named
from fastray._cli.bench_measure import memory_of_tree
from fastray._cli.bench_tasks import checksum, noop
executor = executor_named(sys.argv[1])
executor.load()
started = time.perf_counter()
executor.start()
executor.result(executor.submit(noop))
startup = time.perf_counter() - started
import numpy as np
executor.result(executor.submit(checksum, np.ones(1000)))
rss, pss, processes = memory_of_tree(os.getpid())
executor.stop()
print(json.dumps([startup, rss, pss, processes]))
"""


NUMPY_FIRST_ROW = "init + first no-op task, numpy imported first (ms)"


def executor_named(name: str) -> Executor:
    return next(kind() for kind in EXECUTORS if kind.name == name)


def started(name: str) -> Executor:
    """The executor of that name, imported and running."""
    executor = executor_named(name)
    executor.load()
    executor.start()
    return executor


def fresh_start(executor: Executor, rounds: int) -> dict[str, float]:
    """Start-up and memory, each round in a fresh interpreter (medians),
    and start-up again with numpy imported first (alternating rounds)."""
    rows: list[list[float]] = []
    numpy_first: list[list[float]] = []
    for _ in range(rounds):
        for when, into in (("numpy-last", rows), ("numpy-first", numpy_first)):
            done = subprocess.run([sys.executable, "-c", STARTUP_SCRIPT, executor.name, when],
                                  check=True, capture_output=True, text=True)
            into.append(json.loads(done.stdout.strip().splitlines()[-1]))
    startup, rss, pss, processes = (statistics.median(column) for column in zip(*rows))
    return {"init + first no-op task (ms)": startup * 1e3,
            NUMPY_FIRST_ROW: statistics.median(row[0] for row in numpy_first) * 1e3,
            "RSS of all processes after one numpy task (MB)": rss,
            "PSS of all processes after one numpy task (MB)": pss,
            "processes after one numpy task": processes}


@dataclass
class Workload:
    """One row of the peers table: a timed call made for a started executor,
    how the seconds one call takes become the row's figure, and whether a
    call's result is right (benches/ checks it)."""

    row: str
    make: Callable[[Executor], Callable[[], Any]]
    rounds: int
    figure: Callable[[float], float]
    check: Callable[[Any], bool]


def peer_workloads(quick: bool) -> list[Workload]:
    calls = 100 if quick else 1000
    count = 2_000 if quick else 20_000
    small, large = (10 * MB, 100 * MB) if quick else (100 * MB, 1000 * MB)

    def round_trips(executor: Executor) -> Callable[[], Any]:
        return lambda: [executor.result(executor.submit(noop)) for _ in range(calls)]

    def burst(executor: Executor) -> Callable[[], Any]:
        return lambda: executor.results([executor.submit(noop) for _ in range(count)])

    def argument(nbytes: int) -> Callable[[Executor], Callable[[], Any]]:
        def make(executor: Executor) -> Callable[[], Any]:
            array = make_array(nbytes)
            return lambda: executor.result(executor.submit(checksum, array))
        return make

    def returning(executor: Executor) -> Callable[[], Any]:
        return lambda: executor.result(executor.submit(make_array, small))

    def milliseconds(seconds: float) -> float:
        return seconds * 1e3

    def checksum_of(nbytes: int) -> Callable[[Any], bool]:
        """checksum() of make_array(nbytes): one 1.0 per 1,024 floats."""
        return lambda result: result == len(range(0, nbytes // 8, 1024))

    def array_of(nbytes: int) -> Callable[[Any], bool]:
        return lambda result: result.nbytes == nbytes and result[0] == result[-1] == 1

    return [
        Workload("sync round trip, no-op task (µs)", round_trips, 5,
                 lambda seconds: seconds / calls * 1e6, lambda result: result == [None] * calls),
        Workload(f"async: {count:,} no-op tasks (tasks/s)", burst, 5,
                 lambda seconds: count / seconds, lambda result: result == [None] * count),
        Workload(f"{small // MB} MB array as a task argument (ms)", argument(small), 5,
                 milliseconds, checksum_of(small)),
        Workload(f"{large // MB:,} MB array as a task argument (ms)", argument(large), 3,
                 milliseconds, checksum_of(large)),
        Workload(f"task returning a {small // MB} MB array (ms)", returning, 5, milliseconds,
                 array_of(small)),
    ]


MICROBENCHMARK_ROWS = (
    "single client tasks sync (/s)",
    "single client tasks async (/s)",
    "single client tasks and get batch (/s)",
    "single client put calls (/s)",
    "single client get calls (/s)",
    "single client put gigabytes (GB/s)",
    "single client get of a stored 100 MB array (/s)",
    "single client get object containing 10k refs (/s)",
    "single client wait 1k refs (/s)",
    "streaming generator, each value got (/s)",
    "placement group made, ready and removed (/s)",
)


def microbenchmark_workloads(ray: Any, quick: bool) -> list[tuple[str, Callable[[], Any], float]]:
    """``ray microbenchmark``'s task and object workloads, for a module with
    Ray's API: (row, one call, units per call)."""
    import numpy as np
    array = np.zeros((10 if quick else 100) * 1024 * 1024, dtype=np.int64)
    stored = ray.put(make_array(100 * MB))
    value = ray.put(0)

    @ray.remote
    def small_value() -> bytes:
        return b"ok"

    @ray.remote
    def refs_of_10k() -> list:
        return [ray.put(1) for _ in range(10_000)]

    @ray.remote
    def counting(n: int) -> Any:
        for i in range(n):
            yield i

    holder = refs_of_10k.remote()
    ray.get(holder)
    streamed = 2_000 if quick else 10_000

    def stream_values() -> int:
        return sum(ray.get(ref) for ref in counting.remote(streamed))

    def group_cycle() -> None:
        group = ray.util.placement_group([{"CPU": 1}])
        ray.get(group.ready())
        ray.util.remove_placement_group(group)

    def tasks_and_get_batch() -> list:
        return ray.get([small_value.remote() for _ in range(1000)])

    def wait_1k_refs() -> list:
        not_ready = [small_value.remote() for _ in range(1000)]
        for _ in range(1000):
            _, not_ready = ray.wait(not_ready)
        return not_ready

    actions: list[tuple[Callable[[], Any], float]] = [
        (lambda: ray.get(small_value.remote()), 1),
        (tasks_and_get_batch, 1000),
        (tasks_and_get_batch, 1),
        (lambda: ray.put(0), 1),
        (lambda: ray.get(value), 1),
        (lambda: ray.put(array), array.nbytes / 1e9),
        (lambda: ray.get(stored), 1),
        (lambda: ray.get(holder), 1),
        (wait_1k_refs, 1),
        (stream_values, streamed),
        (group_cycle, 1),
    ]
    return [(row, action, per_call)
            for row, (action, per_call) in zip(MICROBENCHMARK_ROWS, actions, strict=True)]


# ---------------------------------------------------------------- the run


class Progress:
    """One status line on stderr, rewritten in place on a terminal; the
    count goes on across the child interpreters that do the measuring."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.total, self.done = total, done
        self.tty = sys.stderr.isatty()

    def step(self, what: str) -> None:
        self.done += 1
        line = f"[{self.done}/{self.total}] {what}"
        sys.stderr.write(f"\r{line:<79.79}" if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\r" + " " * 79 + "\r")


Figures = Iterator[tuple[str, float]]


def peer_figures(executor: Executor, quick: bool, progress: Progress) -> Figures:
    progress.step(f"{executor.name}: start-up and memory, in fresh interpreters")
    yield from fresh_start(executor, 3 if quick else 5).items()
    executor.load()
    executor.start()
    executor.result(executor.submit(noop))
    for workload in peer_workloads(quick):
        progress.step(f"{executor.name}: {workload.row}")
        call = workload.make(executor)
        call()
        yield workload.row, workload.figure(median_time(call, workload.rounds))
    progress.step(f"{executor.name}: shutdown")
    started = time.perf_counter()
    executor.stop()
    yield "shutdown (ms)", (time.perf_counter() - started) * 1e3


def microbenchmark_figures(executor: Executor, quick: bool, progress: Progress) -> Figures:
    assert isinstance(executor, Fastray)
    executor.load()
    executor.start()
    for row, action, per_call in microbenchmark_workloads(executor.ray, quick):
        progress.step(f"{executor.name}: {row}")
        yield row, rate(action, per_call, quick)
    executor.stop()


def actor_figures(executor: Executor, quick: bool, progress: Progress) -> Figures:
    assert isinstance(executor, Fastray)
    executor.load()
    executor.start()
    yield from bench_actors.actor_figures(
        executor.ray, bench_actors.ActorSizes.for_run(quick, CPUS),
        lambda row: progress.step(f"{executor.name}: {row}"))
    executor.stop()


def thread_figures(executor: Executor, quick: bool, progress: Progress) -> Figures:
    assert isinstance(executor, Fastray)
    executor.load()
    executor.start()
    from fastray import state
    yield from bench_threads.thread_figures(executor.ray, state.backend,
                                            20_000 if quick else 200_000, progress.step)
    executor.stop()


def scaling_figures(executor: Executor, quick: bool, progress: Progress) -> Figures:
    return bench_scaling.figures(executor, CPUS, quick, progress.step)


MEASURES: dict[str, Callable[[Executor, bool, Progress], Figures]] = {
    "peers": peer_figures, "ray_microbenchmark": microbenchmark_figures,
    "actors": actor_figures, "threads": thread_figures, "scaling": scaling_figures}
# Tables of fastray's own figures, with no peer to compare.
OWN_TABLES = ("threads",)
# What --tables may name (--scaling measures its own table).
TABLES = ("peers", "ray_microbenchmark", "actors", "threads")
FIGURE = "figure: "


def steps(kind: str, quick: bool) -> int:
    """How many progress steps one executor's measuring takes."""
    if kind == "peers":
        return len(peer_workloads(quick)) + 2
    if kind == "actors":
        return len(bench_actors.rows(bench_actors.ActorSizes.for_run(quick, CPUS)))
    if kind in ("threads", "scaling"):
        return 1
    return len(MICROBENCHMARK_ROWS)


FIGURE_TIMEOUT_S = 300.0


def measure_in_child(kind: str, executor: Executor, quick: bool,
                     progress: Progress) -> dict[str, float]:
    """One executor's figures, measured in a fresh interpreter: no executor
    runs in a heap another has filled, and one that crashes (Ray has been
    seen to segfault in its shutdown) or takes over FIGURE_TIMEOUT_S for a
    figure (is stuck) loses only the figures it had left."""
    child = subprocess.Popen(
        [sys.executable, "-m", "fastray._cli.bench", kind, executor.name, str(int(quick)),
         str(progress.done), str(progress.total)], stdout=subprocess.PIPE, bufsize=0)
    assert child.stdout is not None     # unbuffered, so select() sees every line not yet read
    figures, stuck = {}, False
    while select.select([child.stdout], [], [], FIGURE_TIMEOUT_S)[0]:
        line = child.stdout.readline().decode()
        if not line:
            break
        if line.startswith(FIGURE):
            row, value = json.loads(line[len(FIGURE):])
            figures[row] = value
    else:
        stuck = True
        child.kill()
    status = child.wait()
    child.stdout.close()
    progress.done += steps(kind, quick)
    if stuck:
        print(f"\n({executor.name} gave no figure in {FIGURE_TIMEOUT_S:.0f} s and was stopped "
              f"after {len(figures)} figures)", file=sys.stderr)
    elif status != 0:
        print(f"\n({executor.name} exited with status {status} after "
              f"{len(figures)} figures)", file=sys.stderr)
    return figures


def _child(kind: str, name: str, quick: str, done: str, total: str) -> None:
    progress = Progress(int(total), int(done))
    for row, value in MEASURES[kind](executor_named(name), quick == "1", progress):
        print(FIGURE + json.dumps([row, value]), flush=True)


def table(results: dict[str, dict[str, float]]) -> str:
    """A markdown table: a row per workload, a column per executor, then
    fastray's advantage over each (higher is better); "–" where a figure is
    missing (its executor failed before measuring it)."""
    names = list(results)
    rows = list(dict.fromkeys(row for figures in results.values() for row in figures))
    header = ["workload", *names, *(f"vs {n}" for n in names[1:])]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in rows:
        ours = results[names[0]].get(row)
        higher_is_better = "/s)" in row
        cells = [_number(results[n].get(row)) for n in names]
        ratios = ["–" if ours in (None, 0) or results[n].get(row) in (None, 0) else
                  f"{(ours / results[n][row]) if higher_is_better else results[n][row] / ours:.1f}×"
                  for n in names[1:]]
        lines.append(f"| {row} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.machine())
    return {"cpus": os.cpu_count(), "cpu": model, "memory_gib": round(total_kb / 2**20, 1),
            "python": platform.python_version(), "system": platform.platform()}


HEADINGS = {"ray_microbenchmark": "`ray microbenchmark`'s task and object workloads:",
            "actors": "`ray microbenchmark`'s actor workloads, and what an actor costs:",
            "threads": "fastray's CPU per no-op task, by thread and process:"}


def main(quick: bool = False, json_path: str | None = None, only: list[str] | None = None,
         tables: tuple[str, ...] = TABLES, cpus: int | None = None,
         scaling: bool = False) -> dict[str, Any]:
    """Measures the tables asked for (or, with scaling, the scaling table),
    prints them and returns the figures."""
    global CPUS
    if cpus is not None:
        CPUS = cpus
        os.environ[CPUS_VARIABLE] = str(cpus)   # for the measuring interpreters
    executors = installed(None if only is None else ["fastray", *only])
    missing = [kind.name for kind in EXECUTORS if kind.name not in {e.name for e in executors}]
    if missing:
        print(f"(not installed, left out: {', '.join(missing)}; pip install 'fastray[bench]')")
    report: dict[str, Any] = {"machine": machine(), "quick": quick}
    if scaling:
        report["scaling"] = _measure_scaling(executors, quick)
    else:
        report.update(_measure_tables(executors, quick, tables))
    host = report["machine"]
    print(f"\n{CPUS} CPUs used of {host['cpus']} ({host['cpu']}, {host['memory_gib']} GiB, "
          f"Python {host['python']}); medians; the ratios are fastray's advantage "
          "(higher is better)")
    if scaling:
        print(f"\nEach executor with N workers:\n\n{bench_scaling.table(report['scaling'])}")
    for kind in TABLES:
        if kind in report:
            print(f"\n{HEADINGS[kind]}\n" if kind in HEADINGS else "")
            print(table(report[kind]))
    if json_path:
        with open(json_path, "w") as out:
            json.dump(report, out, indent=2)
        print(f"\nwrote {json_path}")
    return report


def _measure_tables(executors: list[Executor], quick: bool, tables: tuple[str, ...]
                    ) -> dict[str, dict[str, dict[str, float]]]:
    runs = [(kind, e) for kind in TABLES if kind in tables for e in executors
            if kind == "peers" or (isinstance(e, Fastray)
                                   and (kind not in OWN_TABLES or e.name == "fastray"))]
    progress = Progress(sum(steps(kind, quick) for kind, _ in runs))
    report: dict[str, dict[str, dict[str, float]]] = {kind: {} for kind in TABLES
                                                      if kind in tables}
    for kind, executor in runs:
        report[kind][executor.name] = measure_in_child(kind, executor, quick, progress)
    progress.close()
    return report


def _measure_scaling(executors: list[Executor], quick: bool
                     ) -> dict[int, dict[str, dict[str, float]]]:
    """The scaling table's figures, by N, then by executor."""
    chosen = [e for e in executors if e.name in bench_scaling.EXECUTORS]
    counts = bench_scaling.worker_counts(CPUS)
    progress = Progress(len(counts) * len(chosen))
    report: dict[int, dict[str, dict[str, float]]] = {}
    for workers in counts:
        os.environ[CPUS_VARIABLE] = str(workers)
        report[workers] = {e.name: measure_in_child("scaling", e, quick, progress)
                           for e in chosen}
    os.environ[CPUS_VARIABLE] = str(CPUS)
    progress.close()
    return report


if __name__ == "__main__":
    _child(*sys.argv[1:])
