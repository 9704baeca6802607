"""How ``python -m fastray bench`` takes a figure: a median time, a rate in
Ray's way, the memory of a process tree.  Shared by the task and the actor
workloads, so both measure the same way."""
from __future__ import annotations

import gc
import os
import statistics
import time
from typing import Any, Callable


def median_time(action: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rate(action: Callable[[], Any], per_call: float, quick: bool) -> float:
    """Ray's timeit: per_call units per second, the median of 5 trials of
    calls repeated for at least half a second (a tenth if quick)."""
    action()
    trials = []
    for _ in range(5):
        calls, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < (0.1 if quick else 0.5):
            action()
            calls += 1
        trials.append(calls * per_call / elapsed)
    return statistics.median(trials)


def descendants(root: int) -> set[int]:
    """Every live (not zombie) process below root, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    state, parent = stat.read().rsplit(")", 1)[1].split()[:2]
            except OSError:
                continue
            if state != "Z":
                children.setdefault(int(parent), []).append(int(entry))
    found: set[int] = set()
    frontier = [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.add(child)
            frontier.append(child)
    return found


def memory_of_tree(root: int) -> tuple[float, float, int]:
    """RSS and PSS (MB) of a process and all its descendants, and how many."""
    tree = {root} | descendants(root)
    rss = pss = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1000, pss / 1000, len(tree)
