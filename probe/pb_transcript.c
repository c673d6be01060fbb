/* SPDX-License-Identifier: MIT */
/*
 * Transcripts of exchanges with remote parties: pb_transcript.h.  SMTP
 * lines are reassembled from any chunking; AUTH arguments (RFC 4954 §4)
 * and every SASL line up to the server's final non-3xx reply are redacted
 * before they are stored.  IMAP LOGIN/AUTHENTICATE redaction is not here
 * yet: IMAP callers must not pass credentials.
 */
#include "pb_transcript.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pb_clock.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

#define REDACTED      "[redacted]"
#define REDACTED_LONG "[redacted: client line over limit]"

struct pb_transcript {
    struct pb_transcript_entry *ents;
    size_t n, cap;
    size_t limit, used; /* bytes charged against limit */
    size_t dropped;     /* bytes offered after truncation */
    bool is_truncated;
    size_t note_idx; /* the truncation entry */
    char note[96];   /* its text, rewritten as drops are counted */
    int64_t start_mono;
    struct pb_buf cl; /* incomplete client line */
    bool is_cl_over;  /* client line over PB_LIMIT_CLIENT_LINE */
    bool in_sasl;
    struct pb_buf sv; /* incomplete server line */
    bool is_sv_piece; /* sv continues an over-long line */
};

static int64_t
clock_ms(clockid_t id)
{
    return id == CLOCK_MONOTONIC ? pb_clock_mono_ms() : pb_clock_wall_ms();
}

const char *
pb_transcript_dir_name(enum pb_dir dir)
{
    switch (dir) {
    case PB_DIR_C:
        return "C";
    case PB_DIR_S:
        return "S";
    case PB_DIR_DNS_Q:
        return "DNS?";
    case PB_DIR_DNS_A:
        return "DNS!";
    case PB_DIR_IMAP_C:
        return "IMAP>";
    case PB_DIR_IMAP_S:
        return "IMAP<";
    case PB_DIR_NOTE:
        return "NOTE";
    }
    return "?";
}

struct pb_transcript *
pb_transcript_new(size_t limit)
{
    struct pb_transcript *t = pb_xcalloc(1, sizeof(*t));

    t->limit = limit;
    t->start_mono = clock_ms(CLOCK_MONOTONIC);
    pb_buf_init(&t->cl, PB_LIMIT_CLIENT_LINE);
    pb_buf_init(&t->sv, PB_LIMIT_REPLY_LINE);
    return t;
}

/* Client lines may hold secrets: wipe them before the memory is reused. */
static void
wipe_buf(struct pb_buf *b)
{
    if (b->p != NULL)
        memset(b->p, 0, b->cap);
    pb_buf_reset(b);
}

void
pb_transcript_free(struct pb_transcript *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->n; i++)
        if (!(t->is_truncated && i == t->note_idx))
            free((void *)(uintptr_t)t->ents[i].p);
    free(t->ents);
    wipe_buf(&t->cl);
    pb_buf_release(&t->cl);
    pb_buf_release(&t->sv);
    free(t);
}

static struct pb_transcript_entry *
new_entry(struct pb_transcript *t, enum pb_dir dir)
{
    struct pb_transcript_entry *e;

    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->ents = pb_xreallocarray(t->ents, t->cap, sizeof(*t->ents));
    }
    e = &t->ents[t->n++];
    e->t_ms = clock_ms(CLOCK_REALTIME);
    e->rel_ms = clock_ms(CLOCK_MONOTONIC) - t->start_mono;
    e->dir = dir;
    return e;
}

/*
 * Store two parts as one entry (a redacted prefix and a line terminator),
 * or count them once the limit is reached: after the first drop nothing
 * more is stored, so the record never has holes in its middle.
 */
static void
store2(struct pb_transcript *t, enum pb_dir dir, const void *a, size_t alen,
       const void *b, size_t blen)
{
    struct pb_transcript_entry *e;
    size_t len = alen + blen;
    size_t cost = sizeof(*e) + len + 1;
    char *p;

    if (t->is_truncated || cost > t->limit - t->used || t->used > t->limit) {
        if (!t->is_truncated) {
            t->is_truncated = true;
            t->note_idx = t->n;
            e = new_entry(t, PB_DIR_NOTE);
            e->p = t->note;
        }
        t->dropped += len;
        e = &t->ents[t->note_idx];
        (void)snprintf(t->note, sizeof(t->note),
                       "transcript truncated: %zu more bytes not kept",
                       t->dropped);
        e->len = strlen(t->note);
        return;
    }
    p = pb_xmalloc(len + 1);
    if (alen)
        memcpy(p, a, alen);
    if (blen)
        memcpy(p + alen, b, blen);
    p[len] = '\0';
    e = new_entry(t, dir);
    e->p = p;
    e->len = len;
    t->used += cost;
}

