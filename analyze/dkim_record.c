/* SPDX-License-Identifier: MIT */
/*
 * DKIM key records: the RFC 6376 §3.2 tag-list parser, the §3.6.1 key tags
 * (v k h s t n p), keys checked with OpenSSL (RSA per RFC 8301 sizes,
 * ed25519 per RFC 8463), and the DKIM audit of `probe check`: named or
 * guessed selectors, all asked at once.  Signatures are not verified here;
 * the DomainKeys (RFC 4870) g= tag is only recognised as obsolete.
 */
#include "dkim_record.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pb_ctype.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

/*
 * Guessed when no selector is named.  Keep it short (every domain of a
 * batch asks each one) and to selectors a provider uses as they are.
 */
const char *const dkim_discovery_selectors[] = {
    "google",      /* Google Workspace (the default selector) */
    "selector1",   /* Microsoft 365: CNAME to *.onmicrosoft.com */
    "selector2",   /* Microsoft 365: the second (rotation) key */
    "k1",          /* Mailchimp, Mailgun */
    "k2",          /* Mailchimp */
    "k3",          /* Mailchimp */
    "mandrill",    /* Mandrill (Mailchimp Transactional) */
    "s1",          /* SendGrid (CNAME to *.sendgrid.net), many others */
    "s2",          /* SendGrid: the second key */
    "default",     /* cPanel, Plesk, DirectAdmin, OpenDKIM examples */
    "dkim",        /* rspamd's default, many self-hosted setups */
    "mail",        /* Brevo (Sendinblue), Mail-in-a-Box, Yandex */
    "smtp",        /* Mailgun (older domains) */
    "mx",          /* Mailgun */
    "everlytic",   /* Everlytic */
    "mxvault",     /* MXVault */
    "s1024",       /* Yahoo-era hosts: 1024-bit key */
    "s2048",       /* Yahoo-era hosts: 2048-bit key */
    "sig1",        /* Apple iCloud+ custom e-mail domains */
    "zoho",        /* Zoho Mail */
    "zmail",       /* Zoho Mail (other suggested name) */
    "fm1",         /* Fastmail (CNAME to *.dkim.fmhosted.com) */
    "fm2",         /* Fastmail */
    "fm3",         /* Fastmail */
    "protonmail",  /* Proton Mail (CNAME to *.domains.proton.ch) */
    "protonmail2", /* Proton Mail */
    "protonmail3", /* Proton Mail */
    "mailjet",     /* Mailjet */
    "cm",          /* Campaign Monitor */
    "ctct1",       /* Constant Contact */
    "ctct2",       /* Constant Contact */
    "kl",          /* Klaviyo */
    "kl2",         /* Klaviyo */
    "brevo1",      /* Brevo (newer domains) */
    "brevo2",      /* Brevo */
    "zendesk1",    /* Zendesk */
    "zendesk2",    /* Zendesk */
};
const size_t dkim_discovery_count =
    sizeof(dkim_discovery_selectors) / sizeof(dkim_discovery_selectors[0]);

const char *
dkim_key_type_name(enum dkim_key_type t)
{
    switch (t) {
    case DKIM_KEY_RSA:
        return "rsa";
    case DKIM_KEY_ED25519:
        return "ed25519";
    default:
        return "unknown";
    }
}

const char *
dkim_outcome_name(enum dkim_outcome o)
{
    switch (o) {
    case DKIM_FOUND:
        return "found";
    case DKIM_MISSING:
        return "not-found";
    case DKIM_DANGLING:
        return "dangling-cname";
    case DKIM_OTHER_TXT:
        return "other-txt";
    case DKIM_DNS_FAILED:
        return "dns-error";
    default:
        return "invalid";
    }
}

/* ------------------------------------------------------------------ */
/* The tag-list, RFC 6376 §3.2                                         */

/* §3.2: VALCHAR = %x21-3A / %x3C-7E (printable, not ";") */
static bool
is_valchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != ';';
}

/*
 * Skip FWS = [*WSP CRLF] 1*WSP (RFC 5322 §3.2.2, as RFC 6376 §2.8 uses
 * it): a CRLF counts only when whitespace follows it.
 */
static size_t
skip_fws(const unsigned char *p, size_t len, size_t i)
{
    for (;;) {
        while (i < len && pb_is_wsp(p[i]))
            i++;
        if (i + 2 < len && p[i] == '\r' && p[i + 1] == '\n' &&
            pb_is_wsp(p[i + 2])) {
            i += 3;
            continue;
        }
        return i;
    }
}

static void set_why(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t whysize, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whysize == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whysize, fmt, ap);
    va_end(ap);
}

/* Our words for the byte at p[i], which may not appear where it is. */
static const char *
byte_desc(const unsigned char *p, size_t len, size_t i, char *buf, size_t size)
{
    unsigned char c = p[i];

    if (c == '\0')
        return "a NUL byte";
    if (c == '\r' && i + 1 < len && p[i + 1] == '\n')
        return "a line break not followed by whitespace";
    if (c == '\r')
        return "a bare CR";
    if (c == '\n')
        return "a bare LF";
    if (c == ';')
        return "\";\"";
    if (c >= 0x80)
        snprintf(buf, size, "the 8-bit byte 0x%02x", c);
    else if (c < 0x20 || c == 0x7f)
        snprintf(buf, size, "the control byte 0x%02x", c);
    else
        snprintf(buf, size, "\"%c\"", c);
    return buf;
}

void
dkim_record_release(struct dkim_record *rec)
{
    size_t i;

    if (rec == NULL)
        return;
    for (i = 0; i < rec->ntags; i++)
        free(rec->tags[i].value);
    free(rec->tags);
    if (rec->key != NULL)
        OPENSSL_cleanse(rec->key, rec->key_len); /* public, but tidy */
    free(rec->key);
    memset(rec, 0, sizeof(*rec));
}

/*
 * Split the tag-list into out->tags.  Returns -1 with why on anything
 * §3.2 does not allow, and on a DKIM_LIMIT_* exceeded.
 */
