/* Giving a store's memory back when its runtime has ended.  Unmapping a
 * mapping whose pages were touched frees them while holding the process's
 * memory-map lock, a stall of hundreds of milliseconds per GB for every
 * thread that maps memory meanwhile (the next init does).  Punching the
 * file's pages out first frees them without that lock; the unmapping that
 * follows is then quick.  A thread of its own does both, so shutdown()
 * returns at once; if the process exits first, the exit frees everything. */
#ifndef FASTRAY_UNMAP_LATER_HPP
#define FASTRAY_UNMAP_LATER_HPP

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct fr_unmapping {
    void *base;
    size_t size;
    int fd;
};

static void fr_unmap_now(fr_unmapping *unmapping) {
    if (unmapping->fd >= 0) {
        fallocate(unmapping->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                  (off_t)unmapping->size);
        close(unmapping->fd);
    }
    munmap(unmapping->base, unmapping->size);
}

static void *fr_unmap_run(void *arg) {
    fr_unmapping *unmapping = static_cast<fr_unmapping *>(arg);
    fr_unmap_now(unmapping);
    free(unmapping);
    return nullptr;
}

/* Unmaps base (size bytes), first punching out the pages of fd, the file
 * it maps, if fd >= 0 (and closing fd): in a detached thread if one starts. */
static inline void fr_unmap_later(void *base, size_t size, int fd) {
    fr_unmapping *unmapping = static_cast<fr_unmapping *>(malloc(sizeof(fr_unmapping)));
    fr_unmapping here = {base, size, fd};
    pthread_attr_t attr;
    pthread_t thread;
    if (unmapping != nullptr && pthread_attr_init(&attr) == 0) {
        *unmapping = here;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int started = pthread_create(&thread, &attr, fr_unmap_run, unmapping);
        pthread_attr_destroy(&attr);
        if (started == 0)
            return;
    }
    free(unmapping);
    fr_unmap_now(&here);
}

#endif
