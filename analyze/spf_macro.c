/* SPDX-License-Identifier: MIT */
/*
 * SPF macros, RFC 7208 §7: syntax check and expansion of macro-strings and
 * explain-strings, transformers (digits, reversal), delimiters, URL
 * escaping of upper-case letters, and the domain-end and 253-octet rules
 * for target names (§7.3, §4.8).
 */
#include "spf_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_ctype.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

#define MACRO_MAX_PARTS 128 /* §7.1: support at least 128 parts */

static bool
is_delim(char c)
{
    return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

/* The raw value of one macro letter; NULL for an unknown letter. */
static const char *
letter_value(const struct spf_macro_ctx *ctx, char letter, char *tmp,
             size_t tmpsize)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    int i;

    switch (letter) {
    case 's':
        return ctx->sender;
    case 'l':
        return ctx->local;
    case 'o':
        return ctx->sender_domain;
    case 'd':
        return ctx->domain;
    case 'h':
        return ctx->helo != NULL ? ctx->helo : "unknown";
    case 'r':
        return ctx->receiver != NULL ? ctx->receiver : "unknown";
    case 'v':
        return ctx->ip.family == 4 ? "in-addr" : "ip6";
    case 'c':
        ipaddr_format(&ctx->ip, tmp, tmpsize);
        return tmp;
    case 't':
        snprintf(tmp, tmpsize, "%lld", (long long)ctx->now);
        return tmp;
    case 'i':
        if (ctx->ip.family == 4) {
            ipaddr_format(&ctx->ip, tmp, tmpsize);
            return tmp;
        }
        /* §7.3: IPv6 "i" is dot-separated nibbles, most significant first */
        for (i = 0; i < 16 && n + 4 < tmpsize; i++) {
            tmp[n++] = hex[ctx->ip.a[i] >> 4];
            tmp[n++] = '.';
            tmp[n++] = hex[ctx->ip.a[i] & 15];
            tmp[n++] = '.';
        }
        tmp[n ? n - 1 : 0] = '\0';
        return tmp;
    case 'p':
        if (ctx->validated == NULL)
            return "unknown";
        return ctx->validated(ctx->validated_arg, ctx->domain);
    default:
        return NULL;
    }
}

/* §7.3: split on delimiters, reverse on request, keep the right-most
 * nparts (0 = all), join with "." and URL-escape if asked. */
static int
transform(const char *value, const char *delims, size_t ndelims,
          unsigned nparts, bool reverse, bool escape, struct pb_buf *out)
{
    const char *start[MACRO_MAX_PARTS * 2];
    size_t len[MACRO_MAX_PARTS * 2];
    size_t n = 0, i, first, vlen = strlen(value);
    const char *p = value, *end = value + vlen;
    char dset[8];

    if (vlen > PB_LIMIT_SPF_EXPANSION)
        return -1;
    if (ndelims == 0) {
        dset[0] = '.';
        ndelims = 1;
    } else {
        memcpy(dset, delims, ndelims);
    }
    dset[ndelims] = '\0';
    for (;;) {
        const char *q = p;

        while (q < end && memchr(dset, *q, ndelims) == NULL)
            q++;
        if (n == sizeof(start) / sizeof(start[0])) {
            /* more parts than we keep: fold the rest into the last one */
            len[n - 1] = (size_t)(end - start[n - 1]);
            break;
        }
        start[n] = p;
        len[n] = (size_t)(q - p);
        n++;
        if (q == end)
            break;
        p = q + 1;
    }
    if (reverse) {
        for (i = 0; i < n / 2; i++) {
            const char *ts = start[i];
            size_t tl = len[i];

            start[i] = start[n - 1 - i];
            len[i] = len[n - 1 - i];
            start[n - 1 - i] = ts;
            len[n - 1 - i] = tl;
        }
    }
    first = nparts != 0 && nparts < n ? n - nparts : 0;
    for (i = first; i < n; i++) {
        if (i > first && pb_buf_addc(out, '.') == -1)
            return -1;
        if (!escape) {
            if (pb_buf_add(out, start[i], len[i]) == -1)
                return -1;
            continue;
        }
        for (size_t k = 0; k < len[i]; k++) {
            unsigned char c = (unsigned char)start[i][k];

            /* §7.3: escape all but RFC 3986 unreserved characters */
            if (pb_is_alnum((char)c) || c == '-' || c == '.' || c == '_' ||
                c == '~') {
                if (pb_buf_addc(out, (char)c) == -1)
                    return -1;
            } else if (pb_buf_addf(out, "%%%02X", c) == -1) {
                return -1;
            }
        }
    }
    return 0;
}

