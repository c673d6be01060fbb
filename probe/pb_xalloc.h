/* SPDX-License-Identifier: MIT */
/*
 * Allocation that cannot fail: on out-of-memory these print one line and
 * exit(3) (UNKNOWN), so call sites never check for NULL.
 */
#ifndef PB_PROBE_PB_XALLOC_H
#define PB_PROBE_PB_XALLOC_H

#include <stddef.h>

void *pb_xmalloc(size_t n);
void *pb_xcalloc(size_t nmemb, size_t size);
void *pb_xrealloc(void *p, size_t n);
/* realloc for arrays: fails (exits) on nmemb * size overflow. */
void *pb_xreallocarray(void *p, size_t nmemb, size_t size);
/*
 * An array p of n elements with room for one more: when n has reached
 * *cap, *cap doubles (or becomes first) and p is reallocated.  The way to
 * append: v = pb_xgrow(v, n, &cap, 8, sizeof(*v)); v[n++] = x;
 */
void *pb_xgrow(void *p, size_t n, size_t *cap, size_t first, size_t size);
char *pb_xstrdup(const char *s);
/* Copy of (p, len) with a NUL added; p may hold NULs. */
char *pb_xmemdup(const void *p, size_t len);
char *pb_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Abort on a broken invariant of our own; no input may reach it. */
void pb_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
