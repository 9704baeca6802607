/* The scheduler's bookkeeping: plain C++ structures, touched only with
 * Core::mu held (the submission queue, Core::incoming, has its own mutex)
 * and never with the GIL needed.  The logic that changes them lives in
 * csrc/_scheduler.pyx and its include files (csrc/scheduler/). */
#ifndef FASTRAY_SCHED_STATE_HPP
#define FASTRAY_SCHED_STATE_HPP

#include <pthread.h>
#include <stdint.h>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "arena.hpp"

struct Request;

/* Where a blob's bytes are (blobs hold the large buffers of values). */
enum { IN_MEMORY = 0, SPILLING = 1, SPILLED = 2, RESTORING = 3 };

/* One object: a task's return value or a put value. */
struct Obj {
    uint64_t id = 0;
    int state = 0;                   /* FR_OBJ_PENDING / READY / FAILED */
    int32_t refs = 0;                /* handles, pins by tasks and containers */
    std::string payload;
    std::vector<uint64_t> dependents; /* ids of tasks waiting for it */
    std::vector<Request *> waiters;   /* one entry per occurrence in a request */
    std::vector<uint64_t> contains;   /* refs serialized inside the value */
    bool retrieved = false;          /* a reader or a dependent got the payload */
    /* Blobs only: a range of the store's shared memory holding the large
     * parts of the values that contain it. */
    bool blob = false;
    int where = IN_MEMORY;
    uint64_t offset = 0;
    uint64_t size = 0;
    int32_t pins = 0;                /* views mapped by readers (also refs) */
    uint64_t last_use = 0;           /* for choosing what to spill */
    /* An actor's anchor: handles refer to it, and when it goes, no handle
     * is left and the actor ends once its calls are done. */
    bool anchor = false;
    /* A promise: made pending by FR_PROMISE, set by the first FR_PUT of its
     * id; freed like any object once nobody refers to it, even unset. */
    bool promise = false;
};

/* QUEUED: sent to a busy worker, to run after its current task. */
enum { TASK_WAITING = 0, TASK_READY = 1, TASK_RUNNING = 2, TASK_QUEUED = 3 };
enum { TASK_FINISHED = 0, TASK_FAILED = 1, TASK_CANCELLED = 2, TASK_CRASHED = 3 };

/* A task that ended without a value, with its error payload (what a live
 * view shows of the latest failures). */
struct TaskFailure {
    uint64_t task_id;
    uint64_t fn_id;
    int32_t pid;
    int32_t outcome;
    std::string payload;   /* empty if too large to keep, or already freed */
    bool too_large = false;
};

/* What the timeline keeps of a task that ended (a bounded ring). */
struct TaskEvent {
    uint64_t task_id;
    uint64_t fn_id;
    int32_t pid;
    int32_t outcome;
    int64_t submitted_ns;
    int64_t started_ns;
    int64_t ended_ns;
    uint64_t actor;             /* the actor whose method (or constructor) it ran; 0 if none */
};

struct Task {
    uint64_t id = 0;            /* also the id of its first return object */
    uint64_t fn_id = 0;
    uint64_t parent = 0;        /* task that submitted it; 0 for the driver */
    uint32_t num_returns = 1;
    uint32_t cpu_milli = 1000;
    int32_t retries_left = 0;   /* -1: unlimited */
    int32_t attempts = 0;       /* runs started so far */
    int32_t pid = 0;            /* of the worker that ran it last */
    int outcome = 0;            /* TASK_FINISHED / FAILED / CANCELLED / CRASHED */
    int64_t submitted_ns = 0;   /* CLOCK_REALTIME, for the timeline */
    int64_t started_ns = 0;
    int32_t missing = 0;        /* dependencies not yet done */
    int32_t worker = -1;        /* slot running it */
    int state = TASK_WAITING;
    bool cancelled = false;
    uint64_t actor = 0;         /* the actor whose method it calls, or creates */
    bool creation = false;      /* runs the actor's constructor */
    uint64_t pool = 0;          /* the placement group whose CPUs it uses; 0: none */
    uint64_t env = 0;           /* its runtime_env's id; 0: none */
    uint32_t demand = 0;        /* the GPUs and custom resources it asks for; 0: none */
    bool holds = false;         /* holds its demand now (from dispatch to its end) */
    uint64_t gpus = 0;          /* the devices it runs on: bit i for device i */
    std::vector<uint64_t> deps;
    std::vector<uint64_t> contained;
    std::vector<uint64_t> children;
    std::string args;
};