int
spf_macro_expand(const struct spf_macro_ctx *ctx, const char *s, size_t len,
                 bool is_exp, struct pb_buf *out, const char **why)
{
    size_t i = 0;

    while (i < len) {
        char c = s[i];

        if (c == ' ' && is_exp) {
            if (ctx != NULL && pb_buf_addc(out, ' ') == -1)
                goto toolong;
            i++;
            continue;
        }
        if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e) {
            *why = "character not allowed in a macro-string";
            return -1;
        }
        if (c != '%') {
            if (ctx != NULL && pb_buf_addc(out, c) == -1)
                goto toolong;
            i++;
            continue;
        }
        if (i + 1 >= len) {
            *why = "'%' at the end of a macro-string";
            return -1;
        }
        c = s[i + 1];
        if (c == '%' || c == '_' || c == '-') {
            const char *lit = c == '%' ? "%" : c == '_' ? " " : "%20";

            if (ctx != NULL && pb_buf_adds(out, lit) == -1)
                goto toolong;
            i += 2;
            continue;
        }
        if (c != '{') {
            *why = "'%' not followed by '{', '%', '_' or '-'";
            return -1;
        }
        i += 2;
        if (i >= len) {
            *why = "unterminated macro";
            return -1;
        }
        {
            char letter = s[i], lower;
            bool upper, reverse = false;
            unsigned long nparts = 0;
            bool has_digits = false;
            char delims[8];
            size_t ndelims = 0;
            char tmp[80];
            const char *value;

            upper = isupper((unsigned char)letter) != 0;
            lower = (char)tolower((unsigned char)letter);
            if (strchr("slodiphcrtv", lower) == NULL || lower == '\0') {
                *why = "unknown macro letter";
                return -1;
            }
            if (!is_exp && strchr("crt", lower) != NULL) {
                *why = "macro letters c, r and t are allowed only in exp text";
                return -1;
            }
            i++;
            while (i < len && isdigit((unsigned char)s[i])) {
                has_digits = true;
                if (nparts < 100000)
                    nparts = nparts * 10 + (unsigned long)(s[i] - '0');
                i++;
            }
            if (has_digits && nparts == 0) {
                *why = "macro transformer digits must be nonzero";
                return -1;
            }
            if (i < len && (s[i] == 'r' || s[i] == 'R')) {
                reverse = true;
                i++;
            }
            while (i < len && is_delim(s[i])) {
                if (memchr(delims, s[i], ndelims) == NULL)
                    delims[ndelims++] = s[i];
                i++;
            }
            if (i >= len || s[i] != '}') {
                *why = "malformed macro";
                return -1;
            }
            i++;
            if (ctx == NULL)
                continue;
            value = letter_value(ctx, lower, tmp, sizeof(tmp));
            if (value == NULL)
                value = "";
            if (nparts > MACRO_MAX_PARTS)
                nparts = 0; /* more parts than any value has: keep all */
            if (transform(value, delims, ndelims, (unsigned)nparts, reverse,
                          upper, out) == -1)
                goto toolong;
        }
    }
    return 0;
toolong:
    *why = "macro expansion too long";
    return -1;
}

bool
spf_macro_domain_end_ok(const char *s, size_t len)
{
    size_t i = 0, last_macro_end = (size_t)-1, dot, lbl, k;
    bool alpha = false;

    /* Find where the last macro-expand ends, skipping literals. */
    while (i < len) {
        if (s[i] != '%') {
            i++;
            continue;
        }
        if (i + 1 < len && s[i + 1] == '{') {
            const char *close = memchr(s + i, '}', len - i);

            if (close == NULL)
                return false;
            i = (size_t)(close - s) + 1;
        } else {
            i += 2;
        }
        last_macro_end = i;
    }
    if (last_macro_end == len)
        return true;
    /* "." toplabel [ "." ] */
    if (len > 0 && s[len - 1] == '.')
        len--;
    dot = len;
    while (dot > 0 && s[dot - 1] != '.')
        dot--;
    if (dot == 0)
        return false; /* no "." before the toplabel */
    if (last_macro_end != (size_t)-1 && last_macro_end > dot - 1)
        return false; /* a macro inside the toplabel */
    lbl = len - dot;
    if (lbl == 0)
        return false;
    for (k = dot; k < len; k++) {
        if (s[k] == '-')
            continue;
        if (!pb_is_alnum(s[k]))
            return false;
        if (isalpha((unsigned char)s[k]))
            alpha = true;
    }
    if (s[dot] == '-' || s[len - 1] == '-')
        return false;
    /* ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" ... alphanum ) */
    return alpha || memchr(s + dot, '-', lbl) != NULL;
}

int
spf_macro_domain(const struct spf_macro_ctx *ctx, const char *spec, char **out,
                 const char **why)
{
    struct pb_buf b;
    size_t len, cut = 0;
    const char *p;

    *out = NULL;
    pb_buf_init(&b, PB_LIMIT_SPF_EXPANSION);
    if (spf_macro_expand(ctx, spec, strlen(spec), false, &b, why) == -1) {
        pb_buf_release(&b);
        return -1;
    }
    p = pb_buf_ptr(&b);
    len = b.len;
    if (len > 0 && p[len - 1] == '.')
        len--;
    /* §4.8: drop whole labels from the left until it fits in 253 */
    while (len - cut > PB_LIMIT_DNS_NAME) {
        const char *dot = memchr(p + cut, '.', len - cut);

        if (dot == NULL)
            break;
        cut = (size_t)(dot - p) + 1;
    }
    *out = pb_xmemdup(p + cut, len - cut);
    pb_buf_release(&b);
    return 0;
}
