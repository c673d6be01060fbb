/* SPDX-License-Identifier: MIT */
/*
 * DKIM verification (RFC 6376 §6): each DKIM-Signature parsed (§3.5), its
 * key fetched from DNS and judged (§3.6.1, §6.1.2; RFC 8301 key sizes and
 * rsa-sha1; RFC 8463 ed25519), the body hash over the l= prefix (§3.7), the
 * header hash with h= selecting fields bottom-up (§5.4.2), checked with
 * OpenSSL.  Not done: ARC (RFC 8617), comparing z= with the header, the
 * MIME-aware reading of l= ("N-4"), DNSSEC.
 */
#include "dkim_verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "pb_buf.h"
#include "pb_ctype.h"
#include "pb_dkim_canon.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/* ------------------------------------------------------------------ */
/* Names                                                               */

const char *
dkim_verify_status_name(enum dkim_verify_status s)
{
    static const char *const names[] = {
        [DKIM_VERIFY_NONE] = "none",
        [DKIM_VERIFY_PASS] = "pass",
        [DKIM_VERIFY_FAIL] = "fail",
        [DKIM_VERIFY_POLICY] = "policy",
        [DKIM_VERIFY_NEUTRAL] = "neutral",
        [DKIM_VERIFY_TEMPERROR] = "temperror",
        [DKIM_VERIFY_PERMERROR] = "permerror",
    };

    if ((size_t)s >= sizeof(names) / sizeof(names[0]))
        return "none";
    return names[s];
}

const char *
dkim_verify_reason_name(enum dkim_verify_reason r)
{
    static const char *const names[] = {
        [DKIM_VERIFY_R_OK] = "ok",
        [DKIM_VERIFY_R_BODY_HASH] = "body-hash",
        [DKIM_VERIFY_R_BODY_LENGTH] = "body-length",
        [DKIM_VERIFY_R_SIGNATURE] = "signature",
        [DKIM_VERIFY_R_KEY_TOO_SHORT] = "key-too-short",
        [DKIM_VERIFY_R_WEAK_HASH] = "weak-hash",
        [DKIM_VERIFY_R_DNS] = "dns",
        [DKIM_VERIFY_R_SYNTAX] = "syntax",
        [DKIM_VERIFY_R_LIMIT] = "limit",
        [DKIM_VERIFY_R_VERSION] = "version",
        [DKIM_VERIFY_R_ALGORITHM] = "algorithm",
        [DKIM_VERIFY_R_CANON] = "canonicalization",
        [DKIM_VERIFY_R_QUERY] = "query-method",
        [DKIM_VERIFY_R_DOMAIN] = "domain",
        [DKIM_VERIFY_R_SELECTOR] = "selector",
        [DKIM_VERIFY_R_IDENTITY] = "identity",
        [DKIM_VERIFY_R_FROM] = "from-not-signed",
        [DKIM_VERIFY_R_EXPIRED] = "expired",
        [DKIM_VERIFY_R_KEY_MISSING] = "key-missing",
        [DKIM_VERIFY_R_KEY_SYNTAX] = "key-syntax",
        [DKIM_VERIFY_R_KEY_VERSION] = "key-version",
        [DKIM_VERIFY_R_KEY_REVOKED] = "key-revoked",
        [DKIM_VERIFY_R_KEY_UNUSABLE] = "key-unusable",
        [DKIM_VERIFY_R_KEY_TYPE] = "key-type",
        [DKIM_VERIFY_R_KEY_HASH] = "key-hash",
        [DKIM_VERIFY_R_KEY_SERVICE] = "key-service",
        [DKIM_VERIFY_R_KEY_STRICT] = "key-strict",
    };

    if ((size_t)r >= sizeof(names) / sizeof(names[0]) || names[r] == NULL)
        return "unknown";
    return names[r];
}

