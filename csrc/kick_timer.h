/* A timer that signals one thread (the worker's main thread) every few
 * milliseconds while armed.  A cancel whose signal lands just before the
 * main thread enters a blocking call (time.sleep, a read) would otherwise
 * be noticed only when that call returns: each kick makes the call fail
 * with EINTR, so Python runs the pending SIGINT handler.  Arming and
 * disarming are async-signal-safe (timer_settime). */
#ifndef FASTRAY_KICK_TIMER_H
#define FASTRAY_KICK_TIMER_H

#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static timer_t fr_kick_timer;

/* Creates the timer, aimed at the calling thread; 0 or -1 (errno set). */
static int fr_kick_create(int signo)
{
    struct sigevent event;
    memset(&event, 0, sizeof(event));
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = signo;
    event.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
    return timer_create(CLOCK_MONOTONIC, &event, &fr_kick_timer);
}

/* Kicks every period_ns from now on; 0 stops the kicks. */
static void fr_kick_every(long period_ns)
{
    struct itimerspec spec;
    spec.it_interval.tv_sec = 0;
    spec.it_interval.tv_nsec = period_ns;
    spec.it_value = spec.it_interval;
    timer_settime(fr_kick_timer, 0, &spec, NULL);
}

#endif
