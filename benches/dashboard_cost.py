"""What the dashboard costs (``python benches/dashboard_cost.py``), with it
off and on in one run, alternating so both sides see the same machine:

- ``init`` + first no-op task, each in a fresh interpreter (its imports
  done before the clock starts, as in ``python -m fastray bench``);
- the no-op task rate (100,000 tasks submitted, then got), with the
  page's poll of ``/api/state`` running beside it ten times faster than
  the page's once a second, so the figure bounds the page's cost;
- how long ``/api/state`` takes to answer after 100,000 tasks ended.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import fastray
from fastray.context import FastrayContext

# As in ``python -m fastray bench``: the imports are not part of the figure.
STARTUP = """
import time
import fastray, fastray.api, fastray.runtime
started = time.perf_counter()
fastray.init(num_cpus=2, include_dashboard={on})
fastray.get(fastray.remote(lambda: None).remote())
print(time.perf_counter() - started)
fastray.shutdown()
"""
TASKS = 100_000
POLL_SECONDS = 0.1


def startup_seconds(on: bool) -> float:
    done = subprocess.run([sys.executable, "-c", STARTUP.format(on=on)], check=True,
                          capture_output=True, text=True)
    return float(done.stdout)


def state_url(context: FastrayContext) -> str:
    assert context.dashboard_url is not None
    return "http://" + context.dashboard_url.replace("/?", "/api/state?")


def poll(url: str, stop: threading.Event, latencies: list[float]) -> None:
    while not stop.wait(POLL_SECONDS):
        started = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            json.load(response)
        latencies.append(time.perf_counter() - started)


def task_rate(on: bool, latencies: list[float]) -> float:
    context = fastray.init(num_cpus=2, include_dashboard=on)
    noop = fastray.remote(lambda: None)
    fastray.get([noop.remote() for _ in range(1000)])
    stop = threading.Event()
    poller = threading.Thread(target=poll, args=(state_url(context), stop, latencies)) \
        if on else None
    if poller:
        poller.start()
    started = time.perf_counter()
    results = fastray.get([noop.remote() for _ in range(TASKS)])
    rate = TASKS / (time.perf_counter() - started)
    assert results == [None] * TASKS
    stop.set()
    if poller:
        poller.join()
    fastray.shutdown()
    return rate


def state_after_many_tasks(count: int) -> tuple[float, int]:
    """Median seconds for /api/state, and its size, after count tasks."""
    context = fastray.init(num_cpus=2, include_dashboard=True)
    noop = fastray.remote(lambda: None)
    for _ in range(count // 10_000):
        fastray.get([noop.remote() for _ in range(10_000)])
    times, size = [], 0
    for _ in range(20):
        started = time.perf_counter()
        with urllib.request.urlopen(state_url(context)) as response:
            size = len(response.read())
        times.append(time.perf_counter() - started)
    fastray.shutdown()
    return statistics.median(times), size


def main(rounds: int = 7) -> None:
    startup: dict[bool, list[float]] = {False: [], True: []}
    rates: dict[bool, list[float]] = {False: [], True: []}
    latencies: list[float] = []
    for _ in range(rounds):
        for on in (False, True):
            startup[on].append(startup_seconds(on))
            rates[on].append(task_rate(on, latencies))
    print(f"medians of {rounds} rounds, dashboard off / on, alternating:")
    off, on = (statistics.median(startup[k]) * 1e3 for k in (False, True))
    print(f"  init + first task: {off:.1f} ms / {on:.1f} ms ({on - off:+.1f} ms)")
    off, on = (statistics.median(rates[k]) for k in (False, True))
    print(f"  no-op tasks, page polled every {POLL_SECONDS} s: {off:,.0f} /s / {on:,.0f} /s "
          f"({100 * (on / off - 1):+.1f} %); /api/state answered in "
          f"{statistics.median(latencies) * 1e3:.1f} ms (median of {len(latencies)})")
    seconds, size = state_after_many_tasks(100_000)
    print(f"  after 100,000 tasks: /api/state in {seconds * 1e3:.1f} ms, {size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
