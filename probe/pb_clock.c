/* SPDX-License-Identifier: MIT */
#include "pb_clock.h"

#include <time.h>

static int64_t
clock_ms(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
pb_clock_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

double
pb_clock_mono_s(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t
pb_clock_wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

void
pb_clock_realtime_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}
