"""Soak test for actors: many calls while their processes are killed at random.

    python benches/actor_soak.py [--calls 200000] [--actors 20] [--kill-every 0.1]

The actors' methods are pure functions of their arguments (an actor's state
starts over when it restarts, so no result may depend on it): tiny calls,
array arguments, array results, calls that run a task and wait for it, and
calls that raise.  A third of the actors are threaded, a third async.  All
have ``max_restarts=-1`` and ``max_task_retries=-1`` while a thread, every
``--kill-every`` seconds, ends a random actor's process: SIGKILL from
outside, or ``kill(handle, no_restart=False)``.  Every call must give its
right result or its own exception: none may be wrong or lost (an
ActorDiedError or ActorUnavailableError counts as lost).  Then the handles
are dropped, and the scheduler's object count must come back to what it was
before the actors were made; then the runtime is shut down and nothing may
be left: no process, no mapping of the store, no session directory, nothing
in /dev/shm.  Exits non-zero if anything is wrong; prints the figures
either way.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import fastray

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from conftest import descendants  # noqa: E402
from helpers import current_store_inode, store_holders  # noqa: E402
from test_store_lifecycle import shm_files_held_by  # noqa: E402

BATCH = 2_000
RESTARTING = {"max_restarts": -1, "max_task_retries": -1}


@fastray.remote
def add_task(x: int, y: int) -> int:
    return x + y


class Pure:
    """Methods whose results depend on their arguments only."""

    def add(self, x: int, y: int) -> int:
        return x + y

    def array_sum(self, values: np.ndarray) -> int:
        return int(values.sum())

    def make_array(self, i: int) -> np.ndarray:
        return np.full(20_000, i)

    def nested(self, i: int) -> int:
        return fastray.get(add_task.remote(i, 2))

    def fails(self, i: int) -> None:
        raise ValueError(i)

    def pid(self) -> int:
        return os.getpid()


class AsyncPure(Pure):
    """The same methods on an event loop (one coroutine makes it async)."""

    async def add(self, x: int, y: int) -> int:
        await asyncio.sleep(0)
        return x + y


def make_actors(count: int) -> list[Any]:
    """count actors: a third sequential, a third threaded, a third async."""
    sequential = fastray.remote(**RESTARTING)(Pure)
    threaded = sequential.options(max_concurrency=4)
    asynchronous = fastray.remote(**RESTARTING)(AsyncPure)
    kinds = [sequential, threaded, asynchronous]
    return [kinds[i % 3].remote() for i in range(count)]


def submit(actors: list[Any], i: int) -> tuple[Any, Callable[[Any], bool] | None]:
    """Call i and a check of its result (None: it must raise ValueError(i))."""
    actor = actors[i % len(actors)]
    kind = (i // len(actors)) % 20
    if kind < 14:
        return actor.add.remote(i, 1), lambda v: v == i + 1
    if kind < 16:
        return (actor.array_sum.remote(np.full(30_000, i % 100)),
                lambda v: v == 30_000 * (i % 100))
    if kind == 16:
        return actor.make_array.remote(i), lambda v: v.shape == (20_000,) and int(v[-1]) == i
    if kind == 17:
        return actor.nested.remote(i), lambda v: v == i + 2
    return actor.fails.remote(i), None


def actor_pids(context: Any) -> list[int]:
    """The live processes of the runtime's actors (their parent is the
    spawner, so a pid gone and reused by another program is never taken)."""
    spawner = context.spawner_pid
    pids = []
    for actor in context._runtime.actors():
        pid = actor["pid"]
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        if pid > 0 and fields[0] != "Z" and int(fields[1]) == spawner:
            pids.append(pid)
    return pids


@dataclass
class Kills:
    signalled: int = 0
    killed: int = 0


def kill_actors(context: Any, actors: list[Any], every: float, stop: threading.Event,
                kills: Kills) -> None:
    """Every ~every seconds: SIGKILL a random actor's process, or (one time
    in three) kill(handle, no_restart=False)."""
    rng = random.Random(0)
    while not stop.wait(every * rng.uniform(0.5, 1.5)):
        if rng.random() < 1 / 3:
            fastray.kill(rng.choice(actors), no_restart=False)
            kills.killed += 1
            continue
        pids = actor_pids(context)
        if pids:
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills.signalled += 1
            except ProcessLookupError:
                pass


@dataclass
class SoakReport:
    calls: int
    seconds: float = 0.0
    kills: Kills = field(default_factory=Kills)
    restarts: int = 0
    retries: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("right", "own error", "wrong", "lost"), 0))
    objects_before: int = 0
    objects_after: int = 0
    actors_left: int = 0
    shm_held: set[str] = field(default_factory=set)
    leaked_processes: set[int] = field(default_factory=set)
    leaked_store_holders: set[int] = field(default_factory=set)
    new_shm: set[str] = field(default_factory=set)
    session_dir_left: bool = False

    def ok(self, count_new_shm: bool = True) -> bool:
        """count_new_shm=False: new /dev/shm entries are not held against the
        run (other programs may make some meanwhile); what its processes held
        still is."""
        return not (self.outcomes["wrong"] or self.outcomes["lost"]
                    or self.objects_after != self.objects_before or self.actors_left
                    or self.shm_held or self.leaked_processes or self.leaked_store_holders
                    or (count_new_shm and self.new_shm) or self.session_dir_left)

    def lines(self) -> list[str]:
        return [
            f"calls {self.calls} in {self.seconds:.1f} s; actor processes SIGKILLed "
            f"{self.kills.signalled}, kill(no_restart=False) {self.kills.killed}; restarts "
            f"{self.restarts}; calls retried {self.retries}",
            f"outcomes {self.outcomes}",
            f"scheduler objects before {self.objects_before}, after {self.objects_after}; "
            f"actors left {self.actors_left}",
            f"leaked: processes {len(self.leaked_processes)}, store holders "
            f"{len(self.leaked_store_holders)}, /dev/shm held {len(self.shm_held)}, new "
            f"/dev/shm entries {len(self.new_shm)}, session dir {self.session_dir_left}"]


def run_calls(actors: list[Any], calls: int, outcomes: dict[str, int]) -> None:
    for first in range(0, calls, BATCH):
        batch = [submit(actors, i) for i in range(first, min(first + BATCH, calls))]
        for i, (ref, check) in enumerate(batch, first):
            try:
                value = fastray.get(ref, timeout=120)
                outcomes["right" if check is not None and check(value) else "wrong"] += 1
            except ValueError as exc:
                own = check is None and exc.args and str(i) in str(exc)
                outcomes["own error" if own else "wrong"] += 1
            except Exception as exc:  # anything else means the call was lost
                print(f"call {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
                outcomes["lost"] += 1


def wait_for_objects(context: Any, count: int, seconds: float) -> int:
    """The scheduler's object count once it is down to count (or the deadline
    passed): the handles' releases reach the scheduler asynchronously."""
    deadline = time.monotonic() + seconds
    while True:
        stats = context._runtime.stats()
        if (stats["objects"] <= count and not context._runtime.actors()) or (
                time.monotonic() > deadline):
            return stats["objects"]
        time.sleep(0.01)