static bool
is_alpha_eq(unsigned char c, char upper)
{
    return c == (unsigned char)upper || c == (unsigned char)(upper | 0x20);
}

/*
 * Length of a known SASL mechanism name at p (then followed by a space or
 * the end of the line), or 0.  Only known names are kept: an unknown
 * "name" may be an argument run into the keyword ("AUTH PLAINc2Vj...").
 */
static size_t
known_mech(const char *p, size_t n)
{
    static const char *const mechs[] = {
        "PLAIN",
        "LOGIN",
        "XOAUTH2",
        "OAUTHBEARER",
        "CRAM-MD5",
        "DIGEST-MD5",
        "NTLM",
        "GSSAPI",
        "EXTERNAL",
        "ANONYMOUS",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-256-PLUS",
    };
    size_t i, k, ml;

    for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        ml = strlen(mechs[i]);
        if (ml > n || (ml < n && p[ml] != ' '))
            continue;
        for (k = 0; k < ml; k++)
            if (!is_alpha_eq((unsigned char)p[k], mechs[i][k]))
                break;
        if (k == ml)
            return ml;
    }
    return 0;
}

/* Store one complete (or flushed) client line from t->cl, redacted. */
static void
client_line(struct pb_transcript *t)
{
    const char *p = t->cl.p;
    size_t n = t->cl.len, term = 0, m, mech;

    if (t->is_cl_over) {
        /* Not a line our client writes; redact it and treat it as the
         * start of a SASL exchange in case it was an AUTH command. */
        t->is_cl_over = false;
        t->in_sasl = true;
        store2(t, PB_DIR_C, REDACTED_LONG, strlen(REDACTED_LONG), "\r\n",
               n && p[n - 1] == '\n' ? 2 : 0);
        wipe_buf(&t->cl);
        return;
    }
    if (n && p[n - 1] == '\n')
        term = n >= 2 && p[n - 2] == '\r' ? 2 : 1;
    m = n - term;
    if (t->in_sasl) {
        /* RFC 4954 §4: every client line of the exchange is a SASL
         * response (or "*"), all of them credentials or derived from them */
        store2(t, PB_DIR_C, REDACTED, strlen(REDACTED), p + m, term);
    } else if (m >= 4 && is_alpha_eq((unsigned char)p[0], 'A') &&
               is_alpha_eq((unsigned char)p[1], 'U') &&
               is_alpha_eq((unsigned char)p[2], 'T') &&
               is_alpha_eq((unsigned char)p[3], 'H') &&
               (m == 4 || p[4] == ' ')) {
        t->in_sasl = true;
        mech = m > 5 ? known_mech(p + 5, m - 5) : 0;
        if (m == 4 || (mech > 0 && 5 + mech == m)) {
            /* "AUTH" or "AUTH MECH": nothing secret yet */
            store2(t, PB_DIR_C, p, n, NULL, 0);
        } else {
            /* "AUTH MECH [redacted]", or "AUTH [redacted]" when what
             * follows is not a known mechanism: it may be a credential */
            char head[5 + 32 + sizeof(REDACTED)];
            size_t hl = mech > 0 ? 5 + mech + 1 : 5;

            memcpy(head, p, hl);
            memcpy(head + hl, REDACTED, strlen(REDACTED));
            hl += strlen(REDACTED);
            store2(t, PB_DIR_C, head, hl, p + m, term);
        }
    } else {
        store2(t, PB_DIR_C, p, n, NULL, 0);
    }
    wipe_buf(&t->cl);
}

