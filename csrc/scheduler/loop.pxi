# The scheduler thread's loop: polls the wake-up eventfd, the spawner socket
# and every worker socket without the GIL, reads complete frames and hands
# them to handle_frame, and flushes what the handlers queued for sending.


cdef void worker_readable(Core *c, Worker *w) noexcept nogil:
    """Reads what worker w sent and handles each complete frame; a partial
    frame stays in w.in_ for the next call.  An EOF marks w exiting (the
    spawner reports how it ended), unless the spawner is gone, then it is
    gone now.  An actor's process is read to the end first: its last frames
    may say how it ended (exit_actor) or finish its constructor."""
    cdef ssize_t n
    cdef size_t pos = 0
    cdef fr_header h
    cdef Cursor cur
    cdef int fd = w.fd
    cdef bint ended = False
    while True:
        n = recv(fd, c.received.data(), RECV_CHUNK, MSG_DONTWAIT)
        if n > 0:
            w.in_.append(c.received.data(), n)
        if n == 0:
            ended = True
            if w.actor == 0:
                # The process is gone; the spawner reports how it ended.
                process_ended(c, w)
            break
        if n < 0:
            if errno == EINTR:
                continue
            break
        if n < RECV_CHUNK:
            break
    while w.in_.size() - pos >= FR_HEADER_SIZE:
        memcpy(&h, w.in_.data() + pos, FR_HEADER_SIZE)
        if w.in_.size() - pos - FR_HEADER_SIZE < h.body_len:
            break
        cur.p = w.in_.data() + pos + FR_HEADER_SIZE
        cur.end = cur.p + h.body_len
        cur.bad = False
        pos += FR_HEADER_SIZE + h.body_len
        handle_frame(c, w, &h, &cur)
        if w.fd != fd:
            return
    if pos > 0:
        w.in_.erase(0, pos)
    if ended and w.fd == fd:
        process_ended(c, w)


cdef void process_ended(Core *c, Worker *w) noexcept nogil:
    """w's socket reached its end: the spawner reports how the process
    ended, unless the spawner is gone, then w is gone now."""
    close(w.fd)
    w.fd = -1
    w.state = W_EXITING
    if c.spawner_lost:
        worker_gone(c, w, 0)


cdef void spawner_readable(Core *c) noexcept nogil:
    """Handles the spawner's reports: a worker's pid once started
    (FR_SPAWNED), a worker's exit status (FR_EXITED).  When the spawner's
    socket closes, no more exits will come: exiting workers are gone now."""
    cdef fr_header h
    cdef ssize_t n
    cdef Worker *w
    cdef size_t i
    while True:
        n = recv(c.spawner_fd, &h, FR_HEADER_SIZE, MSG_DONTWAIT)
        if n < 0:
            if errno == EINTR:
                continue
            return
        if n == 0:
            # The socket belongs to the runtime, which closes it at shutdown.
            c.spawner_lost = True
            c.spawner_fd = -1
            for i in range(c.workers.size()):
                if c.workers[i].state == W_EXITING:
                    worker_gone(c, c.workers[i], 0)
            return
        if n != FR_HEADER_SIZE:
            continue
        if h.a >= c.workers.size():
            continue
        w = c.workers[h.a]
        if h.type == FR_SPAWNED:
            w.pid = <int>h.b
            if w.state == W_STARTING:
                w.state = W_IDLE
                schedule(c)
            elif w.actor != 0:
                actor_spawned(c, w)
        elif h.type == FR_EXITED and w.pid == <int>(h.b >> 32) and w.state != W_DEAD:
            if w.actor != 0 and w.fd >= 0:
                # What it sent before it exited comes first.
                worker_readable(c, w)
            if w.state != W_DEAD:
                worker_gone(c, w, <uint32_t>h.b)


