# Declarations of fdpass.h: sending a file descriptor over a Unix socket.


cdef extern from "fdpass.h" nogil:
    int fr_send_with_fd(int sock, const void *buf, size_t len, int fd)
