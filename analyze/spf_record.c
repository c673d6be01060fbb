/* SPDX-License-Identifier: MIT */
/*
 * SPF record parser, RFC 7208 §4.5 (version), §4.6.1 (terms), §5
 * (mechanisms), §6 (modifiers) and the ABNF of §12.  Pure: bytes in,
 * struct spf_record out.  Nothing is evaluated here.
 */
#include "spf_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pb_limits.h"
#include "pb_xalloc.h"

static const struct {
    const char *name;
    enum spf_kind kind;
} mechanisms[] = {
    {"all", SPF_K_ALL}, {"include", SPF_K_INCLUDE}, {"a", SPF_K_A},
    {"mx", SPF_K_MX},   {"ptr", SPF_K_PTR},         {"ip4", SPF_K_IP4},
    {"ip6", SPF_K_IP6}, {"exists", SPF_K_EXISTS},
};

bool
spf_kind_queries_dns(enum spf_kind kind)
{
    /* §4.6.4: these terms cause DNS queries and count toward the limit */
    return kind == SPF_K_INCLUDE || kind == SPF_K_A || kind == SPF_K_MX ||
           kind == SPF_K_PTR || kind == SPF_K_EXISTS || kind == SPF_K_REDIRECT;
}

const char *
spf_kind_name(enum spf_kind kind)
{
    size_t i;

    for (i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++)
        if (mechanisms[i].kind == kind)
            return mechanisms[i].name;
    switch (kind) {
    case SPF_K_REDIRECT:
        return "redirect";
    case SPF_K_EXP:
        return "exp";
    default:
        return "modifier";
    }
}

bool
spf_record_is_spf1(const char *p, size_t len)
{
    /* §4.5: "v=spf1" (case-insensitive) then a space or the end */
    if (len < 6 || strncasecmp(p, "v=spf1", 6) != 0)
        return false;
    return len == 6 || p[6] == ' ';
}

const struct dns_rr *
spf_record_select(const struct dns_answer *a, size_t *count)
{
    const struct dns_rr *found = NULL;
    size_t i;

    *count = 0;
    for (i = 0; i < a->nrr; i++) {
        /* §3.1, §14.1: only TXT; type 99 SPF records are not consulted */
        if (a->rr[i].type != DNS_TYPE_TXT ||
            !spf_record_is_spf1(a->rr[i].data, a->rr[i].len))
            continue;
        (*count)++;
        found = &a->rr[i];
    }
    return found;
}

void
spf_record_release(struct spf_record *rec)
{
    size_t i;

    if (rec == NULL)
        return;
    for (i = 0; i < rec->nterms; i++) {
        free(rec->terms[i].text);
        free(rec->terms[i].spec);
    }
    free(rec->terms);
    memset(rec, 0, sizeof(*rec));
    rec->redirect = rec->exp = -1;
}

