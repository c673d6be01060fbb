/* SPDX-License-Identifier: MIT */
/*
 * The message as DKIM sees it: a splitter that reads any line endings
 * (LF, CRLF, bare CR) into CRLF lines and indexes the header fields
 * (RFC 5322 §2.2, obsolete WSP before the colon accepted), and the simple
 * and relaxed canonicalizations of header fields and body (RFC 6376 §3.4).
 * Nothing here decodes MIME or character sets: bytes are signed as bytes.
 * In pb_base because the signer (smtp/) and the verifier (analyze/) share it.
 */
#include "pb_dkim_canon.h"

#include <stdlib.h>
#include <string.h>

#include "pb_ctype.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/* Canonical output is gathered here and handed to the sink in chunks. */
struct canon_out {
    pb_dkim_canon_sink_fn sink;
    void *arg;
    size_t n;
    char buf[2048];
};

static void
out_flush(struct canon_out *o)
{
    if (o->n > 0)
        o->sink(o->arg, o->buf, o->n);
    o->n = 0;
}

static void
out_byte(struct canon_out *o, char c)
{
    if (o->n == sizeof(o->buf))
        out_flush(o);
    o->buf[o->n++] = c;
}

static void
out_mem(struct canon_out *o, const char *p, size_t n)
{
    if (n > sizeof(o->buf) - o->n) {
        out_flush(o);
        if (n > sizeof(o->buf)) {
            o->sink(o->arg, p, n);
            return;
        }
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

static int
ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* RFC 5322 §3.6.8 ftext: printable ASCII except the colon */
static bool
is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/* The 1-based line of byte off of (p, len): for error messages only. */
static size_t
line_of(const unsigned char *p, size_t off)
{
    size_t i, line = 1;

    for (i = 0; i < off; i++) {
        if (p[i] == '\n' || (p[i] == '\r' && p[i + 1] != '\n'))
            line++;
    }
    return line;
}

void
pb_dkim_canon_msg_release(struct pb_dkim_canon_msg *m)
{
    free(m->p);
    free(m->fields);
    memset(m, 0, sizeof(*m));
}

/* Classify a header line that is not a continuation: a field or not. */
static int
split_field_start(const unsigned char *s, size_t n, size_t line,
                  size_t *name_len, struct pb_err *err)
{
    const unsigned char *colon = memchr(s, ':', n);
    size_t k;

    k = 4;
    while (k < n && pb_is_wsp(s[k]))
        k++;
    if (line == 1 && n >= 5 && memcmp(s, "From ", 5) == 0 &&
        (k == n || s[k] != ':')) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "message line 1 is an mbox \"From \" separator, not a "
                   "header field; remove it (one message per input)");
        pb_err_evidence(err, s, n < 80 ? n : 80);
        return -1;
    }
    k = colon != NULL ? (size_t)(colon - s) : n;
    while (k > 0 && pb_is_wsp(s[k - 1]))
        k--; /* obs-optional: WSP before the colon (RFC 5322 §4.5) */
    if (colon != NULL && k > 0) {
        size_t i;

        for (i = 0; i < k && is_ftext(s[i]); i++)
            ;
        if (i == k) {
            *name_len = k;
            return 0;
        }
    }
    pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
               "message line %zu is not a header field (%s) and no empty "
               "line separates the header from the body above it",
               line,
               colon == NULL ? "no colon"
                             : "no valid field name before "
                               "the colon");
    pb_err_evidence(err, s, n < 80 ? n : 80);
    return -1;
}

int
pb_dkim_canon_split(const void *vp, size_t len, struct pb_dkim_canon_msg *m,
                    struct pb_err *err)
{
    const unsigned char *p = vp;
    const unsigned char *nul;
    size_t i = 0, line = 0, cap = 0, start, end;
    bool in_header = true;
    char *o;

    memset(m, 0, sizeof(*m));
    if (len == 0)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "message is empty");
    if (len > PB_LIMIT_MSG_BYTES)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "message is %zu bytes, over the limit of %u", len,
                          PB_LIMIT_MSG_BYTES);
    /* RFC 5322 §2.3 / §3.5: NUL belongs in neither header nor body */
    nul = memchr(p, '\0', len);
    if (nul != NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "message has a NUL byte on line %zu (offset %zu); "
                          "RFC 5322 does not allow one",
                          line_of(p, (size_t)(nul - p)), (size_t)(nul - p));

    /* each byte may become two (a bare CR or LF), and a last CRLF */
    m->p = pb_xmalloc(2 * len + 3);
    o = m->p;
    while (i < len) {
        start = i;
        while (i < len && p[i] != '\r' && p[i] != '\n')
            i++;
        end = i;
        if (i < len)
            i += (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') ? 2 : 1;
        line++;
        if (!in_header) {
            memcpy(o + m->len, p + start, end - start);
            m->len += end - start;
            o[m->len++] = '\r';
            o[m->len++] = '\n';
            continue;
        }
        if (end == start) {
            /* the empty line that ends the header */
            o[m->len++] = '\r';
            o[m->len++] = '\n';
            m->body_off = m->len;
            in_header = false;
            continue;
        }
        if (pb_is_wsp(p[start])) {
            if (m->nfields == 0) {
                pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                           "message starts with a continuation line (space "
                           "or tab first), not a header field");
                goto fail;
            }
        } else {
            struct pb_dkim_canon_field *f;
            size_t name_len;

            if (split_field_start(p + start, end - start, line, &name_len,
                                  err) == -1)
                goto fail;
            if (m->nfields == PB_LIMIT_MSG_FIELDS) {
                pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                           "message has over %d header fields",
                           PB_LIMIT_MSG_FIELDS);
                goto fail;
            }
            if (m->nfields == cap) {
                cap = cap ? cap * 2 : 32;
                m->fields =
                    pb_xreallocarray(m->fields, cap, sizeof(*m->fields));
            }
            f = &m->fields[m->nfields++];
            f->off = m->len;
            f->len = 0;
            f->name_len = name_len;
            f->line = line;
        }
        memcpy(o + m->len, p + start, end - start);
        m->len += end - start;
        o[m->len++] = '\r';
        o[m->len++] = '\n';
        {
            struct pb_dkim_canon_field *f = &m->fields[m->nfields - 1];

            f->len = m->len - f->off;
            if (f->len > PB_LIMIT_MSG_FIELD) {
                pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                           "message header field on line %zu is over %d "
                           "bytes",
                           f->line, PB_LIMIT_MSG_FIELD);
                pb_err_evidence(err, m->p + f->off,
                                f->name_len < 80 ? f->name_len : 80);
                goto fail;
            }
        }
    }
    if (in_header)
        m->body_off = m->len;
    o[m->len] = '\0';
    m->p = pb_xrealloc(m->p, m->len + 1);
    return 0;
