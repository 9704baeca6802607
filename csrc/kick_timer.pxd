# Declarations of kick_timer.h: the timer that kicks the main thread out of
# a blocking call until a cancel has been handled.


cdef extern from "kick_timer.h" nogil:
    int fr_kick_create(int signo)
    void fr_kick_every(long period_ns)
