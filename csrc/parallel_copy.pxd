# Declarations of parallel_copy.hpp: a copy split over several threads.


cdef extern from "parallel_copy.hpp" nogil:
    void parallel_copy(char *dst, const char *src, size_t n)
