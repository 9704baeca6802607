# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The scheduler: task states, dependency graph, dispatch and completions.

All bookkeeping lives in C++ structures (sched_state.hpp) guarded by one
mutex.  A dedicated thread runs ``_loop`` without the GIL: it polls every
worker socket, the spawner socket and a wake-up eventfd, and handles what
arrives (a finished task marks its dependents ready and the next ready task
is sent to the idle worker) without ever taking the GIL.  Driver threads call
the methods of ``Scheduler``; each takes the mutex briefly, and ``wait``
sleeps on a condition variable with the GIL released.

A task is dispatched as one frame (protocol.h) that carries the payloads of
its dependencies and, the first time a worker sees the function, the pickled
function itself, so a worker never has to ask for anything to start a task.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.object cimport PyObject, Py_TYPE
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
from posix.mman cimport MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap
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
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:  # a __slots__ attribute's descriptor
        PyMemberDef *d_member

# Constants shared with the Python worker and runtime.
HEADER_SIZE = FR_HEADER_SIZE
TASK = FR_TASK
REPLY = FR_REPLY
ALLOCATED = FR_ALLOCATED
REVOKE = FR_REVOKE
TASK_INLINE = FR_TASK_INLINE
RESULT = FR_RESULT
SUBMIT = FR_SUBMIT
DEFINE = FR_DEFINE
PUT = FR_PUT
WAIT = FR_WAIT
WAIT_CANCEL = FR_WAIT_CANCEL
REFS = FR_REFS
CANCEL = FR_CANCEL
ALLOC = FR_ALLOC
SPAWN = FR_SPAWN
SPAWNED = FR_SPAWNED
EXITED = FR_EXITED
STATUS_OK = FR_STATUS_OK
STATUS_ERROR = FR_STATUS_ERROR
STATUS_RETRYABLE_ERROR = FR_STATUS_RETRYABLE_ERROR
STATUS_INTERRUPTED = FR_STATUS_INTERRUPTED
WAIT_FETCH = FR_WAIT_FETCH
WAIT_FAIL_FAST = FR_WAIT_FAIL_FAST
CANCEL_FORCE = FR_CANCEL_FORCE
CANCEL_RECURSIVE = FR_CANCEL_RECURSIVE
OBJ_PENDING = FR_OBJ_PENDING
OBJ_READY = FR_OBJ_READY
OBJ_FAILED = FR_OBJ_FAILED
OBJ_UNKNOWN = FR_OBJ_UNKNOWN
PAYLOAD_VALUE = FR_PAYLOAD_VALUE
PAYLOAD_ERROR = FR_PAYLOAD_ERROR
PAYLOAD_CANCELLED = FR_PAYLOAD_CANCELLED
PAYLOAD_CRASHED = FR_PAYLOAD_CRASHED
PAYLOAD_LOST = FR_PAYLOAD_LOST
PAYLOAD_STORE_FULL = FR_PAYLOAD_STORE_FULL
STATS_FIELDS = (
    "objects", "tasks", "ready", "used_cpu_milli", "total_cpu_milli", "workers", "running",
    "blocked", "queued", "tasks_finished", "tasks_failed", "workers_started", "workers_died",
    "retries", "retried_then_succeeded", "store_capacity", "store_reserved", "store_bytes",
    "store_objects", "spilled_bytes", "spilled_objects", "spills", "restores", "warm_limit",
    "allocs_waiting")
OUTCOMES = {TASK_FINISHED: "finished", TASK_FAILED: "failed", TASK_CANCELLED: "cancelled",
            TASK_CRASHED: "crashed"}

cdef enum:
    RECV_CHUNK = 262144
    LOCATION_SIZE = 24
    MAX_INLINE_DEPTH = 64
    SPIN_NANOSECONDS = 200000
    QUEUE_DEPTH = 8              # tasks a busy worker may have waiting behind
    QUICK_TASK_NS = 1000000      # only tasks known to take less are queued
    QUICK_AFTER_RUNS = 3
    ACQUIRE_TRIES = 64           # spins of a submit for a mutex another thread holds
    KEPT_FAILURES = 20           # the latest failed tasks a live view can show
    FAILURE_PAYLOAD_MAX = 65536  # larger error payloads are not kept
    LARGEST_OBJECTS = 5          # the live view lists this many of the largest blobs


# ---------------------------------------------------------------- encoding

cdef struct Cursor:
    const char *p
    const char *end
    bint bad


cdef inline void put_header(string &out, uint32_t body_len, uint32_t kind,
                            uint64_t a, uint64_t b) noexcept nogil:
    cdef fr_header h
    h.body_len = body_len
    h.type = kind
    h.a = a
    h.b = b
    out.append(<const char *>&h, FR_HEADER_SIZE)


cdef inline void put_u32(string &out, uint32_t v) noexcept nogil:
    out.append(<const char *>&v, 4)


cdef inline void put_u64(string &out, uint64_t v) noexcept nogil:
    out.append(<const char *>&v, 8)


cdef inline uint32_t get_u32(Cursor *c) noexcept nogil:
    cdef uint32_t v = 0
    if c.end - c.p < 4:
        c.bad = True
        return 0
    memcpy(&v, c.p, 4)
    c.p += 4
    return v


cdef inline uint64_t get_u64(Cursor *c) noexcept nogil:
    cdef uint64_t v = 0
    if c.end - c.p < 8:
        c.bad = True
        return 0
    memcpy(&v, c.p, 8)
    c.p += 8
    return v


cdef inline void get_bytes(Cursor *c, size_t n, string &into) noexcept nogil:
    if <size_t>(c.end - c.p) < n:
        c.bad = True
        return
    into.assign(c.p, n)
    c.p += n


cdef void get_ids(Cursor *c, vector[uint64_t] &into) noexcept nogil:
    cdef uint32_t n = get_u32(c)
    cdef uint32_t i
    if c.bad or <size_t>(c.end - c.p) < <size_t>n * 8:
        c.bad = True
        return
    into.reserve(n)
    for i in range(n):
        into.push_back(get_u64(c))


cdef string text_payload(uint8_t kind, const char *text) noexcept nogil:
    cdef string s
    s.push_back(<char>kind)
    s.append(text)
    return s


cdef string STORE_FULL_PAYLOAD = text_payload(
    FR_PAYLOAD_STORE_FULL, b"a spilled object could not be read back: the object store stayed "
    b"full of objects in use; drop references you no longer need or pass a larger "
    b"object_store_memory to fastray.init()")


# ------------------------------------------------------------ bookkeeping

cdef inline void wake(Core *c) noexcept nogil:
    cdef uint64_t one = 1
    write(c.wake_fd, &one, 8)


cdef void lock_core(Core *c) noexcept nogil:
    """Takes the core's mutex, then the tasks the driver queued meanwhile, so
    code that starts under the mutex sees every task submitted before it.
    (A condition-variable wait retakes the mutex without this; the waits
    only watch objects that existed before they started.)"""
    pthread_mutex_lock(&c.mu)
    if __atomic_load_n(&c.has_incoming, __ATOMIC_SEQ_CST):
        take_in_submissions(c)


cdef bint acquire_soon(pthread_mutex_t *mu) noexcept nogil:
    """Takes mu if it is free within a few microseconds, without sleeping."""
    cdef int tries
    for tries in range(ACQUIRE_TRIES):
        if pthread_mutex_trylock(mu) == 0:
            return True
        cpu_relax()
    return False


cdef void take_in_submissions(Core *c) noexcept nogil:
    cdef vector[Task *] batch
    cdef size_t i
    pthread_mutex_lock(&c.incoming_mu)
    batch.swap(c.incoming)
    __atomic_store_n(&c.has_incoming, False, __ATOMIC_RELEASE)
    pthread_mutex_unlock(&c.incoming_mu)
    for i in range(batch.size()):
        add_task(c, batch[i], NULL)
    schedule(c)


cdef Obj *find_obj(Core *c, uint64_t oid) noexcept nogil:
    cdef unordered_map[uint64_t, Obj *].iterator it = c.objects.find(oid)
    if it == c.objects.end():
        return NULL
    return deref(it).second


cdef Task *find_task(Core *c, uint64_t tid) noexcept nogil:
    cdef unordered_map[uint64_t, Task *].iterator it = c.tasks.find(tid)
    if it == c.tasks.end():
        return NULL
    return deref(it).second


cdef Obj *new_obj(Core *c, uint64_t oid, int32_t refs) noexcept nogil:
    cdef Obj *o = new Obj()
    o.id = oid
    o.state = FR_OBJ_PENDING
    o.refs = refs
    c.objects[oid] = o
    return o


cdef void incref(Core *c, uint64_t oid, int32_t n) noexcept nogil:
    cdef Obj *o = find_obj(c, oid)
    if o != NULL:
        o.refs += n


cdef void maybe_free(Core *c, Obj *o) noexcept nogil:
    """Frees an object nobody refers to any more, then what it contained."""
    cdef vector[uint64_t] contained
    cdef size_t i
    if o.refs > 0 or o.state == FR_OBJ_PENDING:
        return
    if o.blob:
        drop_blob(c, o)
    elif (o.state == FR_OBJ_FAILED and not o.retrieved
          and <uint8_t>o.payload[0] != FR_PAYLOAD_CANCELLED):
        # Like Ray, an error nobody looked at is reported when it goes.
        c.unhandled.push_back(o.payload)
    contained.swap(o.contains)
    c.objects.erase(o.id)
    del o
    for i in range(contained.size()):
        decref(c, contained[i], 1)


cdef void decref(Core *c, uint64_t oid, int32_t n) noexcept nogil:
    cdef Obj *o = find_obj(c, oid)
    if o != NULL:
        o.refs -= n
        maybe_free(c, o)


cdef void hold(Worker *w, uint64_t oid, int32_t n) noexcept nogil:
    """Records a reference held by a worker process, dropped if it dies."""
    cdef int32_t *count = &w.held[oid]
    count[0] += n
    if count[0] == 0:
        w.held.erase(oid)


cdef void unregister_request(Core *c, Request *r) noexcept nogil:
    cdef size_t i, j
    cdef Obj *o
    for i in range(r.ids.size()):
        o = find_obj(c, r.ids[i])
        if o == NULL:
            continue
        j = 0
        while j < o.waiters.size():
            if o.waiters[j] == r:
                o.waiters[j] = o.waiters.back()
                o.waiters.pop_back()
            else:
                j += 1


