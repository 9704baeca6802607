# Workers and dispatch: starting workers (through the spawner), sending a
# ready task to an idle worker, queueing quick tasks behind busy ones, and
# running tasks on top of workers blocked in a wait.


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
        if w.want_write:
            w.want_write = False
            watch_socket(c, w, EPOLL_CTL_MOD)
    elif not w.want_write:
        w.want_write = True
        watch_socket(c, w, EPOLL_CTL_MOD)
        wake(c)


cdef void watch_socket(Core *c, Worker *w, int op) noexcept nogil:
    """Adds w's socket to workers_ep (op EPOLL_CTL_ADD), or updates what it
    is watched for (EPOLL_CTL_MOD): reading, and writing while output waits.
    The event carries the slot and the socket, checked when it comes."""
    cdef epoll_event ev
    if w.fd < 0:
        return
    ev.events = EPOLLIN | (EPOLLOUT if w.want_write else 0)
    ev.data.u64 = (<uint64_t>w.slot << 32) | <uint32_t>w.fd
    epoll_ctl(c.workers_ep, op, w.fd, &ev)


cdef void close_socket(Core *c, Worker *w) noexcept nogil:
    """Closes w's socket, out of workers_ep first (a copy of it in a forked
    process would keep it there)."""
    if w.fd < 0:
        return
    epoll_ctl(c.workers_ep, EPOLL_CTL_DEL, w.fd, NULL)
    close(w.fd)
    w.fd = -1
    w.want_write = False


cdef void end_worker(Core *c, Worker *w) noexcept nogil:
    """Ends w's process by ending its socket (shutdown, not only close: the
    process sees the end at once even if a copy of this end lives on
    somewhere); the spawner reports its exit."""
    shutdown(w.fd, SHUT_RDWR)
    close_socket(c, w)
    w.state = W_EXITING
    if c.spawner_lost:
        worker_gone(c, w, 0)


cdef Worker *spawn_worker(Core *c, bint for_actor=False) noexcept nogil:
    """Asks the spawner for a new worker connected by a fresh socketpair;
    for_actor: the process will host an actor."""
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
    h.type = FR_SPAWN_ACTOR if for_actor else FR_SPAWN
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
    w.actor = 0
    w.env = 0
    w.env_fixed = False
    w.gpus = 0
    w.requests.clear()
    w.in_.clear()
    w.out.clear()
    w.out_pos = 0
    w.want_write = False
    watch_socket(c, w, EPOLL_CTL_ADD)
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


cdef Worker *idle_worker(Core *c, uint64_t env, uint64_t gpus) noexcept nogil:
    """An idle worker for a task of runtime_env env on the devices of gpus:
    one that serves them already, else one that has run nothing yet."""
    cdef size_t i
    cdef Worker *blank = NULL
    cdef Worker *w
    for i in range(c.workers.size()):
        w = c.workers[i]
        if w.state == W_IDLE:
            if w.env_fixed and w.env == env and w.gpus == gpus:
                return w
            if not w.env_fixed and blank == NULL:
                blank = w
    return blank


cdef bint make_room_for(Core *c, uint64_t env, uint64_t gpus) noexcept nogil:
    """The pool is at its largest and no idle worker serves env and gpus:
    ends an idle worker of another runtime_env or other devices, so that a
    new one can start (as Ray does).  False if there is none."""
    cdef size_t i
    cdef Worker *w
    for i in range(c.workers.size()):
        w = c.workers[i]
        if (w.state == W_IDLE and w.env_fixed and (w.env != env or w.gpus != gpus)
                and w.fd >= 0):
            end_worker(c, w)
            return True
    return False


cdef void dispatch(Core *c, Task *t, Worker *w) noexcept nogil:
    """Starts t on an idle worker, which serves t's runtime_env and devices
    from now on."""
    if not w.env_fixed:
        bind_worker(c, w, t.env, t.gpus)
    if send_task(c, t, w, 0):
        mark_running(c, t, w)


cdef void mark_running(Core *c, Task *t, Worker *w) noexcept nogil:
    t.state = TASK_RUNNING
    t.started_ns = now_ns()
    w.task = t
    w.state = W_BUSY
    take_cpus(c, t.pool, t.cpu_milli)
    if t.demand != 0:
        take_task_demand(c, t)


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
                    and w.env == t.env and w.gpus == 0
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
            enqueue_ready(c, t, True)


cdef void schedule(Core *c) noexcept nogil:
    """Hands ready tasks to idle workers while CPUs are free.  A worker
    blocked in get gives its CPU back, so a new worker may be started for
    the next task, up to max_workers."""
    cdef Task *t
    cdef Worker *w
    if not c.pending_pools.empty():
        reserve_pools(c)
    if not c.unplaced.empty():
        place_waiting_actors(c)
    if not c.pools.empty():
        schedule_pools(c)
    if c.gated:
        schedule_gated(c)
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
        w = idle_worker(c, t.env, 0)
        if w == NULL:
            # The task waits for a new worker to report in (one at a time).
            if live_workers(c) < c.max_workers:
                if not starting_worker(c):
                    spawn_worker(c)
            elif not make_room_for(c, t.env, 0):
                help_blocked_workers(c)
            return
        c.ready.pop_front()
        dispatch(c, t, w)


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
            if t == NULL or t.state != TASK_READY or t.env != w.env or w.gpus != 0:
                continue
            if not cpus_fit(c, t.pool, t.cpu_milli):
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