typedef Task *TaskPtr;
typedef Request *RequestPtr;

/* A wait for objects: from a worker (answered by FR_REPLY) or from a
 * driver thread (answered by setting done and broadcasting Core::cv). */
struct Request {
    int32_t worker = -1;
    uint64_t req_id = 0;
    uint32_t needed = 0;
    uint32_t ready = 0;
    uint32_t flags = 0;
    bool failed = false;
    bool done = false;
    bool parked = false;         /* waits for blobs to be read back */
    std::string failure;         /* why a blob could not be read back: an error payload */
    std::vector<uint64_t> ids;
};

/* A worker is STARTING until the spawner reports its pid: only then can a
 * task given to it be cancelled, so only then does it get tasks. */
/* ACTOR: the process hosts one actor and runs its calls only; it is not
 * part of the task pool. */
enum { W_DEAD = 0, W_IDLE = 1, W_BUSY = 2, W_EXITING = 3, W_STARTING = 4, W_ACTOR = 5 };

struct Worker {
    int slot = 0;
    int fd = -1;
    int pid = 0;
    int state = W_DEAD;
    bool want_write = false;
    bool flush_queued = false;  /* in Core::to_flush */
    uint64_t origin = 0;
    Task *task = nullptr;
    Request *request = nullptr;
    std::deque<Task *> queued;  /* sent, to run after task, in order */
    /* Tasks blocked in get while this process runs, on the same stack, a
     * task they wait for (innermost last), each with its pending request
     * (nullptr once answered). */
    std::vector<std::pair<TaskPtr, RequestPtr>> suspended;
    std::unordered_set<uint64_t> known_fns;
    std::unordered_map<uint64_t, int32_t> held;  /* refs the process holds */
    std::unordered_map<uint64_t, int32_t> pinned;  /* blob views it maps */
    uint64_t actor = 0;         /* the actor it hosts, if any */
    /* The runtime_env its tasks run in, fixed by the first it runs (a
     * worker serves one: much is read at import time). */
    uint64_t env = 0;
    bool env_fixed = false;
    /* The GPUs its process sees (bit i: device i), fixed with env: CUDA
     * reads CUDA_VISIBLE_DEVICES once per process. */
    uint64_t gpus = 0;
    std::vector<Request *> requests;  /* an actor's waits (several at once) */
    std::string in;
    std::string out;
    size_t out_pos = 0;         /* bytes of out already sent */
};

/* PENDING: waiting for CPUs to be placed; RESTARTING: its process died and
 * a new one runs the constructor again. */
enum { A_PENDING = 0, A_ALIVE = 1, A_RESTARTING = 2, A_DEAD = 3 };

/* An actor: a process of its own that runs its calls in the order they
 * were submitted (csrc/scheduler/actors.pxi). */