cdef bint answer_request(Core *c, Request *r) noexcept nogil:
    """Completes a request: wakes the driver thread or replies to the worker.
    False if the reply must wait for blobs to be read back from disk."""
    cdef Worker *w
    cdef Obj *o
    cdef size_t i
    cdef string body
    cdef bint fetch = (r.flags & FR_WAIT_FETCH) != 0
    r.done = True
    unregister_request(c, r)
    if r.worker < 0:
        pthread_cond_broadcast(&c.cv)
        return True
    if fetch and r.failure.empty() and not values_in_memory(c, r.ids):
        if not r.parked:
            r.parked = True
            c.parked_requests.push_back(r)
        return False
    w = c.workers[r.worker]
    for i in range(r.ids.size()):
        o = find_obj(c, r.ids[i])
        if not fetch or o == NULL or o.state == FR_OBJ_PENDING:
            body.push_back(<char>(FR_OBJ_UNKNOWN if o == NULL else o.state))
        elif not r.failure.empty() and not all_mappable(c, o.contains):
            body.push_back(<char>FR_OBJ_FAILED)
            put_payload(c, body, r.failure, NULL, NULL)
        else:
            body.push_back(<char>o.state)
            put_payload(c, body, o.payload, &o.contains, w)
            o.retrieved = True
    put_header(w.out, <uint32_t>body.size(), FR_REPLY, r.req_id, r.ids.size())
    w.out.append(body)
    if w.request == r:
        w.request = NULL
        if w.task != NULL:
            c.used_cpu_milli += w.task.cpu_milli
    else:
        # A suspended task's get: it resumes (and takes its CPU again) when
        # the task running above it on the worker's stack finishes.
        for i in range(w.suspended.size()):
            if w.suspended[i].second == r:
                w.suspended[i].second = NULL
    flush(c, w)
    return True


cdef void put_payload(Core *c, string &out, const string &payload,
                      const vector[uint64_t] *contains, Worker *w) noexcept nogil:
    """u64 length, the payload, then the locations of its blobs."""
    cdef vector[uint64_t] none
    put_u64(out, payload.size())
    out.append(payload)
    if contains == NULL:
        put_locations(c, out, none, w)
    else:
        put_locations(c, out, contains[0], w)


def untrack(ref) -> None:
    """Takes an ObjectRef off the cyclic garbage collector's lists.  Its slots
    hold only ints, so it can never be part of a cycle; tracked, every batch
    of thousands of refs (a list of task results, a value holding refs) would
    survive into the oldest generation and trigger full collections, whose
    cost grows with everything else the program holds."""
    PyObject_GC_UnTrack(<PyObject *>ref)


cdef void copy_function_names(Core *c, vector[pair[uint64_t, string]] &names) noexcept nogil:
    """The functions' names, copied under the mutex.  The read-only views
    below build their Python objects only after releasing it: an allocation
    may run the garbage collector, whose finalizers (an ObjectRef's decref)
    take the mutex themselves."""
    cdef unordered_map[uint64_t, Function].iterator it = c.functions.begin()
    while it != c.functions.end():
        names.push_back(pair[uint64_t, string](deref(it).first, deref(it).second.name))
        inc(it)


cdef dict names_by_id(vector[pair[uint64_t, string]] &names):
    return {names[i].first: names[i].second.decode("utf-8", "replace")
            for i in range(names.size())}


cdef Py_ssize_t slot_offset(cls, str name) except -1:
    """Where a ``__slots__`` attribute of cls sits in its instances, so a
    loop over thousands of them reads it without an attribute lookup."""
    descriptor = cls.__dict__.get(name)
    if type(descriptor) is not MemberDescriptorType:
        raise TypeError(f"{cls.__name__}.{name} is not a __slots__ attribute")
    return (<PyMemberDescrObject *>descriptor).d_member.offset


cdef struct WorkerView:
    # What snapshot() copies of a worker under the mutex.
    int pid
    int state
    bint blocked
    size_t queued
    bint has_task
    uint64_t task_id
    uint64_t fn_id
    int64_t started_ns


cdef struct Segment:
    # A run of one worker's consecutive tasks with one outcome (Scheduler.timeline).
    int32_t pid
    int32_t outcome
    int64_t started_ns
    int64_t ended_ns
    uint64_t tasks
    uint64_t fn_id
    bint mixed
    bint tiny                    # made of tasks shorter than the merge gap


cdef void keep_largest(vector[pair[uint64_t, uint64_t]] &largest, uint64_t size,
                       uint64_t oid, size_t keep) noexcept nogil:
    """Keeps the ``keep`` largest (size, id) pairs seen so far, largest first,
    without allocating per object: the scan runs under the mutex."""
    cdef size_t i = largest.size()
    if i == keep and largest[i - 1].first >= size:
        return
    if i < keep:
        largest.push_back(pair[uint64_t, uint64_t](size, oid))
    else:
        i -= 1
        largest[i] = pair[uint64_t, uint64_t](size, oid)
    while i > 0 and largest[i - 1].first < size:
        largest[i], largest[i - 1] = largest[i - 1], largest[i]
        i -= 1


cdef inline bint request_satisfied(Request *r) noexcept nogil:
    return r.ready >= r.needed or (r.failed and (r.flags & FR_WAIT_FAIL_FAST))


cdef Request *open_request(Core *c, int32_t worker, uint64_t req_id, uint32_t needed,
                           uint32_t flags, vector[uint64_t] &ids) noexcept nogil:
    """Counts what is ready now; registers for the rest unless satisfied."""
    cdef Request *r = new Request()
    cdef size_t i
    cdef Obj *o
    r.worker = worker
    r.req_id = req_id
    r.needed = needed
    r.flags = flags
    r.ids.swap(ids)
    for i in range(r.ids.size()):
        o = find_obj(c, r.ids[i])
        if o == NULL or o.state != FR_OBJ_PENDING:
            r.ready += 1
            if o == NULL or o.state == FR_OBJ_FAILED:
                r.failed = True
    if request_satisfied(r):
        r.done = True
        return r
    for i in range(r.ids.size()):
        o = find_obj(c, r.ids[i])
        if o != NULL and o.state == FR_OBJ_PENDING:
            o.waiters.push_back(r)
    return r


cdef void notify(Core *c, Obj *o) noexcept nogil:
    """An object just became ready or failed: wake what waits for it."""
    cdef vector[uint64_t] dependents
    cdef vector[Request *] waiters
    cdef vector[Request *] answered
    cdef Request *r
    cdef Task *t
    cdef size_t i
    dependents.swap(o.dependents)
    waiters.swap(o.waiters)
    for i in range(waiters.size()):
        r = waiters[i]
        if r.done:
            continue
        r.ready += 1
        if o.state == FR_OBJ_FAILED:
            r.failed = True
        if request_satisfied(r):
            if answer_request(c, r) and r.worker >= 0:
                answered.push_back(r)
    for i in range(answered.size()):
        del answered[i]
    for i in range(dependents.size()):
        t = find_task(c, dependents[i])
        if t != NULL and t.state == TASK_WAITING:
            t.missing -= 1
            if t.missing == 0:
                dependencies_done(c, t)


cdef void set_object(Core *c, uint64_t oid, string &payload,
                     vector[uint64_t] &contains) noexcept nogil:
    cdef Obj *o = find_obj(c, oid)
    cdef size_t i
    if o == NULL or o.state != FR_OBJ_PENDING:
        for i in range(contains.size()):
            decref(c, contains[i], 1)
        return
    o.payload.swap(payload)
    o.contains.swap(contains)
    o.state = FR_OBJ_READY if <uint8_t>o.payload[0] == FR_PAYLOAD_VALUE else FR_OBJ_FAILED
    # Dependents that finish inside notify drop their pins on o: keep it
    # alive until notify is done.
    o.refs += 1
    notify(c, o)
    o.refs -= 1
    maybe_free(c, o)


cdef int64_t now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <int64_t>t.tv_sec * 1000000000 + t.tv_nsec


cdef void record_event(Core *c, Task *t) noexcept nogil:
    """Keeps what the timeline shows of a task that ended: a few stores
    into a ring, cheap enough to leave on."""
    cdef TaskEvent *e
    if c.events.empty():
        return
    e = &c.events[c.events_total % c.events.size()]
    e.task_id = t.id
    e.fn_id = t.fn_id
    e.pid = t.pid
    e.outcome = t.outcome
    e.submitted_ns = t.submitted_ns
    e.started_ns = t.started_ns
    e.ended_ns = now_ns()
    c.events_total += 1


cdef void record_failure(Core *c, Task *t) noexcept nogil:
    """Keeps the error of one of the latest failed, crashed or cancelled
    tasks (its first return's payload, if small), for a live view; like the
    events, only while recording is on."""
    cdef TaskFailure failure
    cdef Obj *o
    if c.events.empty():
        return
    o = find_obj(c, t.id)
    failure.task_id = t.id
    failure.fn_id = t.fn_id
    failure.pid = t.pid
    failure.outcome = t.outcome
    failure.too_large = o != NULL and o.payload.size() > FAILURE_PAYLOAD_MAX
    if o != NULL and o.state == FR_OBJ_FAILED and not failure.too_large:
        failure.payload = o.payload
    c.failures.push_back(failure)
    if c.failures.size() > KEPT_FAILURES:
        c.failures.pop_front()


cdef void release_task(Core *c, Task *t) noexcept nogil:
    """Forgets a task that finished for good, unpinning what it used."""
    cdef size_t i
    c.outcomes[t.outcome] += 1
    record_event(c, t)
    if t.outcome != TASK_FINISHED:
        record_failure(c, t)
    for i in range(t.deps.size()):
        decref(c, t.deps[i], 1)
    for i in range(t.contained.size()):
        decref(c, t.contained[i], 1)
    c.tasks.erase(t.id)
    c.tasks_finished += 1
    del t


cdef int outcome_of(uint8_t payload_kind) noexcept nogil:
    if payload_kind == FR_PAYLOAD_CANCELLED:
        return TASK_CANCELLED
    if payload_kind == FR_PAYLOAD_CRASHED:
        return TASK_CRASHED
    return TASK_FAILED


cdef void fail_task(Core *c, Task *t, const string &payload) noexcept nogil:
    cdef uint32_t i
    cdef string copy
    cdef vector[uint64_t] nothing
    c.tasks_failed += 1
    t.outcome = outcome_of(<uint8_t>payload[0])
    for i in range(t.num_returns):
        copy = payload
        set_object(c, t.id + i, copy, nothing)
    release_task(c, t)


cdef void fail_task_text(Core *c, Task *t, uint8_t kind, const char *text) noexcept nogil:
    fail_task(c, t, text_payload(kind, text))


cdef void dependencies_done(Core *c, Task *t) noexcept nogil:
    """All inputs are there: queue the task, or fail it if an input failed."""
    cdef size_t i
    cdef Obj *o
    cdef string error
    for i in range(t.deps.size()):
        o = find_obj(c, t.deps[i])
        if o.state == FR_OBJ_FAILED:
            # The error goes on in t's results.  A copy: failing t unpins o,
            # which may free it.
            o.retrieved = True
            error = o.payload
            fail_task(c, t, error)
            return
    t.state = TASK_READY
    c.ready.push_back(t)


