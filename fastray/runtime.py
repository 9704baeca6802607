"""The driver's runtime: the scheduler core, the object store's shared
memory, the spawner process and the backend primitives the public API runs
on.

Data flow (see docs/architecture.md for the whole picture)::

    driver threads --submit/put/wait (mutex)--> Scheduler core (C++ state)
                                                    |  scheduler thread, no GIL:
                                                    |  poll(worker sockets, spawner, eventfd)
          spawner process  <--SPAWN + fd-----------+
               | fork                               |
               v                                    v
          worker processes  <==== TASK / RESULT frames (one socketpair each)
          (driver, workers: each maps the object store's memfd)

The store's memory is a memfd (an anonymous shared-memory file): the
spawner inherits its descriptor and every worker maps it after the fork.
It has no name in /dev/shm, so no ending of the driver, however abrupt,
can leave a segment behind, and Python's resource tracker never sees it.
"""
from __future__ import annotations

import logging
import os
import pickle
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from . import state, wire
from ._scheduler import Scheduler
from ._store import Mapping
from .backend import SHUT_DOWN, SchedulerBackend
from .task_args import EncodedArgs
from .exceptions import FastrayError, ObjectStoreFullError
from .object_ref import ObjectRef
from .options import TaskOptions
from .serialization import Fetched, deserialize, error_of
from .config import RuntimeConfig
from .resources import NODE_RESOURCES, NodeResources
from .progress_board import BarBoard
from .spawner import Launched

if TYPE_CHECKING:
    import concurrent.futures

    from .dashboard import Dashboard

_next_origin = 1  # worker id spaces stay unique across runtimes in one process

logger = logging.getLogger("fastray")


