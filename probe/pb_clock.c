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