cdef void add_task(Core *c, Task *t, Worker *owner) noexcept nogil:
    """Registers a submitted task; its return objects start with one
    reference, held by the submitter."""
    cdef uint32_t i
    cdef size_t k
    cdef Obj *o
    cdef Task *parent
    cdef bint lost = False
    cdef char text[160]
    c.tasks[t.id] = t
    if not c.events.empty():
        t.submitted_ns = now_ns()
    for i in range(t.num_returns):
        new_obj(c, t.id + i, 1)
        if owner != NULL:
            hold(owner, t.id + i, 1)
    for k in range(t.contained.size()):
        incref(c, t.contained[k], 1)
    for k in range(t.deps.size()):
        o = find_obj(c, t.deps[k])
        if o == NULL:
            lost = True
            # Keep the dep list consistent with the pins taken so far.
            t.deps.resize(k)
            break
        o.refs += 1
        if o.state == FR_OBJ_PENDING:
            t.missing += 1
            o.dependents.push_back(t.id)
    if t.parent != 0:
        parent = find_task(c, t.parent)
        if parent != NULL:
            parent.children.push_back(t.id)
    if lost:
        snprintf(text, sizeof(text),
                 "an argument of task %016llx refers to an object that no longer exists "
                 "(freed, or from a runtime that was shut down)", <unsigned long long>t.id)
        t.state = TASK_READY
        fail_task_text(c, t, FR_PAYLOAD_LOST, text)
        return
    if t.missing == 0:
        dependencies_done(c, t)


# ------------------------------------------------------------------- store
# The large parts of values live in blobs: ranges of one shared-memory file
# that every process maps.  Only this scheduler allocates and frees them (a
# worker asks with FR_ALLOC), so a process dying at any moment cannot leave
# the allocator half changed.  A reader is told a blob's location along with
# the value that uses it, and that pins the blob until the reader's last view
# goes.  When memory runs short the store thread spills the least recently
# used unpinned blobs to files, and reads them back before anyone is told
# where they are.

cdef double monotonic() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec + t.tv_nsec * 1e-9


cdef void wait_briefly(pthread_cond_t *cv, pthread_mutex_t *mu, long nanoseconds) noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    t.tv_nsec += nanoseconds
    while t.tv_nsec >= 1000000000:
        t.tv_sec += 1
        t.tv_nsec -= 1000000000
    pthread_cond_timedwait(cv, mu, &t)


cdef string spill_path(Core *c, uint64_t oid) noexcept nogil:
    cdef char name[24]
    cdef string path = c.spill_dir
    snprintf(name, sizeof(name), "/%016llx", <unsigned long long>oid)
    path.append(<const char *>name)
    return path


cdef Obj *new_blob(Core *c, uint64_t oid, uint64_t offset, uint64_t size,
                   Worker *owner) noexcept nogil:
    """A blob starts with one reference, its writer's, dropped once the
    value using it is published (which holds its own)."""
    cdef Obj *o = new_obj(c, oid, 1)
    o.blob = True
    o.state = FR_OBJ_READY
    o.offset = offset
    o.size = size
    c.use_clock += 1
    o.last_use = c.use_clock
    c.blob_ids.insert(oid)
    c.blob_bytes += size
    c.blobs += 1
    if owner != NULL:
        hold(owner, oid, 1)
    return o


cdef void free_range(Core *c, uint64_t offset, uint64_t size) noexcept nogil:
    """Gives memory back to the arena.  Pages below the warm limit stay
    faulted in for the next writer; those above go back to the OS first
    (the store thread punches them out of the file)."""
    cdef uint64_t end = offset + arena_round_up(size)
    if end <= c.warm_limit:
        c.arena.release(offset, end - offset)
        pthread_cond_broadcast(&c.io_cv)
        return
    if offset < c.warm_limit:
        c.arena.release(offset, c.warm_limit - offset)
        offset = c.warm_limit
    c.punches.push_back(pair[uint64_t, uint64_t](offset, end - offset))
    pthread_cond_broadcast(&c.io_cv)


cdef void drop_blob(Core *c, Obj *o) noexcept nogil:
    """The last reference to a blob went: free its memory or its file.
    (A blob being spilled or read back holds a reference of its own.)"""
    cdef string path
    c.blob_ids.erase(o.id)
    c.blob_bytes -= o.size
    c.blobs -= 1
    if o.where == IN_MEMORY:
        free_range(c, o.offset, o.size)
    elif o.where == SPILLED:
        path = spill_path(c, o.id)
        unlink(path.c_str())
        c.spilled_bytes -= o.size
        c.spilled_blobs -= 1


cdef void pin(Core *c, Obj *b, Worker *w) noexcept nogil:
    cdef int32_t *count
    b.refs += 1
    b.pins += 1
    c.use_clock += 1
    b.last_use = c.use_clock
    if w != NULL:
        count = &w.pinned[b.id]
        count[0] += 1


cdef void unpin(Core *c, uint64_t oid, int32_t n, Worker *w) noexcept nogil:
    cdef Obj *o
    cdef int32_t *count
    if w != NULL:
        count = &w.pinned[oid]
        if n > count[0]:
            n = count[0]
        count[0] -= n
        if count[0] == 0:
            w.pinned.erase(oid)
    o = find_obj(c, oid)
    if o != NULL and n > 0:
        o.pins -= n
        o.refs -= n
        maybe_free(c, o)


cdef bint all_mappable(Core *c, const vector[uint64_t] &ids) noexcept nogil:
    """True if no blob among ids is on disk or on its way back."""
    cdef size_t i
    cdef Obj *b
    for i in range(ids.size()):
        b = find_obj(c, ids[i])
        if b != NULL and b.blob and b.where != IN_MEMORY and b.where != SPILLING:
            return False
    return True


cdef bint blobs_in_memory(Core *c, const vector[uint64_t] &ids) noexcept nogil:
    """True if every blob among ids can be mapped now; otherwise starts
    reading back the ones on disk."""
    cdef size_t i
    cdef Obj *b
    cdef bint ready = True
    for i in range(ids.size()):
        b = find_obj(c, ids[i])
        if b == NULL or not b.blob:
            continue
        if b.where == SPILLED:
            b.where = RESTORING
            b.refs += 1
            c.restores.push_back(b.id)
            pthread_cond_broadcast(&c.io_cv)
            ready = False
        elif b.where == RESTORING:
            ready = False
    return ready


cdef bint values_in_memory(Core *c, const vector[uint64_t] &ids) noexcept nogil:
    """blobs_in_memory for the blobs the values named by ids are made of."""
    cdef size_t i
    cdef Obj *o
    cdef bint ready = True
    for i in range(ids.size()):
        o = find_obj(c, ids[i])
        if o != NULL and o.state != FR_OBJ_PENDING and not blobs_in_memory(c, o.contains):
            ready = False
    return ready


cdef bint uses_blob(Core *c, const vector[uint64_t] &ids, uint64_t blob) noexcept nogil:
    cdef size_t i, j
    cdef Obj *o
    for i in range(ids.size()):
        if ids[i] == blob:
            return True
        o = find_obj(c, ids[i])
        if o != NULL:
            for j in range(o.contains.size()):
                if o.contains[j] == blob:
                    return True
    return False


cdef void put_locations(Core *c, string &out, const vector[uint64_t] &ids,
                        Worker *w) noexcept nogil:
    """Appends where the blobs among ids are, pinning each for the reader."""
    cdef size_t i
    cdef uint32_t n = 0
    cdef size_t count_at = out.size()
    cdef Obj *b
    put_u32(out, 0)
    for i in range(ids.size()):
        b = find_obj(c, ids[i])
        if b == NULL or not b.blob:
            continue
        put_u64(out, b.id)
        put_u64(out, b.offset)
        put_u64(out, b.size)
        pin(c, b, w)
        n += 1
    memcpy(&out[count_at], &n, 4)


cdef bint try_allocate(Core *c, Alloc *a, Worker *owner) noexcept nogil:
    """All of a's blobs at once, or none."""
    cdef size_t i, j
    cdef uint64_t offset
    a.offsets.clear()
    for i in range(a.sizes.size()):
        if not c.arena.allocate(a.sizes[i], &offset):
            for j in range(a.offsets.size()):
                c.arena.release(a.offsets[j], a.sizes[j])
            a.offsets.clear()
            return False
        a.offsets.push_back(offset)
    for i in range(a.ids.size()):
        new_blob(c, a.ids[i], a.offsets[i], a.sizes[i], owner)
    a.done = True
    return True


cdef void answer_alloc(Core *c, Alloc *a) noexcept nogil:
    cdef Worker *w
    cdef size_t i
    a.done = True
    if a.worker < 0:
        pthread_cond_broadcast(&c.cv)
        return
    w = c.workers[a.worker]
    if a.failed:
        put_header(w.out, <uint32_t>a.error.size(), FR_ALLOCATED, a.req_id, 0)
        w.out.append(a.error)
    else:
        put_header(w.out, <uint32_t>(8 * a.offsets.size()), FR_ALLOCATED, a.req_id, 1)
        for i in range(a.offsets.size()):
            put_u64(w.out, a.offsets[i])
    flush(c, w)


cdef void fail_alloc(Core *c, Alloc *a, uint64_t total) noexcept nogil:
    cdef char text[1000]
    if total > c.arena.capacity():
        snprintf(text, sizeof(text),
                 "an object of %llu bytes is larger than the whole object store (%llu bytes); "
                 "pass a larger object_store_memory to fastray.init()",
                 <unsigned long long>total, <unsigned long long>c.arena.capacity())
    elif not c.spill_error.empty():
        snprintf(text, sizeof(text),
                 "the object store could not make room for %llu bytes: it is full and %s",
                 <unsigned long long>total, c.spill_error.c_str())
    else:
        snprintf(text, sizeof(text),
                 "the object store could not make room for %llu bytes within %.0f s: %llu of "
                 "its %llu bytes hold objects still in use (referenced and mapped by get() "
                 "results or running tasks, so they cannot be spilled to disk). Drop "
                 "references you no longer need (del the ObjectRefs and the arrays from "
                 "get()), or pass a larger object_store_memory to fastray.init()",
                 <unsigned long long>total, c.full_timeout,
                 <unsigned long long>c.arena.used(), <unsigned long long>c.arena.capacity())
    a.error.assign(<const char *>text)
    a.failed = True
    answer_alloc(c, a)


cdef Worker *alloc_owner(Core *c, Alloc *a) noexcept nogil:
    """The worker whose references new blobs start as (NULL: the driver)."""
    if a.worker < 0:
        return NULL
    return c.workers[a.worker]


