# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The scheduler: task states, dependency graph, dispatch and completions.

All bookkeeping lives in C++ structures (sched_state.hpp) guarded by one
mutex.  A dedicated thread runs ``run_loop`` without the GIL: it polls every
worker socket, the spawner socket and a wake-up eventfd, and handles what
arrives (a finished task marks its dependents ready and the next ready task
is sent to the idle worker) without ever taking the GIL.  Driver threads call
the methods of ``Scheduler``; each takes the mutex briefly, and ``wait``
sleeps on a condition variable with the GIL released.

A task is dispatched as one frame (protocol.h) that carries the payloads of
its dependencies and, the first time a worker sees the function, the pickled
function itself, so a worker never has to ask for anything to start a task.

This file holds the ``Scheduler`` class (its lifecycle and the driver's
calls); the no-GIL logic lives in the include files of csrc/scheduler/, one
responsibility each (frames, clock, core, store, spill, dispatch, cancel,
handlers, actors, loop, views), as do the ObjectRef helpers (refs), and the
C++ declarations in one .pxd per header.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF
from cython.operator cimport dereference as deref, preincrement as inc
from libc.errno cimport EINTR, EIO, errno
from libc.signal cimport SIGKILL, SIGRTMIN
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdio cimport snprintf
from libc.string cimport memcpy, strerror
from libcpp.deque cimport deque
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.utility cimport pair
from libcpp.vector cimport vector
from posix.fcntl cimport (F_GETFL, F_SETFL, O_CLOEXEC, O_CREAT, O_EXCL, O_NONBLOCK, O_RDONLY,
                          O_WRONLY, fcntl, open as c_open)
from posix.signal cimport kill, sigval
from posix.stat cimport mkdir
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec
from posix.unistd cimport close, pread, pwrite, read, unlink, write

import threading
from types import MemberDescriptorType

from arena cimport arena_round_up
from fdpass cimport fr_send_with_fd
from protocol cimport *
from sched_state cimport *
from system cimport *

cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1
    void PyObject_GC_UnTrack(void *op)
    object PyType_GenericAlloc(PyTypeObject *cls, Py_ssize_t nitems)
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:  # a __slots__ attribute's descriptor
        PyMemberDef *d_member

include "scheduler/constants.pxi"

OUTCOMES = {TASK_FINISHED: "finished", TASK_FAILED: "failed", TASK_CANCELLED: "cancelled",
            TASK_CRASHED: "crashed"}

cdef enum:
    RECV_CHUNK = 262144
    LOCATION_SIZE = 24
    MAX_INLINE_DEPTH = 64
    SPIN_NANOSECONDS = 200000
    SERVE_EVERY_NS = 2000        # how often a spinning wait looks at the workers' sockets
    QUEUE_DEPTH = 8              # tasks a busy worker may have waiting behind
    QUICK_TASK_NS = 1000000      # only tasks known to take less are queued
    QUICK_AFTER_RUNS = 3
    ACQUIRE_TRIES = 64           # spins of a submit for a mutex another thread holds
    KEPT_FAILURES = 20           # the latest failed tasks a live view can show
    FAILURE_PAYLOAD_MAX = 65536  # larger error payloads are not kept
    LARGEST_OBJECTS = 5          # the live view lists this many of the largest blobs
    PUNCH_PIECE_BYTES = 16777216  # pages given back per call while the store thread frees

cdef double SIGNAL_CHECK_SECONDS = 0.05  # how often a blocked wait() lets Ctrl-C in


# The parts of the scheduler, one responsibility each; they are included
# (not separate modules) so that the whole no-GIL path compiles to one C++
# unit whose calls the compiler can inline.
include "scheduler/frames.pxi"
include "scheduler/clock.pxi"
include "scheduler/core.pxi"
include "scheduler/store.pxi"
include "scheduler/spill.pxi"
include "scheduler/dispatch.pxi"
include "scheduler/cancel.pxi"
include "scheduler/handlers.pxi"
include "scheduler/actors.pxi"
include "scheduler/pools.pxi"
include "scheduler/resources.pxi"
include "scheduler/loop.pxi"
include "scheduler/views.pxi"
include "scheduler/refs.pxi"


