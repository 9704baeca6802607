# Actors: each lives in a process of its own (a worker outside the task
# pool) that runs its calls in the order they were submitted.  Its calls are
# tasks with an actor id: they wait in the actor's line instead of the ready
# queue, and are sent ahead to its process as soon as their inputs are there.
# A handle is a reference to the actor's anchor object, so handles are
# counted like ObjectRefs across processes and stored values; when the
# anchor goes, the actor ends once its calls are done.


cdef Actor *find_actor(Core *c, uint64_t aid) noexcept nogil:
    cdef unordered_map[uint64_t, Actor *].iterator it = c.actors.find(aid)
    if it == c.actors.end():
        return NULL
    return deref(it).second


cdef string died_payload(Actor *a, const string &cause) noexcept nogil:
    cdef string text = string(b"The actor ") + a.class_name + string(b" died: ") + cause
    return text_payload(FR_PAYLOAD_ACTOR_DIED, text.c_str())


cdef string unavailable_payload(Actor *a, const string &cause) noexcept nogil:
    """What a call in flight gets when the actor's process dies and the actor
    restarts without retrying it (as Ray: ActorUnavailableError)."""
    cdef string text = (string(b"The actor ") + a.class_name + string(b" is unavailable: ")
                        + cause + string(b"; it is restarting, and this call was not retried "
                                         b"(max_task_retries)"))
    return text_payload(FR_PAYLOAD_ACTOR_UNAVAILABLE, text.c_str())


cdef uint32_t actor_op(Core *c, uint32_t op, Cursor *cur, Worker *caller,
                       string &answer) noexcept nogil:
    """One FR_ACTOR_OP operation, from the driver (caller NULL) or a worker."""
    cdef string key
    cdef uint64_t aid
    cdef Actor *a
    if op == FR_ACTOR_CREATE:
        return create_actor(c, cur, caller, answer)
    if op == FR_ACTOR_KILL:
        aid = get_u64(cur)
        return kill_actor(c, aid, get_u32(cur) != 0)
    if op == FR_ACTOR_LOOKUP:
        get_bytes(cur, get_u32(cur), key)
        a = named_actor(c, key)
        if a == NULL:
            return FR_ACTOR_STATUS_UNKNOWN
        put_handle(c, a.id, answer)
        return FR_ACTOR_STATUS_OK
    if op == FR_ACTOR_NAMES:
        put_names(c, answer)
        return FR_ACTOR_STATUS_OK
    if op == FR_POOL_CREATE or op == FR_POOL_REMOVE:
        return pool_op(c, op, cur)
    if op == FR_DEMAND_ADD:
        return add_demand(c, cur, answer)
    return FR_ACTOR_STATUS_UNKNOWN


cdef Actor *named_actor(Core *c, const string &key) noexcept nogil:
    cdef unordered_map[string, uint64_t].iterator it = c.actor_names.find(key)
    cdef Actor *a
    if it == c.actor_names.end():
        return NULL
    a = find_actor(c, deref(it).second)
    if a == NULL or a.state == A_DEAD:
        return NULL
    return a


cdef void put_handle(Core *c, uint64_t aid, string &answer) noexcept nogil:
    """u64 id and the handle payload kept in the actor's anchor object."""
    cdef Obj *o = find_obj(c, aid)
    put_u64(answer, aid)
    if o != NULL:
        answer.append(o.payload)


cdef void put_names(Core *c, string &answer) noexcept nogil:
    cdef vector[string] keys
    cdef size_t i
    for kv in c.actor_names:
        if named_actor(c, kv.first) != NULL:
            keys.push_back(kv.first)
    put_u32(answer, <uint32_t>keys.size())
    for i in range(keys.size()):
        put_u32(answer, <uint32_t>keys[i].size())
        answer.append(keys[i])