static int
parse_tags(const unsigned char *p, size_t len, struct dkim_record *out,
           char *why, size_t whysize)
{
    size_t i = 0, cap = 0, k;
    char b[32];

    for (;;) {
        size_t start, nstart, nlen, vstart, vend;
        struct dkim_tag *t;

        i = skip_fws(p, len, i);
        if (i == len) {
            if (out->ntags == 0) {
                set_why(why, whysize, "empty record");
                return -1;
            }
            return 0; /* §3.2: a final ";" is allowed */
        }
        start = i;
        /* tag-name = ALPHA *ALNUMPUNC */
        if (!pb_is_alpha(p[i])) {
            set_why(why, whysize,
                    p[i] == ';' ? "offset %zu: empty tag-spec (\";;\")"
                                : "offset %zu: a tag name must start with a "
                                  "letter, not %s",
                    i, byte_desc(p, len, i, b, sizeof(b)));
            return -1;
        }
        nstart = i;
        while (i < len &&
               (pb_is_alpha(p[i]) || pb_is_digit(p[i]) || p[i] == '_'))
            i++;
        nlen = i - nstart;
        if (nlen > DKIM_LIMIT_TAG_NAME) {
            set_why(why, whysize,
                    "offset %zu: tag name of %zu octets, over the limit "
                    "of %d",
                    nstart, nlen, DKIM_LIMIT_TAG_NAME);
            return -1;
        }
        i = skip_fws(p, len, i);
        if (i == len || p[i] != '=') {
            set_why(why, whysize,
                    "offset %zu: expected \"=\" after tag %.*s, "
                    "found %s",
                    i, (int)nlen, (const char *)p + nstart,
                    i == len ? "the end" : byte_desc(p, len, i, b, sizeof(b)));
            return -1;
        }
        i = skip_fws(p, len, i + 1);
        /* tag-value = [ tval *( 1*(WSP / FWS) tval ) ] */
        vstart = vend = i;
        while (i < len && p[i] != ';') {
            size_t j;

            if (is_valchar(p[i])) {
                vend = ++i;
                continue;
            }
            j = skip_fws(p, len, i);
            if (j == i) {
                set_why(why, whysize, "offset %zu: %s in the value of %.*s=", i,
                        byte_desc(p, len, i, b, sizeof(b)), (int)nlen,
                        (const char *)p + nstart);
                return -1;
            }
            i = j;
        }
        /* §3.2: a tag-list with a duplicate tag name is invalid */
        for (k = 0; k < out->ntags; k++) {
            if (strlen(out->tags[k].name) == nlen &&
                memcmp(out->tags[k].name, p + nstart, nlen) == 0) {
                set_why(why, whysize, "offset %zu: duplicate tag %.*s=", start,
                        (int)nlen, (const char *)p + nstart);
                return -1;
            }
        }
        if (out->ntags == DKIM_LIMIT_TAGS) {
            set_why(why, whysize, "more than %d tags", DKIM_LIMIT_TAGS);
            return -1;
        }
        if (out->ntags == cap) {
            cap = cap ? cap * 2 : 8;
            out->tags = pb_xreallocarray(out->tags, cap, sizeof(*out->tags));
        }
        t = &out->tags[out->ntags++];
        memset(t, 0, sizeof(*t));
        memcpy(t->name, p + nstart, nlen);
        t->name[nlen] = '\0';
        t->value = pb_xmemdup(p + vstart, vend - vstart);
        t->len = vend - vstart;
        t->offset = start;
        if (i == len)
            return 0;
        i++; /* the ";" */
    }
}

/* Compare a value with its one spelling: exact, another case, or not. */
static enum dkim_match
match_value(const char *v, size_t len, const char *want)
{
    size_t n = strlen(want);

    if (len != n)
        return DKIM_MATCH_NONE;
    if (memcmp(v, want, n) == 0)
        return DKIM_MATCH_EXACT;
    if (strncasecmp(v, want, n) == 0)
        return DKIM_MATCH_CASE;
    return DKIM_MATCH_NONE;
}

/*
 * Walk a colon-separated list (h=, s=, t=: [FWS] ":" [FWS] between items)
 * and OR the bit of each item found in names (other_bit when unknown).
 */
static unsigned
list_bits(const struct dkim_tag *t, const char *const *names,
          const unsigned *bits, size_t n, unsigned other_bit)
{
    const unsigned char *p = (const unsigned char *)t->value;
    unsigned set = 0;
    size_t i = 0, k;

    while (i <= t->len) {
        size_t s, e;

        i = skip_fws(p, t->len, i);
        s = e = i;
        while (i < t->len && p[i] != ':') {
            if (!pb_is_wsp(p[i]) && p[i] != '\r' && p[i] != '\n')
                e = i + 1;
            i++;
        }
        for (k = 0; k < n; k++)
            if (e - s == strlen(names[k]) &&
                memcmp(p + s, names[k], e - s) == 0)
                break;
        set |= k < n ? bits[k] : other_bit;
        i++; /* the ":" or past the end */
    }
    return set;
}

/*
 * Decode p= (RFC 6376 §3.6.1 base64string: FWS allowed anywhere, "="
 * padding only at the end).  Sets key, key_len and is_unpadded, or
 * key_error.  Leniency: bits left over in the last character are not
 * required to be zero, and missing padding is decoded (and reported).
 */
