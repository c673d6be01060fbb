/* SPDX-License-Identifier: MIT */
/*
 * struct pb_buf: a growable byte string with a hard size limit fixed at
 * init.  Always NUL-terminated, may hold NULs.  The add functions return -1
 * only when the limit would be exceeded, and then change nothing.
 */
#ifndef PB_PROBE_PB_BUF_H
#define PB_PROBE_PB_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct pb_buf {
    char *p;
    size_t len;
    size_t cap;
    size_t limit; /* most bytes of content, the NUL not counted */
};

#define PB_WUR __attribute__((warn_unused_result))

void pb_buf_init(struct pb_buf *b, size_t limit);
void pb_buf_release(struct pb_buf *b);
void pb_buf_reset(struct pb_buf *b); /* keeps the allocation */
PB_WUR int pb_buf_add(struct pb_buf *b, const void *p, size_t len);
PB_WUR int pb_buf_adds(struct pb_buf *b, const char *s);
PB_WUR int pb_buf_addc(struct pb_buf *b, char c);
PB_WUR int pb_buf_addf(struct pb_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append (p, len) escaped as pb_escape() does. */
PB_WUR int pb_buf_add_escaped(struct pb_buf *b, const void *p, size_t len);
/*
 * Append everything fd has to read, up to b's limit.  Returns 0 at end of
 * file, -1 when read() failed (errno says why), or -2 when the content
 * would pass the limit (what fitted is kept).  EINTR is retried.
 */
PB_WUR int pb_buf_read_fd(struct pb_buf *b, int fd);
/* Content; valid until the next mutation.  Never NULL. */
const char *pb_buf_ptr(const struct pb_buf *b);
/* Hand the content to the caller (free() it); b is empty again. */
char *pb_buf_take(struct pb_buf *b, size_t *len);

/*
 * Escape outside text for a terminal, a log or one line of JSON-free text:
 * printable ASCII stays, backslash becomes "\\", CR "\r", LF "\n", TAB "\t",
 * every other byte "\xHH".  Writes at most size-1 bytes and a NUL into dst;
 * returns 0, or -1 when the result did not fit (dst then holds a prefix
 * that never ends inside an escape sequence).
 */
int pb_escape_to(char *dst, size_t size, const void *p, size_t len);

/* True when (p, len) is printable ASCII (0x20..0x7e) only. */
bool pb_is_printable(const void *p, size_t len);

#endif
