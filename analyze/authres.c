/* SPDX-License-Identifier: MIT */
/*
 * Authentication-Results (RFC 8601 §2.2): the field value read by a
 * cursor over CFWS (RFC 5322 §3.2.2, nested comments kept per resinfo),
 * tolerant of what real receivers write (no authserv-id, a missing ";",
 * properties without ptype) and recording what it skips; ARC's
 * "i=N;" prefix (RFC 8617 §4.1.1); result words normalized; the trust
 * rule of RFC 8601 §5 by authserv-id.  Not done: checking methods
 * against the IANA registry beyond the "known method" list below,
 * decoding RFC 2047 words, judging authres-version values other than 1.
 */
#include "authres.h"

#include <stdlib.h>
#include <string.h>

#include "pb_buf.h"
#include "pb_ctype.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/* ------------------------------------------------------------------ */
/* Names and small helpers                                             */

static unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive equality of n bytes of a and b. */
static bool
spans_eq(const char *a, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

/* ASCII case-insensitive equality of (p, len) and the C string s. */
static bool
span_eq(const char *p, size_t len, const char *s)
{
    return strlen(s) == len && spans_eq(p, s, len);
}

static bool
str_eq(const char *a, const char *b)
{
    return span_eq(a, strlen(a), b);
}

static const char *const status_names[] = {
    [AUTHRES_NONE] = "none",           [AUTHRES_PASS] = "pass",
    [AUTHRES_FAIL] = "fail",           [AUTHRES_SOFTFAIL] = "softfail",
    [AUTHRES_NEUTRAL] = "neutral",     [AUTHRES_TEMPERROR] = "temperror",
    [AUTHRES_PERMERROR] = "permerror", [AUTHRES_POLICY] = "policy",
    [AUTHRES_OTHER] = "other",
};

enum authres_status
authres_status_from(const char *word)
{
    size_t i;

    if (word == NULL)
        return AUTHRES_OTHER;
    /* RFC 5451 §2.4.3: SPF's "hardfail", renamed fail by RFC 7001 */
    if (str_eq(word, "hardfail"))
        return AUTHRES_FAIL;
    for (i = 0; i < AUTHRES_OTHER; i++)
        if (str_eq(word, status_names[i]))
            return (enum authres_status)i;
    return AUTHRES_OTHER;
}

const char *
authres_status_name(enum authres_status s)
{
    if ((size_t)s >= sizeof(status_names) / sizeof(status_names[0]))
        return "other";
    return status_names[s];
}

const char *
authres_trust_name(enum authres_trust t)
{
    switch (t) {
    case AUTHRES_TRUSTED:
        return "trusted";
    case AUTHRES_UNTRUSTED_ID:
        return "untrusted-id";
    case AUTHRES_UNTRUSTED_NO_ID:
        return "untrusted-no-id";
    case AUTHRES_UNTRUSTED_BELOW:
        return "untrusted-below";
    }
    return "untrusted-id";
}

/*
 * Methods of the IANA "Email Authentication Methods" registry (RFC 8601
 * §6.5 and later registrations) and the ones big receivers add: a word
 * of these followed by "=" inside a resinfo starts the next resinfo whose
 * ";" was left out (seen from Postfix + OpenDKIM setups).
 */
static bool
is_known_method(const char *p, size_t len)
{
    static const char *const known[] = {
        "arc",       "auth",  "bimi",  "compauth",   "dkim",   "dkim-adsp",
        "dkim-atps", "dmarc", "dnswl", "domainkeys", "iprev",  "rrvs",
        "sender-id", "smime", "spf",   "vbr",        "x-hmca",
    };
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (span_eq(p, len, known[i]))
            return true;
    return false;
}

/* RFC 8601 Keyword (RFC 5321 Ldh-str), and "_" leniently. */
static bool
is_keyword_char(int c)
{
    return pb_is_alnum(c) || c == '-' || c == '_';
}

/*
 * A byte of a value written as a token (RFC 2045 token, widened): not
 * space, control, DEL, or a byte that ends a value here (";" "(" ")"
 * '"').  "@", "/", "=", "<", ">" and 8-bit bytes (RFC 8616) are taken:
 * real receivers write them unquoted ("smtp.mailfrom=<>", "header.b=a/b+").
 */
static bool
is_value_char(int c)
{
    return c > 0x20 && c != 0x7f && c != ';' && c != '(' && c != ')' &&
           c != '"';
}

/* ------------------------------------------------------------------ */
/* The cursor                                                          */

struct strvec {
    char **v;
    size_t n;
};

struct parser {
    const unsigned char *p;
    size_t len, pos;
    struct authres *out;
    struct strvec *sink; /* where comments go; NULL: dropped */
    bool is_lookahead;   /* reading ahead: the text is read again later */
    bool failed;         /* sticky: a limit was hit, err is set */
    struct pb_err *err;
};

static int
peek(const struct parser *ps)
{
    return ps->pos < ps->len ? ps->p[ps->pos] : -1;
}

static bool
at_end(const struct parser *ps)
{
    return ps->pos >= ps->len;
}

static void
strvec_free(struct strvec *sv)
{
    size_t i;

    for (i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

static void
fail_limit(struct parser *ps, const char *what, unsigned limit)
{
    if (ps->failed)
        return;
    ps->failed = true;
    pb_err_set(ps->err, PB_STAGE_NONE, PB_E_LIMIT,
               "Authentication-Results: more than %u %s", limit, what);
}

/* Record the bytes [start, end) as skipped, for the reason why. */
static void
note(struct parser *ps, size_t start, size_t end, const char *why)
{
    struct authres *ar = ps->out;
    struct authres_skip *s;

    if (ps->is_lookahead)
        return; /* noted when it is read for real */
    ar->nskipped++;
    if (ar->nskipped_kept >= PB_LIMIT_AUTHRES_SKIPS)
        return;
    if (ar->skipped == NULL)
        ar->skipped = pb_xcalloc(PB_LIMIT_AUTHRES_SKIPS, sizeof(*s));
    s = &ar->skipped[ar->nskipped_kept++];
    s->offset = start;
    s->why = why;
    if (end > ps->len)
        end = ps->len;
    /* leave room for "...": the prefix never ends inside an escape */
    if (pb_escape_to(s->text, sizeof(s->text) - 3, ps->p + start,
                     end > start ? end - start : 0) == -1)
        memcpy(s->text + strlen(s->text), "...", 4);
}

/*
 * Read the text of a quoted string (ps at '"') or a comment (ps at '('):
 * quoted-pairs decoded, CR and LF of folding dropped, nested parentheses
 * of a comment kept, NUL dropped (and noted).  An unterminated one runs
 * to the end of the value and is noted.  Returns the text (malloc'd).
 */
static char *
read_delimited(struct parser *ps)
{
    struct pb_buf b;
    size_t start = ps->pos;
    bool is_comment = ps->p[ps->pos] == '(';
    size_t depth = 1;
    bool closed = false, had_nul = false;

    pb_buf_init(&b, ps->len);
    ps->pos++;
    while (!at_end(ps)) {
        unsigned char c = ps->p[ps->pos++];

        if (c == '\\' && !at_end(ps)) {
            c = ps->p[ps->pos++]; /* RFC 5322 §3.2.1 quoted-pair */
        } else if (c == '\r' || c == '\n') {
            continue; /* unfold */
        } else if (!is_comment && c == '"') {
            closed = true;
            break;
        } else if (is_comment && c == '(') {
            depth++;
        } else if (is_comment && c == ')') {
            if (--depth == 0) {
                closed = true;
                break;
            }
        }
        if (c == '\0') {
            had_nul = true;
            continue;
        }
        /* cannot fail: the text is shorter than the value */
        if (pb_buf_addc(&b, (char)c) == -1)
            pb_panic("authres: comment longer than its field");
    }
    if (had_nul)
        note(ps, start, ps->pos,
             is_comment ? "NUL byte in a comment (dropped)"
                        : "NUL byte in a quoted string (dropped)");
    if (!closed)
        note(ps, start, ps->pos,
             is_comment ? "unterminated comment"
                        : "unterminated quoted string");
    return pb_buf_take(&b, NULL);
}

/* Keep a comment in the current sink, within PB_LIMIT_AUTHRES_COMMENTS. */
static void
sink_add(struct parser *ps, char *text)
{
    struct strvec *sv = ps->sink;

    if (sv == NULL || ps->failed) {
        free(text);
        return;
    }
    if (sv->n >= PB_LIMIT_AUTHRES_COMMENTS) {
        free(text);
        fail_limit(ps, "comments in one resinfo", PB_LIMIT_AUTHRES_COMMENTS);
        return;
    }
    sv->v = pb_xreallocarray(sv->v, sv->n + 1, sizeof(*sv->v));
    sv->v[sv->n++] = text;
}

/* RFC 5322 CFWS: WSP, CR and LF (folding, or bare), and comments. */
static void
skip_cfws(struct parser *ps)
{
    while (!at_end(ps) && !ps->failed) {
        int c = peek(ps);

        if (pb_is_wsp(c) || c == '\r' || c == '\n')
            ps->pos++;
        else if (c == '(')
            sink_add(ps, read_delimited(ps));
        else
            break;
    }
}

/* Like skip_cfws() for a look ahead: comments and notes go nowhere. */
static void
skip_cfws_quiet(struct parser *ps)
{
    struct strvec *sink = ps->sink;

    ps->sink = NULL;
    ps->is_lookahead = true;
    skip_cfws(ps);
    ps->is_lookahead = false;
    ps->sink = sink;
}

/* A Keyword at the cursor: its length (0 when none), the cursor after. */
static size_t
lex_keyword(struct parser *ps)
{
    size_t start = ps->pos;

    while (!at_end(ps) && is_keyword_char(ps->p[ps->pos]))
        ps->pos++;
    return ps->pos - start;
}

/* 1*DIGIT at the cursor into *v; false when none or over 9 digits. */
static bool
lex_number(struct parser *ps, unsigned *v)
{
    size_t start = ps->pos;
    unsigned n = 0;

    while (!at_end(ps) && pb_is_digit(ps->p[ps->pos])) {
        if (ps->pos - start >= 9)
            return false;
        n = n * 10 + (unsigned)(ps->p[ps->pos] - '0');
        ps->pos++;
    }
    *v = n;
    return ps->pos > start;
}

/* A value (quoted-string or token, widened), possibly empty: malloc'd. */
static char *
lex_value(struct parser *ps)
{
    size_t start = ps->pos;

    if (peek(ps) == '"')
        return read_delimited(ps);
    while (!at_end(ps) && is_value_char(ps->p[ps->pos]))
        ps->pos++;
    return pb_xmemdup(ps->p + start, ps->pos - start);
}

/* Lower-cased copy of (p, len). */
static char *
dup_lower(const unsigned char *p, size_t len)
{
    char *s = pb_xmemdup(p, len);
    size_t i;

    for (i = 0; i < len; i++)
        s[i] = (char)lower((unsigned char)s[i]);
    return s;
}

/*
 * Pass over one junk word inside a resinfo: a quoted string, a comment
 * (dropped), or a run of bytes up to space, ";", "(" or '"'; at least one
 * byte, so every loop that calls this advances.
 */
static void
skip_word(struct parser *ps)
{
    size_t start = ps->pos;
    int c = peek(ps);

    if (c == '"' || c == '(') {
        free(read_delimited(ps));
        return;
    }
    while (!at_end(ps)) {
        c = ps->p[ps->pos];
        if (pb_is_wsp(c) || c == '\r' || c == '\n' || c == ';' || c == '(' ||
            c == '"')
            break;
        ps->pos++;
    }
    if (ps->pos == start)
        ps->pos++;
}

/* Skip to the next ";" (outside comments and quotes) and note why. */
static void
skip_resinfo(struct parser *ps, size_t start, const char *why)
{
    while (!at_end(ps) && peek(ps) != ';') {
        int c = peek(ps);

        if (pb_is_wsp(c) || c == '\r' || c == '\n')
            ps->pos++;
        else
            skip_word(ps);
    }
    note(ps, start, ps->pos, why);
}

/* ------------------------------------------------------------------ */
/* Results                                                             */

static void
result_free(struct authres_result *r)
{
    size_t i;

    free(r->method);
    free(r->result);
    free(r->reason);
    for (i = 0; i < r->ncomments; i++)
        free(r->comments[i]);
    free(r->comments);
    for (i = 0; i < r->nprops; i++) {
        free(r->props[i].ptype);
        free(r->props[i].property);
        free(r->props[i].value);
    }
    free(r->props);
    memset(r, 0, sizeof(*r));
}

static void
prop_add(struct parser *ps, struct authres_result *r, char *ptype,
         char *property, char *value)
{
    struct authres_prop *pr;

    if (r->nprops >= PB_LIMIT_AUTHRES_PROPS) {
        free(ptype);
        free(property);
        free(value);
        fail_limit(ps, "properties in one result", PB_LIMIT_AUTHRES_PROPS);
        return;
    }
    r->props = pb_xreallocarray(r->props, r->nprops + 1, sizeof(*r->props));
    pr = &r->props[r->nprops++];
    pr->ptype = ptype;
    pr->property = property;
    pr->value = value;
}

/* Whether a result Keyword ends here: CFWS, ";" or the end. */
static bool
at_word_end(const struct parser *ps)
{
    int c = peek(ps);

    return c == -1 || pb_is_wsp(c) || c == '\r' || c == '\n' || c == '(' ||
           c == ';';
}

/*
 * After "word" and CFWS, at "=": whether this is the methodspec of a next
 * resinfo whose ";" was left out ("... header.a=rsa-sha256 dkim=pass"):
 * word is a known method and a Keyword that ends cleanly follows.
 */
static bool
looks_like_methodspec(struct parser *ps, size_t wstart, size_t wlen)
{
    size_t save = ps->pos;
    bool yes;

    if (!is_known_method((const char *)ps->p + wstart, wlen))
        return false;
    ps->pos++; /* "=" */
    skip_cfws_quiet(ps);
    yes = lex_keyword(ps) > 0 && at_word_end(ps);
    ps->pos = save;
    return yes;
}

/*
 * The properties after a methodspec, up to ";" or the end: propspec,
 * reasonspec (RFC 8601 puts it first; taken anywhere, once), lenient
 * ptype-less properties, and junk words skipped.  Returns true when the
 * next resinfo starts at the cursor without its ";".
 */
static bool
parse_props(struct parser *ps, struct authres_result *r)
{
    while (!ps->failed) {
        size_t wstart, wlen;
        int c;

        skip_cfws(ps);
        if (at_end(ps) || peek(ps) == ';')
            return false;
        wstart = ps->pos;
        wlen = lex_keyword(ps);
        if (wlen == 0) {
            skip_word(ps);
            note(ps, wstart, ps->pos, "not a property");
            continue;
        }
        skip_cfws(ps);
        c = peek(ps);
        if (c == '.') {
            size_t pstart;
            size_t plen;

            ps->pos++;
            skip_cfws(ps);
            pstart = ps->pos;
            plen = lex_keyword(ps);
            if (plen == 0) {
                if (!at_end(ps) && peek(ps) != ';')
                    skip_word(ps);
                note(ps, wstart, ps->pos, "no property name after ptype.");
                continue;
            }
            skip_cfws(ps);
            if (peek(ps) != '=') {
                note(ps, wstart, ps->pos, "no \"=\" after ptype.property");
                continue;
            }
            ps->pos++;
            skip_cfws(ps);
            prop_add(ps, r, dup_lower(ps->p + wstart, wlen),
                     dup_lower(ps->p + pstart, plen), lex_value(ps));
        } else if (c == '=') {
            if (span_eq((const char *)ps->p + wstart, wlen, "reason") &&
                r->reason == NULL) {
                ps->pos++;
                skip_cfws(ps);
                r->reason = lex_value(ps);
            } else if (looks_like_methodspec(ps, wstart, wlen)) {
                /* lenient: "dkim=pass ... dkim=fail" without ";" */
                note(ps, wstart, wstart + wlen,
                     "missing \";\" before a result");
                ps->pos = wstart;
                return true;
            } else {
                /* lenient: "action=none" (Microsoft), no ptype */
                ps->pos++;
                skip_cfws(ps);
                prop_add(ps, r, pb_xstrdup(""), dup_lower(ps->p + wstart, wlen),
                         lex_value(ps));
            }
        } else {
            note(ps, wstart, ps->pos, "not a property");
        }
    }
    return false;
}

static void
result_commit(struct parser *ps, struct authres_result *r)
{
    struct authres *ar = ps->out;

    if (ps->failed) {
        result_free(r);
        return;
    }
    if (ar->nresults >= PB_LIMIT_AUTHRES_RESULTS) {
        result_free(r);
        fail_limit(ps, "results", PB_LIMIT_AUTHRES_RESULTS);
        return;
    }
    ar->results =
        pb_xreallocarray(ar->results, ar->nresults + 1, sizeof(*ar->results));
    ar->results[ar->nresults++] = *r;
    memset(r, 0, sizeof(*r));
}

/*
 * One resinfo from the cursor (after its ";", or where it starts without
 * one): methodspec, then properties.  Returns true when the next resinfo
 * starts at the cursor without its ";".
 */
static bool
parse_resinfo(struct parser *ps)
{
    struct authres_result r;
    struct strvec comments = {NULL, 0};
    size_t start, mstart, mlen, rstart, rlen;
    bool next_without_semicolon;

    memset(&r, 0, sizeof(r));
    ps->sink = &comments;
    skip_cfws(ps);
    start = ps->pos;
    if (at_end(ps) || peek(ps) == ';' || ps->failed) {
        /* empty resinfo (";;", a final ";"): nothing to keep */
        strvec_free(&comments);
        return false;
    }
    mstart = ps->pos;
    mlen = lex_keyword(ps);
    if (mlen == 0) {
        skip_resinfo(ps, start, "not a method=result");
        strvec_free(&comments);
        return false;
    }
    skip_cfws(ps);
    if (span_eq((const char *)ps->p + mstart, mlen, "none") &&
        (at_end(ps) || peek(ps) == ';')) {
        /* RFC 8601 §2.2 no-result */
        if (ps->out->nresults == 0 && !ps->out->is_none)
            ps->out->is_none = true;
        else
            note(ps, start, ps->pos, "\"none\" among results");
        strvec_free(&comments);
        return false;
    }
    if (peek(ps) == '/') {
        ps->pos++;
        skip_cfws(ps);
        if (!lex_number(ps, &r.method_version)) {
            skip_resinfo(ps, start, "method version is not a number");
            strvec_free(&comments);
            return false;
        }
        skip_cfws(ps);
    }
    if (peek(ps) != '=') {
        skip_resinfo(ps, start, "not a method=result");
        strvec_free(&comments);
        return false;
    }
    ps->pos++;
    skip_cfws(ps);
    rstart = ps->pos;
    rlen = lex_keyword(ps);
    if (rlen == 0 || !at_word_end(ps)) {
        skip_resinfo(ps, start, "result is not a word");
        strvec_free(&comments);
        return false;
    }
    r.method = dup_lower(ps->p + mstart, mlen);
    r.result = dup_lower(ps->p + rstart, rlen);
    r.status = authres_status_from(r.result);
    next_without_semicolon = parse_props(ps, &r);
    r.comments = comments.v;
    r.ncomments = comments.n;
    ps->sink = NULL;
    result_commit(ps, &r);
    return next_without_semicolon;
}

/* ------------------------------------------------------------------ */
/* The field                                                           */

void
authres_release(struct authres *ar)
{
    size_t i;

    if (ar == NULL)
        return;
    free(ar->authserv_id);
    for (i = 0; i < ar->ncomments; i++)
        free(ar->comments[i]);
    free(ar->comments);
    for (i = 0; i < ar->nresults; i++)
        result_free(&ar->results[i]);
    free(ar->results);
    free(ar->skipped);
    memset(ar, 0, sizeof(*ar));
}

/*
 * Whether the value starts with a methodspec (Keyword [CFWS] "=" or "/"):
 * then it has no authserv-id (Exchange Online).  The cursor is kept.
 */
static bool
starts_with_methodspec(struct parser *ps)
{
    size_t save = ps->pos;
    int c;

    if (lex_keyword(ps) == 0) {
        ps->pos = save;
        return false;
    }
    skip_cfws_quiet(ps);
    c = peek(ps);
    ps->pos = save;
    return c == '=' || c == '/';
}

/*
 * authserv-id and authres-version, with the comments around them.
 * Returns true when the first resinfo starts at the cursor without a ";"
 * before it: there is no authserv-id (Exchange Online), or a known method
 * follows the authserv-id directly ("mx.example.com spf=pass").
 */
static bool
parse_head(struct parser *ps)
{
    struct authres *ar = ps->out;
    struct strvec head = {NULL, 0};
    bool next_without_semicolon = false;

    ps->sink = &head;
    skip_cfws(ps);
    if (starts_with_methodspec(ps)) {
        next_without_semicolon = true;
    } else {
        if (peek(ps) == '"' || (!at_end(ps) && is_value_char(peek(ps)))) {
            ar->authserv_id = lex_value(ps);
            if (ar->authserv_id[0] == '\0') {
                free(ar->authserv_id);
                ar->authserv_id = NULL; /* `""`: as good as none */
            }
        }
        skip_cfws(ps);
        if (pb_is_digit(peek(ps)) && ar->authserv_id != NULL) {
            size_t vstart = ps->pos;

            if (lex_number(ps, &ar->version) && at_word_end(ps)) {
                skip_cfws(ps);
            } else {
                ar->version = 0;
                ps->pos = vstart;
            }
        }
        if (!at_end(ps) && peek(ps) != ';') {
            size_t wstart = ps->pos, wlen = lex_keyword(ps);

            ps->pos = wstart;
            if (wlen > 0 &&
                is_known_method((const char *)ps->p + wstart, wlen) &&
                starts_with_methodspec(ps)) {
                note(ps, wstart, wstart + wlen,
                     "missing \";\" before a result");
                next_without_semicolon = true;
            } else {
                /* Yahoo's old "mta.yahoo.com  from=example.com;" */
                skip_resinfo(ps, wstart,
                             ar->authserv_id == NULL
                                 ? "not an authserv-id"
                                 : "text after authserv-id");
            }
        }
    }
    ar->comments = head.v;
    ar->ncomments = head.n;
    ps->sink = NULL;
    return next_without_semicolon;
}

int
authres_parse(const char *p, size_t len, struct authres *out,
              struct pb_err *err)
{
    struct parser ps;
    bool next_without_semicolon;

    memset(out, 0, sizeof(*out));
    if (len > PB_LIMIT_AUTHRES_FIELD)
        return pb_err_set(err, PB_STAGE_NONE, PB_E_LIMIT,
                          "Authentication-Results longer than %u octets",
                          (unsigned)PB_LIMIT_AUTHRES_FIELD);
    memset(&ps, 0, sizeof(ps));
    ps.p = (const unsigned char *)p;
    ps.len = len;
    ps.out = out;
    ps.err = err;

    next_without_semicolon = parse_head(&ps);
    while (!ps.failed) {
        if (!next_without_semicolon) {
            if (at_end(&ps))
                break;
            ps.pos++; /* the ";" every loop leaves the cursor at */
        }
        next_without_semicolon = parse_resinfo(&ps);
        if (!ps.failed && !next_without_semicolon && !at_end(&ps) &&
            peek(&ps) != ';')
            pb_panic("authres: resinfo ended inside text");
    }
    if (ps.failed) {
        authres_release(out);
        return -1;
    }
    if (out->is_none && out->nresults > 0) {
        out->is_none = false; /* "none" then results: the results win */
        note(&ps, 0, 0, "\"none\" and results together");
    }
    if (out->authserv_id == NULL && out->nresults == 0 && !out->is_none) {
        pb_err_set(err, PB_STAGE_NONE, PB_E_SYNTAX,
                   "Authentication-Results without authserv-id or result");
        pb_err_evidence(err, p, len);
        authres_release(out);
        return -1;
    }
    return 0;
}

/* RFC 8617 §4.1.1 arc-info: [FWS] "i" [FWS] "=" [FWS] 1*DIGIT [CFWS] ";" */
static int
parse_arc_instance(const char *p, size_t len, size_t *pos, unsigned *i,
                   struct pb_err *err)
{
    size_t k = *pos;
    unsigned v = 0;
    size_t digits = 0;

#define SKIP_FWS                                                         \
    while (k < len && (pb_is_wsp(p[k]) || p[k] == '\r' || p[k] == '\n')) \
    k++
    SKIP_FWS;
    if (k >= len || lower((unsigned char)p[k]) != 'i')
        goto bad;
    k++;
    SKIP_FWS;
    if (k >= len || p[k] != '=')
        goto bad;
    k++;
    SKIP_FWS;
    while (k < len && pb_is_digit(p[k]) && digits < 3) {
        v = v * 10 + (unsigned)(p[k] - '0');
        k++;
        digits++;
    }
    SKIP_FWS;
#undef SKIP_FWS
    /* RFC 8617 §4.2.1: instances 1 to 50 */
    if (digits == 0 || v < 1 || v > 50 || k >= len || p[k] != ';')
        goto bad;
    *pos = k + 1;
    *i = v;
    return 0;
bad:
    pb_err_set(err, PB_STAGE_NONE, PB_E_SYNTAX,
               "ARC-Authentication-Results without a valid \"i=\" (1..50)");
    pb_err_evidence(err, p, len);
    return -1;
}

int
authres_parse_field(const char *p, size_t len, struct authres *out,
                    struct pb_err *err)
{
    static const char ar_name[] = "authentication-results";
    static const char arc_name[] = "arc-authentication-results";
    size_t k = 0, nlen;
    bool is_arc;
    unsigned arc_i = 0;

    memset(out, 0, sizeof(*out));
    while (k < len && p[k] != ':' && !pb_is_wsp(p[k]))
        k++;
    nlen = k;
    while (k < len && pb_is_wsp(p[k]))
        k++; /* RFC 5322 §4.5.3 obs-optional: WSP before the colon */
    is_arc = span_eq(p, nlen, arc_name);
    if (k >= len || p[k] != ':' || (!is_arc && !span_eq(p, nlen, ar_name))) {
        pb_err_set(err, PB_STAGE_NONE, PB_E_SYNTAX,
                   "not an Authentication-Results field");
        pb_err_evidence(err, p, nlen < 64 ? nlen : 64);
        return -1;
    }
    k++;
    /* the field's final line end is not part of the value */
    if (len > k && p[len - 1] == '\n')
        len--;
    if (len > k && p[len - 1] == '\r')
        len--;
    if (is_arc && parse_arc_instance(p, len, &k, &arc_i, err) == -1)
        return -1;
    if (authres_parse(p + k, len - k, out, err) == -1)
        return -1;
    out->arc_i = arc_i;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Looking things up                                                   */

static const struct authres_result *
find_over(const struct authres *fields, size_t n, const char *method)
{
    const struct authres_result *first = NULL;
    size_t f, i;

    if (method == NULL)
        return NULL;
    for (f = 0; f < n; f++) {
        for (i = 0; i < fields[f].nresults; i++) {
            const struct authres_result *r = &fields[f].results[i];

            if (!str_eq(r->method, method))
                continue;
            if (r->status == AUTHRES_PASS)
                return r;
            if (first == NULL)
                first = r;
        }
    }
    return first;
}

const struct authres_result *
authres_find(const struct authres *ar, const char *method)
{
    return ar == NULL ? NULL : find_over(ar, 1, method);
}

const struct authres_result *
authres_find_in(const struct authres *fields, size_t n, const char *method)
{
    return fields == NULL ? NULL : find_over(fields, n, method);
}

const char *
authres_prop_get(const struct authres_result *r, const char *ptype,
                 const char *property)
{
    size_t i;

    if (r == NULL || ptype == NULL || property == NULL)
        return NULL;
    for (i = 0; i < r->nprops; i++)
        if (str_eq(r->props[i].ptype, ptype) &&
            str_eq(r->props[i].property, property))
            return r->props[i].value;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Trust                                                               */

bool
authres_id_match(const char *id, const char *pattern)
{
    size_t idlen, plen;

    if (pattern == NULL)
        return false;
    if (pattern[0] == '\0')
        return id == NULL;
    if (id == NULL)
        return false;
    idlen = strlen(id);
    plen = strlen(pattern);
    /* a final dot (an absolute name) means the same name */
    if (idlen > 0 && id[idlen - 1] == '.')
        idlen--;
    if (plen > 0 && pattern[plen - 1] == '.')
        plen--;
    if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
        /* "*.example.com": id ends with ".example.com", a label before */
        const char *suffix = pattern + 1;
        size_t slen = plen - 1;

        if (memchr(suffix, '*', slen) != NULL)
            return false;
        return idlen > slen && id[idlen - slen - 1] != '.' &&
               spans_eq(id + idlen - slen, suffix, slen);
    }
    if (memchr(pattern, '*', plen) != NULL)
        return false; /* no other wildcard */
    return idlen == plen && spans_eq(id, pattern, idlen);
}

size_t
authres_trust_pick(const struct authres *fields, size_t n,
                   const char *const *patterns, size_t npatterns,
                   enum authres_trust *verdict, size_t *first)
{
    size_t i, j, count = 0;
    bool in_block = false, block_done = false;

    *first = n;
    for (i = 0; i < n; i++) {
        bool match = false;

        for (j = 0; j < npatterns && !match; j++)
            match = authres_id_match(fields[i].authserv_id, patterns[j]);
        if (match && !block_done) {
            if (!in_block) {
                in_block = true;
                *first = i;
            }
            verdict[i] = AUTHRES_TRUSTED;
            count++;
            continue;
        }
        if (in_block)
            block_done = true; /* the receiver's block ended */
        if (match)
            verdict[i] = AUTHRES_UNTRUSTED_BELOW;
        else if (fields[i].authserv_id == NULL)
            verdict[i] = AUTHRES_UNTRUSTED_NO_ID;
        else
            verdict[i] = AUTHRES_UNTRUSTED_ID;
    }
    return count;
}
