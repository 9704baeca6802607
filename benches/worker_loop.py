"""A worker's own Python per no-op task (``python benches/worker_loop.py``):
50,000 TASK frames, as the scheduler sends them, replayed through a worker's
serve loop over a stand-in socket that hands them out 16 at a time and
drops what the worker sends.  No syscall, no other process and no wake-up
is measured: only the Python a task costs its worker, the part that decides
how many tasks a core can run.  Prints the least and the median of nine
runs, in microseconds of the loop's thread CPU per task."""
from __future__ import annotations

import os
import socket
import statistics
import struct
import time
from typing import Any, Callable

import cloudpickle

from fastray import state, wire
from fastray._cli.bench_tasks import noop
from fastray._store import Mapping
from fastray.connection import Connection, Outbox
from fastray.task_args import NO_ARGS
from fastray.worker import WorkerBackend, serve

TASKS = 50_000
FRAMES_PER_READ = 16
FUNCTION_ID = 7
STORE_BYTES = 1 << 20


def task_frame(task_id: int, function: bytes = b"") -> bytes:
    """A TASK frame of a no-op call without arguments; the first carries
    the function's pickle."""
    body = b"".join([wire.TASK_FIELDS.pack(0, 1, 0), struct.pack("<Q", len(function)),
                     function, struct.pack("<I", 0), NO_ARGS.payload])
    return wire.HEADER.pack(len(body), wire.TASK, task_id, FUNCTION_ID) + body


class EndOfReplay(Exception):
    """The prepared reads are used up (not EOFError, on which an actor's
    process would exit)."""


class ReplayedSocket:
    """What the worker's Connection reads and writes: prepared reads, then
    EndOfReplay; sends are counted and dropped."""

    def __init__(self, reads: list[bytes]) -> None:
        self._reads = iter(reads)
        self.sends = 0

    def recv(self, size: int, flags: int = 0) -> bytes:
        for read in self._reads:
            return read
        raise EndOfReplay

    def sendall(self, data: bytes) -> None:
        self.sends += 1


def reads_of(first_function: bytes, tasks: int) -> list[bytes]:
    """tasks TASK frames, the first carrying the function's pickle, as
    reads of FRAMES_PER_READ frames each."""
    frames = [task_frame(1, first_function)]
    frames += [task_frame(task_id) for task_id in range(2, tasks + 1)]
    return [b"".join(frames[i:i + FRAMES_PER_READ])
            for i in range(0, len(frames), FRAMES_PER_READ)]


def cpu_per_task(make_backend: Callable[[Connection, Mapping], WorkerBackend],
                 loop: Callable[[Any], None], reads: list[bytes], tasks: int) -> float:
    """Microseconds of this thread's CPU per task while loop(backend) runs
    the replayed reads through a backend make_backend builds on them."""
    ours, theirs = socket.socketpair()
    store = os.memfd_create("worker-loop-store")
    try:
        os.ftruncate(store, STORE_BYTES)
        connection = Connection(ours.detach())
        connection.sock.close()
        replayed = ReplayedSocket(reads)
        connection.sock = replayed  # type: ignore[assignment]
        connection.outbox = Outbox(replayed.sendall)
        backend = make_backend(connection, Mapping(store, STORE_BYTES))
        state.install(backend)
        started = time.thread_time()
        try:
            loop(backend)
        except EndOfReplay:
            pass
        took = time.thread_time() - started
    finally:
        theirs.close()
        os.close(store)
        state.install(None)
    if replayed.sends == 0:
        raise RuntimeError("the worker sent no result")
    return took / tasks * 1e6


def microseconds_per_task() -> float:
    return cpu_per_task(lambda connection, mapping: WorkerBackend(connection, 1, 0, mapping),
                        lambda backend: serve(backend, None),
                        reads_of(cloudpickle.dumps(noop), TASKS), TASKS)


def main() -> None:
    runs = [microseconds_per_task() for _ in range(9)]
    print(f"worker loop, no-op task: least {min(runs):.2f} µs, median "
          f"{statistics.median(runs):.2f} µs of CPU per task (9 runs of {TASKS:,})")


if __name__ == "__main__":
    main()
