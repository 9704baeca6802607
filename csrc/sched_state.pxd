# Declarations of sched_state.hpp: the scheduler's bookkeeping structures.
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.deque cimport deque
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.unordered_set cimport unordered_set
from libcpp.utility cimport pair
from libcpp.vector cimport vector

from arena cimport Arena
from system cimport pthread_cond_t, pthread_mutex_t


cdef extern from "sched_state.hpp" nogil:
    void cpu_relax()

    cdef cppclass Request

    cdef cppclass Obj:
        uint64_t id
        int state
        int32_t refs
        string payload
        vector[uint64_t] dependents
        vector[Request *] waiters
        vector[uint64_t] contains
        cbool retrieved
        cbool blob
        int where
        uint64_t offset
        uint64_t size
        int32_t pins
        uint64_t last_use
        cbool anchor
        cbool promise

    enum:
        IN_MEMORY
        SPILLING
        SPILLED
        RESTORING

    enum:
        TASK_WAITING
        TASK_READY
        TASK_RUNNING
        TASK_QUEUED

    enum:
        TASK_FINISHED
        TASK_FAILED
        TASK_CANCELLED
        TASK_CRASHED

    cdef cppclass TaskFailure:
        uint64_t task_id
        uint64_t fn_id
        int32_t pid
        int32_t outcome
        string payload
        cbool too_large

    cdef struct TaskEvent:
        uint64_t task_id
        uint64_t fn_id
        int32_t pid
        int32_t outcome
        int64_t submitted_ns
        int64_t started_ns
        int64_t ended_ns
        uint64_t actor

    cdef cppclass Task:
        uint64_t id
        uint64_t fn_id
        uint64_t parent
        uint32_t num_returns
        uint32_t cpu_milli
        int32_t retries_left
        int32_t attempts
        int32_t pid
        int outcome
        int64_t submitted_ns
        int64_t started_ns
        int32_t missing
        int32_t worker
        int state
        cbool cancelled
        uint64_t actor
        cbool creation
        vector[uint64_t] deps
        vector[uint64_t] contained
        vector[uint64_t] children
        string args
        uint64_t pool
        uint64_t env
        uint32_t demand
        cbool holds
        uint64_t gpus

    ctypedef Task *TaskPtr
    ctypedef Request *RequestPtr

    cdef cppclass Request:
        int32_t worker
        uint64_t req_id
        uint32_t needed
        uint32_t ready
        uint32_t flags
        cbool failed
        cbool done
        cbool parked
        string failure
        vector[uint64_t] ids

    enum:
        W_DEAD
        W_IDLE
        W_BUSY
        W_EXITING
        W_STARTING
        W_ACTOR

    cdef cppclass Worker:
        int slot
        int fd
        int pid
        int state
        cbool want_write
        cbool flush_queued
        uint64_t origin
        Task *task
        Request *request
        deque[Task *] queued
        vector[pair[TaskPtr, RequestPtr]] suspended
        unordered_set[uint64_t] known_fns
        unordered_map[uint64_t, int32_t] held
        unordered_map[uint64_t, int32_t] pinned
        uint64_t actor
        uint64_t env
        cbool env_fixed
        uint64_t gpus
        vector[Request *] requests
        string in_ "in"
        string out
        size_t out_pos

    enum:
        A_PENDING
        A_ALIVE
        A_RESTARTING
        A_DEAD

    cdef cppclass Actor:
        uint64_t id
        int state
        int32_t worker
        int32_t pid
        uint32_t cpu_milli
        int32_t restarts_left
        uint32_t restarts
        cbool pinned
        cbool anchor_gone
        cbool ending
        cbool no_restart
        cbool stalled
        cbool sequential
        uint32_t sent_ahead
        vector[uint64_t] unsignalled
        string name_key
        string class_name
        Task spec
        deque[Task *] waiting
        deque[Task *] sent
        string ending_cause
        string death
        uint64_t calls_done
        uint64_t pool
        uint32_t demand
        uint64_t gpus

    const int64_t RESOURCE_UNIT

    cdef cppclass Demand:
        uint32_t id
        int64_t gpu
        vector[pair[uint32_t, int64_t]] custom
        deque[Task *] ready

    cdef cppclass Holdings:
        vector[int64_t] custom
        vector[int64_t] gpu

    cdef cppclass Pool:
        uint64_t id
        int64_t total_cpu_milli
        int64_t used_cpu_milli
        cbool feasible
        cbool reserved
        uint64_t ready_oid
        string ready_payload
        deque[Task *] ready
        vector[uint32_t] bundle_demands
        Holdings taken
        Holdings free

    cdef cppclass Alloc:
        int32_t worker
        uint64_t req_id
        vector[uint64_t] ids
        vector[uint64_t] sizes
        vector[uint64_t] offsets
        double deadline
        cbool done
        cbool failed
        cbool abandoned
        string error

    cdef cppclass Function:
        string name
        string blob
        double mean_ns
        uint32_t runs

    cdef cppclass Core:
        pthread_mutex_t mu
        pthread_cond_t cv
        pthread_mutex_t incoming_mu
        vector[Task *] incoming
        cbool has_incoming
        cbool wake_pending
        unordered_map[uint64_t, Obj *] objects
        unordered_map[uint64_t, Task *] tasks
        unordered_map[uint64_t, Function] functions
        deque[Task *] ready
        unordered_map[uint64_t, Pool *] pools
        vector[uint64_t] pending_pools
        vector[Worker *] workers
        unordered_map[uint64_t, Actor *] actors
        unordered_map[string, uint64_t] actor_names
        vector[Actor *] unplaced
        vector[Actor *] retired
        int64_t total_cpu_milli
        int64_t used_cpu_milli
        Holdings free
        vector[Demand *] demands
        unordered_map[string, uint32_t] demand_ids
        size_t gated
        vector[string] gpu_ids
        int min_workers
        int max_workers
        int spawner_fd
        int wake_fd
        int loop_ep
        int workers_ep
        int spinners
        cbool stopping
        cbool deferring
        vector[Worker *] to_flush
        cbool spawner_lost
        uint64_t next_origin
        uint64_t tasks_finished
        uint64_t tasks_failed
        uint64_t workers_started
        uint64_t workers_died
        uint64_t retries
        uint64_t retried_then_succeeded
        vector[string] unhandled
        vector[TaskEvent] events
        uint64_t outcomes[4]
        uint64_t events_total
        deque[TaskFailure] failures
        Arena arena
        char *base
        int store_fd
        uint64_t warm_limit
        double full_timeout
        string spill_dir
        vector[char] received
        string spill_error
        pthread_cond_t io_cv
        deque[Alloc *] allocs
        deque[uint64_t] restores
        vector[pair[uint64_t, uint64_t]] punches
        vector[Task *] parked
        vector[Request *] parked_requests
        unordered_set[uint64_t] blob_ids
        uint64_t use_clock
        uint64_t blob_bytes
        uint64_t blobs
        uint64_t spilled_bytes
        uint64_t spilled_blobs
        uint64_t spill_count
        uint64_t restore_count
