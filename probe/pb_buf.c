/* SPDX-License-Identifier: MIT */
/* Bounded growable byte strings and escaping of outside text: pb_buf.h. */
#include "pb_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pb_xalloc.h"

void
pb_buf_init(struct pb_buf *b, size_t limit)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void
pb_buf_release(struct pb_buf *b)
{
    free(b->p);
    pb_buf_init(b, b->limit);
}

void
pb_buf_reset(struct pb_buf *b)
{
    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

static int
reserve(struct pb_buf *b, size_t more)
{
    size_t want;

    if (more > b->limit - b->len)
        return -1;
    want = b->len + more + 1;
    if (want > b->cap) {
        size_t cap = b->cap ? b->cap : 64;

        while (cap < want)
            cap = cap > (b->limit + 1) / 2 ? b->limit + 1 : cap * 2;
        b->p = pb_xrealloc(b->p, cap);
        b->cap = cap;
    }
    return 0;
}

int
pb_buf_add(struct pb_buf *b, const void *p, size_t len)
{
    if (reserve(b, len) == -1)
        return -1;
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

int
pb_buf_adds(struct pb_buf *b, const char *s)
{
    return pb_buf_add(b, s, strlen(s));
}

int
pb_buf_addc(struct pb_buf *b, char c)
{
    return pb_buf_add(b, &c, 1);
}

int
pb_buf_addf(struct pb_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) == -1)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Escape one byte into out (at most 5 bytes with NUL); returns length. */
static size_t
escape_byte(unsigned char c, char out[5])
{
    static const char hex[] = "0123456789abcdef";

    switch (c) {
    case '\\':
        memcpy(out, "\\\\", 2);
        return 2;
    case '\r':
        memcpy(out, "\\r", 2);
        return 2;
    case '\n':
        memcpy(out, "\\n", 2);
        return 2;
    case '\t':
        memcpy(out, "\\t", 2);
        return 2;
    default:
        break;
    }
    if (c >= 0x20 && c < 0x7f) {
        out[0] = (char)c;
        return 1;
    }
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex[c >> 4];
    out[3] = hex[c & 15];
    return 4;
}

int
pb_buf_add_escaped(struct pb_buf *b, const void *p, size_t len)
{
    const unsigned char *s = p;
    char tmp[5];
    size_t i, n;

    for (i = 0; i < len; i++) {
        n = escape_byte(s[i], tmp);
        if (pb_buf_add(b, tmp, n) == -1)
            return -1;
    }
    return 0;
}

int
pb_escape_to(char *dst, size_t size, const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t i, n, used = 0;
    char tmp[5];

    if (size == 0)
        return -1;
    for (i = 0; i < len; i++) {
        n = escape_byte(s[i], tmp);
        if (used + n >= size) {
            dst[used] = '\0';
            return -1;
        }
        memcpy(dst + used, tmp, n);
        used += n;
    }
    dst[used] = '\0';
    return 0;
}

bool
pb_is_printable(const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

const char *
pb_buf_ptr(const struct pb_buf *b)
{
    return b->p != NULL ? b->p : "";
}

char *
pb_buf_take(struct pb_buf *b, size_t *len)
{
    char *p = b->p != NULL ? b->p : pb_xstrdup("");

    if (len != NULL)
        *len = b->len;
    pb_buf_init(b, b->limit);
    return p;
}

int
pb_buf_read_fd(struct pb_buf *b, int fd)
{
    char chunk[65536];

    for (;;) {
        ssize_t got = read(fd, chunk, sizeof(chunk));

        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1)
            return -1;
        if (got == 0)
            return 0;
        if (pb_buf_add(b, chunk, (size_t)got) == -1)
            return -2;
    }
}
