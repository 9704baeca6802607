# Declarations for scheduler.pyx (cimported from it): the wire protocol, the bookkeeping
# structures and the few POSIX calls the scheduler thread makes.
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.deque cimport deque
from libcpp.utility cimport pair
from libcpp.string cimport string
from libcpp.unordered_map cimport unordered_map
from libcpp.unordered_set cimport unordered_set
from libcpp.vector cimport vector


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
        FR_TASK_INLINE
        FR_RESULT
        FR_SUBMIT
        FR_DEFINE
        FR_PUT
        FR_WAIT
        FR_WAIT_CANCEL
        FR_REFS
        FR_CANCEL
        FR_ALLOC
        FR_SPAWN
        FR_SPAWNED
        FR_EXITED
        FR_STATUS_OK
        FR_STATUS_ERROR
        FR_STATUS_RETRYABLE_ERROR
        FR_STATUS_INTERRUPTED
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


cdef extern from "fdpass.h" nogil:
    int fr_send_with_fd(int sock, const void *buf, size_t len, int fd)


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *, const void *)
    int pthread_mutex_destroy(pthread_mutex_t *)
    int pthread_mutex_lock(pthread_mutex_t *)
    int pthread_mutex_trylock(pthread_mutex_t *)
    int pthread_mutex_unlock(pthread_mutex_t *)
    int pthread_cond_init(pthread_cond_t *, const void *)
    int pthread_cond_destroy(pthread_cond_t *)
    int pthread_cond_broadcast(pthread_cond_t *)
    int pthread_cond_wait(pthread_cond_t *, pthread_mutex_t *)


cdef extern from "<time.h>" nogil:
    cdef struct timespec:
        long tv_sec
        long tv_nsec


cdef extern from "<pthread.h>" nogil:
    int pthread_cond_timedwait(pthread_cond_t *, pthread_mutex_t *, const timespec *)


cdef extern from "<time.h>" nogil:
    enum: CLOCK_REALTIME
    enum: CLOCK_MONOTONIC
    int clock_gettime(int, timespec *)


cdef extern from * nogil:
    cbool __atomic_load_n(cbool *ptr, int order)
    void __atomic_store_n(cbool *ptr, cbool value, int order)
    cbool __atomic_exchange_n(cbool *ptr, cbool value, int order)
    enum: __ATOMIC_ACQUIRE
    enum: __ATOMIC_RELEASE
    enum: __ATOMIC_ACQ_REL
    enum: __ATOMIC_SEQ_CST


cdef extern from "<fcntl.h>" nogil:
    enum:
        O_WRONLY
        O_RDONLY
        O_CREAT
        O_EXCL
        O_NOFOLLOW
        O_CLOEXEC
        FALLOC_FL_PUNCH_HOLE
        FALLOC_FL_KEEP_SIZE
    int c_open "open"(const char *path, int flags, int mode)
    int fallocate(int fd, int mode, long offset, long length)


cdef extern from "<unistd.h>" nogil:
    ssize_t pwrite(int fd, const void *buf, size_t n, long offset)
    ssize_t pread(int fd, void *buf, size_t n, long offset)
    int unlink(const char *path)


cdef extern from "<sys/stat.h>" nogil:
    int mkdir(const char *path, unsigned int mode)


cdef extern from "<poll.h>" nogil:
    cdef struct pollfd:
        int fd
        short events
        short revents
    enum:
        POLLIN
        POLLOUT
        POLLERR
        POLLHUP
        POLLNVAL
    int poll(pollfd *fds, unsigned long nfds, int timeout)


cdef extern from "<sys/eventfd.h>" nogil:
    enum:
        EFD_CLOEXEC
        EFD_NONBLOCK
    int eventfd(unsigned int initval, int flags)


cdef extern from "<sys/socket.h>" nogil:
    enum:
        AF_UNIX
        SOCK_STREAM
        SOCK_CLOEXEC
        SOCK_NONBLOCK
        MSG_DONTWAIT
        MSG_NOSIGNAL
        SOL_SOCKET
        SO_SNDBUF
        SO_RCVBUF
    int socketpair(int domain, int type, int protocol, int sv[2])
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    int setsockopt(int fd, int level, int name, const void *val, unsigned int len)


cdef extern from "<signal.h>" nogil:
    enum:
        SIGKILL
        SIGRTMIN
    union sigval:
        void *sival_ptr
    int kill(int pid, int sig)
    int sigqueue(int pid, int sig, const sigval value)


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
        vector[uint64_t] deps
        vector[uint64_t] contained
        vector[uint64_t] children
        string args

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
        string in_ "in"
        string out
        size_t out_pos

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

    cdef cppclass Arena:
        void reset(uint64_t capacity)
        cbool allocate(uint64_t size, uint64_t *offset)
        void release(uint64_t offset, uint64_t size)
        uint64_t capacity()
        uint64_t used()

    uint64_t arena_round_up "Arena::round_up"(uint64_t size)

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
        vector[Worker *] workers
        int64_t total_cpu_milli
        int64_t used_cpu_milli
        int min_workers
        int max_workers
        int spawner_fd
        int wake_fd
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

