/* SPDX-License-Identifier: MIT */
/*
 * SMTP reply parsing: smtp_reply.h.  Reassembles lines from any chunking,
 * validates reply lines (RFC 5321 §4.2), enforces PB_LIMIT_REPLY_* and
 * extracts the enhanced status code (RFC 2034 §4, RFC 3463 §2) with its
 * registry meaning.  Odd but harmless input (bare LF, 8-bit and control
 * bytes, malformed or mismatched enhanced codes) is kept and noted.
 */
#include "smtp_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_limits.h"
#include "pb_xalloc.h"

void
smtp_reply_parser_init(struct smtp_reply_parser *p, enum pb_stage stage)
{
    memset(p, 0, sizeof(*p));
    p->stage = stage;
    pb_buf_init(&p->line, PB_LIMIT_REPLY_LINE);
}

void
smtp_reply_release(struct smtp_reply *r)
{
    size_t i;

    for (i = 0; i < r->nlines; i++)
        free(r->lines[i]);
    free(r->lines);
    free(r->line_lens);
    memset(r, 0, sizeof(*r));
}

void
smtp_reply_parser_release(struct smtp_reply_parser *p)
{
    size_t i;

    for (i = p->qhead; i < p->qlen; i++)
        smtp_reply_release(&p->queue[i]);
    free(p->queue);
    smtp_reply_release(&p->cur);
    pb_buf_release(&p->line);
    memset(p, 0, sizeof(*p));
}

void
smtp_reply_parser_set_stage(struct smtp_reply_parser *p, enum pb_stage stage)
{
    p->stage = stage;
}

bool
smtp_reply_parser_pending(const struct smtp_reply_parser *p)
{
    return p->line.len > 0 || p->cur.nlines > 0 || p->qhead < p->qlen;
}

bool
smtp_reply_next(struct smtp_reply_parser *p, struct smtp_reply *out)
{
    memset(out, 0, sizeof(*out));
    if (p->qhead == p->qlen)
        return false;
    *out = p->queue[p->qhead++];
    if (p->qhead == p->qlen) {
        p->qhead = 0;
        p->qlen = 0;
    }
    return true;
}

/* Sticky failure: remember it, copy it out, return -1. */
static int fail(struct smtp_reply_parser *p, struct pb_err *err,
                enum pb_code code, const void *evidence, size_t evlen,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int
fail(struct smtp_reply_parser *p, struct pb_err *err, enum pb_code code,
     const void *evidence, size_t evlen, const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof(p->failure.msg)];

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pb_err_clear(&p->failure);
    (void)pb_err_set(&p->failure, p->stage, code, "%s", msg);
    pb_err_evidence(&p->failure, evidence, evlen);
    p->has_failed = true;
    if (err != NULL)
        *err = p->failure;
    return -1;
}

