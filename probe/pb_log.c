/* SPDX-License-Identifier: MIT */
/* The operator log: see pb_log.h. */
#include "pb_log.h"

#include <stdarg.h>
#include <stdio.h>

enum pb_log_level pb_log_level = PB_LOG_WARN;

void
pb_log(enum pb_log_level level, const char *fmt, ...)
{
    static const char *const tag[] = {"error", "warning", "info", "debug"};
    va_list ap;

    if (level > pb_log_level)
        return;
    fprintf(stderr, "probe: %s: ", tag[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
