# cython: language_level=3, boundscheck=False, wraparound=False
"""A process's side of the object store: its mapping of the shared memory,
read-only views of blobs for zero-copy reads, copies into new blobs, and
copies out of them for values that must own their memory (bytes).

The scheduler in the driver owns allocation; this module never decides
where anything goes.  Each view pins its blob: when the last array or
memoryview using it goes away the view calls ``release(blob_id)``, which
tells the scheduler the memory may be freed or spilled.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.buffer cimport (PyBUF_FORMAT, PyBUF_ND, PyBUF_SIMPLE, PyBUF_STRIDES, PyBUF_WRITABLE,
                             PyBuffer_Release, PyObject_GetBuffer)
from libc.errno cimport errno
from libc.stdint cimport uint64_t
from libcpp.map cimport map as cmap
from cython.operator cimport dereference as deref, predecrement as dec
from posix.mman cimport MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE, mmap

from parallel_copy cimport parallel_copy
from unmap_later cimport fr_unmap_later
from posix.fcntl cimport F_DUPFD_CLOEXEC, fcntl


cdef struct Span:
    uint64_t end
    uint64_t blob_id
    long views


cdef class Mapping:
    """The whole store mapped into this process (address space only: pages
    cost memory once written)."""

    cdef char *base
    cdef readonly uint64_t size
    cdef cmap[uint64_t, Span] spans   # offset -> blob with live views there
    cdef int owned_fd                 # the store's file, if this mapping frees it

    def __cinit__(self, int fd, uint64_t size, bint owner=False):
        """owner: the driver's mapping, the store's last user once the
        runtime has ended: its end gives all the store's memory back."""
        cdef void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        self.owned_fd = -1
        if base == MAP_FAILED:
            raise OSError(errno, "could not map the object store")
        self.base = <char *>base
        self.size = size
        if owner:
            self.owned_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)

    def __dealloc__(self):
        if self.base != NULL:
            fr_unmap_later(self.base, self.size, self.owned_fd)

    @property
    def address(self) -> int:
        """Where the store starts in this process (the driver's scheduler
        uses this one mapping too)."""
        return <size_t>self.base

    def view(self, uint64_t blob_id, uint64_t offset, uint64_t size, release) -> BlobView:
        """A read-only view of a blob the scheduler pinned for us."""
        if offset + size > self.size:
            raise ValueError(f"blob {blob_id:x} lies outside the store")
        cdef BlobView view = BlobView.__new__(BlobView)
        view.mapping = self
        view.blob_id = blob_id
        view.offset = offset
        view.size = size
        view.release = release
        cdef Span *span = &self.spans[offset]
        span.end = offset + size
        span.blob_id = blob_id
        span.views += 1
        return view

    cdef void _forget(self, uint64_t offset) noexcept:
        cdef cmap[uint64_t, Span].iterator it = self.spans.find(offset)
        if it != self.spans.end():
            deref(it).second.views -= 1
            if deref(it).second.views <= 0:
                self.spans.erase(it)

    def write(self, uint64_t offset, data) -> None:
        """Copies a contiguous buffer into the store at offset (GIL released;
        a large one with several threads)."""
        cdef Py_buffer buffer
        PyObject_GetBuffer(data, &buffer, PyBUF_SIMPLE)
        try:
            if offset + <uint64_t>buffer.len > self.size:
                raise ValueError("write outside the store")
            with nogil:
                parallel_copy(self.base + offset, <const char *>buffer.buf, buffer.len)
        finally:
            PyBuffer_Release(&buffer)

    def find(self, data) -> tuple | None:
        """(blob id, offset in blob) if data is memory of a blob this process
        has a view of: such data is referenced, not copied, when stored again."""
        cdef Py_buffer buffer
        cdef uint64_t offset
        cdef cmap[uint64_t, Span].iterator it
        PyObject_GetBuffer(data, &buffer, PyBUF_SIMPLE)
        try:
            if buffer.buf < <void *>self.base or buffer.buf >= <void *>(self.base + self.size):
                return None
            offset = <uint64_t>(<char *>buffer.buf - self.base)
            it = self.spans.upper_bound(offset)
            if it == self.spans.begin():
                return None
            dec(it)
            if offset + <uint64_t>buffer.len > deref(it).second.end:
                return None
            return deref(it).second.blob_id, offset - deref(it).first
        finally:
            PyBuffer_Release(&buffer)


cdef class BlobView:
    """Exports one blob as a read-only buffer and keeps it pinned while any
    memoryview or array made from it is alive."""

    cdef Mapping mapping
    cdef readonly uint64_t blob_id
    cdef uint64_t offset
    cdef readonly uint64_t size
    cdef object release
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        """A read-only, one-dimensional buffer of the blob's bytes; refuses a
        writable request, since other processes may read the same blob."""
        if flags & PyBUF_WRITABLE:
            raise BufferError("objects from the fastray store are read-only")
        buffer.buf = self.mapping.base + self.offset
        buffer.obj = self
        buffer.len = self.size
        buffer.readonly = 1
        buffer.itemsize = 1
        self.shape[0] = <Py_ssize_t>self.size
        self.strides[0] = 1
        buffer.format = NULL
        if flags & PyBUF_FORMAT:
            buffer.format = b"B"
        buffer.ndim = 1
        buffer.shape = NULL
        buffer.strides = NULL
        if flags & PyBUF_ND:
            buffer.shape = self.shape
        if (flags & PyBUF_STRIDES) == PyBUF_STRIDES:
            buffer.strides = self.strides
        buffer.suboffsets = NULL
        buffer.internal = NULL

    def __releasebuffer__(self, Py_buffer *buffer):
        pass

    def __dealloc__(self):
        if self.mapping is None:
            return
        self.mapping._forget(self.offset)
        if self.release is not None:
            self.release(self.blob_id)


def bytes_of(data) -> bytes:
    """bytes(data) for a contiguous buffer, a large one copied with several
    threads (a large bytes value read from the store: it needs fresh memory,
    whose first touch costs more than the copy)."""
    return _copy_of(data, False)


def bytearray_of(data) -> bytearray:
    """bytearray(data), copied as bytes_of copies."""
    return _copy_of(data, True)


cdef object _copy_of(data, bint as_bytearray):
    cdef Py_buffer buffer
    cdef char *target
    PyObject_GetBuffer(data, &buffer, PyBUF_SIMPLE)
    try:
        if as_bytearray:
            copy = PyByteArray_FromStringAndSize(NULL, buffer.len)
            target = PyByteArray_AS_STRING(copy)
        else:
            copy = PyBytes_FromStringAndSize(NULL, buffer.len)
            target = PyBytes_AS_STRING(copy)
        with nogil:
            parallel_copy(target, <const char *>buffer.buf, buffer.len)
        return copy
    finally:
        PyBuffer_Release(&buffer)
