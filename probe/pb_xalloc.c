/* SPDX-License-Identifier: MIT */
/* Allocation wrappers that exit on out-of-memory: see pb_xalloc.h. */
#include "pb_xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__((noreturn)) oom(size_t n)
{
    fprintf(stderr, "probe: out of memory (%zu bytes)\n", n);
    exit(3);
}

void *
pb_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *
pb_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
        oom(nmemb * size);
    return p;
}

void *
pb_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

void *
pb_xreallocarray(void *p, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        oom(SIZE_MAX);
    return pb_xrealloc(p, nmemb * size);
}

void *
pb_xgrow(void *p, size_t n, size_t *cap, size_t first, size_t size)
{
    if (n < *cap)
        return p;
    if (*cap > SIZE_MAX / 2)
        oom(SIZE_MAX);
    *cap = *cap == 0 ? first : 2 * *cap;
    return pb_xreallocarray(p, *cap, size);
}

char *
pb_xstrdup(const char *s)
{
    return pb_xmemdup(s, strlen(s));
}

char *
pb_xmemdup(const void *p, size_t len)
{
    char *s;

    if (len == SIZE_MAX)
        oom(len);
    s = pb_xmalloc(len + 1);
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

char *
pb_xasprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        pb_panic("pb_xasprintf: bad format");
    s = pb_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void
pb_panic(const char *fmt, ...)
{
    va_list ap;

    fputs("probe: internal error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