const char *
dkim_verify_alg_name(enum dkim_verify_alg a)
{
    switch (a) {
    case DKIM_VERIFY_ALG_RSA_SHA256:
        return "rsa-sha256";
    case DKIM_VERIFY_ALG_RSA_SHA1:
        return "rsa-sha1";
    case DKIM_VERIFY_ALG_ED25519_SHA256:
        return "ed25519-sha256";
    default:
        return "unknown";
    }
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static int
ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* (p, len) is w, ASCII case-insensitive: RFC 5234 §2.3 strings are. */
static bool
word_is(const char *p, size_t len, const char *w)
{
    return strlen(w) == len && strncasecmp(p, w, len) == 0;
}

static bool
is_fws_byte(unsigned char c)
{
    return pb_is_wsp(c) || c == '\r' || c == '\n';
}

/* Trim FWS from both ends of [*s, *e). */
static void
trim_fws(const char *p, size_t *s, size_t *e)
{
    while (*s < *e && is_fws_byte((unsigned char)p[*s]))
        (*s)++;
    while (*e > *s && is_fws_byte((unsigned char)p[*e - 1]))
        (*e)--;
}

/* Outside text into dst, escaped, with "..." when cut. */
static void
copy_text(char *dst, size_t size, const char *p, size_t len)
{
    if (pb_escape_to(dst, size - 3, p, len) == -1)
        strcat(dst, "...");
}

/* Append to the sentence in why (size bytes), cutting with "...". */
static void append_why(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
append_why(char *why, size_t size, const char *fmt, ...)
{
    size_t used = strlen(why);
    va_list ap;
    int n;

    if (used + 4 >= size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(why + used, size - used, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n >= size - used)
        memcpy(why + size - 4, "...", 4);
}

/* ------------------------------------------------------------------ */
/* Parsing one DKIM-Signature (RFC 6376 §3.5)                          */

static int sig_fail(struct dkim_verify_sig *s, enum dkim_verify_reason r,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
sig_fail(struct dkim_verify_sig *s, enum dkim_verify_reason r, const char *fmt,
         ...)
{
    va_list ap;
    int n;

    s->reason = r;
    va_start(ap, fmt);
    n = vsnprintf(s->why, sizeof(s->why), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n >= sizeof(s->why))
        memcpy(s->why + sizeof(s->why) - 4, "...", 4);
    return -1;
}

/* A tag value for a sentence: escaped, cut with "..." to fit buf. */
static const char *
clip(const struct dkim_tag *t, char *buf, size_t size)
{
    copy_text(buf, size, t->value, t->len);
    return buf;
}

static const struct dkim_tag *
find_tag(const struct dkim_record *rec, const char *name)
{
    size_t i;

    /* RFC 6376 §3.2: tag names are case-sensitive */
    for (i = 0; i < rec->ntags; i++)
        if (strcmp(rec->tags[i].name, name) == 0)
            return &rec->tags[i];
    return NULL;
}

/*
 * RFC 6376 §3.5 d=: domain-name = sub-domain 1*("." sub-domain), and
 * sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2).  Leniency: "_" is
 * accepted in a label, as DNS allows it.  NULL when valid, else why.
 */
static const char *
domain_problem(const char *s, size_t n, char *buf, size_t size)
{
    size_t i, label = 0, labels = 1;

    if (n == 0)
        return "it is empty";
    if (n > PB_LIMIT_DNS_NAME)
        return "it is longer than the 253 octets of a DNS name";
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return "it has an empty label or one ending in \"-\"";
            label = 0;
            labels++;
            continue;
        }
        if (!pb_is_alnum(c) && c != '-' && c != '_') {
            if (c > 0x20 && c < 0x7f)
                snprintf(buf, size,
                         "\"%c\" cannot appear in a domain name (letters, "
                         "digits, \"-\" and \".\" only)",
                         c);
            else
                snprintf(buf, size,
                         "byte 0x%02x cannot appear in a domain name "
                         "(an internationalized name goes as A-labels)",
                         c);
            return buf;
        }
        if (c == '-' && label == 0)
            return "a label starts with \"-\"";
        if (++label > PB_LIMIT_DNS_LABEL)
            return "a label is longer than 63 octets";
    }
    if (label == 0 || s[n - 1] == '-')
        return "it ends in \".\" or \"-\"";
    if (labels < 2)
        return "it has one label, a domain name has at least two";
    return NULL;
}

/*
 * RFC 6376 §2.4 base64string: the base64 alphabet with FWS anywhere and
 * "=" padding only at the end.  Leniency: missing padding is accepted.
 * Returns 0, -1 when not base64, -2 when over max octets.
 */
static int
b64_decode(const char *p, size_t len, unsigned char *out, size_t max,
           size_t *outlen)
{
    unsigned long acc = 0;
    size_t i, n = 0, npad = 0, o = 0, rem;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        int v;

        if (is_fws_byte(c))
            continue;
        if (c == '=') {
            if (++npad > 2)
                return -1;
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else
            return -1;
        if (npad > 0)
            return -1; /* data after the padding */
        acc = (acc << 6 | (unsigned long)v) & 0xffffffUL;
        if (++n % 4 == 0) {
            if (o + 3 > max)
                return -2;
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
        }
    }
    rem = n % 4;
    if (rem == 1 || (npad > 0 && (n + npad) % 4 != 0))
        return -1;
    if (o + (rem == 0 ? 0 : rem - 1) > max)
        return -2;
    if (rem == 2) {
        out[o++] = (unsigned char)(acc >> 4);
    } else if (rem == 3) {
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    *outlen = o;
    return 0;
}

/*
 * A tag value of digits only, at most maxdigits of them.  Values past
 * UINT64_MAX become UINT64_MAX.  Returns 0 or -1.
 */
static int
parse_number(const struct dkim_tag *t, size_t maxdigits, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (t->len == 0 || t->len > maxdigits)
        return -1;
    for (i = 0; i < t->len; i++) {
        unsigned d;

        if (!pb_is_digit((unsigned char)t->value[i]))
            return -1;
        d = (unsigned)(t->value[i] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return 0;
}

/* h=: names separated by ":" with FWS around them (RFC 6376 §3.5). */
static int
parse_hlist(struct dkim_verify_sig *s)
{
    const char *p = s->tag_h->value;
    size_t len = s->tag_h->len, i = 0, cap = 0;

    for (;;) {
        size_t start = i, end, k;

        while (i < len && p[i] != ':')
            i++;
        end = i;
        trim_fws(p, &start, &end);
        if (end == start)
            return sig_fail(s, DKIM_VERIFY_R_SYNTAX,
                            "h= has an empty header field name");
        for (k = start; k < end; k++) {
            unsigned char c = (unsigned char)p[k];

            /* RFC 5322 §3.6.8 ftext */
            if (c < 33 || c > 126)
                return sig_fail(s, DKIM_VERIFY_R_SYNTAX,
                                "h= has a name with a space or a byte "
                                "outside printable ASCII");
        }
        if (s->nheaders == DKIM_VERIFY_MAX_HEADERS)
            return sig_fail(s, DKIM_VERIFY_R_LIMIT,
                            "h= names over %d header fields, over the limit",
                            DKIM_VERIFY_MAX_HEADERS);
        if (s->nheaders == cap) {
            cap = cap ? cap * 2 : 16;
            s->headers = pb_xreallocarray(s->headers, cap, sizeof(*s->headers));
        }
        s->headers[s->nheaders].p = p + start;
        s->headers[s->nheaders].len = end - start;
        s->nheaders++;
        if (word_is(p + start, end - start, "from"))
            s->nfrom++;
        if (i == len)
            return 0;
        i++; /* the colon */
    }
}

/* c=: header[/body], simple by default (RFC 6376 §3.5). */
static int
parse_canon(struct dkim_verify_sig *s)
{
    const char *p = s->tag_c->value, *slash;
    size_t len = s->tag_c->len, hl;
    char v[64];

    slash = memchr(p, '/', len);
    hl = slash != NULL ? (size_t)(slash - p) : len;
    if (word_is(p, hl, "relaxed"))
        s->header_canon = PB_DKIM_CANON_RELAXED;
    else if (!word_is(p, hl, "simple"))
        goto bad;
    if (slash != NULL) {
        const char *b = slash + 1;
        size_t bl = len - hl - 1;

        if (word_is(b, bl, "relaxed"))
            s->body_canon = PB_DKIM_CANON_RELAXED;
        else if (!word_is(b, bl, "simple"))
            goto bad;
    }
    return 0;
bad:
    return sig_fail(s, DKIM_VERIFY_R_CANON,
                    "c=%s is not a canonicalization (simple or relaxed, "
                    "header/body)",
                    clip(s->tag_c, v, sizeof(v)));
}

/* q=: a list of methods; dns/txt is the only one defined (§3.5). */
static int
parse_query(struct dkim_verify_sig *s)
{
    const char *p = s->tag_q->value;
    size_t len = s->tag_q->len, i = 0;
    char v[64];

    while (i <= len) {
        size_t start = i, end;

        while (i < len && p[i] != ':')
            i++;
        end = i;
        trim_fws(p, &start, &end);
        /* leniency: "dns" alone, as DomainKeys-era signers write it */
        if (word_is(p + start, end - start, "dns/txt") ||
            word_is(p + start, end - start, "dns"))
            return 0;
        i++;
    }
    return sig_fail(s, DKIM_VERIFY_R_QUERY,
                    "q=%s names no key query method this verifier knows "
                    "(dns/txt)",
                    clip(s->tag_q, v, sizeof(v)));
}

/* i=: [local-part] "@" domain, the domain d= or under it (§3.5). */
static int
parse_identity(struct dkim_verify_sig *s)
{
    const char *p = s->tag_i->value, *at, *dom;
    size_t len = s->tag_i->len, dl, n = strlen(s->domain), k;
    char v[64], buf[128];
    const char *why;

    if (len > DKIM_VERIFY_MAX_IDENTITY)
        return sig_fail(s, DKIM_VERIFY_R_LIMIT,
                        "i= is %zu octets, over the limit of %d", len,
                        DKIM_VERIFY_MAX_IDENTITY);
    at = NULL;
    for (k = len; k > 0; k--)
        if (p[k - 1] == '@') {
            at = p + k - 1;
            break;
        }
    if (at == NULL)
        return sig_fail(s, DKIM_VERIFY_R_IDENTITY,
                        "i=%s has no \"@\" ([local-part]@domain)",
                        clip(s->tag_i, v, sizeof(v)));
    dom = at + 1;
    dl = len - (size_t)(dom - p);
    why = domain_problem(dom, dl, buf, sizeof(buf));
    if (why != NULL)
        return sig_fail(s, DKIM_VERIFY_R_IDENTITY,
                        "the domain of i=%s is not a domain name: %s",
                        clip(s->tag_i, v, sizeof(v)), why);
    if (dl == n && strncasecmp(dom, s->domain, n) == 0) {
        s->is_identity_strict = true;
        return 0;
    }
    if (dl > n && dom[dl - n - 1] == '.' &&
        strncasecmp(dom + dl - n, s->domain, n) == 0)
        return 0;
    return sig_fail(s, DKIM_VERIFY_R_IDENTITY,
                    "i=%s is not at d=%s or under it (RFC 6376 section 3.5)",
                    clip(s->tag_i, v, sizeof(v)), s->domain);
}

void
dkim_verify_sig_release(struct dkim_verify_sig *sig)
{
    if (sig == NULL)
        return;
    dkim_record_release(sig->tags);
    free(sig->tags);
    free(sig->headers);
    free(sig->b);
    memset(sig, 0, sizeof(*sig));
}

int
dkim_verify_sig_parse(const char *p, size_t len, struct dkim_verify_sig *out)
{
    static const char *const required[] = {"v", "a", "b", "bh", "d", "h", "s"};
    char why[192], v[64], buf[128];
    const char *problem;
    size_t i, n, hashlen;
    uint64_t num;
    int rc;

    memset(out, 0, sizeof(*out));
    out->timestamp = out->expiry = -1;
    /* the tag-list grammar of §3.2 is shared with key records */
    out->tags = pb_xcalloc(1, sizeof(*out->tags));
    if (dkim_record_parse(p, len, out->tags, why, sizeof(why)) == -1) {
        free(out->tags);
        out->tags = NULL;
        return sig_fail(out,
                        strstr(why, "over the limit") != NULL
                            ? DKIM_VERIFY_R_LIMIT
                            : DKIM_VERIFY_R_SYNTAX,
                        "the tag-list does not parse: %s", why);
    }
    out->tag_v = find_tag(out->tags, "v");
    out->tag_a = find_tag(out->tags, "a");
    out->tag_b = find_tag(out->tags, "b");
    out->tag_bh = find_tag(out->tags, "bh");
    out->tag_c = find_tag(out->tags, "c");
    out->tag_d = find_tag(out->tags, "d");
    out->tag_h = find_tag(out->tags, "h");
    out->tag_i = find_tag(out->tags, "i");
    out->tag_l = find_tag(out->tags, "l");
    out->tag_q = find_tag(out->tags, "q");
    out->tag_s = find_tag(out->tags, "s");
    out->tag_t = find_tag(out->tags, "t");
    out->tag_x = find_tag(out->tags, "x");
    out->tag_z = find_tag(out->tags, "z");

    /* §6.1.1: a signature without a required tag is ignored, PERMFAIL */
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (find_tag(out->tags, required[i]) == NULL)
            return sig_fail(out, DKIM_VERIFY_R_SYNTAX,
                            "no %s= tag, which RFC 6376 section 3.5 "
                            "requires",
                            required[i]);
    /* §6.1.1: incompatible version */
    if (!(out->tag_v->len == 1 && out->tag_v->value[0] == '1'))
        return sig_fail(out, DKIM_VERIFY_R_VERSION, "v=%s is not v=1",
                        clip(out->tag_v, v, sizeof(v)));
    if (word_is(out->tag_a->value, out->tag_a->len, "rsa-sha256"))
        out->alg = DKIM_VERIFY_ALG_RSA_SHA256;
    else if (word_is(out->tag_a->value, out->tag_a->len, "ed25519-sha256"))
        out->alg = DKIM_VERIFY_ALG_ED25519_SHA256;
    else if (word_is(out->tag_a->value, out->tag_a->len, "rsa-sha1"))
        out->alg = DKIM_VERIFY_ALG_RSA_SHA1;
    else
        return sig_fail(out, DKIM_VERIFY_R_ALGORITHM,
                        "a=%s is not a signing algorithm this verifier "
                        "knows (rsa-sha256, ed25519-sha256, rsa-sha1)",
                        clip(out->tag_a, v, sizeof(v)));

    /* d= and s= name the key in DNS: check them before anything is asked */
    problem =
        domain_problem(out->tag_d->value, out->tag_d->len, buf, sizeof(buf));
    if (problem != NULL)
        return sig_fail(out, DKIM_VERIFY_R_DOMAIN,
                        "d=%s is not a valid domain name: %s; no key was "
                        "looked up",
                        clip(out->tag_d, v, sizeof(v)), problem);
    for (i = 0; i < out->tag_d->len; i++)
        out->domain[i] = (char)ascii_lower((unsigned char)out->tag_d->value[i]);
    out->domain[i] = '\0';
    if (out->tag_s->len > PB_LIMIT_DNS_NAME ||
        dkim_selector_check(out->tag_s->value, &problem) == -1)
        return sig_fail(out, DKIM_VERIFY_R_SELECTOR,
                        "s=%s is not a valid selector: %s; no key was "
                        "looked up",
                        clip(out->tag_s, v, sizeof(v)),
                        out->tag_s->len > PB_LIMIT_DNS_NAME
                            ? "it is longer than a DNS name"
                            : problem);
    for (i = 0; i < out->tag_s->len; i++)
        out->selector[i] =
            (char)ascii_lower((unsigned char)out->tag_s->value[i]);
    out->selector[i] = '\0';

    if (out->tag_c != NULL && parse_canon(out) == -1)
        return -1;
    if (out->tag_q != NULL && parse_query(out) == -1)
        return -1;
    if (parse_hlist(out) == -1)
        return -1;
    /* §6.1.1: From must be signed */
    if (out->nfrom == 0)
        return sig_fail(out, DKIM_VERIFY_R_FROM,
                        "h= does not name From; RFC 6376 section 5.4 "
                        "requires it signed");
    if (out->tag_i != NULL) {
        if (parse_identity(out) == -1)
            return -1;
    } else {
        out->is_identity_strict = true; /* §3.5: i= defaults to @d */
    }
    if (out->tag_l != NULL) {
        /* §3.5: l= is 1*76DIGIT */
        if (parse_number(out->tag_l, 76, &out->length) == -1)
            return sig_fail(out, DKIM_VERIFY_R_SYNTAX,
                            "l=%s is not a number of octets",
                            clip(out->tag_l, v, sizeof(v)));
        out->has_length = true;
    }
    /* §3.5: t= and x= are 1*12DIGIT; accept up to 15 (more than 40 bits) */
    if (out->tag_t != NULL) {
        if (parse_number(out->tag_t, 15, &num) == -1)
            return sig_fail(out, DKIM_VERIFY_R_SYNTAX,
                            "t=%s is not a time in seconds",
                            clip(out->tag_t, v, sizeof(v)));
        out->timestamp = (int64_t)num;
    }
    if (out->tag_x != NULL) {
        if (parse_number(out->tag_x, 15, &num) == -1)
            return sig_fail(out, DKIM_VERIFY_R_SYNTAX,
                            "x=%s is not a time in seconds",
                            clip(out->tag_x, v, sizeof(v)));
        out->expiry = (int64_t)num;
        /* §3.5: x= MUST be greater than t= */
        if (out->timestamp >= 0 && out->expiry <= out->timestamp)
            return sig_fail(out, DKIM_VERIFY_R_EXPIRED,
                            "x=%lld is not after t=%lld",
                            (long long)out->expiry, (long long)out->timestamp);
    }

    hashlen = out->alg == DKIM_VERIFY_ALG_RSA_SHA1 ? 20 : 32;
    rc = b64_decode(out->tag_bh->value, out->tag_bh->len, out->bh,
                    sizeof(out->bh), &n);
    if (rc == 0 && n != hashlen)
        return sig_fail(out, DKIM_VERIFY_R_SYNTAX,
                        "bh= holds %zu octets; the hash of a=%s has %zu", n,
                        dkim_verify_alg_name(out->alg), hashlen);
    if (rc != 0)
        return sig_fail(out, DKIM_VERIFY_R_SYNTAX, "bh= is not base64");
    out->bh_len = n;

    out->b = pb_xmalloc(DKIM_VERIFY_MAX_B);
    rc = b64_decode(out->tag_b->value, out->tag_b->len, out->b,
                    DKIM_VERIFY_MAX_B, &out->b_len);
    if (rc == -2)
        return sig_fail(out, DKIM_VERIFY_R_LIMIT,
                        "b= holds over %d octets, over the limit",
                        DKIM_VERIFY_MAX_B);
    if (rc != 0)
        return sig_fail(out, DKIM_VERIFY_R_SYNTAX, "b= is not base64");
    if (out->b_len == 0)
        return sig_fail(out, DKIM_VERIFY_R_SYNTAX, "b= is empty");

    /* where b='s value lies in p: from after the "=" to the ";" or end */
    i = out->tag_b->offset + 1;
    while (i < len && p[i] != '=')
        i++;
    if (i == len)
        pb_panic("dkim_verify: b= tag without \"=\"");
    out->b_start = i + 1;
    for (i = out->b_start; i < len && p[i] != ';'; i++)
        ;
    out->b_end = i;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Hashing                                                             */

/* Canonical bytes into a digest, the first `left` of them only. */
struct hash_sink {
    EVP_MD_CTX *md;
    uint64_t left;
    size_t total;
    bool failed;
};

static void
hash_sink(void *arg, const void *p, size_t len)
{
    struct hash_sink *h = arg;
    size_t n = (uint64_t)len < h->left ? len : (size_t)h->left;

    h->total += len;
    if (n > 0 && !h->failed && EVP_DigestUpdate(h->md, p, n) != 1)
        h->failed = true;
    h->left -= n;
}

/* A body hash, kept for signatures with the same canon, hash and l=. */
struct body_hash {
    enum pb_dkim_canon canon;
    bool is_sha1;
    uint64_t limit; /* UINT64_MAX without l= */
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned hlen;
    size_t total; /* canonical body octets */
};

struct verifier {
    struct dns_resolver *r;
    const struct pb_dkim_canon_msg *m;
    int64_t now;
    size_t nfrom; /* From fields of the message */
    EVP_MD_CTX *md;
    struct body_hash bodies[DKIM_VERIFY_MAX_SIGNATURES];
    size_t nbodies;
};

static const EVP_MD *
md_of(enum dkim_verify_alg alg)
{
    return alg == DKIM_VERIFY_ALG_RSA_SHA1 ? EVP_sha1() : EVP_sha256();
}

static int
internal(struct pb_err *err, const char *what)
{
    ERR_clear_error();
    return pb_err_set(err, PB_STAGE_NONE, PB_E_INTERNAL, "OpenSSL failed: %s",
                      what);
}

/* RFC 6376 §3.7 step 1: the body hash, computed once per kind. */
static const struct body_hash *
body_hash(struct verifier *v, const struct dkim_verify_sig *sig,
          struct pb_err *err)
{
    const struct pb_dkim_canon_msg *m = v->m;
    bool is_sha1 = sig->alg == DKIM_VERIFY_ALG_RSA_SHA1;
    uint64_t limit = sig->has_length ? sig->length : UINT64_MAX;
    struct hash_sink hs;
    struct body_hash *b;
    size_t i;

    for (i = 0; i < v->nbodies; i++) {
        b = &v->bodies[i];
        if (b->canon == sig->body_canon && b->is_sha1 == is_sha1 &&
            b->limit == limit)
            return b;
    }
    if (v->nbodies == DKIM_VERIFY_MAX_SIGNATURES)
        pb_panic("dkim_verify: more body hashes than signatures");
    b = &v->bodies[v->nbodies];
    b->canon = sig->body_canon;
    b->is_sha1 = is_sha1;
    b->limit = limit;
    hs.md = v->md;
    hs.left = limit;
    hs.total = 0;
    hs.failed = false;
    if (EVP_DigestInit_ex(v->md, md_of(sig->alg), NULL) != 1) {
        internal(err, "digest init");
        return NULL;
    }
    pb_dkim_canon_body(sig->body_canon, m->p + m->body_off,
                       m->len - m->body_off, hash_sink, &hs);
    if (hs.failed || EVP_DigestFinal_ex(v->md, b->hash, &b->hlen) != 1) {
        internal(err, "digest");
        return NULL;
    }
    b->total = hs.total;
    v->nbodies++;
    return b;
}

/*
 * RFC 6376 §3.7 step 2, §5.4.2: the fields h= names, each name taking the
 * next instance from the bottom (a name with none left adds nothing), then
 * the signature field itself with b= emptied and no final CRLF.  value_off:
 * where the field's value (what sig was parsed from) starts in m->p.
 */
static int
header_hash(struct verifier *v, const struct dkim_verify_sig *sig,
            const struct pb_dkim_canon_field *self, size_t value_off,
            unsigned char *hash, unsigned *hlen, struct pb_err *err)
{
    const struct pb_dkim_canon_msg *m = v->m;
    struct hash_sink hs = {v->md, UINT64_MAX, 0, false};
    size_t i, end = self->off + self->len - 2;
    bool *used;
    char *copy;
    size_t n;
    int rc = -1;

    if (EVP_DigestInit_ex(v->md, md_of(sig->alg), NULL) != 1)
        return internal(err, "digest init");
    used = pb_xcalloc(m->nfields ? m->nfields : 1, sizeof(*used));
    /* the signature did not exist when it was made: a dkim-signature in
     * h= cannot select it (§3.5: it is hashed last, below) */
    used[self - m->fields] = true;
    for (i = 0; i < sig->nheaders; i++) {
        size_t j = m->nfields;

        while (j-- > 0) {
            const struct pb_dkim_canon_field *f = &m->fields[j];

            if (!used[j] && pb_dkim_canon_field_is(m, f, sig->headers[i].p,
                                                   sig->headers[i].len)) {
                used[j] = true;
                pb_dkim_canon_header(sig->header_canon, m->p + f->off, f->len,
                                     hash_sink, &hs);
                break;
            }
        }
    }
    /* the field without its CRLF, and without b='s value */
    copy = pb_xmalloc(end - self->off + 1);
    n = value_off + sig->b_start - self->off;
    memcpy(copy, m->p + self->off, n);
    memcpy(copy + n, m->p + value_off + sig->b_end,
           end - (value_off + sig->b_end));
    n += end - (value_off + sig->b_end);
    pb_dkim_canon_header(sig->header_canon, copy, n, hash_sink, &hs);
    free(copy);
    if (hs.failed || EVP_DigestFinal_ex(v->md, hash, hlen) != 1) {
        internal(err, "digest");
        goto out;
    }
    rc = 0;
out:
    free(used);
    return rc;
}

/* The public key of a judged record as OpenSSL's, or NULL. */
static EVP_PKEY *
pkey_of(const struct dkim_record *rec)
{
    const unsigned char *q = rec->key;
    EVP_PKEY *pk = NULL;

    switch (rec->key_form) {
    case DKIM_FORM_SPKI:
        pk = d2i_PUBKEY(NULL, &q, (long)rec->key_len);
        break;
    case DKIM_FORM_PKCS1:
        pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)rec->key_len);
        break;
    case DKIM_FORM_RAW:
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, rec->key,
                                         rec->key_len);
        break;
    default:
        break;
    }
    ERR_clear_error();
    return pk;
}

/*
 * Check b= over hash: RSASSA-PKCS1-v1_5 with the hash of a= (RFC 6376
 * §3.3), or Ed25519 over the SHA-256 hash itself (RFC 8463 §3).  Sets
 * *ok; returns -1 only when OpenSSL cannot be set up.
 */
static int
check_signature(EVP_PKEY *pk, const struct dkim_verify_sig *sig,
                const unsigned char *hash, unsigned hlen, bool *ok,
                struct pb_err *err)
{
    *ok = false;
    if (sig->alg == DKIM_VERIFY_ALG_ED25519_SHA256) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();

        if (c == NULL || EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) != 1) {
            EVP_MD_CTX_free(c);
            return internal(err, "Ed25519 verification set-up");
        }
        *ok = EVP_DigestVerify(c, sig->b, sig->b_len, hash, hlen) == 1;
        EVP_MD_CTX_free(c);
    } else {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);

        if (c == NULL || EVP_PKEY_verify_init(c) <= 0 ||
            EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_signature_md(c, md_of(sig->alg)) <= 0) {
            EVP_PKEY_CTX_free(c);
            return internal(err, "RSA verification set-up");
        }
        *ok = EVP_PKEY_verify(c, sig->b, sig->b_len, hash, hlen) == 1;
        EVP_PKEY_CTX_free(c);
    }
    ERR_clear_error(); /* a bad signature leaves reasons queued */
    return 0;
}

