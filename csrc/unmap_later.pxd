# Declarations of unmap_later.hpp: giving an ended store's memory back off the caller's thread.


cdef extern from "unmap_later.hpp" nogil:
    void fr_unmap_later(void *base, size_t size, int fd)
