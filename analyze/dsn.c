/* SPDX-License-Identifier: MIT */
/*
 * Bounce messages read into one shape: RFC 3464 DSNs (the multipart/report
 * of RFC 6522, its message/delivery-status fields, §2.2 and §2.3), RFC 5965
 * feedback reports, RFC 3834 auto-replies, and the MTAs' own wordings
 * (dsn_mta.c).  The MIME structure (RFC 2045, RFC 2046 §5) is walked by our
 * own bounded code, not libetpan's mailmime_parse(): that one recurses once
 * per nesting level without a bound (a 3 MB message of nested
 * message/rfc822 overflows the stack) and takes seconds on nested
 * multiparts.  Base64 and quoted-printable are decoded here too, leniently
 * (libetpan's decoders stop at the first bad quoted-printable escape and
 * turn bytes outside the base64 alphabet into data); libetpan decodes the
 * RFC 2047 encoded words of the Subject (with iconv).  Not done: RFC 2231
 * parameter continuations, message/partial, charsets of the text (bytes
 * are kept; the wordings looked for are ASCII).
 */
#include "dsn.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

#include "dsn_int.h"
#include "pb_buf.h"
#include "pb_ctype.h"
#include "pb_lazy.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/* libetpan, loaded on first use (pb_lazy.h): only for RFC 2047 words */
#define ETPAN_FUNCS(X) X(mailmime_encoded_phrase_parse)
PB_LAZY_TABLE(etpan, PB_SONAME_ETPAN, ETPAN_FUNCS)
#define mailmime_encoded_phrase_parse(...) \
    (etpan()->mailmime_encoded_phrase_parse(__VA_ARGS__))

const char *
dsn_kind_name(enum dsn_kind k)
{
    switch (k) {
    case DSN_RFC3464:
        return "dsn";
    case DSN_NONSTANDARD:
        return "bounce";
    case DSN_FEEDBACK:
        return "feedback";
    case DSN_AUTOREPLY:
        return "auto-reply";
    default:
        return "not-bounce";
    }
}

/* ------------------------------------------------------------------ */
/* Text helpers                                                        */

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* (p, n) equals (q, n), ASCII case-insensitive; q in any case. */
static bool
same_icase(const char *p, const char *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)p[i]) != lower((unsigned char)q[i]))
            return false;
    return true;
}

/*
 * Horspool's search on pairs of bytes (the window's last two decide the
 * shift), ASCII case-insensitive, for a long text: the shifts (most pairs
 * of the text are in no needle) make up for the table.
 */
static inline unsigned
pair_hash(unsigned a, unsigned b)
{
    return ((unsigned)lower((int)a) * 31u + (unsigned)lower((int)b)) & 1023u;
}

static const char *
find_long(const char *p, size_t len, const char *needle, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    const unsigned char *q = (const unsigned char *)needle;
    unsigned char skip[1024];
    unsigned char last = (unsigned char)lower(q[n - 1]);
    size_t i;

    /* a pair that ends the window at its end shifts n - 1 - j, where the
     * last such pair of the needle ends at j; none: n - 1 */
    memset(skip, (int)(n - 1), sizeof(skip));
    for (i = 1; i + 1 < n; i++)
        skip[pair_hash(q[i - 1], q[i])] = (unsigned char)(n - 1 - i);
    for (i = 0; len - i >= n;) {
        unsigned char c = u[i + n - 1];

        if (lower(c) == last && same_icase(p + i, needle, n - 1))
            return p + i;
        i += skip[pair_hash(u[i + n - 2], c)]; /* never 0 */
    }
    return NULL;
}

const char *
dsn_find(const char *p, size_t len, const char *needle)
{
    size_t n = strlen(needle), i;
    int first;

    if (n == 0)
        return p;
    if (n > len)
        return NULL;
    if (n >= 4 && n < 256 && len >= 512)
        return find_long(p, len, needle, n);
    first = lower((unsigned char)needle[0]);
    if (first >= 'a' && first <= 'z') {
        /* memchr() for each letter case of the first byte, in turn */
        const char *end = p + (len - n + 1);
        int up = first - 'a' + 'A';
        const char *lo = memchr(p, first, (size_t)(end - p));
        const char *hi = memchr(p, up, (size_t)(end - p));

        while (lo != NULL || hi != NULL) {
            const char *c = hi == NULL || (lo != NULL && lo < hi) ? lo : hi;

            if (same_icase(c + 1, needle + 1, n - 1))
                return c;
            if (c == lo)
                lo = memchr(lo + 1, first, (size_t)(end - (lo + 1)));
            else
                hi = memchr(hi + 1, up, (size_t)(end - (hi + 1)));
        }
        return NULL;
    }
    for (i = 0; i + n <= len; i++)
        if ((unsigned char)p[i] == first && same_icase(p + i, needle, n))
            return p + i;
    return NULL;
}

bool
dsn_starts(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return n <= len && same_icase(p, prefix, n);
}

bool
dsn_line_next(const char *p, size_t len, size_t *pos, const char **line,
              size_t *n)
{
    const char *nl;

    if (*pos >= len)
        return false;
    *line = p + *pos;
    nl = memchr(*line, '\n', len - *pos);
    if (nl == NULL) {
        *n = len - *pos;
        *pos = len;
    } else {
        *n = (size_t)(nl - *line);
        *pos += *n + 1;
    }
    return true;
}

struct dsn_slice
dsn_trim(const char *p, size_t len)
{
    struct dsn_slice s;

    while (len > 0 && (pb_is_wsp((unsigned char)*p) || *p == '\n')) {
        p++;
        len--;
    }
    while (len > 0 &&
           (pb_is_wsp((unsigned char)p[len - 1]) || p[len - 1] == '\n'))
        len--;
    s.p = p;
    s.len = len;
    return s;
}

/* RFC 5322 §3.6.8 ftext, and the obsolete WSP before the colon. */
static size_t
field_name_len(const char *line, size_t n)
{
    size_t i = 0, name;

    while (i < n && line[i] != ':' && (unsigned char)line[i] > 32 &&
           (unsigned char)line[i] < 127)
        i++;
    name = i;
    while (i < n && pb_is_wsp((unsigned char)line[i]))
        i++;
    if (name == 0 || i >= n || line[i] != ':')
        return 0;
    return name;
}

bool
dsn_field_next(const char *h, size_t len, size_t *pos, struct dsn_field *f)
{
    const char *line;
    size_t n;

    while (dsn_line_next(h, len, pos, &line, &n)) {
        size_t name = field_name_len(line, n), colon, end;

        if (name == 0)
            continue;
        colon = (size_t)((const char *)memchr(line, ':', n) - line);
        f->name = line;
        f->name_len = name;
        f->value = line + colon + 1;
        /* continuation lines start with WSP (RFC 5322 §2.2.3) */
        end = *pos;
        while (end < len && pb_is_wsp((unsigned char)h[end])) {
            const char *nl = memchr(h + end, '\n', len - end);

            end = nl == NULL ? len : (size_t)(nl - h) + 1;
        }
        *pos = end;
        f->value_len = (size_t)(h + end - f->value);
        return true;
    }
    return false;
}

bool
dsn_field_is(const struct dsn_field *f, const char *name)
{
    return strlen(name) == f->name_len &&
           dsn_starts(f->name, f->name_len, name);
}

char *
dsn_unfold_max(const char *v, size_t len, size_t max, size_t *n, bool *is_cut)
{
    struct dsn_slice t = dsn_trim(v, len);
    size_t i = 0, o = 0, cap = t.len < max ? t.len : max;
    char *s = pb_xmalloc(cap + 1);

    while (i < t.len && o < cap) {
        const char *nl = memchr(t.p + i, '\n', t.len - i);
        size_t run = nl != NULL ? (size_t)(nl - (t.p + i)) : t.len - i;

        /* the line as it is, then one space for the fold */
        if (run > cap - o)
            run = cap - o;
        memcpy(s + o, t.p + i, run);
        o += run;
        i += run;
        if (i >= t.len || o >= cap)
            break;
        while (i + 1 < t.len && pb_is_wsp((unsigned char)t.p[i + 1]))
            i++;
        s[o++] = ' ';
        i++;
    }
    s[o] = '\0';
    if (n != NULL)
        *n = o;
    if (is_cut != NULL)
        *is_cut = i < t.len;
    return s;
}

char *
dsn_unfold(const char *v, size_t len, size_t *n)
{
    return dsn_unfold_max(v, len, PB_LIMIT_DSN_FIELD, n, NULL);
}

char *
dsn_header_get(const char *h, size_t len, const char *name, size_t *n)
{
    struct dsn_field f;
    size_t pos = 0;

    while (dsn_field_next(h, len, &pos, &f))
        if (dsn_field_is(&f, name))
            return dsn_unfold(f.value, f.value_len, n);
    return NULL;
}

void
dsn_hindex_build(struct dsn_hindex *x, const char *h, size_t len)
{
    struct dsn_field f;
    size_t pos = 0, cap = 0;

    x->v = NULL;
    x->n = 0;
    while (dsn_field_next(h, len, &pos, &f)) {
        if (x->n == cap) {
            cap = cap == 0 ? 32 : 2 * cap;
            x->v = pb_xreallocarray(x->v, cap, sizeof(*x->v));
        }
        x->v[x->n++] = f;
    }
}

char *
dsn_hindex_get(const struct dsn_hindex *x, const char *name, size_t *n)
{
    size_t nl = strlen(name), k;
    int first = lower((unsigned char)name[0]);

    for (size_t i = 0; i < x->n; i++) {
        const struct dsn_field *f = &x->v[i];

        if (f->name_len != nl || lower((unsigned char)f->name[0]) != first)
            continue;
        for (k = 1; k < nl; k++)
            if (lower((unsigned char)f->name[k]) !=
                lower((unsigned char)name[k]))
                break;
        if (k == nl)
            return dsn_unfold(f->value, f->value_len, n);
    }
    return NULL;
}

/* The header of an entity and where its body starts. */
static void
entity_split(const char *p, size_t len, struct dsn_slice *h,
             struct dsn_slice *b)
{
    size_t pos = 0, start;
    const char *line;
    size_t n;

    for (;;) {
        start = pos;
        if (!dsn_line_next(p, len, &pos, &line, &n)) {
            start = len;
            pos = len;
            break;
        }
        if (n == 0)
            break; /* the empty line ends the header */
        if (start > 0 && pb_is_wsp((unsigned char)line[0]))
            continue;
        if (field_name_len(line, n) == 0) {
            pos = start; /* leniency: a body without the empty line */
            break;
        }
    }
    h->p = p;
    h->len = start;
    b->p = p + pos;
    b->len = len - pos;
}

