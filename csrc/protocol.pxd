# Declarations of protocol.h: the frame header and the frame, status, state
# and payload-kind constants of the wire protocol.
from libc.stdint cimport uint32_t, uint64_t


cdef extern from "protocol.h" nogil:
    enum: FR_HEADER_SIZE
    ctypedef struct fr_header:
        uint32_t body_len
        uint32_t type
        uint64_t a
        uint64_t b
    enum:
        FR_TASK
        FR_REPLY
        FR_ALLOCATED
        FR_REVOKE
        FR_DEVICES
        FR_TASK_INLINE
        FR_TASK_ACTOR_CREATE
        FR_RESULT
        FR_SUBMIT
        FR_DEFINE
        FR_PUT
        FR_WAIT
        FR_WAIT_CANCEL
        FR_REFS
        FR_CANCEL
        FR_ALLOC
        FR_ACTOR_OP
        FR_PROMISE
        FR_PUT_MANY
        FR_ACTOR_CREATE
        FR_ACTOR_KILL
        FR_ACTOR_LOOKUP
        FR_ACTOR_NAMES
        FR_POOL_CREATE
        FR_POOL_REMOVE
        FR_DEMAND_ADD
        FR_ACTOR_NAMED
        FR_ACTOR_DETACHED
        FR_ACTOR_GET_IF_EXISTS
        FR_ACTOR_SEQUENTIAL
        FR_ACTOR_STATUS_OK
        FR_ACTOR_STATUS_EXISTS
        FR_ACTOR_STATUS_UNKNOWN
        FR_SPAWN
        FR_SPAWNED
        FR_EXITED
        FR_SPAWN_ACTOR
        FR_STATUS_OK
        FR_STATUS_ERROR
        FR_STATUS_RETRYABLE_ERROR
        FR_STATUS_INTERRUPTED
        FR_STATUS_ACTOR_EXIT
        FR_WAIT_FETCH
        FR_WAIT_FAIL_FAST
        FR_CANCEL_FORCE
        FR_CANCEL_RECURSIVE
        FR_OBJ_PENDING
        FR_OBJ_READY
        FR_OBJ_FAILED
        FR_OBJ_UNKNOWN
        FR_PAYLOAD_VALUE
        FR_PAYLOAD_ERROR
        FR_PAYLOAD_CANCELLED
        FR_PAYLOAD_CRASHED
        FR_PAYLOAD_LOST
        FR_PAYLOAD_STORE_FULL
        FR_PAYLOAD_ACTOR_DIED
        FR_PAYLOAD_ACTOR_UNAVAILABLE
        FR_PAYLOAD_UNSCHEDULABLE
        FR_PAYLOAD_ACTOR_UNSCHEDULABLE
        FR_PAYLOAD_GROUP_REMOVED
        FR_PAYLOAD_INTERRUPTED
