# Cancellation and worker death: cancelling a task (and its children),
# and what happens to a worker's tasks, references and pins when its process
# ends.


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
    signal_cancel(w.pid, t.id)


cdef void signal_cancel(int pid, uint64_t tid) noexcept nogil:
    cdef sigval target
    target.sival_ptr = <void *>tid
    if pid > 0:
        sigqueue(pid, SIGRTMIN, target)


cdef void cancel_task(Core *c, uint64_t tid, uint32_t flags) noexcept nogil:
    """Cancels task tid (and, with FR_CANCEL_RECURSIVE, its children): a
    running task is interrupted (killed with FR_CANCEL_FORCE) and fails when
    its worker reports back; a queued, ready or waiting one fails now."""
    cdef Task *t = find_task(c, tid)
    cdef vector[uint64_t] children
    cdef size_t i
    cdef Worker *w
    cdef char text[160]
    if t == NULL or t.cancelled:
        return
    if t.actor != 0:
        cancel_actor_call(c, t)
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
        take_from_line(c, t)
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
    release_task_demand(c, t)
    if not t.cancelled and t.retries_left != 0:
        if t.retries_left > 0:
            t.retries_left -= 1
        c.retries += 1
        t.state = TASK_READY
        enqueue_ready(c, t, True)
        return
    fn = c.functions.find(t.fn_id)
    if fn != c.functions.end():
        name = deref(fn).second.name.c_str()
    describe_exit(pid, status, text, sizeof(text), t.id, name)
    fail_task_text(c, t, FR_PAYLOAD_CRASHED, text)


cdef void fail_unset_promise(Core *c, uint64_t oid) noexcept nogil:
    """A promise the dead worker held and had not set fails: whoever waits
    for it learns that its writer is gone (a generator's caller then looks
    for the stream of the task's next attempt)."""
    cdef Obj *o = find_obj(c, oid)
    cdef vector[uint64_t] nothing
    cdef string payload
    if o != NULL and o.promise and o.state == FR_OBJ_PENDING:
        payload = text_payload(FR_PAYLOAD_CRASHED,
                               "the worker process that was to set this value died")
        set_object(c, oid, payload, nothing)
        o.retrieved = True  # not a task's error: nothing to report when it goes


cdef void worker_gone(Core *c, Worker *w, uint32_t status) noexcept nogil:
    """A worker process ended: retry or fail its tasks, drop what it held,
    and keep the pool at its size."""
    cdef Task *t = w.task
    cdef unordered_map[uint64_t, int32_t] held
    cdef unordered_map[uint64_t, int32_t].iterator it
    cdef vector[pair[TaskPtr, RequestPtr]] frames
    cdef size_t i
    cdef uint64_t actor = w.actor
    cdef Task *t_queued
    close_socket(c, w)
    w.actor = 0
    for i in range(w.requests.size()):
        drop_request(c, w.requests[i])
    w.requests.clear()
    if w.request != NULL:
        drop_request(c, w.request)
        w.request = NULL
    elif t != NULL:
        give_cpus(c, t.pool, t.cpu_milli)
    w.task = NULL
    w.state = W_DEAD
    c.workers_died += 1
    frames.swap(w.suspended)
    while not w.queued.empty():
        # Never started: back to the front of the line, no retry used.
        w.queued.back().state = TASK_READY
        w.queued.back().worker = -1
        w.queued.back().attempts -= 1
        t_queued = w.queued.back()
        w.queued.pop_back()
        enqueue_ready(c, t_queued, True)
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
        fail_unset_promise(c, deref(it).first)
        decref(c, deref(it).first, deref(it).second)
        inc(it)
    w.known_fns.clear()
    w.in_.clear()
    w.out.clear()
    w.out_pos = 0
    if actor != 0:
        actor_process_gone(c, actor, w.slot, w.pid, status)
    elif live_workers(c) < c.min_workers:
        spawn_worker(c)
    schedule(c)
