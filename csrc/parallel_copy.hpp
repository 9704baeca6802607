/* Copies a large buffer with several threads.  One core's memcpy does not
 * reach the machine's memory bandwidth: a 1 GB copy takes 47 ms on one
 * thread and 37 ms on two on the project's 2-vCPU machine.  Used for the
 * writes into the object store, where the copy is the whole cost of a put. */
#pragma once

#include <sched.h>
#include <string.h>

#include <algorithm>
#include <thread>
#include <vector>

static const size_t PARALLEL_COPY_MIN = (size_t)64 << 20;  /* below: not worth a thread */
static const size_t PARALLEL_COPY_THREADS = 4;

static inline size_t usable_cpus() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    return (size_t)CPU_COUNT(&set);
}

static inline void parallel_copy(char *dst, const char *src, size_t n) {
    size_t threads = n < PARALLEL_COPY_MIN ? 1 : std::min(usable_cpus(), PARALLEL_COPY_THREADS);
    if (threads <= 1) {
        memcpy(dst, src, n);
        return;
    }
    const size_t page = 4096;
    size_t chunk = (n / threads + page - 1) / page * page;
    std::vector<std::thread> helpers;
    size_t start = chunk;
    try {
        helpers.reserve(threads - 1);
        for (; start < n && helpers.size() + 1 < threads; start += chunk) {
            size_t len = std::min(chunk, n - start);
            helpers.emplace_back([=] { memcpy(dst + start, src + start, len); });
        }
    } catch (...) {
        /* No thread (or no memory for one) to be had: this thread copies
         * what is left. */
    }
    memcpy(dst, src, std::min(chunk, n));
    if (start < n)
        memcpy(dst + start, src + start, n - start);
    for (auto &helper : helpers)
        helper.join();
}
