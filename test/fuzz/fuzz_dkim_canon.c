/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the DKIM message splitter and canonicalizations
 * (probe/pb_dkim_canon.c).  Besides memory errors it checks what the code
 * promises: the split message is CRLF only and its fields lie inside it;
 * relaxed output has no WSP before a CRLF, no WSP runs and no trailing
 * empty lines; simple body output ends in one CRLF after the last
 * non-empty line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_buf.h"
#include "pb_dkim_canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
sink(void *arg, const void *p, size_t len)
{
    if (pb_buf_add(arg, p, len) == -1)
        abort();
}

static void
check_relaxed(const struct pb_buf *b, bool body)
{
    size_t i;

    for (i = 0; i < b->len; i++) {
        char c = b->p[i];

        if (c == '\r' && i + 1 < b->len && b->p[i + 1] == '\n' && i > 0 &&
            (b->p[i - 1] == ' ' || b->p[i - 1] == '\t'))
            abort(); /* WSP before a line end */
        if (c == ' ' && i + 1 < b->len && b->p[i + 1] == ' ')
            abort(); /* a WSP run */
        if (body && c == '\t')
            abort(); /* tabs become spaces in the body */
    }
    if (body && b->len >= 4 && memcmp(b->p + b->len - 4, "\r\n\r\n", 4) == 0)
        abort(); /* trailing empty lines */
    if (body && b->len > 0 &&
        (b->len < 2 || memcmp(b->p + b->len - 2, "\r\n", 2) != 0))
        abort(); /* a non-empty body ends in CRLF */
}

static void
check_simple_body(const struct pb_buf *b)
{
    if (b->len < 2 || memcmp(b->p + b->len - 2, "\r\n", 2) != 0)
        abort();
    if (b->len >= 4 && memcmp(b->p + b->len - 4, "\r\n\r\n", 4) == 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pb_dkim_canon_msg m;
    struct pb_buf out;
    size_t i;

    pb_buf_init(&out, 8 * size + 64);

    /* the canonicalizations take any bytes (a raw "field" may have any
     * name, so only the body promises hold here) */
    pb_dkim_canon_header(PB_DKIM_CANON_RELAXED, (const char *)data, size, sink,
                         &out);
    pb_buf_reset(&out);
    pb_dkim_canon_body(PB_DKIM_CANON_RELAXED, (const char *)data, size, sink,
                       &out);
    check_relaxed(&out, true);
    pb_buf_reset(&out);
    pb_dkim_canon_body(PB_DKIM_CANON_SIMPLE, (const char *)data, size, sink,
                       &out);
    check_simple_body(&out);
    pb_buf_reset(&out);

    if (pb_dkim_canon_split(data, size, &m, NULL) == 0) {
        for (i = 0; i < m.len; i++) {
            if ((m.p[i] == '\r') != (i + 1 < m.len && m.p[i + 1] == '\n'))
                abort(); /* a CR not followed by LF */
            if (m.p[i] == '\n' && (i == 0 || m.p[i - 1] != '\r'))
                abort(); /* an LF not after a CR */
        }
        if (m.body_off > m.len)
            abort();
        for (i = 0; i < m.nfields; i++) {
            const struct pb_dkim_canon_field *f = &m.fields[i];

            if (f->off + f->len > m.body_off || f->name_len == 0 ||
                f->name_len >= f->len)
                abort();
            pb_buf_reset(&out);
            pb_dkim_canon_header(PB_DKIM_CANON_RELAXED, m.p + f->off, f->len,
                                 sink, &out);
            check_relaxed(&out, false);
            pb_buf_reset(&out);
            pb_dkim_canon_header(PB_DKIM_CANON_SIMPLE, m.p + f->off, f->len,
                                 sink, &out);
            if (out.len != f->len)
                abort(); /* simple changes nothing */
            (void)pb_dkim_canon_field_is(&m, f, "from", 4);
        }
        pb_buf_reset(&out);
        pb_dkim_canon_body(PB_DKIM_CANON_RELAXED, m.p + m.body_off,
                           m.len - m.body_off, sink, &out);
        check_relaxed(&out, true);
        pb_dkim_canon_msg_release(&m);
    }
    pb_buf_release(&out);
    return 0;
}
