# Read-only views for the dashboard, the timeline and stats(): each copies
# what it needs under the mutex and builds its Python objects only after
# releasing it, since an allocation may run the garbage collector, whose
# finalizers (an ObjectRef's decref) take the mutex themselves.


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
    uint64_t gpus


cdef list gpu_names(vector[string] &gpu_ids, uint64_t mask):
    """The ids of the devices in mask (bit i: device i)."""
    return [gpu_ids[i].decode() for i in range(gpu_ids.size()) if mask & ((<uint64_t>1) << i)]


cdef struct Segment:
    # A run of one worker's consecutive tasks with one outcome (Scheduler.timeline).
    int32_t pid
    int32_t outcome
    int64_t started_ns
    int64_t ended_ns
    uint64_t tasks
    uint64_t fn_id
    uint64_t actor               # the actor whose calls these are; 0 for plain tasks
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


cdef list task_events_of(Core *c, uint64_t last):
    """Scheduler.task_events: the newest ``last`` events of the ring (all if
    0), oldest first, with their functions' names."""
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
             OUTCOMES[e.outcome], e.submitted_ns, e.started_ns, e.ended_ns, e.actor)
            for e in events]


cdef list timeline_of(Core *c, int64_t since_ns, int64_t merge_gap_ns, size_t limit):
    """Scheduler.timeline: the ring's events since ``since_ns`` merged into
    segments under the mutex (at most one per event), named after it."""
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
                and last.actor == e.actor and start - last.ended_ns < merge_gap_ns):
            last.ended_ns = e.ended_ns
            last.tasks += 1
            last.mixed = last.mixed or last.fn_id != e.fn_id
        else:
            open_segment[e.pid] = segments.size()
            segments.push_back(Segment(e.pid, e.outcome, start, e.ended_ns, 1, e.fn_id,
                                       e.actor, False, tiny))
    copy_function_names(c, fn_names)
    pthread_mutex_unlock(&c.mu)
    names = names_by_id(fn_names)
    skip = segments.size() - limit if segments.size() > limit else 0
    return [(segments[k].pid, OUTCOMES[segments[k].outcome], segments[k].started_ns,
             segments[k].ended_ns, segments[k].tasks, names.get(segments[k].fn_id, "?"),
             segments[k].mixed, segments[k].actor)
            for k in range(skip, segments.size())]


cdef list failures_of(Core *c):
    """Scheduler.failures: the kept failures with their functions' names."""
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


cdef dict snapshot_of(Core *c):
    """Scheduler.snapshot: per worker what it runs, tasks by state and the
    largest blobs, copied under the mutex and turned into dicts after."""
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
    cdef vector[string] gpu_ids
    cdef int64_t gpus_free = 0
    with nogil:
        lock_core(c)
        gpu_ids = c.gpu_ids
        for i in range(c.free.gpu.size()):
            gpus_free += c.free.gpu[i]
        for i in range(c.workers.size()):
            w = c.workers[i]
            if w.state == W_DEAD:
                continue
            view.pid = w.pid
            view.state = w.state
            view.blocked = w.request != NULL
            view.queued = w.queued.size()
            view.has_task = w.task != NULL
            view.gpus = w.gpus
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
              W_STARTING: "starting", W_ACTOR: "actor"}
    workers = [{"pid": v.pid, "queued": v.queued, "gpus": gpu_names(gpu_ids, v.gpus),
                "state": "blocked" if v.blocked else states[v.state],
                "task": None if not v.has_task else {
                    "id": f"{v.task_id:016x}", "function": names.get(v.fn_id, "?"),
                    "started_ns": v.started_ns}}
               for v in views]
    return {"workers": workers,
            "gpus_total": gpu_ids.size(),
            "gpus_used": gpu_ids.size() - gpus_free / <double>RESOURCE_UNIT,
            "tasks": {"pending": tasks - running - suspended - queued,
                      "running": running + suspended, "queued": queued,
                      "finished": outcomes[TASK_FINISHED], "failed": outcomes[TASK_FAILED],
                      "cancelled": outcomes[TASK_CANCELLED],
                      "crashed": outcomes[TASK_CRASHED]},
            "largest_objects": [{"id": f"{largest[i].second:016x}", "bytes": largest[i].first,
                                 "spilled": bool(spilled[i])}
                                for i in range(largest.size())]}


cdef list worker_pids_of(Core *c):
    cdef size_t i
    pids = []
    lock_core(c)
    for i in range(c.workers.size()):
        if c.workers[i].state != W_DEAD and c.workers[i].pid > 0:
            pids.append(c.workers[i].pid)
    pthread_mutex_unlock(&c.mu)
    return pids


