/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the SMTP reply parser fed the input whole and in
 * chunks sized by its first byte (the results must agree), the status
 * helpers on each reply's first line, and the transcript's server and
 * client capture of the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_limits.h"
#include "pb_transcript.h"
#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed and collect codes and line counts; returns the rc. */
static int
parse(const uint8_t *data, size_t size, size_t step, int *codes, size_t *nlines,
      size_t *n, size_t max)
{
    struct smtp_reply_parser p;
    struct smtp_reply r;
    struct pb_err err;
    size_t off = 0;
    int rc = 0;

    *n = 0;
    smtp_reply_parser_init(&p, PB_STAGE_CONNECT);
    while (off < size && rc == 0) {
        size_t k = size - off < step ? size - off : step;

        rc = smtp_reply_feed(&p, data + off, k, &err);
        off += k;
        while (smtp_reply_next(&p, &r)) {
            char st[16];

            if (r.nlines == 0 || r.code < 200 || r.code > 599)
                abort();
            if (r.status[0] != '\0' &&
                (!smtp_reply_status_valid(r.status, r.code) ||
                 smtp_status_meaning(r.status) == NULL))
                abort();
            (void)smtp_reply_status_find(r.lines[0], r.line_lens[0], r.code,
                                         st);
            if (*n < max) {
                codes[*n] = r.code;
                nlines[*n] = r.nlines;
                (*n)++;
            }
            smtp_reply_release(&r);
        }
    }
    (void)smtp_reply_parser_pending(&p);
    smtp_reply_parser_release(&p);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int c1[64], c2[64];
    size_t l1[64], l2[64], n1, n2, step;
    int rc1, rc2;
    struct pb_transcript *t;
    char s[16];

    if (size == 0)
        return 0;
    step = 1 + data[0] % 13;
    rc1 = parse(data + 1, size - 1, size, c1, l1, &n1, 64);
    rc2 = parse(data + 1, size - 1, step, c2, l2, &n2, 64);
    if (rc1 != rc2 || n1 != n2 || memcmp(c1, c2, n1 * sizeof(*c1)) != 0 ||
        memcmp(l1, l2, n1 * sizeof(*l1)) != 0)
        abort();

    if (size <= 16) {
        memcpy(s, data, size - 1);
        s[size - 1] = '\0';
        (void)smtp_reply_status_valid(s, 0);
        (void)smtp_status_meaning(s);
    }

    t = pb_transcript_new(64 * 1024);
    pb_transcript_add_server(t, data, size);
    pb_transcript_add_client(t, data, size);
    pb_transcript_flush(t);
    pb_transcript_free(t);
    return 0;
}