cdef uint32_t create_actor(Core *c, Cursor *cur, Worker *caller, string &answer) noexcept nogil:
    """Registers an actor and starts its process (once CPUs are free, if it
    holds any).  Its anchor starts with one reference, the creator's."""
    cdef uint64_t aid = get_u64(cur)
    cdef uint64_t class_fn = get_u64(cur)
    cdef uint32_t cpu_milli = get_u32(cur)
    cdef int32_t max_restarts = <int32_t>get_u32(cur)
    cdef uint32_t flags = get_u32(cur)
    cdef uint32_t sent_ahead = get_u32(cur)
    cdef uint64_t pool = get_u64(cur)
    cdef uint32_t demand = get_u32(cur)
    cdef string key
    cdef string payload
    cdef Actor *a
    cdef Actor *existing
    cdef Obj *o
    cdef size_t i
    cdef unordered_map[uint64_t, Function].iterator fn
    get_bytes(cur, get_u32(cur), key)
    get_bytes(cur, get_u32(cur), payload)
    a = new Actor()
    get_ids(cur, a.spec.deps)
    get_ids(cur, a.spec.contained)
    if cur.bad or find_obj(c, aid) != NULL or (demand != 0 and demand_of(c, demand) == NULL):
        del a
        return FR_ACTOR_STATUS_UNKNOWN
    a.spec.args.assign(cur.p, cur.end - cur.p)
    if flags & FR_ACTOR_NAMED:
        existing = named_actor(c, key)
        if existing != NULL:
            del a
            put_handle(c, existing.id, answer)
            return FR_ACTOR_STATUS_EXISTS
        c.actor_names[key] = aid
        a.name_key = key
    o = new_obj(c, aid, 1)
    o.anchor = True
    o.payload.swap(payload)
    o.state = FR_OBJ_READY
    if caller != NULL:
        hold(caller, aid, 1)
    a.id = aid
    a.cpu_milli = cpu_milli
    a.pool = pool
    a.demand = demand
    a.restarts_left = max_restarts
    a.pinned = (flags & (FR_ACTOR_NAMED | FR_ACTOR_DETACHED)) != 0
    a.sequential = (flags & FR_ACTOR_SEQUENTIAL) != 0
    a.sent_ahead = sent_ahead if sent_ahead > 0 else 1
    if a.pinned:
        o.refs += 1
    fn = c.functions.find(class_fn)
    if fn != c.functions.end():
        a.class_name = deref(fn).second.name
    a.spec.id = aid
    a.spec.fn_id = class_fn
    a.spec.num_returns = 0
    a.spec.cpu_milli = 0
    a.spec.actor = aid
    a.spec.creation = True
    # The constructor's inputs stay alive for restarts, as long as the actor.
    for i in range(a.spec.deps.size()):
        incref(c, a.spec.deps[i], 1)
    for i in range(a.spec.contained.size()):
        incref(c, a.spec.contained[i], 1)
    c.actors[aid] = a
    if not actor_fits(c, a):
        c.unplaced.push_back(a)
    else:
        place_actor(c, a)
    return FR_ACTOR_STATUS_OK


cdef void place_actor(Core *c, Actor *a) noexcept nogil:
    take_cpus(c, a.pool, a.cpu_milli)
    move_actor_demand(c, a, 1)
    a.state = A_ALIVE
    start_actor_process(c, a)


cdef void place_waiting_actors(Core *c) noexcept nogil:
    """Actors that hold CPUs start in order as CPUs come free: in the order
    they were made, within the general pool and within each group."""
    cdef Actor *a
    cdef size_t i = 0
    cdef unordered_set[uint64_t] blocked
    while i < c.unplaced.size():
        a = c.unplaced[i]
        if blocked.count(a.pool) or not actor_fits(c, a):
            blocked.insert(a.pool)
            i += 1
            continue
        c.unplaced.erase(c.unplaced.begin() + i)
        place_actor(c, a)


cdef void start_actor_process(Core *c, Actor *a) noexcept nogil:
    """A new process for the actor; its constructor is the first call sent."""
    cdef Worker *w = spawn_worker(c, True)
    cdef Task *t
    if w == NULL:
        actor_dies(c, a, died_payload(a, string(b"no process could be started for it "
                                                b"(the runtime is stopping, or the spawner "
                                                b"exited)")))
        return
    w.state = W_ACTOR
    w.actor = a.id
    bind_worker(c, w, 0, a.gpus)
    a.worker = w.slot
    a.pid = 0
    t = new Task()
    t[0] = a.spec
    a.waiting.push_front(t)
    add_task(c, t, NULL)


cdef bint actor_accepts(Core *c, Task *t) noexcept nogil:
    """Puts a new call in its actor's line; fails it if the actor is gone."""
    cdef Actor *a = find_actor(c, t.actor)
    if a == NULL:
        fail_task_text(c, t, FR_PAYLOAD_ACTOR_DIED,
                       "The actor died: it no longer exists (its last handle went away)")
        return False
    if a.state == A_DEAD:
        fail_task(c, t, a.death)
        return False
    a.waiting.push_back(t)
    return True


cdef void actor_call_ready(Core *c, Task *t) noexcept nogil:
    cdef Actor *a = find_actor(c, t.actor)
    t.state = TASK_READY
    if a != NULL:
        actor_pump(c, a)