cdef class Scheduler:
    """The driver's handle on the scheduler core (one per runtime)."""

    cdef Core *core
    cdef object _thread
    cdef object _store_thread
    cdef object _mapping
    cdef uint64_t _last_id

    def __cinit__(self, int num_cpus, int max_workers, int spawner_fd, uint64_t origin_base,
                  int store_fd, object mapping, uint64_t warm_limit, double full_timeout,
                  bytes spill_dir, uint32_t max_events):
        """The core, its mutexes and condition variables (timed on the monotonic
        clock), the wake-up eventfd and the store's mapping; no thread yet."""
        cdef int error
        self.core = new Core()
        pthread_mutex_init(&self.core.mu, NULL)
        pthread_mutex_init(&self.core.incoming_mu, NULL)
        error = monotonic_cond_init(&self.core.cv) or monotonic_cond_init(&self.core.io_cv)
        if error:
            raise OSError(error, "could not set up the scheduler's condition variables")
        self.core.total_cpu_milli = num_cpus * 1000
        self.core.min_workers = num_cpus
        self.core.max_workers = max_workers
        self.core.spawner_fd = spawner_fd
        self.core.next_origin = origin_base
        self.core.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
        if self.core.wake_fd < 0 or open_polling(self.core) < 0:
            raise OSError(errno, "could not set up the scheduler's eventfd and epoll sets")
        # The driver's one mapping of the store, kept while the core is.
        self._mapping = mapping
        self.core.base = <char *><size_t>mapping.address
        self.core.store_fd = store_fd
        self.core.arena.reset(mapping.size)
        self.core.warm_limit = arena_round_up(warm_limit)
        self.core.full_timeout = full_timeout
        self.core.events.resize(max_events)
        self.core.received.resize(RECV_CHUNK)
        self.core.spill_dir.assign(PyBytes_AS_STRING(spill_dir), PyBytes_GET_SIZE(spill_dir))

    def declare_resources(self, gpu_ids: list, custom_amounts: list) -> None:
        """The machine's GPUs (their ids as CUDA names them, at most 64) and
        custom resources (amounts by index); before start()."""
        declare_resources(self.core, gpu_ids, custom_amounts)

    def free_resources(self, list custom_names) -> dict:
        """What is free now of CPUs, GPUs and the custom resources (named in
        their index order)."""
        return free_resources(self.core, custom_names)

    def start(self) -> None:
        """Starts the initial workers, the scheduler thread and the store thread."""
        cdef int i
        with nogil:
            lock_core(self.core)
            for i in range(self.core.min_workers):
                spawn_worker(self.core)
            pthread_mutex_unlock(&self.core.mu)
        self._thread = threading.Thread(target=self._run, name="fastray-scheduler", daemon=True)
        self._thread.start()
        self._store_thread = threading.Thread(target=self._run_store, name="fastray-store",
                                              daemon=True)
        self._store_thread.start()

    def _run(self):
        with nogil:
            run_loop(self.core)

    def _run_store(self):
        with nogil:
            run_store(self.core)

    def stop(self) -> None:
        """Stops the thread and closes every worker socket (workers exit on EOF)."""
        cdef size_t i
        with nogil:
            lock_core(self.core)
            self.core.stopping = True
            wake(self.core)
            pthread_cond_broadcast(&self.core.cv)
            pthread_cond_broadcast(&self.core.io_cv)
            pthread_mutex_unlock(&self.core.mu)
        for thread in (self._thread, self._store_thread):
            if thread is not None:
                thread.join()
        self._thread = self._store_thread = None
        for i in range(self.core.workers.size()):
            close_socket(self.core, self.core.workers[i])

    def __dealloc__(self):
        """Frees what the core still owns (objects, tasks, submissions, allocs,
        workers and their requests), unmaps the store and destroys the mutexes and
        condition variables.  Runs after stop(), so no other thread holds them."""
        cdef Core *c = self.core
        cdef size_t i
        if c == NULL:
            return
        for kv in c.objects:
            del kv.second
        for kt in c.tasks:
            del kt.second
        for ka in c.actors:
            del ka.second
        for i in range(c.retired.size()):
            del c.retired[i]
        for kp in c.pools:
            del kp.second
        for i in range(c.demands.size()):
            del c.demands[i]
        for i in range(c.incoming.size()):
            del c.incoming[i]
        for i in range(c.allocs.size()):
            del c.allocs[i]
        for i in range(c.workers.size()):
            if c.workers[i].request != NULL and c.workers[i].request.worker >= 0:
                del c.workers[i].request
            for r in c.workers[i].requests:
                del r
            for frame in c.workers[i].suspended:
                if frame.second != NULL:
                    del frame.second
            if c.workers[i].fd >= 0:
                close(c.workers[i].fd)
            del c.workers[i]
        for fd in (c.wake_fd, c.loop_ep, c.workers_ep):
            if fd >= 0:
                close(fd)
        pthread_cond_destroy(&c.cv)
        pthread_cond_destroy(&c.io_cv)
        pthread_mutex_destroy(&c.mu)
        pthread_mutex_destroy(&c.incoming_mu)
        del c
        self.core = NULL

    @property
    def next_origin(self) -> int:
        return self.core.next_origin

    def define(self, uint64_t fn_id, bytes name, bytes blob) -> None:
        cdef Function *fn
        lock_core(self.core)
        if self.core.functions.count(fn_id) == 0:
            fn = &self.core.functions[fn_id]
            fn.name.assign(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))
            fn.blob.assign(PyBytes_AS_STRING(blob), PyBytes_GET_SIZE(blob))
        pthread_mutex_unlock(&self.core.mu)

    def submit(self, uint64_t task_id, uint64_t fn_id, uint32_t num_returns,
               uint32_t cpu_milli, int32_t max_retries, deps, contained, bytes args,
               uint64_t actor, ref_type, generation, uint64_t pool=0,
               uint64_t env=0, uint32_t demand=0) -> list:
        """Registers a task from the driver (a call of actor's method if
        actor is not 0; pool: the placement group whose CPUs it uses); it
        runs once its deps are ready.  Returns the refs to its results,
        made here (new_refs): the per-call cost of the driver is mostly
        Python work around a submit.  env: the id of its runtime_env (0: none);
        demand: of the GPUs and custom resources it asks for (0: none)."""
        self.enqueue(task_id, fn_id, num_returns, cpu_milli, max_retries, deps, contained,
                     args, actor, pool, env, demand)
        return new_refs(ref_type, task_id, num_returns, generation)

    cdef int enqueue(self, uint64_t task_id, uint64_t fn_id, uint32_t num_returns,
                     uint32_t cpu_milli, int32_t max_retries, deps, contained, bytes args,
                     uint64_t actor, uint64_t pool, uint64_t env,
                     uint32_t demand) except -1:
        cdef Task *t = new Task()
        t.id = task_id
        t.actor = actor
        t.pool = pool
        t.env = env
        t.demand = demand
        t.fn_id = fn_id
        t.num_returns = num_returns
        t.cpu_milli = cpu_milli
        t.retries_left = max_retries
        for d in deps:
            t.deps.push_back(d)
        for d in contained:
            t.contained.push_back(d)
        t.args.assign(PyBytes_AS_STRING(args), PyBytes_GET_SIZE(args))
        # Tasks already queued mean the mutex was busy a moment ago: queue
        # behind them without spinning for it.
        if (not __atomic_load_n(&self.core.has_incoming, __ATOMIC_SEQ_CST)
                and acquire_soon(&self.core.mu)):
            # The mutex is free: dispatch from here, at once (leaving the
            # task to the scheduler thread would cost a sync round trip tens
            # of microseconds).
            if __atomic_load_n(&self.core.has_incoming, __ATOMIC_ACQUIRE):
                take_in_submissions(self.core)
            add_task(self.core, t, NULL)
            schedule(self.core)
            pthread_mutex_unlock(&self.core.mu)
            return 0
        # Busy: queued, so a burst of submits neither waits for the mutex nor
        # sends to workers one task at a time; the scheduler thread (or the
        # next driver call) takes it in.  One wake-up per pass of the
        # scheduler loop is enough.
        pthread_mutex_lock(&self.core.incoming_mu)
        self.core.incoming.push_back(t)
        __atomic_store_n(&self.core.has_incoming, True, __ATOMIC_SEQ_CST)
        pthread_mutex_unlock(&self.core.incoming_mu)
        if not __atomic_exchange_n(&self.core.wake_pending, True, __ATOMIC_SEQ_CST):
            wake(self.core)
        return 0

    def put(self, uint64_t oid, bytes payload, contained) -> None:
        """Stores a ready object with one reference, owned by the caller;
        or sets the unset promise oid, adding no reference."""
        cdef vector[uint64_t] contains
        cdef string value
        for d in contained:
            contains.push_back(d)
        value.assign(PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
        lock_core(self.core)
        store_put(self.core, NULL, oid, value, contains)
        pthread_mutex_unlock(&self.core.mu)

    def promise(self, uint64_t first, uint32_t count) -> None:
        """Pending objects first .. first+count-1 with one reference each,
        owned by the caller, for put to set later."""
        lock_core(self.core)
        make_promises(self.core, NULL, first, count)
        pthread_mutex_unlock(&self.core.mu)

    def take_refs(self, list ids, ref_type, generation) -> list:
        """New refs to the objects ids, each counted once more: many
        ObjectRef(id) at one lock (a generator's values, a link at a time)."""
        cdef vector[uint64_t] idv
        cdef size_t i
        for d in ids:
            idv.push_back(d)
        with nogil:
            lock_core(self.core)
            for i in range(idv.size()):
                incref(self.core, idv[i], 1)
            pthread_mutex_unlock(&self.core.mu)
        return refs_to(ref_type, ids, generation)

    def incref(self, uint64_t oid) -> None:
        lock_core(self.core)
        incref(self.core, oid, 1)
        pthread_mutex_unlock(&self.core.mu)

    def decref(self, uint64_t oid) -> bool:
        """Drops a reference; True if errors nobody retrieved await
        take_unhandled()."""
        cdef bint unhandled
        lock_core(self.core)
        decref(self.core, oid, 1)
        unhandled = not self.core.unhandled.empty()
        pthread_mutex_unlock(&self.core.mu)
        return unhandled

    def take_unhandled(self) -> list:
        """The payloads of errors freed without anyone retrieving them."""
        cdef vector[string] taken
        lock_core(self.core)
        taken.swap(self.core.unhandled)
        pthread_mutex_unlock(&self.core.mu)
        return [PyBytes_FromStringAndSize(p.data(), p.size()) for p in taken]

    def wait(self, ids, uint32_t needed, double timeout, bint fail_fast) -> bytes:
        """Blocks until `needed` of the objects are ready (or one failed, with
        fail_fast), or until timeout (< 0: forever).  Returns one state byte
        per id.  Signals are checked every 50 ms so Ctrl-C is prompt."""
        cdef vector[uint64_t] idv
        cdef Request *r
        cdef double deadline, slice_end
        cdef bytes states
        cdef char *out
        cdef size_t i
        cdef Obj *o
        cdef bint expired = False
        for d in ids:
            idv.push_back(d)
        states = PyBytes_FromStringAndSize(NULL, idv.size())
        out = PyBytes_AS_STRING(states)
        deadline = monotonic() + timeout
        with nogil:
            lock_core(self.core)
            r = open_request(self.core, -1, 0, needed,
                             FR_WAIT_FAIL_FAST if fail_fast else 0, idv)
            pthread_mutex_unlock(&self.core.mu)
            spin_serving(self.core, r, SPIN_NANOSECONDS if timeout != 0 else 0)
        try:
            while True:
                with nogil:
                    lock_core(self.core)
                    if not r.done and not self.core.stopping:
                        slice_end = monotonic() + SIGNAL_CHECK_SECONDS
                        if timeout >= 0 and deadline < slice_end:
                            slice_end = deadline
                            expired = True
                        wait_until(&self.core.cv, &self.core.mu, slice_end)
                    pthread_mutex_unlock(&self.core.mu)
                if r.done or self.core.stopping:
                    break
                if expired:
                    if monotonic() >= deadline:
                        break
                    expired = False
                PyErr_CheckSignals()
        finally:
            with nogil:
                lock_core(self.core)
                if not r.done:
                    unregister_request(self.core, r)
                for i in range(r.ids.size()):
                    o = find_obj(self.core, r.ids[i])
                    out[i] = <char>(FR_OBJ_UNKNOWN if o == NULL else o.state)
                pthread_mutex_unlock(&self.core.mu)
                del r
        return states

    def wait_ready(self, list refs, ref_type, generation, uint32_t needed):
        """wait()'s answer (ready, not_ready) when `needed` of refs are done
        now, found without blocking and all in C; else None.  Also None
        unless every ref is exactly ref_type, of this generation, with
        strictly increasing ids (so unique: refs in the order they were
        made); the caller's general path covers the rest.  Reads the refs'
        _id and _generation slots by offset (slot_offset; ObjectRef's
        __slots__ note it), which is what makes the scan cheap."""
        cdef Py_ssize_t id_at, gen_at
        ref_slots(ref_type, &id_at, &gen_at)
        cdef Py_ssize_t n = PyList_GET_SIZE(refs), i, j = 0, k = 0
        cdef PyObject *ref
        cdef PyObject *value
        cdef uint64_t oid, last = 0
        cdef vector[uint64_t] idv
        cdef vector[Py_ssize_t] found
        cdef Obj *o
        idv.reserve(n)
        for i in range(n):
            ref = PyList_GET_ITEM(refs, i)
            if <PyObject *>Py_TYPE(<object>ref) != <PyObject *>ref_type:
                return None
            value = (<PyObject **>(<char *>ref + gen_at))[0]
            if value == NULL or (value != <PyObject *>generation and <object>value != generation):
                return None
            value = (<PyObject **>(<char *>ref + id_at))[0]
            if value == NULL:
                return None
            oid = <object>value
            if i and oid <= last:
                return None
            idv.push_back(oid)
            last = oid
        # The GIL stays held: no other thread may change the list meanwhile.
        lock_core(self.core)
        for i in range(n):
            o = find_obj(self.core, idv[i])
            if o == NULL or o.state != FR_OBJ_PENDING:
                found.push_back(i)
                if found.size() == needed:
                    break
        pthread_mutex_unlock(&self.core.mu)
        if found.size() != needed:
            return None
        ready = PyList_New(needed)
        not_ready = PyList_New(n - needed)
        for i in range(n):
            ref = PyList_GET_ITEM(refs, i)
            Py_INCREF(<object>ref)
            if j < <Py_ssize_t>needed and found[j] == i:
                PyList_SET_ITEM(ready, j, <object>ref)
                j += 1
            else:
                PyList_SET_ITEM(not_ready, k, <object>ref)
                k += 1
        return ready, not_ready

    def fetch(self, ids) -> list:
        """The payloads of ready objects, each with the locations of its
        blobs (pinned for the caller, who unpins each once), or None where
        not ready.  Waits while blobs are read back from disk."""
        cdef vector[uint64_t] idv
        cdef vector[string] payloads
        cdef vector[char] present
        cdef Request *r = NULL
        cdef Obj *o
        cdef size_t i
        cdef Core *c = self.core
        for d in ids:
            idv.push_back(d)
        payloads.resize(idv.size())
        present.resize(idv.size())
        with nogil:
            lock_core(c)
            while not c.stopping and not values_in_memory(c, idv):
                if r == NULL:
                    r = new Request()
                    r.ids = idv
                if not r.failure.empty():
                    break
                if not r.parked:
                    r.parked = True
                    r.done = False
                    c.parked_requests.push_back(r)
                while r.parked and not c.stopping:
                    wait_briefly(&c.cv, &c.mu, 50000000)
            if r != NULL:
                forget_parked_request(c, r)
            for i in range(idv.size()):
                o = find_obj(c, idv[i])
                if o == NULL or o.state == FR_OBJ_PENDING:
                    continue
                present[i] = 1
                o.retrieved = True
                if not all_mappable(c, o.contains):
                    put_payload(c, payloads[i], STORE_FULL_PAYLOAD if r == NULL or r.failure.empty()
                                else r.failure, NULL, NULL)
                else:
                    put_payload(c, payloads[i], o.payload, &o.contains, NULL)
            pthread_mutex_unlock(&c.mu)
            del r
        return [parse_fetched(payloads[i]) if present[i] else None for i in range(idv.size())]

    def next_ids(self, uint64_t count) -> int:
        """The first of count fresh consecutive ids of the driver (holding
        the GIL throughout, so no two threads get the same)."""
        first = self._last_id + 1
        self._last_id += count
        return first

    def ready_values(self, ids, loads) -> list | None:
        """The values of ready, plain, inline objects (ready_plain_values)."""
        return ready_plain_values(self.core, ids, loads)

    def fetch_ready(self, ids) -> list | None:
        """get's quick path: what fetch gives, if every object is ready (not
        failed, not pending) with its blobs in memory, taken under one lock
        with no request and no wait; None otherwise (the caller then waits
        as usual)."""
        cdef vector[uint64_t] idv
        cdef vector[string] payloads
        cdef Obj *o
        cdef size_t i
        cdef bint ready = True
        cdef Core *c = self.core
        for d in ids:
            idv.push_back(d)
        payloads.resize(idv.size())
        with nogil:
            lock_core(c)
            for i in range(idv.size()):
                o = find_obj(c, idv[i])
                if o == NULL or o.state != FR_OBJ_READY or not all_mappable(c, o.contains):
                    ready = False
                    break
            if ready and values_in_memory(c, idv):
                for i in range(idv.size()):
                    o = find_obj(c, idv[i])
                    o.retrieved = True
                    put_payload(c, payloads[i], o.payload, &o.contains, NULL)
            else:
                ready = False
            pthread_mutex_unlock(&c.mu)
        if not ready:
            return None
        return [parse_fetched(payloads[i]) for i in range(idv.size())]

    def alloc(self, ids, sizes) -> tuple:
        """Reserves store memory for new blobs, each with one reference owned
        by the caller.  Waits (GIL released, Ctrl-C honoured) while the store
        makes room.  Returns (offsets, None) or (None, why it failed)."""
        cdef Alloc *a = new Alloc()
        cdef Core *c = self.core
        cdef bint answered
        cdef size_t i
        for object_id, size in zip(ids, sizes):
            a.ids.push_back(object_id)
            a.sizes.push_back(size)
        a.deadline = monotonic() + c.full_timeout
        with nogil:
            lock_core(c)
            answered = request_memory(c, a)
            pthread_mutex_unlock(&c.mu)
        try:
            while not answered:
                with nogil:
                    lock_core(c)
                    if not a.done and not c.stopping:
                        wait_briefly(&c.cv, &c.mu, 50000000)
                    answered = a.done or c.stopping
                    pthread_mutex_unlock(&c.mu)
                PyErr_CheckSignals()
        except BaseException:
            with nogil:
                lock_core(c)
                if a.done:
                    for i in range(a.ids.size()):
                        if not a.failed:
                            decref(c, a.ids[i], 1)
                    del a
                else:
                    a.abandoned = True
                pthread_mutex_unlock(&c.mu)
            raise
        if not a.done:
            with nogil:
                lock_core(c)
                a.abandoned = True
                pthread_mutex_unlock(&c.mu)
            return None, "the fastray runtime was shut down"
        result = (None, a.error.decode("utf-8", "replace")) if a.failed else (
            [a.offsets[i] for i in range(a.offsets.size())], None)
        del a
        return result

    def unpin(self, uint64_t blob_id) -> None:
        """A view from fetch() went away."""
        lock_core(self.core)
        if not self.core.stopping:
            unpin(self.core, blob_id, 1, NULL)
        pthread_mutex_unlock(&self.core.mu)

    def cancel(self, uint64_t object_id, bint force, bint recursive) -> bool:
        """Cancels the task that returns object_id, if it has not finished.
        False, doing nothing, for force=True on an actor's call."""
        cdef Task *t
        cdef bint refused = False
        cdef uint32_t flags = (FR_CANCEL_FORCE if force else 0) | (
            FR_CANCEL_RECURSIVE if recursive else 0)
        with nogil:
            lock_core(self.core)
            t = owning_task(self.core, object_id)
            if t != NULL and t.actor != 0 and force:
                refused = True
            elif t != NULL:
                cancel_task(self.core, t.id, flags)
                schedule(self.core)
            pthread_mutex_unlock(&self.core.mu)
        return not refused

    def actor_op(self, uint32_t op, bytes body) -> tuple:
        """One actor operation (protocol.h, FR_ACTOR_OP): (status, answer)."""
        cdef Cursor cur
        cdef string answer
        cdef uint32_t status
        cur.p = PyBytes_AS_STRING(body)
        cur.end = cur.p + PyBytes_GET_SIZE(body)
        cur.bad = False
        with nogil:
            lock_core(self.core)
            status = actor_op(self.core, op, &cur, NULL, answer)
            schedule(self.core)
            pthread_mutex_unlock(&self.core.mu)
        return status, PyBytes_FromStringAndSize(answer.data(), answer.size())

    def actors(self) -> list:
        """Every actor the runtime knows, for a live view: id, class_name,
        name, namespace, pid, state, pending_calls, restarts, calls_done,
        num_cpus, death_cause, and call (the oldest call in progress:
        {"function", "started_ns"}, or None)."""
        return actors_of(self.core)

    def task_events(self, uint64_t last=0) -> list:
        """The recorded events of ended tasks, oldest first: (task id,
        function name, worker pid, outcome, submitted, started, ended, actor
        id or 0 for a plain task), times in ns since the epoch (started is 0
        if the task never ran).  With
        ``last`` only the newest ``last`` events: a live view polls this and
        must not copy the whole ring each time."""
        return task_events_of(self.core, last)

    def timeline(self, int64_t since_ns, int64_t merge_gap_ns, size_t limit) -> list:
        """The ended tasks since ``since_ns`` as segments per worker: (pid,
        outcome, started, ended, tasks, the first task's function name,
        whether other functions ran in it too, actor id or 0 for plain tasks).
        Consecutive tasks of one worker, actor and outcome that each last less
        than ``merge_gap_ns`` and are less than that apart make one segment,
        so a strip about a pixel per ``merge_gap_ns`` wide gets what it can
        draw however many tiny tasks ran; longer tasks keep a segment each.
        At most the newest ``limit`` segments."""
        return timeline_of(self.core, since_ns, merge_gap_ns, limit)

    def failures(self) -> list:
        """The latest tasks that ended without a value, oldest first: (task
        id, function name, worker pid, outcome, error payload or b"", whether
        it was too large to keep)."""
        return failures_of(self.core)

    def snapshot(self) -> dict:
        """What a live view of the runtime shows: each worker and what it
        runs, tasks by state, and the largest objects in the store."""
        return snapshot_of(self.core)

    def worker_pids(self) -> list:
        return worker_pids_of(self.core)

    def stats(self) -> dict:
        """A consistent snapshot of the counters, for resources and tests."""
        return stats_of(self.core)
