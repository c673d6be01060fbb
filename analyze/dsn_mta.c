/* SPDX-License-Identifier: MIT */
/*
 * Non-standard bounces: which MTA or provider wrote a bounce (from its
 * From, Subject, X-Mailer and body wording), and the failed recipients,
 * replies and status codes read from its human-readable text.  One
 * generic reader (an address on its own line or in a "<addr>:" / "RCPT
 * TO:<addr>" position starts a recipient's paragraph, the reply found in
 * that paragraph is its diagnostic) with the wordings of the MTAs it
 * knows.  Keyed on what the message says, never on where it came from.
 */
#include "dsn_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "pb_ctype.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/* ------------------------------------------------------------------ */
/* Which MTA                                                           */

struct mta_cue {
    const char *name;
    const char *field; /* header field to look in, or NULL for the text */
    const char *text;  /* what it holds (ASCII case-insensitive) */
};

/* First match wins: the more specific wordings come first. */
static const struct mta_cue cues[] = {
    {"amazonses", "X-SES-Outgoing", ""},
    {"amazonses", "From", "@amazonses.com"},
    {"amazonworkmail", "X-Mailer", "Amazon WorkMail"},
    {"sendgrid", "From", "@sendgrid.net"},
    {"googlegroups", "From", "@googlegroups.com"},
    {"gmail", "From", "@googlemail.com"},
    {"gmail", "X-Failed-Recipients", "@gmail.com"},
    {"yahoo", "From", "@yahoo"},
    {"aol", "From", "@aol.com"},
    {"office365", "X-MS-Exchange-Message-Is-Ndr", ""},
    {"outlook", "From", "@outlook.com"},
    {"outlook", "From", "@hotmail.com"},
    {"exchange", "X-MS-Embedded-Report", ""},
    {"exchange", "X-MimeOLE", "Exchange"},
    {"exchange", "X-Mailer", "Exchange"},
    {"mailru", "From", "@corp.mail.ru"},
    {"mailru", "From", "@mail.ru"},
    {"yandex", "From", "@yandex"},
    {"gmx", "From", "@gmx."},
    {"zoho", "From", "@zoho"},
    {"verizon", "From", "@verizon"},
    {"qmail", NULL, "This is the qmail-send program"},
    {"postfix", NULL, "This is the mail system at host"},
    {"postfix", NULL, "This is the Postfix program"},
    {"postfix", "X-Postfix-Queue-ID", ""},
    {"exim", NULL,
     "This message was created automatically by mail delivery "
     "software"},
    {"exim", "X-Failed-Recipients", ""},
    {"opensmtpd", NULL, "This is the MAILER-DAEMON, please DO NOT REPLY"},
    {"sendmail", NULL, "----- Transcript of session follows -----"},
    {"sendmail", NULL, "The original message was received at"},
    {"exchange", NULL, "Delivery has failed to these recipients"},
    {"exchange", NULL,
     "Your message did not reach some or all of the "
     "intended recipients"},
    {"courier", NULL, "Courier mail server"},
    {"domino", NULL, "Lotus Domino"},
    {"notes", NULL, "Lotus Notes"},
};

/* The fields the cues name, each unfolded and lower-cased once. */
struct cue_fields {
    struct {
        const char *name;
        char *v; /* NULL: absent */
        size_t n;
    } f[16];
    size_t n;
};

