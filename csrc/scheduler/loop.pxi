# The scheduler thread's loop: waits on the wake-up eventfd, the spawner socket
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
    close_socket(c, w)
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
            epoll_ctl(c.loop_ep, EPOLL_CTL_DEL, c.spawner_fd, NULL)
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


cdef enum:
    # What an event of loop_ep is about (its data).
    POLLED_WAKE = 0
    POLLED_SPAWNER = 1
    POLLED_WORKERS = 2
    # Worker events taken from workers_ep at once.
    READY_AT_ONCE = 64


cdef int open_polling(Core *c) noexcept nogil:
    """Makes the scheduler thread's epoll set (the wake-up eventfd, the
    spawner's socket, workers_ep) and workers_ep, empty; -1 on failure."""
    cdef epoll_event ev
    c.workers_ep = epoll_create1(EPOLL_CLOEXEC)
    c.loop_ep = epoll_create1(EPOLL_CLOEXEC)
    if c.workers_ep < 0 or c.loop_ep < 0:
        return -1
    ev.events = EPOLLIN
    ev.data.u64 = POLLED_WAKE
    if epoll_ctl(c.loop_ep, EPOLL_CTL_ADD, c.wake_fd, &ev) < 0:
        return -1
    ev.data.u64 = POLLED_WORKERS
    if epoll_ctl(c.loop_ep, EPOLL_CTL_ADD, c.workers_ep, &ev) < 0:
        return -1
    ev.data.u64 = POLLED_SPAWNER
    if c.spawner_fd >= 0 and epoll_ctl(c.loop_ep, EPOLL_CTL_ADD, c.spawner_fd, &ev) < 0:
        return -1
    return 0


cdef void serve_ready_workers(Core *c) noexcept nogil:
    """Handles the worker sockets that are ready, without blocking (mutex
    held, deferring set): sends what waited for room, reads what came."""
    cdef epoll_event ready[READY_AT_ONCE]
    cdef int count, i
    cdef uint64_t slot
    cdef Worker *w
    count = epoll_wait(c.workers_ep, ready, READY_AT_ONCE, 0)
    for i in range(count):
        slot = ready[i].data.u64 >> 32
        if slot >= c.workers.size():
            continue
        w = c.workers[slot]
        if w.fd != <int><uint32_t>ready[i].data.u64:
            continue   # a socket closed since, or another in its slot
        if ready[i].events & EPOLLOUT:
            flush(c, w)
        if ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR):
            worker_readable(c, w)


cdef void flush_deferred(Core *c) noexcept nogil:
    """Sends what the frames just handled queued for each worker."""
    cdef size_t i
    c.deferring = False
    for i in range(c.to_flush.size()):
        c.to_flush[i].flush_queued = False
        flush(c, c.to_flush[i])
    c.to_flush.clear()


cdef void serve_workers_now(Core *c) noexcept nogil:
    """One look, without blocking, at every worker socket, handling what
    arrived, by a thread other than the scheduler's (mutex held): a driver
    spinning for a quick answer reads it itself rather than wait for the
    scheduler thread to be woken for it.  Both may read a socket at once:
    the mutex orders them, and the later one finds nothing (reads never
    block)."""
    c.deferring = True
    serve_ready_workers(c)
    flush_deferred(c)


cdef void watch_workers(Core *c, bint watched) noexcept nogil:
    """Turns the scheduler thread's watch of workers_ep on or off."""
    cdef epoll_event ev
    ev.events = EPOLLIN if watched else 0
    ev.data.u64 = POLLED_WORKERS
    epoll_ctl(c.loop_ep, EPOLL_CTL_MOD, c.workers_ep, &ev)


cdef void spin_serving(Core *c, Request *r, long nanoseconds) noexcept nogil:
    """Waits a short while without sleeping (a quick task's answer arrives
    sooner than a sleeping thread could be woken for it), serving the
    workers' sockets every SERVE_EVERY_NS meanwhile when the mutex is free:
    a sync actor call's round trip is then about 8 us shorter here.  The
    scheduler thread stops watching the sockets while any thread spins (the
    first turns the watch off, the last on): woken for each answer, it
    took a core from the spinner or the worker answering, and a sync call
    took a fifth longer on two cores."""
    cdef timespec start, now
    cdef long elapsed, served = -SERVE_EVERY_NS
    if nanoseconds <= 0 or __atomic_load_n(&r.done, __ATOMIC_ACQUIRE):
        return
    if __atomic_fetch_add(&c.spinners, 1, __ATOMIC_SEQ_CST) == 0:
        watch_workers(c, False)
    clock_gettime(CLOCK_MONOTONIC, &start)
    while not __atomic_load_n(&r.done, __ATOMIC_ACQUIRE):
        clock_gettime(CLOCK_MONOTONIC, &now)
        elapsed = (now.tv_sec - start.tv_sec) * 1000000000 + now.tv_nsec - start.tv_nsec
        if elapsed > nanoseconds:
            break
        if elapsed - served >= SERVE_EVERY_NS and pthread_mutex_trylock(&c.mu) == 0:
            served = elapsed
            if not r.done:
                serve_workers_now(c)
            pthread_mutex_unlock(&c.mu)
        else:
            cpu_relax()
    # Whatever came meanwhile and is still unread wakes the scheduler thread now.
    if __atomic_sub_fetch(&c.spinners, 1, __ATOMIC_SEQ_CST) == 0:
        watch_workers(c, True)


cdef void run_loop(Core *c) noexcept nogil:
    """The scheduler thread's body, without the GIL until stop(): waits for
    the wake-up eventfd, the spawner or a worker socket (for writing too
    where output is pending), handles what arrived with the mutex held,
    then sends what the handlers queued for sending."""
    cdef epoll_event polled[3]
    cdef int count, i
    cdef uint64_t drained
    while True:
        # Any submit from now on wakes the loop; earlier ones are taken in here.
        __atomic_store_n(&c.wake_pending, False, __ATOMIC_SEQ_CST)
        lock_core(c)
        if c.stopping:
            pthread_mutex_unlock(&c.mu)
            return
        pthread_mutex_unlock(&c.mu)
        count = epoll_wait(c.loop_ep, polled, 3, -1)
        if count < 0:
            continue
        lock_core(c)
        c.deferring = True
        for i in range(count):
            if polled[i].data.u64 == POLLED_WAKE:
                read(c.wake_fd, &drained, 8)
            elif polled[i].data.u64 == POLLED_SPAWNER:
                if c.spawner_fd >= 0:
                    spawner_readable(c)
            else:
                serve_ready_workers(c)
        flush_deferred(c)
        free_retired_actors(c)
        pthread_mutex_unlock(&c.mu)