cdef uint64_t alloc_total(Alloc *a) noexcept nogil:
    cdef uint64_t total = 0
    cdef size_t i
    for i in range(a.sizes.size()):
        total += arena_round_up(a.sizes[i])
    return total


cdef bint request_memory(Core *c, Alloc *a) noexcept nogil:
    """Serves an allocation now if it fits and nobody queues before it;
    otherwise the store thread serves it.  True if answered now."""
    cdef uint64_t total = alloc_total(a)
    cdef Worker *owner = alloc_owner(c, a)
    if total > c.arena.capacity():
        fail_alloc(c, a, total)
        return True
    if c.allocs.empty() and try_allocate(c, a, owner):
        answer_alloc(c, a)
        return True
    c.allocs.push_back(a)
    pthread_cond_broadcast(&c.io_cv)
    return False


cdef bint make_room(Core *c) noexcept nogil:
    """Spills the least recently used blob nobody maps to a file; False if
    there is none, or if the file cannot be written (c.spill_error says why)."""
    cdef Obj *victim = NULL
    cdef Obj *o
    cdef uint64_t oid
    cdef string path
    cdef int error
    cdef char text[600]
    c.spill_error.clear()
    for oid in c.blob_ids:
        o = find_obj(c, oid)
        if o != NULL and o.where == IN_MEMORY and o.pins == 0 and (
                victim == NULL or o.last_use < victim.last_use):
            victim = o
    if victim == NULL:
        return False
    victim.where = SPILLING
    victim.refs += 1
    path = spill_path(c, victim.id)
    mkdir(c.spill_dir.c_str(), 0o700)
    pthread_mutex_unlock(&c.mu)
    error = write_file(path.c_str(), c.base + victim.offset, victim.size)
    lock_core(c)
    victim.refs -= 1
    if error != 0 or victim.pins > 0 or victim.refs == 0:
        # Not written, mapped again meanwhile, or no longer wanted: keep it in memory.
        victim.where = IN_MEMORY
        if error == 0:
            unlink(path.c_str())
        else:
            snprintf(text, sizeof(text), "spilling to disk failed: could not write %s: %s; "
                     "free space there, or pass a larger object_store_memory to fastray.init()",
                     path.c_str(), strerror(error))
            c.spill_error.assign(<const char *>text)
        maybe_free(c, victim)
        return error == 0
    victim.where = SPILLED
    free_range(c, victim.offset, victim.size)
    c.spilled_bytes += victim.size
    c.spilled_blobs += 1
    c.spill_count += 1
    return True


cdef int write_file(const char *path, char *data, uint64_t size) noexcept nogil:
    """Writes size bytes at data to a new file at path, which must not exist
    yet (nor be a link someone put there); 0 or the errno of the failure,
    after which no file of ours is left at path."""
    cdef int fd = c_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    cdef int error
    if fd < 0:
        return errno
    error = copy_file(fd, data, size, True)
    if error != 0:
        unlink(path)
    return error


cdef int read_file(const char *path, char *data, uint64_t size) noexcept nogil:
    """Reads size bytes from the file at path (never through a link) into
    data; 0 or the errno of the failure."""
    cdef int fd = c_open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0)
    if fd < 0:
        return errno
    return copy_file(fd, data, size, False)


cdef int copy_file(int fd, char *data, uint64_t size, bint writing) noexcept nogil:
    """Writes size bytes at data to fd, or reads them; closes fd.  0 or an
    errno (EIO for a file shorter than size)."""
    cdef uint64_t done = 0
    cdef ssize_t n
    cdef int error = 0
    while done < size:
        if writing:
            n = pwrite(fd, data + done, size - done, <long>done)
        else:
            n = pread(fd, data + done, size - done, <long>done)
        if n < 0 and errno == EINTR:
            continue
        if n <= 0:
            error = errno if n < 0 else EIO
            break
        done += n
    if close(fd) != 0 and error == 0:
        error = errno
    return error


cdef void read_back(Core *c, Obj *b, uint64_t offset) noexcept nogil:
    """Restores a spilled blob into memory reserved for it at offset."""
    cdef string path = spill_path(c, b.id)
    cdef int error
    cdef char text[600]
    pthread_mutex_unlock(&c.mu)
    error = read_file(path.c_str(), c.base + offset, b.size)
    lock_core(c)
    if error != 0:
        c.arena.release(offset, b.size)
        snprintf(text, sizeof(text), "a spilled object of %llu bytes is lost: could not read "
                 "it back from %s: %s", <unsigned long long>b.size, path.c_str(), strerror(error))
        restore_failed(c, b, FR_PAYLOAD_LOST, text)
        return
    unlink(path.c_str())
    b.offset = offset
    b.where = IN_MEMORY
    c.spilled_bytes -= b.size
    c.spilled_blobs -= 1
    c.restore_count += 1
    unpark(c)
    b.refs -= 1
    maybe_free(c, b)


cdef void restore_failed(Core *c, Obj *b, uint8_t kind, const char *text) noexcept nogil:
    """b could not be read back: what waits for it fails with text, as a
    store-full error or (its file is unreadable) a lost object.  A later
    get tries again."""
    cdef vector[Task *] parked
    cdef vector[Task *] failed
    cdef size_t i
    cdef string failure = text_payload(kind, text)
    b.where = SPILLED
    parked.swap(c.parked)
    for i in range(parked.size()):
        if uses_blob(c, parked[i].deps, b.id) or uses_blob(c, parked[i].contained, b.id):
            failed.push_back(parked[i])
        else:
            c.parked.push_back(parked[i])
    for i in range(c.parked_requests.size()):
        if uses_blob(c, c.parked_requests[i].ids, b.id):
            c.parked_requests[i].failure = failure
    for i in range(failed.size()):
        fail_task_text(c, failed[i], kind, text)
    unpark(c)
    b.refs -= 1
    maybe_free(c, b)


cdef void no_room_to_restore(Core *c, Obj *b) noexcept nogil:
    """Memory for reading b back could not be found: the store stayed full,
    or spilling another blob failed."""
    cdef char text[1000]
    if not c.spill_error.empty():
        snprintf(text, sizeof(text), "a spilled object of %llu bytes could not be read back: "
                 "the object store is full and %s", <unsigned long long>b.size,
                 c.spill_error.c_str())
    else:
        snprintf(text, sizeof(text),
                 "a spilled object of %llu bytes could not be read back: the object store "
                 "stayed full of objects in use for %.0f s; drop references you no longer need "
                 "or pass a larger object_store_memory to fastray.init()",
                 <unsigned long long>b.size, c.full_timeout)
    restore_failed(c, b, FR_PAYLOAD_STORE_FULL, text)


cdef void unpark(Core *c) noexcept nogil:
    """Blobs came back (or could not): let what waited for them try again."""
    cdef vector[Task *] tasks
    cdef vector[Request *] requests
    cdef size_t i
    cdef Request *r
    tasks.swap(c.parked)
    for i in range(tasks.size()):
        c.ready.push_front(tasks[tasks.size() - 1 - i])
    requests.swap(c.parked_requests)
    for i in range(requests.size()):
        r = requests[i]
        r.parked = False
        if r.worker < 0:
            r.done = True
        elif answer_request(c, r):
            del r
    pthread_cond_broadcast(&c.cv)
    schedule(c)


cdef void run_store(Core *c) noexcept nogil:
    """The store thread: gives pages back, reads blobs back from disk and
    serves the allocations that had to wait, spilling to make room."""
    cdef vector[pair[uint64_t, uint64_t]] punches
    cdef Alloc *a
    cdef Obj *b
    cdef uint64_t offset
    cdef uint64_t restoring = 0
    cdef double restore_deadline = 0
    cdef size_t i
    lock_core(c)
    while not c.stopping:
        if not c.punches.empty():
            punches.swap(c.punches)
            pthread_mutex_unlock(&c.mu)
            for i in range(punches.size()):
                fallocate(c.store_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                          <long>punches[i].first, <long>punches[i].second)
            lock_core(c)
            for i in range(punches.size()):
                c.arena.release(punches[i].first, punches[i].second)
            punches.clear()
        elif not c.restores.empty():
            b = find_obj(c, c.restores.front())
            if b.id != restoring:
                restoring = b.id
                restore_deadline = monotonic() + c.full_timeout
            if c.arena.allocate(b.size, &offset):
                c.restores.pop_front()
                restoring = 0
                read_back(c, b, offset)
            elif not make_room(c):
                if not c.spill_error.empty() or monotonic() >= restore_deadline:
                    c.restores.pop_front()
                    restoring = 0
                    no_room_to_restore(c, b)
                else:
                    wait_briefly(&c.io_cv, &c.mu, 50000000)
        elif not c.allocs.empty():
            a = c.allocs.front()
            if a.abandoned:
                c.allocs.pop_front()
                del a
            elif try_allocate(c, a, alloc_owner(c, a)):
                c.allocs.pop_front()
                answer_alloc(c, a)
                if a.worker >= 0:
                    del a
            elif not make_room(c):
                if not c.spill_error.empty() or monotonic() >= a.deadline:
                    c.allocs.pop_front()
                    fail_alloc(c, a, alloc_total(a))
                    if a.worker >= 0:
                        del a
                else:
                    wait_briefly(&c.io_cv, &c.mu, 50000000)
        else:
            pthread_cond_wait(&c.io_cv, &c.mu)
    pthread_mutex_unlock(&c.mu)


# ----------------------------------------------------------------- workers

cdef void flush(Core *c, Worker *w) noexcept nogil:
    """Sends what is queued for a worker without blocking; the loop polls
    for writability when the socket is full."""
    cdef ssize_t n
    if c.deferring:
        if not w.flush_queued:
            w.flush_queued = True
            c.to_flush.push_back(w)
        return
    while w.fd >= 0 and w.out_pos < w.out.size():
        n = send(w.fd, w.out.data() + w.out_pos, w.out.size() - w.out_pos,
                 MSG_DONTWAIT | MSG_NOSIGNAL)
        if n > 0:
            w.out_pos += n
        elif n < 0 and errno == EINTR:
            continue
        else:
            break
    if w.fd < 0 or w.out_pos >= w.out.size():
        w.out.clear()
        w.out_pos = 0
        w.want_write = False
    elif not w.want_write:
        w.want_write = True
        wake(c)


