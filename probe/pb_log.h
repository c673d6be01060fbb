/* SPDX-License-Identifier: MIT */
/*
 * Operator log on stderr, one line per event, filtered by the level that -v
 * raises.  Outside text reaches it only through "%s" after pb_escape().
 */
#ifndef PB_PROBE_PB_LOG_H
#define PB_PROBE_PB_LOG_H

enum pb_log_level {
    PB_LOG_ERROR = 0,
    PB_LOG_WARN,
    PB_LOG_INFO,
    PB_LOG_DEBUG,
};

/* The only mutable global: how much to log (default PB_LOG_WARN). */
extern enum pb_log_level pb_log_level;

void pb_log(enum pb_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) pb_log(PB_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  pb_log(PB_LOG_WARN, __VA_ARGS__)
#define log_info(...)  pb_log(PB_LOG_INFO, __VA_ARGS__)
#define log_debug(...) pb_log(PB_LOG_DEBUG, __VA_ARGS__)

#endif