/* ------------------------------------------------------------------ */
/* The key (RFC 6376 §3.6.1, §6.1.2)                                   */

static void set_result(struct dkim_verify_result *res,
                       enum dkim_verify_status st, enum dkim_verify_reason r,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
set_result(struct dkim_verify_result *res, enum dkim_verify_status st,
           enum dkim_verify_reason r, const char *fmt, ...)
{
    va_list ap;
    int n;

    res->status = st;
    res->reason = r;
    va_start(ap, fmt);
    n = vsnprintf(res->why, sizeof(res->why), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n >= sizeof(res->why))
        memcpy(res->why + sizeof(res->why) - 4, "...", 4);
}

/*
 * Judge one key record for sig: 0 when it is usable (rec parsed), else
 * the result is set (permerror, or fail for a short RSA key) and -1.
 */
static int
judge_key(const struct dkim_verify_sig *sig, const char *txt, size_t len,
          struct dkim_record *rec, struct dkim_verify_result *res)
{
    char why[192], v[64];
    enum dkim_key_type want = sig->alg == DKIM_VERIFY_ALG_ED25519_SHA256
                                  ? DKIM_KEY_ED25519
                                  : DKIM_KEY_RSA;
    unsigned hash = sig->alg == DKIM_VERIFY_ALG_RSA_SHA1 ? DKIM_HASH_SHA1
                                                         : DKIM_HASH_SHA256;

    res->flags &= ~(DKIM_VERIFY_F_TESTING | DKIM_VERIFY_F_WEAK_KEY);
    res->key_bits = 0;
    if (dkim_record_parse(txt, len, rec, why, sizeof(why)) == -1) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_SYNTAX,
                   "the key record at %s does not parse: %s", res->key_name,
                   why);
        return -1;
    }
    /* §3.6.1: records whose v= is not DKIM1 are discarded.  Leniency:
     * another letter case, and v= not first, are accepted. */
    if (rec->version == DKIM_MATCH_NONE) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_VERSION,
                   "the key record at %s has v=%s, not v=DKIM1 (bad "
                   "version): verifiers discard it",
                   res->key_name, clip(rec->tag_v, v, sizeof(v)));
        return -1;
    }
    if (rec->key_type == DKIM_KEY_UNKNOWN) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_TYPE,
                   "the key record at %s has k=%s, not a key type (rsa or "
                   "ed25519)",
                   res->key_name, clip(rec->tag_k, v, sizeof(v)));
        return -1;
    }
    if (rec->key_type != want) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_TYPE,
                   "the key at %s is an %s key; a=%s needs an %s key",
                   res->key_name, dkim_key_type_name(rec->key_type),
                   dkim_verify_alg_name(sig->alg), dkim_key_type_name(want));
        return -1;
    }
    if ((rec->hashes & hash) == 0) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_HASH,
                   "the key record at %s allows only h=%s, not the %s of "
                   "a=%s",
                   res->key_name, clip(rec->tag_h, v, sizeof(v)),
                   hash == DKIM_HASH_SHA1 ? "sha1" : "sha256",
                   dkim_verify_alg_name(sig->alg));
        return -1;
    }
    if ((rec->services & (DKIM_SERVICE_ANY | DKIM_SERVICE_EMAIL)) == 0) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_SERVICE,
                   "the key at %s is for s=%s only, not for email",
                   res->key_name, clip(rec->tag_s, v, sizeof(v)));
        return -1;
    }
    if ((rec->flags & DKIM_FLAG_STRICT) != 0 && !sig->is_identity_strict) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_STRICT,
                   "the key at %s has t=s, so i= must be at d=%s itself, "
                   "not under it",
                   res->key_name, sig->domain);
        return -1;
    }
    if (rec->tag_p == NULL) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_SYNTAX,
                   "the key record at %s has no p= tag (the public key)",
                   res->key_name);
        return -1;
    }
    if (rec->is_revoked) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_REVOKED,
                   "the key at %s is revoked (empty p=)", res->key_name);
        return -1;
    }
    if (rec->key == NULL || rec->key_error[0] != '\0' ||
        rec->key_form == DKIM_FORM_NONE) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_UNUSABLE,
                   "the key in p= at %s is unusable: %s", res->key_name,
                   rec->key_error[0] != '\0' ? rec->key_error
                                             : "it does not parse");
        return -1;
    }
    res->key_bits = rec->key_bits;
    if ((rec->flags & DKIM_FLAG_TESTING) != 0)
        res->flags |= DKIM_VERIFY_F_TESTING;
    if (rec->key_type == DKIM_KEY_RSA) {
        /* RFC 8301 §3.2: keys under 1024 bits are not valid */
        if (rec->key_bits < 1024) {
            set_result(res, DKIM_VERIFY_FAIL, DKIM_VERIFY_R_KEY_TOO_SHORT,
                       "the RSA key at %s has %u bits; RFC 8301 makes "
                       "signatures with keys under 1024 bits invalid",
                       res->key_name, rec->key_bits);
            return -1;
        }
        if (rec->key_bits < 2048)
            res->flags |= DKIM_VERIFY_F_WEAK_KEY;
    }
    return 0;
}