cdef void serve_workers_now(Core *c) noexcept nogil:
    """One look, without blocking, at every worker socket, handling what
    arrived, by a thread other than the scheduler's (mutex held): a driver
    spinning for a quick answer reads it itself rather than wait for the
    scheduler thread to be woken for it.  Both may read a socket at once:
    the mutex orders them, and the later one finds nothing (reads never
    block)."""
    cdef vector[pollfd] fds
    cdef vector[int] slots
    cdef pollfd p
    cdef size_t i
    cdef Worker *w
    for i in range(c.workers.size()):
        w = c.workers[i]
        if w.fd >= 0:
            p.fd = w.fd
            p.events = POLLIN
            p.revents = 0
            fds.push_back(p)
            slots.push_back(<int>i)
    if fds.empty() or poll(fds.data(), fds.size(), 0) <= 0:
        return
    c.deferring = True
    for i in range(fds.size()):
        w = c.workers[slots[i]]
        if fds[i].revents & (POLLIN | POLLHUP | POLLERR) and w.fd == fds[i].fd:
            worker_readable(c, w)
    c.deferring = False
    for i in range(c.to_flush.size()):
        c.to_flush[i].flush_queued = False
        flush(c, c.to_flush[i])
    c.to_flush.clear()


cdef void spin_serving(Core *c, Request *r, long nanoseconds) noexcept nogil:
    """Waits a short while without sleeping (a quick task's answer arrives
    sooner than a sleeping thread could be woken for it), serving the
    workers' sockets every SERVE_EVERY_NS meanwhile when the mutex is free:
    a sync actor call's round trip is then about 8 us shorter here."""
    cdef timespec start, now
    cdef long elapsed, served = -SERVE_EVERY_NS
    clock_gettime(CLOCK_MONOTONIC, &start)
    while not __atomic_load_n(&r.done, __ATOMIC_ACQUIRE):
        clock_gettime(CLOCK_MONOTONIC, &now)
        elapsed = (now.tv_sec - start.tv_sec) * 1000000000 + now.tv_nsec - start.tv_nsec
        if elapsed > nanoseconds:
            return
        if elapsed - served >= SERVE_EVERY_NS and pthread_mutex_trylock(&c.mu) == 0:
            served = elapsed
            if not r.done:
                serve_workers_now(c)
            pthread_mutex_unlock(&c.mu)
        else:
            cpu_relax()


cdef void run_loop(Core *c) noexcept nogil:
    """The scheduler thread's body, without the GIL until stop(): polls the
    wake-up eventfd, the spawner and every worker socket (for writing too where
    output is pending), handles what arrived with the mutex held, then sends
    what the handlers queued for sending."""
    cdef vector[pollfd] fds
    cdef vector[int] slots
    cdef pollfd p
    cdef size_t i
    cdef uint64_t drained
    cdef Worker *w
    while True:
        # Any submit from now on wakes the loop; earlier ones are taken in here.
        __atomic_store_n(&c.wake_pending, False, __ATOMIC_SEQ_CST)
        lock_core(c)
        if c.stopping:
            pthread_mutex_unlock(&c.mu)
            return
        fds.clear()
        slots.clear()
        p.fd = c.wake_fd
        p.events = POLLIN
        p.revents = 0
        fds.push_back(p)
        slots.push_back(-1)
        if c.spawner_fd >= 0:
            p.fd = c.spawner_fd
            fds.push_back(p)
            slots.push_back(-2)
        for i in range(c.workers.size()):
            w = c.workers[i]
            if w.fd >= 0:
                p.fd = w.fd
                p.events = POLLIN | (POLLOUT if w.want_write else 0)
                fds.push_back(p)
                slots.push_back(<int>i)
                p.events = POLLIN
        pthread_mutex_unlock(&c.mu)
        if poll(fds.data(), fds.size(), -1) < 0:
            continue
        lock_core(c)
        c.deferring = True
        for i in range(fds.size()):
            if fds[i].revents == 0:
                continue
            if slots[i] == -1:
                read(c.wake_fd, &drained, 8)
            elif slots[i] == -2:
                if c.spawner_fd >= 0:
                    spawner_readable(c)
            else:
                w = c.workers[slots[i]]
                if w.fd != fds[i].fd:
                    continue
                if fds[i].revents & POLLOUT:
                    flush(c, w)
                if fds[i].revents & (POLLIN | POLLHUP | POLLERR):
                    worker_readable(c, w)
        c.deferring = False
        for i in range(c.to_flush.size()):
            c.to_flush[i].flush_queued = False
            flush(c, c.to_flush[i])
        c.to_flush.clear()
        free_retired_actors(c)
        pthread_mutex_unlock(&c.mu)
