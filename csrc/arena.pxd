# Declarations of arena.hpp: the object store's allocator.
from libc.stdint cimport uint64_t
from libcpp cimport bool as cbool


cdef extern from "arena.hpp" nogil:
    cdef cppclass Arena:
        void reset(uint64_t capacity)
        cbool allocate(uint64_t size, uint64_t *offset)
        void release(uint64_t offset, uint64_t size)
        uint64_t capacity()
        uint64_t used()

    uint64_t arena_round_up "Arena::round_up"(uint64_t size)
