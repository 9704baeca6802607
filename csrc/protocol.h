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
    /* a=number of devices; body: their ids, comma-separated (utf-8): the
       GPUs the worker's tasks see from now on, sent before its first task
       on a machine with GPUs (a=0: none, a CPU worker) */
    FR_DEVICES = 5,
};

/* TASK flags.  FR_TASK_ACTOR_CREATE: the task makes the process an actor's
   host (a = the actor's id, the function is the actor's class); every task
   it gets afterwards is a call of one of the actor's methods. */
enum { FR_TASK_INLINE = 1, FR_TASK_ACTOR_CREATE = 2 };

/* "locations": u32 n, n x (u64 blob id, u64 offset, u64 size).  Every
   location sent pins its blob for the receiver until it sends the id back
   in the unpin list of an FR_REFS frame. */

/* worker -> driver */
enum {
    /* a=task id, b=status; body: u32 n, n x (u64 len, payload),
       u32 ncontained, ncontained x u64 */
    FR_RESULT = 10,
    /* a=task id, b=function id; body: u32 num_returns, u32 cpu_milli,
       i32 max_retries, u64 actor id (0: a plain task), u64 placement group
       (0: none), u64 runtime_env id (0: none), u32 demand id (0: none), u32 ndeps,
       ndeps x u64, u32 ncontained, ncontained x u64, args payload */
    FR_SUBMIT = 11,
    /* a=function id; body: the pickled function */
    FR_DEFINE = 12,
    /* a=object id; body: u32 ncontained, ncontained x u64, payload.  The id
       of an unset promise sets it; else a new object, held by the sender */
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
    /* a=request id, b=FR_ACTOR_* operation; body: the operation's fields
       (fastray/wire.py); answered by FR_REPLY with b = FR_ACTOR_STATUS_*
       and the operation's answer as body */
    FR_ACTOR_OP = 19,
    /* a=first id, b=count: pending objects (promises) a .. a+b-1, each held
       by the sender, for an FR_PUT of their id to set (streaming results) */
    FR_PROMISE = 20,
    /* body: u32 n, n x (u64 object id, u32 ncontained, ncontained x u64,
       u64 len, payload): n FR_PUTs in one frame (a generator's values) */
    FR_PUT_MANY = 21,
};

/* FR_ACTOR_OP operations */
enum {
    /* u64 actor id, u64 class function id, u32 cpu_milli, i32 max_restarts,
       u32 FR_ACTOR_* flags, u32 most calls sent ahead, u64 placement group (0: none),
       u32 demand id (0: none), u32 len + name key, u32 len + handle payload,
       u32 ndeps + ids, u32 ncontained + ids, constructor args payload.
       Answer: FR_ACTOR_STATUS_OK; or FR_ACTOR_STATUS_EXISTS with u64 id and
       the handle payload of the actor already under that name */
    FR_ACTOR_CREATE = 1,
    /* u64 actor id, u32 restart (1: may restart) */
    FR_ACTOR_KILL = 2,
    /* u32 len + name key.  Answer: u64 id and handle payload, or
       FR_ACTOR_STATUS_UNKNOWN */
    FR_ACTOR_LOOKUP = 3,
    /* no body.  Answer: u32 n, n x (u32 len + name key) */
    FR_ACTOR_NAMES = 4,
    /* Placement groups (not actors, but the same request and answer):
       u64 group id, u64 cpu_milli, u32 feasible, u64 ready promise id,
       u32 n, n x u32 demand id (each bundle's GPUs and custom resources),
       payload the promise is set to once the CPUs are reserved */
    FR_POOL_CREATE = 5,
    /* u64 group id: its CPUs go back, what runs in it is ended */
    FR_POOL_REMOVE = 6,
    /* i64 GPU amount, u32 n, n x (u32 custom resource index, i64 amount),
       amounts in RESOURCE_UNITs.  Answer: u32 demand id, the same for the
       same request */
    FR_DEMAND_ADD = 7,
};

/* FR_ACTOR_SEQUENTIAL: it runs one call at a time, in order, so a call sent
   behind the running one has not started. */
enum { FR_ACTOR_NAMED = 1, FR_ACTOR_DETACHED = 2, FR_ACTOR_GET_IF_EXISTS = 4,
       FR_ACTOR_SEQUENTIAL = 8 };

enum {
    FR_ACTOR_STATUS_OK = 0,
    FR_ACTOR_STATUS_EXISTS = 1,    /* a live actor holds the name */
    FR_ACTOR_STATUS_UNKNOWN = 2,   /* no such (live) actor */
};

/* spawner <-> driver (SOCK_SEQPACKET, one header per message) */
enum {
    FR_SPAWN = 30,    /* driver->spawner: a=slot, b=origin; one fd attached */
    FR_SPAWNED = 31,  /* spawner->driver: a=slot, b=pid */
    FR_EXITED = 32,   /* spawner->driver: a=slot, b=(pid << 32) | wait status */
    FR_SPAWN_ACTOR = 33,  /* driver->spawner: as FR_SPAWN, for an actor's process */
};

/* FR_RESULT status */
enum {
    FR_STATUS_OK = 0,
    FR_STATUS_ERROR = 1,            /* application exception, not retryable */
    FR_STATUS_RETRYABLE_ERROR = 2,  /* application exception, may be retried */
    FR_STATUS_INTERRUPTED = 3,      /* KeyboardInterrupt inside the task */
    FR_STATUS_ACTOR_EXIT = 4,       /* the actor ended itself (exit_actor) */
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
    FR_PAYLOAD_ACTOR_DIED = 6, /* utf-8 text: the actor died, and why */
    FR_PAYLOAD_ACTOR_UNAVAILABLE = 7, /* utf-8 text: its process died; it restarts */
    FR_PAYLOAD_UNSCHEDULABLE = 8,  /* utf-8 text: the task can never run here */
    FR_PAYLOAD_ACTOR_UNSCHEDULABLE = 9,  /* utf-8 text: the actor can never start here */
    FR_PAYLOAD_GROUP_REMOVED = 10,  /* utf-8 text: its placement group was removed */
    FR_PAYLOAD_INTERRUPTED = 11,  /* utf-8 text: cancelled while it ran (interrupted) */
};

#endif