def soak(calls: int, num_actors: int = 20, kill_every: float = 0.1) -> SoakReport:
    report = SoakReport(calls)
    shm_before = set(os.listdir("/dev/shm"))
    processes_before = descendants(os.getpid())
    started = time.monotonic()
    context = fastray.init(num_cpus=2, object_store_memory=512 * 2**20)
    session_dir = Path(context.address_info["session_dir"])
    store = current_store_inode()
    report.objects_before = context._runtime.stats()["objects"]
    actors = make_actors(num_actors)
    stop = threading.Event()
    killer = threading.Thread(target=kill_actors,
                              args=(context, actors, kill_every, stop, report.kills))
    killer.start()
    try:
        run_calls(actors, calls, report.outcomes)
    finally:
        stop.set()
        killer.join()
    report.restarts = sum(actor["restarts"] for actor in context._runtime.actors())
    report.retries = context._runtime.stats()["retries"]
    report.shm_held = shm_files_held_by([os.getpid(),
                                         *descendants(os.getpid()) - processes_before])
    del actors
    report.objects_after = wait_for_objects(context, report.objects_before, 60)
    report.actors_left = len(context._runtime.actors())
    fastray.shutdown()
    report.seconds = time.monotonic() - started
    report.leaked_processes = descendants(os.getpid()) - processes_before
    report.leaked_store_holders = store_holders(store)
    report.new_shm = set(os.listdir("/dev/shm")) - shm_before
    report.session_dir_left = session_dir.exists()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--actors", type=int, default=20)
    parser.add_argument("--kill-every", type=float, default=0.1)
    options = parser.parse_args()
    report = soak(options.calls, options.actors, options.kill_every)
    print("\n".join(report.lines()))
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
