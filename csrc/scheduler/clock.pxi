# The scheduler's clocks.  Deadlines and timeouts are measured on
# CLOCK_MONOTONIC, which a change of the wall clock does not move; the
# condition variables are made to time their waits on it too
# (monotonic_cond_init).  Only the timeline's timestamps (now_ns) are real
# time, on purpose: they are shown as times of day.


cdef int64_t now_ns() noexcept nogil:
    """Real time in ns since the epoch, for the timeline's timestamps only."""
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <int64_t>t.tv_sec * 1000000000 + t.tv_nsec


cdef double monotonic() noexcept nogil:
    """Seconds on CLOCK_MONOTONIC, the clock of every deadline."""
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec + t.tv_nsec * 1e-9


cdef int monotonic_cond_init(pthread_cond_t *cv) noexcept nogil:
    """Initializes cv so that pthread_cond_timedwait takes its deadline on
    CLOCK_MONOTONIC (the default is CLOCK_REALTIME)."""
    cdef pthread_condattr_t attr
    cdef int error
    pthread_condattr_init(&attr)
    error = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
    if error == 0:
        error = pthread_cond_init(cv, &attr)
    pthread_condattr_destroy(&attr)
    return error


cdef void wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, double deadline) noexcept nogil:
    """Waits on cv (made by monotonic_cond_init) until it is signalled or
    the monotonic() time ``deadline`` has come."""
    cdef timespec t
    t.tv_sec = <long>deadline
    t.tv_nsec = <long>((deadline - t.tv_sec) * 1e9)
    if t.tv_nsec >= 1000000000:
        t.tv_sec += 1
        t.tv_nsec -= 1000000000
    pthread_cond_timedwait(cv, mu, &t)


cdef void wait_briefly(pthread_cond_t *cv, pthread_mutex_t *mu, long nanoseconds) noexcept nogil:
    wait_until(cv, mu, monotonic() + nanoseconds * 1e-9)
