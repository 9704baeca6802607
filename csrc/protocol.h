/* Wire protocol between the driver's scheduler and the worker processes.
 *
 * Every frame starts with a fixed 24-byte little-endian header:
 *   u32 body_len, u32 type, u64 a, u64 b
 * followed by body_len bytes.  The meaning of a and b depends on the type.
 * The Python side (fastray/wire.py) reads the same constants from the
 * compiled module, so this file is the single definition.
 */
#ifndef FASTRAY_PROTOCOL_H
#define FASTRAY_PROTOCOL_H

#include <stdint.h>

#define FR_HEADER_SIZE 24

typedef struct {
    uint32_t body_len;
    uint32_t type;
    uint64_t a;
    uint64_t b;
} fr_header;

/* driver -> worker */
enum {
    /* a=task id, b=function id; body: u32 flags, u32 num_returns, u32 ndeps,
       u64 fn_blob_len, fn blob, ndeps x (u64 len, payload, locations),
       locations of the arguments' blobs, args payload.  A worker runs
       tasks in the order they arrive; with FR_TASK_INLINE it runs the task
       at once, on top of the task blocked in get that waits for it. */
    FR_TASK = 1,
    /* a=request id, b=count; body: count x (u8 state,
       [u64 len, payload, locations]) */
    FR_REPLY = 2,
    /* a=request id, b=1 on success; body: n x u64 offset, or utf-8 text
       saying why the store could not make room */
    FR_ALLOCATED = 3,
    /* body: u32 n, n x u64 task ids: queued tasks the worker must drop
       unstarted (it blocked in get, or they were cancelled) */
    FR_REVOKE = 4,
};

enum { FR_TASK_INLINE = 1 };

/* "locations": u32 n, n x (u64 blob id, u64 offset, u64 size).  Every
   location sent pins its blob for the receiver until it sends the id back
   in the unpin list of an FR_REFS frame. */

/* worker -> driver */
enum {
    /* a=task id, b=status; body: u32 n, n x (u64 len, payload),
       u32 ncontained, ncontained x u64 */
    FR_RESULT = 10,
    /* a=task id, b=function id; body: u32 num_returns, u32 cpu_milli,
       i32 max_retries, u32 ndeps, ndeps x u64, u32 ncontained,
       ncontained x u64, args payload */
    FR_SUBMIT = 11,
    /* a=function id; body: the pickled function */
    FR_DEFINE = 12,
    /* a=object id; body: u32 ncontained, ncontained x u64, payload */
    FR_PUT = 13,
    /* a=request id, b=number of ready objects wanted;
       body: u32 flags, u32 n, n x u64 */
    FR_WAIT = 14,
    /* a=request id: stop waiting, answer now with what is ready */
    FR_WAIT_CANCEL = 15,
    /* body: u32 ninc, ninc x u64, u32 ndec, ndec x u64,
       u32 nunpin, nunpin x u64 */
    FR_REFS = 16,
    /* a=task id, b=flags (FR_CANCEL_FORCE | FR_CANCEL_RECURSIVE) */
    FR_CANCEL = 17,
    /* a=request id; body: u32 n, n x (u64 blob id, u64 size): store memory
       for new blobs, answered by FR_ALLOCATED */
    FR_ALLOC = 18,
};

/* spawner <-> driver (SOCK_SEQPACKET, one header per message) */
enum {
    FR_SPAWN = 30,    /* driver->spawner: a=slot, b=origin; one fd attached */
    FR_SPAWNED = 31,  /* spawner->driver: a=slot, b=pid */
    FR_EXITED = 32,   /* spawner->driver: a=slot, b=(pid << 32) | wait status */
};

/* FR_RESULT status */
enum {
    FR_STATUS_OK = 0,
    FR_STATUS_ERROR = 1,            /* application exception, not retryable */
    FR_STATUS_RETRYABLE_ERROR = 2,  /* application exception, may be retried */
    FR_STATUS_INTERRUPTED = 3,      /* KeyboardInterrupt inside the task */
};

/* FR_WAIT flags */
enum {
    FR_WAIT_FETCH = 1,      /* send the payloads of the ready objects */
    FR_WAIT_FAIL_FAST = 2,  /* answer as soon as any object holds an error */
};

enum {
    FR_CANCEL_FORCE = 1,
    FR_CANCEL_RECURSIVE = 2,
};

/* Per-object state byte in FR_REPLY and in wait results. */
enum {
    FR_OBJ_PENDING = 0,
    FR_OBJ_READY = 1,
    FR_OBJ_FAILED = 2,
    FR_OBJ_UNKNOWN = 3,
};

/* First byte of every stored payload. */
enum {
    FR_PAYLOAD_VALUE = 0,      /* serialized value (fastray/serialization.py) */
    FR_PAYLOAD_ERROR = 1,      /* serialized exception raised by a task */
    FR_PAYLOAD_CANCELLED = 2,  /* utf-8 text: the task was cancelled */
    FR_PAYLOAD_CRASHED = 3,    /* utf-8 text: the worker died */
    FR_PAYLOAD_LOST = 4,       /* utf-8 text: an input object no longer exists */
    FR_PAYLOAD_STORE_FULL = 5, /* utf-8 text: a spilled input could not be read back */
};

#endif