struct Actor {
    uint64_t id = 0;            /* also its anchor object's id */
    int state = A_PENDING;
    int32_t worker = -1;        /* slot of its process; -1 while it has none */
    int32_t pid = 0;            /* of its latest process */
    uint32_t cpu_milli = 0;     /* held for its whole life */
    int32_t restarts_left = 0;  /* -1: unlimited */
    uint32_t restarts = 0;
    bool pinned = false;        /* named or detached: the runtime holds its anchor */
    bool anchor_gone = false;   /* no handle is left */
    bool ending = false;        /* its process was told to stop, for good */
    bool no_restart = false;
    bool stalled = false;       /* its next call waits for blobs read back from disk */
    bool sequential = false;    /* one call at a time: only sent.front() runs */
    uint32_t sent_ahead = 1;    /* the most calls sent to its process at once */
    std::vector<uint64_t> unsignalled;  /* cancelled before its pid was known */
    std::string name_key;       /* namespace \0 name, or empty */
    std::string class_name;
    Task spec;                  /* its creation task, run again on a restart */
    std::deque<Task *> waiting; /* submitted, not yet sent, in order */
    std::deque<Task *> sent;    /* sent to its process, not ended */
    std::string ending_cause;   /* utf-8, why it ends once its process does */
    std::string death;          /* FR_PAYLOAD_ACTOR_DIED payload once dead */
    uint64_t calls_done = 0;
    uint64_t pool = 0;          /* the placement group whose CPUs it holds; 0: none */
    uint32_t demand = 0;        /* GPUs and custom resources held for its whole life */
    uint64_t gpus = 0;          /* the devices it holds: bit i for device i */
};

/* Resource amounts are counted in RESOURCE_UNIT parts of one (Ray counts
 * fractions of a GPU to four decimals). */
static const int64_t RESOURCE_UNIT = 10000;

/* GPUs and custom resources that a task or actor asks for, registered once
 * per distinct request (csrc/scheduler/resources.pxi). */
struct Demand {
    uint32_t id = 0;
    int64_t gpu = 0;            /* RESOURCE_UNITs: below one, a share of one device */
    std::vector<std::pair<uint32_t, int64_t>> custom;  /* (resource index, amount) */
    std::deque<Task *> ready;   /* its tasks outside groups that may run, in order */
};

/* What a holder (the machine, or a placement group's reservation) has of
 * GPUs and custom resources. */
struct Holdings {
    std::vector<int64_t> custom;  /* by resource index */
    std::vector<int64_t> gpu;     /* by device: RESOURCE_UNIT is all of one */
};

/* A placement group's reservation: CPUs taken from the general pool once
 * they are free, for its own tasks and actors (csrc/scheduler/pools.pxi). */
struct Pool {
    uint64_t id = 0;
    int64_t total_cpu_milli = 0;
    int64_t used_cpu_milli = 0;
    bool feasible = true;          /* false: never reserved (Ray's infeasible group) */
    bool reserved = false;
    uint64_t ready_oid = 0;        /* a promise, set once the CPUs are reserved */
    std::string ready_payload;
    std::deque<Task *> ready;      /* its tasks ready to run, in order */
    std::vector<uint32_t> bundle_demands;  /* each bundle's GPUs and custom resources */
    Holdings taken;                /* what it took from the machine */
    Holdings free;                 /* what of that is not in use */
};

/* A request for store memory that could not be met at once: served in
 * order by the store thread, which spills or waits for memory. */
struct Alloc {
    int32_t worker = -1;         /* -1: a driver thread waits for done */
    uint64_t req_id = 0;
    std::vector<uint64_t> ids;
    std::vector<uint64_t> sizes;
    std::vector<uint64_t> offsets;
    double deadline = 0;         /* CLOCK_MONOTONIC seconds */
    bool done = false;
    bool failed = false;
    bool abandoned = false;      /* the driver thread stopped waiting */
    std::string error;
};

struct Function {
    std::string name;
    std::string blob;
    double mean_ns = 0;         /* how long a run takes, to decide on queueing */
    uint32_t runs = 0;
};