static int
lower_byte(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Whether the lower-case (v, n) holds text, ASCII case-insensitive: the
   same as dsn_find(). */
static bool
holds_lower(const char *v, size_t n, const char *text)
{
    size_t tn = strlen(text), i;
    const char *at = v, *end = v + n;
    char first;

    if (tn == 0)
        return true;
    first = (char)lower_byte((unsigned char)text[0]);
    while (tn <= (size_t)(end - at) &&
           (at = memchr(at, first, (size_t)(end - at) - tn + 1)) != NULL) {
        for (i = 1; i < tn; i++)
            if (at[i] != (char)lower_byte((unsigned char)text[i]))
                break;
        if (i == tn)
            return true;
        at++;
    }
    return false;
}

static bool
cue_matches(const struct dsn_ctx *c, const struct mta_cue *q,
            struct cue_fields *cf)
{
    size_t k;

    if (q->field == NULL)
        return dsn_find(pb_buf_ptr(&c->text), c->text.len, q->text) != NULL;
    for (k = 0; k < cf->n; k++)
        if (strcmp(cf->f[k].name, q->field) == 0)
            break;
    if (k == cf->n) {
        if (cf->n == sizeof(cf->f) / sizeof(cf->f[0]))
            pb_panic("dsn_mta_detect: more than %zu fields", cf->n);
        cf->f[k].name = q->field;
        cf->f[k].v = dsn_hindex_get(&c->hdr_fields, q->field, &cf->f[k].n);
        for (size_t i = 0; cf->f[k].v != NULL && i < cf->f[k].n; i++)
            cf->f[k].v[i] = (char)lower_byte((unsigned char)cf->f[k].v[i]);
        cf->n++;
    }
    return cf->f[k].v != NULL && holds_lower(cf->f[k].v, cf->f[k].n, q->text);
}

const char *
dsn_mta_detect(const struct dsn_ctx *c)
{
    struct cue_fields cf;
    const char *name = NULL;
    size_t k;

    cf.n = 0;
    for (k = 0; k < sizeof(cues) / sizeof(cues[0]) && name == NULL; k++)
        if (cue_matches(c, &cues[k], &cf))
            name = cues[k].name;
    for (k = 0; k < cf.n; k++)
        free(cf.f[k].v);
    return name;
}

/* What only a bounce's text says. */
static const char *const body_cues[] = {
    "could not be delivered to",
    "delivery to the following recipient",
    "delivery has failed to these recipients",
    "the following address(es) failed",
    "following addresses had permanent",
    "following addresses had delivery problems",
    "message could not be delivered",
    "was not delivered to",
    "i'm afraid i wasn't able to deliver",
    "unable to deliver message to",
    "your message could not be delivered",
    "your message cannot be delivered",
    "undeliverable message",
    "error message below:",
    "----- transcript of session follows -----",
    "this is a permanent error",
    "delivery status notification",
};

bool
dsn_mta_is_bounce(const struct dsn_ctx *c)
{
    static const char *const subjects[] = {
        "undeliver",
        "delivery fail",
        "delivery status notification",
        "returned mail",
        "failure notice",
        "mail delivery",
        "could not be delivered",
        "delivery failure",
        "non-delivery",
        "nondeliverable",
        "non remis",
        "delivery problem",
        "returned to sender",
        "delivery notification",
        "mail system error",
        "rejected:",
        "unable to deliver",
        "message not delivered",
        "warning: could not",
        "delivery report",
        "error notification",
    };
    static const char *const senders[] = {
        "mailer-daemon", "postmaster",         "post_master",
        "mail delivery", "mail administrator",
    };
    size_t n, k;
    char *v;
    bool yes = false;

    v = dsn_hindex_get(&c->hdr_fields, "X-Failed-Recipients", NULL);
    if (v != NULL) {
        free(v);
        return true;
    }
    v = dsn_hindex_get(&c->hdr_fields, "Subject", &n);
    for (k = 0; v != NULL && k < sizeof(subjects) / sizeof(subjects[0]); k++)
        yes |= dsn_find(v, n, subjects[k]) != NULL;
    free(v);
    if (yes)
        return true;
    v = dsn_hindex_get(&c->hdr_fields, "From", &n);
    for (k = 0; v != NULL && k < sizeof(senders) / sizeof(senders[0]); k++)
        yes |= dsn_find(v, n, senders[k]) != NULL;
    free(v);
    if (yes)
        return true;
    v = dsn_hindex_get(&c->hdr_fields, "Return-Path", &n);
    if (v != NULL) {
        struct dsn_slice t = dsn_trim(v, n);

        yes = t.len == 2 && memcmp(t.p, "<>", 2) == 0 &&
              dsn_mta_detect(c) != NULL;
        free(v);
    }
    if (yes)
        return true;
    /* the wording of the text, for bounces with a local-language Subject */
    {
        struct dsn_slice t = {pb_buf_ptr(&c->text), c->text.len};

        if (t.len > 65536)
            t.len = 65536;
        for (k = 0; k < sizeof(body_cues) / sizeof(body_cues[0]); k++)
            if (dsn_find(t.p, t.len, body_cues[k]) != NULL)
                return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* The error text                                                      */

/* Lines that start the returned message in a bounce's text. */
static const char *const returned_marks[] = {
    "--- Below this line is a copy of the message.",
    "------ This is a copy of the message, including all the headers.",
    "------ This is a copy of the message's headers.",
    "----- Original message -----",
    "------ Original message ------",
    "----- Unsent message follows -----",
    "----- Message header follows -----",
    "------- Returned Message --------",
    "Original message headers:",
    "----- The header of the original message is following. -----",
    "Below is a copy of the original message:",
    "Content-Type: message/rfc822",
    "Content-Type: text/rfc822-headers",
};

/*
 * The text before the returned message; *after (when asked) gets the text
 * after the line that announces it, or p NULL.
 */
static struct dsn_slice
error_text(const struct dsn_ctx *c, struct dsn_slice *after)
{
    const char *p = pb_buf_ptr(&c->text);
    struct dsn_slice s = {p, c->text.len};
    const char *line;
    size_t pos = 0, n, at, k;
    bool is_first[256] = {false};

    if (after != NULL)
        after->p = NULL;
    if (c->is_ret_inline)
        s.len = (size_t)(c->ret_hdr.p - p);
    /* the bytes a mark starts with, in either case */
    for (k = 0; k < sizeof(returned_marks) / sizeof(returned_marks[0]); k++) {
        unsigned char m = (unsigned char)returned_marks[k][0];

        is_first[m] = true;
        if (m >= 'a' && m <= 'z')
            is_first[m - 'a' + 'A'] = true;
        else if (m >= 'A' && m <= 'Z')
            is_first[m - 'A' + 'a'] = true;
    }
    for (;;) {
        struct dsn_slice t;

        at = pos;
        if (!dsn_line_next(s.p, s.len, &pos, &line, &n))
            break;
        t = dsn_trim(line, n);
        if (t.len == 0 || !is_first[(unsigned char)t.p[0]])
            continue;
        for (k = 0; k < sizeof(returned_marks) / sizeof(returned_marks[0]);
             k++) {
            if (dsn_starts(t.p, t.len, returned_marks[k])) {
                if (after != NULL) {
                    after->p = p + pos;
                    after->len = c->text.len - pos;
                }
                s.len = at;
                return s;
            }
        }
    }
    return s;
}

/* ------------------------------------------------------------------ */
/* Recipients in the text                                              */

/* Addresses that are the bounce's own parties, not failed recipients. */
struct exclude {
    char *v[8];
    size_t n;
};

static void
exclude_add_field(struct exclude *x, const struct dsn_ctx *c, const char *field)
{
    size_t n, pos = 0;
    char *v = dsn_hindex_get(&c->hdr_fields, field, &n);
    struct dsn_slice a;

    while (v != NULL && x->n < sizeof(x->v) / sizeof(x->v[0]) &&
           dsn_addr_next(v, n, &pos, &a))
        x->v[x->n++] = pb_xmemdup(a.p, a.len);
    free(v);
}

static bool
excluded(const struct exclude *x, const struct dsn_slice *a)
{
    size_t k;

    for (k = 0; k < x->n; k++)
        if (strlen(x->v[k]) == a->len &&
            strncasecmp(x->v[k], a->p, a->len) == 0)
            return true;
    return false;
}

/* The bounce's writer: never a failed recipient. */
static bool
is_daemon(const struct dsn_slice *a)
{
    static const char *const locals[] = {"mailer-daemon@", "postmaster@"};
    size_t k;

    for (k = 0; k < sizeof(locals) / sizeof(locals[0]); k++)
        if (dsn_starts(a->p, a->len, locals[k]))
            return true;
    return false;
}

static void
exclude_release(struct exclude *x)
{
    size_t k;

    for (k = 0; k < x->n; k++)
        free(x->v[k]);
}

/* An address where a bounce names a failed recipient. */
struct hit {
    struct dsn_slice addr;
    size_t line; /* offset of its line in the error text */
};

/* Words before an address that make it no recipient: a sender, an id. */
static const char *const sender_words[] = {
    "from:",
    "from",
    "sender:",
    "sender",
    "reply-to:",
    "return-path:",
    "envelope-from",
    "mail from:",
    "original sender:",
    "sent by",
    "message-id:",
    "in-reply-to:",
    "references:",
    "x-original-message-id:",
};

/*
 * Where the address a stands on line (l, n): 2 when bounces put a failed
 * recipient there, alone on its line (maybe in <> or quotes, after a
 * bullet, before ":" or "..."); 1 after a colon or "<" further on the line
 * ("RCPT TO:<a>", "Recipient address: a"); 0 elsewhere or after a sender's
 * label.
 */
static int
recipient_position(const char *l, const struct dsn_slice *a)
{
    size_t before = (size_t)(a->p - l), i, k;
    struct dsn_slice pre = dsn_trim(l, before);
    bool lead_ok = true;

    while (pre.len > 0 && dsn_in_set(pre.p[pre.len - 1], "<\"'( \t"))
        pre.len--;
    for (k = 0; k < sizeof(sender_words) / sizeof(sender_words[0]); k++) {
        size_t wl = strlen(sender_words[k]);

        if (pre.len >= wl &&
            strncasecmp(pre.p + pre.len - wl, sender_words[k], wl) == 0)
            return 0;
    }
    for (i = 0; i < pre.len; i++)
        if (!dsn_in_set(pre.p[i], "<\"'*-:>([ \t"))
            lead_ok = false;
    if (lead_ok)
        return 2;
    if (pre.len > 0 && (pre.p[pre.len - 1] == ':' || l[before - 1] == '<'))
        return 1;
    /* "undeliverable to a", "your message to a couldn't be delivered" */
    if (pre.len >= 3 && strncasecmp(pre.p + pre.len - 3, " to", 3) == 0)
        return 1;
    return 0;
}

/* Up to max hits of the text; the report is marked truncated when it
 * names more recipients than that. */
static size_t
find_hits(struct dsn_ctx *c, const struct dsn_slice *t, struct hit *hits,
          size_t max)
{
    struct exclude x;
    const char *line;
    size_t pos = 0, n, nh = 0, at;

    memset(&x, 0, sizeof(x));
    exclude_add_field(&x, c, "From");
    exclude_add_field(&x, c, "To");
    exclude_add_field(&x, c, "Return-Path");
    exclude_add_field(&x, c, "Reply-To");
    exclude_add_field(&x, c, "Sender");
    for (;;) {
        struct dsn_slice a;
        size_t ap = 0;

        at = pos;
        if (nh == max && c->out->is_truncated)
            break;
        if (!dsn_line_next(t->p, t->len, &pos, &line, &n))
            break;
        while (dsn_addr_next(line, n, &ap, &a)) {
            int where = recipient_position(line, &a);

            /* the bounce's own parties count only where a list stands */
            if (where == 0 || (where == 1 && excluded(&x, &a)) || is_daemon(&a))
                continue;
            if (nh == max) {
                c->out->is_truncated = true;
                break;
            }
            hits[nh].addr = a;
            hits[nh].line = at;
            nh++;
        }
    }
    exclude_release(&x);
    return nh;
}

/* A recipient's paragraph: from its first line to another's. */
struct para {
    struct dsn_slice addr;
    size_t start, end;
};

/*
 * Group the hits into paragraphs: consecutive hits of one address are
 * one paragraph, which ends where a hit of another address starts.
 */
static size_t
paragraphs(const struct hit *hits, size_t nh, size_t text_len, struct para *pa)
{
    size_t i, np = 0;

    for (i = 0; i < nh; i++) {
        if (np > 0 && pa[np - 1].addr.len == hits[i].addr.len &&
            strncasecmp(pa[np - 1].addr.p, hits[i].addr.p, hits[i].addr.len) ==
                0)
            continue;
        if (np > 0)
            pa[np - 1].end = hits[i].line > pa[np - 1].start ? hits[i].line
                                                             : pa[np - 1].start;
        pa[np].addr = hits[i].addr;
        pa[np].start = hits[i].line;
        pa[np].end = text_len;
        np++;
    }
    return np;
}

/* The paragraphs of the error text, in a new array. */
static size_t
text_paragraphs(struct dsn_ctx *c, const struct dsn_slice *t, struct para **out)
{
    /* an address may be named twice in its paragraph */
    size_t max = 2 * PB_LIMIT_DSN_RECIPIENTS, nh, np;
    struct hit *hits = pb_xreallocarray(NULL, max, sizeof(*hits));

    nh = find_hits(c, t, hits, max);
    *out = pb_xreallocarray(NULL, nh == 0 ? 1 : nh, sizeof(**out));
    np = paragraphs(hits, nh, t->len, *out);
    free(hits);
    return np;
}

/*
 * Read r's paragraph (p, len): its first block (up to an empty line)
 * when that holds a reply or a status, as the recipient's own line
 * does in "554 <a>... 550 Host unknown"; else the whole paragraph.
 */
static void
diagnose_para(struct dsn_ctx *c, struct dsn_recipient *r, const char *p,
              size_t len, bool need_codes)
{
    struct dsn_slice t = dsn_trim(p, len), head = t;
    size_t i;
    char st[16];

    for (i = 0; i + 1 < t.len; i++) {
        if (t.p[i] == '\n' && t.p[i + 1] == '\n') {
            head.len = i;
            break;
        }
    }
    if (need_codes && r->diagnostic == NULL &&
        dsn_reply_find(t.p, t.len) == 0 &&
        dsn_status_find(t.p, t.len, st) < 0) {
        /* no reply in it: no diagnostic either, maybe a stage */
        if (r->stage == PB_STAGE_NONE)
            r->stage = dsn_stage_find_in(c, t.p, t.len);
        return;
    }
    if (head.len < t.len && (dsn_reply_find(head.p, head.len) != 0 ||
                             dsn_status_find(head.p, head.len, st) >= 0))
        dsn_rcpt_diagnose(c, r, head.p, head.len);
    /* the rest fills what the first block lacks: a transcript's stage */
    dsn_rcpt_diagnose(c, r, t.p, t.len);
}

/*
 * A text several recipients share (the reason stated once for a list of
 * addresses), read once: its codes go to each recipient that has none of
 * its own.  The work stays linear in the text however many recipients.
 */
struct shared {
    const char *p;
    size_t len;
    bool is_read;
    struct dsn_recipient codes;
};

static void
shared_init(struct shared *s, const char *p, size_t len)
{
    memset(s, 0, sizeof(*s));
    s->p = p;
    s->len = len;
}

static void
shared_release(struct shared *s)
{
    free(s->codes.diagnostic);
}

/* r's codes from s when r has neither status nor reply (always, if all). */
static void
shared_apply(struct dsn_ctx *c, struct shared *s, struct dsn_recipient *r,
             bool all)
{
    if (!all && (r->status[0] != '\0' || r->reply_code != 0))
        return;
    if (!s->is_read) {
        s->is_read = true;
        if (s->len > 0)
            dsn_rcpt_diagnose(c, &s->codes, s->p, s->len);
    }
    if (s->codes.diagnostic == NULL)
        return;
    if (r->diagnostic == NULL) {
        r->diagnostic =
            pb_xmemdup(s->codes.diagnostic, s->codes.diagnostic_len);
        r->diagnostic_len = s->codes.diagnostic_len;
    }
    if (r->status[0] == '\0')
        memcpy(r->status, s->codes.status, sizeof(r->status));
    if (r->reply_code == 0)
        r->reply_code = s->codes.reply_code;
    if (r->stage == PB_STAGE_NONE)
        r->stage = s->codes.stage;
    dsn_rcpt_diagnose(c, r, NULL, 0); /* permanence */
}

/*
 * Sendmail's "Transcript of session follows": per host, the commands sent
 * (">>> RCPT To:<a>") and the replies (" <<< 550 ..."), then its summary
 * per recipient ("554 <a>... Remote protocol error").  The reply before
 * a summary is that recipient's, and the command before it its stage.
 * With add false only recipients already in the report are completed.
 */
static void
sendmail_transcript(struct dsn_ctx *c, const struct dsn_slice *t, bool add)
{
    struct dsn_slice cmd = {NULL, 0}, reply = {NULL, 0};
    const char *line;
    size_t pos = 0, n, summaries = 0;

    if (dsn_find(t->p, t->len, "Transcript of session follows") == NULL)
        return;
    while (dsn_line_next(t->p, t->len, &pos, &line, &n)) {
        struct dsn_slice l = dsn_trim(line, n), a;
        const char *dots;
        struct dsn_recipient *r = NULL;
        size_t ap = 0, k;

        if (dsn_find(l.p, l.len, "while talking to") != NULL) {
            cmd.p = reply.p = NULL;
            continue;
        }
        if (dsn_starts(l.p, l.len, ">>> ")) {
            cmd = l;
            reply.p = NULL;
            continue;
        }
        if (dsn_starts(l.p, l.len, "<<< ")) {
            if (reply.p == NULL)
                reply = l;
            continue;
        }
        /* a summary: "[NNN ]<a>... text" */
        dots = dsn_find(l.p, l.len, "... ");
        if (dots == NULL || !dsn_addr_next(l.p, (size_t)(dots - l.p), &ap, &a))
            continue;
        if (++summaries > PB_LIMIT_DSN_RECIPIENTS)
            return;
        for (k = 0; k < c->out->n && !add; k++) {
            size_t an = strlen(c->out->v[k].address);

            if (an == a.len &&
                strncasecmp(c->out->v[k].address, a.p, a.len) == 0)
                r = &c->out->v[k];
        }
        if (add)
            r = dsn_rcpt_get(c, a.p, a.len);
        if (r != NULL && reply.p != NULL) {
            if (r->stage == PB_STAGE_NONE && cmd.p != NULL)
                r->stage = dsn_stage_find_in(c, cmd.p, cmd.len);
            dsn_rcpt_diagnose(c, r, reply.p + 4, reply.len - 4);
        } else if (r != NULL) {
            /* "554 <a>... 550 Host unknown": the remote's reply after */
            struct dsn_slice rest = {dots + 4,
                                     l.len - (size_t)(dots + 4 - l.p)};

            if (dsn_reply_find(rest.p, rest.len) != 0)
                dsn_rcpt_diagnose(c, r, rest.p, rest.len);
            else
                dsn_rcpt_diagnose(c, r, l.p, l.len);
        }
        cmd.p = reply.p = NULL;
    }
}

/* Recipients from the addresses of field name of header (h, len). */
static void
rcpt_from_field(struct dsn_ctx *c, const struct dsn_hindex *x, const char *h,
                size_t len, const char *name, struct shared *s)
{
    size_t vn, ap = 0;
    char *v = x != NULL ? dsn_hindex_get(x, name, &vn)
                        : dsn_header_get(h, len, name, &vn);
    struct dsn_slice a;

    while (v != NULL && dsn_addr_next(v, vn, &ap, &a)) {
        struct dsn_recipient *r = dsn_rcpt_get(c, a.p, a.len);

        if (r != NULL && r->diagnostic == NULL)
            shared_apply(c, s, r, true);
    }
    free(v);
}

void
dsn_mta_parse(struct dsn_ctx *c, const char *mta)
{
    struct dsn_slice after, t = error_text(c, &after);
    struct shared head, tail, whole;
    struct para *pa;
    size_t np, i;

    (void)mta;
    sendmail_transcript(c, &t, true);
    np = text_paragraphs(c, &t, &pa);
    /* the reason before the list ("Error: ...  RCPT TO: a"), or after its
     * last address */
    shared_init(&head, t.p, np > 0 ? pa[0].start : 0);
    shared_init(&tail, np > 0 ? t.p + pa[np - 1].start : t.p,
                np > 0 ? t.len - pa[np - 1].start : 0);
    shared_init(&whole, t.p, t.len);
    for (i = 0; i < np; i++) {
        struct dsn_recipient *r = dsn_rcpt_get(c, pa[i].addr.p, pa[i].addr.len);

        if (r == NULL)
            continue;
        diagnose_para(c, r, t.p + pa[i].start, pa[i].end - pa[i].start, false);
        shared_apply(c, &head, r, false);
        shared_apply(c, &tail, r, false);
    }
    free(pa);
    /* Exim and Gmail name the failed recipients in a header field */
    rcpt_from_field(c, &c->hdr_fields, c->hdr.p, c->hdr.len,
                    "X-Failed-Recipients", &whole);
    if (c->out->n == 0 && (c->ret_hdr.p != NULL || after.p != NULL)) {
        /* the text names nobody: whom the returned message was for */
        struct dsn_slice h = c->ret_hdr;

        if (h.p == NULL) {
            /* the header after "----- Unsent message follows -----" */
            const char *blank = dsn_find(after.p, after.len, "\n\n");

            h = after;
            if (blank != NULL)
                h.len = (size_t)(blank - after.p) + 1;
        }
        rcpt_from_field(c, h.p == c->ret_hdr.p ? &c->ret_fields : NULL, h.p,
                        h.len, "To", &whole);
    }
    shared_release(&head);
    shared_release(&tail);
    shared_release(&whole);
}

void
dsn_mta_complete(struct dsn_ctx *c, const char *mta)
{
    struct dsn_slice t = error_text(c, NULL);
    struct para *pa;
    size_t np, i, k;

    (void)mta;
    sendmail_transcript(c, &t, false);
    np = text_paragraphs(c, &t, &pa);
    for (i = 0; i < c->out->n; i++) {
        struct dsn_recipient *r = &c->out->v[i];
        size_t an = strlen(r->address);

        if (r->diagnostic != NULL && r->reply_code != 0 &&
            r->stage != PB_STAGE_NONE)
            continue;
        for (k = 0; k < np; k++) {
            if (pa[k].addr.len != an ||
                strncasecmp(pa[k].addr.p, r->address, an) != 0)
                continue;
            /* a DSN's own text adds what its fields lack */
            diagnose_para(c, r, t.p + pa[k].start, pa[k].end - pa[k].start,
                          true);
            break;
        }
        /*
         * A report about one recipient whose text names it otherwise (a
         * pipe, an alias): the text is about that recipient.
         */
        if (k == np && c->out->n == 1 && r->reply_code == 0)
            r->reply_code = dsn_reply_find(t.p, t.len);
    }
    free(pa);
}

/* ------------------------------------------------------------------ */
/* Amazon SES notifications                                            */

/* A JSON member that is a string, or NULL. */
static const char *
json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
ses_bounce(struct dsn_ctx *c, const cJSON *b)
{
    const cJSON *list =
        cJSON_GetObjectItemCaseSensitive(b, "bouncedRecipients");
    const cJSON *e;
    const char *mta = json_str(b, "reportingMTA");

    if (mta != NULL && c->out->reporting_mta == NULL) {
        const char *semi = strchr(mta, ';');

        struct dsn_slice t = semi != NULL ? dsn_trim(semi + 1, strlen(semi + 1))
                                          : dsn_trim(mta, strlen(mta));

        if (t.len > 0 && t.len < 1024)
            c->out->reporting_mta = dsn_text_dup(t.p, t.len);
    }
    cJSON_ArrayForEach(e, list)
    {
        const char *addr = json_str(e, "emailAddress");
        const char *action = json_str(e, "action");
        const char *status = json_str(e, "status");
        const char *diag = json_str(e, "diagnosticCode");
        struct dsn_recipient *r;

        if (addr == NULL)
            continue;
        r = dsn_rcpt_get(c, addr, strlen(addr));
        if (r == NULL)
            continue;
        if (action != NULL && r->action == NULL && strlen(action) < 32)
            r->action = dsn_text_dup(action, strlen(action));
        if (status != NULL &&
            dsn_status_check(status, strlen(status), r->dsn_status))
            memcpy(r->status, r->dsn_status, sizeof(r->status));
        if (diag != NULL) {
            const char *semi = strchr(diag, ';');

            /* "smtp; 550 5.1.1 user unknown", as a Diagnostic-Code */
            if (semi != NULL && semi - diag < 16) {
                if (r->diagnostic_type == NULL)
                    r->diagnostic_type =
                        dsn_text_dup(diag, (size_t)(semi - diag));
                diag = semi + 1;
            }
            dsn_rcpt_diagnose(c, r, diag, strlen(diag));
        } else {
            dsn_rcpt_diagnose(c, r, NULL, 0);
        }
    }
}

static void
ses_list(struct dsn_ctx *c, const cJSON *list, const char *field,
         const char *reply)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, list)
    {
        const char *addr = field != NULL
                               ? json_str(e, field)
                               : (cJSON_IsString(e) ? e->valuestring : NULL);
        struct dsn_recipient *r;

        if (addr == NULL)
            continue;
        r = dsn_rcpt_get(c, addr, strlen(addr));
        if (r == NULL)
            continue;
        if (reply != NULL) {
            if (r->action == NULL)
                r->action = pb_xstrdup("delivered");
            dsn_rcpt_diagnose(c, r, reply, strlen(reply));
        }
        r->is_permanent = false;
    }
}

/*
 * Amazon SES sends its bounce, complaint and delivery notifications
 * through SNS as JSON in the body of an ordinary message (lines longer
 * than SNS's e-mail limit are cut with "!" and a new line starting with
 * a space).  Returns the kind, or -1 when the text is no such JSON.
 */
int
dsn_mta_ses(struct dsn_ctx *c)
{
    const char *p = pb_buf_ptr(&c->text);
    size_t len = c->text.len, i, o = 0, head;
    struct dsn_slice t = dsn_trim(p, len);
    cJSON *root, *msg = NULL;
    const cJSON *n;
    const char *type;
    char *json;
    int kind = -1;

    if (t.len < 2 || t.p[0] != '{')
        return -1;
    head = t.len > 256 ? 256 : t.len;
    if (dsn_find(t.p, head, "\"notificationType\"") == NULL &&
        dsn_find(t.p, head, "\"Type\" : \"Notification\"") == NULL)
        return -1;
    json = pb_xmalloc(t.len + 1);
    for (i = 0; i < t.len; i++) {
        if (t.p[i] == '!' && i + 2 < t.len && t.p[i + 1] == '\n' &&
            t.p[i + 2] == ' ') {
            i += 2;
            continue;
        }
        if (t.p[i] == '\n' && i + 2 < t.len && t.p[i + 1] == '-' &&
            t.p[i + 2] == '-')
            break; /* SNS's footer */
        json[o++] = t.p[i];
    }
    json[o] = '\0';
    root = cJSON_ParseWithLength(json, o);
    free(json);
    if (root == NULL)
        return -1;
    /* the SNS envelope, when raw delivery is off: the JSON in "Message" */
    type = json_str(root, "Message");
    if (type != NULL) {
        msg = cJSON_Parse(type);
        if (msg != NULL) {
            cJSON_Delete(root);
            root = msg;
        }
    }
    type = json_str(root, "notificationType");
    if (type == NULL)
        type = json_str(root, "eventType");
    if (type != NULL && strcmp(type, "Bounce") == 0) {
        kind = DSN_NONSTANDARD;
        ses_bounce(c, cJSON_GetObjectItemCaseSensitive(root, "bounce"));
    } else if (type != NULL && strcmp(type, "Complaint") == 0) {
        n = cJSON_GetObjectItemCaseSensitive(root, "complaint");
        kind = DSN_FEEDBACK;
        ses_list(c, cJSON_GetObjectItemCaseSensitive(n, "complainedRecipients"),
                 "emailAddress", NULL);
        type = json_str(n, "complaintFeedbackType");
        if (type != NULL && c->out->feedback_type == NULL && strlen(type) < 64)
            c->out->feedback_type = dsn_text_dup(type, strlen(type));
    } else if (type != NULL && strcmp(type, "Delivery") == 0) {
        n = cJSON_GetObjectItemCaseSensitive(root, "delivery");
        kind = DSN_NONSTANDARD;
        type = json_str(n, "smtpResponse");
        ses_list(c, cJSON_GetObjectItemCaseSensitive(n, "recipients"), NULL,
                 type != NULL ? type : "");
    }
    if (kind >= 0) {
        n = cJSON_GetObjectItemCaseSensitive(root, "mail");
        type = json_str(n, "messageId");
        if (type != NULL && c->out->original_message_id == NULL &&
            strlen(type) < 998)
            c->out->original_message_id = dsn_text_dup(type, strlen(type));
    }
    cJSON_Delete(root);
    return kind;
}
