# GPUs and custom resources.  A task or actor asks for them through a
# demand, registered once per distinct request (FR_DEMAND_ADD), so a task
# carries one id and the plain path pays one test of it.  Tasks with a
# demand wait in their demand's line, so one that waits for a GPU does not
# hold up the CPU tasks behind it.
#
# GPUs are devices.  A share of one goes to the first device with that much
# free (four quarter requests share device 0 before device 1 is used); k
# whole ones take the first k free devices.  The devices chosen are the
# task's mask (bit i: device i).  A worker serves one mask for its life, as
# it serves one runtime_env: CUDA reads CUDA_VISIBLE_DEVICES once per process.


cdef Holdings *holdings_of(Core *c, uint64_t pool) noexcept nogil:
    """The machine's free amounts, or a reserved group's; NULL for a group
    that is gone or not reserved yet."""
    cdef Pool *p
    if pool == 0:
        return &c.free
    p = find_pool(c, pool)
    if p == NULL or not p.reserved:
        return NULL
    return &p.free


cdef Demand *demand_of(Core *c, uint32_t did) noexcept nogil:
    if did == 0 or did > c.demands.size():
        return NULL
    return c.demands[did - 1]


cdef uint32_t add_demand(Core *c, Cursor *cur, string &answer) noexcept nogil:
    """FR_DEMAND_ADD: the id of a request, registered on first sight."""
    cdef string key
    cdef Demand *d
    cdef uint32_t n, i, index
    cdef int64_t amount
    cdef unordered_map[string, uint32_t].iterator it
    key.assign(cur.p, cur.end - cur.p)
    it = c.demand_ids.find(key)
    if it != c.demand_ids.end():
        put_u32(answer, deref(it).second)
        return FR_ACTOR_STATUS_OK
    d = new Demand()
    d.gpu = <int64_t>get_u64(cur)
    n = get_u32(cur)
    for i in range(n):
        index = get_u32(cur)
        amount = <int64_t>get_u64(cur)
        if index >= c.free.custom.size() or amount < 0:
            cur.bad = True
        d.custom.push_back(pair[uint32_t, int64_t](index, amount))
    if cur.bad or d.gpu < 0 or n > 1024:
        del d
        return FR_ACTOR_STATUS_UNKNOWN
    c.demands.push_back(d)
    d.id = <uint32_t>c.demands.size()
    c.demand_ids[key] = d.id
    put_u32(answer, d.id)
    return FR_ACTOR_STATUS_OK


cdef bint pick_gpus(Holdings *h, int64_t amount, uint64_t *mask) noexcept nogil:
    """The devices for amount GPUs (into mask); False if they are not free."""
    cdef size_t i
    cdef int64_t found = 0
    mask[0] = 0
    if amount <= 0:
        return True
    if amount < RESOURCE_UNIT:
        for i in range(h.gpu.size()):
            if h.gpu[i] >= amount:
                mask[0] = (<uint64_t>1) << i
                return True
        return False
    for i in range(h.gpu.size()):
        if h.gpu[i] >= RESOURCE_UNIT:
            mask[0] |= (<uint64_t>1) << i
            found += RESOURCE_UNIT
            if found >= amount:
                return True
    mask[0] = 0
    return False


cdef bint demand_fits(Holdings *h, Demand *d, uint64_t *mask) noexcept nogil:
    """Whether h has all that d asks for free, choosing its devices."""
    cdef size_t i
    mask[0] = 0
    if h == NULL:
        return False
    for i in range(d.custom.size()):
        if h.custom[d.custom[i].first] < d.custom[i].second:
            return False
    return pick_gpus(h, d.gpu, mask)


cdef void move_demand(Holdings *h, Demand *d, uint64_t mask, int64_t sign) noexcept nogil:
    """Takes (sign 1) or gives back (sign -1) what d asks for, its GPUs on
    the devices of mask."""
    cdef size_t i
    cdef int64_t share = d.gpu if d.gpu < RESOURCE_UNIT else RESOURCE_UNIT
    if h == NULL:
        return  # a removed group's: its reservation went back whole
    for i in range(d.custom.size()):
        h.custom[d.custom[i].first] -= sign * d.custom[i].second
    for i in range(h.gpu.size()):
        if mask & ((<uint64_t>1) << i):
            h.gpu[i] -= sign * share


cdef void take_task_demand(Core *c, Task *t) noexcept nogil:
    cdef Demand *d = demand_of(c, t.demand)
    if d != NULL and not t.holds:
        move_demand(holdings_of(c, t.pool), d, t.gpus, 1)
        t.holds = True


cdef void release_task_demand(Core *c, Task *t) noexcept nogil:
    """What the task held goes back (at its end, however it ends)."""
    cdef Demand *d
    if not t.holds:
        return
    t.holds = False
    d = demand_of(c, t.demand)
    if d != NULL:
        move_demand(holdings_of(c, t.pool), d, t.gpus, -1)


cdef bint actor_fits(Core *c, Actor *a) noexcept nogil:
    """Whether a's CPUs, GPUs and custom resources are free (choosing its
    devices into a.gpus)."""
    cdef Demand *d = demand_of(c, a.demand)
    if not cpus_fit(c, a.pool, a.cpu_milli):
        return False
    return d == NULL or demand_fits(holdings_of(c, a.pool), d, &a.gpus)


