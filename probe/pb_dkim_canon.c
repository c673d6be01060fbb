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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb_ctype.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/*
 * Canonical output is gathered in buf and handed to the sink in chunks;
 * or, with no sink, written straight into the caller's buffer, which the
 * caller made big enough (see pb_dkim_canon_header_to()).
 */
struct canon_out {
    pb_dkim_canon_sink_fn sink;
    void *arg;
    char *buf;
    size_t n, cap;
};

/* One chunk for the sink: a 2 KB message goes to SHA-256 in one call. */
#define CANON_CHUNK 16384

static void
out_flush(struct canon_out *o)
{
    if (o->n > 0 && o->sink != NULL)
        o->sink(o->arg, o->buf, o->n);
    o->n = 0;
}

static void
out_byte(struct canon_out *o, char c)
{
    if (o->n == o->cap)
        out_flush(o);
    o->buf[o->n++] = c;
}

static void
out_mem(struct canon_out *o, const char *p, size_t n)
{
    if (n > o->cap - o->n) {
        out_flush(o);
        if (n > o->cap) {
            o->sink(o->arg, p, n);
            return;
        }
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

/* (p, n) lower-cased (ASCII): a field name */
static void
out_lower(struct canon_out *o, const char *p, size_t n)
{
    while (n > 0) {
        size_t k, chunk;
        char *d; /* not o->buf[o->n + k]: a char store may alias o */

        if (o->n == o->cap)
            out_flush(o);
        chunk = n < o->cap - o->n ? n : o->cap - o->n;
        d = o->buf + o->n;
        for (k = 0; k < chunk; k++) {
            unsigned char c = (unsigned char)p[k];

            d[k] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        o->n += chunk;
        p += chunk;
        n -= chunk;
    }
}

static bool
is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
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

/* True when every CR of (p, n) is followed by LF, and every LF follows
 * a CR: the line endings are CRLF and need no rewriting.  That is, the
 * byte after a CR is an LF and no other byte is: one pass with no branch
 * per byte, which the compiler vectorizes (a byte flag, not a count, so
 * that no lane is widened). */
static bool
crlf_only(const unsigned char *p, size_t n)
{
    unsigned char bad;
    size_t k;

    if (n == 0)
        return true;
    bad = (p[0] == '\n') | (p[n - 1] == '\r');
    for (k = 1; k < n; k++)
        bad |= (p[k - 1] == '\r') ^ (p[k] == '\n');
    return bad == 0;
}

int
pb_dkim_canon_split(const void *vp, size_t len, struct pb_dkim_canon_msg *m,
                    struct pb_err *err)
{
    const unsigned char *p = vp;
    const unsigned char *nul;
    size_t i = 0, line = 0, cap = 0, start, end;
    size_t next_cr, next_lf; /* the next CR and LF at or after i, or len */
    bool in_header = true, crlf;
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

    /*
     * Most messages have CRLF throughout: then m->p is as long as the
     * input, but for a CRLF after a last line without one, and each CR is
     * the byte before the next LF.  Otherwise each byte may become two (a
     * bare CR or LF), and the buffer is cut to size at the end.
     */
    crlf = crlf_only(p, len);
    m->p = pb_xmalloc(crlf ? len + 3 : 2 * len + 3);
    next_cr = next_lf = 0; /* searched for first at i == 0 */
    o = m->p;
    while (i < len) {
        /* the line ends at the next CR or LF: memchr finds them, and each
         * is searched for again only once passed (a file of LF lines has
         * no CR: one search, not one per line) */
        start = i;
        if (i == 0 || next_lf < i) {
            const unsigned char *q = memchr(p + i, '\n', len - i);

            next_lf = q != NULL ? (size_t)(q - p) : len;
        }
        if (i == 0 || next_cr < i) {
            const unsigned char *q;

            if (crlf)
                q = next_lf < len ? p + next_lf - 1 : NULL; /* its CR */
            else
                q = memchr(p + i, '\r', len - i);
            next_cr = q != NULL ? (size_t)(q - p) : len;
        }
        i = next_cr < next_lf ? next_cr : next_lf;
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
            if (crlf || crlf_only(p + i, len - i)) {
                /* the body as it is, and CRLF after a last line without */
                memcpy(o + m->len, p + i, len - i);
                m->len += len - i;
                if (i < len && p[len - 1] != '\n') {
                    o[m->len++] = '\r';
                    o[m->len++] = '\n';
                }
                i = len;
            }
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
    if (!crlf)
        m->p = pb_xrealloc(m->p, m->len + 1);
    return 0;
fail:
    pb_dkim_canon_msg_release(m);
    return -1;
}

/*
 * Relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4) changes text only at
 * a TAB and at a SP that starts a run of WSP or ends a line: most text is
 * words and single spaces, and passes as it is.  plain_len() is the
 * length of the prefix of (p, n) without such a byte: it stops at a TAB,
 * and at a SP before SP, TAB or CR, or last (what follows is unknown).
 * Every other byte passes, CR and LF included.
 *
 * plain_block() tests PLAIN_BLOCK bytes at once (and reads one more, the
 * byte after the last): each byte gets a flag, and the flags are read as
 * words.  No branch per byte: the compiler makes it a few vector
 * instructions, about one per byte where a loop with a branch takes six.
 */
#define PLAIN_BLOCK 32

static bool
plain_block(const unsigned char *p)
{
    unsigned char stop[PLAIN_BLOCK];
    uint64_t w[PLAIN_BLOCK / 8], any = 0;
    size_t k;

    for (k = 0; k < PLAIN_BLOCK; k++)
        stop[k] = (p[k] == '\t') |
                  ((p[k] == ' ') & ((p[k + 1] == ' ') | (p[k + 1] == '\t') |
                                    (p[k + 1] == '\r')));
    memcpy(w, stop, sizeof(w));
    for (k = 0; k < PLAIN_BLOCK / 8; k++)
        any |= w[k];
    return any == 0;
}

static size_t
plain_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char tail[PLAIN_BLOCK + 1];
    size_t k = 0;

    while (n - k > PLAIN_BLOCK && plain_block(p + k))
        k += PLAIN_BLOCK;
    if (n - k <= PLAIN_BLOCK) {
        /* the last bytes in a block of their own, then CRs: a SP last
         * stops, as it should, and nothing else does */
        memset(tail, '\r', sizeof(tail));
        memcpy(tail, p + k, n - k);
        if (plain_block(tail))
            return n;
    }
    /* a block with a stop: find it */
    for (; k < n; k++) {
        if (p[k] == '\t' ||
            (p[k] == ' ' && (k + 1 == n || p[k + 1] == ' ' ||
                             p[k + 1] == '\t' || p[k + 1] == '\r')))
            break;
    }
    return k;
}

/*
 * WSP runs of (p, len) as one SP, and a SP first when space (the run
 * before p) and something follows; the rest copied in runs.  *space says
 * on return whether (p, len) ended in WSP that is still to be written.
 */
static void
squeeze(const char *p, size_t len, bool *space, struct canon_out *o)
{
    size_t i = 0, j;

    while (i < len) {
        if (is_wsp((unsigned char)p[i])) {
            *space = true;
            i++;
            continue;
        }
        if (*space)
            out_byte(o, ' ');
        *space = false;
        /* p[i] and the bytes after it that stay as they are */
        j = i + 1 + plain_len(p + i + 1, len - i - 1);
        out_mem(o, p + i, j - i);
        i = j;
    }
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
    for (k = name_end; k > 0 && is_wsp((unsigned char)f[k - 1]); k--)
        ;
    out_lower(o, f, k);
    out_byte(o, ':');
    /* unfold (each CRLF goes), turn WSP runs into one SP, delete WSP at
     * both ends: squeeze() each piece between two CRLFs */
    for (i = name_end + 1; i < len;) {
        const char *cr = memchr(f + i, '\r', len - i);
        size_t end = len;

        /* the piece ends at the next CRLF; a lone CR is an ordinary byte */
        while (cr != NULL) {
            size_t c = (size_t)(cr - f);

            if (c + 1 < len && f[c + 1] == '\n') {
                end = c;
                break;
            }
            cr = memchr(cr + 1, '\r', len - c - 1);
        }
        if (!any) {
            /* the WSP before the first byte of the value goes */
            while (i < end && is_wsp((unsigned char)f[i]))
                i++;
            any = i < end;
        }
        squeeze(f + i, end - i, &space, o);
        i = end < len ? end + 2 : len;
    }
    /* WSP at the end stays in space, never written */
    if (crlf)
        out_mem(o, "\r\n", 2);
}

void
pb_dkim_canon_header(enum pb_dkim_canon c, const char *field, size_t len,
                     pb_dkim_canon_sink_fn sink, void *arg)
{
    char buf[CANON_CHUNK];
    struct canon_out o = {sink, arg, buf, 0, sizeof(buf)};

    if (c == PB_DKIM_CANON_RELAXED)
        header_relaxed(field, len, &o);
    else
        out_mem(&o, field, len); /* §3.4.1: no change at all */
    out_flush(&o);
}

size_t
pb_dkim_canon_header_to(enum pb_dkim_canon c, const char *field, size_t len,
                        char *dst)
{
    /* no sink: never flushed, as the form is never longer than len + 1
     * (a field without a colon gets one) */
    struct canon_out o = {NULL, NULL, dst, 0, len + 1};

    if (c == PB_DKIM_CANON_RELAXED)
        header_relaxed(field, len, &o);
    else
        out_mem(&o, field, len);
    return o.n;
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

/* The length of the whole lines (each ending in CRLF) that (p, n) starts
 * with. */
static size_t
whole_lines(const char *p, size_t n)
{
    while (n >= 2 && !(p[n - 2] == '\r' && p[n - 1] == '\n'))
        n--;
    return n >= 2 ? n : 0;
}

/* (p, n) being whole lines, their length without the empty lines at the
 * end: the last line is empty when its CRLF starts p or ends the line
 * before it (two CRLFs cannot overlap). */
static size_t
trim_empty_lines(const char *p, size_t n)
{
    while (n == 2 || (n >= 4 && p[n - 4] == '\r' && p[n - 3] == '\n'))
        n -= 2;
    return n;
}

/* RFC 6376 §3.4.4 */
static void
body_relaxed(const char *body, size_t len, struct canon_out *o)
{
    size_t i = 0, empty = 0;

    while (i < len) {
        size_t start, end = len, last, k, e;
        const char *cr, *q;
        bool space = false;

        /* the whole lines up to the first TAB or SP that relaxed changes
         * are their own canonical form: written as they are, but for
         * empty lines at their end, which wait (dropped if only empty
         * lines follow) */
        k = whole_lines(body + i, plain_len(body + i, len - i));
        e = trim_empty_lines(body + i, k);
        if (e > 0) {
            for (; empty > 0; empty--)
                out_mem(o, "\r\n", 2);
            out_mem(o, body + i, e);
        }
        empty += (k - e) / 2;
        i += k;
        if (i == len)
            break;

        /* then the line that needs work; it ends at the next CRLF (a lone
         * CR is an ordinary byte) */
        start = i;
        q = body + i;
        while ((cr = memchr(q, '\r', len - (size_t)(q - body))) != NULL) {
            if ((size_t)(cr - body) + 1 < len && cr[1] == '\n') {
                end = (size_t)(cr - body);
                break;
            }
            q = cr + 1;
        }
        i = end < len ? end + 2 : len;
        /* WSP at the end of the line goes */
        for (last = end; last > start && is_wsp((unsigned char)body[last - 1]);
             last--)
            ;
        if (last == start) {
            empty++; /* dropped if only empty lines follow */
            continue;
        }
        for (; empty > 0; empty--)
            out_mem(o, "\r\n", 2);
        squeeze(body + start, last - start, &space, o);
        out_mem(o, "\r\n", 2);
    }
}

void
pb_dkim_canon_body(enum pb_dkim_canon c, const char *body, size_t len,
                   pb_dkim_canon_sink_fn sink, void *arg)
{
    char buf[CANON_CHUNK];
    struct canon_out o = {sink, arg, buf, 0, sizeof(buf)};

    if (c == PB_DKIM_CANON_RELAXED)
        body_relaxed(body, len, &o);
    else
        body_simple(body, len, &o);
    out_flush(&o);
}
