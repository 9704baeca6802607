"""An actor's own Python per call of a no-op method (``python
benches/actor_loop.py``): 20,000 TASK frames, as the scheduler sends them,
replayed through a default actor's loop and through a threaded actor's
(``max_concurrency=16``) over worker_loop.py's stand-in socket.  As there,
no syscall, no other process and no wake-up is measured: what the threaded
reader's bookkeeping and locks add to a call shows as the ratio.  Prints
the medians of nine alternating runs of each, in microseconds of the
loop's thread CPU per call."""
from __future__ import annotations

import collections
import statistics
from typing import Any

import cloudpickle

from fastray.actor_host import ActorBackend, ThreadedActorBackend
from fastray.actor_spec import ActorMeta, ActorSettings, MethodCall, MethodSpec
from fastray.connection import Connection
from worker_loop import cpu_per_task, reads_of

CALLS = 20_000
METHOD_ID = 7
CONCURRENCY = 16


class Server:
    def small_value(self) -> bytes:
        return b"ok"


def actor_backend(kind: type[ActorBackend], concurrency: int):
    """Builds an actor backend of kind around Server, as host_actor would."""
    def make(connection: Connection, mapping: Any) -> ActorBackend:
        backend = kind(connection, 1, 0, mapping)
        backend.instance, backend.class_name, backend.actor_id = Server(), "Server", 1
        meta = ActorMeta("Server", {"small_value": MethodSpec(METHOD_ID)}, 0, -1, "", "")
        backend.settings = ActorSettings(meta, concurrency, ())
        return backend
    return make


def run_threaded(backend: ThreadedActorBackend) -> None:
    """The threaded actor's serve(), without its handoff watcher: the
    replay's only thread reads and runs every call."""
    backend._limits = {None: CONCURRENCY}
    backend._running = {None: 0}
    backend._queued = {None: collections.deque()}
    backend._work()


def main() -> None:
    reads = reads_of(cloudpickle.dumps(MethodCall("small_value")), CALLS)
    runs: dict[str, list[float]] = {"default": [], "threaded": []}
    for _ in range(9):
        runs["default"].append(cpu_per_task(actor_backend(ActorBackend, 1),
                                            lambda backend: backend.serve(), reads, CALLS))
        runs["threaded"].append(cpu_per_task(actor_backend(ThreadedActorBackend, CONCURRENCY),
                                             run_threaded, reads, CALLS))
    default, threaded = (statistics.median(runs[kind]) for kind in ("default", "threaded"))
    print(f"actor loop, no-op method: default {default:.2f} µs, threaded {threaded:.2f} µs "
          f"of CPU per call ({threaded / default:.2f}×; medians of 9 runs of {CALLS:,})")


if __name__ == "__main__":
    main()
