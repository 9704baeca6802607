/* Sending one file descriptor with a fixed-size message over a
 * SOCK_SEQPACKET socket (SCM_RIGHTS).  Used by the scheduler thread to
 * hand a new worker's socket to the spawner without taking the GIL. */
#ifndef FASTRAY_FDPASS_H
#define FASTRAY_FDPASS_H

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static int fr_send_with_fd(int sock, const void *buf, size_t len, int fd)
{
    struct msghdr msg;
    struct iovec iov;
    union {
        char space[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct cmsghdr *cmsg;

    memset(&msg, 0, sizeof(msg));
    memset(&control, 0, sizeof(control));
    iov.iov_base = (void *)buf;
    iov.iov_len = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof(control.space);
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    return (int)sendmsg(sock, &msg, MSG_NOSIGNAL);
}

#endif