/*
 * Look up and choose the key of sig.  Returns 0 with *key (the caller
 * frees it) and rec, or -1 with the result set.  §6.1.2: of several
 * records the first usable one is taken; when none is, the first
 * record's problem is the result.
 */
static int
fetch_key(struct verifier *v, const struct dkim_verify_sig *sig,
          struct dkim_record *rec, EVP_PKEY **key,
          struct dkim_verify_result *res)
{
    const struct dns_answer *ans;
    struct dkim_verify_result first;
    size_t i, ntxt = 0, ndkim = 0;
    const char *why;
    int n;

    *key = NULL;
    n = snprintf(res->key_name, sizeof(res->key_name), "%s._domainkey.%s",
                 sig->selector, sig->domain);
    if (n < 0 || (size_t)n >= sizeof(res->key_name) ||
        dns_name_check(res->key_name, (size_t)n, &why) == -1) {
        res->key_name[0] = '\0';
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_LIMIT,
                   "s=%s and d=%s make a key name over the 253 octets of a "
                   "DNS name; no key was looked up",
                   sig->selector, sig->domain);
        return -1;
    }
    ans = dns_query(v->r, res->key_name, DNS_TYPE_TXT);
    if (ans->detail[0] != '\0')
        snprintf(res->dns, sizeof(res->dns), "%s: %s", dns_status_name(ans),
                 ans->detail);
    else
        snprintf(res->dns, sizeof(res->dns), "%s", dns_status_name(ans));
    /* §6.1.2: a query that does not answer is a TEMPFAIL */
    if (dns_answer_is_error(ans)) {
        set_result(res, DKIM_VERIFY_TEMPERROR, DKIM_VERIFY_R_DNS,
                   "the key lookup of %s failed (%s); a later try may "
                   "verify",
                   res->key_name, res->dns);
        return -1;
    }
    memset(&first, 0, sizeof(first));
    for (i = 0; i < ans->nrr; i++) {
        const struct dns_rr *rr = &ans->rr[i];

        if (rr->type != DNS_TYPE_TXT)
            continue;
        ntxt++;
        if (!dkim_record_looks_like(rr->data, rr->len))
            continue;
        if (ndkim++ == 0)
            copy_text(res->key_record, sizeof(res->key_record), rr->data,
                      rr->len);
        if (judge_key(sig, rr->data, rr->len, rec, res) == 0) {
            copy_text(res->key_record, sizeof(res->key_record), rr->data,
                      rr->len);
            *key = pkey_of(rec);
            if (*key != NULL)
                return 0;
            set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_UNUSABLE,
                       "OpenSSL cannot use the key at %s", res->key_name);
        }
        dkim_record_release(rec);
        if (ndkim == 1)
            first = *res;
    }
    if (ndkim > 0) {
        *res = first;
        return -1;
    }
    /* §6.1.2: no key record is a PERMFAIL (no key for signature) */
    if (ntxt == 0)
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_MISSING,
                   "no key at %s (%s): the key for s=%s is not published",
                   res->key_name,
                   ans->status == DNS_NXDOMAIN ? "NXDOMAIN" : "no TXT record",
                   sig->selector);
    else
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_KEY_MISSING,
                   "no key at %s: %zu TXT record%s, none a DKIM key record",
                   res->key_name, ntxt, ntxt == 1 ? "" : "s");
    return -1;
}