cdef void actor_call_released(Core *c, Task *t) noexcept nogil:
    """A call that ended before it was sent leaves its actor's line."""
    cdef Actor *a = find_actor(c, t.actor)
    cdef size_t i
    if a == NULL:
        return
    for i in range(a.waiting.size()):
        if a.waiting[i] == t:
            a.waiting.erase(a.waiting.begin() + i)
            return


cdef void actor_pump(Core *c, Actor *a) noexcept nogil:
    """Sends the actor's calls whose inputs are there, in order, up to the
    first that still waits and at most sent_ahead at a time (the rest go as
    results come back, many to a send); ends an actor nobody can call any
    more once its calls are done."""
    cdef Worker *w
    cdef Task *t
    cdef bint ready
    if a.state == A_DEAD or a.state == A_PENDING or a.worker < 0:
        return
    w = c.workers[a.worker]
    if w.state != W_ACTOR or w.fd < 0:
        return
    a.stalled = False
    while not a.waiting.empty() and a.sent.size() < a.sent_ahead:
        t = a.waiting.front()
        if t.state != TASK_READY:
            break
        # Both checks run, so every read-back from disk a call needs starts at once.
        ready = values_in_memory(c, t.deps)
        if not blobs_in_memory(c, t.contained) or not ready:
            a.stalled = True
            break
        a.waiting.pop_front()
        t.state = TASK_RUNNING
        if send_task(c, t, w, FR_TASK_ACTOR_CREATE if t.creation else 0):
            if a.sent.empty():
                t.started_ns = now_ns()
            a.sent.push_back(t)
    if a.waiting.empty() and a.sent.empty() and a.anchor_gone and not a.pinned:
        end_actor_process(c, a, False, True,
                          string(b"all references to it went out of scope, and its calls "
                                 b"were done"))


cdef void pump_stalled_actors(Core *c) noexcept nogil:
    """Blobs were read back: actors whose next call waited for them go on."""
    for kv in c.actors:
        if kv.second.stalled:
            actor_pump(c, kv.second)


cdef Task *take_sent(Actor *a, uint64_t tid) noexcept nogil:
    cdef size_t i
    cdef Task *t
    for i in range(a.sent.size()):
        t = a.sent[i]
        if t.id == tid:
            a.sent.erase(a.sent.begin() + i)
            return t
    return NULL


cdef void on_actor_result(Core *c, Worker *w, fr_header *h, Cursor *cur) noexcept nogil:
    """FR_RESULT from an actor's process: a call (or its constructor) ended."""
    cdef Actor *a = find_actor(c, w.actor)
    cdef Task *t
    cdef uint64_t aid = w.actor
    cdef string payload
    if a == NULL:
        return
    t = take_sent(a, h.a)
    if t == NULL:
        return
    t.worker = -1
    a.calls_done += 1
    if not a.sent.empty() and a.sent.front().started_ns < t.started_ns:
        a.sent.front().started_ns = now_ns()
    if t.creation:
        if h.b == FR_STATUS_OK:
            if a.state == A_RESTARTING:
                a.state = A_ALIVE
            release_task(c, t)
        else:
            # Like Ray, a constructor that raised is not run again.
            if get_u32(cur) > 0:
                get_bytes(cur, get_u64(cur), payload)
            if cur.bad or payload.empty() or <uint8_t>payload[0] != FR_PAYLOAD_ACTOR_DIED:
                payload = died_payload(a, string(b"its constructor failed"))
            t.outcome = TASK_FAILED
            c.tasks_failed += 1
            release_task(c, t)
            a.no_restart = True
            actor_dies(c, a, payload)
            schedule(c)
            return
    elif h.b == FR_STATUS_ACTOR_EXIT:
        a.no_restart = True
        a.ending = True
        a.ending_cause = string(b"it exited intentionally (exit_actor() or "
                                b"__ray_terminate__)")
        fail_task(c, t, died_payload(a, a.ending_cause))
    elif h.b == FR_STATUS_INTERRUPTED:
        fail_task_text(c, t, FR_PAYLOAD_INTERRUPTED, "the actor call was cancelled while it ran")
    elif t.cancelled:
        fail_task_text(c, t, FR_PAYLOAD_CANCELLED, "the actor call was cancelled")
    elif h.b == FR_STATUS_RETRYABLE_ERROR and t.retries_left != 0:
        if t.retries_left > 0:
            t.retries_left -= 1
        c.retries += 1
        t.state = TASK_READY
        a.waiting.push_front(t)
    else:
        store_returns(c, t, cur)
        if h.b != FR_STATUS_OK:
            c.tasks_failed += 1
            t.outcome = TASK_FAILED
        release_task(c, t)
    a = find_actor(c, aid)
    if a != NULL:
        actor_pump(c, a)
    # Tasks waiting for the call's results may be ready now.
    schedule(c)


