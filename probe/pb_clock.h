/* SPDX-License-Identifier: MIT */
/*
 * The clocks: monotonic for deadlines and durations, the wall clock for
 * timestamps people and other programs read.
 */
#ifndef PB_PROBE_PB_CLOCK_H
#define PB_PROBE_PB_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds and in seconds. */
int64_t pb_clock_mono_ms(void);
double pb_clock_mono_s(void);
/* CLOCK_REALTIME: Unix time in milliseconds. */
int64_t pb_clock_wall_ms(void);

struct timespec;
/* The CLOCK_REALTIME moment ms milliseconds from now, as
   pthread_cond_timedwait() takes it. */
void pb_clock_realtime_in(struct timespec *ts, unsigned ms);

#endif