/* ------------------------------------------------------------------ */
/* One signature                                                       */

/* The tags as written into the result, for reports (also on failure). */
static void
report_tags(const struct dkim_verify_sig *sig, struct dkim_verify_result *res)
{
    if (sig->tags == NULL)
        return;
#define TAG(t, dst)                                            \
    do {                                                       \
        if ((t) != NULL)                                       \
            copy_text(dst, sizeof(dst), (t)->value, (t)->len); \
    } while (0)
    TAG(sig->tag_d, res->d);
    TAG(sig->tag_s, res->s);
    TAG(sig->tag_a, res->a);
    TAG(sig->tag_c, res->c);
    TAG(sig->tag_i, res->i);
#undef TAG
}

static int
verify_one(struct verifier *v, const struct pb_dkim_canon_field *f,
           struct dkim_verify_result *res, struct pb_err *err)
{
    const struct pb_dkim_canon_msg *m = v->m;
    const char *colon = memchr(m->p + f->off, ':', f->len);
    size_t voff = (size_t)(colon - m->p) + 1;
    size_t vlen = f->off + f->len - 2 - voff;
    struct dkim_verify_sig sig;
    struct dkim_record rec;
    const struct body_hash *bh;
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned hlen;
    EVP_PKEY *key = NULL;
    bool ok;
    int rc = -1;

