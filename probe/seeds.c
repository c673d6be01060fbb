/* SPDX-License-Identifier: MIT */
/*
 * The seeds file (docs/seeds.md): one address per line, optional
 * whitespace-separated key=value attributes for reading the copy back over
 * IMAP (RFC 9051 URLs limited to imap:// and imaps:// with host and port,
 * RFC 5092 paths refused), comments, CRLF or LF, a UTF-8 BOM.  Every line
 * is checked whole before anything is sent; secrets never live here.
 */
#include "seeds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pb_addr.h"
#include "pb_buf.h"
#include "pb_ctype.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

#define IMAP_PORT  143 /* RFC 9051 §2 (STARTTLS) */
#define IMAPS_PORT 993 /* RFC 8314 §7.3 (implicit TLS) */

/* Longest piece of outside text quoted in a message (before escaping). */
#define SNIP 48

enum key {
    K_IMAP,
    K_ADDRESS,
    K_USER,
    K_PASSWORD_ENV,
    K_PASSWORD_FILE,
    K_CA_FILE,
    K_INSECURE,
    K_INBOX,
    K_JUNK,
    K_PROVIDER,
    K_AUTHSERV_ID,
    K_AUTH,
    K_COUNT,
};

static const struct {
    const char *name;
    bool needs_imap; /* only meaningful when the mailbox is read */
} keys[K_COUNT] = {
    [K_IMAP] = {"imap", false},
    [K_ADDRESS] = {"address", true},
    [K_USER] = {"user", true},
    [K_PASSWORD_ENV] = {"password_env", true},
    [K_PASSWORD_FILE] = {"password_file", true},
    [K_CA_FILE] = {"ca_file", true},
    [K_INSECURE] = {"insecure", true},
    [K_INBOX] = {"inbox", true},
    [K_JUNK] = {"junk", true},
    [K_PROVIDER] = {"provider", false},
    [K_AUTHSERV_ID] = {"authserv_id", true},
    [K_AUTH] = {"auth", true},
};

/* Open-addressing set of the addresses seen, by index into out->v. */
struct dedup {
    size_t *slot; /* index + 1, 0: empty */
    size_t nslot; /* a power of two, at least twice the entries */
};