static void
decode_key(const struct dkim_tag *t, struct dkim_record *out)
{
    const unsigned char *p = (const unsigned char *)t->value;
    unsigned char *buf;
    unsigned long acc = 0;
    size_t i, n = 0, npad = 0, o = 0, rem;

    buf = pb_xmalloc(t->len / 4 * 3 + 3);
    for (i = 0; i < t->len; i++) {
        unsigned char c = p[i];
        int v;

        if (pb_is_wsp(c) || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            if (++npad > 2) {
                snprintf(out->key_error, sizeof(out->key_error),
                         "p= is not valid base64: more than two \"=\"");
                goto fail;
            }
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
        else {
            snprintf(out->key_error, sizeof(out->key_error),
                     "p= is not valid base64: \"%c\" at offset %zu of the "
                     "value%s",
                     c, i,
                     c == '-' || c == '_' ? " (base64url is not allowed)" : "");
            goto fail;
        }
        if (npad > 0) {
            snprintf(out->key_error, sizeof(out->key_error),
                     "p= is not valid base64: data after the \"=\" padding");
            goto fail;
        }
        acc = (acc << 6 | (unsigned long)v) & 0xffffffUL;
        if (++n % 4 == 0) {
            buf[o++] = (unsigned char)(acc >> 16);
            buf[o++] = (unsigned char)(acc >> 8);
            buf[o++] = (unsigned char)acc;
        }
    }
    rem = n % 4;
    if (rem == 1 || (npad > 0 && (rem == 0 || (n + npad) % 4 != 0))) {
        snprintf(out->key_error, sizeof(out->key_error),
                 "p= is not valid base64: %zu characters and %zu \"=\" do "
                 "not make whole groups of 4 (truncated?)",
                 n, npad);
        goto fail;
    }
    if (rem == 2) {
        buf[o++] = (unsigned char)(acc >> 4);
    } else if (rem == 3) {
        buf[o++] = (unsigned char)(acc >> 10);
        buf[o++] = (unsigned char)(acc >> 2);
    }
    out->is_unpadded = rem != 0 && npad == 0;
    out->key = buf;
    out->key_len = o;
    return;
fail:
    free(buf);
}

/* Drain what OpenSSL queued: our message says what failed. */
static void
ssl_clear(void)
{
    ERR_clear_error();
}

/*
 * One DER element at *p (of left octets): its tag, and its content in
 * (*content, *clen); moves *p past it.  Definite lengths only (DER).
 */
static int
der_next(const unsigned char **p, size_t *left, unsigned char *tag,
         const unsigned char **content, size_t *clen)
{
    const unsigned char *s = *p;
    size_t n = *left, len, i, k;

    if (n < 2)
        return -1;
    *tag = s[0];
    len = s[1];
    i = 2;
    if (len & 0x80) {
        k = len & 0x7f;
        if (k == 0 || k > 3 || n < 2 + k)
            return -1;
        for (len = 0; k > 0; k--)
            len = len << 8 | s[i++];
    }
    if (len > n - i)
        return -1;
    *content = s + i;
    *clen = len;
    *p = s + i + len;
    *left = n - i - len;
    return 0;
}

/*
 * The RSAPublicKey inside an RSA SubjectPublicKeyInfo (RFC 5280 §4.1,
 * RFC 3279 §2.3.1), found without OpenSSL's decoder framework: in OpenSSL
 * 3 d2i_PUBKEY costs about 200 µs and takes global locks, which dominated
 * batch audits.  NULL for anything else (the caller then asks OpenSSL).
 */
static const unsigned char *
spki_rsa_inner(const unsigned char *key, size_t len, size_t *inner_len)
{
    static const unsigned char rsa_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                            0x0d, 0x01, 0x01, 0x01};
    const unsigned char *p = key, *seq, *alg, *oid, *bits;
    size_t left = len, seqlen, alglen, oidlen, bitslen;
    unsigned char tag;

    if (der_next(&p, &left, &tag, &seq, &seqlen) == -1 || tag != 0x30 ||
        left != 0)
        return NULL;
    p = seq;
    left = seqlen;
    if (der_next(&p, &left, &tag, &alg, &alglen) == -1 || tag != 0x30)
        return NULL;
    if (der_next(&p, &left, &tag, &bits, &bitslen) == -1 || tag != 0x03 ||
        left != 0 || bitslen < 2 || bits[0] != 0)
        return NULL;
    {
        const unsigned char *ap = alg, *nul;
        size_t aleft = alglen, nullen;

        if (der_next(&ap, &aleft, &tag, &oid, &oidlen) == -1 || tag != 0x06 ||
            oidlen != sizeof(rsa_oid) ||
            memcmp(oid, rsa_oid, sizeof(rsa_oid)) != 0)
            return NULL;
        /* parameters: NULL, or (leniently) absent */
        if (aleft != 0 && (der_next(&ap, &aleft, &tag, &nul, &nullen) == -1 ||
                           tag != 0x05 || nullen != 0 || aleft != 0))
            return NULL;
    }
    *inner_len = bitslen - 1;
    return bits + 1;
}

int
dkim_key_inspect(enum dkim_key_type type, const unsigned char *key, size_t len,
                 enum dkim_key_form *form, unsigned *bits, char *why,
                 size_t whysize)
{
    const unsigned char *q = key;
    EVP_PKEY *pk = NULL;
    int id, rc = -1;

    *form = DKIM_FORM_NONE;
    *bits = 0;
    if (len == 0) {
        set_why(why, whysize, "the key is empty");
        return -1;
    }
    if (len > DKIM_LIMIT_KEY) {
        set_why(why, whysize, "key of %zu octets, over the limit of %d", len,
                DKIM_LIMIT_KEY);
        return -1;
    }
    if (type == DKIM_KEY_ED25519) {
        if (len == 32) {
            pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, 32);
            if (pk == NULL) {
                ssl_clear();
                set_why(why, whysize, "OpenSSL rejects the ed25519 key");
                return -1;
            }
            EVP_PKEY_free(pk);
            *form = DKIM_FORM_RAW;
            *bits = 256;
            return 0;
        }
        pk = d2i_PUBKEY(NULL, &q, (long)len);
        if (pk != NULL && EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519)
            set_why(why, whysize,
                    "p= holds an ed25519 SubjectPublicKeyInfo of %zu "
                    "octets; RFC 8463 §4.2 wants the bare 32-octet key",
                    len);
        else
            set_why(why, whysize, "an ed25519 key is 32 octets, p= holds %zu",
                    len);
        goto out;
    }
    /* RFC 6376 §3.6.1: an RSA key is a DER SubjectPublicKeyInfo */
    {
        size_t ilen;
        const unsigned char *inner = spki_rsa_inner(key, len, &ilen);

        if (inner != NULL) {
            q = inner;
            pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)ilen);
            if (pk != NULL && q == inner + ilen) {
                *form = DKIM_FORM_SPKI;
                *bits = (unsigned)EVP_PKEY_get_bits(pk);
                rc = 0;
                goto out;
            }
            /* not a good RSA key inside: let OpenSSL say what it is */
            EVP_PKEY_free(pk);
            pk = NULL;
            ssl_clear();
            q = key;
        }
    }
    pk = d2i_PUBKEY(NULL, &q, (long)len);
    if (pk != NULL) {
        id = EVP_PKEY_get_base_id(pk);
        if (q != key + len) {
            set_why(why, whysize, "%zu octets of garbage after the key",
                    (size_t)(key + len - q));
        } else if (id != EVP_PKEY_RSA) {
            set_why(why, whysize, "p= holds %s key, not an RSA key%s",
                    id == EVP_PKEY_ED25519   ? "an ed25519"
                    : id == EVP_PKEY_EC      ? "an EC"
                    : id == EVP_PKEY_RSA_PSS ? "an RSA-PSS"
                    : id == EVP_PKEY_DSA     ? "a DSA"
                                             : "another",
                    id == EVP_PKEY_ED25519 ? " (for ed25519, set k=ed25519 "
                                             "and publish the raw 32 octets)"
                                           : "");
        } else {
            *form = DKIM_FORM_SPKI;
            *bits = (unsigned)EVP_PKEY_get_bits(pk);
            rc = 0;
        }
        goto out;
    }
    ssl_clear();
    /* leniency: some publish the bare PKCS#1 RSAPublicKey; many accept it */
    q = key;
    pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)len);
    if (pk != NULL && q == key + len) {
        *form = DKIM_FORM_PKCS1;
        *bits = (unsigned)EVP_PKEY_get_bits(pk);
        rc = 0;
        goto out;
    }
    if (len == 32)
        set_why(why, whysize,
                "32 octets do not make an RSA key (an ed25519 key without "
                "k=ed25519?)");
    else
        set_why(why, whysize,
                "%zu octets that are not a DER SubjectPublicKeyInfo or "
                "RSAPublicKey (truncated or corrupt)",
                len);
out:
    if (rc == -1)
        ssl_clear();
    EVP_PKEY_free(pk);
    return rc;
}