/* Parse "/N" where N has no leading zero and is at most max (§12). */
static int
parse_cidr(const char *p, size_t len, unsigned max, unsigned *out)
{
    unsigned v = 0;
    size_t i;

    if (len == 0 || len > 3 || (len > 1 && p[0] == '0'))
        return -1;
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/*
 * Split a dual-cidr-length off the end of arg (§5.3, §5.4):
 * [ "/" ip4-cidr ] [ "//" ip6-cidr ].  Returns the length of what is left.
 */
static int
split_dual_cidr(const char *arg, size_t len, size_t *rest,
                struct spf_term_def *t, const char **why)
{
    size_t i = len;

    while (i > 0 && isdigit((unsigned char)arg[i - 1]))
        i--;
    if (i < len && i >= 2 && arg[i - 1] == '/' && arg[i - 2] == '/') {
        if (parse_cidr(arg + i, len - i, 128, &t->cidr6) == -1) {
            *why = "invalid IPv6 CIDR length";
            return -1;
        }
        len = i - 2;
        i = len;
        while (i > 0 && isdigit((unsigned char)arg[i - 1]))
            i--;
    }
    if (i < len && i >= 1 && arg[i - 1] == '/') {
        if (parse_cidr(arg + i, len - i, 32, &t->cidr4) == -1) {
            *why = "invalid IPv4 CIDR length";
            return -1;
        }
        len = i - 1;
    }
    /* a '/' left at the end (e.g. "a//" or "a/") is malformed */
    if (len > 0 && arg[len - 1] == '/') {
        *why = "invalid CIDR length";
        return -1;
    }
    *rest = len;
    return 0;
}

static int
check_domain_spec(const char *spec, size_t len, const char **why)
{
    if (len == 0) {
        *why = "empty domain-spec";
        return -1;
    }
    if (spf_macro_expand(NULL, spec, len, false, NULL, why) == -1)
        return -1;
    if (!spf_macro_domain_end_ok(spec, len)) {
        *why = "domain-spec does not end in a valid top-level label or a "
               "macro";
        return -1;
    }
    return 0;
}

/* §5.6: ip4-network is a dotted quad without leading zeros. */
static bool
ip4_network_ok(const char *p, size_t len)
{
    size_t i = 0, parts = 0, start;

    while (i <= len) {
        start = i;
        while (i < len && isdigit((unsigned char)p[i]))
            i++;
        if (i == start || i - start > 3 || (i - start > 1 && p[start] == '0'))
            return false;
        if (atoi(p + start) > 255) /* at most 3 digits: no overflow */
            return false;
        parts++;
        if (i == len)
            break;
        if (p[i] != '.')
            return false;
        i++;
    }
    return parts == 4;
}

static int
parse_mechanism(struct spf_term_def *t, const char *p, size_t len,
                const char **why)
{
    size_t i, nlen = 0, arglen, rest;
    const char *arg;
    char buf[64];

    t->qual = SPF_PASS;
    switch (p[0]) {
    case '+':
        t->qual = SPF_PASS;
        p++, len--;
        break;
    case '-':
        t->qual = SPF_FAIL;
        p++, len--;
        break;
    case '~':
        t->qual = SPF_SOFTFAIL;
        p++, len--;
        break;
    case '?':
        t->qual = SPF_NEUTRAL;
        p++, len--;
        break;
    default:
        break;
    }
    while (nlen < len && isalnum((unsigned char)p[nlen]))
        nlen++;
    for (i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++)
        if (strlen(mechanisms[i].name) == nlen &&
            strncasecmp(mechanisms[i].name, p, nlen) == 0)
            break;
    if (i == sizeof(mechanisms) / sizeof(mechanisms[0]) || nlen == 0) {
        *why = "unknown mechanism";
        return -1;
    }
    t->kind = mechanisms[i].kind;
    t->cidr4 = 32;
    t->cidr6 = 128;
    arg = p + nlen;
    arglen = len - nlen;
    if (arglen > 0 && arg[0] != ':' && arg[0] != '/') {
        *why = "unknown mechanism";
        return -1;
    }

    switch (t->kind) {
    case SPF_K_ALL:
        if (arglen != 0) {
            *why = "\"all\" takes no argument";
            return -1;
        }
        return 0;
    case SPF_K_INCLUDE:
    case SPF_K_EXISTS:
        if (arglen == 0 || arg[0] != ':') {
            *why = "mechanism needs \":\" domain-spec";
            return -1;
        }
        if (check_domain_spec(arg + 1, arglen - 1, why) == -1)
            return -1;
        t->spec = pb_xmemdup(arg + 1, arglen - 1);
        return 0;
    case SPF_K_PTR:
        if (arglen == 0)
            return 0;
        if (arg[0] != ':') {
            *why = "\"ptr\" takes no CIDR length";
            return -1;
        }
        if (check_domain_spec(arg + 1, arglen - 1, why) == -1)
            return -1;
        t->spec = pb_xmemdup(arg + 1, arglen - 1);
        return 0;
    case SPF_K_A:
    case SPF_K_MX:
        if (split_dual_cidr(arg, arglen, &rest, t, why) == -1)
            return -1;
        if (rest == 0)
            return 0;
        if (arg[0] != ':') {
            *why = "malformed mechanism argument";
            return -1;
        }
        if (check_domain_spec(arg + 1, rest - 1, why) == -1)
            return -1;
        t->spec = pb_xmemdup(arg + 1, rest - 1);
        return 0;
    case SPF_K_IP4:
    case SPF_K_IP6: {
        const char *slash;
        size_t netlen;
        unsigned max = t->kind == SPF_K_IP4 ? 32 : 128;
        unsigned *cidr = t->kind == SPF_K_IP4 ? &t->cidr4 : &t->cidr6;

        if (arglen < 2 || arg[0] != ':') {
            *why = "mechanism needs \":\" and an address";
            return -1;
        }
        arg++, arglen--;
        slash = memchr(arg, '/', arglen);
        netlen = slash != NULL ? (size_t)(slash - arg) : arglen;
        if (slash != NULL &&
            parse_cidr(slash + 1, arglen - netlen - 1, max, cidr) == -1) {
            *why = "invalid CIDR length";
            return -1;
        }
        if (netlen == 0 || netlen >= sizeof(buf)) {
            *why = "invalid network address";
            return -1;
        }
        memcpy(buf, arg, netlen);
        buf[netlen] = '\0';
        if (t->kind == SPF_K_IP4 && !ip4_network_ok(buf, netlen)) {
            *why = "invalid IPv4 network";
            return -1;
        }
        if (ipaddr_parse(buf, &t->net) == -1 ||
            t->net.family != (t->kind == SPF_K_IP4 ? 4 : 6)) {
            *why = t->kind == SPF_K_IP4 ? "invalid IPv4 network"
                                        : "invalid IPv6 network";
            return -1;
        }
        return 0;
    }
    default:
        break;
    }
    *why = "unknown mechanism";
    return -1;
}

/* §4.6.1: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) then "=" */
static size_t
modifier_name_len(const char *p, size_t len)
{
    size_t i;

    if (len == 0 || !isalpha((unsigned char)p[0]))
        return 0;
    for (i = 1; i < len; i++) {
        if (p[i] == '=')
            return i;
        if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '_' &&
            p[i] != '.')
            return 0;
    }
    return 0;
}