cdef Worker *spawn_worker(Core *c) noexcept nogil:
    """Asks the spawner for a new worker connected by a fresh socketpair."""
    cdef Worker *w = NULL
    cdef size_t i
    cdef int sv[2]
    cdef fr_header h
    cdef int size = 4 * 1024 * 1024
    if c.spawner_lost or c.stopping:
        return NULL
    for i in range(c.workers.size()):
        if c.workers[i].state == W_DEAD:
            w = c.workers[i]
            break
    if w == NULL:
        w = new Worker()
        w.slot = <int>c.workers.size()
        c.workers.push_back(w)
    if socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0:
        return NULL
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size))
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size))
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL, 0) | O_NONBLOCK)
    h.body_len = 0
    h.type = FR_SPAWN
    h.a = <uint64_t>w.slot
    h.b = c.next_origin
    if fr_send_with_fd(c.spawner_fd, &h, FR_HEADER_SIZE, sv[1]) < 0:
        close(sv[0])
        close(sv[1])
        return NULL
    close(sv[1])
    w.fd = sv[0]
    w.pid = 0
    w.state = W_STARTING
    w.origin = c.next_origin
    c.next_origin += 1
    w.task = NULL
    w.request = NULL
    w.suspended.clear()
    w.queued.clear()
    w.known_fns.clear()
    w.held.clear()
    w.in_.clear()
    w.out.clear()
    w.out_pos = 0
    w.want_write = False
    c.workers_started += 1
    wake(c)
    return w


cdef int live_workers(Core *c) noexcept nogil:
    cdef int n = 0
    cdef size_t i
    for i in range(c.workers.size()):
        if c.workers[i].state in (W_IDLE, W_BUSY, W_STARTING):
            n += 1
    return n


cdef bint starting_worker(Core *c) noexcept nogil:
    cdef size_t i
    for i in range(c.workers.size()):
        if c.workers[i].state == W_STARTING:
            return True
    return False


cdef Worker *idle_worker(Core *c) noexcept nogil:
    cdef size_t i
    for i in range(c.workers.size()):
        if c.workers[i].state == W_IDLE:
            return c.workers[i]
    return NULL


cdef void dispatch(Core *c, Task *t, Worker *w) noexcept nogil:
    """Starts t on an idle worker."""
    if send_task(c, t, w, 0):
        mark_running(c, t, w)


cdef void mark_running(Core *c, Task *t, Worker *w) noexcept nogil:
    t.state = TASK_RUNNING
    t.started_ns = now_ns()
    w.task = t
    w.state = W_BUSY
    c.used_cpu_milli += t.cpu_milli


cdef bint send_task(Core *c, Task *t, Worker *w, uint32_t flags) noexcept nogil:
    """Sends t's TASK frame to w.  False if t cannot go yet (parked until
    its blobs are read back) or failed (its function is unknown)."""
    cdef unordered_map[uint64_t, Function].iterator fn = c.functions.find(t.fn_id)
    cdef bint send_fn, ready
    cdef size_t i
    cdef string body
    cdef Obj *o
    cdef char text[160]
    if fn == c.functions.end():
        snprintf(text, sizeof(text), "task %016llx names a function that was never defined",
                 <unsigned long long>t.id)
        fail_task_text(c, t, FR_PAYLOAD_CRASHED, text)
        return False
    # Both calls run, so every restore a task needs starts at once.
    ready = values_in_memory(c, t.deps)
    if not blobs_in_memory(c, t.contained) or not ready:
        c.parked.push_back(t)
        return False
    send_fn = w.known_fns.count(t.fn_id) == 0
    put_u32(body, flags)
    put_u32(body, t.num_returns)
    put_u32(body, <uint32_t>t.deps.size())
    if send_fn:
        put_u64(body, deref(fn).second.blob.size())
        body.append(deref(fn).second.blob)
        w.known_fns.insert(t.fn_id)
    else:
        put_u64(body, 0)
    for i in range(t.deps.size()):
        o = find_obj(c, t.deps[i])
        put_payload(c, body, o.payload, &o.contains, w)
    put_locations(c, body, t.contained, w)
    body.append(t.args)
    put_header(w.out, <uint32_t>body.size(), FR_TASK, t.id, t.fn_id)
    w.out.append(body)
    t.attempts += 1
    t.worker = w.slot
    t.pid = w.pid
    flush(c, w)
    return True


cdef bint quick(Core *c, Task *t) noexcept nogil:
    """Known to finish in well under a millisecond: worth queueing behind a
    busy worker's task rather than waiting for a worker to be free."""
    cdef unordered_map[uint64_t, Function].iterator it = c.functions.find(t.fn_id)
    cdef Function *fn
    if it == c.functions.end():
        return False
    fn = &deref(it).second
    return fn.runs >= QUICK_AFTER_RUNS and fn.mean_ns < QUICK_TASK_NS


cdef void queue_behind_busy_workers(Core *c) noexcept nogil:
    """Every CPU is taken and quick tasks are ready: send each to a busy
    worker to run right after its current one, so a worker never waits a
    round trip for its next task.  Only quick tasks are queued, and only
    behind a quick task that has not yet run longer than a quick one should:
    a worker reads its queue only between tasks, so whatever waits behind a
    long task waits for all of it."""
    cdef Task *t
    cdef Worker *w
    cdef Worker *best
    cdef size_t i
    cdef int64_t now = now_ns()
    while not c.ready.empty():
        t = c.ready.front()
        if not quick(c, t):
            return
        best = NULL
        for i in range(c.workers.size()):
            w = c.workers[i]
            if (w.state == W_BUSY and w.fd >= 0 and w.request == NULL and w.suspended.empty()
                    and w.task != NULL and w.task.cpu_milli == t.cpu_milli
                    and quick(c, w.task) and now - w.task.started_ns < QUICK_TASK_NS
                    and w.queued.size() < QUEUE_DEPTH
                    and (best == NULL or w.queued.size() < best.queued.size())):
                best = w
        if best == NULL:
            return
        c.ready.pop_front()
        if send_task(c, t, best, 0):
            t.state = TASK_QUEUED
            best.queued.push_back(t)


cdef void revoke_queued(Core *c, Worker *w, Task *only) noexcept nogil:
    """Takes back tasks queued on w that it has not started (all of them, or
    only one): w is about to block in get, or one was cancelled."""
    cdef string body
    cdef deque[Task *] kept
    cdef vector[Task *] taken
    cdef Task *t
    cdef size_t i
    while not w.queued.empty():
        t = w.queued.front()
        w.queued.pop_front()
        if only == NULL or t == only:
            taken.push_back(t)
        else:
            kept.push_back(t)
    w.queued.swap(kept)
    if taken.empty():
        return
    put_u32(body, <uint32_t>taken.size())
    for i in range(taken.size()):
        put_u64(body, taken[i].id)
    put_header(w.out, <uint32_t>body.size(), FR_REVOKE, 0, 0)
    w.out.append(body)
    flush(c, w)
    for i in range(taken.size()):
        t = taken[taken.size() - 1 - i]
        t.state = TASK_READY
        t.worker = -1
        t.attempts -= 1
        if only == NULL:
            c.ready.push_front(t)


cdef void schedule(Core *c) noexcept nogil:
    """Hands ready tasks to idle workers while CPUs are free.  A worker
    blocked in get gives its CPU back, so a new worker may be started for
    the next task, up to max_workers."""
    cdef Task *t
    cdef Worker *w
    if c.spawner_lost and live_workers(c) == 0:
        while not c.ready.empty():
            t = c.ready.front()
            c.ready.pop_front()
            fail_task_text(c, t, FR_PAYLOAD_CRASHED,
                           "no worker can run the task: the spawner process exited")
        return
    while not c.ready.empty() and not c.stopping:
        t = c.ready.front()
        if t.cpu_milli > 0 and c.used_cpu_milli + t.cpu_milli > c.total_cpu_milli:
            queue_behind_busy_workers(c)
            return
        w = idle_worker(c)
        if w == NULL:
            # The task waits for a new worker to report in (one at a time).
            if live_workers(c) < c.max_workers:
                if not starting_worker(c):
                    spawn_worker(c)
            else:
                help_blocked_workers(c)
            return
        c.ready.pop_front()
        dispatch(c, t, w)


cdef void spin_until_done(Request *r, long nanoseconds) noexcept nogil:
    """Waits a short while without sleeping: a quick task's answer arrives
    sooner than a sleeping thread could be woken for it."""
    cdef timespec start, now
    clock_gettime(CLOCK_MONOTONIC, &start)
    while not __atomic_load_n(&r.done, __ATOMIC_ACQUIRE):
        clock_gettime(CLOCK_MONOTONIC, &now)
        if (now.tv_sec - start.tv_sec) * 1000000000 + now.tv_nsec - start.tv_nsec > nanoseconds:
            return


cdef bint take_ready(Core *c, Task *t) noexcept nogil:
    cdef size_t i
    for i in range(c.ready.size()):
        if c.ready[i] == t:
            c.ready.erase(c.ready.begin() + i)
            return True
    return False


cdef void help_blocked_workers(Core *c) noexcept nogil:
    """The pool is at max_workers and ready tasks wait for a worker: a
    worker blocked in get runs a ready task it is waiting for itself, on
    top of the blocked one.  Such a task cannot depend on the blocked task,
    so this cannot deadlock, and deep recursion of nested tasks keeps going
    with a bounded number of processes."""
    cdef size_t i, k
    cdef Worker *w
    cdef Task *t
    cdef Request *r
    cdef pair[TaskPtr, RequestPtr] frame
    for i in range(c.workers.size()):
        w = c.workers[i]
        r = w.request
        if (w.state != W_BUSY or w.task == NULL or r == NULL or r.parked
                or w.suspended.size() >= MAX_INLINE_DEPTH):
            continue
        for k in range(r.ids.size()):
            t = owning_task(c, r.ids[k])
            if t == NULL or t.state != TASK_READY:
                continue
            if t.cpu_milli > 0 and c.used_cpu_milli + t.cpu_milli > c.total_cpu_milli:
                return
            if not take_ready(c, t):
                continue
            frame.first = w.task
            frame.second = r
            w.suspended.push_back(frame)
            w.task = NULL
            w.request = NULL
            if send_task(c, t, w, FR_TASK_INLINE):
                mark_running(c, t, w)
            if w.task == NULL:
                # Parked until its blobs are read back: the worker stays blocked.
                w.task = w.suspended.back().first
                w.request = w.suspended.back().second
                w.suspended.pop_back()
            break


cdef Task *owning_task(Core *c, uint64_t oid) noexcept nogil:
    """The live task that returns object oid (ids of returns are consecutive)."""
    cdef uint64_t k
    cdef Task *t
    for k in range(64):
        if k > oid:
            break
        t = find_task(c, oid - k)
        if t != NULL:
            return t if k < t.num_returns else NULL
    return NULL


cdef void interrupt_task(Worker *w, Task *t) noexcept nogil:
    """A signal naming t: w may not have started t yet, or be past it, and
    acts on it only while it runs t (csrc/_cancel_signal.pyx)."""
    cdef sigval target
    target.sival_ptr = <void *>t.id
    if w.pid > 0:
        sigqueue(w.pid, SIGRTMIN, target)


