/* SPDX-License-Identifier: MIT */
/*
 * struct pb_jpath: the JSON path of the value a loader is checking
 * ("$.rules[3].text"), for error messages that say where in a user's file
 * the problem is.  Shared by the profile, rule and DNS fixture loaders.
 * Keys are escaped (pb_escape) as they go in; a path that does not fit is
 * cut, never overrun.
 */
#ifndef PB_PROBE_PB_JPATH_H
#define PB_PROBE_PB_JPATH_H

#include <stdarg.h>
#include <stddef.h>

#include "pb_err.h"

/* How a key that is not an identifier ([A-Za-z_][A-Za-z0-9_]*) is written. */
enum pb_jpath_style {
    PB_JPATH_BRACKET = 0, /* $["a b"]: JSONPath's bracket notation */
    PB_JPATH_QUOTED,      /* ."example.com": a quoted name after the dot */
};

#define PB_JPATH_MAX 192

struct pb_jpath {
    char p[PB_JPATH_MAX]; /* NUL-terminated */
    size_t len;
    enum pb_jpath_style style;
};

/* Start at root ("$", or "" for paths that begin with a key). */
void pb_jpath_init(struct pb_jpath *jp, const char *root,
                   enum pb_jpath_style style);
/* Go into a key / an array element; returns the length to pop back to. */
size_t pb_jpath_key(struct pb_jpath *jp, const char *key);
size_t pb_jpath_index(struct pb_jpath *jp, size_t i);
/* Back to a length pb_jpath_key() or pb_jpath_index() returned. */
void pb_jpath_pop(struct pb_jpath *jp, size_t old);

/*
 * The error of a JSON loader: err set to PB_STAGE_CONFIG, code, and the
 * message "LABEL: PATH: what" (what from fmt, cut at 200 octets).
 * Returns -1.
 */
int pb_jpath_fail(const struct pb_jpath *jp, struct pb_err *err,
                  enum pb_code code, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int pb_jpath_vfail(const struct pb_jpath *jp, struct pb_err *err,
                   enum pb_code code, const char *label, const char *fmt,
                   va_list ap) __attribute__((format(printf, 5, 0)));

#endif