cdef void end_actor_process(Core *c, Actor *a, bint force, bint for_good,
                            const string &cause) noexcept nogil:
    """Stops the actor's process: at once (SIGKILL) or by closing its socket,
    which it reads as the end.  What follows is decided when it is gone."""
    cdef Worker *w
    if for_good:
        a.ending = True
    a.ending_cause = cause
    if a.worker < 0:
        return
    w = c.workers[a.worker]
    if w.actor != a.id:
        return
    if force and w.pid > 0:
        kill(w.pid, SIGKILL)
    if w.fd >= 0:
        end_worker(c, w)


cdef uint32_t kill_actor(Core *c, uint64_t aid, bint restart) noexcept nogil:
    cdef Actor *a = find_actor(c, aid)
    cdef string cause
    if a == NULL or a.state == A_DEAD:
        return FR_ACTOR_STATUS_UNKNOWN
    if restart:
        end_actor_process(c, a, True, False,
                          string(b"it was killed by kill(no_restart=False)"))
        return FR_ACTOR_STATUS_OK
    a.no_restart = True
    cause = string(b"it was killed by kill()")
    # Its name is free at once, as in Ray.
    forget_name(c, a)
    if a.state == A_PENDING:
        actor_dies(c, a, died_payload(a, cause))
    else:
        end_actor_process(c, a, True, True, cause)
    return FR_ACTOR_STATUS_OK


cdef void forget_name(Core *c, Actor *a) noexcept nogil:
    cdef unordered_map[string, uint64_t].iterator it
    if a.name_key.empty():
        return
    it = c.actor_names.find(a.name_key)
    if it != c.actor_names.end() and deref(it).second == a.id:
        c.actor_names.erase(it)


cdef void describe_actor_exit(int pid, uint32_t status, string &cause) noexcept nogil:
    cdef char text[200]
    cdef int sig = status & 0x7f
    if sig == 0:
        snprintf(text, sizeof(text), "its process (pid %d) exited with code %d", pid,
                 (status >> 8) & 0xff)
    elif sig == SIGKILL:
        snprintf(text, sizeof(text), "its process (pid %d) was killed by signal 9 (SIGKILL: "
                 "out of memory, or killed from outside)", pid)
    else:
        snprintf(text, sizeof(text), "its process (pid %d) was killed by signal %d (a crash "
                 "in native code?)", pid, sig)
    cause = string(<const char *>text)


cdef void actor_process_gone(Core *c, uint64_t aid, int slot, int pid,
                             uint32_t status) noexcept nogil:
    """An actor's process ended: its calls in flight are retried on a new
    process (max_task_retries) or fail, and the actor restarts
    (max_restarts) or dies."""
    cdef Actor *a = find_actor(c, aid)
    cdef deque[Task *] sent
    cdef string cause
    cdef string payload
    cdef Task *t
    cdef bint restart
    cdef bint constructing
    cdef size_t i
    if a == NULL or a.worker != slot:
        return
    a.worker = -1
    a.pid = pid
    a.unsignalled.clear()
    sent.swap(a.sent)
    # Calls sent behind a constructor that did not finish never started.
    constructing = not sent.empty() and sent.front().creation
    if not a.ending_cause.empty():
        cause = a.ending_cause
    else:
        describe_actor_exit(pid, status, cause)
    a.ending_cause.clear()
    restart = (not a.no_restart and not a.ending and a.restarts_left != 0
               and a.state != A_DEAD and not c.stopping and not c.spawner_lost)
    payload = unavailable_payload(a, cause) if restart else died_payload(a, cause)
    for i in range(sent.size()):
        t = sent[sent.size() - 1 - i]
        t.worker = -1
        if t.creation:
            t.outcome = TASK_CRASHED
            release_task(c, t)
        elif restart and (t.retries_left != 0 or constructing) and not t.cancelled:
            if not constructing:
                if t.retries_left > 0:
                    t.retries_left -= 1
                c.retries += 1
            t.state = TASK_READY
            a.waiting.push_front(t)
        else:
            fail_task(c, t, payload)
    if not restart:
        actor_dies(c, a, payload)
        return
    if a.restarts_left > 0:
        a.restarts_left -= 1
    a.restarts += 1
    a.state = A_RESTARTING
    start_actor_process(c, a)
    actor_pump(c, a)


