"""Actors and remote functions the actor tests share, at module level so that
Ray's workers import them by name (as for any module a Ray program imports)."""
from __future__ import annotations

import asyncio
import os
import threading
import time

import fastray


@fastray.remote
class Counter:
    def __init__(self, start=0):
        self.value = start

    def incr(self, by=1):
        self.value += by
        return self.value

    def get(self):
        return self.value

    def pid(self):
        return os.getpid()

    def fail(self):
        raise KeyError("boom")

    def echo(self, value):
        return value

    def die(self):
        os._exit(1)

    def leave(self):
        fastray.actor.exit_actor()

    def wait_for(self, path):
        """Returns once path exists (a gate the test opens)."""
        while not os.path.exists(path):
            time.sleep(0.005)
        return "opened"

    def spin_until_canceled(self, started):
        open(started, "w").close()
        while not fastray.get_runtime_context().is_canceled():
            time.sleep(0.005)
        return "noticed"

    def who(self):
        context = fastray.get_runtime_context()
        return context.get_actor_id(), context.get_actor_name(), context.current_actor


@fastray.remote(max_restarts=1)
class Broken:
    """Its constructor raises: the actor is dead for good, restarts or not."""

    def __init__(self):
        raise ValueError("bad init")

    def ping(self):
        return "pong"


@fastray.remote
class Flaky:
    """Crashes its process in crash_once the first time (marker absent)."""

    def __init__(self):
        self.calls = 0

    def crash_once(self, marker):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        self.calls += 1
        return self.calls

    def crash(self):
        os._exit(1)

    def pid(self):
        return os.getpid()


@fastray.remote(max_concurrency=4)
class Meeting:
    def __init__(self):
        self.barrier = threading.Barrier(4, timeout=60)

    def meet(self):
        return self.barrier.wait()


@fastray.remote
def plus_one(x):
    return x + 1


@fastray.remote
class Awaits:
    async def add_one(self, x):
        return await plus_one.remote(x)

    async def sum_of(self, xs):
        return sum(await asyncio.gather(*[plus_one.remote(x) for x in xs]))

    def blocking(self, x):
        """A sync method of an async actor runs on its loop and may block in get."""
        return fastray.get(plus_one.remote(x))


@fastray.remote
def bump(counter, by):
    return fastray.get(counter.incr.remote(by))


@fastray.remote
class Caller:
    def __init__(self, counter):
        self.counter = counter

    def bump(self, by):
        return fastray.get(self.counter.incr.remote(by))

    def make(self, start):
        child = Counter.remote(start)
        return fastray.get(child.incr.remote())


@fastray.remote
def drain(queue, count):
    return [queue.get(timeout=60) for _ in range(count)]
