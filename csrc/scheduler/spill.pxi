# Spilling: when memory runs short the store thread writes the least
# recently used unpinned blobs to files in the spill directory, and reads
# them back before anyone is told where they are.  A blob that cannot be read
# back fails the tasks and requests waiting for it.


cdef string spill_path(Core *c, uint64_t oid) noexcept nogil:
    cdef char name[24]
    cdef string path = c.spill_dir
    snprintf(name, sizeof(name), "/%016llx", <unsigned long long>oid)
    path.append(<const char *>name)
    return path


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
