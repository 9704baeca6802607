"""What recording task events costs (``python benches/events_cost.py``): the
no-op task rate with the event ring on (the default) and off
(``_system_config={"task_events_max": 0}``), alternating in one run."""
from __future__ import annotations

import statistics
import time

import fastray

TASKS = 20_000


def task_rate(events: bool) -> float:
    fastray.init(num_cpus=2, _system_config=None if events else {"task_events_max": 0})
    noop = fastray.remote(lambda: None)
    fastray.get([noop.remote() for _ in range(1000)])
    rates = []
    for _ in range(5):
        started = time.perf_counter()
        results = fastray.get([noop.remote() for _ in range(TASKS)])
        rates.append(TASKS / (time.perf_counter() - started))
    assert results == [None] * TASKS
    fastray.shutdown()
    return statistics.median(rates)


def main(rounds: int = 7) -> None:
    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for events in (True, False):
            rates[events].append(task_rate(events))
    on, off = (statistics.median(rates[k]) for k in (True, False))
    print(f"no-op tasks, medians of {rounds} runs (each the median of 5 bursts of {TASKS:,}):")
    print(f"  events recorded: {on:,.0f} /s; not recorded: {off:,.0f} /s "
          f"({100 * (on / off - 1):+.1f} %)")


if __name__ == "__main__":
    main()
