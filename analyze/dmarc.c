/* SPDX-License-Identifier: MIT */
/*
 * DMARC: the policy record parser (RFC 9989 §4.7, §4.8), the organizational
 * domain by the public suffix list (RFC 7489 §3.2, libpsl) and by the DNS
 * tree walk (RFC 9989 §4.10), policy discovery by both (RFC 7489 §6.6.3,
 * RFC 9989 §4.10.1), and the check of external report destinations (RFC
 * 7489 §7.1, RFC 9990 §4).  Not here: evaluating a message (alignment).
 */
#include "dmarc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "pb_ctype.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/* Findings one record may add; a hostile 64 KB record could add thousands. */
#define DMARC_PARSE_FINDINGS_MAX 32

/* Longest outside text quoted inside a finding's message. */
#define DMARC_QUOTE_MAX 64

static const char CHECK[] = "dmarc";

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */

static unsigned char
lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive: (p, len) equals the lower-case word w. */
static bool
word_eq(const char *p, size_t len, const char *w)
{
    size_t i;

    if (strlen(w) != len)
        return false;
    for (i = 0; i < len; i++)
        if (lower((unsigned char)p[i]) != (unsigned char)w[i])
            return false;
    return true;
}

/* ASCII case-insensitive search for the lower-case word w in (p, len). */
static bool
contains_word(const char *p, size_t len, const char *w)
{
    size_t n = strlen(w), i;

    for (i = 0; n <= len && i <= len - n; i++)
        if (word_eq(p + i, n, w))
            return true;
    return false;
}

