# What the scheduler does with each kind of frame a worker sends: one handler
# per kind (on_result, on_submit, ...), chosen by handle_frame.


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
        take_cpus(c, w.task.pool, w.task.cpu_milli)


cdef void handle_frame(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    """Hands one complete frame from worker w to the handler of its kind;
    a kind a worker does not send is ignored."""
    if h.type == FR_RESULT:
        on_result(c, w, h, cur)
    elif h.type == FR_SUBMIT:
        on_submit(c, w, h, cur)
    elif h.type == FR_DEFINE:
        on_define(c, h, cur)
    elif h.type == FR_PUT:
        on_put(c, w, h, cur)
    elif h.type == FR_WAIT:
        on_wait(c, w, h, cur)
    elif h.type == FR_WAIT_CANCEL:
        on_wait_cancel(c, w, h)
    elif h.type == FR_REFS:
        on_refs(c, w, cur)
    elif h.type == FR_ALLOC:
        on_alloc(c, w, h, cur)
    elif h.type == FR_CANCEL:
        on_cancel(c, h)
    elif h.type == FR_ACTOR_OP:
        on_actor_op(c, w, h, cur)
    elif h.type == FR_PUT_MANY:
        on_put_many(c, w, cur)
    elif h.type == FR_PROMISE:
        if h.b <= 1 << 20:
            make_promises(c, w, h.a, h.b)


cdef void on_result(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    """FR_RESULT: w's task ended (a = task id, b = status).  The worker
    takes its next queued or suspended task; the task is retried, failed
    as cancelled, or its return values are stored and it is released."""
    cdef Task *t = w.task
    if w.actor != 0:
        on_actor_result(c, w, h, cur)
        return
    if t == NULL or t.id != h.a:
        return
    w.task = NULL
    w.state = W_IDLE
    give_cpus(c, t.pool, t.cpu_milli)
    release_task_demand(c, t)
    t.worker = -1
    note_duration(c, t)
    if not w.queued.empty():
        mark_running(c, w.queued.front(), w)
        w.queued.pop_front()
    elif not w.suspended.empty():
        resume_suspended(c, w)
    if h.b == FR_STATUS_INTERRUPTED:
        fail_task_text(c, t, FR_PAYLOAD_INTERRUPTED, "the task was cancelled while it ran")
    elif h.b == FR_STATUS_RETRYABLE_ERROR and t.retries_left != 0 and not t.cancelled:
        if t.retries_left > 0:
            t.retries_left -= 1
        c.retries += 1
        t.state = TASK_READY
        enqueue_ready(c, t, False)
    else:
        store_returns(c, t, cur)
        if h.b != FR_STATUS_OK:
            c.tasks_failed += 1
            t.outcome = TASK_FAILED
        elif t.attempts > 1:
            c.retried_then_succeeded += 1
        release_task(c, t)
    schedule(c)


cdef void store_returns(Core *c, Task *t, Cursor *cur) noexcept nogil:
    """The return values in an FR_RESULT body (u32 count, then per value
    u64 length, payload, ids it contains) become t's objects."""
    cdef uint32_t n = get_u32(cur)
    cdef uint32_t i
    cdef size_t k
    cdef string payload
    cdef vector[uint64_t] contains
    for i in range(n):
        get_bytes(cur, get_u64(cur), payload)
        contains.clear()
        get_ids(cur, contains)
        if cur.bad or i >= t.num_returns:
            break
        for k in range(contains.size()):
            incref(c, contains[k], 1)
        set_object(c, t.id + i, payload, contains)


cdef void on_submit(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    """FR_SUBMIT: a task submitted from inside w's task (a = task id,
    b = function id), a child of that task."""
    cdef Task *t = new Task()
    t.id = h.a
    t.fn_id = h.b
    t.num_returns = get_u32(cur)
    t.cpu_milli = get_u32(cur)
    t.retries_left = <int32_t>get_u32(cur)
    t.actor = get_u64(cur)
    t.pool = get_u64(cur)
    t.env = get_u64(cur)
    t.demand = get_u32(cur)
    get_ids(cur, t.deps)
    get_ids(cur, t.contained)
    if cur.bad or (t.demand != 0 and demand_of(c, t.demand) == NULL):
        del t
        return
    t.args.assign(cur.p, cur.end - cur.p)
    if w.task != NULL and t.actor == 0:
        t.parent = w.task.id
    add_task(c, t, w)
    schedule(c)


cdef void on_define(Core *c, fr_header *h, Cursor *cur) noexcept nogil:
    """FR_DEFINE: a function's name and pickle (a = function id); the first
    definition wins."""
    cdef uint32_t n
    cdef Function *fn
    if c.functions.count(h.a) == 0:
        n = get_u32(cur)
        fn = &c.functions[h.a]
        get_bytes(cur, n, fn.name)
        fn.blob.assign(cur.p, cur.end - cur.p)


cdef void on_put(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    """FR_PUT: a value w stored (a = object id), held by w; or the value of
    an unset promise."""
    cdef vector[uint64_t] contains
    cdef string payload
    get_ids(cur, contains)
    if cur.bad:
        return
    payload.assign(cur.p, cur.end - cur.p)
    store_put(c, w, h.a, payload, contains)


cdef void on_put_many(Core *c, Worker *w, Cursor *cur) noexcept nogil:
    """FR_PUT_MANY: several values w stored, each as by FR_PUT."""
    cdef uint32_t n = get_u32(cur)
    cdef uint32_t i
    cdef uint64_t oid
    cdef vector[uint64_t] contains
    cdef string payload
    for i in range(n):
        oid = get_u64(cur)
        contains.clear()
        get_ids(cur, contains)
        get_bytes(cur, get_u64(cur), payload)
        if cur.bad or payload.empty():
            return
        store_put(c, w, oid, payload, contains)


cdef void store_put(Core *c, Worker *w, uint64_t oid, string &payload,
                    vector[uint64_t] &contains) noexcept nogil:
    """A put value: a new object with one reference held by w (the driver
    if NULL), or, for the id of an unset promise, its value.  Any other id
    that exists already is left as it is."""
    cdef Obj *o = find_obj(c, oid)
    cdef size_t i
    if o != NULL and not (o.promise and o.state == FR_OBJ_PENDING):
        return
    for i in range(contains.size()):
        incref(c, contains[i], 1)
    if o != NULL:
        set_object(c, oid, payload, contains)
        return
    o = new_obj(c, oid, 1)
    if w != NULL:
        hold(w, oid, 1)
    o.contains.swap(contains)
    o.payload.swap(payload)
    o.state = FR_OBJ_READY if <uint8_t>o.payload[0] == FR_PAYLOAD_VALUE else FR_OBJ_FAILED


cdef void make_promises(Core *c, Worker *w, uint64_t first, uint64_t count) noexcept nogil:
    """FR_PROMISE: unset objects first .. first+count-1, each held once by w
    (the driver if NULL); ids in use already are skipped."""
    cdef uint64_t oid
    cdef Obj *o
    for oid in range(first, first + count):
        if find_obj(c, oid) != NULL:
            continue
        o = new_obj(c, oid, 1)
        o.promise = True
        if w != NULL:
            hold(w, oid, 1)


cdef void on_wait(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    """FR_WAIT: w blocks until b of the objects are ready (a = request id).
    Its CPU is free meanwhile, so another task may run."""
    cdef uint32_t flags = get_u32(cur)
    cdef vector[uint64_t] ids
    cdef Request *r
    get_ids(cur, ids)
    if cur.bad:
        return
    if w.actor != 0:
        # An actor's threads or coroutines may each wait; it holds no CPU to lend.
        r = open_request(c, w.slot, h.a, <uint32_t>h.b, flags, ids)
        w.requests.push_back(r)
        if r.done and answer_request(c, r):
            del r
        return
    if w.request != NULL:
        return
    # Blocked, w must not sit on queued tasks: another worker (or w
    # itself, on top of the wait) may be what they are waiting for.
    revoke_queued(c, w, NULL)
    r = open_request(c, w.slot, h.a, <uint32_t>h.b, flags, ids)
    w.request = r
    if w.task != NULL:
        give_cpus(c, w.task.pool, w.task.cpu_milli)
    if r.done and answer_request(c, r):
        del r
    else:
        schedule(c)


cdef void on_wait_cancel(Core *c, Worker *w, fr_header *h) noexcept nogil:
    """FR_WAIT_CANCEL: w stops waiting (a = request id) and is answered with
    the states as they are."""
    cdef Request *r = w.request
    cdef size_t i
    for i in range(w.requests.size()):
        if w.requests[i].req_id == h.a:
            r = w.requests[i]
    if r != NULL and r.req_id == h.a and not r.parked:
        if answer_request(c, r):
            del r


cdef void on_refs(Core *c, Worker *w, Cursor *cur) noexcept nogil:
    """FR_REFS: references w took and dropped, and blob views it released."""
    cdef vector[uint64_t] taken
    cdef vector[uint64_t] dropped
    cdef vector[uint64_t] unpins
    cdef size_t i
    get_ids(cur, taken)
    get_ids(cur, dropped)
    get_ids(cur, unpins)
    if cur.bad:
        return
    for i in range(taken.size()):
        incref(c, taken[i], 1)
        hold(w, taken[i], 1)
    for i in range(dropped.size()):
        hold(w, dropped[i], -1)
        decref(c, dropped[i], 1)
    for i in range(unpins.size()):
        unpin(c, unpins[i], 1, w)


cdef void on_alloc(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    """FR_ALLOC: w asks for blobs (a = request id; body: count, then id and
    size of each); answered now or by the store thread once room is made."""
    cdef Alloc *a = new Alloc()
    cdef uint32_t n, i
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


cdef void on_cancel(Core *c, fr_header *h) noexcept nogil:
    """FR_CANCEL: cancel the task that returns object a (b = CANCEL_* flags)."""
    cdef Task *t = owning_task(c, h.a)
    if t != NULL:
        cancel_task(c, t.id, <uint32_t>h.b)
    schedule(c)


cdef void on_actor_op(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    """FR_ACTOR_OP: create, kill or look up an actor (a = request id,
    b = operation), answered by FR_REPLY (b = status)."""
    cdef string answer
    cdef uint32_t status = actor_op(c, <uint32_t>h.b, cur, w, answer)
    put_header(w.out, <uint32_t>answer.size(), FR_REPLY, h.a, status)
    w.out.append(answer)
    flush(c, w)
    schedule(c)
