/* The object store's allocator: hands out page-aligned ranges of the
 * shared-memory file.  It runs only in the driver's scheduler (under
 * Core::mu), so a worker that dies at any moment cannot leave it half
 * changed.  First fit by address: the lowest free range wins, so memory
 * freed a moment ago (pages already faulted in) is reused before fresh
 * pages, which cost a page fault each to write. */
#ifndef FASTRAY_ARENA_HPP
#define FASTRAY_ARENA_HPP

#include <stdint.h>
#include <map>

class Arena {
public:
    static const uint64_t ALIGN = 4096;

    static uint64_t round_up(uint64_t size) {
        return (size + ALIGN - 1) / ALIGN * ALIGN;
    }

    void reset(uint64_t capacity) {
        capacity_ = capacity / ALIGN * ALIGN;
        used_ = 0;
        free_.clear();
        if (capacity_ > 0)
            free_[0] = capacity_;
    }

    /* Reserves size bytes; false if no free range is large enough. */
    bool allocate(uint64_t size, uint64_t *offset) {
        size = round_up(size);
        for (auto it = free_.begin(); it != free_.end(); ++it) {
            if (it->second < size)
                continue;
            uint64_t start = it->first, rest = it->second - size;
            free_.erase(it);
            if (rest > 0)
                free_[start + size] = rest;
            used_ += size;
            *offset = start;
            return true;
        }
        return false;
    }

    /* Gives a range back, merging it with free neighbours. */
    void release(uint64_t offset, uint64_t size) {
        size = round_up(size);
        used_ -= size;
        auto next = free_.lower_bound(offset);
        if (next != free_.end() && offset + size == next->first) {
            size += next->second;
            next = free_.erase(next);
        }
        if (next != free_.begin()) {
            auto prev = next;
            --prev;
            if (prev->first + prev->second == offset) {
                prev->second += size;
                return;
            }
        }
        free_[offset] = size;
    }

    uint64_t capacity() const { return capacity_; }
    uint64_t used() const { return used_; }

private:
    std::map<uint64_t, uint64_t> free_;  /* offset -> size, never adjacent */
    uint64_t capacity_ = 0;
    uint64_t used_ = 0;
};

#endif
