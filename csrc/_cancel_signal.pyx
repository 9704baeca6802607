# cython: language_level=3
"""Which task a cancel() is meant for, as a worker learns it.

The scheduler sends SIGNAL (SIGRTMIN) with the cancelled task's id as the
signal's value (sigqueue).  A Python handler never sees that value, and a
bare SIGINT cannot tell "the task you are running" from "the task you are
about to start" or "the task you just finished".  This handler notes the
id in a small ring and then raises SIGINT's Python handler as if SIGINT
had come; the worker interrupts a task only if its id is noted, and checks
the ring again when a task starts, so a cancel that arrives while the task
is still on its way is not lost.  A real-time signal, because those queue:
a second SIGINT sent while one is pending would be dropped.  Until Python
has run that handler, a timer kicks the main thread out of any blocking
call it entered meanwhile (csrc/kick_timer.h).
"""
from libc.errno cimport errno
from libc.signal cimport SIGINT, SIGKILL, SIGRTMIN
from libc.stdint cimport uint64_t
from posix.signal cimport (SA_SIGINFO, SIG_UNBLOCK, sigaction, sigaction_t, sigaddset,
                           sigemptyset, siginfo_t)
from posix.types cimport sigset_t

from kick_timer cimport fr_kick_create, fr_kick_every


cdef extern from "<signal.h>" nogil:
    enum: SI_QUEUE
    int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)


cdef extern from "<sys/prctl.h>" nogil:
    enum: PR_SET_PDEATHSIG
    int prctl(int option, unsigned long arg)


cdef extern from "Python.h":
    int PyErr_SetInterruptEx(int signum) nogil


cdef extern from * nogil:
    enum: __ATOMIC_RELAXED
    enum: __ATOMIC_ACQUIRE
    enum: __ATOMIC_RELEASE
    unsigned int __atomic_fetch_add(unsigned int *ptr, unsigned int value, int order)
    uint64_t __atomic_load_n(uint64_t *ptr, int order)
    void __atomic_store_n(uint64_t *ptr, uint64_t value, int order)


cdef enum:
    RING = 16
    KICK_PERIOD_NS = 10000000

# Ids of tasks recently cancelled; task ids are never reused, so an old
# entry can only ever match the task it was meant for.
cdef uint64_t targets[RING]
cdef unsigned int next_slot = 0


cdef void on_signal(int signum, siginfo_t *info, void *context) noexcept nogil:
    cdef unsigned int slot
    if info.si_code == SI_QUEUE:
        slot = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED) % RING
        __atomic_store_n(&targets[slot], <uint64_t>info.si_value.sival_ptr, __ATOMIC_RELEASE)
    PyErr_SetInterruptEx(SIGINT)
    fr_kick_every(KICK_PERIOD_NS)


cdef void on_kick(int signum) noexcept nogil:
    """Nothing to do: arriving was the point (a blocking call returns EINTR)."""


SIGNAL = SIGRTMIN


def install() -> None:
    """Installs the id-noting handler, then takes the cancels sent before:
    the spawner forks workers with SIGNAL blocked, so they stay pending.
    Call it from the main thread: the kicks are aimed at the caller."""
    cdef sigaction_t action
    cdef sigaction_t kick
    cdef sigset_t interrupt
    kick.sa_handler = on_kick
    kick.sa_flags = 0
    sigemptyset(&kick.sa_mask)
    if sigaction(SIGRTMIN + 1, &kick, NULL) != 0 or fr_kick_create(SIGRTMIN + 1) != 0:
        raise OSError(errno, "could not set up the cancel timer")
    action.sa_sigaction = on_signal
    action.sa_flags = SA_SIGINFO
    sigemptyset(&action.sa_mask)
    if sigaction(SIGRTMIN, &action, NULL) != 0:
        raise OSError(errno, "could not install the cancel handler")
    sigemptyset(&interrupt)
    sigaddset(&interrupt, SIGRTMIN)
    pthread_sigmask(SIG_UNBLOCK, &interrupt, NULL)


def handled() -> None:
    """Python's SIGINT handler has run: no more kicks needed."""
    fr_kick_every(0)


def requested(uint64_t task_id) -> bool:
    """Whether a cancel for task_id has arrived."""
    cdef int i
    if task_id == 0:
        return False
    for i in range(RING):
        if __atomic_load_n(&targets[i], __ATOMIC_ACQUIRE) == task_id:
            return True
    return False


def die_with_parent() -> None:
    """SIGKILL for this worker when the spawner that forked it ends, however
    it ends: no worker outlives its runtime (here, not through ctypes, which
    would cost the first task a millisecond and a half of imports)."""
    prctl(PR_SET_PDEATHSIG, SIGKILL)
