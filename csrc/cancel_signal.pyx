# cython: language_level=3
"""Which task a cancel() is meant for, as a worker learns it.

The scheduler sends SIGINT with the cancelled task's id as the signal's
value (sigqueue).  A plain Python handler never sees that value, and a
SIGINT without it cannot tell "the task you are running" from "the task
you are about to start" or "the task you just finished".  This handler
notes the id in a small ring and then lets Python's own SIGINT handler
run as usual; the worker interrupts a task only if its id is noted, and
checks the ring again when a task starts, so a cancel that arrives while
the task is still on its way is not lost.
"""
from libc.errno cimport errno
from libc.stdint cimport uint64_t
from posix.signal cimport (SA_SIGINFO, SIG_UNBLOCK, sigaction, sigaction_t, sigaddset,
                           sigemptyset, siginfo_t)
from posix.types cimport sigset_t


cdef extern from "<signal.h>" nogil:
    enum:
        SIGINT
        SI_QUEUE
    int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)


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

# Ids of tasks recently cancelled; task ids are never reused, so an old
# entry can only ever match the task it was meant for.
cdef uint64_t targets[RING]
cdef unsigned int next_slot = 0


cdef void on_signal(int signum, siginfo_t *info, void *context) noexcept nogil:
    cdef unsigned int slot
    if info.si_code == SI_QUEUE:
        slot = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED) % RING
        __atomic_store_n(&targets[slot], <uint64_t>info.si_value.sival_ptr, __ATOMIC_RELEASE)
    PyErr_SetInterruptEx(signum)


def install() -> None:
    """Puts the id-noting handler in front of Python's SIGINT handler (call
    after signal.signal(SIGINT, ...), which would replace it), then takes
    the cancels sent before: the spawner forks workers with SIGINT blocked."""
    cdef sigaction_t action
    cdef sigset_t interrupt
    action.sa_sigaction = on_signal
    action.sa_flags = SA_SIGINFO
    sigemptyset(&action.sa_mask)
    if sigaction(SIGINT, &action, NULL) != 0:
        raise OSError(errno, "could not install the cancel handler")
    sigemptyset(&interrupt)
    sigaddset(&interrupt, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &interrupt, NULL)


def requested(uint64_t task_id) -> bool:
    """Whether a cancel for task_id has arrived."""
    cdef int i
    if task_id == 0:
        return False
    for i in range(RING):
        if __atomic_load_n(&targets[i], __ATOMIC_ACQUIRE) == task_id:
            return True
    return False
