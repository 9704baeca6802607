"""Remote functions and actors the generator, placement and scheduling tests
share, at module level so that Ray's workers import them by name."""
from __future__ import annotations

import os

import fastray
from helpers import wait_for_file


@fastray.remote
def count_to(n):
    for i in range(n):
        yield i


@fastray.remote
def fails_after(n):
    for i in range(n):
        yield i
    raise ValueError(f"failed after {n}")


@fastray.remote
def gated(n, gate_dir):
    """Yields value i only once the file gate_dir/i exists."""
    for i in range(n):
        wait_for_file(os.path.join(gate_dir, str(i)), timeout=60)
        yield i


@fastray.remote
def logs_progress(n, log_path):
    """Appends each index to log_path before yielding it."""
    for i in range(n):
        with open(log_path, "a") as log:
            log.write(f"{i}\n")
        yield i


@fastray.remote
def big_arrays(n, size):
    import numpy as np
    for i in range(n):
        yield np.full(size, i, dtype=np.int64)


@fastray.remote
class Streams:
    def numbers(self, n):
        for i in range(n):
            yield i * 10


@fastray.remote(max_concurrency=3)
class ThreadedStreams:
    def numbers(self, n):
        for i in range(n):
            yield i * 10


@fastray.remote
class AsyncStreams:
    async def numbers(self, n):
        for i in range(n):
            yield i * 10

    async def ping(self):
        return "pong"


@fastray.remote
def current_group():
    from fastray.util import get_current_placement_group
    group = get_current_placement_group()
    return None if group is None else group.id.hex()


@fastray.remote
def child_group():
    """The group of a task this one submits (captured, or not)."""
    return fastray.get(current_group.remote())


@fastray.remote
def node_of_task():
    return fastray.get_runtime_context().get_node_id()


@fastray.remote
class GroupMember:
    def ping(self):
        return "pong"


@fastray.remote
def hold_until(started_path, gate_path):
    """Holds its CPU from when it writes started_path until gate_path exists."""
    with open(started_path, "w"):
        pass
    wait_for_file(gate_path, timeout=60)
    return True


@fastray.remote(max_calls=1)
def pid_once():
    return os.getpid()


@fastray.remote(max_calls=2)
def pid_twice():
    return os.getpid()


@fastray.remote
def env_var(name):
    return os.environ.get(name)


@fastray.remote
def env_var_of_child(name, runtime_env):
    """The variable as a child task sees it (with its own runtime_env, if given)."""
    child = env_var.options(runtime_env=runtime_env) if runtime_env else env_var
    return fastray.get(child.remote(name))


@fastray.remote
def where_and_who():
    return os.getcwd(), os.getpid()


@fastray.remote
class EnvReader:
    def read(self, name):
        return os.environ.get(name)


@fastray.remote
def add(src, inc=1):
    return src + inc


@fastray.remote
def double(x):
    return x * 2


@fastray.remote
class Accumulator:
    def __init__(self, start):
        self.total = start

    def inc(self, x):
        self.total += x

    def get(self):
        return self.total


@fastray.remote
def notes_its_cancel(started_path, note_path):
    """Runs until cancelled; then writes whether is_canceled() says so."""
    import time
    try:
        # Inside the try: a cancel may arrive as soon as the file exists.
        with open(started_path, "w"):
            pass
        while True:
            time.sleep(0.01)
    except KeyboardInterrupt:
        with open(note_path, "w") as note:
            note.write(str(fastray.get_runtime_context().is_canceled()))
        raise


@fastray.remote
class Sleeper:
    async def sleep_through_cancel(self, started_path):
        """Swallows the CancelledError that a cancel raises in it."""
        import asyncio
        with open(started_path, "w"):
            pass
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return "swallowed"


@fastray.remote
def two_then_fails():
    for i in range(2):
        yield i
    raise KeyError("after two")


@fastray.remote
def counts_with_a_bar(n):
    from fastray.experimental.tqdm_ray import tqdm
    return sum(1 for _ in tqdm(range(n), desc="counting"))