int
dkim_record_parse(const char *p, size_t len, struct dkim_record *out, char *why,
                  size_t whysize)
{
    static const char *const hash_names[] = {"sha1", "sha256"};
    static const unsigned hash_bits[] = {DKIM_HASH_SHA1, DKIM_HASH_SHA256};
    static const char *const svc_names[] = {"*", "email"};
    static const unsigned svc_bits[] = {DKIM_SERVICE_ANY, DKIM_SERVICE_EMAIL};
    static const char *const flag_names[] = {"y", "s"};
    static const unsigned flag_bits[] = {DKIM_FLAG_TESTING, DKIM_FLAG_STRICT};
    size_t i;

    memset(out, 0, sizeof(*out));
    if (why != NULL && whysize > 0)
        why[0] = '\0';
    if (len > DKIM_LIMIT_RECORD) {
        set_why(why, whysize, "record of %zu octets, over the limit of %d", len,
                DKIM_LIMIT_RECORD);
        return -1;
    }
    if (parse_tags((const unsigned char *)p, len, out, why, whysize) == -1) {
        dkim_record_release(out);
        return -1;
    }
    for (i = 0; i < out->ntags; i++) {
        const struct dkim_tag *t = &out->tags[i];

        if (t->name[1] != '\0')
            continue;
        switch (t->name[0]) {
        case 'v':
            out->tag_v = t;
            break;
        case 'k':
            out->tag_k = t;
            break;
        case 'h':
            out->tag_h = t;
            break;
        case 's':
            out->tag_s = t;
            break;
        case 't':
            out->tag_t = t;
            break;
        case 'n':
            out->tag_n = t;
            break;
        case 'p':
            out->tag_p = t;
            break;
        default:
            break;
        }
    }
    /* §3.6.1 v=: "DKIM1", and the first tag when present */
    out->is_version_first = out->tag_v == NULL || out->tag_v == &out->tags[0];
    out->version = out->tag_v == NULL ? DKIM_MATCH_EXACT
                                      : match_value(out->tag_v->value,
                                                    out->tag_v->len, "DKIM1");
    /* k=: rsa by default; unknown types make the record unusable */
    out->key_type = DKIM_KEY_RSA;
    out->key_case = DKIM_MATCH_EXACT;
    if (out->tag_k != NULL) {
        enum dkim_match m;

        m = match_value(out->tag_k->value, out->tag_k->len, "rsa");
        if (m == DKIM_MATCH_NONE) {
            m = match_value(out->tag_k->value, out->tag_k->len, "ed25519");
            out->key_type =
                m == DKIM_MATCH_NONE ? DKIM_KEY_UNKNOWN : DKIM_KEY_ED25519;
        }
        out->key_case = m;
    }
    out->hashes = DKIM_HASH_SHA1 | DKIM_HASH_SHA256;
    if (out->tag_h != NULL && out->tag_h->len > 0)
        out->hashes =
            list_bits(out->tag_h, hash_names, hash_bits, 2, DKIM_HASH_OTHER);
    out->services = DKIM_SERVICE_ANY;
    if (out->tag_s != NULL && out->tag_s->len > 0)
        out->services =
            list_bits(out->tag_s, svc_names, svc_bits, 2, DKIM_SERVICE_OTHER);
    if (out->tag_t != NULL && out->tag_t->len > 0)
        out->flags =
            list_bits(out->tag_t, flag_names, flag_bits, 2, DKIM_FLAG_OTHER);
    if (out->tag_p != NULL) {
        if (out->tag_p->len == 0) {
            out->is_revoked = true; /* §3.6.1: an empty p= revokes the key */
        } else {
            decode_key(out->tag_p, out);
            if (out->key != NULL && out->key_type != DKIM_KEY_UNKNOWN &&
                dkim_key_inspect(out->key_type, out->key, out->key_len,
                                 &out->key_form, &out->key_bits, out->key_error,
                                 sizeof(out->key_error)) == -1 &&
                out->key_error[0] == '\0')
                snprintf(out->key_error, sizeof(out->key_error),
                         "the key does not parse");
        }
    }
    return 0;
}

bool
dkim_record_looks_like(const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = skip_fws(u, len, 0), j;

    if (i < len && u[i] == 'v') {
        j = skip_fws(u, len, i + 1);
        if (j < len && u[j] == '=') {
            j = skip_fws(u, len, j + 1);
            return len - j >= 4 && strncasecmp(p + j, "DKIM", 4) == 0;
        }
    }
    /* no v= first: a p= or k= tag at the start of some tag-spec */
    for (;;) {
        i = skip_fws(u, len, i);
        if (i < len && (u[i] == 'p' || u[i] == 'k')) {
            j = skip_fws(u, len, i + 1);
            if (j < len && u[j] == '=')
                return true;
        }
        while (i < len && u[i] != ';')
            i++;
        if (i == len)
            return false;
        i++;
    }
}