cdef void cancel_task(Core *c, uint64_t tid, uint32_t flags) noexcept nogil:
    cdef Task *t = find_task(c, tid)
    cdef vector[uint64_t] children
    cdef size_t i
    cdef Worker *w
    cdef char text[160]
    if t == NULL or t.cancelled:
        return
    t.cancelled = True
    if flags & FR_CANCEL_RECURSIVE:
        children = t.children
        for i in range(children.size()):
            cancel_task(c, children[i], flags)
    if t.state == TASK_RUNNING:
        w = c.workers[t.worker]
        if w.pid > 0 and flags & FR_CANCEL_FORCE:
            kill(w.pid, SIGKILL)
        else:
            interrupt_task(w, t)
        return
    if t.state == TASK_QUEUED:
        w = c.workers[t.worker]
        revoke_queued(c, w, t)
        # The worker may have started it already, before the revoke comes.
        interrupt_task(w, t)
    if t.state == TASK_READY:
        for i in range(c.ready.size()):
            if c.ready[i] == t:
                c.ready.erase(c.ready.begin() + i)
                break
        for i in range(c.parked.size()):
            if c.parked[i] == t:
                c.parked.erase(c.parked.begin() + i)
                break
    snprintf(text, sizeof(text), "task %016llx was cancelled before it ran",
             <unsigned long long>t.id)
    fail_task_text(c, t, FR_PAYLOAD_CANCELLED, text)


cdef void describe_exit(int pid, uint32_t status, char *text, size_t size, uint64_t tid,
                        const char *name) noexcept nogil:
    cdef int sig = status & 0x7f
    if sig == 0:
        snprintf(text, size,
                 "the worker (pid %d) running task %s (%016llx) exited with code %d "
                 "(os._exit or sys.exit in native code?)",
                 pid, name, <unsigned long long>tid, (status >> 8) & 0xff)
    elif sig == SIGKILL:
        snprintf(text, size,
                 "the worker (pid %d) running task %s (%016llx) was killed by signal 9 "
                 "(SIGKILL: out of memory, cancel(force=True), or killed from outside)",
                 pid, name, <unsigned long long>tid)
    else:
        snprintf(text, size,
                 "the worker (pid %d) running task %s (%016llx) was killed by signal %d "
                 "(a crash in native code?)", pid, name, <unsigned long long>tid, sig)


cdef void drop_request(Core *c, Request *r) noexcept nogil:
    unregister_request(c, r)
    forget_parked_request(c, r)
    del r


cdef void task_lost(Core *c, Task *t, int pid, uint32_t status) noexcept nogil:
    """The worker running t died: retry t, or fail it saying how it died."""
    cdef char text[512]
    cdef unordered_map[uint64_t, Function].iterator fn
    cdef const char *name = "?"
    t.worker = -1
    if not t.cancelled and t.retries_left != 0:
        if t.retries_left > 0:
            t.retries_left -= 1
        c.retries += 1
        t.state = TASK_READY
        c.ready.push_front(t)
        return
    fn = c.functions.find(t.fn_id)
    if fn != c.functions.end():
        name = deref(fn).second.name.c_str()
    describe_exit(pid, status, text, sizeof(text), t.id, name)
    fail_task_text(c, t, FR_PAYLOAD_CRASHED, text)


cdef void worker_gone(Core *c, Worker *w, uint32_t status) noexcept nogil:
    """A worker process ended: retry or fail its tasks, drop what it held,
    and keep the pool at its size."""
    cdef Task *t = w.task
    cdef unordered_map[uint64_t, int32_t] held
    cdef unordered_map[uint64_t, int32_t].iterator it
    cdef vector[pair[TaskPtr, RequestPtr]] frames
    cdef size_t i
    if w.fd >= 0:
        close(w.fd)
        w.fd = -1
    if w.request != NULL:
        drop_request(c, w.request)
        w.request = NULL
    elif t != NULL:
        c.used_cpu_milli -= t.cpu_milli
    w.task = NULL
    w.state = W_DEAD
    c.workers_died += 1
    frames.swap(w.suspended)
    while not w.queued.empty():
        # Never started: back to the front of the line, no retry used.
        w.queued.back().state = TASK_READY
        w.queued.back().worker = -1
        w.queued.back().attempts -= 1
        c.ready.push_front(w.queued.back())
        w.queued.pop_back()
    if t != NULL:
        task_lost(c, t, w.pid, status)
    for i in range(frames.size()):
        if frames[frames.size() - 1 - i].second != NULL:
            drop_request(c, frames[frames.size() - 1 - i].second)
        task_lost(c, frames[frames.size() - 1 - i].first, w.pid, status)
    for i in range(c.allocs.size()):
        if c.allocs[i].worker == w.slot:
            c.allocs[i].abandoned = True
    held.swap(w.pinned)
    it = held.begin()
    while it != held.end():
        unpin(c, deref(it).first, deref(it).second, NULL)
        inc(it)
    held.clear()
    held.swap(w.held)
    it = held.begin()
    while it != held.end():
        decref(c, deref(it).first, deref(it).second)
        inc(it)
    w.known_fns.clear()
    w.in_.clear()
    w.out.clear()
    w.out_pos = 0
    if live_workers(c) < c.min_workers:
        spawn_worker(c)
    schedule(c)


cdef void note_duration(Core *c, Task *t) noexcept nogil:
    """A running mean of how long the function's tasks take to run."""
    cdef unordered_map[uint64_t, Function].iterator it = c.functions.find(t.fn_id)
    cdef double took = <double>(now_ns() - t.started_ns)
    cdef Function *fn
    if it == c.functions.end():
        return
    fn = &deref(it).second
    fn.mean_ns = took if fn.runs == 0 else 0.5 * fn.mean_ns + 0.5 * took
    fn.runs += 1


cdef void resume_suspended(Core *c, Worker *w) noexcept nogil:
    """The task run on top of a blocked one finished: the blocked one is the
    worker's task again, still blocked or (if answered meanwhile) running."""
    w.task = w.suspended.back().first
    w.request = w.suspended.back().second
    w.suspended.pop_back()
    w.state = W_BUSY
    if w.request == NULL:
        c.used_cpu_milli += w.task.cpu_milli


cdef void forget_parked_request(Core *c, Request *r) noexcept nogil:
    cdef size_t i
    for i in range(c.parked_requests.size()):
        if c.parked_requests[i] == r:
            c.parked_requests.erase(c.parked_requests.begin() + i)
            return