void
pb_transcript_add_client(struct pb_transcript *t, const void *p, size_t len)
{
    const char *s = p;

    while (len > 0) {
        const char *lf = memchr(s, '\n', len);
        size_t seg = lf != NULL ? (size_t)(lf - s) + 1 : len;

        if (!t->is_cl_over && pb_buf_add(&t->cl, s, seg) == -1) {
            t->is_cl_over = true;
            wipe_buf(&t->cl);
        }
        if (lf != NULL) {
            if (t->is_cl_over && pb_buf_add(&t->cl, "\n", 1) == -1)
                pb_panic("transcript: empty client buffer refused a byte");
            client_line(t);
        }
        s += seg;
        len -= seg;
    }
}

/* Store t->sv as a server entry; a complete first line can end SASL. */
static void
server_line(struct pb_transcript *t, bool is_piece)
{
    const unsigned char *p = (const unsigned char *)t->sv.p;
    size_t n = t->sv.len;

    /* RFC 4954 §4: the exchange ends with the server's final reply, 235
     * or an error; 334 carries a challenge.  Any final non-3xx reply ends
     * it here, so a server answering 250 does not hide later commands. */
    if (t->in_sasl && !t->is_sv_piece && n >= 3 && p[0] >= '0' && p[0] <= '9' &&
        p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
        (n == 3 || p[3] == ' ' || p[3] == '\r' || p[3] == '\n') && p[0] != '3')
        t->in_sasl = false;
    store2(t, PB_DIR_S, t->sv.p, n, NULL, 0);
    pb_buf_reset(&t->sv);
    t->is_sv_piece = is_piece;
}

void
pb_transcript_add_server(struct pb_transcript *t, const void *p, size_t len)
{
    const char *s = p;

    while (len > 0) {
        const char *lf = memchr(s, '\n', len);
        size_t seg = lf != NULL ? (size_t)(lf - s) + 1 : len;
        size_t room = PB_LIMIT_REPLY_LINE - t->sv.len;

        if (seg > room) {
            /* an over-long line: keep it in pieces of the line limit */
            if (pb_buf_add(&t->sv, s, room) == -1)
                pb_panic("transcript: server buffer refused its room");
            server_line(t, true);
            s += room;
            len -= room;
            continue;
        }
        if (pb_buf_add(&t->sv, s, seg) == -1)
            pb_panic("transcript: server buffer refused its room");
        if (lf != NULL)
            server_line(t, false);
        s += seg;
        len -= seg;
    }
}

void
pb_transcript_flush(struct pb_transcript *t)
{
    if (t->cl.len > 0 || t->is_cl_over)
        client_line(t);
    if (t->sv.len > 0)
        server_line(t, false);
}

void
pb_transcript_add(struct pb_transcript *t, enum pb_dir dir, const void *p,
                  size_t len)
{
    switch (dir) {
    case PB_DIR_C:
        pb_transcript_add_client(t, p, len);
        return;
    case PB_DIR_S:
        pb_transcript_add_server(t, p, len);
        return;
    case PB_DIR_DNS_Q:
    case PB_DIR_DNS_A:
    case PB_DIR_IMAP_C:
    case PB_DIR_IMAP_S:
    case PB_DIR_NOTE:
        break;
    }
    store2(t, dir, p, len, NULL, 0);
}

size_t
pb_transcript_count(const struct pb_transcript *t)
{
    return t->n;
}

const struct pb_transcript_entry *
pb_transcript_entry(const struct pb_transcript *t, size_t i)
{
    return i < t->n ? &t->ents[i] : NULL;
}

size_t
pb_transcript_dropped(const struct pb_transcript *t)
{
    return t->dropped;
}

bool
pb_transcript_in_sasl(const struct pb_transcript *t)
{
    return t->in_sasl;
}

int
pb_transcript_render_text(const struct pb_transcript *t, struct pb_buf *out)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        const struct pb_transcript_entry *e = &t->ents[i];
        size_t saved = out->len, len = e->len;

        if (len >= 2 && e->p[len - 2] == '\r' && e->p[len - 1] == '\n')
            len -= 2;
        if (pb_buf_addf(out, "+%lldms %s: ", (long long)e->rel_ms,
                        pb_transcript_dir_name(e->dir)) == -1 ||
            pb_buf_add_escaped(out, e->p, len) == -1 ||
            pb_buf_addc(out, '\n') == -1) {
            out->len = saved;
            if (out->p != NULL)
                out->p[saved] = '\0';
            return -1;
        }
    }
    return 0;
}