    memset(&rec, 0, sizeof(rec));
    res->line = f->line;
    res->timestamp = res->expiry = -1;
    rc = dkim_verify_sig_parse(m->p + voff, vlen, &sig);
    /* what the signature says, as far as it parsed (for reports) */
    report_tags(&sig, res);
    memcpy(res->header_d, sig.domain, sizeof(res->header_d));
    res->alg = sig.alg;
    res->header_canon = sig.header_canon;
    res->body_canon = sig.body_canon;
    res->timestamp = sig.timestamp;
    res->expiry = sig.expiry;
    res->has_length = sig.has_length;
    res->length = sig.length;
    if (rc == -1) {
        set_result(res, DKIM_VERIFY_PERMERROR, sig.reason, "%s", sig.why);
        rc = 0;
        goto out;
    }
    rc = -1;
    if (sig.has_length)
        res->flags |= DKIM_VERIFY_F_BODY_LENGTH;
    if (sig.nfrom <= v->nfrom)
        res->flags |= DKIM_VERIFY_F_FROM_OPEN;
    if (v->nfrom != 1)
        res->flags |= DKIM_VERIFY_F_FROM_COUNT;
    if (sig.timestamp > v->now + DKIM_VERIFY_CLOCK_SKEW)
        res->flags |= DKIM_VERIFY_F_FUTURE;
    /* §3.5 x=: verifiers MAY consider the signature invalid once past it */
    if (sig.expiry >= 0 && sig.expiry < v->now) {
        set_result(res, DKIM_VERIFY_PERMERROR, DKIM_VERIFY_R_EXPIRED,
                   "the signature expired: x=%lld is %lld seconds ago",
                   (long long)sig.expiry, (long long)(v->now - sig.expiry));
        rc = 0;
        goto out;
    }
    if (fetch_key(v, &sig, &rec, &key, res) == -1) {
        rc = 0;
        goto out;
    }

