# cython: language_level=3
"""The frames in the bytes a worker has read from its socket, and the
brief poll of that socket before a read sleeps.

Every task and every actor call asks twice whether a frame is buffered
(to take it, and to know whether a result may wait for the next one's), so
the parser is compiled, with its state in typed fields: in Python these
two were a seventh of a no-op call's bytecodes, in attribute loads and
struct unpacking.  fastray/connection.py subclasses FrameBuffer with the
socket.  Headers are read in place as protocol.h's struct: the protocol
is little-endian, as every platform fastray builds on is.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.errno cimport EAGAIN, EINTR, errno
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from protocol cimport FR_HEADER_SIZE, fr_header

cdef extern from "<sys/socket.h>" nogil:
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    int MSG_DONTWAIT

# The most one poll_receive reads (a long frame's body goes to body_room).
cdef enum:
    POLL_CHUNK = 65536


cdef long since(timespec *start) noexcept nogil:
    """Nanoseconds from start to now (CLOCK_MONOTONIC)."""
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return (now.tv_sec - start.tv_sec) * 1000000000 + now.tv_nsec - start.tv_nsec


cdef class FrameBuffer:
    """Bytes received and not yet framed: _data from _start on.  A frame
    longer than what had arrived is filled into _body, up to _filled."""

    cdef bytes _data
    cdef Py_ssize_t _start
    cdef fr_header _header
    cdef bytearray _body       # None but while a long frame is filled
    cdef Py_ssize_t _filled
    cdef char *_polled         # poll_receive's buffer, made on its first use

    def __cinit__(self, *args, **kwargs):
        self._data = b""
        self._body = None
        self._polled = NULL

    def __dealloc__(self):
        free(self._polled)

    def poll_receive(self, int fd, double seconds):
        """What arrives on socket fd within seconds, read without sleeping
        and without the GIL: b"" at its end, None if nothing came.  In
        compiled code a poll costs a syscall; in Python each empty one
        raised BlockingIOError, whose message alone took longer, so a frame
        was seen up to a microsecond later."""
        cdef timespec start
        cdef ssize_t n
        cdef long limit = <long>(seconds * 1e9)
        if self._polled == NULL:
            self._polled = <char *>malloc(POLL_CHUNK)
            if self._polled == NULL:
                raise MemoryError()
        with nogil:
            clock_gettime(CLOCK_MONOTONIC, &start)
            while True:
                n = recv(fd, self._polled, POLL_CHUNK, MSG_DONTWAIT)
                if n >= 0:
                    break
                if errno != EAGAIN and errno != EINTR:
                    break   # the blocking read after reports it
                if errno != EINTR and since(&start) > limit:
                    break
        if n < 0:
            return None
        return PyBytes_FromStringAndSize(self._polled, n)

    def keep(self, bytes chunk not None) -> None:
        """Adds bytes received."""
        if self._start < PyBytes_GET_SIZE(self._data):
            self._data = self._data[self._start:] + chunk
        else:
            self._data = chunk
        self._start = 0

    def body_room(self):
        """Where the rest of a long frame's body goes (a recv may fill it
        directly, however large), or None if no long frame is pending."""
        if self._body is None:
            return None
        return memoryview(self._body)[self._filled:]

    def body_filled(self, Py_ssize_t count) -> None:
        """count more bytes of the long frame's body were received into body_room()."""
        self._filled += count

    def buffered(self):
        """The next frame, (kind, a, b, body as a read-only memoryview), if
        all of it has been received; else None.  No I/O."""
        cdef Py_ssize_t start = self._start
        cdef Py_ssize_t size = PyBytes_GET_SIZE(self._data)
        cdef Py_ssize_t end, take
        cdef const char *data = PyBytes_AS_STRING(self._data)
        cdef fr_header header
        cdef bytearray body
        if self._body is None:
            if size - start < FR_HEADER_SIZE:
                return None
            memcpy(&header, data + start, FR_HEADER_SIZE)
            end = start + FR_HEADER_SIZE + header.body_len
            if end <= size:
                # The common case: the whole frame is here, one copy out.
                self._start = end
                return (header.type, header.a, header.b, memoryview(
                    PyBytes_FromStringAndSize(data + start + FR_HEADER_SIZE, header.body_len)))
            self._header = header
            self._body = bytearray(header.body_len)
            self._filled = 0
            start += FR_HEADER_SIZE
        body = self._body
        take = min(size - start, PyByteArray_GET_SIZE(body) - self._filled)
        if take > 0:
            memcpy(PyByteArray_AS_STRING(body) + self._filled, data + start, take)
            self._filled += take
        self._data = self._data[start + take:]
        self._start = 0
        if self._filled < PyByteArray_GET_SIZE(body):
            return None
        self._body = None
        return (self._header.type, self._header.a, self._header.b,
                memoryview(body).toreadonly())

    def frame_ready(self) -> bool:
        """Whether buffered() would return a frame now: then this process
        has more work before it needs to hear from the scheduler."""
        cdef Py_ssize_t here = PyBytes_GET_SIZE(self._data) - self._start
        cdef fr_header header
        if self._body is not None:
            return self._filled + here >= PyByteArray_GET_SIZE(self._body)
        if here < FR_HEADER_SIZE:
            return False
        memcpy(&header, PyBytes_AS_STRING(self._data) + self._start, FR_HEADER_SIZE)
        return FR_HEADER_SIZE + <Py_ssize_t>header.body_len <= here