static char *
xstrndup(const char *p, size_t len)
{
    char *s = pb_xmalloc(len + 1);

    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* Outside text for a message: escaped, at most DMARC_QUOTE_MAX, "..." */
static void
quote(char *buf, size_t size, const char *p, size_t len)
{
    char tmp[DMARC_QUOTE_MAX + 1];

    if (pb_escape_to(tmp, sizeof(tmp), p, len) == -1)
        snprintf(buf, size, "%s...", tmp);
    else
        snprintf(buf, size, "%s", tmp);
}

static size_t
count_labels(const char *d)
{
    size_t n = 1;

    if (*d == '\0')
        return 0;
    for (; *d != '\0'; d++)
        if (*d == '.')
            n++;
    return n;
}

static int
policy_rank(enum dmarc_policy p)
{
    return (int)p; /* ABSENT < NONE < QUARANTINE < REJECT */
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
    switch (p) {
    case DMARC_POLICY_NONE:
        return "none";
    case DMARC_POLICY_QUARANTINE:
        return "quarantine";
    case DMARC_POLICY_REJECT:
        return "reject";
    default:
        return NULL;
    }
}

/* ------------------------------------------------------------------ */
/* The record parser                                                  */

struct parse {
    const char *rec; /* the whole record, for evidence */
    size_t rec_len;
    struct pb_findings *f; /* may be NULL */
    size_t nfindings;
    size_t nsuppressed;
    struct dmarc_record *out;
    unsigned seen; /* bit per known tag */
};

/* Add a finding with the record as evidence; NULL when not kept. */
static struct pb_finding *parse_finding(struct parse *ps, const char *id,
                                        enum pb_severity sev, const char *fmt,
                                        ...)
    __attribute__((format(printf, 4, 5)));

static struct pb_finding *
parse_finding(struct parse *ps, const char *id, enum pb_severity sev,
              const char *fmt, ...)
{
    struct pb_finding *fd;
    char msg[512];
    va_list ap;

    if (ps->f == NULL)
        return NULL;
    if (ps->nfindings == DMARC_PARSE_FINDINGS_MAX) {
        ps->nsuppressed++;
        return NULL;
    }
    ps->nfindings++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fd = pb_findings_add(ps->f, CHECK, id, sev, "%s", msg);
    pb_finding_evidence(fd, ps->rec, ps->rec_len);
    return fd;
}

static void remedy(struct pb_finding *fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
remedy(struct pb_finding *fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (fd == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    pb_finding_remedy(fd, "%s", buf);
}

/*
 * RFC 9989 §4.7, §4.8: dmarc-version = "v" equals %s"DMARC1", first, then
 * dmarc-sep or the end.  Sets *pos at the ";" or the end.
 */
static int
parse_version(const char *p, size_t len, size_t *pos, bool *lead_wsp,
              struct pb_err *err)
{
    size_t i = 0;

    while (i < len && pb_is_wsp((unsigned char)p[i]))
        i++;
    *lead_wsp = i > 0;
    if (i == len || lower((unsigned char)p[i]) != 'v')
        return pb_err_set(err, PB_STAGE_DNS, PB_E_SYNTAX,
                          "not a DMARC record: it does not start with "
                          "v=DMARC1");
    i++;
    while (i < len && pb_is_wsp((unsigned char)p[i]))
        i++;
    if (i == len || p[i] != '=')
        return pb_err_set(err, PB_STAGE_DNS, PB_E_SYNTAX,
                          "not a DMARC record: the first tag is not v=");
    i++;
    while (i < len && pb_is_wsp((unsigned char)p[i]))
        i++;
    if (len - i < 6 || memcmp(p + i, "DMARC1", 6) != 0) {
        if (len - i >= 6 && word_eq(p + i, 6, "dmarc1"))
            return pb_err_set(err, PB_STAGE_DNS, PB_E_SYNTAX,
                              "the version must be DMARC1 in capitals "
                              "(RFC 9989 4.7: the value is case-sensitive)");
        return pb_err_set(err, PB_STAGE_DNS, PB_E_SYNTAX,
                          "the version is not DMARC1");
    }
    i += 6;
    while (i < len && pb_is_wsp((unsigned char)p[i]))
        i++;
    if (i < len && p[i] != ';')
        return pb_err_set(err, PB_STAGE_DNS, PB_E_SYNTAX,
                          "v=DMARC1 is not followed by \";\"");
    *pos = i;
    return 0;
}

enum tag_kind {
    TAG_V,
    TAG_P,
    TAG_SP,
    TAG_NP,
    TAG_ADKIM,
    TAG_ASPF,
    TAG_FO,
    TAG_PSD,
    TAG_T,
    TAG_RUA,
    TAG_RUF,
    TAG_PCT, /* removed by RFC 9989 */
    TAG_RF,  /* removed by RFC 9989 */
    TAG_RI,  /* removed by RFC 9989 */
    TAG_UNKNOWN,
};

static const char *const tag_names[] = {
    "v",   "p", "sp",  "np",  "adkim", "aspf", "fo",
    "psd", "t", "rua", "ruf", "pct",   "rf",   "ri",
};

static enum tag_kind
tag_kind(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(tag_names) / sizeof(tag_names[0]); i++)
        if (strcmp(name, tag_names[i]) == 0)
            return (enum tag_kind)i;
    return TAG_UNKNOWN;
}

static void
parse_policy(struct parse *ps, const char *name, const char *v,
             enum dmarc_policy *out)
{
    char q[DMARC_QUOTE_MAX + 8];
    struct pb_finding *fd;
    size_t n = strlen(v);

    if (word_eq(v, n, "none"))
        *out = DMARC_POLICY_NONE;
    else if (word_eq(v, n, "quarantine"))
        *out = DMARC_POLICY_QUARANTINE;
    else if (word_eq(v, n, "reject"))
        *out = DMARC_POLICY_REJECT;
    if (*out != DMARC_POLICY_ABSENT)
        return;
    /* RFC 9989 §4.10.1: a bad p, sp or np voids the whole policy */
    ps->out->has_bad_policy = true;
    quote(q, sizeof(q), v, n);
    fd = parse_finding(ps, "dmarc-invalid-policy", PB_SEV_FAIL,
                       "%s=%s is not none, quarantine or reject: receivers "
                       "apply no DMARC policy, or p=none when rua= is "
                       "valid (RFC 9989 4.10.1)",
                       name, q);
    remedy(fd, "write %s=none, %s=quarantine or %s=reject", name, name, name);
}

/* A one-letter value from set (lower case); -1 when it is none of them. */
static int
parse_letter(struct parse *ps, const char *name, const char *v, const char *set,
             const char *dflt)
{
    char q[DMARC_QUOTE_MAX + 8], opts[32] = "";
    struct pb_finding *fd;
    const char *c;

    if (strlen(v) == 1 && strchr(set, lower((unsigned char)v[0])) != NULL)
        return lower((unsigned char)v[0]);
    for (c = set; *c != '\0'; c++) {
        size_t n = strlen(opts);

        snprintf(opts + n, sizeof(opts) - n, "%s%c",
                 c == set ? "" : (c[1] == '\0' ? " or " : ", "), *c);
    }
    quote(q, sizeof(q), v, strlen(v));
    fd = parse_finding(ps, "dmarc-invalid-tag-value", PB_SEV_WARN,
                       "%s=%s is not %s: receivers use the default %s", name, q,
                       opts, dflt);
    remedy(fd, "write %s= with one of %s, or remove the tag", name, opts);
    return -1;
}

/* RFC 9989 §4.8 dmarc-fo: 0 / 1 / d / s joined by ":", 0 and 1 apart. */
static void
parse_fo(struct parse *ps, const char *v)
{
    unsigned fo = 0, bit;
    const char *s = v;
    char q[DMARC_QUOTE_MAX + 8];
    struct pb_finding *fd;

    for (;;) {
        switch (lower((unsigned char)*s)) {
        case '0':
            bit = DMARC_FO_0;
            break;
        case '1':
            bit = DMARC_FO_1;
            break;
        case 'd':
            bit = DMARC_FO_D;
            break;
        case 's':
            bit = DMARC_FO_S;
            break;
        default:
            goto bad;
        }
        if (fo & bit)
            goto bad;
        fo |= bit;
        s++;
        if (*s == '\0')
            break;
        if (*s != ':')
            goto bad;
        s++;
    }
    if ((fo & DMARC_FO_0) && (fo & DMARC_FO_1))
        goto bad;
    ps->out->fo = fo;
    return;
bad:
    quote(q, sizeof(q), v, strlen(v));
    fd = parse_finding(ps, "dmarc-invalid-tag-value", PB_SEV_WARN,
                       "fo=%s is not a list of 0, 1, d and s joined by "
                       "\":\" (0 and 1 not together): receivers use fo=0",
                       q);
    remedy(fd, "write fo=0, fo=1, fo=d, fo=s or a list such as fo=1:d:s");
}

static bool
is_uri_char(unsigned char c)
{
    /* RFC 3986 §2: unreserved, reserved and "%" */
    return pb_is_alpha(c) || pb_is_digit(c) ||
           (c != '\0' && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL);
}

static int
hexval(unsigned char c)
{
    if (pb_is_digit(c))
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/*
 * One URI of a dmarc-urilist (RFC 9989 §4.8; the mailto: form of RFC 6068
 * §2): returns NULL when it is usable, else our reason (static).
 */
static const char *
parse_uri(const char *s, size_t n, struct dmarc_uri *u)
{
    size_t i, body = n, colon, at = 0, end;
    char addr[PB_LIMIT_ADDRESS + 1];
    size_t alen = 0;
    const char *why;

    u->uri = xstrndup(s, n);
    if (n == 0)
        return "is empty";
    for (i = 0; i < n; i++) {
        if (!is_uri_char((unsigned char)s[i]))
            return "holds a character a URI cannot hold";
        if (s[i] == '%' && (i + 2 >= n || hexval((unsigned char)s[i + 1]) < 0 ||
                            hexval((unsigned char)s[i + 2]) < 0))
            return "holds a \"%\" not followed by two hex digits";
    }
    /* obs-dmarc-report-size = "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] */
    for (i = 0; i < n; i++)
        if (s[i] == '!')
            break;
    if (i < n) {
        size_t k = i + 1;

        while (k < n && pb_is_digit((unsigned char)s[k]))
            k++;
        if (k == i + 1 ||
            (k < n && (strchr("kmgt", lower((unsigned char)s[k])) == NULL ||
                       k + 1 != n)))
            return "holds a \"!\" that is not a size suffix (write %21)";
        body = i;
        u->has_size = true;
    }
    if (body == 0 || !pb_is_alpha((unsigned char)s[0]))
        return "does not start with a scheme such as mailto:";
    for (colon = 1; colon < body; colon++) {
        unsigned char c = (unsigned char)s[colon];

        if (c == ':')
            break;
        if (!pb_is_alpha(c) && !pb_is_digit(c) && c != '+' && c != '-' &&
            c != '.')
            return "does not start with a scheme such as mailto:";
    }
    if (colon == body)
        return "does not start with a scheme such as mailto:";
    if (!word_eq(s, colon, "mailto"))
        return "is not a mailto: URI (receivers need only support mailto:)";
    u->is_mailto = true;
    /* RFC 6068 §2: mailto:to[?hfields]; to = addr-spec, percent-encoded */
    for (end = colon + 1; end < body && s[end] != '?'; end++)
        ;
    for (i = colon + 1; i < end; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            c = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 +
                                hexval((unsigned char)s[i + 2]));
            i += 2;
        }
        if (c <= 0x20 || c >= 0x7f || c == ',')
            return "holds an address with a space, a comma or a control "
                   "or 8-bit byte";
        if (alen == PB_LIMIT_ADDRESS)
            return "holds an address longer than 256 octets";
        if (c == '@')
            at = alen;
        addr[alen++] = (char)c;
    }
    addr[alen] = '\0';
    if (alen == 0)
        return "has no address after mailto:";
    if (at == 0 || strchr(addr, '@') != addr + at || at + 1 == alen)
        return "does not hold one address of the form user@domain";
    if (at > PB_LIMIT_LOCALPART)
        return "holds a local part longer than 64 octets";
    /* a host name (no domain literal): letters, digits, "-", "_", "." */
    for (i = at + 1; i < alen; i++) {
        unsigned char c = lower((unsigned char)addr[i]);

        if (!pb_is_alpha(c) && !pb_is_digit(c) && c != '-' && c != '_' &&
            c != '.')
            return "holds an address whose domain is not a host name";
        addr[i] = (char)c;
    }
    if (dns_name_check(addr + at + 1, alen - at - 1, &why) == -1)
        return "holds an address whose domain is not a valid host name";
    if (addr[alen - 1] == '.')
        addr[--alen] = '\0';
    u->address = pb_xstrdup(addr);
    u->domain = pb_xstrdup(addr + at + 1);
    u->is_valid = true;
    return NULL;
}

static void
parse_urilist(struct parse *ps, const char *name, const char *v,
              struct dmarc_uri **list, size_t *n)
{
    const char *p = v, *end = v + strlen(v);

    /* dmarc-urilist: URIs joined by *WSP "," *WSP; commas are encoded */
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma != NULL ? comma : end, *b = p;
        struct dmarc_uri *u;
        const char *why;
        char q[DMARC_QUOTE_MAX + 8];

        while (b < e && pb_is_wsp((unsigned char)*b))
            b++;
        while (e > b && pb_is_wsp((unsigned char)e[-1]))
            e--;
        *list = pb_xreallocarray(*list, *n + 1, sizeof(**list));
        u = &(*list)[(*n)++];
        memset(u, 0, sizeof(*u));
        why = parse_uri(b, (size_t)(e - b), u);
        quote(q, sizeof(q), b, (size_t)(e - b));
        if (why != NULL) {
            struct pb_finding *fd = parse_finding(
                ps, "dmarc-bad-uri", PB_SEV_WARN,
                "%s URI \"%s\" %s: no reports go there", name, q, why);

            remedy(fd,
                   "write each %s destination as mailto:user@domain, "
                   "separated by commas, with \",\" and \"!\" inside a URI "
                   "written %%2C and %%21",
                   name);
        } else if (u->has_size) {
            struct pb_finding *fd = parse_finding(
                ps, "dmarc-uri-size", PB_SEV_INFO,
                "%s URI \"%s\" ends in a size limit, which RFC 9989 4.8 "
                "makes obsolete: reporters ignore it",
                name, q);

            remedy(fd, "drop the !size suffix from the %s URI", name);
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
}

static void
add_tag(struct dmarc_record *r, const char *name, size_t nlen, const char *v,
        size_t vlen)
{
    struct dmarc_tag *t;
    size_t i;

    r->tags = pb_xreallocarray(r->tags, r->ntags + 1, sizeof(*r->tags));
    t = &r->tags[r->ntags++];
    t->name = xstrndup(name, nlen);
    for (i = 0; i < nlen; i++)
        t->name[i] = (char)lower((unsigned char)t->name[i]);
    t->value = xstrndup(v, vlen);
}

/* One tag-spec between separators, WSP already trimmed, not empty. */
static void
parse_tag(struct parse *ps, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t nlen, i, vlen;
    const char *v;
    char q[DMARC_QUOTE_MAX + 8];
    struct pb_finding *fd;
    struct dmarc_tag *t;
    enum tag_kind kind;
    int c;

    quote(q, sizeof(q), s, n);
    if (eq == NULL) {
        fd = parse_finding(ps, "dmarc-syntax", PB_SEV_WARN,
                           "\"%s\" is not a tag=value pair: receivers "
                           "ignore it",
                           q);
        remedy(fd, "write it as tag=value, or remove it");
        return;
    }
    nlen = (size_t)(eq - s);
    while (nlen > 0 && pb_is_wsp((unsigned char)s[nlen - 1]))
        nlen--;
    v = eq + 1;
    vlen = n - (size_t)(v - s);
    while (vlen > 0 && pb_is_wsp((unsigned char)*v)) {
        v++;
        vlen--;
    }
    for (i = 0; i < nlen && pb_is_alpha((unsigned char)s[i]); i++)
        ;
    if (nlen == 0 || i < nlen) {
        fd = parse_finding(ps, "dmarc-syntax", PB_SEV_WARN,
                           "\"%s\": a tag name is letters only (RFC 9989 "
                           "4.8): receivers ignore it",
                           q);
        remedy(fd, "write the tag as name=value with a known tag name, or "
                   "remove it");
        return;
    }
    if (vlen == 0) {
        fd = parse_finding(ps, "dmarc-syntax", PB_SEV_WARN,
                           "\"%s\" has no value: receivers ignore it", q);
        remedy(fd, "give the tag a value, or remove it");
        return;
    }
    /* dmarc-value = %x20-3A / %x3C-7E: no control, 8-bit, TAB or NUL */
    for (i = 0; i < vlen; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
            break;
    if (i < vlen) {
        fd = parse_finding(ps, "dmarc-syntax", PB_SEV_WARN,
                           "\"%s\" holds a byte that is not printable ASCII "
                           "(control, NUL or 8-bit): receivers ignore the tag",
                           q);
        remedy(fd, "retype the tag in plain ASCII");
        return;
    }
    add_tag(ps->out, s, nlen, v, vlen);
    t = &ps->out->tags[ps->out->ntags - 1];
    kind = tag_kind(t->name);
    if (kind == TAG_UNKNOWN) {
        fd = parse_finding(ps, "dmarc-unknown-tag", PB_SEV_INFO,
                           "unknown tag \"%s\": receivers ignore it (RFC "
                           "9989 4.7)",
                           q);
        remedy(fd, "remove %s= unless a receiver you care about documents it",
               t->name);
        return;
    }
    if (ps->seen & (1u << kind)) {
        fd = parse_finding(ps, "dmarc-duplicate-tag", PB_SEV_WARN,
                           "%s= appears twice: receivers differ on which "
                           "one counts (this audit keeps the first)",
                           t->name);
        remedy(fd, "keep one %s= tag", t->name);
        return;
    }
    ps->seen |= 1u << kind;
    switch (kind) {
    case TAG_P:
        parse_policy(ps, "p", t->value, &ps->out->p);
        break;
    case TAG_SP:
        parse_policy(ps, "sp", t->value, &ps->out->sp);
        break;
    case TAG_NP:
        parse_policy(ps, "np", t->value, &ps->out->np);
        break;
    case TAG_ADKIM:
    case TAG_ASPF:
        c = parse_letter(ps, t->name, t->value, "rs", "r (relaxed)");
        if (c == 's' && kind == TAG_ADKIM)
            ps->out->adkim = DMARC_ALIGN_STRICT;
        else if (c == 's')
            ps->out->aspf = DMARC_ALIGN_STRICT;
        break;
    case TAG_T:
        c = parse_letter(ps, "t", t->value, "yn", "n (apply the policy)");
        ps->out->is_testing = c == 'y';
        break;
    case TAG_PSD:
        c = parse_letter(ps, "psd", t->value, "ynu", "u");
        ps->out->psd = c == 'y'   ? DMARC_PSD_Y
                       : c == 'n' ? DMARC_PSD_N
                                  : DMARC_PSD_U;
        break;
    case TAG_FO:
        parse_fo(ps, t->value);
        break;
    case TAG_RUA:
        parse_urilist(ps, "rua", t->value, &ps->out->rua, &ps->out->nrua);
        break;
    case TAG_RUF:
        parse_urilist(ps, "ruf", t->value, &ps->out->ruf, &ps->out->nruf);
        break;
    case TAG_PCT:
        /* RFC 7489 §6.3: an integer 0..100; judged once p is known */
        if (vlen <= 3 && strspn(t->value, "0123456789") == vlen &&
            atoi(t->value) <= 100)
            ps->out->pct = atoi(t->value);
        break;
    case TAG_RF:
    case TAG_RI:
        fd = parse_finding(ps, "dmarc-removed-tag", PB_SEV_INFO,
                           "%s= is no longer part of DMARC (removed by RFC "
                           "9989, Appendix C): receivers ignore it",
                           t->name);
        remedy(fd, "remove %s=", t->name);
        break;
    default: /* TAG_V again is caught as a duplicate above */
        break;
    }
}

/* pct=: removed by RFC 9989 (Appendix A.6), which has t=y instead. */
static void
judge_pct(struct parse *ps)
{
    const struct dmarc_record *r = ps->out;
    struct pb_finding *fd;
    bool enforcing =
        r->p == DMARC_POLICY_QUARANTINE || r->p == DMARC_POLICY_REJECT;

    if (!(ps->seen & (1u << TAG_PCT)))
        return;
    if (r->pct >= 0 && r->pct < 100 && enforcing) {
        fd = parse_finding(ps, "dmarc-pct-partial", PB_SEV_WARN,
                           "pct=%d: RFC 7489 receivers apply p=%s to %d%% "
                           "of failing mail, but RFC 9989 removed pct= and "
                           "its receivers apply it to all",
                           r->pct, dmarc_policy_name(r->p), r->pct);
        remedy(fd,
               "replace pct=%d with t=y while testing (receivers then apply "
               "one level less), and drop it when ready",
               r->pct);
        return;
    }
    fd = parse_finding(ps, "dmarc-removed-tag", PB_SEV_INFO,
                       "pct= is no longer part of DMARC (removed by RFC "
                       "9989, Appendix A.6)%s",
                       r->pct < 0 ? ", and its value is not 0 to 100" : "");
    remedy(fd, "remove pct=; use t=y to test a policy");
}

void
dmarc_record_release(struct dmarc_record *rec)
{
    size_t i;

    if (rec == NULL)
        return;
    free(rec->raw);
    for (i = 0; i < rec->ntags; i++) {
        free(rec->tags[i].name);
        free(rec->tags[i].value);
    }
    free(rec->tags);
    for (i = 0; i < rec->nrua; i++) {
        free(rec->rua[i].uri);
        free(rec->rua[i].address);
        free(rec->rua[i].domain);
        free(rec->rua[i].auth_name);
    }
    free(rec->rua);
    for (i = 0; i < rec->nruf; i++) {
        free(rec->ruf[i].uri);
        free(rec->ruf[i].address);
        free(rec->ruf[i].domain);
        free(rec->ruf[i].auth_name);
    }
    free(rec->ruf);
    memset(rec, 0, sizeof(*rec));
    rec->pct = -1;
}

int
dmarc_record_parse(const char *p, size_t len, struct dmarc_record *out,
                   struct pb_findings *syntax, struct pb_err *err)
{
    struct parse ps;
    bool lead_wsp = false;
    size_t i = 0;

    memset(out, 0, sizeof(*out));
    out->pct = -1;
    if (len > PB_LIMIT_DNS_RDATA)
        return pb_err_set(err, PB_STAGE_DNS, PB_E_LIMIT,
                          "DMARC record of %zu bytes, over %d", len,
                          PB_LIMIT_DNS_RDATA);
    if (parse_version(p, len, &i, &lead_wsp, err) == -1) {
        pb_err_evidence(err, p, len);
        return -1;
    }
    memset(&ps, 0, sizeof(ps));
    ps.rec = p;
    ps.rec_len = len;
    ps.f = syntax;
    ps.out = out;
    ps.seen = 1u << TAG_V;
    out->raw = xstrndup(p, len);
    out->raw_len = len;
    add_tag(out, "v", 1, "DMARC1", 6);
    if (lead_wsp) {
        /* leniency: the grammar has no leading space, most receivers
           trim it */
        struct pb_finding *fd = parse_finding(
            &ps, "dmarc-syntax", PB_SEV_WARN,
            "the record starts with white space: strict receivers "
            "ignore it (RFC 9989 4.8)");

        remedy(fd, "start the record with v=DMARC1");
    }
    /* RFC 9989 §4.8: tags joined by dmarc-sep = *WSP ";" *WSP */
    while (i < len) {
        size_t b = i + 1, e;

        for (e = b; e < len && p[e] != ';'; e++)
            ;
        while (b < e && pb_is_wsp((unsigned char)p[b]))
            b++;
        i = e;
        while (e > b && pb_is_wsp((unsigned char)p[e - 1]))
            e--;
        /* leniency: an empty tag-spec (";;" or a final ";") is skipped */
        if (e > b)
            parse_tag(&ps, p + b, e - b);
    }
    judge_pct(&ps);
    if (ps.nsuppressed > 0 && syntax != NULL) {
        struct pb_finding *fd = pb_findings_add(
            syntax, CHECK, "dmarc-syntax", PB_SEV_WARN,
            "%zu more problems in the record are not listed", ps.nsuppressed);

        pb_finding_evidence(fd, p, len);
        pb_finding_remedy(fd, "rewrite the record from the tags you mean");
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Organizational domain by the public suffix list                    */

/*
 * The list to use.  Debian builds libpsl with the list built in (taken
 * from the publicsuffix package at build time), so it works without that
 * package; the package's DAFSA file wins when it is newer.  *loaded is set
 * when a file was read: psl_free() it.  No cache, so no global state.
 */
static const psl_ctx_t *
psl_context(psl_ctx_t **loaded)
{
    const psl_ctx_t *ctx = psl_builtin();

    *loaded = NULL;
    if (ctx == NULL || psl_builtin_outdated()) {
        *loaded = psl_latest(NULL);
        if (*loaded != NULL)
            ctx = *loaded;
    }
    return ctx;
}

int
dmarc_org_domain_psl(const char *domain, char *out, size_t size)
{
    char name[PB_LIMIT_DNS_NAME + 2];
    const psl_ctx_t *ctx;
    psl_ctx_t *loaded = NULL;
    const char *reg;
    size_t n = strlen(domain), i;
    int rc = -1;

    if (n > 0 && domain[n - 1] == '.')
        n--;
    if (n == 0 || n >= sizeof(name))
        return -1;
    for (i = 0; i < n; i++)
        name[i] = (char)lower((unsigned char)domain[i]);
    name[n] = '\0';
    ctx = psl_context(&loaded);
    if (ctx == NULL)
        return -1;
    reg = psl_registrable_domain(ctx, name);
    if (reg != NULL && strlen(reg) < size) {
        memcpy(out, reg, strlen(reg) + 1);
        rc = 0;
    }
    psl_free(loaded);
    return rc;
}

/* True when the list names domain (lower case) a public suffix itself. */
static bool
is_public_suffix(const char *domain)
{
    psl_ctx_t *loaded = NULL;
    const psl_ctx_t *ctx = psl_context(&loaded);
    bool yes;

    if (ctx == NULL)
        return false;
    yes = psl_is_public_suffix2(ctx, domain,
                                PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
    psl_free(loaded);
    return yes;
}

/* ------------------------------------------------------------------ */
/* DNS tree walk                                                      */

size_t
dmarc_tree_walk_targets(const char *domain,
                        const char *out[DMARC_TREE_WALK_MAX])
{
    size_t x = count_labels(domain), n = 0, skip;
    const char *p = domain;

    if (x == 0)
        return 0;
    out[n++] = domain;
    /* §4.10 step 4: x < 8 drops one label, x >= 8 keeps the last 7 */
    skip = x >= DMARC_TREE_WALK_MAX ? x - DMARC_TREE_WALK_LABELS : 1;
    while (n < DMARC_TREE_WALK_MAX && x > 1) {
        while (skip > 0) {
            p = strchr(p, '.') + 1;
            skip--;
            x--;
        }
        out[n++] = p;
        skip = 1;
    }
    return n;
}

/* Is (p, len) a DMARC record? With psd, its psd= value. */
static bool
is_dmarc(const char *p, size_t len, enum dmarc_psd *psd)
{
    struct dmarc_record rec;

    if (dmarc_record_parse(p, len, &rec, NULL, NULL) == -1)
        return false;
    if (psd != NULL)
        *psd = rec.psd;
    dmarc_record_release(&rec);
    return true;
}

static void
step_classify(struct dmarc_walk_step *st)
{
    size_t k;

    st->ndmarc = 0;
    for (k = 0; k < st->answer->nrr; k++) {
        const struct dns_rr *rr = &st->answer->rr[k];
        enum dmarc_psd psd = DMARC_PSD_U;

        if (rr->type != DNS_TYPE_TXT || !is_dmarc(rr->data, rr->len, &psd))
            continue;
        if (st->ndmarc++ == 0) {
            st->record_index = k;
            st->psd = psd;
        }
    }
    if (st->ndmarc != 1)
        st->psd = DMARC_PSD_U;
}

/* The name one label below ancestor on the way to domain. */
static char *
child_toward(const char *domain, const char *ancestor)
{
    size_t dl = strlen(domain), al = strlen(ancestor), i;

    if (al >= dl)
        return pb_xstrdup(domain);
    /* ancestor is domain's suffix after a "." at dl - al - 1 */
    for (i = dl - al - 1; i > 0 && domain[i - 1] != '.'; i--)
        ;
    return pb_xstrdup(domain + i);
}

/* §4.10.1 and §4.10.2 on filled steps (answers classified). */
static void
walk_select(struct dmarc_walk *w, const char *domain)
{
    size_t i, last = 0, stop = 0;
    bool has_last = false, stopped = false;
    char *org;

    w->policy_step = -1;
    w->error_step = -1;
    w->nconsidered = w->nsteps;
    for (i = 0; i < w->nsteps; i++) {
        const struct dmarc_walk_step *st = &w->steps[i];

        if (dns_answer_is_error(st->answer) && w->error_step < 0)
            w->error_step = (int)i;
        if (st->ndmarc == 1) {
            last = i;
            has_last = true;
        }
        /* §4.10 steps 2 and 6: a single record with psd=n or y stops */
        if (st->ndmarc == 1 && st->psd != DMARC_PSD_U) {
            w->nconsidered = i + 1;
            stop = i;
            stopped = true;
            break;
        }
    }
    /* §4.10.2: psd=n is it; psd=y (not the start) one label below; else
       the record with the fewest labels; none at all: the domain itself */
    if (stopped && w->steps[stop].psd == DMARC_PSD_N)
        org = pb_xstrdup(w->steps[stop].domain);
    else if (stopped && stop > 0)
        org = child_toward(domain, w->steps[stop].domain);
    else if (has_last)
        org = pb_xstrdup(w->steps[last].domain);
    else
        org = pb_xstrdup(domain);
    /* §4.10.1: the domain's record, else the organizational domain's,
       else the public suffix domain's */
    if (w->nsteps > 0 && w->steps[0].ndmarc == 1) {
        w->policy_step = 0;
    } else {
        for (i = 0; i < w->nconsidered; i++)
            if (w->steps[i].ndmarc == 1 && strcmp(w->steps[i].domain, org) == 0)
                w->policy_step = (int)i;
        if (w->policy_step < 0 && stopped && stop > 0 &&
            w->steps[stop].psd == DMARC_PSD_Y) {
            w->policy_step = (int)stop;
            w->is_psd_policy = true;
        }
    }
    if (w->error_step >= 0)
        free(org);
    else
        w->org_domain = org;
}

/* Put the walk's questions at q[0..] and return how many. */
static size_t
walk_prepare(struct dmarc_walk *w, const char *domain, char **names,
             struct dns_question *q)
{
    const char *t[DMARC_TREE_WALK_MAX];
    size_t i;

    memset(w, 0, sizeof(*w));
    w->policy_step = -1;
    w->error_step = -1;
    w->nsteps = dmarc_tree_walk_targets(domain, t);
    for (i = 0; i < w->nsteps; i++) {
        w->steps[i].domain = pb_xstrdup(t[i]);
        names[i] = pb_xasprintf("_dmarc.%s", t[i]);
        q[i].name = names[i];
        q[i].type = DNS_TYPE_TXT;
    }
    return w->nsteps;
}

static void
walk_finish(struct dmarc_walk *w, const char *domain,
            const struct dns_answer **answers)
{
    size_t i;

    for (i = 0; i < w->nsteps; i++) {
        w->steps[i].answer = answers[i];
        step_classify(&w->steps[i]);
    }
    walk_select(w, domain);
}

void
dmarc_tree_walk(struct dns_resolver *r, const char *domain,
                struct dmarc_walk *out)
{
    char *names[DMARC_TREE_WALK_MAX];
    struct dns_question q[DMARC_TREE_WALK_MAX] = {{NULL, 0}};
    const struct dns_answer *a[DMARC_TREE_WALK_MAX];
    size_t n, i;

    n = walk_prepare(out, domain, names, q);
    dns_query_many(r, q, n, a);
    walk_finish(out, domain, a);
    for (i = 0; i < n; i++)
        free(names[i]);
}

void
dmarc_walk_release(struct dmarc_walk *w)
{
    size_t i;

    if (w == NULL)
        return;
    for (i = 0; i < w->nsteps; i++)
        free(w->steps[i].domain);
    free(w->org_domain);
    memset(w, 0, sizeof(*w));
    w->policy_step = -1;
    w->error_step = -1;
}

/* ------------------------------------------------------------------ */
/* The audit                                                          */

static struct pb_finding *audit_finding(struct dmarc_audit *a, const char *id,
                                        enum pb_severity sev, const char *fmt,
                                        ...)
    __attribute__((format(printf, 4, 5)));

static struct pb_finding *
audit_finding(struct dmarc_audit *a, const char *id, enum pb_severity sev,
              const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pb_findings_add(&a->findings, CHECK, id, sev, "%s", msg);
}

/* "SERVFAIL", "TIMEOUT (detail)": for messages. */
static void
answer_text(const struct dns_answer *ans, char *buf, size_t size)
{
    if (ans->detail[0] != '\0')
        snprintf(buf, size, "%s: %s", dns_status_name(ans), ans->detail);
    else
        snprintf(buf, size, "%s", dns_status_name(ans));
}

/* owner: the domain whose name servers must answer */
static void
dns_error_finding(struct dmarc_audit *a, const struct dns_answer *ans,
                  const char *owner, const char *what)
{
    char st[200];
    struct pb_finding *fd;

    answer_text(ans, st, sizeof(st));
    fd = audit_finding(a, "dmarc-dns-error", PB_SEV_ERROR,
                       "could not read TXT %s (%s), so %s is unknown",
                       ans->qname, st, what);
    pb_finding_remedy(fd,
                      "run the check again; if it persists, make the name "
                      "servers of %s answer TXT queries for %s",
                      owner, ans->qname);
}

/*
 * TXT records at one _dmarc name: several v=DMARC1 records, and records
 * that mention DMARC but are not DMARC records (receivers ignore both).
 */
static void
judge_name(struct dmarc_audit *a, const struct dmarc_walk_step *st)
{
    const struct dns_answer *ans = st->answer;
    struct pb_finding *fd;
    struct pb_buf ev;
    size_t k;

    if (ans == NULL)
        return;
    if (st->ndmarc > 1) {
        pb_buf_init(&ev, PB_FINDING_EVIDENCE_MAX);
        for (k = 0; k < ans->nrr; k++) {
            const struct dns_rr *rr = &ans->rr[k];

            if (rr->type != DNS_TYPE_TXT || !is_dmarc(rr->data, rr->len, NULL))
                continue;
            if ((ev.len > 0 && pb_buf_adds(&ev, " | ") == -1) ||
                pb_buf_add(&ev, rr->data, rr->len) == -1)
                break;
        }
        fd = audit_finding(
            a, "dmarc-multiple-records", PB_SEV_FAIL,
            "%zu DMARC records at _dmarc.%s: receivers use none of them (RFC "
            "7489 6.6.3 applies no policy; RFC 9989 4.10 discards them and "
            "looks further up)",
            st->ndmarc, st->domain);
        pb_finding_evidence(fd, pb_buf_ptr(&ev), ev.len);
        pb_finding_remedy(fd,
                          "keep exactly one TXT record starting with "
                          "v=DMARC1 at _dmarc.%s and delete the others",
                          st->domain);
        pb_buf_release(&ev);
    }
    for (k = 0; k < ans->nrr; k++) {
        const struct dns_rr *rr = &ans->rr[k];
        struct dmarc_record rec;
        struct pb_err err;

        if (rr->type != DNS_TYPE_TXT ||
            !contains_word(rr->data, rr->len, "dmarc"))
            continue;
        pb_err_clear(&err);
        if (dmarc_record_parse(rr->data, rr->len, &rec, NULL, &err) == 0) {
            dmarc_record_release(&rec);
            continue;
        }
        if (st->ndmarc == 0) {
            fd = audit_finding(a, "dmarc-record-ignored", PB_SEV_FAIL,
                               "the TXT record at _dmarc.%s is not a DMARC "
                               "record and receivers ignore it: %s",
                               st->domain, err.msg);
            pb_finding_remedy(fd,
                              "publish it as \"v=DMARC1; p=...\": the version "
                              "tag first, exactly v=DMARC1, then \";\" and "
                              "the other tags");
        } else {
            fd = audit_finding(a, "dmarc-stray-record", PB_SEV_WARN,
                               "another TXT record at _dmarc.%s mentions "
                               "DMARC but is not a DMARC record: %s",
                               st->domain, err.msg);
            pb_finding_remedy(fd, "delete the stray TXT record at _dmarc.%s",
                              st->domain);
        }
        pb_finding_evidence(fd, rr->data, rr->len);
    }
}

static int
step_of(const struct dmarc_walk *w, const char *domain)
{
    size_t i;

    for (i = 0; i < w->nsteps; i++)
        if (strcmp(w->steps[i].domain, domain) == 0)
            return (int)i;
    return -1;
}

static bool
str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static const char *
or_none(const char *s)
{
    return s != NULL ? s : "none";
}

/* The organizational domain by the list, or the name itself. */
static char *
org_or_self(const char *d)
{
    char org[PB_LIMIT_DNS_NAME + 1];

    if (dmarc_org_domain_psl(d, org, sizeof(org)) == 0)
        return pb_xstrdup(org);
    return pb_xstrdup(d);
}

static const char *
auth_id(bool is_ruf)
{
    return is_ruf ? "dmarc-external-ruf-unauthorized"
                  : "dmarc-external-rua-unauthorized";
}

/*
 * RFC 7489 §7.1 (RFC 9990 §4, RFC 9991 §5): a destination under another
 * organizational domain must publish v=DMARC1 at
 * <policy domain>._report._dmarc.<destination>.
 */
static void
verify_destinations(struct dns_resolver *r, struct dmarc_audit *a)
{
    struct dmarc_uri *all[2] = {a->rec.rua, a->rec.ruf};
    size_t counts[2] = {a->rec.nrua, a->rec.nruf};
    struct dns_question *q;
    const struct dns_answer **ans;
    char *own = org_or_self(a->found_at);
    size_t nq = 0, total = counts[0] + counts[1], skipped = 0, l, i, k;

    q = pb_xreallocarray(NULL, total + 1, sizeof(*q));
    ans = pb_xreallocarray(NULL, total + 1, sizeof(*ans));
    for (l = 0; l < 2; l++) {
        for (i = 0; i < counts[l]; i++) {
            struct dmarc_uri *u = &all[l][i];
            char *dest;
            bool seen = false;

            if (!u->is_valid)
                continue;
            dest = org_or_self(u->domain);
            u->is_external = strcmp(dest, own) != 0;
            free(dest);
            if (!u->is_external)
                continue;
            u->auth_name =
                pb_xasprintf("%s._report._dmarc.%s", a->found_at, u->domain);
            for (k = 0; k < nq; k++)
                if (strcmp(q[k].name, u->auth_name) == 0)
                    seen = true;
            /* RFC 9990 §4 step 4: a name over the DNS limit: not authorized */
            if (seen || strlen(u->auth_name) > PB_LIMIT_DNS_NAME)
                continue;
            if (nq == DMARC_VERIFY_MAX) {
                u->auth = DMARC_AUTH_NOT_CHECKED;
                skipped++;
                continue;
            }
            q[nq].name = u->auth_name;
            q[nq].type = DNS_TYPE_TXT;
            nq++;
        }
    }
    dns_query_many(r, q, nq, ans);
    for (l = 0; l < 2; l++) {
        for (i = 0; i < counts[l]; i++) {
            struct dmarc_uri *u = &all[l][i];
            const struct dns_answer *an = NULL;
            struct pb_finding *fd;
            bool reported = false;
            size_t ndmarc = 0;

            if (u->auth_name == NULL || u->auth == DMARC_AUTH_NOT_CHECKED)
                continue;
            /* one finding per destination and list */
            for (k = 0; k < i; k++)
                if (all[l][k].auth_name != NULL &&
                    strcmp(all[l][k].auth_name, u->auth_name) == 0)
                    reported = true;
            if (strlen(u->auth_name) > PB_LIMIT_DNS_NAME) {
                u->auth = DMARC_AUTH_NO;
                if (reported)
                    continue;
                fd = audit_finding(
                    a, auth_id(l == 1), PB_SEV_WARN,
                    "%s reports to %s will be dropped: the name that would "
                    "authorize them, %s._report._dmarc.%s, is longer than "
                    "253 octets (RFC 9990 4)",
                    l == 1 ? "failure" : "aggregate", u->domain, a->found_at,
                    u->domain);
                pb_finding_evidence(fd, u->uri, strlen(u->uri));
                pb_finding_remedy(fd,
                                  "send %s reports to an address at %s or at "
                                  "a shorter domain",
                                  l == 1 ? "ruf" : "rua", own);
                continue;
            }
            for (k = 0; k < nq; k++)
                if (strcmp(q[k].name, u->auth_name) == 0)
                    an = ans[k];
            if (an == NULL) { /* a duplicate of one past the limit */
                u->auth = DMARC_AUTH_NOT_CHECKED;
                continue;
            }
            if (dns_answer_is_error(an)) {
                u->auth = DMARC_AUTH_DNS_ERROR;
                if (!reported)
                    dns_error_finding(a, an, u->domain,
                                      "whether the report destination "
                                      "accepts reports");
                continue;
            }
            for (k = 0; k < an->nrr; k++)
                if (an->rr[k].type == DNS_TYPE_TXT &&
                    is_dmarc(an->rr[k].data, an->rr[k].len, NULL))
                    ndmarc++;
            u->auth = ndmarc > 0 ? DMARC_AUTH_YES : DMARC_AUTH_NO;
            if (ndmarc > 0 || reported)
                continue;
            fd = audit_finding(
                a, auth_id(l == 1), PB_SEV_WARN,
                "%s reports to %s will be dropped: %s has not agreed to take "
                "reports for %s (no v=DMARC1 record at %s, RFC 7489 7.1)",
                l == 1 ? "failure" : "aggregate", u->domain, u->domain,
                a->found_at, u->auth_name);
            pb_finding_evidence(fd, u->uri, strlen(u->uri));
            pb_finding_remedy(fd,
                              "the owner of %s must publish the TXT record "
                              "\"v=DMARC1;\" at %s (or at "
                              "*._report._dmarc.%s for every domain it "
                              "serves); else send %s reports to an address "
                              "at %s",
                              u->domain, u->auth_name, u->domain,
                              l == 1 ? "ruf" : "rua", own);
        }
    }
    if (skipped > 0) {
        struct pb_finding *fd = audit_finding(
            a, "dmarc-too-many-destinations", PB_SEV_INFO,
            "%zu more external report destinations were not verified (this "
            "audit checks %d)",
            skipped, DMARC_VERIFY_MAX);

        pb_finding_remedy(fd, "list fewer report destinations: receivers "
                              "need only report to two (RFC 7489 6.2)");
    }
    free(q);
    free(ans);
    free(own);
}

/* Policy facts of the record that applies (RFC 9989 §4.7, §4.10.1). */
static void
judge_policy(struct dmarc_audit *a)
{
    const struct dmarc_record *rec = &a->rec;
    bool at_domain = strcmp(a->found_at, a->domain) == 0;
    bool rua_ok = false;
    struct pb_finding *fd;
    enum dmarc_policy eff;
    const char *eff_tag = "p";
    size_t i;

    for (i = 0; i < rec->nrua; i++)
        if (rec->rua[i].is_valid)
            rua_ok = true;
    if (rec->has_bad_policy || rec->p == DMARC_POLICY_ABSENT) {
        /* §4.10.1: rua= valid: act as p=none; else no DMARC at all */
        eff = rua_ok ? DMARC_POLICY_NONE : DMARC_POLICY_ABSENT;
        if (rec->p == DMARC_POLICY_ABSENT && !rec->has_bad_policy) {
            if (rua_ok) {
                fd = audit_finding(a, "dmarc-policy-none", PB_SEV_WARN,
                                   "the record has no p= tag: receivers act "
                                   "as if p=none (RFC 9989 4.10.1) and take "
                                   "no action on mail that fails DMARC");
            } else {
                fd = audit_finding(a, "dmarc-policy-missing", PB_SEV_FAIL,
                                   "the record has no p= tag and no usable "
                                   "rua=: receivers apply no DMARC to mail "
                                   "from %s (RFC 9989 4.10.1)",
                                   a->domain);
            }
            pb_finding_evidence(fd, rec->raw, rec->raw_len);
            pb_finding_remedy(fd, "add p=none right after v=DMARC1 (RFC 7489 "
                                  "receivers expect it there), then move to "
                                  "p=quarantine and p=reject");
        }
    } else if (!at_domain && rec->sp != DMARC_POLICY_ABSENT) {
        eff = rec->sp; /* §4.10.1: sp for an existing subdomain */
        eff_tag = "sp";
    } else {
        eff = rec->p;
    }
    a->effective = eff;
    if (eff == DMARC_POLICY_NONE && rec->p != DMARC_POLICY_ABSENT &&
        !rec->has_bad_policy) {
        fd = audit_finding(
            a, "dmarc-policy-none", PB_SEV_WARN,
            "%s=none applies to %s: receivers take no action on mail that "
            "fails DMARC; Gmail and Yahoo accept it from bulk senders (\"DMARC "
            "published, p=none is enough\") but it stops no spoofing",
            eff_tag, a->domain);
        pb_finding_evidence(fd, rec->raw, rec->raw_len);
        pb_finding_remedy(fd,
                          "read the rua= aggregate reports until all your "
                          "own mail passes DMARC, then publish "
                          "%s=quarantine and later %s=reject",
                          eff_tag, eff_tag);
    }
    if (rec->is_testing && policy_rank(eff) > DMARC_POLICY_NONE) {
        fd = audit_finding(a, "dmarc-testing", PB_SEV_INFO,
                           "t=y: receivers apply one level less than "
                           "%s=%s (RFC 9989 4.7)",
                           eff_tag, dmarc_policy_name(eff));
        pb_finding_evidence(fd, rec->raw, rec->raw_len);
        pb_finding_remedy(fd, "remove t=y when the reports show your mail "
                              "passes");
    }
    /* sp and np matter only where the record covers subdomains */
    if (!rec->has_bad_policy && rec->p != DMARC_POLICY_ABSENT &&
        (!at_domain || str_eq(a->domain, a->org_domain_tree) ||
         str_eq(a->domain, a->org_domain_psl))) {
        enum dmarc_policy sub =
            rec->sp != DMARC_POLICY_ABSENT ? rec->sp : rec->p;

        if (rec->sp != DMARC_POLICY_ABSENT &&
            policy_rank(rec->sp) < policy_rank(rec->p)) {
            fd = audit_finding(a, "dmarc-subdomain-policy-weaker", PB_SEV_INFO,
                               "sp=%s is weaker than p=%s: subdomains of %s "
                               "are less protected than the domain",
                               dmarc_policy_name(rec->sp),
                               dmarc_policy_name(rec->p), a->found_at);
            pb_finding_evidence(fd, rec->raw, rec->raw_len);
            pb_finding_remedy(fd, "raise sp= to %s, or remove it",
                              dmarc_policy_name(rec->p));
        }
        if (rec->np != DMARC_POLICY_ABSENT &&
            policy_rank(rec->np) < policy_rank(sub)) {
            fd = audit_finding(a, "dmarc-subdomain-policy-weaker", PB_SEV_INFO,
                               "np=%s is weaker than the %s=%s it overrides: "
                               "names under %s that do not exist are less "
                               "protected",
                               dmarc_policy_name(rec->np),
                               rec->sp != DMARC_POLICY_ABSENT ? "sp" : "p",
                               dmarc_policy_name(sub), a->found_at);
            pb_finding_evidence(fd, rec->raw, rec->raw_len);
            pb_finding_remedy(fd, "raise np= to reject: no mail comes from "
                                  "names that do not exist");
        }
    }
    if (rec->nrua == 0) {
        fd = audit_finding(a, "dmarc-no-rua", PB_SEV_INFO,
                           "no rua=: receivers send no aggregate reports, so "
                           "you cannot see who sends mail as %s",
                           a->domain);
        pb_finding_evidence(fd, rec->raw, rec->raw_len);
        pb_finding_remedy(fd,
                          "add rua=mailto:dmarc-reports@%s (a mailbox you "
                          "read or feed to a report tool)",
                          a->found_at);
    }
    if (rec->fo != 0 && rec->nruf == 0) {
        fd = audit_finding(a, "dmarc-fo-without-ruf", PB_SEV_INFO,
                           "fo= is set but there is no ruf=: receivers "
                           "ignore it (RFC 9989 4.7)");
        pb_finding_evidence(fd, rec->raw, rec->raw_len);
        pb_finding_remedy(fd, "remove fo=, or add ruf= for failure reports");
    }
    if (rec->psd == DMARC_PSD_Y && at_domain && !is_public_suffix(a->domain)) {
        fd = audit_finding(a, "dmarc-psd-flag", PB_SEV_WARN,
                           "psd=y declares %s a public suffix: RFC 9989 "
                           "receivers treat each name below it as its own "
                           "organizational domain, so mail from "
                           "sub.%s no longer aligns with %s",
                           a->domain, a->domain, a->domain);
        pb_finding_evidence(fd, rec->raw, rec->raw_len);
        pb_finding_remedy(fd,
                          "remove psd=y (or write psd=n) unless %s is a "
                          "registry that hands out names to others",
                          a->domain);
    }
}

/* Did a psd= tag stop the walk (§4.10 steps 2 and 6)? */
static bool
stopped_by_psd(const struct dmarc_walk *w)
{
    const struct dmarc_walk_step *st;

    if (w->nconsidered == 0)
        return false;
    st = &w->steps[w->nconsidered - 1];
    return st->ndmarc == 1 && st->psd != DMARC_PSD_U;
}

/* Where the two methods disagree (RFC 7489 vs RFC 9989 receivers). */
static void
judge_methods(struct dmarc_audit *a)
{
    struct pb_finding *fd;

    if (a->org_domain_psl != NULL && a->org_domain_tree != NULL &&
        strcmp(a->org_domain_psl, a->org_domain_tree) != 0) {
        bool tree_wider =
            count_labels(a->org_domain_tree) < count_labels(a->org_domain_psl);

        fd = audit_finding(
            a, "dmarc-org-domain-mismatch", PB_SEV_WARN,
            "the organizational domain of %s is %s by the public suffix list "
            "(RFC 7489) but %s by the DNS tree walk (RFC 9989): the two "
            "kinds of receivers judge relaxed alignment differently",
            a->domain, a->org_domain_psl, a->org_domain_tree);
        if (tree_wider)
            pb_finding_remedy(fd,
                              "publish your record at _dmarc.%s with psd=n so "
                              "RFC 9989 receivers also stop at %s",
                              a->org_domain_psl, a->org_domain_psl);
        else if (stopped_by_psd(&a->walk))
            pb_finding_remedy(fd,
                              "check that the psd= tag that stopped the walk "
                              "is meant; RFC 7489 receivers ignore it");
        else
            pb_finding_remedy(fd,
                              "publish a DMARC record at _dmarc.%s, the "
                              "registered domain, so RFC 9989 receivers also "
                              "take it as the organizational domain",
                              a->org_domain_psl);
    }
    if (!str_eq(a->found_at_psl, a->found_at_tree)) {
        fd = audit_finding(a, "dmarc-org-domain-mismatch", PB_SEV_WARN,
                           "RFC 7489 receivers (public suffix list) take "
                           "the policy from %s%s, RFC 9989 receivers (DNS "
                           "tree walk) from %s%s",
                           a->found_at_psl != NULL ? "_dmarc." : "",
                           or_none(a->found_at_psl),
                           a->found_at_tree != NULL ? "_dmarc." : "",
                           or_none(a->found_at_tree));
        pb_finding_remedy(fd,
                          "publish one DMARC record at _dmarc.%s so every "
                          "receiver applies the same policy",
                          a->domain);
    }
}

/* Copy the record of step st (which holds exactly one) into the audit. */
static void
take_record(struct dmarc_audit *a, const struct dmarc_walk_step *st)
{
    const struct dns_rr *rr = &st->answer->rr[st->record_index];

    a->record = xstrndup(rr->data, rr->len);
    a->record_len = rr->len;
    a->found_at = pb_xstrdup(st->domain);
    /* it parsed in step_classify, so it parses again */
    a->has_record =
        dmarc_record_parse(rr->data, rr->len, &a->rec, &a->findings, NULL) == 0;
}

static void
audit_invalid(struct dmarc_audit *a, const char *given, const char *why)
{
    char q[DMARC_QUOTE_MAX + 8];
    struct pb_finding *fd;

    quote(q, sizeof(q), given, strlen(given));
    fd = audit_finding(a, "dmarc-invalid-domain", PB_SEV_ERROR,
                       "\"%s\" is not a domain name that can be checked: %s", q,
                       why);
    pb_finding_remedy(fd, "give the domain as letters, digits, hyphens and "
                          "dots (IDNs as A-labels, xn--...)");
    a->status = pb_findings_status(&a->findings);
}

void
dmarc_audit_run(struct dns_resolver *r, const char *domain,
                struct dmarc_audit *out)
{
    char *names[DMARC_TREE_WALK_MAX + 1];
    struct dns_question q[DMARC_TREE_WALK_MAX + 1];
    const struct dns_answer *ans[DMARC_TREE_WALK_MAX + 1];
    char org[PB_LIMIT_DNS_NAME + 1];
    struct dmarc_walk_step psl_step;
    const struct dmarc_walk_step *s0, *ps = NULL;
    struct dmarc_walk *w = &out->walk;
    size_t n, i, len = strlen(domain);
    const char *why;
    struct pb_finding *fd;
    int k;

    memset(out, 0, sizeof(*out));
    out->rec.pct = -1;
    out->walk.policy_step = -1;
    out->walk.error_step = -1;
    pb_findings_init(&out->findings);
    out->domain = pb_xstrdup(domain);
    if (len > 0 && out->domain[len - 1] == '.')
        out->domain[--len] = '\0';
    for (i = 0; i < len; i++)
        out->domain[i] = (char)lower((unsigned char)out->domain[i]);
    if (dns_name_check(out->domain, len, &why) == -1 || len == 0) {
        audit_invalid(out, domain, len == 0 ? "it is empty" : why);
        return;
    }
    if (len + 7 > PB_LIMIT_DNS_NAME) {
        audit_invalid(out, domain, "_dmarc. and the name exceed 253 octets");
        return;
    }
    if (dmarc_org_domain_psl(out->domain, org, sizeof(org)) == 0)
        out->org_domain_psl = pb_xstrdup(org);

    /* one batch: the walk's names and the list's organizational domain */
    n = walk_prepare(w, out->domain, names, q);
    memset(&psl_step, 0, sizeof(psl_step));
    if (out->org_domain_psl != NULL && step_of(w, out->org_domain_psl) < 0) {
        names[n] = pb_xasprintf("_dmarc.%s", out->org_domain_psl);
        q[n].name = names[n];
        q[n].type = DNS_TYPE_TXT;
        n++;
    }
    dns_query_many(r, q, n, ans);
    walk_finish(w, out->domain, ans);
    if (n > w->nsteps) {
        psl_step.domain = out->org_domain_psl;
        psl_step.answer = ans[w->nsteps];
        step_classify(&psl_step);
        ps = &psl_step;
    } else if (out->org_domain_psl != NULL) {
        ps = &w->steps[step_of(w, out->org_domain_psl)];
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    if (w->org_domain != NULL)
        out->org_domain_tree = pb_xstrdup(w->org_domain);
    s0 = &w->steps[0];

    /* RFC 7489 §6.6.3: the domain, else (only when the domain holds no
       DMARC record at all) the list's organizational domain */
    if (s0->ndmarc == 1)
        out->found_at_psl = pb_xstrdup(out->domain);
    else if (s0->ndmarc == 0 && ps != NULL && ps != s0 && ps->ndmarc == 1)
        out->found_at_psl = pb_xstrdup(ps->domain);
    /* RFC 9989 §4.10.1 */
    if (w->policy_step >= 0)
        out->found_at_tree = pb_xstrdup(w->steps[w->policy_step].domain);

    judge_name(out, s0);
    if (ps != NULL && ps != s0 && s0->ndmarc == 0)
        judge_name(out, ps);
    if (dns_answer_is_error(s0->answer))
        dns_error_finding(out, s0->answer, out->domain,
                          "the DMARC record of the domain");

    if (s0->ndmarc == 1) {
        take_record(out, s0);
        out->found_by = "domain";
    } else if (w->policy_step >= 0) {
        take_record(out, &w->steps[w->policy_step]);
        out->found_by = "tree-walk";
    } else if (out->found_at_psl != NULL) {
        take_record(out, ps);
        out->found_by = "psl";
    }

    /* the walk failed where it mattered */
    k = w->error_step;
    if (k > 0 && s0->ndmarc != 1)
        dns_error_finding(out, w->steps[k].answer, w->steps[k].domain,
                          "the policy inherited from a parent domain");
    else if (k > 0) {
        char st[200];

        answer_text(w->steps[k].answer, st, sizeof(st));
        fd = audit_finding(out, "dmarc-org-domain-unknown", PB_SEV_INFO,
                           "the DNS tree walk stopped at TXT %s (%s): the "
                           "organizational domain, which decides relaxed "
                           "alignment, is unknown",
                           w->steps[k].answer->qname, st);
        pb_finding_remedy(fd, "run the check again");
    }
    if (ps != NULL && ps != s0 && ps->answer != NULL &&
        step_of(w, ps->domain) < 0 && dns_answer_is_error(ps->answer) &&
        s0->ndmarc == 0)
        dns_error_finding(out, ps->answer, ps->domain,
                          "the policy of the organizational domain");

    if (out->found_at == NULL && s0->ndmarc == 0 && out->findings.n == 0) {
        fd = audit_finding(out, "dmarc-missing", PB_SEV_FAIL,
                           "no DMARC record at _dmarc.%s%s%s: receivers "
                           "apply no DMARC policy, and Gmail and Yahoo "
                           "require one from bulk senders",
                           out->domain,
                           out->org_domain_psl != NULL &&
                                   strcmp(out->org_domain_psl, out->domain)
                               ? " nor at _dmarc."
                               : "",
                           out->org_domain_psl != NULL &&
                                   strcmp(out->org_domain_psl, out->domain)
                               ? out->org_domain_psl
                               : "");
        pb_finding_remedy(fd,
                          "publish a TXT record at _dmarc.%s: \"v=DMARC1; "
                          "p=none; rua=mailto:dmarc@%s\", read the "
                          "aggregate reports, then move to p=quarantine and "
                          "p=reject",
                          out->domain, out->domain);
    }
    if (out->found_at != NULL && strcmp(out->found_at, out->domain) != 0) {
        const char *how =
            out->found_at_psl != NULL && out->found_at_tree != NULL &&
                    strcmp(out->found_at_psl, out->found_at_tree) == 0
                ? "the public suffix list and the DNS tree "
                  "walk agree"
            : out->found_at_tree != NULL &&
                    strcmp(out->found_at, out->found_at_tree) == 0
                ? "found by the DNS tree walk"
                : "found by the public suffix list";

        if (strcmp(out->found_by, "tree-walk") == 0 && w->is_psd_policy) {
            fd = audit_finding(out, "dmarc-found-at-psd", PB_SEV_WARN,
                               "no DMARC record of your own: the policy of "
                               "the public suffix %s (psd=y) applies to %s",
                               out->found_at, out->domain);
            pb_finding_remedy(fd,
                              "publish your own record at _dmarc.%s "
                              "(\"v=DMARC1; p=none; rua=mailto:dmarc@%s\" to "
                              "start)",
                              w->org_domain != NULL ? w->org_domain
                                                    : out->domain,
                              out->domain);
        } else {
            fd = audit_finding(out, "dmarc-found-at-org-domain", PB_SEV_INFO,
                               "no DMARC record at _dmarc.%s: the record at "
                               "_dmarc.%s applies, its sp= (or p= "
                               "without one) for subdomains (%s)",
                               out->domain, out->found_at, how);
            pb_finding_remedy(fd,
                              "nothing to do if that policy suits %s; else "
                              "publish a record at _dmarc.%s",
                              out->domain, out->domain);
        }
        pb_finding_evidence(fd, out->record, out->record_len);
    }
    judge_methods(out);
    if (out->has_record) {
        judge_policy(out);
        verify_destinations(r, out);
    }
    out->status = pb_findings_status(&out->findings);
}

void
dmarc_audit_release(struct dmarc_audit *a)
{
    if (a == NULL)
        return;
    free(a->domain);
    free(a->record);
    free(a->found_at);
    free(a->found_at_psl);
    free(a->found_at_tree);
    free(a->org_domain_psl);
    free(a->org_domain_tree);
    dmarc_record_release(&a->rec);
    dmarc_walk_release(&a->walk);
    pb_findings_release(&a->findings);
    memset(a, 0, sizeof(*a));
}