    bh = body_hash(v, &sig, err);
    if (bh == NULL)
        goto out;
    res->body_len = bh->total;
    if (sig.has_length && sig.length > (uint64_t)bh->total) {
        set_result(res, DKIM_VERIFY_FAIL, DKIM_VERIFY_R_BODY_LENGTH,
                   "l=%llu, but the canonical body has %zu octets: the "
                   "body was cut after signing",
                   (unsigned long long)sig.length, bh->total);
    } else if (bh->hlen != sig.bh_len ||
               memcmp(bh->hash, sig.bh, sig.bh_len) != 0) {
        set_result(
            res, DKIM_VERIFY_FAIL, DKIM_VERIFY_R_BODY_HASH,
            "body hash mismatch: the body was changed after signing "
            "(c=%s/%s)",
            sig.header_canon == PB_DKIM_CANON_RELAXED ? "relaxed" : "simple",
            sig.body_canon == PB_DKIM_CANON_RELAXED ? "relaxed" : "simple");
    } else {
        if (header_hash(v, &sig, f, voff, hash, &hlen, err) == -1 ||
            check_signature(key, &sig, hash, hlen, &ok, err) == -1)
            goto out;
        if (!ok)
            set_result(res, DKIM_VERIFY_FAIL, DKIM_VERIFY_R_SIGNATURE,
                       "signature mismatch: a signed header field was "
                       "changed or added after signing, or the key at %s "
                       "is not the signer's",
                       res->key_name);
        else if (sig.alg == DKIM_VERIFY_ALG_RSA_SHA1)
            /* RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 valid */
            set_result(res, DKIM_VERIFY_POLICY, DKIM_VERIFY_R_WEAK_HASH,
                       "the rsa-sha1 signature verifies, but RFC 8301 "
                       "forbids accepting rsa-sha1: sign with rsa-sha256");
        else
            set_result(res, DKIM_VERIFY_PASS, DKIM_VERIFY_R_OK,
                       "verified with the %u-bit %s key at %s", res->key_bits,
                       sig.alg == DKIM_VERIFY_ALG_ED25519_SHA256 ? "ed25519"
                                                                 : "rsa",
                       res->key_name);
        if (res->reason == DKIM_VERIFY_R_SIGNATURE &&
            (res->flags & DKIM_VERIFY_F_FROM_COUNT) != 0)
            append_why(res->why, sizeof(res->why),
                       "; the message has %zu From fields", v->nfrom);
    }
    if (sig.has_length && res->status == DKIM_VERIFY_PASS)
        append_why(res->why, sizeof(res->why),
                   "; l= covers %llu of %zu body octets, the rest is "
                   "unsigned",
                   (unsigned long long)sig.length, bh->total);
    rc = 0;
out:
    /* §3.6.1 t=y: a failure must not count against the message */
    if (rc == 0 && (res->flags & DKIM_VERIFY_F_TESTING) != 0 &&
        (res->status == DKIM_VERIFY_FAIL ||
         res->status == DKIM_VERIFY_POLICY)) {
        res->status = DKIM_VERIFY_NEUTRAL;
        append_why(res->why, sizeof(res->why),
                   " (the key is in testing mode, t=y: receivers treat the "
                   "message as unsigned)");
    }
    EVP_PKEY_free(key);
    dkim_record_release(&rec);
    dkim_verify_sig_release(&sig);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The message                                                         */

void
dkim_verify_release(struct dkim_verify *v)
{
    if (v == NULL)
        return;
    free(v->results);
    memset(v, 0, sizeof(*v));
}

/* Rank of a result for the message: lower wins. */
static int
rank(enum dkim_verify_status s)
{
    switch (s) {
    case DKIM_VERIFY_PASS:
        return 0;
    case DKIM_VERIFY_TEMPERROR:
        return 1;
    case DKIM_VERIFY_FAIL:
        return 2;
    case DKIM_VERIFY_POLICY:
        return 3;
    case DKIM_VERIFY_NEUTRAL:
        return 4;
    case DKIM_VERIFY_PERMERROR:
        return 5;
    default:
        return 6;
    }
}

int
dkim_verify_message(struct dns_resolver *r, const void *msg, size_t len,
                    time_t now, struct dkim_verify *out, struct pb_err *err)
{
    struct pb_dkim_canon_msg m;
    struct verifier v;
    size_t i, k;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (pb_dkim_canon_split(msg, len, &m, err) == -1)
        return -1;
    memset(&v, 0, sizeof(v));
    v.r = r;
    v.m = &m;
    v.now = now != 0 ? (int64_t)now : (int64_t)time(NULL);
    for (i = 0; i < m.nfields; i++) {
        if (pb_dkim_canon_field_is(&m, &m.fields[i], "dkim-signature", 14))
            out->nsignatures++;
        else if (pb_dkim_canon_field_is(&m, &m.fields[i], "from", 4))
            v.nfrom++;
    }
    if (out->nsignatures == 0) {
        out->status = DKIM_VERIFY_NONE;
        pb_dkim_canon_msg_release(&m);
        return 0;
    }
    out->nresults = out->nsignatures < DKIM_VERIFY_MAX_SIGNATURES
                        ? out->nsignatures
                        : DKIM_VERIFY_MAX_SIGNATURES;
    if (out->nsignatures > out->nresults)
        snprintf(out->note, sizeof(out->note),
                 "%zu DKIM-Signature fields; the first %d were verified, "
                 "the rest ignored",
                 out->nsignatures, DKIM_VERIFY_MAX_SIGNATURES);
    out->results = pb_xcalloc(out->nresults, sizeof(*out->results));
    v.md = EVP_MD_CTX_new();
    if (v.md == NULL) {
        internal(err, "digest context");
        goto out;
    }
    out->status = DKIM_VERIFY_PERMERROR;
    for (i = 0, k = 0; i < m.nfields && k < out->nresults; i++) {
        struct dkim_verify_result *res = &out->results[k];

        if (!pb_dkim_canon_field_is(&m, &m.fields[i], "dkim-signature", 14))
            continue;
        res->index = k++;
        if (verify_one(&v, &m.fields[i], res, err) == -1)
            goto out;
        if (rank(res->status) < rank(out->status))
            out->status = res->status;
    }
    rc = 0;
out:
    if (rc == -1)
        dkim_verify_release(out);
    EVP_MD_CTX_free(v.md);
    pb_dkim_canon_msg_release(&m);
    return rc;
}
