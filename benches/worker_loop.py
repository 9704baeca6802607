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

import cloudpickle

from fastray import state, wire
from fastray._cli.bench_tasks import noop
from fastray._store import Mapping
from fastray.connection import Connection
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


class ReplayedSocket:
    """What the worker's Connection reads and writes: prepared reads, then
    EOF; sends are counted and dropped."""

    def __init__(self, reads: list[bytes]) -> None:
        self._reads = iter(reads)
        self.sends = 0

    def recv(self, size: int, flags: int = 0) -> bytes:
        return next(self._reads, b"")

    def sendall(self, data: bytes) -> None:
        self.sends += 1


def microseconds_per_task() -> float:
    frames = [task_frame(1, cloudpickle.dumps(noop))]
    frames += [task_frame(task_id) for task_id in range(2, TASKS + 1)]
    reads = [b"".join(frames[i:i + FRAMES_PER_READ])
             for i in range(0, len(frames), FRAMES_PER_READ)]
    ours, _theirs = socket.socketpair()
    store = os.memfd_create("worker-loop-store")
    try:
        os.ftruncate(store, STORE_BYTES)
        connection = Connection(ours.detach())
        connection.sock.close()
        replayed = ReplayedSocket(reads)
        connection.sock = replayed  # type: ignore[assignment]
        connection.outbox._send_all = replayed.sendall
        backend = WorkerBackend(connection, 1, 0, Mapping(store, STORE_BYTES))
        state.install(backend)
        started = time.thread_time()
        try:
            serve(backend, None)
        except EOFError:
            pass
        took = time.thread_time() - started
    finally:
        _theirs.close()
        os.close(store)
        state.install(None)
    if replayed.sends == 0:
        raise RuntimeError("the worker sent no result")
    return took / TASKS * 1e6


def main() -> None:
    runs = [microseconds_per_task() for _ in range(9)]
    print(f"worker loop, no-op task: least {min(runs):.2f} µs, median "
          f"{statistics.median(runs):.2f} µs of CPU per task (9 runs of {TASKS:,})")


if __name__ == "__main__":
    main()