cdef void actor_dies(Core *c, Actor *a, const string &payload) noexcept nogil:
    """For good: every call pending or to come fails with payload.  The
    last thing its caller does with a (it may be freed)."""
    cdef deque[Task *] sent
    cdef deque[Task *] waiting
    cdef size_t i
    if a.state == A_DEAD:
        return
    if a.state == A_PENDING:
        for i in range(c.unplaced.size()):
            if c.unplaced[i] == a:
                c.unplaced.erase(c.unplaced.begin() + i)
                break
    else:
        give_cpus(c, a.pool, a.cpu_milli)
        move_actor_demand(c, a, -1)
    a.state = A_DEAD
    a.death = payload
    forget_name(c, a)
    if a.worker >= 0:
        end_actor_process(c, a, False, True, string(b"it died"))
    sent.swap(a.sent)
    waiting.swap(a.waiting)
    for i in range(sent.size()):
        sent[i].worker = -1
        fail_task(c, sent[i], payload)
    for i in range(waiting.size()):
        fail_task(c, waiting[i], payload)
    for i in range(a.spec.deps.size()):
        decref(c, a.spec.deps[i], 1)
    for i in range(a.spec.contained.size()):
        decref(c, a.spec.contained[i], 1)
    a.spec.deps.clear()
    a.spec.contained.clear()
    a.spec.args.clear()
    place_waiting_actors(c)
    if a.pinned:
        a.pinned = False
        decref(c, a.id, 1)
    elif a.anchor_gone:
        retire_actor(c, a)


cdef void actor_anchor_gone(Core *c, uint64_t aid) noexcept nogil:
    """The last handle to the actor went away."""
    cdef Actor *a = find_actor(c, aid)
    if a == NULL:
        return
    a.anchor_gone = True
    if a.state == A_DEAD:
        retire_actor(c, a)
    elif a.state == A_PENDING:
        actor_dies(c, a, died_payload(a, string(b"all references to it went out of scope "
                                                b"before it started")))
    else:
        actor_pump(c, a)


cdef void retire_actor(Core *c, Actor *a) noexcept nogil:
    """Forgets a dead actor no handle refers to; freed by the loop, outside
    whatever call chain got here."""
    c.actors.erase(a.id)
    c.retired.push_back(a)


cdef void free_retired_actors(Core *c) noexcept nogil:
    cdef size_t i
    for i in range(c.retired.size()):
        del c.retired[i]
    c.retired.clear()


cdef void cancel_actor_call(Core *c, Task *t) noexcept nogil:
    """A call not yet sent fails now; one sent is told to its process, which
    skips it if it has not started, flags it (is_canceled) if it runs, or
    cancels its coroutine; its result then fails as cancelled."""
    cdef uint64_t aid = t.actor
    cdef Actor *a = find_actor(c, aid)
    t.cancelled = True
    if t.state == TASK_RUNNING:
        if t.worker >= 0:
            interrupt_task(c.workers[t.worker], t)
            if c.workers[t.worker].pid <= 0 and a != NULL:
                # Signalled once the spawner reports the process's pid.
                a.unsignalled.push_back(t.id)
        if a == NULL or not a.sequential or a.sent.empty() or a.sent.front() == t:
            return
        # Queued in its process behind the running call: it fails now, and
        # the process skips it when it comes up.
        take_sent(a, t.id)
        t.worker = -1
    fail_task_text(c, t, FR_PAYLOAD_CANCELLED, "the actor call was cancelled before it ran")
    a = find_actor(c, aid)
    if a != NULL:
        actor_pump(c, a)


cdef void name_early_events(Core *c, uint64_t actor, int pid) noexcept nogil:
    """Gives pid to the actor's calls that ended before the spawner reported
    it (its report and the process's results come on different sockets):
    the newest events back to one of the actor's that has a pid."""
    cdef uint64_t size = c.events.size()
    cdef uint64_t back = 0
    cdef TaskEvent *e
    while back < size and back < c.events_total:
        back += 1
        e = &c.events[(c.events_total - back) % size]
        if e.actor == actor:
            if e.pid != 0:
                return
            e.pid = pid


cdef void actor_spawned(Core *c, Worker *w) noexcept nogil:
    """The spawner reported the pid of an actor's process: the calls sent to
    it so far name it in the timeline."""
    cdef Actor *a = find_actor(c, w.actor)
    cdef size_t i
    if a == NULL:
        return
    a.pid = w.pid
    for i in range(a.sent.size()):
        a.sent[i].pid = w.pid
    name_early_events(c, w.actor, w.pid)
    for i in range(a.unsignalled.size()):
        signal_cancel(w.pid, a.unsignalled[i])
    a.unsignalled.clear()