int
dkim_selector_check(const char *sel, const char **why)
{
    size_t i, label = 0;

    if (sel == NULL || sel[0] == '\0') {
        *why = "empty selector";
        return -1;
    }
    for (i = 0; sel[i] != '\0'; i++) {
        unsigned char c = (unsigned char)sel[i];

        if (c == '.') {
            if (label == 0) {
                *why = "empty label in selector";
                return -1;
            }
            label = 0;
            continue;
        }
        /* RFC 6376 §3.1: sub-domain; "_" too (DNS allows it) */
        if (!pb_is_alpha(c) && !pb_is_digit(c) && c != '-' && c != '_') {
            *why = "a selector holds only letters, digits, \"-\", \"_\" "
                   "and \".\"";
            return -1;
        }
        if (++label > PB_LIMIT_DNS_LABEL) {
            *why = "selector label longer than 63 octets";
            return -1;
        }
    }
    if (label == 0) {
        *why = "empty label in selector";
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The audit                                                           */

static const char CHECK[] = "dkim";

static void
selector_release(struct dkim_selector *s)
{
    free(s->selector);
    free(s->name);
    free(s->cname);
    free(s->dns_detail);
    free(s->record);
    free(s->key_type_text);
    free(s->hash);
    memset(s, 0, sizeof(*s));
}

void
dkim_audit_release(struct dkim_audit *a)
{
    size_t i;

    if (a == NULL)
        return;
    for (i = 0; i < a->nselectors; i++)
        selector_release(&a->selectors[i]);
    free(a->selectors);
    pb_findings_release(&a->findings);
    memset(a, 0, sizeof(*a));
}

/* Add a finding about s (evidence: its record, when it has one). */
static struct pb_finding *add(struct dkim_audit *a,
                              const struct dkim_selector *s, const char *id,
                              enum pb_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct pb_finding *
add(struct dkim_audit *a, const struct dkim_selector *s, const char *id,
    enum pb_severity sev, const char *fmt, ...)
{
    struct pb_finding *fd;
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fd = pb_findings_add(&a->findings, CHECK, id, sev, "%s", msg);
    if (s != NULL && s->record != NULL)
        pb_finding_evidence(fd, s->record, s->record_len);
    return fd;
}

/* A tag value for a message: at most 48 octets, "..." when cut. */
static const char *
clip(const struct dkim_tag *t, char *buf, size_t size)
{
    if (t->len + 1 <= size && t->len <= 48) {
        memcpy(buf, t->value, t->len);
        buf[t->len] = '\0';
    } else {
        snprintf(buf, size, "%.45s...", t->value);
    }
    return buf;
}

/* The remedy for a weak or oversized RSA key. */
static void
remedy_rsa(struct pb_finding *fd, const struct dkim_selector *s)
{
    pb_finding_remedy(fd,
                      "publish a 2048-bit RSA key at %s and rotate the "
                      "signer to it (openssl genrsa 2048)",
                      s->name);
}

static void
judge_key(struct dkim_audit *a, struct dkim_selector *s,
          const struct dkim_record *rec)
{
    const char *sel = s->selector;
    struct pb_finding *fd;

    if (rec->tag_p == NULL) {
        fd = add(a, s, "dkim-missing-key", PB_SEV_FAIL,
                 "selector %s: the record has no p= tag (the public key)", sel);
        pb_finding_remedy(fd,
                          "add p= with the base64 public key to the record "
                          "at %s",
                          s->name);
        return;
    }
    if (rec->is_revoked) {
        fd = add(a, s, "dkim-key-revoked", PB_SEV_FAIL,
                 "selector %s: the key was revoked (empty p=); signatures "
                 "made with it fail",
                 sel);
        pb_finding_remedy(fd,
                          "if %s is retired, make sure nothing signs with it; "
                          "otherwise publish its public key in p= at %s",
                          sel, s->name);
        return;
    }
    if (rec->key_type == DKIM_KEY_UNKNOWN)
        return; /* judged with k= */
    if (rec->key_error[0] != '\0') {
        fd = add(a, s, "dkim-bad-key", PB_SEV_FAIL,
                 "selector %s: the key in p= is unusable: %s", sel,
                 rec->key_error);
        if (rec->key_type == DKIM_KEY_ED25519)
            pb_finding_remedy(fd,
                              "publish p= at %s as the base64 of the raw "
                              "32-octet ed25519 public key (RFC 8463)",
                              s->name);
        else
            pb_finding_remedy(fd,
                              "publish p= at %s again as the base64 of the "
                              "public key (openssl rsa -pubout, without the "
                              "BEGIN/END lines)",
                              s->name);
        return;
    }
    if (rec->is_unpadded) {
        fd = add(a, s, "dkim-base64-unpadded", PB_SEV_WARN,
                 "selector %s: p= lacks its final \"=\" padding; strict "
                 "verifiers reject it",
                 sel);
        pb_finding_remedy(fd, "add the missing \"=\" at the end of p= at %s",
                          s->name);
    }
    if (rec->key_form == DKIM_FORM_PKCS1) {
        fd = add(a, s, "dkim-rsa-pkcs1", PB_SEV_WARN,
                 "selector %s: p= holds a bare PKCS#1 RSAPublicKey, not the "
                 "SubjectPublicKeyInfo RFC 6376 requires; some verifiers "
                 "reject it",
                 sel);
        pb_finding_remedy(fd,
                          "publish the key at %s as SubjectPublicKeyInfo "
                          "(openssl rsa -pubout; base64 starting with MIIB "
                          "for 2048 bits)",
                          s->name);
    }
    if (rec->key_type != DKIM_KEY_RSA)
        return;
    /* RFC 8301 §3.2: at least 1024 bits, SHOULD be 2048; verify to 4096 */
    if (rec->key_bits < 1024) {
        fd = add(a, s, "dkim-rsa-too-short", PB_SEV_FAIL,
                 "selector %s: RSA key of %u bits, under the 1024 bits "
                 "RFC 8301 requires; verifiers reject it",
                 sel, rec->key_bits);
        remedy_rsa(fd, s);
    } else if (rec->key_bits == 1024) {
        fd = add(a, s, "dkim-rsa-1024", PB_SEV_WARN,
                 "selector %s: RSA key of 1024 bits, the minimum; RFC 8301 "
                 "recommends 2048",
                 sel);
        remedy_rsa(fd, s);
    } else if (rec->key_bits < 2048) {
        fd = add(a, s, "dkim-rsa-under-2048", PB_SEV_WARN,
                 "selector %s: RSA key of %u bits, between the 1024-bit "
                 "minimum and the 2048 bits RFC 8301 recommends",
                 sel, rec->key_bits);
        remedy_rsa(fd, s);
    } else if (rec->key_bits > 4096) {
        fd = add(a, s, "dkim-rsa-over-4096", PB_SEV_WARN,
                 "selector %s: RSA key of %u bits; RFC 8301 asks verifiers "
                 "to handle up to 4096, larger keys may not verify",
                 sel, rec->key_bits);
        pb_finding_remedy(fd,
                          "publish a 2048- to 4096-bit RSA key at %s and "
                          "rotate the signer to it",
                          s->name);
    }
}

static void
judge_tags(struct dkim_audit *a, struct dkim_selector *s,
           const struct dkim_record *rec)
{
    const char *sel = s->selector;
    struct pb_finding *fd;
    char v[64], list[256];
    size_t i, n = 0;
    bool has_g = false;

    if (rec->version == DKIM_MATCH_NONE) {
        fd = add(a, s, "dkim-bad-version", PB_SEV_FAIL,
                 "selector %s: v=%s is not v=DKIM1; verifiers discard the "
                 "record",
                 sel, clip(rec->tag_v, v, sizeof(v)));
        pb_finding_remedy(fd, "start the record at %s with \"v=DKIM1;\"",
                          s->name);
    } else if (rec->version == DKIM_MATCH_CASE) {
        fd = add(a, s, "dkim-value-case", PB_SEV_WARN,
                 "selector %s: v=%s: tag values are case-sensitive "
                 "(RFC 6376 §3.2), strict verifiers discard the record",
                 sel, clip(rec->tag_v, v, sizeof(v)));
        pb_finding_remedy(fd, "write v=DKIM1 exactly at %s", s->name);
    }
    if (!rec->is_version_first) {
        fd = add(a, s, "dkim-version-not-first", PB_SEV_WARN,
                 "selector %s: v= is not the first tag, as RFC 6376 §3.6.1 "
                 "requires",
                 sel);
        pb_finding_remedy(fd,
                          "move \"v=DKIM1;\" to the start of the record "
                          "at %s",
                          s->name);
    }
    if (rec->key_type == DKIM_KEY_UNKNOWN) {
        fd = add(a, s, "dkim-unknown-key-type", PB_SEV_FAIL,
                 "selector %s: k=%s is not a key type (rsa or ed25519); "
                 "verifiers cannot use the key",
                 sel, clip(rec->tag_k, v, sizeof(v)));
        pb_finding_remedy(fd,
                          "set k=rsa or k=ed25519 at %s, matching the key "
                          "in p=",
                          s->name);
    } else if (rec->key_case == DKIM_MATCH_CASE) {
        fd = add(a, s, "dkim-value-case", PB_SEV_WARN,
                 "selector %s: k=%s: tag values are case-sensitive "
                 "(RFC 6376 §3.2), strict verifiers ignore the key",
                 sel, clip(rec->tag_k, v, sizeof(v)));
        pb_finding_remedy(fd, "write k=%s exactly at %s",
                          dkim_key_type_name(rec->key_type), s->name);
    }
    judge_key(a, s, rec);
    /* h= (RFC 8301 §3.1: rsa-sha1 MUST NOT be used to sign or verify) */
    if (rec->tag_h != NULL && rec->tag_h->len == 0) {
        fd = add(a, s, "dkim-empty-tag", PB_SEV_WARN,
                 "selector %s: h= is empty; RFC 6376 wants a value there", sel);
        pb_finding_remedy(fd, "remove the empty h= from the record at %s",
                          s->name);
    } else if (rec->tag_h != NULL) {
        if (!(rec->hashes & DKIM_HASH_SHA256) &&
            (rec->hashes & DKIM_HASH_SHA1)) {
            fd = add(a, s, "dkim-sha1-only", PB_SEV_FAIL,
                     "selector %s: h=%s allows only sha1, which RFC 8301 "
                     "forbids; verifiers treat its signatures as invalid",
                     sel, clip(rec->tag_h, v, sizeof(v)));
            pb_finding_remedy(fd,
                              "set h=sha256 (or remove h=) at %s and sign "
                              "with rsa-sha256",
                              s->name);
        } else if (!(rec->hashes & DKIM_HASH_SHA256)) {
            fd = add(a, s, "dkim-no-usable-hash", PB_SEV_FAIL,
                     "selector %s: h=%s names no hash algorithm verifiers "
                     "know (sha256)",
                     sel, clip(rec->tag_h, v, sizeof(v)));
            pb_finding_remedy(fd, "set h=sha256 (or remove h=) at %s", s->name);
        } else if (rec->hashes & DKIM_HASH_SHA1) {
            fd = add(a, s, "dkim-sha1-allowed", PB_SEV_INFO,
                     "selector %s: h=%s still allows sha1, which RFC 8301 "
                     "forbids; harmless while sha256 is listed",
                     sel, clip(rec->tag_h, v, sizeof(v)));
            pb_finding_remedy(fd, "drop sha1 from h= at %s", s->name);
        }
    }
    /* s= */
    if (rec->tag_s != NULL && rec->tag_s->len == 0) {
        fd = add(a, s, "dkim-empty-tag", PB_SEV_WARN,
                 "selector %s: s= is empty; RFC 6376 wants a value there", sel);
        pb_finding_remedy(fd, "remove the empty s= from the record at %s",
                          s->name);
    } else if (!(rec->services & (DKIM_SERVICE_ANY | DKIM_SERVICE_EMAIL))) {
        fd = add(a, s, "dkim-not-for-email", PB_SEV_FAIL,
                 "selector %s: s=%s does not include email or *; verifiers "
                 "of mail ignore the key",
                 sel, clip(rec->tag_s, v, sizeof(v)));
        pb_finding_remedy(fd,
                          "set s=email (or remove s=) at %s, or sign mail "
                          "with a selector that allows it",
                          s->name);
    }
    /* t= */
    if (rec->tag_t != NULL && rec->tag_t->len == 0) {
        fd = add(a, s, "dkim-empty-tag", PB_SEV_WARN,
                 "selector %s: t= is empty; RFC 6376 wants a value there", sel);
        pb_finding_remedy(fd, "remove the empty t= from the record at %s",
                          s->name);
    }
    if (rec->flags & DKIM_FLAG_TESTING) {
        fd = add(a, s, "dkim-testing-mode", PB_SEV_WARN,
                 "selector %s: t=y marks the key as in testing; receivers "
                 "treat failing signatures as unsigned mail",
                 sel);
        pb_finding_remedy(fd, "remove y from t= at %s once signatures verify",
                          s->name);
    }
    if (rec->flags & DKIM_FLAG_STRICT)
        add(a, s, "dkim-strict-identity", PB_SEV_INFO,
            "selector %s: t=s: signatures must have i= in d= itself, not "
            "a subdomain",
            sel);
    if (rec->tag_n != NULL && rec->tag_n->len > 0)
        add(a, s, "dkim-notes", PB_SEV_INFO, "selector %s: notes n=%s", sel,
            clip(rec->tag_n, v, sizeof(v)));
    /* §3.6.1: unknown tags are ignored; g= is RFC 4871's, gone in 6376 */
    list[0] = '\0';
    for (i = 0; i < rec->ntags; i++) {
        const struct dkim_tag *t = &rec->tags[i];
        size_t used = strlen(list);

        if (t == rec->tag_v || t == rec->tag_k || t == rec->tag_h ||
            t == rec->tag_s || t == rec->tag_t || t == rec->tag_n ||
            t == rec->tag_p)
            continue;
        has_g |= strcmp(t->name, "g") == 0;
        if (n++ < 8)
            snprintf(list + used, sizeof(list) - used,
                     "%s%s=", used > 0 ? " " : "", t->name);
    }
    if (n > 0) {
        fd = add(a, s, "dkim-unknown-tag", PB_SEV_INFO,
                 "selector %s: tags RFC 6376 does not define are ignored: "
                 "%s%s%s",
                 sel, list, n > 8 ? " ..." : "",
                 has_g ? " (g= is obsolete, from RFC 4871)" : "");
        if (has_g)
            pb_finding_remedy(fd, "drop g= from the record at %s", s->name);
    }
}

/* Judge the DKIM record(s) found at s->name. */
static void
judge_record(struct dkim_audit *a, struct dkim_selector *s,
             const char *const *recs, const size_t *lens, size_t nrecs)
{
    struct dkim_record rec;
    struct pb_finding *fd;
    char why[256];
    size_t i;

    s->record = pb_xmemdup(recs[0], lens[0]);
    s->record_len = lens[0];
    s->nrecords = nrecs;
    if (nrecs > 1) {
        struct pb_buf all;

        /* RFC 6376 §3.6.2.2: which one a verifier uses is undefined */
        pb_buf_init(&all, PB_FINDING_EVIDENCE_MAX);
        for (i = 0; i < nrecs; i++)
            if ((i > 0 && pb_buf_addc(&all, '\n') == -1) ||
                pb_buf_add(&all, recs[i], lens[i]) == -1)
                break; /* the evidence keeps what fits */
        fd = add(a, s, "dkim-multiple-records", PB_SEV_FAIL,
                 "selector %s: %zu DKIM records at %s; RFC 6376 §3.6.2.2 "
                 "leaves the result undefined, verifiers may use any one",
                 s->selector, nrecs, s->name);
        pb_finding_evidence(fd, pb_buf_ptr(&all), all.len);
        pb_finding_remedy(fd,
                          "keep one DKIM record at %s and delete the "
                          "others",
                          s->name);
        pb_buf_release(&all);
        return;
    }
    if (dkim_record_parse(recs[0], lens[0], &rec, why, sizeof(why)) == -1) {
        bool quoted = memchr(recs[0], '"', lens[0]) != NULL;

        fd = add(a, s, "dkim-syntax", PB_SEV_FAIL,
                 "selector %s: the record is not a valid tag=value list: %s",
                 s->selector, why);
        pb_finding_remedy(
            fd,
            "publish the record at %s as tag=value pairs "
            "separated by \";\" (\"v=DKIM1; k=rsa; p=MIIB...\")%s",
            s->name,
            quoted ? ", without the literal quote characters "
                     "your DNS editor kept"
                   : "");
        return;
    }
    s->is_parsed = true;
    s->key_type = rec.key_type;
    if (rec.tag_k != NULL)
        s->key_type_text = pb_xmemdup(rec.tag_k->value, rec.tag_k->len);
    s->key_form = rec.key_form;
    s->key_bits = rec.key_form == DKIM_FORM_NONE ? 0 : rec.key_bits;
    s->is_testing = (rec.flags & DKIM_FLAG_TESTING) != 0;
    s->is_revoked = rec.is_revoked;
    s->hashes = rec.hashes;
    if (rec.tag_h != NULL)
        s->hash = pb_xmemdup(rec.tag_h->value, rec.tag_h->len);
    judge_tags(a, s, &rec);
    dkim_record_release(&rec);
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n > m && strcasecmp(s + n - m, suffix) == 0;
}

/* The end of the CNAME chain of an answer, or NULL. */
static const char *
cname_target(const struct dns_answer *ans)
{
    const char *t = NULL;
    size_t i;

    for (i = 0; i < ans->nrr; i++)
        if (ans->rr[i].type == DNS_TYPE_CNAME)
            t = ans->rr[i].data;
    return t;
}

/* The first TXT record of an answer as a finding's evidence. */
static void
txt_evidence(struct pb_finding *fd, const struct dns_answer *ans)
{
    size_t i;

    for (i = 0; i < ans->nrr; i++)
        if (ans->rr[i].type == DNS_TYPE_TXT) {
            pb_finding_evidence(fd, ans->rr[i].data, ans->rr[i].len);
            return;
        }
}

/*
 * Classify the answer for s, and for a DKIM record judge it.  named: the
 * user asked for this selector (a missing one is then a finding).
 */
static void
judge_answer(struct dkim_audit *a, struct dkim_selector *s,
             const struct dns_answer *ans, bool named)
{
    const char **recs;
    size_t *lens;
    size_t i, ntxt = 0, ndkim = 0;
    const char *target = cname_target(ans);
    struct pb_finding *fd;

    if (target != NULL)
        s->cname = pb_xstrdup(target);
    if (dns_answer_is_error(ans)) {
        s->outcome = DKIM_DNS_FAILED;
        s->dns_detail =
            ans->detail[0] != '\0'
                ? pb_xasprintf("%s: %s", dns_status_name(ans), ans->detail)
                : pb_xstrdup(dns_status_name(ans));
        if (named) {
            fd = add(a, s, "dkim-dns-error", PB_SEV_ERROR,
                     "selector %s: could not check, the TXT lookup of %s "
                     "failed (%s)",
                     s->selector, s->name, s->dns_detail);
            pb_finding_remedy(fd,
                              "check again later; if it persists, make the "
                              "name servers of the domain answer for %s",
                              s->name);
        }
        return;
    }
    recs = pb_xreallocarray(NULL, ans->nrr + 1, sizeof(*recs));
    lens = pb_xreallocarray(NULL, ans->nrr + 1, sizeof(*lens));
    for (i = 0; i < ans->nrr; i++) {
        const struct dns_rr *rr = &ans->rr[i];

        if (rr->type != DNS_TYPE_TXT)
            continue;
        ntxt++;
        /* non-DKIM TXT records at the name are not ours to judge */
        if (dkim_record_looks_like(rr->data, rr->len)) {
            recs[ndkim] = rr->data;
            lens[ndkim++] = rr->len;
        }
    }
    s->dns_detail = pb_xstrdup(dns_status_name(ans));
    if (ntxt == 0 && target != NULL) {
        s->outcome = DKIM_DANGLING;
        fd = add(a, s, "dkim-cname-dangling", PB_SEV_FAIL,
                 "selector %s: %s is a CNAME to %s, which has no TXT record "
                 "(%s)",
                 s->selector, s->name, target, s->dns_detail);
        if (ends_with(target, ".onmicrosoft.com"))
            pb_finding_remedy(fd,
                              "turn on DKIM signing for the domain in "
                              "Microsoft 365 (Defender portal, Email "
                              "authentication settings, DKIM), which "
                              "publishes %s; or delete the CNAME",
                              target);
        else
            pb_finding_remedy(fd,
                              "enable DKIM at the provider that owns %s, or "
                              "delete the stale CNAME at %s (anyone who can "
                              "publish there could sign as the domain)",
                              target, s->name);
    } else if (ntxt == 0) {
        s->outcome = DKIM_MISSING;
        if (named) {
            fd = add(a, s, "dkim-not-found", PB_SEV_FAIL,
                     "selector %s: no DKIM key at %s (%s); signatures with "
                     "s=%s fail",
                     s->selector, s->name,
                     ans->status == DNS_NXDOMAIN ? "NXDOMAIN" : "no TXT record",
                     s->selector);
            pb_finding_remedy(fd,
                              "publish the public key of selector %s as a "
                              "TXT record at %s, or correct the selector "
                              "your signer puts in s=",
                              s->selector, s->name);
        }
    } else if (ndkim == 0) {
        s->outcome = DKIM_OTHER_TXT;
        if (named) {
            fd = add(a, s, "dkim-no-dkim-record", PB_SEV_FAIL,
                     "selector %s: %zu TXT record%s at %s, none of them a "
                     "DKIM key",
                     s->selector, ntxt, ntxt == 1 ? "" : "s", s->name);
            txt_evidence(fd, ans);
            pb_finding_remedy(fd,
                              "publish the DKIM key record (\"v=DKIM1; k=rsa; "
                              "p=...\") at %s",
                              s->name);
        }
    } else {
        s->outcome = DKIM_FOUND;
        s->is_found = true;
        judge_record(a, s, recs, lens, ndkim);
    }
    free(recs);
    free(lens);
}

/* The worst severity of findings [from, to) as a status. */
static enum pb_status
status_of(const struct pb_findings *f, size_t from)
{
    struct pb_findings part;

    part.v = f->v + from;
    part.n = f->n - from;
    part.cap = part.n;
    return pb_findings_status(&part);
}

/* "google, selector1 and 3 more" for aggregate messages. */
static void
name_list(char *buf, size_t size, const struct dkim_selector *v, size_t n,
          enum dkim_outcome which)
{
    size_t i, shown = 0, total = 0, used;

    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        if (v[i].outcome != which)
            continue;
        total++;
        if (shown == 6)
            continue;
        used = strlen(buf);
        if (which == DKIM_DNS_FAILED)
            snprintf(buf + used, size - used, "%s%s (%s)", shown ? ", " : "",
                     v[i].selector, v[i].dns_detail);
        else
            snprintf(buf + used, size - used, "%s%s", shown ? ", " : "",
                     v[i].selector);
        shown++;
    }
    if (total > shown) {
        used = strlen(buf);
        snprintf(buf + used, size - used, " and %zu more", total - shown);
    }
}

void
dkim_audit_run(struct dns_resolver *r, const char *domain,
               const char *const *selectors, size_t nselectors,
               struct dkim_audit *out)
{
    const char *const *list = selectors;
    struct dkim_selector *v;
    struct dns_question *q;
    const struct dns_answer **ans, **va;
    size_t n = nselectors, i, k, nq = 0, dlen, nfound = 0, nerr = 0;
    size_t nother = 0, nrsa = 0, ned = 0, first;
    bool named = nselectors > 0;
    char names[512];
    struct pb_finding *fd;

    memset(out, 0, sizeof(*out));
    pb_findings_init(&out->findings);
    out->discovery = !named;
    if (!named) {
        list = dkim_discovery_selectors;
        n = dkim_discovery_count;
    }
    dlen = strlen(domain);
    if (dlen > 0 && domain[dlen - 1] == '.')
        dlen--; /* one trailing dot is allowed */
    v = pb_xcalloc(n > 0 ? n : 1, sizeof(*v));
    q = pb_xcalloc(n > 0 ? n : 1, sizeof(*q));
    ans = pb_xcalloc(n > 0 ? n : 1, sizeof(*ans));
    va = pb_xcalloc(n > 0 ? n : 1, sizeof(*va)); /* the answer of v[i] */
    k = 0;
    for (i = 0; i < n; i++) {
        struct dkim_selector *s = &v[k];
        const char *why = NULL;
        size_t j;

        for (j = 0; j < k; j++)
            if (strcasecmp(v[j].selector, list[i]) == 0)
                break;
        if (j < k)
            continue; /* named twice */
        k++;
        s->selector = pb_xstrdup(list[i]);
        s->name =
            pb_xasprintf("%s._domainkey.%.*s", list[i], (int)dlen, domain);
        if (dkim_selector_check(list[i], &why) == -1 ||
            dns_name_check(s->name, strlen(s->name), &why) == -1) {
            s->outcome = DKIM_INVALID;
            s->dns_detail = pb_xstrdup(why);
            continue;
        }
        q[nq].name = s->name;
        q[nq].type = DNS_TYPE_TXT;
        nq++;
    }
    n = k;
    out->ntried = nq;
    /* every question in flight at once: an audit covers many domains */
    dns_query_many(r, q, nq, ans);
    for (i = 0, k = 0; i < n; i++) {
        struct dkim_selector *s = &v[i];

        first = out->findings.n;
        if (s->outcome == DKIM_INVALID) {
            fd = add(out, s, "dkim-invalid-selector", PB_SEV_ERROR,
                     "selector %s: could not check, %s is not a valid DNS "
                     "name: %s",
                     s->selector, s->name, s->dns_detail);
            pb_finding_remedy(fd, "give the selector as the s= tag of the "
                                  "DKIM-Signature shows it (letters, digits, "
                                  "\"-\" and \".\")");
        } else {
            va[i] = ans[k++];
            judge_answer(out, s, va[i], named);
        }
        s->status = status_of(&out->findings, first);
        switch (s->outcome) {
        case DKIM_FOUND:
            nfound++;
            if (s->key_bits > 0 && s->key_type == DKIM_KEY_RSA)
                nrsa++;
            if (s->key_bits > 0 && s->key_type == DKIM_KEY_ED25519)
                ned++;
            break;
        case DKIM_DNS_FAILED:
            nerr++;
            break;
        case DKIM_OTHER_TXT:
            nother++;
            break;
        default:
            break;
        }
    }
    if (!named) {
        /* discovery: guesses that found nothing are silence, not faults */
        if (nerr > 0) {
            name_list(names, sizeof(names), v, n, DKIM_DNS_FAILED);
            if (nfound > 0)
                fd = add(out, NULL, "dkim-discovery-incomplete", PB_SEV_INFO,
                         "could not check %zu of %zu guessed selectors: %s",
                         nerr, out->ntried, names);
            else
                fd = add(out, NULL, "dkim-dns-error", PB_SEV_ERROR,
                         "could not check %zu of %zu guessed selectors: %s",
                         nerr, out->ntried, names);
            pb_finding_remedy(fd,
                              "check again later, or name the selector with "
                              "--selector");
        }
        if (nother > 0) {
            name_list(names, sizeof(names), v, n, DKIM_OTHER_TXT);
            fd = add(out, NULL, "dkim-other-txt", PB_SEV_INFO,
                     "TXT records that are not DKIM keys answer for guessed "
                     "selectors (a wildcard?): %s",
                     names);
            for (i = 0; i < n; i++)
                if (v[i].outcome == DKIM_OTHER_TXT) {
                    txt_evidence(fd, va[i]);
                    break;
                }
        }
        if (nfound == 0 && nerr == 0) {
            fd = add(out, NULL, "dkim-no-selector-found", PB_SEV_WARN,
                     "no DKIM key found at %zu common selectors of %.*s",
                     out->ntried, (int)dlen, domain);
            pb_finding_remedy(fd,
                              "name the selector with --selector; find it in "
                              "the s= tag of the DKIM-Signature header of a "
                              "message you sent");
        }
    }
    if (ned > 0 && nrsa == 0) {
        /* RFC 8463 §5: not every verifier knows ed25519 yet */
        fd = add(out, NULL, "dkim-ed25519-only", PB_SEV_WARN,
                 "only ed25519 keys found; many receivers do not verify "
                 "ed25519-sha256 signatures yet and see the mail as unsigned");
        pb_finding_remedy(fd,
                          "also sign with a 2048-bit RSA key under a second "
                          "selector (RFC 8463 §5 suggests signing with both)");
    }
    /* keep every named selector; in discovery, those with something there */
    out->selectors = v;
    out->nselectors = 0;
    for (i = 0; i < n; i++) {
        if (named || v[i].outcome == DKIM_FOUND ||
            v[i].outcome == DKIM_DANGLING)
            out->selectors[out->nselectors++] = v[i];
        else
            selector_release(&v[i]);
    }
    out->status = pb_findings_status(&out->findings);
    free(q);
    free(ans);
    free(va);
}
