# Declarations of the system calls and compiler builtins the scheduler uses
# that Cython's bundled libc.* / posix.* / libcpp.* do not declare: one block
# per header.
from libc.stdint cimport uint32_t, uint64_t
from libcpp cimport bool as cbool
from posix.signal cimport sigval
from posix.time cimport clockid_t, timespec


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    ctypedef struct pthread_condattr_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *, const void *)
    int pthread_mutex_destroy(pthread_mutex_t *)
    int pthread_mutex_lock(pthread_mutex_t *)
    int pthread_mutex_trylock(pthread_mutex_t *)
    int pthread_mutex_unlock(pthread_mutex_t *)
    int pthread_condattr_init(pthread_condattr_t *)
    int pthread_condattr_setclock(pthread_condattr_t *, clockid_t)
    int pthread_condattr_destroy(pthread_condattr_t *)
    int pthread_cond_init(pthread_cond_t *, const pthread_condattr_t *)
    int pthread_cond_destroy(pthread_cond_t *)
    int pthread_cond_broadcast(pthread_cond_t *)
    int pthread_cond_wait(pthread_cond_t *, pthread_mutex_t *)
    int pthread_cond_timedwait(pthread_cond_t *, pthread_mutex_t *, const timespec *)


cdef extern from "<fcntl.h>" nogil:
    enum:
        O_NOFOLLOW
        FALLOC_FL_PUNCH_HOLE
        FALLOC_FL_KEEP_SIZE
    int fallocate(int fd, int mode, long offset, long length)


cdef extern from "<sys/epoll.h>" nogil:
    cdef union epoll_data:
        void *ptr
        int fd
        uint32_t u32
        uint64_t u64
    cdef struct epoll_event:
        uint32_t events
        epoll_data data
    enum:
        EPOLLIN
        EPOLLOUT
        EPOLLERR
        EPOLLHUP
        EPOLL_CTL_ADD
        EPOLL_CTL_MOD
        EPOLL_CTL_DEL
        EPOLL_CLOEXEC
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event *event)
    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)


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
        SHUT_RDWR
    int shutdown(int fd, int how)
    int socketpair(int domain, int type, int protocol, int sv[2])
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    int setsockopt(int fd, int level, int name, const void *val, unsigned int len)


cdef extern from "<signal.h>" nogil:
    int sigqueue(int pid, int sig, const sigval value)


# GCC's atomic builtins, on the bool flags one thread sets and another
# reads, and on the count of spinning threads.
cdef extern from * nogil:
    cbool __atomic_load_n(cbool *ptr, int order)
    void __atomic_store_n(cbool *ptr, cbool value, int order)
    cbool __atomic_exchange_n(cbool *ptr, cbool value, int order)
    int __atomic_fetch_add(int *ptr, int value, int order)
    int __atomic_sub_fetch(int *ptr, int value, int order)
    enum: __ATOMIC_ACQUIRE
    enum: __ATOMIC_RELEASE
    enum: __ATOMIC_ACQ_REL
    enum: __ATOMIC_SEQ_CST