struct parser {
    char name[160]; /* escaped, for messages */
    unsigned line;
    const unsigned char *l; /* the current line, without its end */
    size_t llen;
    size_t ev_len;    /* evidence: the line's first ev_len octets */
    bool ev_redacted; /* ... followed by "[redacted]" */
    struct seeds *out;
    size_t cap;
    struct dedup dd;
    struct pb_err *err;
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

/* Escape outside text into dst for a message, cut at SNIP octets. */
static const char *
snip(char *dst, size_t size, const void *p, size_t len)
{
    size_t n = len > SNIP ? SNIP : len;

    if (pb_escape_to(dst, size, p, n) != 0 || n < len) {
        size_t k = strlen(dst);

        if (k + 4 > size)
            k = size - 4;
        memcpy(dst + k, "...", 4);
    }
    return dst;
}

/* The name for messages: escaped, its end kept when it is long. */
static void
set_name(char *dst, size_t size, const char *name)
{
    size_t len = strlen(name), keep = 100;

    if (len <= keep) {
        if (pb_escape_to(dst, size, name, len) != 0)
            memcpy(dst + size - 4, "...", 4);
        return;
    }
    memcpy(dst, "...", 3);
    if (pb_escape_to(dst + 3, size - 3, name + len - keep, keep) != 0)
        memcpy(dst + size - 4, "...", 4);
}

static unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool
eq_nocase(const char *a, const char *b)
{
    while (*a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

static bool
has_prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix != '\0'; s++, prefix++)
        if (lower((unsigned char)*s) != (unsigned char)*prefix)
            return false;
    return true;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n, i;
    unsigned lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (n > left)
        return 0;
    /* no overlong forms, no surrogates, nothing past U+10FFFF */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/* Levenshtein distance of two short keys, for "did you mean". */
static size_t
distance(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b), row[33], i, j;

    if (alen > 32 || blen > 32)
        return SIZE_MAX;
    for (j = 0; j <= blen; j++)
        row[j] = j;
    for (i = 1; i <= alen; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (j = 1; j <= blen; j++) {
            size_t up = row[j];
            size_t best = diag + (lower((unsigned char)a[i - 1]) !=
                                  lower((unsigned char)b[j - 1]));

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[blen];
}

static void
seed_release(struct seed *s)
{
    free(s->address);
    free(s->imap_url);
    free(s->imap_host);
    free(s->connect_address);
    free(s->user);
    free(s->password_env);
    free(s->password_file);
    free(s->ca_file);
    free(s->inbox);
    free(s->junk);
    free(s->authserv_id);
    free(s->auth);
    free(s->provider);
    memset(s, 0, sizeof(*s));
}

void
seeds_release(struct seeds *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++)
        seed_release(&s->v[i]);
    free(s->v);
    free(s->source);
    memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ */
/* repeated addresses                                                  */

static size_t
addr_hash(const char *s)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */

    for (; *s != '\0'; s++) {
        h ^= lower((unsigned char)*s);
        h *= 1099511628211u;
    }
    return (size_t)h;
}

/* The seed already holding addr (ignoring case), or NULL. */
static const struct seed *
dedup_find(const struct dedup *dd, const struct seeds *ss, const char *addr)
{
    size_t i;

    if (dd->nslot == 0)
        return NULL;
    for (i = addr_hash(addr) & (dd->nslot - 1); dd->slot[i] != 0;
         i = (i + 1) & (dd->nslot - 1))
        if (eq_nocase(ss->v[dd->slot[i] - 1].address, addr))
            return &ss->v[dd->slot[i] - 1];
    return NULL;
}

/* Record ss->v[ix]; the set grows to stay at most half full. */
static void
dedup_add(struct dedup *dd, const struct seeds *ss, size_t ix)
{
    size_t i;

    if ((ix + 1) * 2 > dd->nslot) {
        size_t n = dd->nslot ? dd->nslot * 2 : 64, k;

        free(dd->slot);
        dd->slot = pb_xcalloc(n, sizeof(*dd->slot));
        dd->nslot = n;
        for (k = 0; k < ix; k++)
            dedup_add(dd, ss, k);
    }
    for (i = addr_hash(ss->v[ix].address) & (dd->nslot - 1); dd->slot[i] != 0;
         i = (i + 1) & (dd->nslot - 1))
        ;
    dd->slot[i] = ix + 1;
}

/* Move s into out (which takes its strings). */
static void
append(struct seeds *out, size_t *cap, struct seed *s)
{
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->v = pb_xreallocarray(out->v, *cap, sizeof(*out->v));
    }
    out->v[out->n++] = *s;
    memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ */
/* errors of a line                                                    */

static int fail(struct parser *ps, enum pb_code code, size_t col,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * "NAME:LINE: what (column C)" with the line (or its first ev_len octets
 * and "[redacted]") as evidence; col 0 names no column.
 */
static int
fail(struct parser *ps, enum pb_code code, size_t col, const char *fmt, ...)
{
    char what[256], at[32] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (col > 0)
        snprintf(at, sizeof(at), " (column %zu)", col);
    pb_err_set(ps->err, PB_STAGE_CONFIG, code, "%s:%u: %s%s", ps->name,
               ps->line, what, at);
    pb_err_evidence(ps->err, ps->l, ps->ev_redacted ? ps->ev_len : ps->llen);
    if (ps->ev_redacted && ps->err != NULL) {
        size_t k = strlen(ps->err->evidence);

        snprintf(ps->err->evidence + k, sizeof(ps->err->evidence) - k, "%s",
                 "[redacted]");
    }
    return -1;
}

/* Every byte of the line: no NUL or control but TAB, valid UTF-8. */
static int
check_bytes(struct parser *ps)
{
    const unsigned char *l = ps->l;
    size_t i = 0, n;

    while (i < ps->llen) {
        unsigned char c = l[i];

        if (c == '\0')
            return fail(ps, PB_E_SYNTAX, i + 1, "a NUL byte");
        if (c == '\r')
            return fail(ps, PB_E_SYNTAX, i + 1,
                        "a carriage return (CR) inside the line; lines end "
                        "with LF or CRLF");
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(ps, PB_E_SYNTAX, i + 1, "the control character 0x%02x",
                        c);
        if (c < 0x80) {
            i++;
            continue;
        }
        n = utf8_len(l + i, ps->llen - i);
        if (n == 0)
            return fail(ps, PB_E_SYNTAX, i + 1,
                        "a byte 0x%02x that is not UTF-8 (is this a text "
                        "file?)",
                        c);
        i += n;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* attribute values                                                    */

/* RFC 1035 §2.3.1 host name: LDH labels, single-label names allowed. */
static bool
is_host_name(const char *s, size_t len)
{
    size_t i, label = 0;
    bool numeric = true;

    if (len == 0 || len > PB_LIMIT_DNS_NAME)
        return false;
    for (i = 0; i <= len; i++) {
        char c = i < len ? s[i] : '.';

        if (c == '.') {
            if (i == label || i - label > PB_LIMIT_DNS_LABEL || s[i - 1] == '-')
                return false;
            label = i + 1;
            if (i < len)
                numeric = true;
            continue;
        }
        if (!pb_is_alnum(c) && c != '-')
            return false;
        if (c == '-' && i == label)
            return false;
        if (!pb_is_digit(c))
            numeric = false;
    }
    return !numeric; /* all digits at the end: an IPv4 address or junk */
}

/* An IP address as text: IPv4 dotted quad or IPv6, no brackets. */
static bool
is_ip(const char *s, int *family)
{
    unsigned char bin[16];

    if (inet_pton(AF_INET, s, bin) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, bin) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

/* imap= (NUL-terminated val): imap[s]://host[:port][/] into s. */
static int
set_imap(struct parser *ps, struct seed *s, const char *val, size_t col)
{
    char what[4 * SNIP + 8], hostbuf[INET6_ADDRSTRLEN + 1];
    const char *rest, *host, *hend, *port = NULL, *end;
    size_t vlen = strlen(val);
    bool tls;
    int family;

    /* RFC 3986 §3.1: schemes are case-insensitive */
    if (has_prefix_nocase(val, "imaps://")) {
        tls = true;
        rest = val + 8;
    } else if (has_prefix_nocase(val, "imap://")) {
        tls = false;
        rest = val + 7;
    } else if (strstr(val, "://") != NULL) {
        return fail(ps, PB_E_SYNTAX, col,
                    "`imap` must be an imaps:// (TLS) or imap:// (STARTTLS) "
                    "URL, not `%s`",
                    snip(what, sizeof(what), val, vlen));
    } else {
        snip(what, sizeof(what), val, vlen > 24 ? 24 : vlen);
        return fail(ps, PB_E_SYNTAX, col,
                    "`imap` must be a URL: imaps://%s (TLS) or imap://%s "
                    "(STARTTLS)",
                    what, what);
    }
    /* the authority ends at the path; RFC 5092 paths name mailboxes and
     * messages, which the seed's inbox= and junk= say instead */
    end = rest + strcspn(rest, "/?#");
    if (*end == '?' || *end == '#' || (*end == '/' && end[1] != '\0'))
        return fail(ps, PB_E_SYNTAX, col,
                    "the `imap` URL has a path, query or fragment; give "
                    "only imaps://HOST[:PORT] and name folders with inbox= "
                    "and junk=");
    if (memchr(rest, '@', (size_t)(end - rest)) != NULL ||
        memchr(rest, ';', (size_t)(end - rest)) != NULL)
        return fail(ps, PB_E_SYNTAX, col,
                    "the `imap` URL names a user; give it as user=, and the "
                    "password as password_env= or password_file=");
    host = rest;
    if (*host == '[') {
        hend = memchr(host, ']', (size_t)(end - host));
        if (hend == NULL)
            return fail(ps, PB_E_SYNTAX, col,
                        "the `imap` URL has '[' without ']'");
        if (hend + 1 < end && hend[1] != ':')
            return fail(ps, PB_E_SYNTAX, col,
                        "the `imap` URL has text after ']'");
        port = hend + 1 < end ? hend + 2 : NULL;
        host++;
        if ((size_t)(hend - host) >= sizeof(hostbuf))
            return fail(ps, PB_E_SYNTAX, col,
                        "the `imap` URL host is not an IPv6 address");
        memcpy(hostbuf, host, (size_t)(hend - host));
        hostbuf[hend - host] = '\0';
        if (!is_ip(hostbuf, &family) || family != AF_INET6)
            return fail(ps, PB_E_SYNTAX, col,
                        "the `imap` URL host [%s] is not an IPv6 address",
                        snip(what, sizeof(what), hostbuf, strlen(hostbuf)));
    } else {
        hend = memchr(host, ':', (size_t)(end - host));
        if (hend != NULL)
            port = hend + 1;
        else
            hend = end;
        if (hend == host)
            return fail(ps, PB_E_SYNTAX, col, "the `imap` URL has no host");
        if (!is_host_name(host, (size_t)(hend - host))) {
            size_t n = (size_t)(hend - host);

            if (n < sizeof(hostbuf)) {
                memcpy(hostbuf, host, n);
                hostbuf[n] = '\0';
                if (is_ip(hostbuf, &family) && family == AF_INET)
                    goto host_ok;
            }
            return fail(ps, PB_E_SYNTAX, col,
                        "the `imap` URL host `%s` is neither a host name nor "
                        "an IP address",
                        snip(what, sizeof(what), host, n));
        }
    }
host_ok:
    s->imap_port = tls ? IMAPS_PORT : IMAP_PORT;
    if (port != NULL) {
        unsigned v = 0;
        const char *q;

        for (q = port; q < end && pb_is_digit(*q) && q - port < 6; q++)
            v = v * 10 + (unsigned)(*q - '0');
        if (q == port || q != end || v == 0 || v > 65535)
            return fail(ps, PB_E_SYNTAX, col,
                        "the `imap` URL port `%s` is not a number from 1 to "
                        "65535",
                        snip(what, sizeof(what), port, (size_t)(end - port)));
        s->imap_port = v;
    }
    s->imap_tls = tls;
    s->imap_url = pb_xstrdup(val);
    s->imap_host = pb_xmemdup(host, (size_t)(hend - host));
    return 0;
}

/*
 * An authserv-id (RFC 8601 §2.2: an RFC 2045 token, in practice a host
 * name), or "*.domain" for receivers whose id names the host (Yahoo).
 */
static bool
is_authserv_id(const char *s)
{
    if (s[0] == '*' && s[1] == '.')
        s += 2;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=*", c))
            return false;
    }
    return true;
}

/* Check val (NUL-terminated, unquoted) for key k and store it in s. */
static int
set_value(struct parser *ps, struct seed *s, enum key k, char *val, size_t col)
{
    char what[4 * SNIP + 8];
    size_t vlen = strlen(val), i;
    int family;

    switch (k) {
    case K_IMAP:
        return set_imap(ps, s, val, col);
    case K_ADDRESS:
        if (!is_ip(val, &family))
            return fail(ps, PB_E_SYNTAX, col,
                        "`address` must be an IP address to connect to "
                        "(192.0.2.1 or 2001:db8::1, no brackets), not `%s`",
                        snip(what, sizeof(what), val, vlen));
        s->connect_address = pb_xstrdup(val);
        return 0;
    case K_USER:
        s->user = pb_xstrdup(val);
        return 0;
    case K_PASSWORD_ENV:
        /* POSIX.1-2017 §8.1: portable names are [A-Za-z_][A-Za-z0-9_]* */
        for (i = 0; i < vlen; i++)
            if (!(pb_is_alpha(val[i]) || val[i] == '_' ||
                  (i > 0 && pb_is_digit(val[i]))))
                return fail(ps, PB_E_SYNTAX, col,
                            "`password_env` must name an environment "
                            "variable (letters, digits, '_'), not `%s`",
                            snip(what, sizeof(what), val, vlen));
        s->password_env = pb_xstrdup(val);
        return 0;
    case K_PASSWORD_FILE:
        s->password_file = pb_xstrdup(val);
        return 0;
    case K_CA_FILE:
        s->ca_file = pb_xstrdup(val);
        return 0;
    case K_INSECURE:
        if (strcmp(val, "true") == 0)
            s->insecure = true;
        else if (strcmp(val, "false") == 0)
            s->insecure = false;
        else
            return fail(ps, PB_E_SYNTAX, col,
                        "`insecure` must be true or false, not `%s`",
                        snip(what, sizeof(what), val, vlen));
        return 0;
    case K_INBOX:
        s->inbox = pb_xstrdup(val);
        return 0;
    case K_JUNK:
        s->junk = pb_xstrdup(val);
        return 0;
    case K_PROVIDER:
        if (vlen > 64)
            return fail(ps, PB_E_SYNTAX, col,
                        "`provider` is longer than 64 characters");
        for (i = 0; i < vlen; i++) {
            if (!pb_is_alnum(val[i]) && !strchr("-_.", val[i]))
                return fail(ps, PB_E_SYNTAX, col,
                            "`provider` must be one word (letters, digits, "
                            "'-', '_', '.'), not `%s`",
                            snip(what, sizeof(what), val, vlen));
            val[i] = (char)lower((unsigned char)val[i]);
        }
        s->provider = pb_xstrdup(val);
        return 0;
    case K_AUTHSERV_ID:
        if (!is_authserv_id(val))
            return fail(ps, PB_E_SYNTAX, col,
                        "`authserv_id` must be a name like mx.google.com or "
                        "*.yahoo.com, not `%s`",
                        snip(what, sizeof(what), val, vlen));
        s->authserv_id = pb_xstrdup(val);
        return 0;
    case K_AUTH:
        if (strcmp(val, "login") != 0 && strcmp(val, "plain") != 0 &&
            strcmp(val, "xoauth2") != 0)
            return fail(ps, PB_E_SYNTAX, col,
                        "`auth` must be login, plain or xoauth2, not `%s`",
                        snip(what, sizeof(what), val, vlen));
        s->auth = pb_xstrdup(val);
        return 0;
    case K_COUNT:
        break;
    }
    pb_panic("seeds: key %d", (int)k);
}

/* ------------------------------------------------------------------ */
/* one line                                                            */

/* Does the key (p, n) look like it would hold a secret? */
static bool
is_secret_key(const unsigned char *p, size_t n)
{
    static const char *const words[] = {"pass", "secret", "token",
                                        "pwd",  "key",    "oauth"};
    size_t i, j, w;

    for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t k = strlen(words[w]);

        for (i = 0; i + k <= n; i++) {
            for (j = 0; j < k && lower(p[i + j]) == (unsigned char)words[w][j];
                 j++)
                ;
            if (j == k)
                return true;
        }
    }
    return false;
}

static enum key
key_find(const unsigned char *p, size_t n)
{
    enum key k;

    for (k = 0; k < K_COUNT; k++)
        if (strlen(keys[k].name) == n && memcmp(keys[k].name, p, n) == 0)
            return k;
    return K_COUNT;
}

/* An unknown key at col: say what it might have been. */
static int
unknown_key(struct parser *ps, const unsigned char *p, size_t n, size_t col)
{
    char what[4 * SNIP + 8];
    size_t best = SIZE_MAX, d;
    enum key k, guess = K_COUNT;

    snip(what, sizeof(what), p, n);
    for (k = 0; k < K_COUNT; k++) {
        d = distance((const char *)p, n, keys[k].name);
        if (d < best) {
            best = d;
            guess = k;
        }
    }
    if (is_secret_key(p, n)) {
        /* keep the value out of the message and the evidence */
        ps->ev_len = (size_t)(p - ps->l) + n + 1;
        ps->ev_redacted = true;
    }
    if (best <= 2)
        return fail(ps, PB_E_SYNTAX, col,
                    "unknown attribute `%s`; did you mean `%s`?", what,
                    keys[guess].name);
    if (ps->ev_redacted)
        return fail(ps, PB_E_SYNTAX, col,
                    "`%s`: secrets never go in the seeds file; give "
                    "password_env=NAME or password_file=PATH",
                    what);
    return fail(ps, PB_E_SYNTAX, col,
                "unknown attribute `%s` (see docs/seeds.md for the "
                "attributes)",
                what);
}

/*
 * The value at *i (after '='): quoted with \" and \\, or up to the next
 * blank.  Returns a new string, or NULL after failing.
 */
static char *
read_value(struct parser *ps, size_t *i, const char *key)
{
    const unsigned char *l = ps->l;
    size_t n = ps->llen, start = *i, o = 0;
    char *v;

    if (start < n && l[start] == '"') {
        size_t j = start + 1;

        v = pb_xmalloc(n - start);
        for (;; j++) {
            if (j == n) {
                free(v);
                fail(ps, PB_E_SYNTAX, start + 1,
                     "the quoted value of `%s` has no closing quote", key);
                return NULL;
            }
            if (l[j] == '"')
                break;
            if (l[j] == '\\') {
                if (j + 1 < n && (l[j + 1] == '"' || l[j + 1] == '\\')) {
                    v[o++] = (char)l[++j];
                    continue;
                }
                free(v);
                fail(ps, PB_E_SYNTAX, j + 1,
                     "a backslash in a quoted value escapes only \" and "
                     "\\ (write \\\\ for a backslash)");
                return NULL;
            }
            v[o++] = (char)l[j];
        }
        v[o] = '\0';
        j++;
        if (j < n && !pb_is_wsp(l[j])) {
            free(v);
            fail(ps, PB_E_SYNTAX, j + 1,
                 "a space must follow the closing quote of `%s`", key);
            return NULL;
        }
        *i = j;
    } else {
        size_t j = start;

        while (j < n && !pb_is_wsp(l[j])) {
            if (l[j] == '"') {
                fail(ps, PB_E_SYNTAX, j + 1,
                     "a quote inside the value of `%s`; quote the whole "
                     "value: %s=\"...\"",
                     key, key);
                return NULL;
            }
            j++;
        }
        v = pb_xmemdup(l + start, j - start);
        *i = j;
    }
    if (v[0] == '\0') {
        free(v);
        fail(ps, PB_E_SYNTAX, start + 1, "`%s` has an empty value", key);
        return NULL;
    }
    return v;
}

/* One key=value word at *i into s; seen[] holds the columns so far. */
static int
parse_attr(struct parser *ps, struct seed *s, size_t *i, size_t seen[])
{
    const unsigned char *l = ps->l;
    size_t n = ps->llen, start = *i, j = start, col = start + 1, vcol;
    char what[4 * SNIP + 8];
    enum key k;
    char *val;
    int rc;

    while (j < n && !pb_is_wsp(l[j]) && l[j] != '=')
        j++;
    if (j == n || pb_is_wsp(l[j])) {
        snip(what, sizeof(what), l + start, j - start);
        if (memchr(l + start, '@', j - start) != NULL)
            return fail(ps, PB_E_SYNTAX, col,
                        "`%s` looks like a second address; give one seed "
                        "per line",
                        what);
        if (key_find(l + start, j - start) != K_COUNT)
            return fail(ps, PB_E_SYNTAX, col,
                        "`%s` needs a value: write %s=VALUE, with no space "
                        "around '='",
                        what, what);
        return fail(ps, PB_E_SYNTAX, col,
                    "expected key=value after the address, found `%s`", what);
    }
    if (j == start)
        return fail(ps, PB_E_SYNTAX, col,
                    "'=' without a key before it (no space around '=')");
    k = key_find(l + start, j - start);
    if (k == K_COUNT)
        return unknown_key(ps, l + start, j - start, col);
    if (seen[k] != 0)
        return fail(ps, PB_E_SYNTAX, col,
                    "`%s` is given twice, first at column %zu", keys[k].name,
                    seen[k]);
    seen[k] = col;
    j++;
    vcol = j + 1;
    val = read_value(ps, &j, keys[k].name);
    if (val == NULL)
        return -1;
    rc = set_value(ps, s, k, val, vcol);
    free(val);
    *i = j;
    return rc;
}

/* Rules across the attributes of one seed, and the defaults. */
static int
check_seed(struct parser *ps, struct seed *s, const size_t seen[])
{
    enum key k;

    if (s->imap_url == NULL) {
        for (k = 0; k < K_COUNT; k++)
            if (seen[k] != 0 && keys[k].needs_imap)
                return fail(ps, PB_E_SYNTAX, seen[k],
                            "`%s` is for reading the seed's mailbox and "
                            "needs imap=URL",
                            keys[k].name);
        return 0;
    }
    if (s->password_env != NULL && s->password_file != NULL)
        return fail(ps, PB_E_SYNTAX, seen[K_PASSWORD_FILE],
                    "give either password_env or password_file, not both");
    if (s->password_env == NULL && s->password_file == NULL)
        return fail(ps, PB_E_SYNTAX, seen[K_IMAP],
                    "imap= needs the password: add password_env=NAME or "
                    "password_file=PATH");
    if (s->insecure && s->ca_file != NULL)
        return fail(ps, PB_E_SYNTAX, seen[K_CA_FILE],
                    "ca_file is ignored with insecure=true; give one of "
                    "them");
    if (s->user == NULL)
        s->user = pb_xstrdup(s->address);
    if (s->inbox == NULL)
        s->inbox = pb_xstrdup("INBOX");
    /* RFC 9051 §5.1: INBOX is case-insensitive, other names are not */
    if (s->junk != NULL &&
        (strcmp(s->junk, s->inbox) == 0 ||
         (eq_nocase(s->junk, "INBOX") && eq_nocase(s->inbox, "INBOX"))))
        return fail(ps, PB_E_SYNTAX, seen[K_JUNK],
                    "junk names the same folder as inbox");
    return 0;
}

/* One line (without its end): blank, comment, or a seed. */
static int
parse_line(struct parser *ps)
{
    const unsigned char *l = ps->l;
    size_t n = ps->llen, i = 0, start;
    size_t seen[K_COUNT] = {0};
    char what[4 * SNIP + 8];
    struct pb_err aerr;
    const struct seed *prev;
    struct seed s;

    ps->ev_redacted = false;
    if (n > PB_LIMIT_SEEDS_LINE)
        return fail(ps, PB_E_LIMIT, 0, "the line is longer than %d octets",
                    PB_LIMIT_SEEDS_LINE);
    if (check_bytes(ps) == -1)
        return -1;
    while (i < n && pb_is_wsp(l[i]))
        i++;
    if (i == n || l[i] == '#')
        return 0;

    /* the address: up to a blank, a quoted local part may hold blanks */
    start = i;
    if (l[i] == '"') {
        for (i++; i < n && l[i] != '"'; i++)
            if (l[i] == '\\' && i + 1 < n)
                i++;
        if (i < n)
            i++;
    }
    while (i < n && !pb_is_wsp(l[i]))
        i++;
    snip(what, sizeof(what), l + start, i - start);
    if (memchr(l + start, '@', i - start) == NULL &&
        memchr(l + start, '=', i - start) != NULL)
        return fail(ps, PB_E_SYNTAX, start + 1,
                    "a line starts with the seed's address, not `%s`", what);
    pb_err_clear(&aerr);
    if (pb_addr_check((const char *)l + start, i - start, &aerr) == -1)
        return fail(ps, PB_E_SYNTAX, 0, "bad address `%s`: %s", what, aerr.msg);
    if (ps->out->n >= PB_LIMIT_SEEDS)
        return fail(ps, PB_E_LIMIT, 0, "more than %d seeds", PB_LIMIT_SEEDS);

    memset(&s, 0, sizeof(s));
    s.address = pb_xmemdup(l + start, i - start);
    s.line = ps->line;
    prev = dedup_find(&ps->dd, ps->out, s.address);
    if (prev != NULL) {
        int rc;

        if (strcmp(prev->address, s.address) == 0)
            rc = fail(ps, PB_E_SYNTAX, 0, "%s is already listed at line %u",
                      s.address, prev->line);
        else
            rc = fail(ps, PB_E_SYNTAX, 0,
                      "%s is already listed at line %u (as %s; case does "
                      "not make another mailbox)",
                      s.address, prev->line, prev->address);
        seed_release(&s);
        return rc;
    }
    for (;;) {
        while (i < n && pb_is_wsp(l[i]))
            i++;
        if (i == n || l[i] == '#')
            break;
        if (parse_attr(ps, &s, &i, seen) == -1) {
            seed_release(&s);
            return -1;
        }
    }
    if (check_seed(ps, &s, seen) == -1) {
        seed_release(&s);
        return -1;
    }
    append(ps->out, &ps->cap, &s);
    dedup_add(&ps->dd, ps->out, ps->out->n - 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* the public functions                                                */

int
seeds_parse(const char *p, size_t len, const char *name, struct seeds *out,
            struct pb_err *err)
{
    const unsigned char *s = (const unsigned char *)p;
    struct parser ps;
    size_t off = 0;

    memset(out, 0, sizeof(*out));
    memset(&ps, 0, sizeof(ps));
    if (name == NULL)
        name = "seeds";
    set_name(ps.name, sizeof(ps.name), name);
    ps.out = out;
    ps.err = err;
    if (len > PB_LIMIT_SEEDS_FILE)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%s: larger than %u octets, the limit for a seeds "
                          "file",
                          ps.name, PB_LIMIT_SEEDS_FILE);
    /* tolerate the byte order mark some Windows editors write */
    if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        off = 3;
    while (off < len) {
        const unsigned char *nl = memchr(s + off, '\n', len - off);
        size_t end = nl != NULL ? (size_t)(nl - s) : len;

        ps.line++;
        ps.l = s + off;
        ps.llen = end - off;
        if (ps.llen > 0 && ps.l[ps.llen - 1] == '\r')
            ps.llen--;
        if (parse_line(&ps) == -1)
            goto fail;
        off = end + 1;
    }
    if (out->n == 0) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "no seeds in %s (only blank lines and comments)", ps.name);
        goto fail;
    }
    free(ps.dd.slot);
    out->source = pb_xstrdup(name);
    return 0;
fail:
    free(ps.dd.slot);
    seeds_release(out);
    return -1;
}

int
seeds_load(const char *path, struct seeds *out, struct pb_err *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    char shown[160];
    size_t len = 0, cap = 64 * 1024;
    char *buf;
    int fd, rc, e;

    memset(out, 0, sizeof(*out));
    set_name(shown, sizeof(shown), name);
    fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO, "%s: cannot open: %s",
                          shown, strerror(errno));
    buf = pb_xmalloc(cap);
    for (;;) {
        ssize_t n;

        if (len == cap) {
            /* one octet past the limit tells "too large" from "exact" */
            if (cap > PB_LIMIT_SEEDS_FILE)
                break;
            cap = cap * 2 > PB_LIMIT_SEEDS_FILE + 1 ? PB_LIMIT_SEEDS_FILE + 1
                                                    : cap * 2;
            buf = pb_xrealloc(buf, cap);
        }
        n = read(fd, buf + len, cap - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            e = errno;
            if (!is_stdin)
                close(fd);
            free(buf);
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                              "%s: cannot read: %s", shown, strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (!is_stdin)
        close(fd);
    rc = seeds_parse(buf, len, name, out, err);
    free(buf);
    return rc;
}

int
seeds_from_list(const char *arg, struct seeds *out, struct pb_err *err)
{
    struct dedup dd = {NULL, 0};
    size_t cap = 0, item = 0;
    const char *p = arg;
    char what[4 * SNIP + 8];

    memset(out, 0, sizeof(*out));
    for (;;) {
        const char *start, *end, *next;
        const struct seed *prev;
        struct pb_err aerr;
        struct seed s;

        item++;
        while (pb_is_wsp(*p))
            p++;
        start = p;
        /* a comma inside a quoted local part does not end the address */
        if (*p == '"') {
            for (p++; *p != '\0' && *p != '"'; p++)
                if (*p == '\\' && p[1] != '\0')
                    p++;
            if (*p == '"')
                p++;
        }
        p += strcspn(p, ",");
        next = p;
        end = p;
        while (end > start && pb_is_wsp(end[-1]))
            end--;
        if (end == start) {
            pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                       "--to: address %zu of the list is empty", item);
            pb_err_evidence(err, arg, strlen(arg));
            goto fail;
        }
        snip(what, sizeof(what), start, (size_t)(end - start));
        pb_err_clear(&aerr);
        if (pb_addr_check(start, (size_t)(end - start), &aerr) == -1) {
            pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                       "--to: bad address "
                       "`%s`: %s",
                       what, aerr.msg);
            pb_err_evidence(err, arg, strlen(arg));
            goto fail;
        }
        if (out->n >= PB_LIMIT_SEEDS) {
            pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                       "--to: more than %d addresses", PB_LIMIT_SEEDS);
            goto fail;
        }
        memset(&s, 0, sizeof(s));
        s.address = pb_xmemdup(start, (size_t)(end - start));
        s.line = (unsigned)item;
        prev = dedup_find(&dd, out, s.address);
        if (prev != NULL) {
            pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                       "--to: %s is given twice (addresses %u and %zu)",
                       s.address, prev->line, item);
            pb_err_evidence(err, arg, strlen(arg));
            seed_release(&s);
            goto fail;
        }
        append(out, &cap, &s);
        dedup_add(&dd, out, out->n - 1);
        if (*next == '\0')
            break;
        p = next + 1;
    }
    free(dd.slot);
    out->source = pb_xstrdup("--to");
    return 0;
fail:
    free(dd.slot);
    seeds_release(out);
    return -1;
}
