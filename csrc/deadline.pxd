# Declarations of deadline.hpp: a deadline one thread waits for without the GIL.

from libc.stdint cimport int64_t, uint64_t


cdef extern from "deadline.hpp" namespace "fastray" nogil:
    cdef cppclass CDeadline "fastray::Deadline":
        CDeadline(int64_t after_ns)
        uint64_t arm()
        void disarm()
        void close()
        uint64_t wait()
