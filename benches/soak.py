"""Soak test: many mixed tasks while workers are killed at random.

    python benches/soak.py [--tasks 200000] [--kill-every 0.1]

Tiny, array, array-returning, nested and failing tasks run with
``max_retries=2`` while a thread SIGKILLs a random worker every
``--kill-every`` seconds.  At the end every task's outcome must be its right
result, its own exception, or (retries used up) WorkerCrashedError; then the
runtime is shut down and nothing may be left: no process, no mapping of the
store, no session directory (spill files), nothing new in /dev/shm.  Exits
non-zero if anything is wrong; prints the figures either way.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

import fastray
from fastray.exceptions import WorkerCrashedError

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from conftest import descendants  # noqa: E402
from helpers import current_store_inode, store_holders  # noqa: E402

BATCH = 2_000


@fastray.remote(max_retries=2)
def add(x, y):
    return x + y


@fastray.remote(max_retries=2)
def array_sum(values):
    return int(values.sum())


@fastray.remote(max_retries=2)
def make_array(i):
    return np.full(20_000, i)


@fastray.remote(max_retries=2)
def nested(i):
    return fastray.get(add.remote(i, 2))


@fastray.remote(max_retries=2)
def fails(i):
    raise ValueError(i)


def submit(i: int):
    """Task i and a check of its outcome (True: right, False: wrong)."""
    kind = i % 20
    if kind < 14:
        return add.remote(i, 1), lambda v: v == i + 1
    if kind < 16:
        return array_sum.remote(np.full(30_000, i % 100)), lambda v: v == 30_000 * (i % 100)
    if kind == 16:
        return make_array.remote(i), lambda v: v.shape == (20_000,) and int(v[-1]) == i
    if kind == 17:
        return nested.remote(i), lambda v: v == i + 2
    return fails.remote(i), None


def kill_workers(context, every: float, stop: threading.Event, kills: list[int]) -> None:
    rng = random.Random(0)
    while not stop.wait(every * rng.uniform(0.5, 1.5)):
        pids = context._runtime.worker_pids()
        if pids:
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills.append(1)
            except ProcessLookupError:
                pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--kill-every", type=float, default=0.1)
    options = parser.parse_args()

    shm_before = set(os.listdir("/dev/shm"))
    started = time.monotonic()
    context = fastray.init(num_cpus=2, object_store_memory=512 * 2**20)
    session_dir = Path(context.address_info["session_dir"])
    store = current_store_inode()
    stop, kills = threading.Event(), []
    killer = threading.Thread(target=kill_workers, args=(context, options.kill_every, stop,
                                                         kills))
    killer.start()
    outcomes = {"right": 0, "own error": 0, "crashed after retries": 0, "wrong": 0, "lost": 0}
    try:
        for first in range(0, options.tasks, BATCH):
            batch = [submit(i) for i in range(first, min(first + BATCH, options.tasks))]
            for i, (ref, check) in enumerate(batch, first):
                try:
                    value = fastray.get(ref, timeout=120)
                    outcomes["right" if check is not None and check(value) else "wrong"] += 1
                except ValueError as exc:
                    own = check is None and exc.args and str(i) in str(exc)
                    outcomes["own error" if own else "wrong"] += 1
                except WorkerCrashedError:
                    outcomes["crashed after retries"] += 1
                except Exception as exc:  # anything else means a task was lost
                    print(f"task {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
                    outcomes["lost"] += 1
    finally:
        stop.set()
        killer.join()
    stats = context._runtime.stats()
    fastray.shutdown()
    leaked_processes = descendants(os.getpid())
    leaked_mappings = store_holders(store)
    leaked_shm = set(os.listdir("/dev/shm")) - shm_before
    print(f"tasks {options.tasks} in {time.monotonic() - started:.1f} s; kills {len(kills)}; "
          f"retries {stats['retries']}; retried then succeeded "
          f"{stats['retried_then_succeeded']}; workers started {stats['workers_started']}")
    print("outcomes", outcomes)
    print(f"leaked: processes {len(leaked_processes)}, store mappings {len(leaked_mappings)}, "
          f"/dev/shm entries {len(leaked_shm)}, session dir {session_dir.exists()}")
    bad = (outcomes["wrong"] or outcomes["lost"] or leaked_processes or leaked_mappings
           or leaked_shm or session_dir.exists())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
