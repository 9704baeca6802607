# Placement groups: each is a pool of CPUs reserved from the general pool,
# in the order groups were made, as soon as the CPUs are free.  Tasks and
# actors of a group use its CPUs only, and its tasks wait in a line of
# their own.  Removing a group ends what runs in it and gives the CPUs
# back.  Pool 0 is the general pool (Core.total_cpu_milli/used_cpu_milli).


cdef Pool *find_pool(Core *c, uint64_t pid) noexcept nogil:
    cdef unordered_map[uint64_t, Pool *].iterator it = c.pools.find(pid)
    if it == c.pools.end():
        return NULL
    return deref(it).second


cdef bint cpus_fit(Core *c, uint64_t pool, int64_t milli) noexcept nogil:
    """Whether milli more CPUs (thousandths) are free in the pool."""
    cdef Pool *p
    if milli <= 0:
        return True
    if pool == 0:
        return c.used_cpu_milli + milli <= c.total_cpu_milli
    p = find_pool(c, pool)
    return p != NULL and p.reserved and p.used_cpu_milli + milli <= p.total_cpu_milli


cdef void take_cpus(Core *c, uint64_t pool, int64_t milli) noexcept nogil:
    cdef Pool *p
    if pool == 0:
        c.used_cpu_milli += milli
        return
    p = find_pool(c, pool)
    if p != NULL:
        p.used_cpu_milli += milli


cdef void give_cpus(Core *c, uint64_t pool, int64_t milli) noexcept nogil:
    """CPUs back to their pool (none if the group was removed meanwhile)."""
    take_cpus(c, pool, -milli)


cdef void enqueue_ready(Core *c, Task *t, bint front) noexcept nogil:
    """t may run now: into the line of its pool (or, outside groups, of its
    demand); a task of a removed group fails."""
    cdef Pool *p
    if t.pool == 0 and t.demand != 0:
        enqueue_gated(c, t, front)
        return
    if t.pool == 0:
        if front:
            c.ready.push_front(t)
        else:
            c.ready.push_back(t)
        return
    p = find_pool(c, t.pool)
    if p == NULL:
        fail_task_text(c, t, FR_PAYLOAD_GROUP_REMOVED,
                       "its placement group was removed, or never existed")
    elif front:
        p.ready.push_front(t)
    else:
        p.ready.push_back(t)


cdef bint take_from_line(Core *c, Task *t) noexcept nogil:
    """Takes t out of the line it waits in; False if it is in none."""
    cdef deque[Task *] *line = &c.ready
    cdef Pool *p
    cdef size_t i
    if t.pool == 0 and t.demand != 0:
        return take_from_gated(c, t)
    if t.pool != 0:
        p = find_pool(c, t.pool)
        if p == NULL:
            return False
        line = &p.ready
    for i in range(line.size()):
        if deref(line)[i] == t:
            line.erase(line.begin() + i)
            return True
    return False


cdef void create_pool(Core *c, uint64_t pid, int64_t cpu_milli, bint feasible,
                      uint64_t ready_oid, vector[uint32_t] &bundle_demands,
                      string &payload) noexcept nogil:
    cdef Pool *p
    if pid == 0 or find_pool(c, pid) != NULL:
        return
    p = new Pool()
    p.id = pid
    p.total_cpu_milli = cpu_milli
    p.feasible = feasible and cpu_milli <= c.total_cpu_milli
    p.ready_oid = ready_oid
    p.ready_payload.swap(payload)
    p.bundle_demands.swap(bundle_demands)
    c.pools[pid] = p
    c.pending_pools.push_back(pid)
    reserve_pools(c)


cdef void reserve_pools(Core *c) noexcept nogil:
    """Reserves the CPUs, GPUs and custom resources of waiting groups, in
    order, while they fit; a group that never can is passed over (it stays
    unreserved)."""
    cdef Pool *p
    cdef vector[uint64_t] waiting
    cdef vector[uint64_t] empty
    cdef size_t i
    cdef bint blocked = False
    for i in range(c.pending_pools.size()):
        p = find_pool(c, c.pending_pools[i])
        if p == NULL:
            continue
        if (blocked or not p.feasible or not cpus_fit(c, 0, p.total_cpu_milli)
                or not reserve_bundles(c, p)):
            waiting.push_back(p.id)
            blocked = blocked or p.feasible
            continue
        c.used_cpu_milli += p.total_cpu_milli
        p.reserved = True
        set_object(c, p.ready_oid, p.ready_payload, empty)
    c.pending_pools.swap(waiting)