/* ------------------------------------------------------------------ */
/* Status codes, reply codes, stages                                   */

/* Digits at p[i..]: how many (0 to max+1; more than max is refused). */
static size_t
digits(const char *p, size_t len, size_t i, size_t max)
{
    size_t n = 0;

    while (i + n < len && pb_is_digit((unsigned char)p[i + n]) && n <= max)
        n++;
    return n;
}

/*
 * The first k in [i, end) where p[k] is '2' to '5' (a reply code's or a
 * status's first digit), or end: eight bytes at a time, digits are rare
 * in text.  A byte between 0x31 and 0x36 (exclusive) is found as in
 * "hasbetween()" of Sean Anderson's Bit Twiddling Hacks.
 */
static size_t
next_digit25(const char *p, size_t i, size_t end)
{
    const uint64_t ones = 0x0101010101010101u, highs = ones * 0x80;

    for (; end - i >= 8; i += 8) {
        uint64_t w, x;

        memcpy(&w, p + i, sizeof(w));
        x = w & (ones * 0x7f);
        if ((ones * (127 + 0x36) - x) & ~w & (x + ones * (127 - 0x31)) & highs)
            break;
    }
    while (i < end && (p[i] < '2' || p[i] > '5'))
        i++;
    return i;
}

/* class.subject.detail at p[i..], its length or 0 (RFC 3463 §2). */
static size_t
status_at(const char *p, size_t len, size_t i)
{
    size_t a, b, c, j = i;

    if (j >= len || (p[j] != '2' && p[j] != '4' && p[j] != '5'))
        return 0;
    j++;
    if (j >= len || p[j] != '.')
        return 0;
    j++;
    b = digits(p, len, j, 3);
    if (b == 0 || b > 3)
        return 0;
    j += b;
    if (j >= len || p[j] != '.')
        return 0;
    j++;
    c = digits(p, len, j, 3);
    if (c == 0 || c > 3)
        return 0;
    j += c;
    /* "5.1.1.1" and "5.1.1.": a longer dotted number, not a status */
    if (j < len && p[j] == '.' && j + 1 < len &&
        pb_is_digit((unsigned char)p[j + 1]))
        return 0;
    a = j - i;
    return a;
}

bool
dsn_status_check(const char *p, size_t len, char out[16])
{
    struct dsn_slice t = dsn_trim(p, len);
    size_t n;

    out[0] = '\0';
    n = status_at(t.p, t.len, 0);
    if (n == 0)
        return false;
    if (n < t.len && !pb_is_wsp((unsigned char)t.p[n]) && t.p[n] != '(')
        return false;
    memcpy(out, t.p, n);
    out[n] = '\0';
    return true;
}

/* A reply code ends just before p[i], maybe with "-", SP or a quote
 * between: "550 5.1.1", "550-5.7.26", "550-'5.7.1". */
static bool
after_reply(const char *p, size_t i)
{
    size_t j = i, skipped = 0;

    while (j > 0 && skipped < 2 && dsn_in_set(p[j - 1], " -'\"")) {
        j--;
        skipped++;
    }
    if (skipped == 0 || j < 3 || p[j - 3] < '2' || p[j - 3] > '5' ||
        !pb_is_digit((unsigned char)p[j - 2]) ||
        !pb_is_digit((unsigned char)p[j - 1]))
        return false;
    return j == 3 || !pb_is_alnum((unsigned char)p[j - 4]);
}

long
dsn_status_find(const char *p, size_t len, char out[16])
{
    long best = -1;
    size_t i, best_n = 0;
    int best_rank = 0;

    out[0] = '\0';
    for (i = 0; i + 5 <= len; i++) {
        unsigned char prev;
        size_t n, sub;
        int rank;

        i = next_digit25(p, i, len - 4);
        if (i + 5 > len)
            break;
        if (p[i] != '2' && p[i] != '4' && p[i] != '5')
            continue;
        prev = i > 0 ? (unsigned char)p[i - 1] : ' ';
        /* standing alone: not in "v4.1.2", "10.5.1.1" or "25.1.2" */
        if (pb_is_alnum(prev) || prev == '.' || prev == '_')
            continue;
        n = status_at(p, len, i);
        if (n == 0)
            continue;
        if (i + n < len &&
            (pb_is_alnum((unsigned char)p[i + n]) || p[i + n] == '_'))
            continue;
        /* free text: IANA subjects are 0 to 7; "4.92.3" is a version */
        sub = digits(p, len, i + 2, 3);
        if (sub != 1 || p[i + 2] > '7')
            continue;
        /*
         * The first code a reply carries ("550 5.1.1") wins over a summary
         * before it; a failure's code over the success codes a transcript
         * quotes ("250 2.1.5 Ok" before "451 4.3.0").
         */
        rank = (after_reply(p, i) ? 1 : 0) + (p[i] != '2' ? 2 : 0);
        if (rank > best_rank || best < 0) {
            best = (long)i;
            best_n = n;
            best_rank = rank;
            if (rank == 3)
                break;
        }
    }
    if (best >= 0) {
        memcpy(out, p + best, best_n);
        out[best_n] = '\0';
    }
    return best;
}

