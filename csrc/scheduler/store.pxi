# The object store's blobs.  The large parts of values live in blobs: ranges
# of one shared-memory file that every process maps.  Only this scheduler
# allocates and frees them (a worker asks with FR_ALLOC), so a process dying
# at any moment cannot leave the allocator half changed.  A reader is told a
# blob's location along with the value that uses it, and that pins the blob
# until the reader's last view goes.  run_store is the store thread's loop.


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
    """Answers an allocation that cannot be met with an error that says why
    (larger than the store, spilling failed, or full of objects in use) and
    what to do."""
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


cdef void unpark(Core *c) noexcept nogil:
    """Blobs came back (or could not): let what waited for them try again."""
    cdef vector[Task *] tasks
    cdef vector[Request *] requests
    cdef size_t i
    cdef Request *r
    tasks.swap(c.parked)
    for i in range(tasks.size()):
        enqueue_ready(c, tasks[tasks.size() - 1 - i], True)
    requests.swap(c.parked_requests)
    for i in range(requests.size()):
        r = requests[i]
        r.parked = False
        if r.worker < 0:
            r.done = True
        elif answer_request(c, r):
            del r
    pthread_cond_broadcast(&c.cv)
    pump_stalled_actors(c)
    schedule(c)


cdef void give_pages_back(Core *c, uint64_t offset, uint64_t size) noexcept nogil:
    """Punches a freed range out of the store's file, a piece at a time
    (a gigabyte takes a tenth of a second): stop() need not wait for it,
    as closing the file frees every page anyway."""
    cdef uint64_t piece
    while size > 0 and not __atomic_load_n(&c.stopping, __ATOMIC_ACQUIRE):
        piece = min(size, PUNCH_PIECE_BYTES)
        fallocate(c.store_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, <long>offset,
                  <long>piece)
        offset += piece
        size -= piece


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
                give_pages_back(c, punches[i].first, punches[i].second)
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