cdef void schedule_pools(Core *c) noexcept nogil:
    """Hands the ready tasks of reserved groups to idle workers while their
    group has CPUs (and GPUs and custom resources) for them."""
    cdef unordered_map[uint64_t, Pool *].iterator it = c.pools.begin()
    cdef Pool *p
    cdef Task *t
    cdef Demand *d
    cdef uint64_t gpus
    while it != c.pools.end():
        p = deref(it).second
        inc(it)
        while not p.ready.empty() and not c.stopping:
            t = p.ready.front()
            if not cpus_fit(c, p.id, t.cpu_milli):
                break
            d = demand_of(c, t.demand)
            gpus = 0
            if d != NULL and not demand_fits(&p.free, d, &gpus):
                break
            p.ready.pop_front()
            if not start_on_worker(c, t, gpus):
                p.ready.push_front(t)
                return


cdef void remove_pool(Core *c, uint64_t pid) noexcept nogil:
    """Ends a group: its waiting tasks fail, its running ones are cancelled
    by force, its actors are killed, and its CPUs go back."""
    cdef Pool *p = find_pool(c, pid)
    cdef deque[Task *] waiting
    cdef vector[uint64_t] running
    cdef vector[uint64_t] actors
    cdef unordered_map[uint64_t, Task *].iterator ti
    cdef unordered_map[uint64_t, Actor *].iterator ai
    cdef size_t i
    if p == NULL:
        return
    waiting.swap(p.ready)
    ti = c.tasks.begin()
    while ti != c.tasks.end():
        if deref(ti).second.pool == pid and deref(ti).second.actor == 0 and (
                deref(ti).second.state == TASK_RUNNING or deref(ti).second.state == TASK_QUEUED):
            running.push_back(deref(ti).first)
        inc(ti)
    ai = c.actors.begin()
    while ai != c.actors.end():
        if deref(ai).second.pool == pid:
            actors.push_back(deref(ai).first)
        inc(ai)
    if p.reserved:
        c.used_cpu_milli -= p.total_cpu_milli
        return_bundles(c, p)
    c.pools.erase(pid)
    del p
    for i in range(waiting.size()):
        fail_task_text(c, waiting[i], FR_PAYLOAD_GROUP_REMOVED,
                       "its placement group was removed")
    for i in range(running.size()):
        cancel_task(c, running[i], FR_CANCEL_FORCE)
    for i in range(actors.size()):
        kill_actor(c, actors[i], False)
    reserve_pools(c)
    schedule(c)


cdef uint32_t pool_op(Core *c, uint32_t op, Cursor *cur) noexcept nogil:
    """FR_POOL_CREATE and FR_POOL_REMOVE (carried as actor operations)."""
    cdef uint64_t pid = get_u64(cur)
    cdef uint64_t cpu_milli
    cdef bint feasible
    cdef uint64_t ready_oid
    cdef vector[uint32_t] bundle_demands
    cdef uint32_t n, i
    cdef string payload
    if op == FR_POOL_REMOVE:
        remove_pool(c, pid)
        return FR_ACTOR_STATUS_OK
    cpu_milli = get_u64(cur)
    feasible = get_u32(cur) != 0
    ready_oid = get_u64(cur)
    n = get_u32(cur)
    for i in range(n):
        bundle_demands.push_back(get_u32(cur))
        if demand_of(c, bundle_demands.back()) == NULL and bundle_demands.back() != 0:
            cur.bad = True
    if cur.bad:
        return FR_ACTOR_STATUS_UNKNOWN
    payload.assign(cur.p, cur.end - cur.p)
    create_pool(c, pid, <int64_t>cpu_milli, feasible, ready_oid, bundle_demands, payload)
    schedule(c)
    return FR_ACTOR_STATUS_OK
