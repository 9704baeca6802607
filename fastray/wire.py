"""The frames between the scheduler, the workers and the spawner, as Python
packs and reads them.

csrc/protocol.h is the definition: the compiled scheduler exports its
constants, re-exported here, and the struct layouts below follow it (their
sizes and the constants are checked against protocol.h by
tests/test_wire.py).  Python code reads the wire format only from here.
"""
import struct

from ._scheduler import (ACTOR_CREATE, ACTOR_DETACHED, ACTOR_GET_IF_EXISTS, ACTOR_KILL,
                         ACTOR_SEQUENTIAL,
                         ACTOR_LOOKUP, ACTOR_NAMED, ACTOR_NAMES, ACTOR_OP, ACTOR_STATUS_EXISTS,
                         ACTOR_STATUS_OK, ACTOR_STATUS_UNKNOWN, PAYLOAD_ACTOR_DIED,
                         PAYLOAD_ACTOR_UNAVAILABLE, PAYLOAD_ACTOR_UNSCHEDULABLE, PAYLOAD_GROUP_REMOVED,
                         PAYLOAD_INTERRUPTED,
                         PAYLOAD_UNSCHEDULABLE, POOL_CREATE,
                         POOL_REMOVE,
                         STATUS_ACTOR_EXIT, TASK_ACTOR_CREATE, ALLOC, ALLOCATED, CANCEL, CANCEL_FORCE, CANCEL_RECURSIVE, DEFINE,
                         EXITED, HEADER_SIZE, OBJ_FAILED, OBJ_PENDING, OBJ_READY, OBJ_UNKNOWN,
                         PAYLOAD_CANCELLED, PAYLOAD_CRASHED, PAYLOAD_ERROR, PAYLOAD_LOST,
                         PAYLOAD_STORE_FULL, PAYLOAD_VALUE, PROMISE, PUT, PUT_MANY, REFS, REPLY, RESULT, REVOKE,
                         SPAWN, SPAWN_ACTOR, SPAWNED, STATUS_ERROR, STATUS_INTERRUPTED, STATUS_OK,
                         STATUS_RETRYABLE_ERROR, SUBMIT, TASK, TASK_INLINE, WAIT, WAIT_CANCEL,
                         WAIT_FAIL_FAST, WAIT_FETCH, DEVICES, DEMAND_ADD)

__all__ = [
    "ACTOR_CREATE", "ACTOR_DETACHED", "ACTOR_GET_IF_EXISTS", "ACTOR_KILL", "ACTOR_LOOKUP",
    "ACTOR_NAMED", "ACTOR_NAMES", "ACTOR_SEQUENTIAL", "ACTOR_OP", "ACTOR_STATUS_EXISTS", "ACTOR_STATUS_OK",
    "ACTOR_STATUS_UNKNOWN", "PAYLOAD_ACTOR_DIED", "PAYLOAD_ACTOR_UNAVAILABLE",
    "PAYLOAD_ACTOR_UNSCHEDULABLE", "PAYLOAD_GROUP_REMOVED", "PAYLOAD_INTERRUPTED", "PAYLOAD_UNSCHEDULABLE", "POOL_CREATE", "POOL_REMOVE", "STATUS_ACTOR_EXIT", "TASK_ACTOR_CREATE",
    "ACTOR_CREATE_FIELDS",
    "ALLOC", "ALLOCATED", "CANCEL", "CANCEL_FORCE", "CANCEL_RECURSIVE", "DEFINE", "EXITED",
    "HEADER", "HEADER_SIZE", "LOCATION", "OBJ_FAILED", "OBJ_PENDING", "OBJ_READY",
    "OBJ_UNKNOWN", "PAYLOAD_CANCELLED", "PAYLOAD_CRASHED", "PAYLOAD_ERROR", "PAYLOAD_LOST",
    "PAYLOAD_STORE_FULL", "PAYLOAD_VALUE", "PROMISE", "PUT", "PUT_MANY", "REFS", "REPLY", "RESULT", "REVOKE", "SPAWN",
    "SPAWN_ACTOR", "SPAWNED", "STATUS_ERROR", "STATUS_INTERRUPTED", "STATUS_OK", "STATUS_RETRYABLE_ERROR",
    "SUBMIT", "SUBMIT_FIELDS", "TASK", "TASK_FIELDS", "TASK_INLINE", "WAIT", "WAIT_CANCEL",
    "WAIT_FAIL_FAST", "WAIT_FETCH", "pack_ids", "refs_frame", "DEVICES", "DEMAND_ADD",
]

# Every frame's header: body length, kind, then the kind's two u64 fields a and b.
HEADER = struct.Struct("<IIQQ")
# Where a blob's bytes are: blob id, offset in the store, size.
LOCATION = struct.Struct("<QQQ")
# The fixed start of a SUBMIT body: num_returns, cpu_milli, max_retries, actor id,
# placement group id, runtime_env id, demand id.
SUBMIT_FIELDS = struct.Struct("<IIiQQQI")
# The fixed start of an ACTOR_CREATE body: actor id, class function id,
# cpu_milli, max_restarts, flags, most calls sent ahead, placement group id,
# demand id.
ACTOR_CREATE_FIELDS = struct.Struct("<QQIiIIQI")
# The fixed start of a TASK body: flags, num_returns, ndeps.
TASK_FIELDS = struct.Struct("<III")


_U32 = struct.Struct("<I")


def pack_ids(ids: list[int]) -> bytes:
    """A list of ids as frames carry them: u32 count, then u64 each."""
    if not ids:
        return _NO_IDS
    return _U32.pack(len(ids)) + struct.pack(f"<{len(ids)}Q", *ids)


_NO_IDS = _U32.pack(0)


def refs_frame(increfs: list[int], decrefs: list[int], unpins: list[int]) -> bytes:
    """A REFS frame: references taken and dropped, blob views released."""
    body = pack_ids(increfs) + pack_ids(decrefs) + pack_ids(unpins)
    return HEADER.pack(len(body), REFS, 0, 0) + body
