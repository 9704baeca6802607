/* A deadline that one thread waits for without the GIL (see _deadline.pyx).
 * Arming, disarming and waiting share one mutex; the waiter sleeps on a
 * condition variable, and arm() signals it only when it sleeps with no
 * deadline and no poll pending, so a steady stream of arm/disarm pairs
 * costs no system call. */
#ifndef FASTRAY_DEADLINE_HPP
#define FASTRAY_DEADLINE_HPP

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace fastray {

class Deadline {
public:
    explicit Deadline(int64_t after_ns) : after_(after_ns) {}

    /* Starts a deadline `after` from now (replacing one that was armed);
     * returns its generation, never 0. */
    uint64_t arm()
    {
        std::lock_guard<std::mutex> hold(lock_);
        armed_ = true;
        due_ = Clock::now() + after_;
        idle_polls_ = 0;
        if (sleeping_) {
            changed_.notify_one();
        }
        return ++generation_;
    }

    void disarm()
    {
        std::lock_guard<std::mutex> hold(lock_);
        armed_ = false;
    }

    /* Wakes the waiter for good: wait() returns 0 from now on. */
    void close()
    {
        std::lock_guard<std::mutex> hold(lock_);
        closed_ = true;
        changed_.notify_all();
    }

    /* Blocks until an armed deadline passes with neither arm() nor disarm()
     * since; disarms it and returns its generation.  Returns 0 once closed.
     * With nothing armed it looks again every `after` for a while before it
     * sleeps until arm() signals: it then sees a new deadline before it is
     * due, with no signal needed. */
    uint64_t wait()
    {
        std::unique_lock<std::mutex> hold(lock_);
        while (!closed_) {
            if (armed_) {
                if (Clock::now() >= due_) {
                    armed_ = false;
                    return generation_;
                }
                changed_.wait_until(hold, due_);
            } else if (idle_polls_ < IDLE_POLLS) {
                ++idle_polls_;
                changed_.wait_for(hold, after_);
            } else {
                sleeping_ = true;
                changed_.wait(hold);
                sleeping_ = false;
            }
        }
        return 0;
    }

private:
    using Clock = std::chrono::steady_clock;
    // Polls with nothing armed before the waiter sleeps until signalled.
    static constexpr int IDLE_POLLS = 100;

    std::mutex lock_;
    std::condition_variable changed_;
    const std::chrono::nanoseconds after_;
    Clock::time_point due_{};
    uint64_t generation_ = 0;
    int idle_polls_ = 0;
    bool armed_ = false;
    bool sleeping_ = false;
    bool closed_ = false;
};

}  // namespace fastray

#endif