static void add_oddity(struct smtp_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_oddity(struct smtp_reply *r, const char *fmt, ...)
{
    char one[128];
    size_t used = strlen(r->oddity);
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(one, sizeof(one), fmt, ap);
    va_end(ap);
    if (strstr(r->oddity, one) != NULL)
        return; /* say each thing once per reply */
    r->has_oddities = true;
    (void)snprintf(r->oddity + used, sizeof(r->oddity) - used, "%s%s",
                   used ? "; " : "", one);
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* 1 to 3 digits at p[*i]; advances *i and stores the value. */
static bool
scan_num(const char *p, size_t len, size_t *i, int *val)
{
    size_t k = 0;

    *val = 0;
    while (*i < len && k < 4 && is_digit((unsigned char)p[*i])) {
        *val = *val * 10 + (p[*i] - '0');
        (*i)++;
        k++;
    }
    return k >= 1 && k <= 3;
}

/*
 * RFC 3463 §2 syntax at the start of (p, len): digit "." 1*3digit "."
 * 1*3digit, followed by the end or a space.  Returns its length or 0; the
 * class is not checked here.
 */
static size_t
scan_status(const char *p, size_t len, int *cls, int *subj, int *detail)
{
    size_t i = 0;

    if (len < 5 || !is_digit((unsigned char)p[0]) || p[1] != '.')
        return 0;
    *cls = p[0] - '0';
    i = 2;
    if (!scan_num(p, len, &i, subj) || i >= len || p[i] != '.')
        return 0;
    i++;
    if (!scan_num(p, len, &i, detail))
        return 0;
    if (i < len && p[i] != ' ')
        return 0;
    return i;
}

static bool
class_ok(int cls, int code)
{
    /* RFC 3463 §3.1: the classes are 2, 4 and 5 */
    if (cls != 2 && cls != 4 && cls != 5)
        return false;
    return code == 0 || code / 100 == cls;
}

bool
smtp_reply_status_valid(const char *s, int code)
{
    size_t len = strnlen(s, 16);
    int cls, subj, detail;

    return len > 0 && len < 16 &&
           scan_status(s, len, &cls, &subj, &detail) == len &&
           class_ok(cls, code);
}

size_t
smtp_reply_status_find(const char *text, size_t len, int code, char out[16])
{
    int cls, subj, detail;
    size_t n = scan_status(text, len, &cls, &subj, &detail);

    out[0] = '\0';
    if (n == 0 || !class_ok(cls, code))
        return 0;
    memcpy(out, text, n); /* at most 9 bytes: "5.123.123" */
    out[n] = '\0';
    return n;
}

/* Store the enhanced status of a reply's first line, or note why not. */
static void
first_line_status(struct smtp_reply *r, const char *text, size_t len)
{
    int cls, subj, detail;
    size_t n;

    if (smtp_reply_status_find(text, len, r->code, r->status) > 0)
        return;
    if (len < 2 || !is_digit((unsigned char)text[0]) || text[1] != '.')
        return; /* no status offered: fine (RFC 2034 is an extension) */
    n = scan_status(text, len, &cls, &subj, &detail);
    if (n > 0 && (cls == 2 || cls == 4 || cls == 5))
        add_oddity(r, "enhanced status %.*s does not match reply %d", (int)n,
                   text, r->code);
    else
        add_oddity(r, "malformed enhanced status");
}

static bool
is_text_byte(unsigned char c)
{
    /* RFC 5321 §4.2: textstring is HT and SP to "~" */
    return c == '\t' || (c >= 0x20 && c <= 0x7e);
}

static void
finish_reply(struct smtp_reply_parser *p)
{
    if (p->qlen == p->qcap) {
        p->qcap = p->qcap ? p->qcap * 2 : 4;
        p->queue = pb_xreallocarray(p->queue, p->qcap, sizeof(*p->queue));
    }
    p->queue[p->qlen++] = p->cur;
    memset(&p->cur, 0, sizeof(p->cur));
    p->cur_bytes = 0;
    p->cap_lines = 0;
}

/* One complete line (n bytes, terminator included) in p->line. */
static int
parse_line(struct smtp_reply_parser *p, struct pb_err *err)
{
    const char *s = p->line.p;
    size_t n = p->line.len, term, m, i;
    struct smtp_reply *r = &p->cur;
    bool is_bare_lf;
    int code;
    char sep;

    is_bare_lf = n < 2 || s[n - 2] != '\r';
    term = is_bare_lf ? 1 : 2;
    m = n - term;
    if (m < 3 || s[0] < '2' || s[0] > '5' || !is_digit((unsigned char)s[1]) ||
        !is_digit((unsigned char)s[2]) || (m > 3 && s[3] != '-' && s[3] != ' '))
        return fail(p, err, PB_E_SYNTAX, s, n,
                    "malformed reply line (want 3 digits, the first 2 to 5, "
                    "then '-', space or end of line)");
    code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (r->nlines > 0 && code != r->code)
        return fail(p, err, PB_E_SYNTAX, s, n,
                    "reply lines disagree on the code (%d, then %d)", r->code,
                    code);
    if (r->nlines + 1 > PB_LIMIT_REPLY_LINES)
        return fail(p, err, PB_E_LIMIT, s, n, "reply %d over %d lines", code,
                    PB_LIMIT_REPLY_LINES);
    if (n > PB_LIMIT_REPLY_TOTAL - p->cur_bytes)
        return fail(p, err, PB_E_LIMIT, s, n, "reply %d over %u octets", code,
                    (unsigned)PB_LIMIT_REPLY_TOTAL);
    sep = m > 3 ? s[3] : ' ';

    if (r->nlines == p->cap_lines) {
        p->cap_lines = p->cap_lines ? p->cap_lines * 2 : 4;
        r->lines = pb_xreallocarray(r->lines, p->cap_lines, sizeof(*r->lines));
        r->line_lens =
            pb_xreallocarray(r->line_lens, p->cap_lines, sizeof(*r->line_lens));
    }
    r->code = code;
    r->lines[r->nlines] = pb_xmemdup(m > 4 ? s + 4 : "", m > 4 ? m - 4 : 0);
    r->line_lens[r->nlines] = m > 4 ? m - 4 : 0;
    r->nlines++;
    p->cur_bytes += n;

    /* lenient: servers ending lines with a bare LF exist; note it */
    if (is_bare_lf)
        add_oddity(r, "bare LF line ending");
    if (s[1] > '5')
        add_oddity(r, "reply code %d outside RFC 5321 section 4.2", code);
    for (i = 4; i < m; i++)
        if (!is_text_byte((unsigned char)s[i])) {
            add_oddity(r, "non-printable bytes in %d reply", code);
            break;
        }
    if (r->nlines == 1)
        first_line_status(r, m > 4 ? s + 4 : "", m > 4 ? m - 4 : 0);
    if (sep != '-')
        finish_reply(p);
    return 0;
}

int
smtp_reply_feed(struct smtp_reply_parser *p, const void *chunk, size_t len,
                struct pb_err *err)
{
    const char *s = chunk;

    if (p->has_failed) {
        if (err != NULL)
            *err = p->failure;
        return -1;
    }
    while (len > 0) {
        const char *lf = memchr(s, '\n', len);
        size_t seg = lf != NULL ? (size_t)(lf - s) + 1 : len;
        /* RFC 5321 §4.5.3.1.5: 512 octets with the terminator, so an
         * unfinished line may hold at most 511 */
        size_t most =
            lf != NULL ? PB_LIMIT_REPLY_LINE : PB_LIMIT_REPLY_LINE - 1;

        if (seg > most - p->line.len) {
            size_t show = p->line.len ? p->line.len : seg;

            return fail(p, err, PB_E_LIMIT, p->line.len ? p->line.p : s, show,
                        "reply line over %d octets", PB_LIMIT_REPLY_LINE);
        }
        if (pb_buf_add(&p->line, s, seg) == -1)
            pb_panic("smtp_reply: line buffer refused checked bytes");
        s += seg;
        len -= seg;
        if (lf != NULL) {
            if (parse_line(p, err) == -1)
                return -1;
            pb_buf_reset(&p->line);
        }
    }
    return 0;
}

/*
 * IANA "SMTP Enhanced Status Codes" registry, Enumerated Status Codes
 * (RFC 3463, RFC 3886, RFC 4468, RFC 4865, RFC 4954, RFC 5248, RFC 6531,
 * RFC 6710, RFC 7293, RFC 7372, RFC 7505, RFC 8098, RFC 8617, RFC 8689).
 */
struct status_name {
    unsigned char subject, detail;
    const char *text;
};

static const struct status_name status_names[] = {
    {0, 0, "other undefined status"},
    {1, 0, "other address status"},
    {1, 1, "bad destination mailbox address"},
    {1, 2, "bad destination system address"},
    {1, 3, "bad destination mailbox address syntax"},
    {1, 4, "destination mailbox address ambiguous"},
    {1, 5, "destination address valid"},
    {1, 6, "destination mailbox has moved, no forwarding address"},
    {1, 7, "bad sender's mailbox address syntax"},
    {1, 8, "bad sender's system address"},
    {1, 9, "message relayed to non-compliant mailer"},
    {1, 10, "recipient address has null MX"},
    {2, 0, "other or undefined mailbox status"},
    {2, 1, "mailbox disabled, not accepting messages"},
    {2, 2, "mailbox full"},
    {2, 3, "message length exceeds administrative limit"},
    {2, 4, "mailing list expansion problem"},
    {3, 0, "other or undefined mail system status"},
    {3, 1, "mail system full"},
    {3, 2, "system not accepting network messages"},
    {3, 3, "system not capable of selected features"},
    {3, 4, "message too big for system"},
    {3, 5, "system incorrectly configured"},
    {3, 6, "requested priority was changed"},
    {4, 0, "other or undefined network or routing status"},
    {4, 1, "no answer from host"},
    {4, 2, "bad connection"},
    {4, 3, "directory server failure"},
    {4, 4, "unable to route"},
    {4, 5, "mail system congestion"},
    {4, 6, "routing loop detected"},
    {4, 7, "delivery time expired"},
    {5, 0, "other or undefined protocol status"},
    {5, 1, "invalid command"},
    {5, 2, "syntax error"},
    {5, 3, "too many recipients"},
    {5, 4, "invalid command arguments"},
    {5, 5, "wrong protocol version"},
    {5, 6, "authentication exchange line is too long"},
    {6, 0, "other or undefined media error"},
    {6, 1, "media not supported"},
    {6, 2, "conversion required and prohibited"},
    {6, 3, "conversion required but not supported"},
    {6, 4, "conversion with loss performed"},
    {6, 5, "conversion failed"},
    {6, 6, "message content not available"},
    {6, 7, "non-ASCII addresses not permitted for that sender/recipient"},
    {6, 8,
     "UTF-8 string reply is required, but not permitted by the SMTP "
     "client"},
    {6, 9,
     "UTF-8 header message cannot be transferred to one or more "
     "recipients, so the message must be rejected"},
    {6, 10,
     "UTF-8 string reply is required, but not permitted by the SMTP "
     "client (deprecated duplicate of X.6.8)"},
    {7, 0, "other or undefined security status"},
    {7, 1, "delivery not authorized, message refused"},
    {7, 2, "mailing list expansion prohibited"},
    {7, 3, "security conversion required but not possible"},
    {7, 4, "security features not supported"},
    {7, 5, "cryptographic failure"},
    {7, 6, "cryptographic algorithm not supported"},
    {7, 7, "message integrity failure"},
    {7, 8, "authentication credentials invalid"},
    {7, 9, "authentication mechanism is too weak"},
    {7, 10, "encryption needed"},
    {7, 11, "encryption required for requested authentication mechanism"},
    {7, 12, "a password transition is needed"},
    {7, 13, "user account disabled"},
    {7, 14, "trust relationship required"},
    {7, 15, "priority level is too low"},
    {7, 16, "message is too big for the specified priority"},
    {7, 17, "mailbox owner has changed"},
    {7, 18, "domain owner has changed"},
    {7, 19, "RRVS test cannot be completed"},
    {7, 20, "no passing DKIM signature found"},
    {7, 21, "no acceptable DKIM signature found"},
    {7, 22, "no valid author-matched DKIM signature found"},
    {7, 23, "SPF validation failed"},
    {7, 24, "SPF validation error"},
    {7, 25, "reverse DNS validation failed"},
    {7, 26, "multiple authentication checks failed"},
    {7, 27, "sender address has null MX"},
    {7, 28, "mail flood detected"},
    {7, 29, "ARC validation failure"},
    {7, 30, "REQUIRETLS support required"},
};

const char *
smtp_status_meaning(const char *s)
{
    static const char *const classes[] = {
        [2] = "success",
        [4] = "persistent transient failure",
        [5] = "permanent failure",
    };
    size_t len, i;
    int cls, subj, detail;
    const char *subject_text = NULL;

    len = strnlen(s, 16);
    if (len == 0 || len >= 16 ||
        scan_status(s, len, &cls, &subj, &detail) != len || !class_ok(cls, 0))
        return NULL;
    for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
        if (status_names[i].subject != subj)
            continue;
        if (status_names[i].detail == detail)
            return status_names[i].text;
        if (status_names[i].detail == 0)
            subject_text = status_names[i].text;
    }
    /* RFC 3463 §3: X.Y.0 is the "other or undefined" of each subject */
    return subject_text != NULL ? subject_text : classes[cls];
}