cdef struct Stats:
    # What stats() returns, one field per key (Cython turns it into a dict).
    int64_t objects
    int64_t tasks
    int64_t ready
    int64_t used_cpu_milli
    int64_t total_cpu_milli
    int64_t workers
    int64_t running
    int64_t blocked
    int64_t queued
    int64_t tasks_finished
    int64_t tasks_failed
    int64_t workers_started
    int64_t workers_died
    int64_t retries
    int64_t retried_then_succeeded
    int64_t store_capacity
    int64_t store_reserved
    int64_t store_bytes
    int64_t store_objects
    int64_t spilled_bytes
    int64_t spilled_objects
    int64_t spills
    int64_t restores
    int64_t warm_limit
    int64_t allocs_waiting


cdef dict stats_of(Core *c):
    """Scheduler.stats: the counters, read together under the mutex, each
    named where it is read."""
    cdef size_t i
    cdef int64_t running = 0, blocked = 0, live = 0, queued = 0
    cdef Stats stats
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
        stats = Stats(
            objects=c.objects.size(),
            tasks=c.tasks.size(),
            ready=c.ready.size(),
            used_cpu_milli=c.used_cpu_milli,
            total_cpu_milli=c.total_cpu_milli,
            workers=live,
            running=running,
            blocked=blocked,
            queued=queued,
            tasks_finished=c.tasks_finished,
            tasks_failed=c.tasks_failed,
            workers_started=c.workers_started,
            workers_died=c.workers_died,
            retries=c.retries,
            retried_then_succeeded=c.retried_then_succeeded,
            store_capacity=c.arena.capacity(),
            store_reserved=c.arena.used(),
            store_bytes=c.blob_bytes - c.spilled_bytes,
            store_objects=c.blobs - c.spilled_blobs,
            spilled_bytes=c.spilled_bytes,
            spilled_objects=c.spilled_blobs,
            spills=c.spill_count,
            restores=c.restore_count,
            warm_limit=c.warm_limit,
            allocs_waiting=c.allocs.size())
        pthread_mutex_unlock(&c.mu)
    return stats


cdef struct ActorView:
    uint64_t id
    int state
    int32_t pid
    size_t pending
    uint32_t restarts
    uint64_t calls_done
    uint32_t cpu_milli
    uint64_t gpus
    uint64_t call_fn_id          # of its oldest call in progress, if call_started_ns
    int64_t call_started_ns


cdef list actors_of(Core *c):
    """Scheduler.actors: each actor's class, name, pid, state, pending
    calls, restarts, the call it runs and, once dead, why."""
    cdef vector[ActorView] views
    cdef vector[string] names
    cdef vector[string] deaths
    cdef vector[pair[uint64_t, string]] fn_names
    cdef ActorView view
    cdef Actor *a
    cdef size_t i
    cdef vector[string] gpu_ids
    with nogil:
        lock_core(c)
        gpu_ids = c.gpu_ids
        for kv in c.actors:
            a = kv.second
            view.id = a.id
            view.state = a.state
            view.pid = a.pid
            if a.worker >= 0 and c.workers[a.worker].pid > 0:
                view.pid = c.workers[a.worker].pid
            view.pending = a.waiting.size() + a.sent.size()
            view.restarts = a.restarts
            view.calls_done = a.calls_done
            view.cpu_milli = a.cpu_milli
            view.gpus = a.gpus if a.state == A_ALIVE or a.state == A_RESTARTING else 0
            view.call_started_ns = 0
            if not a.sent.empty() and a.sent.front().started_ns > 0:
                view.call_fn_id = a.sent.front().fn_id
                view.call_started_ns = a.sent.front().started_ns
            views.push_back(view)
            names.push_back(a.class_name + string(b"\0", 1) + a.name_key)
            deaths.push_back(a.death.substr(1) if a.death.size() > 0 else string())
        copy_function_names(c, fn_names)
        pthread_mutex_unlock(&c.mu)
    functions = names_by_id(fn_names)
    states = {A_PENDING: "pending", A_ALIVE: "alive", A_RESTARTING: "restarting",
              A_DEAD: "dead"}
    actors = []
    for i in range(views.size()):
        class_name, _, key = names[i].decode("utf-8", "replace").partition("\0")
        namespace, _, name = key.partition("\0")
        actors.append({
            "id": f"{views[i].id:016x}", "class_name": class_name, "name": name,
            "namespace": namespace, "pid": views[i].pid, "state": states[views[i].state],
            "pending_calls": views[i].pending, "restarts": views[i].restarts,
            "calls_done": views[i].calls_done, "num_cpus": views[i].cpu_milli / 1000,
            "gpus": gpu_names(gpu_ids, views[i].gpus),
            "death_cause": deaths[i].decode("utf-8", "replace") or None,
            "call": None if views[i].call_started_ns == 0 else {
                "function": functions.get(views[i].call_fn_id, "?"),
                "started_ns": views[i].call_started_ns}})
    return actors