cdef void handle_frame(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    cdef Task *t
    cdef Obj *o
    cdef Request *r
    cdef uint32_t n, i, flags, needed
    cdef vector[uint64_t] ids
    cdef vector[uint64_t] contains
    cdef vector[uint64_t] unpins
    cdef string payload
    cdef Function *fn
    cdef Alloc *a
    if h.type == FR_RESULT:
        t = w.task
        if t == NULL or t.id != h.a:
            return
        w.task = NULL
        w.state = W_IDLE
        c.used_cpu_milli -= t.cpu_milli
        t.worker = -1
        note_duration(c, t)
        if not w.queued.empty():
            mark_running(c, w.queued.front(), w)
            w.queued.pop_front()
        elif not w.suspended.empty():
            resume_suspended(c, w)
        if h.b == FR_STATUS_INTERRUPTED:
            fail_task_text(c, t, FR_PAYLOAD_CANCELLED, "the task was cancelled while it ran")
        elif h.b == FR_STATUS_RETRYABLE_ERROR and t.retries_left != 0 and not t.cancelled:
            if t.retries_left > 0:
                t.retries_left -= 1
            c.retries += 1
            t.state = TASK_READY
            c.ready.push_back(t)
        else:
            n = get_u32(cur)
            for i in range(n):
                get_bytes(cur, get_u64(cur), payload)
                contains.clear()
                get_ids(cur, contains)
                if cur.bad or i >= t.num_returns:
                    break
                for k in range(contains.size()):
                    incref(c, contains[k], 1)
                set_object(c, t.id + i, payload, contains)
            if h.b != FR_STATUS_OK:
                c.tasks_failed += 1
                t.outcome = TASK_FAILED
            elif t.attempts > 1:
                c.retried_then_succeeded += 1
            release_task(c, t)
        schedule(c)
    elif h.type == FR_SUBMIT:
        t = new Task()
        t.id = h.a
        t.fn_id = h.b
        t.num_returns = get_u32(cur)
        t.cpu_milli = get_u32(cur)
        t.retries_left = <int32_t>get_u32(cur)
        get_ids(cur, t.deps)
        get_ids(cur, t.contained)
        if cur.bad:
            del t
            return
        t.args.assign(cur.p, cur.end - cur.p)
        if w.task != NULL:
            t.parent = w.task.id
        add_task(c, t, w)
        schedule(c)
    elif h.type == FR_DEFINE:
        if c.functions.count(h.a) == 0:
            n = get_u32(cur)
            fn = &c.functions[h.a]
            get_bytes(cur, n, fn.name)
            fn.blob.assign(cur.p, cur.end - cur.p)
    elif h.type == FR_PUT:
        get_ids(cur, contains)
        if cur.bad or find_obj(c, h.a) != NULL:
            return
        o = new_obj(c, h.a, 1)
        hold(w, h.a, 1)
        for i in range(contains.size()):
            incref(c, contains[i], 1)
        o.contains.swap(contains)
        o.payload.assign(cur.p, cur.end - cur.p)
        o.state = FR_OBJ_READY if <uint8_t>o.payload[0] == FR_PAYLOAD_VALUE else FR_OBJ_FAILED
    elif h.type == FR_WAIT:
        flags = get_u32(cur)
        get_ids(cur, ids)
        if cur.bad or w.request != NULL:
            return
        needed = <uint32_t>h.b
        # Blocked, w must not sit on queued tasks: another worker (or w
        # itself, on top of the wait) may be what they are waiting for.
        revoke_queued(c, w, NULL)
        r = open_request(c, w.slot, h.a, needed, flags, ids)
        if r.done:
            w.request = r
            if w.task != NULL:
                c.used_cpu_milli -= w.task.cpu_milli
            if answer_request(c, r):
                del r
            else:
                schedule(c)
        else:
            w.request = r
            if w.task != NULL:
                c.used_cpu_milli -= w.task.cpu_milli
            schedule(c)
    elif h.type == FR_WAIT_CANCEL:
        r = w.request
        if r != NULL and r.req_id == h.a and not r.parked:
            if answer_request(c, r):
                del r
    elif h.type == FR_REFS:
        get_ids(cur, ids)
        get_ids(cur, contains)
        get_ids(cur, unpins)
        if cur.bad:
            return
        for i in range(ids.size()):
            incref(c, ids[i], 1)
            hold(w, ids[i], 1)
        for i in range(contains.size()):
            hold(w, contains[i], -1)
            decref(c, contains[i], 1)
        for i in range(unpins.size()):
            unpin(c, unpins[i], 1, w)
    elif h.type == FR_ALLOC:
        a = new Alloc()
        a.worker = w.slot
        a.req_id = h.a
        a.deadline = monotonic() + c.full_timeout
        n = get_u32(cur)
        for i in range(n):
            a.ids.push_back(get_u64(cur))
            a.sizes.push_back(get_u64(cur))
        if cur.bad or n == 0:
            del a
            return
        if request_memory(c, a):
            del a
    elif h.type == FR_CANCEL:
        t = owning_task(c, h.a)
        if t != NULL:
            cancel_task(c, t.id, <uint32_t>h.b)
        schedule(c)


cdef void worker_readable(Core *c, Worker *w) noexcept nogil:
    cdef ssize_t n
    cdef size_t pos = 0
    cdef size_t old
    cdef fr_header h
    cdef Cursor cur
    cdef int fd = w.fd
    while True:
        old = w.in_.size()
        w.in_.resize(old + RECV_CHUNK)
        n = recv(fd, &w.in_[old], RECV_CHUNK, MSG_DONTWAIT)
        w.in_.resize(old + (n if n > 0 else 0))
        if n == 0:
            # The process is gone; the spawner reports how it ended.
            close(w.fd)
            w.fd = -1
            w.state = W_EXITING
            if c.spawner_lost:
                worker_gone(c, w, 0)
            break
        if n < 0:
            if errno == EINTR:
                continue
            break
        if n < RECV_CHUNK:
            break
    while w.in_.size() - pos >= FR_HEADER_SIZE:
        memcpy(&h, w.in_.data() + pos, FR_HEADER_SIZE)
        if w.in_.size() - pos - FR_HEADER_SIZE < h.body_len:
            break
        cur.p = w.in_.data() + pos + FR_HEADER_SIZE
        cur.end = cur.p + h.body_len
        cur.bad = False
        pos += FR_HEADER_SIZE + h.body_len
        handle_frame(c, w, &h, &cur)
        if w.fd != fd:
            return
    if pos > 0:
        w.in_.erase(0, pos)


cdef void spawner_readable(Core *c) noexcept nogil:
    cdef fr_header h
    cdef ssize_t n
    cdef Worker *w
    cdef size_t i
    while True:
        n = recv(c.spawner_fd, &h, FR_HEADER_SIZE, MSG_DONTWAIT)
        if n < 0:
            if errno == EINTR:
                continue
            return
        if n == 0:
            # The socket belongs to the runtime, which closes it at shutdown.
            c.spawner_lost = True
            c.spawner_fd = -1
            for i in range(c.workers.size()):
                if c.workers[i].state == W_EXITING:
                    worker_gone(c, c.workers[i], 0)
            return
        if n != FR_HEADER_SIZE:
            continue
        if h.a >= c.workers.size():
            continue
        w = c.workers[h.a]
        if h.type == FR_SPAWNED:
            w.pid = <int>h.b
            if w.state == W_STARTING:
                w.state = W_IDLE
                schedule(c)
        elif h.type == FR_EXITED and w.pid == <int>(h.b >> 32) and w.state != W_DEAD:
            worker_gone(c, w, <uint32_t>h.b)


cdef void run_loop(Core *c) noexcept nogil:
    cdef vector[pollfd] fds
    cdef vector[int] slots
    cdef pollfd p
    cdef size_t i
    cdef uint64_t drained
    cdef Worker *w
    while True:
        # Any submit from now on wakes the loop; earlier ones are taken in here.
        __atomic_store_n(&c.wake_pending, False, __ATOMIC_SEQ_CST)
        lock_core(c)
        if c.stopping:
            pthread_mutex_unlock(&c.mu)
            return
        fds.clear()
        slots.clear()
        p.fd = c.wake_fd
        p.events = POLLIN
        p.revents = 0
        fds.push_back(p)
        slots.push_back(-1)
        if c.spawner_fd >= 0:
            p.fd = c.spawner_fd
            fds.push_back(p)
            slots.push_back(-2)
        for i in range(c.workers.size()):
            w = c.workers[i]
            if w.fd >= 0:
                p.fd = w.fd
                p.events = POLLIN | (POLLOUT if w.want_write else 0)
                fds.push_back(p)
                slots.push_back(<int>i)
                p.events = POLLIN
        pthread_mutex_unlock(&c.mu)
        if poll(fds.data(), fds.size(), -1) < 0:
            continue
        lock_core(c)
        c.deferring = True
        for i in range(fds.size()):
            if fds[i].revents == 0:
                continue
            if slots[i] == -1:
                read(c.wake_fd, &drained, 8)
            elif slots[i] == -2:
                if c.spawner_fd >= 0:
                    spawner_readable(c)
            else:
                w = c.workers[slots[i]]
                if w.fd != fds[i].fd:
                    continue
                if fds[i].revents & POLLOUT:
                    flush(c, w)
                if fds[i].revents & (POLLIN | POLLHUP | POLLERR):
                    worker_readable(c, w)
        c.deferring = False
        for i in range(c.to_flush.size()):
            c.to_flush[i].flush_queued = False
            flush(c, c.to_flush[i])
        c.to_flush.clear()
        pthread_mutex_unlock(&c.mu)


# ------------------------------------------------------------- Python face

cdef object parse_fetched(const string &data):
    """(payload, [(blob id, offset, size), ...]) from what put_payload wrote."""
    cdef Cursor cur
    cdef uint64_t size
    cdef uint32_t n, i
    cur.p = data.data()
    cur.end = cur.p + data.size()
    cur.bad = False
    size = get_u64(&cur)
    payload = PyBytes_FromStringAndSize(cur.p, size)
    cur.p += size
    n = get_u32(&cur)
    locations = []
    for i in range(n):
        locations.append((get_u64(&cur), get_u64(&cur), get_u64(&cur)))
    return payload, locations


cdef class Scheduler:
    """The driver's handle on the scheduler core (one per runtime)."""

    cdef Core *core
    cdef object _thread
    cdef object _store_thread

    def __cinit__(self, int num_cpus, int max_workers, int spawner_fd, uint64_t origin_base,
                  int store_fd, uint64_t capacity, uint64_t warm_limit, double full_timeout,
                  bytes spill_dir, uint32_t max_events):
        cdef void *base
        self.core = new Core()
        pthread_mutex_init(&self.core.mu, NULL)
        pthread_mutex_init(&self.core.incoming_mu, NULL)
        pthread_cond_init(&self.core.cv, NULL)
        pthread_cond_init(&self.core.io_cv, NULL)
        self.core.total_cpu_milli = num_cpus * 1000
        self.core.min_workers = num_cpus
        self.core.max_workers = max_workers
        self.core.spawner_fd = spawner_fd
        self.core.next_origin = origin_base
        self.core.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
        if self.core.wake_fd < 0:
            raise OSError(errno, "eventfd failed")
        base = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, store_fd, 0)
        if base == MAP_FAILED:
            raise OSError(errno, "could not map the object store")
        self.core.base = <char *>base
        self.core.store_fd = store_fd
        self.core.arena.reset(capacity)
        self.core.warm_limit = arena_round_up(warm_limit)
        self.core.full_timeout = full_timeout
        self.core.events.resize(max_events)
        self.core.spill_dir.assign(PyBytes_AS_STRING(spill_dir), PyBytes_GET_SIZE(spill_dir))

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
        cdef Worker *w
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
            w = self.core.workers[i]
            if w.fd >= 0:
                close(w.fd)
                w.fd = -1

    def __dealloc__(self):
        cdef Core *c = self.core
        cdef size_t i
        if c == NULL:
            return
        for kv in c.objects:
            del kv.second
        for kt in c.tasks:
            del kt.second
        for i in range(c.incoming.size()):
            del c.incoming[i]
        for i in range(c.allocs.size()):
            del c.allocs[i]
        if c.base != NULL:
            munmap(c.base, c.arena.capacity())
        for i in range(c.workers.size()):
            if c.workers[i].request != NULL and c.workers[i].request.worker >= 0:
                del c.workers[i].request
            for frame in c.workers[i].suspended:
                if frame.second != NULL:
                    del frame.second
            if c.workers[i].fd >= 0:
                close(c.workers[i].fd)
            del c.workers[i]
        close(c.wake_fd)
        pthread_cond_destroy(&c.cv)
        pthread_cond_destroy(&c.io_cv)
        pthread_mutex_destroy(&c.mu)
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
               uint32_t cpu_milli, int32_t max_retries, deps, contained, bytes args) -> None:
        """Registers a task from the driver; it runs once its deps are ready."""
        cdef Task *t = new Task()
        t.id = task_id
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
            return
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

    def put(self, uint64_t oid, bytes payload, contained) -> None:
        """Stores a ready object with one reference, owned by the caller."""
        cdef vector[uint64_t] contains
        cdef Obj *o
        cdef size_t i
        for d in contained:
            contains.push_back(d)
        lock_core(self.core)
        o = new_obj(self.core, oid, 1)
        for i in range(contains.size()):
            incref(self.core, contains[i], 1)
        o.contains.swap(contains)
        o.payload.assign(PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload))
        o.state = FR_OBJ_READY if <uint8_t>o.payload[0] == FR_PAYLOAD_VALUE else FR_OBJ_FAILED
        pthread_mutex_unlock(&self.core.mu)

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
        cdef timespec deadline, now, slice_end
        cdef double remaining
        cdef bytes states
        cdef char *out
        cdef size_t i
        cdef Obj *o
        cdef bint expired = False
        for d in ids:
            idv.push_back(d)
        states = PyBytes_FromStringAndSize(NULL, idv.size())
        out = PyBytes_AS_STRING(states)
        clock_gettime(CLOCK_REALTIME, &deadline)
        if timeout >= 0:
            deadline.tv_sec += <long>timeout
            deadline.tv_nsec += <long>((timeout - <long>timeout) * 1e9)
            if deadline.tv_nsec >= 1000000000:
                deadline.tv_sec += 1
                deadline.tv_nsec -= 1000000000
        with nogil:
            lock_core(self.core)
            r = open_request(self.core, -1, 0, needed,
                             FR_WAIT_FAIL_FAST if fail_fast else 0, idv)
            pthread_mutex_unlock(&self.core.mu)
            spin_until_done(r, SPIN_NANOSECONDS if timeout != 0 else 0)
        try:
            while True:
                with nogil:
                    lock_core(self.core)
                    if not r.done and not self.core.stopping:
                        clock_gettime(CLOCK_REALTIME, &now)
                        slice_end = now
                        slice_end.tv_nsec += 50000000
                        if slice_end.tv_nsec >= 1000000000:
                            slice_end.tv_sec += 1
                            slice_end.tv_nsec -= 1000000000
                        if timeout >= 0 and (deadline.tv_sec < slice_end.tv_sec or (
                                deadline.tv_sec == slice_end.tv_sec
                                and deadline.tv_nsec < slice_end.tv_nsec)):
                            slice_end = deadline
                            expired = True
                        pthread_cond_timedwait(&self.core.cv, &self.core.mu, &slice_end)
                    pthread_mutex_unlock(&self.core.mu)
                if r.done or self.core.stopping:
                    break
                if expired:
                    clock_gettime(CLOCK_REALTIME, &now)
                    if now.tv_sec > deadline.tv_sec or (now.tv_sec == deadline.tv_sec
                                                        and now.tv_nsec >= deadline.tv_nsec):
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
        made); the caller's general path covers the rest."""
        cdef Py_ssize_t id_at = slot_offset(ref_type, "_id")
        cdef Py_ssize_t gen_at = slot_offset(ref_type, "_generation")
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

    def cancel(self, uint64_t object_id, bint force, bint recursive) -> None:
        """Cancels the task that returns object_id, if it has not finished."""
        cdef Task *t
        cdef uint32_t flags = (FR_CANCEL_FORCE if force else 0) | (
            FR_CANCEL_RECURSIVE if recursive else 0)
        with nogil:
            lock_core(self.core)
            t = owning_task(self.core, object_id)
            if t != NULL:
                cancel_task(self.core, t.id, flags)
                schedule(self.core)
            pthread_mutex_unlock(&self.core.mu)

    def task_events(self, uint64_t last=0) -> list:
        """The recorded events of ended tasks, oldest first: (task id,
        function name, worker pid, outcome, submitted, started, ended), times
        in ns since the epoch (started is 0 if the task never ran).  With
        ``last`` only the newest ``last`` events: a live view polls this and
        must not copy the whole ring each time."""
        cdef Core *c = self.core
        cdef vector[TaskEvent] events
        cdef vector[pair[uint64_t, string]] fn_names
        cdef uint64_t first, k, n
        with nogil:
            lock_core(c)
            n = c.events.size()
            if n:
                first = c.events_total - n if c.events_total > n else 0
                if last and c.events_total - first > last:
                    first = c.events_total - last
                for k in range(first, c.events_total):
                    events.push_back(c.events[k % n])
            copy_function_names(c, fn_names)
            pthread_mutex_unlock(&c.mu)
        names = names_by_id(fn_names)
        return [(e.task_id, names.get(e.fn_id, "?"), e.pid,
                 OUTCOMES[e.outcome], e.submitted_ns, e.started_ns, e.ended_ns)
                for e in events]

    def timeline(self, int64_t since_ns, int64_t merge_gap_ns, size_t limit) -> list:
        """The ended tasks since ``since_ns`` as segments per worker: (pid,
        outcome, started, ended, tasks, function name or "" if several).
        Consecutive tasks of one worker with one outcome that each last less
        than ``merge_gap_ns`` and are less than that apart make one segment,
        so a strip about a pixel per ``merge_gap_ns`` wide gets what it can
        draw however many tiny tasks ran; longer tasks keep a segment each.
        At most the newest ``limit`` segments."""
        cdef Core *c = self.core
        cdef vector[Segment] segments
        cdef unordered_map[int32_t, size_t] open_segment
        cdef uint64_t first, k, n
        cdef size_t skip
        cdef TaskEvent *e
        cdef Segment *last
        cdef int64_t start
        cdef bint tiny
        cdef vector[pair[uint64_t, string]] fn_names
        lock_core(c)
        n = c.events.size()
        first = c.events_total
        while (n and first > 0 and c.events_total - first < n
               and c.events[(first - 1) % n].ended_ns >= since_ns):
            first -= 1
        for k in range(first, c.events_total):
            e = &c.events[k % n]
            start = e.started_ns if e.started_ns else e.ended_ns
            last = NULL
            if open_segment.count(e.pid):
                last = &segments[open_segment[e.pid]]
            tiny = e.ended_ns - start < merge_gap_ns
            if (last != NULL and tiny and last.tiny and last.outcome == e.outcome
                    and start - last.ended_ns < merge_gap_ns):
                last.ended_ns = e.ended_ns
                last.tasks += 1
                last.mixed = last.mixed or last.fn_id != e.fn_id
            else:
                open_segment[e.pid] = segments.size()
                segments.push_back(Segment(e.pid, e.outcome, start, e.ended_ns, 1, e.fn_id,
                                           False, tiny))
        copy_function_names(c, fn_names)
        pthread_mutex_unlock(&c.mu)
        names = names_by_id(fn_names)
        skip = segments.size() - limit if segments.size() > limit else 0
        return [(segments[k].pid, OUTCOMES[segments[k].outcome], segments[k].started_ns,
                 segments[k].ended_ns, segments[k].tasks,
                 "" if segments[k].mixed else names.get(segments[k].fn_id, "?"))
                for k in range(skip, segments.size())]

    def failures(self) -> list:
        """The latest tasks that ended without a value, oldest first: (task
        id, function name, worker pid, outcome, error payload or b"", whether
        it was too large to keep)."""
        cdef Core *c = self.core
        cdef deque[TaskFailure] kept
        cdef vector[pair[uint64_t, string]] fn_names
        with nogil:
            lock_core(c)
            kept = c.failures
            copy_function_names(c, fn_names)
            pthread_mutex_unlock(&c.mu)
        names = names_by_id(fn_names)
        return [(f.task_id, names.get(f.fn_id, "?"), f.pid, OUTCOMES[f.outcome],
                 <bytes>f.payload, f.too_large) for f in kept]

    def snapshot(self) -> dict:
        """What a live view of the runtime shows: each worker and what it
        runs, tasks by state, and the largest objects in the store."""
        cdef Core *c = self.core
        cdef Worker *w
        cdef Obj *o
        cdef size_t i
        cdef uint64_t oid
        cdef WorkerView view
        cdef vector[WorkerView] views
        cdef vector[pair[uint64_t, uint64_t]] largest
        cdef vector[char] spilled
        cdef vector[pair[uint64_t, string]] fn_names
        cdef size_t running = 0, suspended = 0, queued = 0, tasks
        cdef uint64_t outcomes[4]
        with nogil:
            lock_core(c)
            for i in range(c.workers.size()):
                w = c.workers[i]
                if w.state == W_DEAD:
                    continue
                view.pid = w.pid
                view.state = w.state
                view.blocked = w.request != NULL
                view.queued = w.queued.size()
                view.has_task = w.task != NULL
                if view.has_task:
                    running += 1
                    view.task_id = w.task.id
                    view.fn_id = w.task.fn_id
                    view.started_ns = w.task.started_ns
                suspended += w.suspended.size()
                queued += w.queued.size()
                views.push_back(view)
            for oid in c.blob_ids:
                o = find_obj(c, oid)
                if o != NULL:
                    keep_largest(largest, o.size, oid, LARGEST_OBJECTS)
            for i in range(largest.size()):
                spilled.push_back(find_obj(c, largest[i].second).where == SPILLED)
            tasks = c.tasks.size()
            for i in range(4):
                outcomes[i] = c.outcomes[i]
            copy_function_names(c, fn_names)
            pthread_mutex_unlock(&c.mu)
        names = names_by_id(fn_names)
        states = {W_DEAD: "dead", W_IDLE: "idle", W_BUSY: "busy", W_EXITING: "exiting",
                  W_STARTING: "starting"}
        workers = [{"pid": v.pid, "queued": v.queued,
                    "state": "blocked" if v.blocked else states[v.state],
                    "task": None if not v.has_task else {
                        "id": f"{v.task_id:016x}", "function": names.get(v.fn_id, "?"),
                        "started_ns": v.started_ns}}
                   for v in views]
        return {"workers": workers,
                "tasks": {"pending": tasks - running - suspended - queued,
                          "running": running + suspended, "queued": queued,
                          "finished": outcomes[TASK_FINISHED], "failed": outcomes[TASK_FAILED],
                          "cancelled": outcomes[TASK_CANCELLED],
                          "crashed": outcomes[TASK_CRASHED]},
                "largest_objects": [{"id": f"{largest[i].second:016x}", "bytes": largest[i].first,
                                     "spilled": bool(spilled[i])}
                                    for i in range(largest.size())]}

    def worker_pids(self) -> list:
        cdef size_t i
        pids = []
        lock_core(self.core)
        for i in range(self.core.workers.size()):
            if self.core.workers[i].state != W_DEAD and self.core.workers[i].pid > 0:
                pids.append(self.core.workers[i].pid)
        pthread_mutex_unlock(&self.core.mu)
        return pids

    def stats(self) -> dict:
        """A consistent snapshot of the counters, for resources and tests."""
        cdef Core *c = self.core
        cdef size_t i
        cdef int64_t running = 0, blocked = 0, live = 0, queued = 0
        cdef vector[int64_t] values
        with nogil:
            lock_core(c)
            for i in range(c.workers.size()):
                queued += c.workers[i].queued.size()
                if c.workers[i].state in (W_IDLE, W_BUSY, W_STARTING):
                    live += 1
                if c.workers[i].task != NULL:
                    running += 1
                    if c.workers[i].request != NULL:
                        blocked += 1
            # In the order of STATS_FIELDS.
            values.push_back(<int64_t>(c.objects.size()))
            values.push_back(<int64_t>(c.tasks.size()))
            values.push_back(<int64_t>(c.ready.size()))
            values.push_back(<int64_t>(c.used_cpu_milli))
            values.push_back(<int64_t>(c.total_cpu_milli))
            values.push_back(<int64_t>(live))
            values.push_back(<int64_t>(running))
            values.push_back(<int64_t>(blocked))
            values.push_back(<int64_t>(queued))
            values.push_back(<int64_t>(c.tasks_finished))
            values.push_back(<int64_t>(c.tasks_failed))
            values.push_back(<int64_t>(c.workers_started))
            values.push_back(<int64_t>(c.workers_died))
            values.push_back(<int64_t>(c.retries))
            values.push_back(<int64_t>(c.retried_then_succeeded))
            values.push_back(<int64_t>(c.arena.capacity()))
            values.push_back(<int64_t>(c.arena.used()))
            values.push_back(<int64_t>(c.blob_bytes - c.spilled_bytes))
            values.push_back(<int64_t>(c.blobs - c.spilled_blobs))
            values.push_back(<int64_t>(c.spilled_bytes))
            values.push_back(<int64_t>(c.spilled_blobs))
            values.push_back(<int64_t>(c.spill_count))
            values.push_back(<int64_t>(c.restore_count))
            values.push_back(<int64_t>(c.warm_limit))
            values.push_back(<int64_t>(c.allocs.size()))
            pthread_mutex_unlock(&c.mu)
        return dict(zip(STATS_FIELDS, values, strict=True))