/* A hint to the CPU inside a spin loop (frees the core's other hyperthread). */
static inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct Core {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Tasks the driver submitted while mu was busy, not taken in yet.  Such
     * a submit takes only incoming_mu, so the driver does not wait while the
     * scheduler thread handles a batch; whoever takes mu next (lock_core)
     * takes them in.  has_incoming and wake_pending are read and written
     * with __atomic builtins. */
    pthread_mutex_t incoming_mu;
    std::vector<Task *> incoming;
    bool has_incoming = false;
    bool wake_pending = false;  /* a wake-up is on its way to the scheduler thread */
    std::unordered_map<uint64_t, Obj *> objects;
    std::unordered_map<uint64_t, Task *> tasks;
    std::unordered_map<uint64_t, Function> functions;
    std::deque<Task *> ready;
    std::unordered_map<uint64_t, Pool *> pools;
    std::vector<uint64_t> pending_pools;  /* not reserved yet, in order */
    std::vector<Worker *> workers;
    std::unordered_map<uint64_t, Actor *> actors;
    std::unordered_map<std::string, uint64_t> actor_names;
    std::vector<Actor *> unplaced;   /* actors waiting for CPUs, in order */
    std::vector<Actor *> retired;    /* dead and forgotten, freed by the loop */
    int64_t total_cpu_milli = 0;
    int64_t used_cpu_milli = 0;
    /* GPUs and custom resources: the machine's free amounts, the demands
     * registered (id i at i - 1, looked up by their encoding), how many
     * tasks wait in demands' lines, and each device's id as CUDA names it. */
    Holdings free;
    std::vector<Demand *> demands;
    std::unordered_map<std::string, uint32_t> demand_ids;
    size_t gated = 0;
    std::vector<std::string> gpu_ids;
    int min_workers = 0;
    int max_workers = 0;
    int spawner_fd = -1;
    int wake_fd = -1;
    /* The scheduler thread waits on loop_ep: wake_fd, spawner_fd and
     * workers_ep, the epoll set of every worker's socket.  A driver thread
     * spinning for an answer serves the workers' sockets itself and turns
     * workers_ep off meanwhile (spinners counts them; __atomic builtins), so
     * that the scheduler thread is not woken, on a core the spinner or the
     * worker needs, for frames the spinner reads anyway. */
    int loop_ep = -1;
    int workers_ep = -1;
    int spinners = 0;
    bool stopping = false;
    /* While the scheduler thread handles a batch of frames, sends wait in
     * to_flush: a worker gets one send for all the tasks the batch gave it. */
    bool deferring = false;
    std::vector<Worker *> to_flush;
    bool spawner_lost = false;
    uint64_t next_origin = 1;
    uint64_t tasks_finished = 0;
    uint64_t tasks_failed = 0;
    uint64_t workers_started = 0;
    uint64_t workers_died = 0;
    uint64_t retries = 0;
    uint64_t retried_then_succeeded = 0;
    std::vector<std::string> unhandled;  /* errors freed without being retrieved */
    std::vector<TaskEvent> events;   /* ring of the last events.size() tasks */
    uint64_t outcomes[4] = {0, 0, 0, 0};  /* ended tasks by TASK_FINISHED... */
    uint64_t events_total = 0;
    std::deque<TaskFailure> failures;  /* the latest, newest last */

    /* The object store (see csrc/scheduler/store.pxi). */
    Arena arena;
    char *base = nullptr;            /* the driver's mapping of the store */
    int store_fd = -1;
    uint64_t warm_limit = 0;         /* offsets below stay faulted in when freed */
    double full_timeout = 10;        /* seconds an allocation waits for memory */
    std::string spill_dir;
    /* where a worker's socket is read into first: sized once, so a read
     * never zero-fills a fresh RECV_CHUNK of the worker's buffer */
    std::vector<char> received;
    std::string spill_error;         /* why the last spill failed; empty if it did not */
    pthread_cond_t io_cv;            /* wakes the store thread */
    std::deque<Alloc *> allocs;
    std::deque<uint64_t> restores;   /* blob ids to read back from disk */
    std::vector<std::pair<uint64_t, uint64_t>> punches;  /* ranges to give back */
    std::vector<Task *> parked;      /* ready tasks waiting for a restore */
    std::vector<Request *> parked_requests;  /* worker fetches ditto */
    std::unordered_set<uint64_t> blob_ids;
    uint64_t use_clock = 0;
    uint64_t blob_bytes = 0;         /* live blobs, in memory or on disk */
    uint64_t blobs = 0;
    uint64_t spilled_bytes = 0;      /* on disk now */
    uint64_t spilled_blobs = 0;
    uint64_t spill_count = 0;        /* since start */
    uint64_t restore_count = 0;
};

#endif