int
dsn_reply_find(const char *p, size_t len)
{
    static const char *const cues[] = {"said:",  "says:",  "said", "smtp;",
                                       "reply:", "error:", "<<<"};
    int best = 0, best_score = 0;
    size_t i, k;

    for (i = 0; i + 3 <= len; i++) {
        unsigned char prev, next;
        int code, score = 1;
        size_t j;

        i = next_digit25(p, i, len - 2);
        if (i + 3 > len)
            break;
        prev = i > 0 ? (unsigned char)p[i - 1] : '\n';
        next = i + 3 < len ? (unsigned char)p[i + 3] : '\n';
        if (p[i] < '2' || p[i] > '5' || !pb_is_digit((unsigned char)p[i + 1]) ||
            !pb_is_digit((unsigned char)p[i + 2]))
            continue;
        if (pb_is_alnum(prev) || prev == '.' || prev == '-' || prev == '#' ||
            prev == '/' || prev == '+' || prev == '$' || prev == '@' ||
            prev == '=' || prev == '%')
            continue;
        /* Yahoo writes "550: 5.2.2 ..." at the start of a line */
        if (next == ':' && prev == '\n')
            next = ' ';
        if (next != ' ' && next != '-' && next != '\n' && next != '\t' &&
            next != ',' && next != ')' && next != ']' && next != '"' &&
            next != '\'')
            continue;
        code = (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0');
        if ((next == ' ' || next == '-') && i + 4 < len && p[i + 4] == p[i] &&
            status_at(p, len, i + 4) > 0) {
            /* "550 5.1.1" and "550-5.7.26": the reply and its status */
            score = 5;
        } else if (i >= 4 && memcmp(p + i - 4, "<<< ", 4) == 0) {
            /* Sendmail's transcript: the remote's reply */
            score = 4;
        } else if (next == ' ' && i + 4 < len && p[i + 4] == '<') {
            /*
             * Sendmail's own summary "554 <rcpt>... 550 Host unknown":
             * the remote's reply after it says more.
             */
            score = 1;
        } else if (prev == '\n' || prev == '<' || prev == '(' || prev == '[') {
            score = 3;
        } else if (next == ' ' || next == '-') {
            /* after a cue word: "said: 550", "smtp; 550" */
            j = i;
            while (j > 0 && pb_is_wsp((unsigned char)p[j - 1]))
                j--;
            for (k = 0; k < sizeof(cues) / sizeof(cues[0]); k++) {
                size_t cl = strlen(cues[k]);

                if (j >= cl && strncasecmp(p + j - cl, cues[k], cl) == 0)
                    score = 4;
            }
            if (score == 1 && (prev == ' ' || prev == '\t' || prev == ':'))
                score = 2;
        }
        /* a failure's text quotes success replies too ("250 Ok" of an
         * earlier command): they count only with their status code */
        if (p[i] < '4')
            score -= 2;
        if (score > best_score) {
            best = code;
            best_score = score;
            if (score == 5)
                break;
        }
    }
    return best;
}

/*
 * The words of cue at the start of (p, len), ASCII case-insensitive, a
 * space or line end of the cue matching any run of SP, HTAB and LF: the
 * MTAs wrap their sentences ("(in reply\n    to end of DATA command)").
 */
static bool
words_at(const char *p, size_t len, const char *cue)
{
    size_t i = 0;

    for (; *cue != '\0'; cue++) {
        if (*cue == ' ' || *cue == '\n') {
            if (i >= len || (!pb_is_wsp((unsigned char)p[i]) && p[i] != '\n'))
                return false;
            while (i < len && (pb_is_wsp((unsigned char)p[i]) || p[i] == '\n'))
                i++;
            continue;
        }
        if (i >= len || lower((unsigned char)p[i]) != *cue)
            return false;
        i++;
    }
    return true;
}

/* The wordings that name the failing command; the first in this order
   wins at a place. */
static const struct {
    const char *text;
    enum pb_stage stage;
} stage_cues[] = {
    {"in reply to end of data", PB_STAGE_DATA},
    {"after end of data", PB_STAGE_DATA},
    {"in reply to data", PB_STAGE_DATA},
    {"after data", PB_STAGE_DATA},
    {">>> data", PB_STAGE_DATA},
    {"failed after i sent the message", PB_STAGE_DATA},
    {"<<< data", PB_STAGE_DATA},
    {"after data command", PB_STAGE_DATA},
    {"for text command", PB_STAGE_DATA},
    {"following data command", PB_STAGE_DATA},
    {"accept your message (data)", PB_STAGE_DATA},
    {"smtp command\ndata", PB_STAGE_DATA},
    {"in reply to rcpt to", PB_STAGE_RCPT},
    {"after rcpt to", PB_STAGE_RCPT},
    {"after pipelined rcpt to", PB_STAGE_RCPT},
    {"rcpt to response", PB_STAGE_RCPT},
    {"rcpt to command", PB_STAGE_RCPT},
    {">>> rcpt to", PB_STAGE_RCPT},
    {"does not like recipient", PB_STAGE_RCPT},
    {"<<< rcpt to", PB_STAGE_RCPT},
    {"after rcpt command", PB_STAGE_RCPT},
    {"following rcpt command", PB_STAGE_RCPT},
    {"[rcpt_to]", PB_STAGE_RCPT},
    {"smtp command\nrcpt", PB_STAGE_RCPT},
    {"in reply to mail from", PB_STAGE_MAIL},
    {"after mail from", PB_STAGE_MAIL},
    {"after pipelined mail from", PB_STAGE_MAIL},
    {"mail from command", PB_STAGE_MAIL},
    {">>> mail from", PB_STAGE_MAIL},
    {"sender was rejected", PB_STAGE_MAIL},
    {"<<< mail from", PB_STAGE_MAIL},
    {"after mail command", PB_STAGE_MAIL},
    {"following mail command", PB_STAGE_MAIL},
    {"[mail_from]", PB_STAGE_MAIL},
    {"smtp command\nmail", PB_STAGE_MAIL},
    {"in reply to ehlo", PB_STAGE_EHLO},
    {"in reply to helo", PB_STAGE_EHLO},
    {"in reply to lhlo", PB_STAGE_EHLO},
    {"after ehlo", PB_STAGE_EHLO},
    {"after helo", PB_STAGE_EHLO},
    {">>> ehlo", PB_STAGE_EHLO},
    {">>> helo", PB_STAGE_EHLO},
    {"my name was rejected", PB_STAGE_EHLO},
    {"refused to talk to me", PB_STAGE_GREETING},
    {"after initial connection", PB_STAGE_GREETING},
    {"in reply to initial greeting", PB_STAGE_GREETING},
    {"greeting failed", PB_STAGE_GREETING},
    {"smtp greeting", PB_STAGE_GREETING},
    {"connection refused", PB_STAGE_CONNECT},
    {"connection timed out", PB_STAGE_CONNECT},
    {"couldn't connect", PB_STAGE_CONNECT},
    {"could not connect", PB_STAGE_CONNECT},
};

/* The bit of two bytes in dsn_stage_index.pair. */
static inline unsigned
stage_pair(unsigned a, unsigned b)
{
    return (a << 4 ^ b) & 4095u;
}

/*
 * The cues by their first two bytes (pair, either case) and by their first
 * byte (slot[c] - 1, either case): those cues, in table order.  Built once
 * per message, on its first use.  Every cue has two bytes before any
 * space.
 */
static void
stage_index_build(struct dsn_stage_index *x)
{
    enum { NCUES = sizeof(stage_cues) / sizeof(stage_cues[0]) };
    size_t k;

    _Static_assert(NCUES <= sizeof(x->first[0]), "the stage cues fit");
    memset(x->pair, 0, sizeof(x->pair));
    memset(x->slot, 0, sizeof(x->slot));
    x->nslots = 0;
    for (k = 0; k < NCUES; k++) {
        unsigned char c = (unsigned char)stage_cues[k].text[0];
        unsigned char c2 = (unsigned char)stage_cues[k].text[1];
        unsigned char u = c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
        unsigned char u2 = c2 >= 'a' && c2 <= 'z' ? c2 - 'a' + 'A' : c2;
        unsigned s;

        if (x->slot[c] == 0) {
            if (x->nslots == sizeof(x->nfirst))
                pb_panic("dsn_stage_find: more than %zu first bytes",
                         sizeof(x->nfirst));
            x->slot[c] = x->slot[u] = ++x->nslots; /* either case */
            x->nfirst[x->nslots - 1] = 0;
        }
        if (c2 == ' ' || c2 == '\n' || c2 == '\0')
            pb_panic("dsn_stage_find: a cue of one byte");
        s = x->slot[c] - 1u;
        x->first[s][x->nfirst[s]++] = (unsigned char)k;
        for (unsigned a = 0; a < 2; a++) {
            for (unsigned b = 0; b < 2; b++) {
                unsigned key = stage_pair(a ? u : c, b ? u2 : c2);

                x->pair[key >> 6] |= (uint64_t)1 << (key & 63);
            }
        }
    }
}

/*
 * The wording nearest the start names the failing command: one pass,
 * trying only the cues whose first two bytes the text has there.
 */
static enum pb_stage
stage_find(const struct dsn_stage_index *x, const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i, k;

    for (i = 0; i + 1 < len; i++) {
        unsigned key = stage_pair(u[i], u[i + 1]), s, c2;

        if (!((x->pair[key >> 6] >> (key & 63)) & 1) || x->slot[u[i]] == 0)
            continue;
        s = x->slot[u[i]] - 1u;
        c2 = (unsigned)lower(u[i + 1]);
        for (k = 0; k < x->nfirst[s]; k++) {
            const char *cue = stage_cues[x->first[s][k]].text;

            /* the first two bytes match: the rest of the words */
            if ((unsigned char)cue[1] == c2 &&
                words_at(p + i + 2, len - i - 2, cue + 2))
                return stage_cues[x->first[s][k]].stage;
        }
    }
    return PB_STAGE_NONE;
}

enum pb_stage
dsn_stage_find(const char *p, size_t len)
{
    struct dsn_stage_index x;

    stage_index_build(&x);
    return stage_find(&x, p, len);
}

enum pb_stage
dsn_stage_find_in(struct dsn_ctx *c, const char *p, size_t len)
{
    if (c->stages == NULL) {
        c->stages = pb_xmalloc(sizeof(*c->stages));
        stage_index_build(c->stages);
    }
    return stage_find(c->stages, p, len);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */

/*
 * RFC 5322 atext and ".".  RFC 6531 allows UTF-8 too, but bounces name
 * addresses inside text of any language ("宛先user@example.jp"), where
 * 8-bit bytes around an ASCII address are the sentence, not the address.
 */
static bool
is_local_byte(unsigned char c)
{
    if (pb_is_alnum(c))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
    case '.':
        return true;
    default:
        return false;
    }
}

/* Domains as A-labels (RFC 5890), for the same reason. */
static bool
is_domain_byte(unsigned char c)
{
    return pb_is_alnum(c) || c == '-' || c == '.' || c == '_';
}

bool
dsn_addr_next(const char *p, size_t len, size_t *pos, struct dsn_slice *a)
{
    size_t i;

    for (i = *pos; i < len; i++) {
        size_t s, e, dots = 0;
        const char *at = memchr(p + i, '@', len - i);

        if (at == NULL)
            break;
        i = (size_t)(at - p);
        if (i == 0 || !is_local_byte((unsigned char)p[i - 1]))
            continue;
        s = i;
        while (s > *pos && s > 0 && is_local_byte((unsigned char)p[s - 1]) &&
               i - s < PB_LIMIT_LOCALPART * 2)
            s--;
        /* a trailing "." or a leading one belongs to the sentence */
        while (s < i && p[s] == '.')
            s++;
        e = i + 1;
        while (e < len && is_domain_byte((unsigned char)p[e]) &&
               e - i < PB_LIMIT_ADDRESS)
            e++;
        while (e > i + 1 && (p[e - 1] == '.' || p[e - 1] == '-'))
            e--;
        for (size_t k = i + 1; k < e; k++)
            dots += p[k] == '.';
        if (s == i || dots == 0 || p[i + 1] == '.') {
            continue;
        }
        a->p = p + s;
        a->len = e - s;
        *pos = e;
        return true;
    }
    *pos = len;
    return false;
}

/* ------------------------------------------------------------------ */
/* The report                                                          */

char *
dsn_text_dup(const char *p, size_t len)
{
    char *s = pb_xmemdup(p, len);
    size_t i;

    /* one line of text: no NUL or control character survives */
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = ' ';
    return s;
}

void
dsn_set_mta(struct dsn_ctx *c, const char *name)
{
    if (c->out->mta == NULL && name != NULL)
        c->out->mta = pb_xstrdup(name);
}

/*
 * An address as written in a DSN or in a bounce's text: "rfc822;" is
 * the caller's, angle brackets and quotes go, then it must be one word of
 * printable or 8-bit bytes.
 */
static bool
addr_clean(const char *p, size_t len, struct dsn_slice *out)
{
    struct dsn_slice t = dsn_trim(p, len);
    size_t i;

    while (t.len > 0 && (t.p[0] == '<' || t.p[0] == '"' || t.p[0] == '\'' ||
                         t.p[0] == '(' || t.p[0] == '[')) {
        /* RFC 5321 §4.1.2: a quoted local part keeps its quotes */
        if (t.p[0] == '"' && t.len > 1 &&
            dsn_find(t.p + 1, t.len - 1, "\"@") != NULL)
            break;
        t.p++;
        t.len--;
    }
    while (t.len > 0 && strchr(">\"'),;:.]", t.p[t.len - 1]) != NULL &&
           t.p[t.len - 1])
        t.len--;
    /* RFC 5321 §4.1.2 source route "@relay:user@domain": the mailbox */
    if (t.len > 0 && t.p[0] == '@') {
        const char *colon = memchr(t.p, ':', t.len);

        if (colon == NULL)
            return false; /* "@host": no mailbox at all */
        t.len -= (size_t)(colon + 1 - t.p);
        t.p = colon + 1;
    }
    if (t.len == 0 || t.len > PB_LIMIT_ADDRESS)
        return false;
    for (i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.p[i];

        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
            return false;
    }
    *out = t;
    return true;
}

struct dsn_recipient *
dsn_rcpt_get(struct dsn_ctx *c, const char *p, size_t len)
{
    struct dsn_report *r = c->out;
    struct dsn_recipient *e;
    struct dsn_slice a;
    const char *at;
    size_t i;

    if (!addr_clean(p, len, &a))
        return NULL;
    for (i = 0; i < r->n; i++)
        if (strlen(r->v[i].address) == a.len &&
            strncasecmp(r->v[i].address, a.p, a.len) == 0)
            return &r->v[i];
    if (r->n >= PB_LIMIT_DSN_RECIPIENTS) {
        r->is_truncated = true;
        return NULL;
    }
    if ((r->n & (r->n - 1)) == 0)
        r->v = pb_xreallocarray(r->v, r->n == 0 ? 1 : r->n * 2, sizeof(*r->v));
    e = &r->v[r->n++];
    memset(e, 0, sizeof(*e));
    e->address = pb_xmemdup(a.p, a.len);
    /* the domain is case-insensitive (RFC 5321 §2.4), after the last @ */
    for (at = e->address + a.len; at > e->address && at[-1] != '@'; at--)
        ;
    if (at > e->address)
        for (char *d = e->address + (at - e->address); *d != '\0'; d++)
            *d = (char)lower((unsigned char)*d);
    return e;
}

static bool
status_is_generic(const char *s)
{
    size_t n = strlen(s);

    return n == 5 && strcmp(s + 1, ".0.0") == 0;
}

void
dsn_rcpt_diagnose(struct dsn_ctx *c, struct dsn_recipient *r, const char *p,
                  size_t len)
{
    char found[16];
    const char *d;
    size_t n;

    if (p != NULL) {
        struct dsn_slice t = dsn_trim(p, len);

        if (t.len > PB_LIMIT_DSN_DIAGNOSTIC) {
            t.len = PB_LIMIT_DSN_DIAGNOSTIC;
            c->out->is_truncated = true;
        }
        p = t.p;
        len = t.len;
        if (r->diagnostic == NULL && len > 0) {
            r->diagnostic = pb_xmemdup(p, len);
            r->diagnostic_len = len;
        }
    }
    d = p != NULL ? p : r->diagnostic != NULL ? r->diagnostic : "";
    n = p != NULL ? len : r->diagnostic_len;
    if (r->reply_code == 0)
        r->reply_code = dsn_reply_find(d, n);
    if (dsn_status_find(d, n, found) >= 0) {
        /* the remote's code says more than a reporting MTA's "5.0.0" */
        if (r->status[0] == '\0' ||
            (status_is_generic(r->status) && found[0] == r->status[0] &&
             !status_is_generic(found)))
            memcpy(r->status, found, sizeof(r->status));
    }
    if (r->stage == PB_STAGE_NONE)
        r->stage = dsn_stage_find_in(c, d, n);
    if (r->status[0] != '\0')
        r->is_permanent = r->status[0] == '5';
    else if (r->reply_code != 0)
        r->is_permanent = r->reply_code >= 500;
    else
        r->is_permanent =
            r->action == NULL || strcasecmp(r->action, "failed") == 0;
}

static void
rcpt_release(struct dsn_recipient *e)
{
    free(e->address);
    free(e->address_type);
    free(e->original_recipient);
    free(e->action);
    free(e->diagnostic);
    free(e->diagnostic_type);
    free(e->remote_mta);
    free(e->last_attempt_date);
}

void
dsn_report_release(struct dsn_report *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++)
        rcpt_release(&r->v[i]);
    free(r->v);
    free(r->mta);
    free(r->reporting_mta);
    free(r->subject);
    free(r->original_message_id);
    free(r->probe_token);
    free(r->auth_results);
    free(r->feedback_type);
    memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------ */
/* Content-Transfer-Encoding (RFC 2045 §6.7, §6.8)                     */

/* RFC 2045 §6.8: characters outside the alphabet are ignored. */
static char *
b64_decode(const char *p, size_t len, size_t *outlen)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = pb_xmalloc(len / 4 * 3 + 4);
    signed char value[256];
    unsigned long acc = 0;
    size_t i, n = 0, o = 0;

    /* -1: ignored, -2: '=', the end */
    memset(value, -1, sizeof(value));
    for (i = 0; i < 64; i++)
        value[(unsigned char)alphabet[i]] = (signed char)i;
    value['='] = -2;
    for (i = 0; i < len; i++) {
        int v = value[(unsigned char)p[i]];

        if (v < 0) {
            if (v == -2)
                break;
            continue;
        }
        acc = (acc << 6 | (unsigned long)v) & 0xffffffUL;
        if (++n % 4 == 0) {
            out[o++] = (char)(acc >> 16);
            out[o++] = (char)(acc >> 8);
            out[o++] = (char)acc;
        }
    }
    if (n % 4 == 2) {
        out[o++] = (char)(acc >> 4);
    } else if (n % 4 == 3) {
        out[o++] = (char)(acc >> 10);
        out[o++] = (char)(acc >> 2);
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* A hex digit's value (pb_is_hex() holds). */
static int
hex_value(unsigned char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* RFC 2045 §6.7; leniency: a "=" not followed by two hex digits stays. */
static char *
qp_decode(const char *p, size_t len, size_t *outlen)
{
    char *out = pb_xmalloc(len + 1);
    size_t i = 0, o = 0;

    while (i < len) {
        const char *eq = memchr(p + i, '=', len - i);
        size_t run = eq != NULL ? (size_t)(eq - (p + i)) : len - i, j;

        /* the text up to the next '=' as it is */
        memcpy(out + o, p + i, run);
        o += run;
        i += run;
        if (i >= len)
            break;
        if (i + 2 < len && pb_is_hex((unsigned char)p[i + 1]) &&
            pb_is_hex((unsigned char)p[i + 2])) {
            out[o++] = (char)(hex_value((unsigned char)p[i + 1]) << 4 |
                              hex_value((unsigned char)p[i + 2]));
            i += 3;
            continue;
        }
        /* a soft line break: "=", maybe WSP, then the line end */
        j = i + 1;
        while (j < len && pb_is_wsp((unsigned char)p[j]))
            j++;
        if (j >= len || p[j] == '\n') {
            i = j + 1;
            continue;
        }
        out[o++] = '=';
        i++;
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* The body decoded per the entity's Content-Transfer-Encoding (cte, the
   field's value, or NULL). */
static struct dsn_slice
decode_body(struct dsn_ctx *c, const char *cte, const struct dsn_slice *b)
{
    struct dsn_slice s = *b;
    char *d = NULL;
    size_t n = 0;

    if (cte != NULL) {
        struct dsn_slice t = dsn_trim(cte, strlen(cte));

        if (t.len == 6 && strncasecmp(t.p, "base64", 6) == 0)
            d = b64_decode(b->p, b->len, &n);
        else if (t.len == 16 && strncasecmp(t.p, "quoted-printable", 16) == 0)
            d = qp_decode(b->p, b->len, &n);
    }
    if (d != NULL) {
        c->owned = pb_xreallocarray(c->owned, c->nowned + 1, sizeof(*c->owned));
        c->owned[c->nowned++] = d;
        s.p = d;
        s.len = n;
    }
    return s;
}

/* ------------------------------------------------------------------ */
/* Content-Type (RFC 2045 §5.1)                                        */

struct ctype {
    char type[32];    /* lower case; "text" by default */
    char subtype[64]; /* lower case; "plain" by default */
    char boundary[80];
    char report_type[32];
    bool has_boundary;
};

/* Copy (p, n) into dst of size, lower-cased; false when it does not fit. */
static bool
copy_lower(char *dst, size_t size, const char *p, size_t n, bool fold)
{
    size_t i;

    if (n >= size)
        return false;
    for (i = 0; i < n; i++)
        dst[i] = fold ? (char)lower((unsigned char)p[i]) : p[i];
    dst[n] = '\0';
    return true;
}

static bool
is_token_byte(unsigned char c)
{
    if (c <= 32 || c >= 127)
        return false;
    switch (c) {
    case '(':
    case ')':
    case '<':
    case '>':
    case '@':
    case ',':
    case ';':
    case ':':
    case '\\':
    case '"':
    case '/':
    case '[':
    case ']':
    case '?':
    case '=':
        return false;
    default:
        return true;
    }
}

/* Skip WSP and RFC 5322 comments (nested, bounded by the input). */
static size_t
skip_cfws(const char *p, size_t len, size_t i)
{
    while (i < len) {
        if (pb_is_wsp((unsigned char)p[i]) || p[i] == '\n') {
            i++;
        } else if (p[i] == '(') {
            size_t depth = 0;

            for (; i < len; i++) {
                if (p[i] == '\\' && i + 1 < len)
                    i++;
                else if (p[i] == '(')
                    depth++;
                else if (p[i] == ')' && --depth == 0) {
                    i++;
                    break;
                }
            }
        } else {
            break;
        }
    }
    return i;
}

static void
ctype_parse(const char *v, size_t len, struct ctype *ct)
{
    size_t i = 0, s;

    memset(ct, 0, sizeof(*ct));
    strcpy(ct->type, "text");
    strcpy(ct->subtype, "plain");
    if (v == NULL)
        return;
    i = skip_cfws(v, len, 0);
    s = i;
    while (i < len && is_token_byte((unsigned char)v[i]))
        i++;
    if (i == s || i >= len || v[i] != '/')
        return; /* RFC 2045 §5.2: a bad type is text/plain */
    if (!copy_lower(ct->type, sizeof(ct->type), v + s, i - s, true))
        return;
    s = ++i;
    while (i < len && is_token_byte((unsigned char)v[i]))
        i++;
    if (!copy_lower(ct->subtype, sizeof(ct->subtype), v + s, i - s, true) ||
        i == s) {
        strcpy(ct->type, "text");
        strcpy(ct->subtype, "plain");
        return;
    }
    /* parameters; leniency: a missing ";" between them is accepted */
    while (i < len) {
        char val[128];
        size_t ns, ne, vn = 0;
        bool ok = true;

        i = skip_cfws(v, len, i);
        if (i < len && v[i] == ';')
            i = skip_cfws(v, len, i + 1);
        ns = i;
        while (i < len && is_token_byte((unsigned char)v[i]))
            i++;
        ne = i;
        i = skip_cfws(v, len, i);
        if (ne == ns || i >= len || v[i] != '=') {
            if (i < len && ne == ns)
                i++; /* a stray byte */
            continue;
        }
        i = skip_cfws(v, len, i + 1);
        if (i < len && v[i] == '"') {
            for (i++; i < len && v[i] != '"'; i++) {
                if (v[i] == '\\' && i + 1 < len)
                    i++;
                if (v[i] == '\n')
                    continue;
                if (vn + 1 < sizeof(val))
                    val[vn++] = v[i];
                else
                    ok = false;
            }
            i++;
        } else {
            while (i < len && v[i] != ';' && !pb_is_wsp((unsigned char)v[i]) &&
                   v[i] != '\n') {
                if (vn + 1 < sizeof(val))
                    val[vn++] = v[i];
                else
                    ok = false;
                i++;
            }
        }
        val[vn] = '\0';
        if (!ok)
            continue;
        if (ne - ns == 8 && strncasecmp(v + ns, "boundary", 8) == 0 &&
            !ct->has_boundary && vn > 0) {
            /* RFC 2046 §5.1.1: 1 to 70 characters; leniency to 79 */
            ct->has_boundary =
                copy_lower(ct->boundary, sizeof(ct->boundary), val, vn, false);
        } else if (ne - ns == 11 && strncasecmp(v + ns, "report-type", 11) == 0)
            copy_lower(ct->report_type, sizeof(ct->report_type), val, vn, true);
    }
}

/* ------------------------------------------------------------------ */
/* The MIME walk                                                       */

static void
text_add(struct dsn_ctx *c, struct pb_buf *b, const char *p, size_t len)
{
    if (b->len > 0 && pb_buf_addc(b, '\n') == -1)
        c->out->is_truncated = true;
    if (pb_buf_add(b, p, len) == -1) {
        /* keep what fits: the start holds the recipients */
        c->out->is_truncated = true;
        if (pb_buf_add(b, p, b->limit - b->len) == -1)
            return;
    }
}

/*
 * Whether the tag (p, n) ends a block: it starts with "<br", "<p", "</p",
 * "<div", "</div", "<tr", "</tr" or "<li" (ASCII case-insensitive).
 */
static bool
html_breaks(const char *p, size_t n)
{
    size_t slash = n > 1 && p[1] == '/';
    const char *name = p + 1 + slash;
    size_t left = n - 1 - slash;

    if (n < 2)
        return false;
    switch (left > 0 ? lower((unsigned char)name[0]) : 0) {
    case 'p':
        return true;
    case 'd':
        return dsn_starts(name, left, "div");
    case 't':
        return dsn_starts(name, left, "tr");
    case 'b':
        return !slash && dsn_starts(name, left, "br");
    case 'l':
        return !slash && dsn_starts(name, left, "li");
    default:
        return false;
    }
}

/* HTML as text: tags dropped, block ends as line ends, a few entities. */
static void
html_add(struct dsn_ctx *c, const char *p, size_t len)
{
    static const struct {
        const char *ent, *text;
    } ents[] = {{"&lt;", "<"},    {"&gt;", ">"},  {"&amp;", "&"},
                {"&quot;", "\""}, {"&#39;", "'"}, {"&nbsp;", " "}};
    struct pb_buf t;
    size_t i, k;
    bool full = false;

    pb_buf_init(&t, PB_LIMIT_DSN_TEXT);
    for (i = 0; i < len && !full; i++) {
        if (p[i] == '<') {
            const char *gt = memchr(p + i, '>', len - i);
            size_t n = gt == NULL ? len - i : (size_t)(gt - (p + i)) + 1;

            if (html_breaks(p + i, n))
                full = pb_buf_addc(&t, '\n') == -1;
            i += n - 1;
            continue;
        }
        if (p[i] == '&') {
            for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
                if (dsn_starts(p + i, len - i, ents[k].ent)) {
                    full = pb_buf_adds(&t, ents[k].text) == -1;
                    i += strlen(ents[k].ent) - 1;
                    break;
                }
            }
            if (k < sizeof(ents) / sizeof(ents[0]))
                continue;
        }
        if (p[i] == '\n' || p[i] == '\r') {
            full = pb_buf_addc(&t, ' ') == -1;
            continue;
        }
        /* a run of text: as much of it as fits */
        for (k = i + 1; k < len && p[k] != '<' && p[k] != '&' && p[k] != '\n' &&
                        p[k] != '\r';
             k++)
            ;
        if (pb_buf_add(&t, p + i, k - i) == -1) {
            full = true;
            if (pb_buf_add(&t, p + i, t.limit - t.len) == -1)
                break;
        }
        i = k - 1;
    }
    if (full)
        c->out->is_truncated = true;
    text_add(c, &c->html, pb_buf_ptr(&t), t.len);
    pb_buf_release(&t);
}

/*
 * Leniency: a bounce whose header lost its Content-Type (Sendmail behind
 * some gateways) but whose body is plainly multipart: a "--X" line among
 * the first lines, and "--X" or "--X--" again further on.
 */
static void
sniff_boundary(const struct dsn_slice *b, struct ctype *ct)
{
    size_t pos = 0, k, n;
    const char *line;

    for (k = 0; k < 20 && dsn_line_next(b->p, b->len, &pos, &line, &n); k++) {
        struct dsn_slice t = dsn_trim(line, n), again;
        size_t i, bl = t.len - 2, rest;
        const char *at;

        if (t.p != line || t.len < 3 || t.len - 2 >= sizeof(ct->boundary) ||
            line[0] != '-' || line[1] != '-')
            continue;
        for (i = 2; i < t.len; i++)
            if ((unsigned char)t.p[i] <= ' ' || (unsigned char)t.p[i] >= 127)
                break;
        if (i < t.len)
            continue;
        rest = b->len - pos;
        again.p = b->p + pos;
        again.len = rest;
        at = NULL;
        while (again.len > 0 &&
               (at = memchr(again.p, '\n', again.len)) != NULL) {
            size_t off = (size_t)(at + 1 - again.p);

            again.p += off;
            again.len -= off;
            if (again.len >= t.len && memcmp(again.p, t.p, t.len) == 0)
                break;
            at = NULL;
        }
        if (at == NULL)
            continue;
        strcpy(ct->type, "multipart");
        strcpy(ct->subtype, "mixed");
        memcpy(ct->boundary, t.p + 2, bl);
        ct->boundary[bl] = '\0';
        ct->has_boundary = true;
        return;
    }
}

static void walk(struct dsn_ctx *c, const struct dsn_slice *h,
                 const struct dsn_slice *b, size_t depth, bool returned);

/* A line "--boundary" or "--boundary--" (RFC 2046 §5.1.1). */
static int
boundary_line(const char *line, size_t n, const char *bd, size_t bl)
{
    size_t i;

    if (n < bl + 2 || line[0] != '-' || line[1] != '-' ||
        memcmp(line + 2, bd, bl) != 0)
        return 0;
    i = bl + 2;
    if (i + 1 < n + 0 && line[i] == '-' && line[i + 1] == '-') {
        return 2;
    }
    /* leniency: the transport padding may hold any WSP */
    for (; i < n; i++)
        if (!pb_is_wsp((unsigned char)line[i]))
            return 0;
    return 1;
}

/*
 * The first line of (p, len) at or after the line start pos that starts
 * with the delimiter (d, dl): its offset, or len.  Horspool's search on
 * pairs of bytes, skip[] its shift table (delim_skip()): bodies are base64
 * and boundaries hex digits, so single bytes would shift little.
 */
static inline unsigned
delim_pair(unsigned char a, unsigned char b)
{
    return ((unsigned)a * 31u + b) & 1023u;
}

static void
delim_skip(const char *d, size_t dl, uint8_t skip[1024])
{
    memset(skip, (int)(dl - 1), 1024);
    for (size_t k = 1; k + 1 < dl; k++)
        skip[delim_pair((unsigned char)d[k - 1], (unsigned char)d[k])] =
            (uint8_t)(dl - 1 - k);
}

static size_t
delim_next(const char *p, size_t len, size_t pos, const char *d, size_t dl,
           const uint8_t skip[1024])
{
    const unsigned char *u = (const unsigned char *)p;
    unsigned char last = (unsigned char)d[dl - 1];
    size_t i = pos;

    while (i <= len && len - i >= dl) {
        unsigned char c = u[i + dl - 1];

        if (c == last && memcmp(p + i, d, dl - 1) == 0) {
            if (i == 0 || p[i - 1] == '\n')
                return i;
            i++;
            continue;
        }
        i += skip[delim_pair(u[i + dl - 2], c)]; /* never 0 */
    }
    return len;
}

/* Walk the parts; false when the body has no boundary line at all. */
static bool
walk_multipart(struct dsn_ctx *c, const struct ctype *ct,
               const struct dsn_slice *b, size_t depth, bool returned)
{
    size_t bl = strlen(ct->boundary), pos = 0, start = 0, dl = bl + 2;
    char delim[sizeof(ct->boundary) + 2];
    uint8_t skip[1024];
    bool in_part = false;
    const char *line;
    size_t n;

    /* the lines that can be delimiters start with "--" and the boundary */
    delim[0] = delim[1] = '-';
    memcpy(delim + 2, ct->boundary, bl);
    delim_skip(delim, dl, skip);
    while (pos < b->len) {
        size_t at = delim_next(b->p, b->len, pos, delim, dl, skip);
        int kind;

        if (at >= b->len)
            break;
        pos = at;
        if (!dsn_line_next(b->p, b->len, &pos, &line, &n))
            break;
        kind = boundary_line(line, n, ct->boundary, bl);
        if (kind == 0)
            continue;
        if (in_part) {
            struct dsn_slice part = {b->p + start, at - start}, ph, pb;

            /* the line end before the boundary belongs to it */
            if (part.len > 0 && part.p[part.len - 1] == '\n')
                part.len--;
            entity_split(part.p, part.len, &ph, &pb);
            walk(c, &ph, &pb, depth + 1, returned);
            if (c->nparts > PB_LIMIT_DSN_PARTS)
                return true;
        }
        if (kind == 2)
            return true;
        in_part = true;
        start = pos;
    }
    if (in_part && start < b->len) {
        /* leniency: a truncated message without its close delimiter */
        struct dsn_slice part = {b->p + start, b->len - start}, ph, pb;

        entity_split(part.p, part.len, &ph, &pb);
        walk(c, &ph, &pb, depth + 1, returned);
    }
    return in_part;
}

/* The body of a returned message: its first text, for the token. */
static void
returned_text(struct dsn_ctx *c, const struct dsn_slice *s)
{
    if (c->ret_body.p == NULL && s->len > 0)
        c->ret_body = *s;
}

/*
 * The Content-Type and Content-Transfer-Encoding of header h, unfolded
 * (NULL when absent): one pass over it, or the index of the bounce's own.
 */
static void
part_fields(const struct dsn_ctx *c, const struct dsn_slice *h, char **ct,
            size_t *ctn, char **cte)
{
    struct dsn_field f;
    size_t pos = 0;

    if (h == &c->hdr) {
        *ct = dsn_hindex_get(&c->hdr_fields, "Content-Type", ctn);
        *cte =
            dsn_hindex_get(&c->hdr_fields, "Content-Transfer-Encoding", NULL);
        return;
    }
    *ct = *cte = NULL;
    while ((*ct == NULL || *cte == NULL) &&
           dsn_field_next(h->p, h->len, &pos, &f)) {
        if (*ct == NULL && dsn_field_is(&f, "Content-Type"))
            *ct = dsn_unfold(f.value, f.value_len, ctn);
        else if (*cte == NULL && dsn_field_is(&f, "Content-Transfer-Encoding"))
            *cte = dsn_unfold(f.value, f.value_len, NULL);
    }
}

static void walk_entity(struct dsn_ctx *c, const struct dsn_slice *b,
                        size_t depth, bool returned, const char *cte,
                        const struct ctype *ct);

static void
walk(struct dsn_ctx *c, const struct dsn_slice *h, const struct dsn_slice *b,
     size_t depth, bool returned)
{
    char *ctv, *cte;
    size_t ctn = 0;
    struct ctype ct;

    if (++c->nparts > PB_LIMIT_DSN_PARTS) {
        c->out->is_truncated = true;
        return;
    }
    part_fields(c, h, &ctv, &ctn, &cte);
    ctype_parse(ctv, ctn, &ct);
    if (ctv == NULL && depth == 0)
        sniff_boundary(b, &ct);
    free(ctv);
    walk_entity(c, b, depth, returned, cte, &ct);
    free(cte);
}

/* An entity of type ct (its body b) read: walk()'s work. */
static void
walk_entity(struct dsn_ctx *c, const struct dsn_slice *b, size_t depth,
            bool returned, const char *cte, const struct ctype *ctp)
{
    struct ctype ct = *ctp;
    struct dsn_slice d;
    bool is_dsn;

    if (strcmp(ct.type, "multipart") == 0) {
        if (depth + 1 >= PB_LIMIT_DSN_MIME_DEPTH) {
            c->out->is_truncated = true;
            return;
        }
        if (depth == 0)
            memcpy(c->report_type, ct.report_type, sizeof(c->report_type));
        if (ct.has_boundary && walk_multipart(c, &ct, b, depth, returned))
            return;
        /* leniency: the body uses another boundary than declared */
        ct.has_boundary = false;
        sniff_boundary(b, &ct);
        if (ct.has_boundary && walk_multipart(c, &ct, b, depth, returned))
            return;
        if (!returned)
            text_add(c, &c->text, b->p, b->len);
        return;
    }
    if (strcmp(ct.type, "message") == 0 &&
        (strcmp(ct.subtype, "rfc822") == 0 ||
         strcmp(ct.subtype, "global") == 0)) {
        struct dsn_slice ih, ib;

        if (depth + 1 >= PB_LIMIT_DSN_MIME_DEPTH) {
            c->out->is_truncated = true;
            return;
        }
        d = decode_body(c, cte, b);
        entity_split(d.p, d.len, &ih, &ib);
        if (!returned && c->ret_hdr.p == NULL)
            c->ret_hdr = ih;
        walk(c, &ih, &ib, depth + 1, true);
        return;
    }
    if (strcmp(ct.type, "message") != 0 && strcmp(ct.type, "text") != 0)
        return; /* attachments: not decoded */
    is_dsn = strcmp(ct.subtype, "delivery-status") == 0 ||
             strcmp(ct.subtype, "global-delivery-status") == 0;
    /* a part of the returned message nothing below reads: not decoded */
    if (returned && !is_dsn &&
        (strcmp(ct.type, "text") != 0 || c->ret_body.p != NULL))
        return;
    d = decode_body(c, cte, b);
    {
        const char *st = ct.subtype;

        if (is_dsn) {
            if (!returned && c->ndsn < sizeof(c->dsn) / sizeof(c->dsn[0]))
                c->dsn[c->ndsn++] = d;
            else if (returned &&
                     c->ninner < sizeof(c->inner) / sizeof(c->inner[0]))
                c->inner[c->ninner++] = d;
            return;
        }
        if (strcmp(st, "feedback-report") == 0) {
            if (!returned && c->feedback.p == NULL)
                c->feedback = d;
            return;
        }
        if (strcmp(st, "rfc822-headers") == 0 ||
            strcmp(st, "global-headers") == 0) {
            if (!returned && c->ret_hdr.p == NULL) {
                struct dsn_slice ih, ib;

                entity_split(d.p, d.len, &ih, &ib);
                c->ret_hdr = ih;
            }
            return;
        }
    }
    if (strcmp(ct.type, "text") != 0)
        return;
    if (returned) {
        returned_text(c, &d);
        return;
    }
    if (strcmp(ct.subtype, "html") == 0)
        html_add(c, d.p, d.len);
    else
        text_add(c, &c->text, d.p, d.len);
}

/* ------------------------------------------------------------------ */
/* RFC 3464 §2.2, §2.3: the message/delivery-status fields             */

/* One group of fields, as far as we read them. */
struct dsn_group {
    struct dsn_slice final_rcpt, orig_rcpt, actual_rcpt, action, status,
        remote_mta, diagnostic, last_attempt, reporting_mta;
    bool has_rcpt_field;
};

/* "type; value": the value, and the type into *type when asked. */
static struct dsn_slice
typed_value(const struct dsn_slice *v, struct dsn_slice *type)
{
    const char *semi = memchr(v->p, ';', v->len);
    struct dsn_slice t;

    if (semi == NULL) {
        if (type != NULL)
            type->p = NULL;
        return dsn_trim(v->p, v->len);
    }
    if (type != NULL)
        *type = dsn_trim(v->p, (size_t)(semi - v->p));
    t = dsn_trim(semi + 1, v->len - (size_t)(semi + 1 - v->p));
    return t;
}

static char *
unfold_slice(const struct dsn_slice *s)
{
    return s->p == NULL ? NULL : dsn_unfold(s->p, s->len, NULL);
}

/* A group's recipient into the report. */
static void
group_commit(struct dsn_ctx *c, const struct dsn_group *g)
{
    struct dsn_slice type = {NULL, 0}, addr = {NULL, 0}, otype, oaddr;
    struct dsn_recipient *r;
    char *v;
    size_t vn;
    bool cut;

    if (g->final_rcpt.p != NULL)
        addr = typed_value(&g->final_rcpt, &type);
    if (g->orig_rcpt.p != NULL) {
        oaddr = typed_value(&g->orig_rcpt, &otype);
        /* the original when the final one is no mailbox, or routed
         * ("@relay:user@host", RFC 5321 §4.1.2) */
        if (addr.p == NULL || addr.len == 0 || addr.p[0] == '@' ||
            (memchr(addr.p, '@', addr.len) == NULL &&
             memchr(oaddr.p, '@', oaddr.len) != NULL)) {
            addr = oaddr;
            type = otype;
        }
    }
    if (addr.p == NULL && g->actual_rcpt.p != NULL)
        addr = typed_value(&g->actual_rcpt, &type);
    if (addr.p == NULL)
        return;
    v = dsn_unfold(addr.p, addr.len, &vn);
    r = dsn_rcpt_get(c, v, vn);
    if (r == NULL && c->out->n < PB_LIMIT_DSN_RECIPIENTS) {
        /* "|/usr/bin/program user@example.com": the address in it */
        struct dsn_slice a;
        size_t ap = 0;

        if (dsn_addr_next(v, vn, &ap, &a))
            r = dsn_rcpt_get(c, a.p, a.len);
    }
    free(v);
    if (r == NULL)
        return;
    if (r->address_type == NULL && type.p != NULL && type.len > 0)
        r->address_type = dsn_text_dup(type.p, type.len);
    if (r->address_type != NULL)
        for (char *s = r->address_type; *s != '\0'; s++)
            *s = (char)lower((unsigned char)*s);
    if (r->original_recipient == NULL && g->orig_rcpt.p != NULL) {
        struct dsn_slice a;

        oaddr = typed_value(&g->orig_rcpt, NULL);
        if (addr_clean(oaddr.p, oaddr.len, &a))
            r->original_recipient = dsn_text_dup(a.p, a.len);
    }
    if (r->action == NULL && g->action.p != NULL) {
        struct dsn_slice a = dsn_trim(g->action.p, g->action.len);
        size_t k = 0;

        while (k < a.len && pb_is_alpha((unsigned char)a.p[k]))
            k++;
        if (k > 0) {
            r->action = dsn_text_dup(a.p, k);
            for (char *s = r->action; *s != '\0'; s++)
                *s = (char)lower((unsigned char)*s);
        }
    }
    if (r->remote_mta == NULL && g->remote_mta.p != NULL) {
        struct dsn_slice m = typed_value(&g->remote_mta, NULL);

        if (m.len > 0 && m.len <= PB_LIMIT_DSN_DIAGNOSTIC)
            r->remote_mta = dsn_text_dup(m.p, m.len);
    }
    if (r->last_attempt_date == NULL && g->last_attempt.p != NULL) {
        v = unfold_slice(&g->last_attempt);
        r->last_attempt_date = dsn_text_dup(v, strlen(v));
        free(v);
    }
    if (r->diagnostic == NULL && g->diagnostic.p != NULL) {
        struct dsn_slice dtype, dtext = typed_value(&g->diagnostic, &dtype);

        if (dtype.p != NULL && dtype.len > 0 && dtype.len < 64 &&
            r->diagnostic_type == NULL) {
            r->diagnostic_type = dsn_text_dup(dtype.p, dtype.len);
        }
        v = dsn_unfold_max(dtext.p, dtext.len, PB_LIMIT_DSN_DIAGNOSTIC, &vn,
                           &cut);
        if (cut)
            c->out->is_truncated = true;
        if (vn > 0) {
            r->diagnostic = v;
            r->diagnostic_len = vn;
        } else {
            free(v);
        }
    }
    if (r->dsn_status[0] == '\0' && g->status.p != NULL) {
        v = unfold_slice(&g->status);
        if (dsn_status_check(v, strlen(v), r->dsn_status)) {
            memcpy(r->status, r->dsn_status, sizeof(r->status));
        } else {
            /*
             * RFC 3464 §2.3.4 wants RFC 3463: the text is kept as evidence
             * after the diagnostic, which gives way to stay in its limit.
             */
            struct pb_buf e;
            size_t keep = strlen(v), room, dl = r->diagnostic_len;

            if (keep > 256)
                keep = 256;
            room = PB_LIMIT_DSN_DIAGNOSTIC - keep - 9;
            if (dl > room) {
                dl = room;
                c->out->is_truncated = true;
            }
            pb_buf_init(&e, PB_LIMIT_DSN_DIAGNOSTIC);
            if ((r->diagnostic != NULL &&
                 (pb_buf_add(&e, r->diagnostic, dl) == -1 ||
                  pb_buf_addc(&e, '\n') == -1)) ||
                pb_buf_adds(&e, "Status: ") == -1 ||
                pb_buf_add(&e, v, keep) == -1) {
                pb_buf_release(&e);
            } else {
                free(r->diagnostic);
                r->diagnostic = pb_buf_take(&e, &r->diagnostic_len);
            }
        }
        free(v);
    }
    if (r->diagnostic != NULL && r->diagnostic_type != NULL &&
        (strcasecmp(r->diagnostic_type, "x-unix") == 0 ||
         strcasecmp(r->diagnostic_type, "x-local") == 0)) {
        /* an exit code or a local error: no SMTP reply to look for */
        if (r->status[0] != '\0')
            r->is_permanent = r->status[0] == '5';
        return;
    }
    if (r->diagnostic != NULL && r->dsn_status[0] != '\0') {
        char found[16];

        /*
         * The remote server's own code, in the Diagnostic-Code, is finer
         * than the reporting MTA's mapping of it into Status (Sendmail
         * writes 4.4.7 for a 450 4.7.1 it retried until expiry).
         */
        if (dsn_status_find(r->diagnostic, r->diagnostic_len, found) >= 0 &&
            found[0] == r->dsn_status[0] && !status_is_generic(found))
            memcpy(r->status, found, sizeof(r->status));
    }
    dsn_rcpt_diagnose(c, r, NULL, 0);
}

/* Where field f goes in group g; NULL for a field we do not read. */
static struct dsn_slice *
group_member(struct dsn_group *g, const struct dsn_field *f)
{
    static const struct {
        const char *name;
        size_t off;
    } names[] = {
        {"Final-Recipient", offsetof(struct dsn_group, final_rcpt)},
        {"Original-Recipient", offsetof(struct dsn_group, orig_rcpt)},
        {"X-Actual-Recipient", offsetof(struct dsn_group, actual_rcpt)},
        {"Action", offsetof(struct dsn_group, action)},
        {"Status", offsetof(struct dsn_group, status)},
        {"Remote-MTA", offsetof(struct dsn_group, remote_mta)},
        {"Diagnostic-Code", offsetof(struct dsn_group, diagnostic)},
        {"Last-Attempt-Date", offsetof(struct dsn_group, last_attempt)},
        {"Reporting-MTA", offsetof(struct dsn_group, reporting_mta)},
    };
    size_t k;

    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (dsn_field_is(f, names[k].name))
            return (struct dsn_slice *)((char *)g + names[k].off);
    return NULL;
}

/*
 * RFC 3464 §2.1: the per-message group, then one group per recipient,
 * separated by empty lines.  Leniency: a group without a recipient field
 * after a recipient's group continues it (a stray empty line), and a
 * recipient field seen twice in one group starts the next recipient (a
 * missing empty line).
 */
static void
dsn_fields(struct dsn_ctx *c, const struct dsn_slice *s)
{
    struct dsn_group g;
    struct dsn_field f;
    size_t pos = 0;
    bool ended = false; /* an empty line since the group's last field */

    memset(&g, 0, sizeof(g));
    while (pos < s->len) {
        struct dsn_slice *m;
        const char *line;
        size_t n, at = pos;
        bool is_rcpt;

        if (c->out->n >= PB_LIMIT_DSN_RECIPIENTS && c->out->is_truncated)
            return; /* a recipient past the limit was refused */
        if (!dsn_line_next(s->p, s->len, &pos, &line, &n))
            break;
        if (dsn_trim(line, n).len == 0) {
            ended = true;
            continue;
        }
        if (field_name_len(line, n) == 0)
            continue; /* not a field: skipped */
        pos = at;
        if (!dsn_field_next(s->p, s->len, &pos, &f))
            break;
        if (dsn_field_is(&f, "Reporting-MTA") &&
            c->out->reporting_mta == NULL) {
            char *u = dsn_unfold(f.value, f.value_len, NULL);
            struct dsn_slice t = {u, strlen(u)};

            t = typed_value(&t, NULL);
            if (t.len > 0 && t.len < 1024)
                c->out->reporting_mta = dsn_text_dup(t.p, t.len);
            free(u);
        }
        m = group_member(&g, &f);
        if (m == NULL)
            continue;
        is_rcpt =
            m == &g.final_rcpt || m == &g.orig_rcpt || m == &g.actual_rcpt;
        if (is_rcpt && (ended || m->p != NULL)) {
            /* the next recipient's group starts */
            if (g.has_rcpt_field)
                group_commit(c, &g);
            memset(&g, 0, sizeof(g));
        }
        ended = false;
        if (is_rcpt)
            g.has_rcpt_field = true;
        if (m->p == NULL) {
            m->p = f.value;
            m->len = f.value_len;
        }
    }
    if (g.has_rcpt_field)
        group_commit(c, &g);
}

/* ------------------------------------------------------------------ */
/* RFC 5965: the feedback report                                        */

static void
feedback_fields(struct dsn_ctx *c)
{
    const struct dsn_slice *s = &c->feedback;
    struct dsn_field f;
    size_t pos = 0;
    bool any = false;

    while (dsn_field_next(s->p, s->len, &pos, &f)) {
        struct dsn_slice v = dsn_trim(f.value, f.value_len);

        if (dsn_field_is(&f, "Feedback-Type") && c->out->feedback_type == NULL)
            c->out->feedback_type = dsn_text_dup(v.p, v.len);
        if (dsn_field_is(&f, "Reporting-MTA") &&
            c->out->reporting_mta == NULL) {
            struct dsn_slice m = typed_value(&v, NULL);

            c->out->reporting_mta = dsn_text_dup(m.p, m.len);
        }
        if (dsn_field_is(&f, "Original-Rcpt-To")) {
            struct dsn_recipient *r = dsn_rcpt_get(c, v.p, v.len);

            if (r != NULL)
                any = true;
        }
    }
    if (any)
        return;
    /* RFC 5965 §3.5: the recipient is in the returned message's header */
    pos = 0;
    while (dsn_field_next(s->p, s->len, &pos, &f)) {
        struct dsn_slice v = dsn_trim(f.value, f.value_len);

        if (dsn_field_is(&f, "Removal-Recipient") &&
            dsn_rcpt_get(c, v.p, v.len) != NULL)
            any = true;
    }
    if (!any && c->ret_hdr.p != NULL) {
        size_t tn;
        char *to = dsn_hindex_get(&c->ret_fields, "To", &tn);
        struct dsn_slice a;
        size_t ap = 0;

        while (to != NULL && dsn_addr_next(to, tn, &ap, &a))
            dsn_rcpt_get(c, a.p, a.len);
        free(to);
    }
}

/*
 * Microsoft's complaint reports (JMRP, Outlook.com's feedback loop) are
 * no RFC 5965 report: the complained-of message is attached whole, and
 * X-HmXmrOriginalRecipient in its header names the complainant.
 */
static bool
is_jmrp(struct dsn_ctx *c)
{
    size_t n, pos = 0;
    char *v;
    struct dsn_slice a;

    if (c->ret_hdr.p == NULL)
        return false;
    v = dsn_hindex_get(&c->ret_fields, "X-HmXmrOriginalRecipient", &n);
    if (v == NULL)
        return false;
    if (dsn_addr_next(v, n, &pos, &a))
        dsn_rcpt_get(c, a.p, a.len);
    free(v);
    return true;
}

/* ------------------------------------------------------------------ */
/* The returned message                                                 */

/*
 * A bounce without a message/rfc822 part quotes the returned header in
 * its text: the block of header lines around the first "Message-ID:"
 * that starts a line.
 */
static void
inline_returned(struct dsn_ctx *c)
{
    const char *p = pb_buf_ptr(&c->text);
    size_t len = c->text.len, pos = 0, run = 0, at;
    const char *line;
    size_t n;
    bool found = false, in_run = false;

    for (;;) {
        at = pos;
        if (!dsn_line_next(p, len, &pos, &line, &n))
            break;
        if (n > 0 && pb_is_wsp((unsigned char)line[0]) && in_run)
            continue; /* a folded line of the run */
        if (n == 0 || field_name_len(line, n) == 0) {
            in_run = false;
            continue;
        }
        if (!in_run) {
            in_run = true;
            run = at;
        }
        /* at the start of its line: an indented summary is not it */
        if (dsn_starts(line, n, "Message-ID:") ||
            dsn_starts(line, n, "X-Probe-Id:")) {
            found = true;
            break;
        }
    }
    if (!found)
        return;
    /* the block ends at the next empty line */
    while (dsn_line_next(p, len, &pos, &line, &n))
        if (dsn_trim(line, n).len == 0)
            break;
    c->ret_hdr.p = p + run;
    c->ret_hdr.len = pos - run;
    c->is_ret_inline = true;
    if (c->ret_body.p == NULL) {
        c->ret_body.p = p + pos;
        c->ret_body.len = len - pos;
    }
}

/*
 * DSN fields in the text itself: a report whose MIME header lost its
 * boundary, or a gateway that flattened it.  From the first line that
 * starts with Final-Recipient or Original-Recipient (or the
 * Reporting-MTA before it) to the end of the text.
 */
static bool
inline_dsn(struct dsn_ctx *c, struct dsn_slice *s)
{
    const char *p = pb_buf_ptr(&c->text);
    size_t len = c->text.len, pos = 0, at, start = len;
    const char *line;
    size_t n;

    for (;;) {
        at = pos;
        if (!dsn_line_next(p, len, &pos, &line, &n))
            return false;
        if (dsn_starts(line, n, "Reporting-MTA:") && start == len)
            start = at;
        if (dsn_starts(line, n, "Final-Recipient:") ||
            dsn_starts(line, n, "Original-Recipient:")) {
            if (start == len)
                start = at;
            break;
        }
    }
    s->p = p + start;
    s->len = len - start;
    return true;
}

/* smtp/msg_build.c's token: 8 to 64 letters, digits, "-" and "_". */
static bool
token_check(const char *p, size_t len)
{
    size_t i;

    if (len < 8 || len > PB_LIMIT_PROBE_TOKEN)
        return false;
    for (i = 0; i < len; i++)
        if (!pb_is_alnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_')
            return false;
    return true;
}

/*
 * Header lines of a quoted header may be indented as a whole: a field
 * search that skips leading WSP on the line.
 */
static char *
returned_field(const struct dsn_ctx *c, const char *name, size_t *n)
{
    const struct dsn_slice *h = &c->ret_hdr;
    char *v = dsn_hindex_get(&c->ret_fields, name, n);
    const char *line;
    size_t pos = 0, ln, nl = strlen(name);

    if (v != NULL)
        return v;
    while (dsn_line_next(h->p, h->len, &pos, &line, &ln)) {
        struct dsn_slice t = dsn_trim(line, ln);

        if (t.len > nl && dsn_starts(t.p, t.len, name) && t.p[nl] == ':')
            return dsn_unfold(t.p + nl + 1, t.len - nl - 1, n);
    }
    return NULL;
}

/*
 * The bounce's header and the returned one are searched for many fields:
 * past PB_LIMIT_DSN_HEADER the rest is not read.
 */
static void
header_cap(struct dsn_ctx *c, struct dsn_slice *h)
{
    if (h->p == NULL || h->len <= PB_LIMIT_DSN_HEADER)
        return;
    h->len = PB_LIMIT_DSN_HEADER;
    c->out->is_truncated = true;
}

static void
returned_message(struct dsn_ctx *c)
{
    struct dsn_report *r = c->out;
    struct pb_buf ar;
    size_t pos, n;
    char *v;

    if (c->ret_hdr.p == NULL)
        inline_returned(c);
    if (c->ret_hdr.p == NULL)
        return;
    header_cap(c, &c->ret_hdr);
    dsn_hindex_build(&c->ret_fields, c->ret_hdr.p, c->ret_hdr.len);
    v = returned_field(c, "Message-ID", &n);
    if (v != NULL) {
        struct dsn_slice t = dsn_trim(v, n);

        if (t.len > 0 && t.len <= 998)
            r->original_message_id = dsn_text_dup(t.p, t.len);
        free(v);
    }
    v = returned_field(c, "X-Probe-Id", &n);
    if (v != NULL) {
        struct dsn_slice t = dsn_trim(v, n);

        if (token_check(t.p, t.len))
            r->probe_token = pb_xmemdup(t.p, t.len);
        free(v);
    }
    if (r->probe_token == NULL && c->ret_body.p != NULL) {
        /* the body's "Reference: TOKEN" line (smtp/msg_build.c) */
        const char *line;
        size_t ln, bp = 0;

        while (dsn_line_next(c->ret_body.p, c->ret_body.len, &bp, &line, &ln)) {
            struct dsn_slice t = dsn_trim(line, ln);

            if (dsn_starts(t.p, t.len, "Reference: ")) {
                struct dsn_slice tok = dsn_trim(t.p + 11, t.len - 11);

                if (token_check(tok.p, tok.len)) {
                    r->probe_token = pb_xmemdup(tok.p, tok.len);
                    break;
                }
            }
        }
    }
    pb_buf_init(&ar, PB_LIMIT_DSN_FIELD);
    for (pos = 0; pos < c->ret_fields.n; pos++) {
        const struct dsn_field *f = &c->ret_fields.v[pos];

        if (!dsn_field_is(f, "Authentication-Results"))
            continue;
        v = dsn_unfold(f->value, f->value_len, &n);
        if ((ar.len > 0 && pb_buf_addc(&ar, '\n') == -1) ||
            pb_buf_add(&ar, v, n) == -1)
            r->is_truncated = true;
        free(v);
    }
    if (ar.len > 0)
        r->auth_results = pb_buf_take(&ar, &n);
    pb_buf_release(&ar);
}

/* ------------------------------------------------------------------ */
/* RFC 3834 auto-replies                                                */

static bool
is_autoreply(const struct dsn_ctx *c)
{
    char *v;
    bool yes = false;

    v = dsn_hindex_get(&c->hdr_fields, "Auto-Submitted", NULL);
    if (v != NULL) {
        yes = dsn_starts(v, strlen(v), "auto-replied");
        free(v);
    }
    if (!yes) {
        static const char *const fields[] = {"X-Autoreply", "X-Autorespond",
                                             "X-Autoresponder"};

        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
            v = dsn_hindex_get(&c->hdr_fields, fields[k], NULL);
            yes |= v != NULL;
            free(v);
        }
    }
    if (!yes) {
        v = dsn_hindex_get(&c->hdr_fields, "Precedence", NULL);
        if (v != NULL) {
            yes = dsn_starts(v, strlen(v), "auto_reply");
            free(v);
        }
    }
    if (!yes) {
        size_t n;

        v = dsn_hindex_get(&c->hdr_fields, "Subject", &n);
        if (v != NULL) {
            yes = dsn_starts(v, n, "Auto:") ||
                  dsn_find(v, n, "out of office") != NULL ||
                  dsn_find(v, n, "out of the office") != NULL ||
                  dsn_find(v, n, "autoreply") != NULL ||
                  dsn_find(v, n, "auto-reply") != NULL ||
                  dsn_find(v, n, "automatic reply") != NULL ||
                  dsn_find(v, n, "auto reply") != NULL ||
                  dsn_find(v, n, "vacation") != NULL;
            free(v);
        }
    }
    return yes;
}

static void
autoreply_recipient(struct dsn_ctx *c)
{
    size_t n, pos = 0;
    char *from = dsn_hindex_get(&c->hdr_fields, "From", &n);
    struct dsn_slice a;

    /* RFC 3834 §3.1.2: the auto-reply comes from the recipient */
    if (from != NULL && dsn_addr_next(from, n, &pos, &a)) {
        struct dsn_recipient *r = dsn_rcpt_get(c, a.p, a.len);

        if (r != NULL)
            r->is_permanent = false;
    }
    free(from);
}

/* ------------------------------------------------------------------ */
/* dsn_parse()                                                          */

/* The input with every CRLF and bare CR made LF: a copy when it has a
   CR, else NULL (the input is used as it is). */
static char *
normalize(const char *p, size_t len, size_t *outlen)
{
    const char *cr = memchr(p, '\r', len), *end = p + len;
    char *s, *o;

    *outlen = len;
    if (cr == NULL)
        return NULL;
    s = pb_xmalloc(len + 1);
    o = s;
    while (cr != NULL) {
        memcpy(o, p, (size_t)(cr - p));
        o += cr - p;
        *o++ = '\n';
        p = cr + 1;
        if (p < end && *p == '\n')
            p++;
        cr = memchr(p, '\r', (size_t)(end - p));
    }
    memcpy(o, p, (size_t)(end - p));
    o += end - p;
    *o = '\0';
    *outlen = (size_t)(o - s);
    return s;
}

static void
subject_decode(struct dsn_ctx *c)
{
    size_t n, idx = 0;
    char *v = dsn_hindex_get(&c->hdr_fields, "Subject", &n);
    char *dec = NULL;

    if (v == NULL)
        return;
    if (memchr(v, '\0', n) == NULL && dsn_find(v, n, "=?") != NULL &&
        mailmime_encoded_phrase_parse("us-ascii", v, n, &idx, "utf-8", &dec) ==
            MAILIMF_NO_ERROR &&
        dec != NULL) {
        c->out->subject = dsn_text_dup(dec, strlen(dec));
        free(dec);
        free(v);
        return;
    }
    free(dec);
    c->out->subject = dsn_text_dup(v, n);
    free(v);
}

static void
ctx_release(struct dsn_ctx *c)
{
    size_t i;

    for (i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    pb_buf_release(&c->text);
    pb_buf_release(&c->html);
    free(c->msg_owned);
    free(c->hdr_fields.v);
    free(c->ret_fields.v);
    free(c->stages);
}

int
dsn_parse(const void *p, size_t len, struct dsn_report *out, struct pb_err *err)
{
    struct dsn_ctx c;
    struct dsn_slice flat;
    const char *mta;
    size_t i, start = 0;
    int ses;

    memset(out, 0, sizeof(*out));
    if (len == 0)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "the message is empty");
    if (len > PB_LIMIT_MSG_BYTES)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "the message is larger than %u octets",
                          PB_LIMIT_MSG_BYTES);
    memset(&c, 0, sizeof(c));
    c.out = out;
    pb_buf_init(&c.text, PB_LIMIT_DSN_TEXT);
    pb_buf_init(&c.html, PB_LIMIT_DSN_TEXT);
    c.msg_owned = normalize(p, len, &c.len);
    c.msg = c.msg_owned != NULL ? c.msg_owned : p;
    /* an mbox "From " line before the header */
    if (c.len > 5 && memcmp(c.msg, "From ", 5) == 0) {
        const char *nl = memchr(c.msg, '\n', c.len);

        start = nl == NULL ? c.len : (size_t)(nl - c.msg) + 1;
    }
    entity_split(c.msg + start, c.len - start, &c.hdr, &c.body);
    header_cap(&c, &c.hdr);
    dsn_hindex_build(&c.hdr_fields, c.hdr.p, c.hdr.len);
    walk(&c, &c.hdr, &c.body, 0, false);
    if (c.text.len == 0 && c.html.len > 0)
        text_add(&c, &c.text, pb_buf_ptr(&c.html), c.html.len);
    subject_decode(&c);
    returned_message(&c);
    mta = dsn_mta_detect(&c);
    if (strcmp(c.report_type, "feedback-report") == 0 || c.feedback.p != NULL) {
        out->kind = DSN_FEEDBACK;
        if (c.feedback.p != NULL)
            feedback_fields(&c);
        dsn_set_mta(&c, "arf");
    } else if (is_jmrp(&c)) {
        out->kind = DSN_FEEDBACK;
        dsn_set_mta(&c, "microsoft-jmrp");
    } else if (c.ndsn > 0 || c.ninner > 0 || inline_dsn(&c, &flat)) {
        out->kind = DSN_RFC3464;
        for (i = 0; i < c.ndsn; i++)
            dsn_fields(&c, &c.dsn[i]);
        /* no report of its own: the one it carries (a forwarded bounce) */
        for (i = 0; c.ndsn == 0 && i < c.ninner; i++)
            dsn_fields(&c, &c.inner[i]);
        if (c.ndsn == 0 && c.ninner == 0)
            dsn_fields(&c, &flat);
        dsn_set_mta(&c, mta);
        if (out->n == 0)
            dsn_mta_parse(&c, mta);
        else
            dsn_mta_complete(&c, mta);
        dsn_set_mta(&c, "rfc3464");
    } else if ((ses = dsn_mta_ses(&c)) >= 0) {
        out->kind = (enum dsn_kind)ses;
        dsn_set_mta(&c, "amazonses");
    } else if (dsn_mta_is_bounce(&c)) {
        out->kind = DSN_NONSTANDARD;
        dsn_set_mta(&c, mta);
        dsn_mta_parse(&c, mta);
    } else if (is_autoreply(&c)) {
        out->kind = DSN_AUTOREPLY;
        autoreply_recipient(&c);
    } else {
        /* no bounce, so no returned message: a quoted header is not one */
        out->kind = DSN_NOT_BOUNCE;
        free(out->original_message_id);
        free(out->probe_token);
        free(out->auth_results);
        out->original_message_id = out->probe_token = out->auth_results = NULL;
    }
    ctx_release(&c);
    return 0;
}