static int
parse_term(struct spf_record *rec, struct spf_term_def *t, const char *p,
           size_t len, const char **why)
{
    size_t nlen = modifier_name_len(p, len);
    const char *val;
    size_t vlen;

    t->text = pb_xmemdup(p, len);
    if (nlen == 0)
        return parse_mechanism(t, p, len, why);
    val = p + nlen + 1;
    vlen = len - nlen - 1;
    if (nlen == 8 && strncasecmp(p, "redirect", 8) == 0) {
        t->kind = SPF_K_REDIRECT;
        if (rec->redirect != -1) {
            *why = "more than one redirect= modifier";
            return -1;
        }
    } else if (nlen == 3 && strncasecmp(p, "exp", 3) == 0) {
        t->kind = SPF_K_EXP;
        if (rec->exp != -1) {
            *why = "more than one exp= modifier";
            return -1;
        }
    } else {
        /* §6: unknown modifiers are ignored, but must be macro-strings */
        t->kind = SPF_K_MODIFIER;
        if (spf_macro_expand(NULL, val, vlen, false, NULL, why) == -1)
            return -1;
        t->spec = pb_xmemdup(val, vlen);
        return 0;
    }
    if (check_domain_spec(val, vlen, why) == -1)
        return -1;
    t->spec = pb_xmemdup(val, vlen);
    if (t->kind == SPF_K_REDIRECT)
        rec->redirect = (int)rec->nterms;
    else
        rec->exp = (int)rec->nterms;
    return 0;
}

int
spf_record_parse(const char *p, size_t len, struct spf_record *rec, char *why,
                 size_t whysize)
{
    size_t i, start, cap = 0;
    const char *reason = NULL;

    memset(rec, 0, sizeof(*rec));
    rec->redirect = rec->exp = -1;
    if (len > PB_LIMIT_SPF_RECORD) {
        snprintf(why, whysize, "record longer than %d bytes",
                 PB_LIMIT_SPF_RECORD);
        return -1;
    }
    if (!spf_record_is_spf1(p, len)) {
        snprintf(why, whysize, "record does not start with v=spf1");
        return -1;
    }
    /* §3.1, §4.6.1: printable ASCII; terms are separated by spaces only */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c != ' ' && (c < 0x21 || c > 0x7e)) {
            snprintf(why, whysize, "%s byte 0x%02x at offset %zu",
                     c >= 0x80 ? "non-ASCII" : "control", c, i);
            return -1;
        }
    }
    i = 6;
    for (;;) {
        struct spf_term_def *t;

        while (i < len && p[i] == ' ')
            i++;
        if (i >= len)
            break;
        start = i;
        while (i < len && p[i] != ' ')
            i++;
        if (rec->nterms == PB_LIMIT_SPF_TERMS) {
            snprintf(why, whysize, "more than %d terms", PB_LIMIT_SPF_TERMS);
            goto fail;
        }
        if (rec->nterms == cap) {
            cap = cap ? cap * 2 : 8;
            rec->terms = pb_xreallocarray(rec->terms, cap, sizeof(*t));
        }
        t = &rec->terms[rec->nterms];
        memset(t, 0, sizeof(*t));
        if (parse_term(rec, t, p + start, i - start, &reason) == -1) {
            char esc[96];

            rec->nterms++; /* so that release frees t's strings */
            pb_escape_to(esc, sizeof(esc), p + start, i - start);
            snprintf(why, whysize, "%s in \"%s\"", reason, esc);
            goto fail;
        }
        rec->nterms++;
    }
    return 0;
fail:
    spf_record_release(rec);
    return -1;
}