class LocalRuntime(SchedulerBackend):
    """The backend of a driver process: owns the scheduler, the store and
    the workers."""

    def __init__(self, num_cpus: int, max_workers: int, session_dir: str,
                 config: RuntimeConfig, spawner: Launched, namespace: str,
                 node: NodeResources) -> None:
        store = self.store_config = config.store
        self.session_dir = session_dir
        self._spawner = spawner
        self._store_fd = spawner.store_fd
        super().__init__(origin=0, num_cpus=num_cpus,
                         mapping=Mapping(self._store_fd, store.capacity, owner=True))
        self.max_workers = max_workers
        self.namespace = namespace
        self._scheduler = Scheduler(
            num_cpus, max_workers, spawner.control.fileno(), _next_origin,
            self._store_fd, self.mapping, store.warm_limit, store.full_timeout,
            os.fsencode(os.path.join(session_dir, "spill")), config.max_task_events)
        self.node_resources = node
        self._scheduler.declare_resources(
            [gpu_id.encode() for gpu_id in node.gpu_ids],
            [node.custom[name] for name in node.custom_names])
        self._scheduler.start()
        self.bar_board = BarBoard(spawner.progress_fd)
        self.dashboard: Dashboard | None = None
        self._futures: list[tuple[ObjectRef, concurrent.futures.Future]] = []
        self._futures_cv = threading.Condition()
        self._future_thread: threading.Thread | None = None

    @property
    def spawner_pid(self) -> int:
        return self._spawner.process.pid

    def worker_pids(self) -> list[int]:
        return self._scheduler.worker_pids()

    def stats(self) -> dict[str, int]:
        return self._scheduler.stats()

    def start_dashboard(self, port: int | None) -> None:
        from .dashboard import Dashboard
        self.dashboard = Dashboard(self, port)

    def snapshot(self) -> dict[str, Any]:
        """Workers and what they run, tasks by state, largest objects."""
        return self._scheduler.snapshot()

    def task_events(self, last: int = 0) -> list[tuple]:
        """Ended tasks' events, oldest first; only the newest ``last`` if given."""
        self._check_running()
        return self._scheduler.task_events(last)

    def timeline(self, since_ns: int, merge_gap_ns: int, limit: int) -> list[tuple]:
        """Ended tasks since ``since_ns`` as per-worker segments (the
        scheduler's ``timeline``): what a live Gantt strip draws."""
        self._check_running()
        return self._scheduler.timeline(since_ns, merge_gap_ns, limit)

    def failures(self) -> list[tuple]:
        """The latest tasks that ended without a value, with their error
        payloads (the scheduler's ``failures``)."""
        self._check_running()
        return self._scheduler.failures()

    def store_stats(self) -> dict[str, int]:
        self._check_running()
        stats = self._scheduler.stats()
        figures = {key[len("store_"):] if key.startswith("store_") else key: stats[key]
                   for key in ("store_capacity", "store_bytes", "store_objects",
                               "spilled_bytes", "spilled_objects", "spills", "restores",
                               "warm_limit", "allocs_waiting")}
        # Memory the store's file holds now: touched pages, in use or warm.
        figures["resident_bytes"] = os.fstat(self._store_fd).st_blocks * 512
        return figures

    # -- primitives

    def _define(self, fn_id: int, name: bytes, blob: bytes) -> None:
        self._scheduler.define(fn_id, name, blob)

    def _submit(self, task_id: int, fn_id: int, options: TaskOptions, args: EncodedArgs,
                actor: int = 0, pool: int = 0, env: int = 0, demand: int = 0
                ) -> list[ObjectRef]:
        return self._scheduler.submit(task_id, fn_id, options.num_returns, options.cpu_milli,
                                      options.max_retries, args.deps, args.contained,
                                      args.payload, actor, ObjectRef, state.generation, pool,
                                      env, demand)

    def _actor_op(self, op: int, body: bytes) -> tuple[int, bytes]:
        return self._scheduler.actor_op(op, body)

    def actors(self) -> list[dict[str, Any]]:
        """Every actor: class, name, pid, state, pending calls, restarts,
        death cause (the scheduler's ``actors``)."""
        self._check_running()
        return self._scheduler.actors()

    def _put(self, object_id: int, payload: bytes, contained: list[int]) -> None:
        self._scheduler.put(object_id, payload, contained)

    def _promise(self, first_id: int, count: int) -> None:
        self._scheduler.promise(first_id, count)

    def _fulfil(self, object_id: int, payload: bytes, contained: list[int]) -> None:
        self._scheduler.put(object_id, payload, contained)

    def _wait(self, ids: list[int], needed: int, timeout: float | None, fail_fast: bool,
              fetch: bool) -> tuple[bytes, list[Fetched | None] | None]:
        states = self._scheduler.wait(ids, needed, -1.0 if timeout is None else timeout,
                                      fail_fast)
        return states, self._fetch(ids) if fetch else None

    def wait_ready(self, refs: list[ObjectRef], num_returns: int
                   ) -> tuple[list[ObjectRef], list[ObjectRef]] | None:
        if self._stopped:
            return None
        return self._scheduler.wait_ready(refs, ObjectRef, state.generation, num_returns)

    def _fetch(self, ids: list[int]) -> list[Fetched | None]:
        view = self.mapping.view
        release = self.release_view
        return [None if item is None else
                (item[0], [view(blob, offset, size, release) for blob, offset, size in item[1]])
                for item in self._scheduler.fetch(ids)]

    def take_refs(self, ids: list[int]) -> list[ObjectRef]:
        return self._scheduler.take_refs(ids, ObjectRef, state.generation)

    fetch_while_waiting = False

    def _next_ids(self, count: int) -> int:
        return self._scheduler.next_ids(count)   # the driver's origin is 0

    def _fetch_now(self, ids: list[int]) -> list[Fetched | None]:
        return self._fetch(ids)

    def _ready_values(self, ids: list[int]) -> list[Any] | None:
        return self._scheduler.ready_values(ids, pickle.loads)

    def _fetch_ready(self, ids: list[int]) -> list[Fetched] | None:
        fetched = self._scheduler.fetch_ready(ids)
        if fetched is None:
            return None
        view = self.mapping.view
        release = self.release_view
        return [(payload, [view(blob, offset, size, release) for blob, offset, size in blobs])
                for payload, blobs in fetched]

    def allocate_blob(self, size: int) -> tuple[int, int]:
        blob_id = self._next_ids(1)
        offsets, error = self._scheduler.alloc([blob_id], [size])
        if error is not None:
            raise ObjectStoreFullError(error)
        assert offsets is not None
        return blob_id, offsets[0]

    def drop_created(self, blob_ids: list[int]) -> None:
        for blob_id in blob_ids:
            self._scheduler.decref(blob_id)

    def release_view(self, blob_id: int) -> None:
        self._scheduler.unpin(blob_id)

    def _cancel(self, object_id: int, force: bool, recursive: bool) -> None:
        if not self._scheduler.cancel(object_id, force, recursive):
            raise ValueError("force=True is not supported for actor calls (as in Ray): an "
                             "actor's process runs its other calls too; use kill() to end "
                             "the actor")

    def incref(self, object_id: int) -> None:
        self._scheduler.incref(object_id)

    def decref(self, object_id: int) -> None:
        if not self._stopped and self._scheduler.decref(object_id):
            self.log_unhandled_errors()

    def log_unhandled_errors(self) -> None:
        """Reports task errors that were freed without get() ever raising
        them, as Ray does; a silent failure is the worst kind."""
        for payload in self._scheduler.take_unhandled():
            logger.error("Unhandled error (no get() retrieved it before its last ObjectRef "
                         "went): %s", error_of(payload))

    def current_task_id(self) -> int | None:
        return None

    def nodes(self) -> list[dict[str, Any]]:
        """This machine, the one node, with the keys of Ray's nodes()."""
        address = "127.0.0.1"
        return [{"NodeID": self.node_id, "Alive": True, "alive": True,
                 "NodeManagerAddress": address, "NodeManagerHostname": socket.gethostname(),
                 "NodeManagerPort": 0, "ObjectManagerPort": 0, "NodeName": address,
                 "ObjectStoreSocketName": "", "RayletSocketName": "",
                 "MetricsExportPort": -1, "MetricsAgentPort": -1,
                 "DashboardAgentListenPort": -1, "RuntimeEnvAgentPort": -1,
                 "DeathReason": 0, "DeathReasonMessage": "",
                 "Resources": self.resources()[0],
                 "Labels": {"ray.io/node-id": self.node_id}}]

    def resources(self) -> tuple[dict[str, float], dict[str, float]]:
        """Every resource's total and what is free of it now (a resource
        with nothing free is left out of the second, as in Ray)."""
        total = {"CPU": float(self.num_cpus), **self.node_resources.totals(),
                 **{name: 1.0 for name in NODE_RESOURCES}}
        available = dict(total, **self._scheduler.free_resources(self.node_resources.custom_names))
        return total, {name: amount for name, amount in available.items() if amount > 0}

    # -- futures

    def future(self, ref: ObjectRef) -> concurrent.futures.Future[Any]:
        import concurrent.futures   # here: init, on the way to the first task, does without
        self._check_refs([ref])
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._futures_cv:
            self._futures.append((ref, future))
            if self._future_thread is None:
                self._future_thread = threading.Thread(
                    target=self._resolve_futures, name="fastray-futures", daemon=True)
                self._future_thread.start()
            self._futures_cv.notify()
        return future

    def _resolve_futures(self) -> None:
        """Completes futures as their objects become ready (one thread for all)."""
        while True:
            with self._futures_cv:
                while not self._futures and not self._stopped:
                    self._futures_cv.wait()
                if self._stopped:
                    pending, self._futures = self._futures, []
                    break
                watched = list(self._futures)
            ids = [ref.id for ref, _ in watched]
            states = self._scheduler.wait(ids, 1, 0.1, False)
            done = {ref.id for ref, state in zip((r for r, _ in watched), states)
                    if state != wire.OBJ_PENDING}
            if not done:
                continue
            with self._futures_cv:
                self._futures = [(r, f) for r, f in self._futures if r.id not in done]
            for ref, future in watched:
                if ref.id in done:
                    self._settle(ref, future)
        for _, future in pending:
            if future.set_running_or_notify_cancel():  # not cancelled by its owner
                future.set_exception(FastrayError(SHUT_DOWN))

    def _settle(self, ref: ObjectRef, future: concurrent.futures.Future[Any]) -> None:
        (fetched,) = self._fetch([ref.id])
        if not future.set_running_or_notify_cancel():
            return
        if fetched is None:
            future.set_exception(FastrayError(f"{ref!r} no longer exists"))
            return
        try:
            future.set_result(deserialize(fetched))
        except Exception as exc:
            future.set_exception(exc)

    # -- lifecycle

    def finish_tasks(self, seconds: float) -> None:
        """Waits up to seconds for the tasks still pending or running (actor
        calls too) to end, and logs how many did not: shutdown() cancels
        those."""
        deadline = time.monotonic() + seconds
        while (not self._stopped and self._scheduler.stats()["tasks"]
               and time.monotonic() < deadline):
            time.sleep(0.005)
        left = 0 if self._stopped else self._scheduler.stats()["tasks"]
        if left:
            logger.warning("%d task(s) still pending or running when the program ended "
                           "were cancelled after waiting %g s (FASTRAY_EXIT_WAIT_S sets the "
                           "wait)", left, seconds)

    def shutdown(self) -> None:
        """Stops the scheduler, then the spawner, which kills and reaps every
        worker before it exits; returns when all of them are gone."""
        global _next_origin
        if self._stopped:
            return
        self._stopped = True
        if self.dashboard is not None:
            self.dashboard.stop()
        self._scheduler.stop()
        self.log_unhandled_errors()
        _next_origin = self._scheduler.next_origin
        self._spawner.stop()
        self.bar_board.close()
        with self._futures_cv:
            self._futures_cv.notify_all()
        if self._future_thread is not None:
            self._future_thread.join()
