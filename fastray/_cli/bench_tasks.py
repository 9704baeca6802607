"""The functions and classes the benchmarks run as tasks and actors.  They
travel by reference, so a worker imports this module to run them: it imports
nothing else (numpy only when an array task runs, the runtime's module only
when an actor or task calls actors), or the first call would time the imports.

The actor classes are plain: the benchmark makes them actors with the
runtime under test (fastray or Ray), whose module name they are given when
they call other actors."""
from __future__ import annotations

import os
from typing import Any


def noop(x: Any = None) -> Any:
    return x


def checksum(x: Any) -> float:
    """Reads one float in every 8 KB: the cost is getting the array there."""
    return float(x[::1024].sum())


def make_array(nbytes: int) -> Any:
    import numpy as np
    return np.ones(nbytes // 8)


class Process:
    def pid(self) -> int:
        """Which process the actor runs in, so the benchmark can wait for its exit."""
        return os.getpid()


class Server(Process):
    """Ray's microbenchmark ``Actor``: answers at once."""

    def small_value(self) -> bytes:
        return b"ok"

    def small_value_arg(self, x: Any) -> bytes:
        return b"ok"


class AsyncServer(Process):
    """Ray's microbenchmark ``AsyncActor``: the same answers, as coroutines."""

    async def small_value(self) -> bytes:
        return b"ok"

    async def small_value_arg(self, x: Any) -> bytes:
        return b"ok"


def call_servers(api: str, servers: list, calls: int) -> int:
    """Makes calls spread over servers, then gets them all; how many were b"ok"."""
    import importlib
    ray = importlib.import_module(api)
    return ray.get([servers[i % len(servers)].small_value.remote()
                    for i in range(calls)]).count(b"ok")


class Client(Process):
    """Ray's microbenchmark ``Client``: calls its servers from an actor."""

    def __init__(self, api: str, servers: list) -> None:
        self.api, self.servers = api, servers

    def small_value_batch(self, calls: int) -> int:
        """calls to each server, then one get of all; how many were b"ok"."""
        import importlib
        ray = importlib.import_module(self.api)
        refs = [server.small_value.remote() for server in self.servers for _ in range(calls)]
        return ray.get(refs).count(b"ok")


def spin(loops: int) -> int:
    """CPU-bound work in pure Python: the scaling table's unit of real work."""
    total = 0
    for i in range(loops):
        total += i
    return total
