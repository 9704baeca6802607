# The core bookkeeping, all under Core::mu: taking in submissions, objects
# and their reference counts, requests (waits on objects, by workers and by
# the driver), and a task's lifecycle from add_task to release_task.


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
    cdef uint64_t anchor = 0
    if o.refs > 0 or (o.state == FR_OBJ_PENDING and not o.promise):
        return
    if o.anchor:
        anchor = o.id
    if o.blob:
        drop_blob(c, o)
    elif (o.state == FR_OBJ_FAILED and not o.retrieved
          and <uint8_t>o.payload[0] != FR_PAYLOAD_CANCELLED
          and <uint8_t>o.payload[0] != FR_PAYLOAD_INTERRUPTED):
        # Like Ray, an error nobody looked at is reported when it goes.
        c.unhandled.push_back(o.payload)
    contained.swap(o.contains)
    c.objects.erase(o.id)
    del o
    for i in range(contained.size()):
        decref(c, contained[i], 1)
    if anchor != 0:
        actor_anchor_gone(c, anchor)


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


cdef void forget_parked_request(Core *c, Request *r) noexcept nogil:
    cdef size_t i
    for i in range(c.parked_requests.size()):
        if c.parked_requests[i] == r:
            c.parked_requests.erase(c.parked_requests.begin() + i)
            return


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
            take_cpus(c, w.task.pool, w.task.cpu_milli)
    elif w.actor != 0:
        for i in range(w.requests.size()):
            if w.requests[i] == r:
                w.requests.erase(w.requests.begin() + i)
                break
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
    e.actor = t.actor
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
    if t.actor != 0 and (t.state == TASK_WAITING or t.state == TASK_READY):
        actor_call_released(c, t)
    for i in range(t.deps.size()):
        decref(c, t.deps[i], 1)
    for i in range(t.contained.size()):
        decref(c, t.contained[i], 1)
    release_task_demand(c, t)
    c.tasks.erase(t.id)
    c.tasks_finished += 1
    del t


cdef int outcome_of(uint8_t payload_kind) noexcept nogil:
    if payload_kind == FR_PAYLOAD_CANCELLED or payload_kind == FR_PAYLOAD_INTERRUPTED:
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
    cdef Actor *a
    cdef uint64_t aid = t.actor
    for i in range(t.deps.size()):
        o = find_obj(c, t.deps[i])
        if o.state == FR_OBJ_FAILED:
            # The error goes on in t's results.  A copy: failing t unpins o,
            # which may free it.
            o.retrieved = True
            error = o.payload
            fail_task(c, t, error)
            if aid != 0:
                # The actor's next call may have waited behind this one.
                a = find_actor(c, aid)
                if a != NULL:
                    actor_pump(c, a)
            return
    if aid != 0:
        actor_call_ready(c, t)
        return
    t.state = TASK_READY
    enqueue_ready(c, t, False)


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
    if t.actor != 0 and not t.creation and not actor_accepts(c, t):
        return
    if t.missing == 0:
        dependencies_done(c, t)