cdef void move_actor_demand(Core *c, Actor *a, int64_t sign) noexcept nogil:
    cdef Demand *d = demand_of(c, a.demand)
    if d != NULL:
        move_demand(holdings_of(c, a.pool), d, a.gpus, sign)


cdef void bind_worker(Core *c, Worker *w, uint64_t env, uint64_t gpus) noexcept nogil:
    """w serves env and sees the devices of gpus from now on: on a machine
    with GPUs it is told which (even none, for a CPU worker) before its
    first task."""
    cdef string ids
    cdef size_t i
    cdef uint64_t count = 0
    w.env = env
    w.gpus = gpus
    w.env_fixed = True
    if c.gpu_ids.empty():
        return
    for i in range(c.gpu_ids.size()):
        if gpus & ((<uint64_t>1) << i):
            if count:
                ids.append(b",")
            ids.append(c.gpu_ids[i])
            count += 1
    put_header(w.out, <uint32_t>ids.size(), FR_DEVICES, count, 0)
    w.out.append(ids)


cdef void enqueue_gated(Core *c, Task *t, bint front) noexcept nogil:
    cdef Demand *d = demand_of(c, t.demand)
    if front:
        d.ready.push_front(t)
    else:
        d.ready.push_back(t)
    c.gated += 1


cdef bint take_from_gated(Core *c, Task *t) noexcept nogil:
    cdef Demand *d = demand_of(c, t.demand)
    cdef size_t i
    for i in range(d.ready.size()):
        if d.ready[i] == t:
            d.ready.erase(d.ready.begin() + i)
            c.gated -= 1
            return True
    return False


cdef bint start_on_worker(Core *c, Task *t, uint64_t gpus) noexcept nogil:
    """Dispatches t to an idle worker serving its runtime_env and devices;
    if there is none, starts one (or ends an idle one of another kind to
    make room) and returns False."""
    cdef Worker *w = idle_worker(c, t.env, gpus)
    if w == NULL:
        if live_workers(c) < c.max_workers:
            if not starting_worker(c):
                spawn_worker(c)
        else:
            make_room_for(c, t.env, gpus)
        return False
    t.gpus = gpus
    dispatch(c, t, w)
    return True


cdef void schedule_gated(Core *c) noexcept nogil:
    """Runs the tasks of each demand's line, in order, while their CPUs,
    GPUs and custom resources are free."""
    cdef size_t i
    cdef Demand *d
    cdef Task *t
    cdef uint64_t gpus
    for i in range(c.demands.size()):
        d = c.demands[i]
        while not d.ready.empty() and not c.stopping:
            t = d.ready.front()
            if not cpus_fit(c, 0, t.cpu_milli) or not demand_fits(&c.free, d, &gpus):
                break
            d.ready.pop_front()
            c.gated -= 1
            if not start_on_worker(c, t, gpus):
                enqueue_gated(c, t, True)
                return


cdef bint reserve_bundles(Core *c, Pool *p) noexcept nogil:
    """Takes each bundle's GPUs and custom resources from the machine into
    p's reservation, all or none."""
    cdef Holdings trial = c.free
    cdef Demand *d
    cdef uint64_t mask
    cdef size_t i, k
    cdef int64_t share
    p.taken.custom.assign(c.free.custom.size(), 0)
    p.taken.gpu.assign(c.free.gpu.size(), 0)
    for i in range(p.bundle_demands.size()):
        d = demand_of(c, p.bundle_demands[i])
        if d == NULL:
            continue
        if not demand_fits(&trial, d, &mask):
            return False
        move_demand(&trial, d, mask, 1)
        share = d.gpu if d.gpu < RESOURCE_UNIT else RESOURCE_UNIT
        for k in range(d.custom.size()):
            p.taken.custom[d.custom[k].first] += d.custom[k].second
        for k in range(trial.gpu.size()):
            if mask & ((<uint64_t>1) << k):
                p.taken.gpu[k] += share
    c.free = trial
    p.free = p.taken
    return True


cdef void return_bundles(Core *c, Pool *p) noexcept nogil:
    """A removed group's GPUs and custom resources go back to the machine."""
    cdef size_t i
    for i in range(p.taken.custom.size()):
        c.free.custom[i] += p.taken.custom[i]
    for i in range(p.taken.gpu.size()):
        c.free.gpu[i] += p.taken.gpu[i]


cdef void declare_resources(Core *c, list gpu_ids, list custom_amounts) except *:
    if len(gpu_ids) > 64:
        raise ValueError(f"at most 64 GPUs can be scheduled, got {len(gpu_ids)}")
    c.gpu_ids.clear()
    for gpu_id in gpu_ids:
        c.gpu_ids.push_back(gpu_id)
    c.free.gpu.assign(len(gpu_ids), RESOURCE_UNIT)
    c.free.custom.clear()
    for amount in custom_amounts:
        c.free.custom.push_back(round(amount * RESOURCE_UNIT))


cdef dict free_resources(Core *c, list custom_names):
    cdef dict free
    cdef size_t i
    with nogil:
        lock_core(c)
    free = {"CPU": max(c.total_cpu_milli - c.used_cpu_milli, 0) / 1000.0}
    if not c.free.gpu.empty():
        free["GPU"] = sum(c.free.gpu[i] for i in range(c.free.gpu.size())) / <double>RESOURCE_UNIT
    for i in range(min(len(custom_names), c.free.custom.size())):
        free[custom_names[i]] = c.free.custom[i] / <double>RESOURCE_UNIT
    pthread_mutex_unlock(&c.mu)
    return free