fail:
    pb_dkim_canon_msg_release(m);
    return -1;
}

bool
pb_dkim_canon_field_is(const struct pb_dkim_canon_msg *m,
                       const struct pb_dkim_canon_field *f, const char *name,
                       size_t name_len)
{
    const char *p = m->p + f->off;
    size_t i;

    if (f->name_len != name_len)
        return false;
    for (i = 0; i < name_len; i++) {
        if (ascii_lower((unsigned char)p[i]) !=
            ascii_lower((unsigned char)name[i]))
            return false;
    }
    return true;
}

/* RFC 6376 §3.4.2 */
static void
header_relaxed(const char *f, size_t len, struct canon_out *o)
{
    const char *colon;
    size_t i, name_end, k;
    bool crlf = len >= 2 && f[len - 2] == '\r' && f[len - 1] == '\n';
    bool space = false, any = false;

    if (crlf)
        len -= 2;
    colon = memchr(f, ':', len);
    name_end = colon != NULL ? (size_t)(colon - f) : len;
    /* delete WSP before the colon; lower-case the name */
    for (k = name_end; k > 0 && pb_is_wsp((unsigned char)f[k - 1]); k--)
        ;
    for (i = 0; i < k; i++)
        out_byte(o, (char)ascii_lower((unsigned char)f[i]));
    out_byte(o, ':');
    /* unfold, turn WSP runs into one SP, delete WSP at both ends */
    for (i = name_end + 1; i < len; i++) {
        unsigned char c = (unsigned char)f[i];

        if (c == '\r' && i + 1 < len && f[i + 1] == '\n') {
            i++;
            continue;
        }
        if (pb_is_wsp(c)) {
            space = any;
            continue;
        }
        if (space)
            out_byte(o, ' ');
        space = false;
        any = true;
        out_byte(o, (char)c);
    }
    if (crlf)
        out_mem(o, "\r\n", 2);
}

void
pb_dkim_canon_header(enum pb_dkim_canon c, const char *field, size_t len,
                     pb_dkim_canon_sink_fn sink, void *arg)
{
    struct canon_out o;

    o.sink = sink;
    o.arg = arg;
    o.n = 0;
    if (c == PB_DKIM_CANON_RELAXED)
        header_relaxed(field, len, &o);
    else
        out_mem(&o, field, len); /* §3.4.1: no change at all */
    out_flush(&o);
}

/* RFC 6376 §3.4.3 */
static void
body_simple(const char *body, size_t len, struct canon_out *o)
{
    size_t end = len;

    while (end >= 2 && body[end - 2] == '\r' && body[end - 1] == '\n')
        end -= 2;
    out_mem(o, body, end);
    out_mem(o, "\r\n", 2); /* also the CRLF of an empty body */
}

/* RFC 6376 §3.4.4 */
static void
body_relaxed(const char *body, size_t len, struct canon_out *o)
{
    size_t i = 0, empty = 0;

    while (i < len) {
        size_t start = i, end = len, last, j;
        const char *cr, *q = body + i;
        bool space = false;

        /* the line ends at the next CRLF; a lone CR is an ordinary byte */
        while ((cr = memchr(q, '\r', len - (size_t)(q - body))) != NULL) {
            if ((size_t)(cr - body) + 1 < len && cr[1] == '\n') {
                end = (size_t)(cr - body);
                break;
            }
            q = cr + 1;
        }
        i = end < len ? end + 2 : len;
        /* WSP at the end of the line goes */
        for (last = end;
             last > start && pb_is_wsp((unsigned char)body[last - 1]); last--)
            ;
        if (last == start) {
            empty++; /* dropped if only empty lines follow */
            continue;
        }
        for (; empty > 0; empty--)
            out_mem(o, "\r\n", 2);
        for (j = start; j < last; j++) {
            if (pb_is_wsp((unsigned char)body[j])) {
                space = true;
                continue;
            }
            if (space)
                out_byte(o, ' ');
            space = false;
            out_byte(o, body[j]);
        }
        out_mem(o, "\r\n", 2);
    }
}

void
pb_dkim_canon_body(enum pb_dkim_canon c, const char *body, size_t len,
                   pb_dkim_canon_sink_fn sink, void *arg)
{
    struct canon_out o;

    o.sink = sink;
    o.arg = arg;
    o.n = 0;
    if (c == PB_DKIM_CANON_RELAXED)
        body_relaxed(body, len, &o);
    else
        body_simple(body, len, &o);
    out_flush(&o);
}
