/* SPDX-License-Identifier: MIT */
/*
 * DKIM signing (RFC 6376 §3.5, §3.7, §5): rsa-sha256 and ed25519-sha256
 * (RFC 8463: Ed25519 over the SHA-256 hash of the header data), simple and
 * relaxed canonicalization, a default h= list that oversigns From and the
 * other fields a forger would add, t= always and l= never.  Keys are parsed
 * once with OpenSSL and reused.  No x=, z= or ARC.
 *
 * Ed25519 signs with libsodium: 2.3 times as fast as OpenSSL 3.0 here
 * (docs/PERFORMANCE.md), and the same bytes, since Ed25519 signatures are
 * deterministic (RFC 8032 §5.1.6); test_dkim_sign reproduces RFC 8463's
 * and dkimpy's Ed25519 signatures byte for byte.
 */
#include "smtp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "pb_buf.h"
#include "pb_ctype.h"
#include "pb_dkim_canon.h"
#include "pb_limits.h"
#include "pb_xalloc.h"
#include "smtp_int.h"

/* RFC 8301 §3.2: signers use at least 1024 bits; verifiers need only
 * handle up to 4096, so a longer key would fail at many receivers. */
#define DKIM_SIGN_RSA_MIN_BITS 1024
#define DKIM_SIGN_RSA_MAX_BITS 4096
/* The largest signature: RSA-4096 */
#define DKIM_SIGN_MAX_SIG (DKIM_SIGN_RSA_MAX_BITS / 8)

struct dkim_sign_key {
    EVP_PKEY *pkey;
    enum dkim_sign_alg alg;
    int bits;
    EVP_MD *sha256;        /* fetched once: fetching is slow in OpenSSL 3 */
    EVP_MD_CTX *md;        /* scratch digest context */
    EVP_PKEY_CTX *rsa_ctx; /* RSA: set up for PKCS#1 v1.5 with SHA-256 */
    /* Ed25519: libsodium's secret key, the seed then the public key */
    unsigned char ed_sk[crypto_sign_ed25519_SECRETKEYBYTES];
};

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* Our sentence may name a path: escape it first. */
static const char *
esc(char *dst, size_t size, const char *s)
{
    pb_escape_to(dst, size, s, strlen(s));
    return dst;
}

/* OpenSSL's reason for the last failure as evidence; the queue drained. */
static int
ossl_fail(struct pb_err *err, enum pb_code code, const char *what,
          const char *name)
{
    char why[256], n[128];
    unsigned long e = ERR_peek_last_error();

    pb_err_set(err, PB_STAGE_CONFIG, code, "%s%s%s", what, name ? " " : "",
               name ? esc(n, sizeof(n), name) : "");
    if (e != 0) {
        ERR_error_string_n(e, why, sizeof(why));
        pb_err_evidence(err, why, strlen(why));
    }
    ERR_clear_error();
    return -1;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */

static int
no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* never prompt on the terminal */
}

static bool
has(const char *p, size_t len, const char *needle)
{
    size_t n = strlen(needle), i;

    for (i = 0; n <= len && i <= len - n; i++) {
        if (p[i] == needle[0] && memcmp(p + i, needle, n) == 0)
            return true;
    }
    return false;
}

/*
 * A file that is only base64 (and whitespace) of a 32-byte Ed25519 seed:
 * dkimpy's dknewkey writes this, RFC 8463 A.1 prints it.  Returns the
 * seed length decoded into seed, or -1.
 */
static int
decode_seed(const char *p, size_t len, unsigned char seed[32])
{
    char b64[64];
    unsigned char raw[48];
    size_t i, n = 0;
    int out, pad = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (pb_is_wsp(c) || c == '\r' || c == '\n')
            continue;
        if (!pb_is_alnum(c) && c != '+' && c != '/' && c != '=')
            return -1;
        if (n == sizeof(b64))
            return -1;
        b64[n++] = (char)c;
    }
    if (n != 44)
        return -1;
    while (pad < 2 && b64[n - 1 - (size_t)pad] == '=')
        pad++;
    out = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    OPENSSL_cleanse(b64, sizeof(b64));
    if (out != 33 || pad != 1) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return -1;
    }
    memcpy(seed, raw, 32);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 32;
}

static int
key_setup(struct dkim_sign_key *k, const char *name, struct pb_err *err)
{
    char n[128];
    int id = EVP_PKEY_get_base_id(k->pkey);

    if (id == EVP_PKEY_RSA) {
        k->alg = DKIM_SIGN_RSA_SHA256;
        k->bits = EVP_PKEY_get_bits(k->pkey);
        if (k->bits < DKIM_SIGN_RSA_MIN_BITS)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "key %s is a %d-bit RSA key; RFC 8301 wants at "
                              "least 1024 bits (2048 is usual)",
                              esc(n, sizeof(n), name), k->bits);
        if (k->bits > DKIM_SIGN_RSA_MAX_BITS)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "key %s is a %d-bit RSA key; receivers need "
                              "only verify up to 4096 bits (RFC 8301), so "
                              "use 2048",
                              esc(n, sizeof(n), name), k->bits);
    } else if (id == EVP_PKEY_ED25519) {
        k->alg = DKIM_SIGN_ED25519_SHA256;
        k->bits = 256;
    } else {
        const char *type = EVP_PKEY_get0_type_name(k->pkey);

        if (type == NULL || type[0] == '\0')
            type = "unknown";
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "key %s is a%s %s key; DKIM signs with RSA "
                          "(rsa-sha256) or Ed25519 (ed25519-sha256) keys",
                          esc(n, sizeof(n), name),
                          strchr("AEIOUaeiou", type[0]) ? "n" : "", type);
    }
    k->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    k->md = EVP_MD_CTX_new();
    if (k->sha256 == NULL || k->md == NULL)
        return ossl_fail(err, PB_E_INTERNAL, "cannot set up SHA-256 for key",
                         name);
    if (k->alg == DKIM_SIGN_ED25519_SHA256) {
        unsigned char seed[crypto_sign_ed25519_SEEDBYTES],
            pk[crypto_sign_ed25519_PUBLICKEYBYTES];
        size_t slen = sizeof(seed);
        int bad;

        if (sodium_init() < 0)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_INTERNAL,
                              "libsodium cannot start (no entropy source?)");
        bad = EVP_PKEY_get_raw_private_key(k->pkey, seed, &slen) != 1 ||
              slen != sizeof(seed) ||
              crypto_sign_ed25519_seed_keypair(pk, k->ed_sk, seed) != 0;
        sodium_memzero(seed, sizeof(seed));
        if (bad)
            return ossl_fail(err, PB_E_SYNTAX, "cannot sign with Ed25519 key",
                             name);
    }
    if (k->alg == DKIM_SIGN_RSA_SHA256) {
        k->rsa_ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
        if (k->rsa_ctx == NULL || EVP_PKEY_sign_init(k->rsa_ctx) <= 0 ||
            EVP_PKEY_CTX_set_rsa_padding(k->rsa_ctx, RSA_PKCS1_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_signature_md(k->rsa_ctx, k->sha256) <= 0)
            return ossl_fail(err, PB_E_SYNTAX, "cannot sign with RSA key",
                             name);
    }
    return 0;
}

int
dkim_sign_key_parse(const void *vp, size_t len, const char *name,
                    struct dkim_sign_key **out, struct pb_err *err)
{
    const char *p = vp;
    struct dkim_sign_key *k;
    char n[128];

    *out = NULL;
    if (name == NULL)
        name = "(key)";
    if (len > PB_LIMIT_KEY_FILE)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "key %s is %zu bytes, over the limit of %u for a "
                          "private key",
                          esc(n, sizeof(n), name), len, PB_LIMIT_KEY_FILE);
    k = pb_xcalloc(1, sizeof(*k));
    if (has(p, len, "-----BEGIN")) {
        BIO *bio;

        if (has(p, len, "ENCRYPTED")) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                       "key %s is encrypted; give an unencrypted copy "
                       "(openssl pkey -in KEY -out PLAIN), readable only by "
                       "its owner",
                       esc(n, sizeof(n), name));
            goto fail;
        }
        if (!has(p, len, "PRIVATE KEY-----") &&
            has(p, len, "PUBLIC KEY-----")) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                       "key %s holds a public key; signing needs the "
                       "private key",
                       esc(n, sizeof(n), name));
            goto fail;
        }
        bio = BIO_new_mem_buf(p, (int)len);
        if (bio == NULL) {
            ossl_fail(err, PB_E_INTERNAL, "cannot read key", name);
            goto fail;
        }
        k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
        BIO_free(bio);
        if (k->pkey == NULL) {
            ossl_fail(err, PB_E_SYNTAX,
                      "no private key that OpenSSL can read in", name);
            goto fail;
        }
    } else {
        unsigned char seed[32];

        if (decode_seed(p, len, seed) != 32) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                       "key %s is neither a PEM private key nor the base64 "
                       "of a 32-byte Ed25519 seed",
                       esc(n, sizeof(n), name));
            goto fail;
        }
        k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
                                               sizeof(seed));
        OPENSSL_cleanse(seed, sizeof(seed));
        if (k->pkey == NULL) {
            ossl_fail(err, PB_E_SYNTAX, "cannot use the Ed25519 seed in", name);
            goto fail;
        }
    }
    if (key_setup(k, name, err) == -1)
        goto fail;
    ERR_clear_error();
    *out = k;
    return 0;
fail:
    ERR_clear_error();
    dkim_sign_key_free(k);
    return -1;
}

int
dkim_sign_key_load(const char *path, struct dkim_sign_key **out,
                   struct pb_err *err)
{
    struct stat st;
    struct pb_buf b;
    char n[256], chunk[4096];
    ssize_t got;
    int fd, rc = -1;

    *out = NULL;
    fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd == -1)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "cannot open key file %s: %s",
                          esc(n, sizeof(n), path), strerror(errno));
    if (fstat(fd, &st) == -1) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO, "cannot stat key file %s: %s",
                   esc(n, sizeof(n), path), strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "key file %s is not a regular file",
                          esc(n, sizeof(n), path));
    }
    /* a key others can read lets them sign as the domain */
    if ((st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
        close(fd);
        return pb_err_set(
            err, PB_STAGE_CONFIG, PB_E_IO,
            "key file %s is %s by %s (mode %04o); a private "
            "key must be readable by its owner only: chmod "
            "600 it",
            esc(n, sizeof(n), path),
            (st.st_mode & (S_IRGRP | S_IROTH)) ? "readable" : "writable",
            (st.st_mode & (S_IROTH | S_IWOTH)) ? "everyone" : "its group",
            (unsigned)(st.st_mode & 07777));
    }
    pb_buf_init(&b, PB_LIMIT_KEY_FILE + 1);
    for (;;) {
        got = read(fd, chunk, sizeof(chunk));
        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                       "cannot read key file %s: %s", esc(n, sizeof(n), path),
                       strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        if (pb_buf_add(&b, chunk, (size_t)got) == -1) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                       "key file %s is over the limit of %u bytes for a "
                       "private key",
                       esc(n, sizeof(n), path), PB_LIMIT_KEY_FILE);
            goto out;
        }
    }
    rc = dkim_sign_key_parse(b.p ? b.p : "", b.len, path, out, err);
out:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    if (b.p != NULL)
        OPENSSL_cleanse(b.p, b.cap);
    pb_buf_release(&b);
    close(fd);
    return rc;
}

void
dkim_sign_key_free(struct dkim_sign_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_CTX_free(key->rsa_ctx);
    EVP_MD_CTX_free(key->md);
    OPENSSL_cleanse(key->ed_sk, sizeof(key->ed_sk));
    EVP_MD_free(key->sha256);
    EVP_PKEY_free(key->pkey); /* OpenSSL clears the private parts */
    free(key);
}

enum dkim_sign_alg
dkim_sign_key_alg(const struct dkim_sign_key *key)
{
    return key->alg;
}

int
dkim_sign_key_bits(const struct dkim_sign_key *key)
{
    return key->bits;
}

const char *
dkim_sign_alg_name(enum dkim_sign_alg alg)
{
    return alg == DKIM_SIGN_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

int
dkim_sign_canon_parse(const char *s, enum dkim_canon *header,
                      enum dkim_canon *body)
{
    static const struct {
        const char *name;
        enum dkim_canon h, b;
    } forms[] = {
        {"relaxed/relaxed", DKIM_CANON_RELAXED, DKIM_CANON_RELAXED},
        {"simple/simple", DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE},
        {"relaxed/simple", DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE},
        {"simple/relaxed", DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED},
    };
    size_t i;

    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        if (strcmp(s, forms[i].name) == 0) {
            *header = forms[i].h;
            *body = forms[i].b;
            return 0;
        }
    }
    return -1;
}

/* ASCII case-insensitive equality of (a, n) and (b, n) */
static bool
same_ci(const char *a, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* smtp.h's enum dkim_canon as pb_dkim_canon.h spells it */
static enum pb_dkim_canon
canon_of(enum dkim_canon c)
{
    return c == DKIM_CANON_RELAXED ? PB_DKIM_CANON_RELAXED
                                   : PB_DKIM_CANON_SIMPLE;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */

/*
 * RFC 6376 §3.5 (d=, s=) and RFC 5321 §4.1.2: sub-domain = Let-dig
 * [Ldh-str]; what names the key's DNS record.
 */
static int
check_ldh(const char *what, const char *s, int min_labels, struct pb_err *err)
{
    size_t n = strlen(s), i, label = 0;
    int labels = 1;
    char e[96]; /* s escaped: made for an error only, as this runs for
                 * every message signed */

    if (n == 0)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX, "%s is empty",
                          what);
    if (n > PB_LIMIT_DNS_NAME)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%s is %zu bytes, over the %d of a DNS name", what, n,
                          PB_LIMIT_DNS_NAME);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x80)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s '%s' is not ASCII; write an "
                              "internationalized name in its A-label "
                              "(xn--) form",
                              what, esc(e, sizeof(e), s));
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                                  "%s '%s' has an empty label or one ending "
                                  "in '-'%s",
                                  what, esc(e, sizeof(e), s),
                                  i == n - 1 ? " (write it without the "
                                               "final dot)"
                                             : "");
            label = 0;
            labels++;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s '%s' has a control character", what,
                              esc(e, sizeof(e), s));
        if (!pb_is_alnum(c) && c != '-')
            return pb_err_set(
                err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                "%s '%s' has '%c'; only letters, digits, "
                "hyphens and dots may appear (RFC 6376 section 3.1)",
                what, esc(e, sizeof(e), s), (char)c);
        if (c == '-' && label == 0)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s '%s' has a label starting with '-'", what,
                              esc(e, sizeof(e), s));
        if (++label > PB_LIMIT_DNS_LABEL)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                              "%s '%s' has a label over %d bytes", what,
                              esc(e, sizeof(e), s), PB_LIMIT_DNS_LABEL);
    }
    if (s[n - 1] == '-' || s[n - 1] == '.')
        return pb_err_set(
            err, PB_STAGE_CONFIG, PB_E_SYNTAX, "%s '%s' ends in '%c'%s", what,
            esc(e, sizeof(e), s), s[n - 1],
            s[n - 1] == '.' ? " (write it without the final dot)" : "");
    if (labels < min_labels)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s '%s' is not a domain name (it has one label)",
                          what, esc(e, sizeof(e), s));
    return 0;
}

/* A name in an h= list: (p, len) with FWS trimmed. */
struct hname {
    const char *p;
    size_t len;
};

/* RFC 6376 §3.5 h=: names separated by ':' with FWS around them. */
static int
parse_hlist(const char *p, size_t len, struct hname *names, size_t *count,
            bool *has_from, struct pb_err *err)
{
    size_t i = 0, n = 0;

    *has_from = false;
    for (;;) {
        size_t start, end, j;

        while (i < len &&
               (pb_is_wsp((unsigned char)p[i]) || p[i] == '\r' || p[i] == '\n'))
            i++;
        start = i;
        while (i < len && p[i] != ':')
            i++;
        end = i;
        while (end > start && (pb_is_wsp((unsigned char)p[end - 1]) ||
                               p[end - 1] == '\r' || p[end - 1] == '\n'))
            end--;
        if (end == start)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "the signed header list has an empty name "
                              "(names are separated by single colons)");
        for (j = start; j < end; j++) {
            unsigned char c = (unsigned char)p[j];

            if (c < 33 || c > 126)
                return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                                  "the signed header list has a name with "
                                  "a space or a byte outside printable "
                                  "ASCII");
        }
        if (end - start > PB_LIMIT_MSG_FIELD_NAME)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                              "the signed header list has a name over %d "
                              "bytes",
                              PB_LIMIT_MSG_FIELD_NAME);
        if (n == PB_LIMIT_DKIM_SIGN_HEADERS)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                              "the signed header list has over %d names",
                              PB_LIMIT_DKIM_SIGN_HEADERS);
        names[n].p = p + start;
        names[n].len = end - start;
        if (end - start == 4 && same_ci(p + start, "from", 4))
            *has_from = true;
        n++;
        if (i == len)
            break;
        i++; /* the colon */
    }
    *count = n;
    return 0;
}

/* i=: "[local-part]@domain", the domain d= or under it (RFC 6376 §3.5) */
static int
check_identity(const char *i, const char *d, struct pb_err *err)
{
    const char *at = strrchr(i, '@'), *id;
    size_t k, n = strlen(i), dl = strlen(d), il;

    for (k = 0; k < n; k++) {
        unsigned char c = (unsigned char)i[k];

        if (c < 33 || c > 126 || c == ';')
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "identity (i=) has a space, a ';' or a byte "
                              "outside printable ASCII");
    }
    if (at == NULL || n > PB_LIMIT_ADDRESS)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "identity (i=) must be [local-part]@domain");
    if (check_ldh("identity (i=) domain", at + 1, 1, err) == -1)
        return -1;
    id = at + 1;
    il = strlen(id);
    if (!(il == dl && same_ci(id, d, dl)) &&
        !(il > dl && id[il - dl - 1] == '.' && same_ci(id + il - dl, d, dl)))
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "identity (i=) must be at the signing domain or "
                          "under it (RFC 6376 section 3.5)");
    return 0;
}

int
dkim_sign_params_check(const struct dkim_sign_params *sp, struct pb_err *err)
{
    if (sp->domain == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "no signing domain");
    if (check_ldh("signing domain", sp->domain, 2, err) == -1)
        return -1;
    if (sp->selector == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX, "no selector");
    if (check_ldh("selector", sp->selector, 1, err) == -1)
        return -1;
    if (sp->identity != NULL &&
        check_identity(sp->identity, sp->domain, err) == -1)
        return -1;
    if (sp->headers != NULL) {
        struct hname names[PB_LIMIT_DKIM_SIGN_HEADERS];
        const char *c;
        size_t n;
        bool from;

        /* names and colons only: the list is written as it is given */
        for (c = sp->headers; *c != '\0'; c++) {
            if (*c != ':' && (*c < 33 || *c > 126))
                return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                                  "the signed header list may hold only "
                                  "field names and colons (no spaces or "
                                  "control characters)");
        }
        if (parse_hlist(sp->headers, strlen(sp->headers), names, &n, &from,
                        err) == -1)
            return -1;
        if (!from)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "the signed header list must name From "
                              "(RFC 6376 section 5.4)");
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The signature                                                       */

struct digest_sink {
    EVP_MD_CTX *md;
    bool failed;
};

static void
digest_sink(void *arg, const void *p, size_t len)
{
    struct digest_sink *d = arg;

    if (!d->failed && EVP_DigestUpdate(d->md, p, len) != 1)
        d->failed = true;
}

static void
b64(const unsigned char *p, size_t len, char *dst)
{
    EVP_EncodeBlock((unsigned char *)dst, p, (int)len);
}

/*
 * RFC 6376 §5.4.2: the fields that the h= names[count] sign, in order, as
 * indexes into m->fields, to sel[*nsel] (count at most): each name takes
 * the next instance from the bottom; a name with none left adds nothing
 * (that is oversigning).  No field is taken twice.
 */
static void
select_fields(const struct pb_dkim_canon_msg *m, const struct hname *names,
              size_t count, size_t *sel, size_t *nsel)
{
    bool used[PB_LIMIT_MSG_FIELDS];
    size_t i;

    *nsel = 0;
    memset(used, 0, m->nfields * sizeof(used[0]));
    for (i = 0; i < count; i++) {
        size_t j = m->nfields;

        while (j-- > 0) {
            if (!used[j] && pb_dkim_canon_field_is(m, &m->fields[j], names[i].p,
                                                   names[i].len)) {
                used[j] = true;
                sel[(*nsel)++] = j;
                break;
            }
        }
    }
}

/* dkim_sign_field() with the fields to sign chosen: m->fields[sel[i]] for
 * each i below nsel, none twice (select_fields()) */
static int
sign_field(const struct dkim_sign_key *key, const struct pb_dkim_canon_msg *m,
           enum dkim_canon hc, enum dkim_canon bc, const char *prefix,
           size_t prefix_len, const size_t *sel, size_t nsel,
           struct pb_buf *out, struct pb_err *err)
{
    struct digest_sink ds = {key->md, false};
    unsigned char hash[EVP_MAX_MD_SIZE], sig[DKIM_SIGN_MAX_SIG];
    char bh[48], bsig[DKIM_SIGN_MAX_SIG * 4 / 3 + 8], stack[8192], *canon;
    unsigned int hlen;
    size_t start = out->len, hashed_end, i, siglen = sizeof(sig);
    size_t col, left, chunk, cap, n;
    int rc = -1;

    /* bh=: RFC 6376 §3.7 step 1 */
    if (EVP_DigestInit_ex(key->md, key->sha256, NULL) != 1)
        return ossl_fail(err, PB_E_INTERNAL, "SHA-256 failed", NULL);
    pb_dkim_canon_body(canon_of(bc), m->p + m->body_off, m->len - m->body_off,
                       digest_sink, &ds);
    if (ds.failed || EVP_DigestFinal_ex(key->md, hash, &hlen) != 1)
        return ossl_fail(err, PB_E_INTERNAL, "SHA-256 failed", NULL);
    b64(hash, hlen, bh);

    if (pb_buf_add(out, prefix, prefix_len) == -1 ||
        pb_buf_add(out, "bh=", 3) == -1 || pb_buf_adds(out, bh) == -1 ||
        pb_buf_add(out, ";\r\n b=", 6) == -1)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "DKIM-Signature field over the limit");
    hashed_end = out->len;

    /*
     * The header data (§3.7 step 2) is gathered whole and hashed in one
     * call.  Each field's canonical form is at most one byte longer than
     * the field (pb_dkim_canon_header_to()), and a field is signed at most
     * once: the header, a byte a field and the signature field bound it.
     */
    cap = m->body_off + m->nfields + (hashed_end - start) + 1;
    canon = cap <= sizeof(stack) ? stack : pb_xmalloc(cap);
    n = 0;
    for (i = 0; i < nsel; i++) {
        const struct pb_dkim_canon_field *f = &m->fields[sel[i]];

        n += pb_dkim_canon_header_to(canon_of(hc), m->p + f->off, f->len,
                                     canon + n);
    }
    /* §3.7 step 2: the signature field itself, b= empty, no final CRLF */
    n += pb_dkim_canon_header_to(canon_of(hc), out->p + start,
                                 hashed_end - start, canon + n);
    if (EVP_DigestInit_ex(key->md, key->sha256, NULL) != 1 ||
        EVP_DigestUpdate(key->md, canon, n) != 1 ||
        EVP_DigestFinal_ex(key->md, hash, &hlen) != 1) {
        ossl_fail(err, PB_E_INTERNAL, "SHA-256 failed", NULL);
        goto out;
    }

    if (key->alg == DKIM_SIGN_RSA_SHA256) {
        if (EVP_PKEY_sign(key->rsa_ctx, sig, &siglen, hash, hlen) != 1) {
            ossl_fail(err, PB_E_INTERNAL, "RSA signing failed", NULL);
            goto out;
        }
    } else {
        unsigned long long slen;

        /* RFC 8463 §3: PureEdDSA over the SHA-256 hash */
        if (crypto_sign_ed25519_detached(sig, &slen, hash, hlen, key->ed_sk) !=
            0) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_INTERNAL,
                       "Ed25519 signing failed");
            goto out;
        }
        siglen = (size_t)slen;
    }
    b64(sig, siglen, bsig);

    /* fold b= within PB_LIMIT_MSG_FOLD columns; FWS inside is allowed */
    col = 3; /* " b=" */
    left = strlen(bsig);
    for (i = 0; left > 0; i += chunk, left -= chunk) {
        chunk = PB_LIMIT_MSG_FOLD - col;
        if (chunk > left)
            chunk = left;
        if ((i > 0 && pb_buf_add(out, "\r\n ", 3) == -1) ||
            pb_buf_add(out, bsig + i, chunk) == -1)
            break;
        col = 1;
    }
    if (left > 0 || pb_buf_add(out, "\r\n", 2) == -1) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                   "DKIM-Signature field over the limit");
        goto out;
    }
    rc = 0;
out:
    if (canon != stack)
        free(canon);
    return rc;
}

int
dkim_sign_field(const struct dkim_sign_key *key,
                const struct pb_dkim_canon_msg *m, enum dkim_canon hc,
                enum dkim_canon bc, const char *prefix, size_t prefix_len,
                const char *hlist, size_t hlist_len, struct pb_buf *out,
                struct pb_err *err)
{
    struct hname names[PB_LIMIT_DKIM_SIGN_HEADERS];
    size_t count, sel[PB_LIMIT_DKIM_SIGN_HEADERS], nsel;
    bool from;

    if (parse_hlist(hlist, hlist_len, names, &count, &from, err) == -1)
        return -1;
    select_fields(m, names, count, sel, &nsel);
    return sign_field(key, m, hc, bc, prefix, prefix_len, sel, nsel, out, err);
}

/* The default h= list (see smtp.h): name, and whether to oversign it. */
#define DEFAULT_HEADER(name, oversign)   \
    {                                    \
        name, sizeof(name) - 1, oversign \
    }
static const struct {
    const char *name;
    size_t len;
    bool oversign;
} default_headers[] = {
    DEFAULT_HEADER("from", true),
    DEFAULT_HEADER("to", true),
    DEFAULT_HEADER("cc", true),
    DEFAULT_HEADER("subject", true),
    DEFAULT_HEADER("date", true),
    DEFAULT_HEADER("message-id", true),
    DEFAULT_HEADER("reply-to", true),
    DEFAULT_HEADER("mime-version", true),
    DEFAULT_HEADER("content-type", true),
    DEFAULT_HEADER("content-transfer-encoding", true),
    /* list managers may add these when they resend: sign, do not lock */
    DEFAULT_HEADER("list-unsubscribe", false),
    DEFAULT_HEADER("list-unsubscribe-post", false),
    DEFAULT_HEADER("in-reply-to", false),
    DEFAULT_HEADER("references", false),
};
#define DEFAULT_HEADERS (sizeof(default_headers) / sizeof(default_headers[0]))

/* Writes tag-list words folded within PB_LIMIT_MSG_FOLD columns, into a
 * buffer of the caller's (on the stack: nothing to allocate a message). */
struct fold {
    char *p;
    size_t len, cap;
    size_t col;
    bool full;
};

static void
fold_add(struct fold *f, const char *s, size_t n)
{
    if (n > f->cap - f->len) {
        f->full = true;
        return;
    }
    memcpy(f->p + f->len, s, n);
    f->len += n;
}

/*
 * The default h= list of m written to h, and the fields it signs to
 * sel[*nsel], as select_fields() would choose them from that list: in it
 * each name's entries are together, so they take the fields of that name
 * from the bottom up, and an oversigning entry, the last, none.  Known
 * here without matching each name against the fields again.
 */
static int
default_hlist(const struct pb_dkim_canon_msg *m, struct fold *h, size_t *sel,
              size_t *nsel, struct pb_err *err)
{
    size_t seen[DEFAULT_HEADERS] = {0}, i, j, total = 0;
    unsigned char which[PB_LIMIT_MSG_FIELDS]; /* default_headers index */

    _Static_assert(DEFAULT_HEADERS < 256, "an index is a byte");

    /* one pass over the fields: which default name each has, if any */
    for (j = 0; j < m->nfields; j++) {
        for (i = 0; i < DEFAULT_HEADERS; i++) {
            if (pb_dkim_canon_field_is(m, &m->fields[j],
                                       default_headers[i].name,
                                       default_headers[i].len))
                break;
        }
        which[j] = (unsigned char)i; /* DEFAULT_HEADERS: none */
        if (i < DEFAULT_HEADERS)
            seen[i]++;
    }
    *nsel = 0;
    for (i = 0; i < DEFAULT_HEADERS; i++) {
        const char *name = default_headers[i].name;
        size_t n = seen[i], len = default_headers[i].len;

        if (n > 0 && default_headers[i].oversign)
            n++;
        total += n;
        if (total > PB_LIMIT_DKIM_SIGN_HEADERS)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                              "message has over %d header fields to sign "
                              "(repeated %s fields?)",
                              PB_LIMIT_DKIM_SIGN_HEADERS, name);
        for (; n > 0; n--) {
            if (h->len > 0)
                fold_add(h, ":", 1);
            fold_add(h, name, len);
            if (h->full)
                return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                                  "signed header list over the limit");
        }
        for (j = m->nfields; seen[i] > 0 && j > 0; j--) {
            if (which[j - 1] == i)
                sel[(*nsel)++] = j - 1;
        }
    }
    return 0;
}

static void
fold_word(struct fold *f, const char *s, size_t n, bool space)
{
    size_t need = n + (space ? 1 : 0);

    if (f->col + need > PB_LIMIT_MSG_FOLD && f->col > 1) {
        fold_add(f, "\r\n ", 3);
        f->col = 1;
        need = n;
    } else if (space) {
        fold_add(f, " ", 1);
    }
    fold_add(f, s, n);
    f->col += need;
}

/* One "tag=value;" of the tag-list. */
static void
fold_tag(struct fold *f, const char *tag, const char *value)
{
    char word[PB_LIMIT_DNS_NAME + PB_LIMIT_ADDRESS + 16];
    size_t t = strlen(tag), v = strlen(value);

    if (t + v + 2 > sizeof(word)) {
        f->full = true;
        return;
    }
    memcpy(word, tag, t);
    word[t] = '=';
    memcpy(word + t + 1, value, v);
    word[t + 1 + v] = ';';
    fold_word(f, word, t + v + 2, true);
}

/* "%lld" of v in dst (24 bytes or more), without stdio: t= is written
 * for every message, and snprintf() took some 800 instructions a time. */
static void
decimal(char *dst, long long v)
{
    char rev[24];
    unsigned long long u =
        v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0;

    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        *dst++ = '-';
    while (n > 0)
        *dst++ = rev[--n];
    *dst = '\0';
}

static int
sign_one(const struct dkim_sign_params *sp, const struct pb_dkim_canon_msg *m,
         struct pb_buf *out, struct pb_err *err)
{
    /* c=, by [header is relaxed][body is relaxed] */
    static const char *const canons[2][2] = {
        {"simple/simple", "simple/relaxed"},
        {"relaxed/simple", "relaxed/relaxed"},
    };
    char prefix[16384], hbuf[4096];
    struct fold f = {prefix, 0, sizeof(prefix), 0, false};
    struct fold hb = {hbuf, 0, sizeof(hbuf), 0, false};
    struct hname names[PB_LIMIT_DKIM_SIGN_HEADERS];
    const char *hlist, *colon;
    char ts[32];
    size_t hlen, start, end, count, sel[PB_LIMIT_DKIM_SIGN_HEADERS], nsel = 0;
    bool from;
    time_t t = sp->timestamp ? sp->timestamp : time(NULL);

    if (sp->headers == NULL) {
        if (default_hlist(m, &hb, sel, &nsel, err) == -1)
            return -1;
        hlist = hbuf;
        hlen = hb.len;
    } else {
        hlist = sp->headers;
        hlen = strlen(hlist);
    }
    decimal(ts, (long long)t);
    fold_add(&f, "DKIM-Signature:", 15);
    f.col = f.len;
    fold_tag(&f, "v", "1");
    fold_tag(&f, "a", dkim_sign_alg_name(sp->key->alg));
    fold_tag(&f, "c",
             canons[sp->header_canon == DKIM_CANON_RELAXED]
                   [sp->body_canon == DKIM_CANON_RELAXED]);
    fold_tag(&f, "d", sp->domain);
    if (sp->identity != NULL)
        fold_tag(&f, "i", sp->identity);
    fold_tag(&f, "s", sp->selector);
    fold_tag(&f, "t", ts);
    /* h=: break only after a colon (FWS is allowed there) */
    for (start = 0;; start = end + 1) {
        /* "h=" first, the name, and ':' or the final ';' */
        char word[128];
        size_t w = start == 0 ? 2 : 0;

        colon = memchr(hlist + start, ':', hlen - start);
        end = colon != NULL ? (size_t)(colon - hlist) : hlen;
        if (w + (end - start) + 1 >= sizeof(word)) {
            f.full = true;
        } else {
            memcpy(word, "h=", w);
            memcpy(word + w, hlist + start, end - start);
            w += end - start;
            word[w++] = colon != NULL ? ':' : ';';
            fold_word(&f, word, w, start == 0);
        }
        if (colon == NULL)
            break;
    }
    /* the separator before bh=BASE64; (48 columns) */
    if (f.col + 1 + 48 > PB_LIMIT_MSG_FOLD)
        fold_add(&f, "\r\n ", 3);
    else
        fold_add(&f, " ", 1);
    if (f.full)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "DKIM-Signature field over the limit");
    /* the default list came with its fields: choose them for a given one */
    if (sp->headers != NULL) {
        if (parse_hlist(hlist, hlen, names, &count, &from, err) == -1)
            return -1;
        select_fields(m, names, count, sel, &nsel);
    }
    return sign_field(sp->key, m, sp->header_canon, sp->body_canon, prefix,
                      f.len, sel, nsel, out, err);
}

int
dkim_sign_message(const struct dkim_sign_params *params, size_t nsigs,
                  const void *msg, size_t len, char **out, size_t *outlen,
                  struct pb_err *err)
{
    struct pb_dkim_canon_msg m;
    struct pb_buf sigs;
    size_t i, froms = 0, line = 0;
    char *o;

    *out = NULL;
    *outlen = 0;
    if (nsigs == 0 || nsigs > PB_LIMIT_DKIM_SIGNATURES)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%zu signatures asked for; 1 to %d are possible",
                          nsigs, PB_LIMIT_DKIM_SIGNATURES);
    for (i = 0; i < nsigs; i++) {
        if (params[i].key == NULL)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "no key for signature %zu", i + 1);
        if (dkim_sign_params_check(&params[i], err) == -1)
            return -1;
    }
    if (pb_dkim_canon_split(msg, len, &m, err) == -1)
        return -1;
    for (i = 0; i < m.nfields; i++) {
        const struct pb_dkim_canon_field *f = &m.fields[i];

        /* obsolete WSP before the colon (RFC 5322 §4.5): dkimpy and
         * OpenDKIM reject the message, so no signature would verify */
        if (m.p[f->off + f->name_len] != ':') {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                       "message header line %zu has a space before the "
                       "colon (obsolete syntax that verifiers reject); "
                       "remove it",
                       f->line);
            pb_err_evidence(err, m.p + f->off,
                            f->len - 2 < 80 ? f->len - 2 : 80);
            pb_dkim_canon_msg_release(&m);
            return -1;
        }
        if (pb_dkim_canon_field_is(&m, f, "from", 4)) {
            if (froms++ == 1)
                line = f->line;
        }
    }
    if (froms != 1) {
        if (froms == 0)
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                       "message has no From header field; RFC 5322 requires "
                       "one and DKIM must sign it");
        else
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                       "message has %zu From header fields (a second on "
                       "line %zu); RFC 5322 allows one, and receivers take "
                       "two as forgery",
                       froms, line);
        pb_dkim_canon_msg_release(&m);
        return -1;
    }
    pb_buf_init(&sigs, (size_t)PB_LIMIT_DKIM_SIGNATURES * 65536);
    for (i = 0; i < nsigs; i++) {
        if (sign_one(&params[i], &m, &sigs, err) == -1) {
            pb_buf_release(&sigs);
            pb_dkim_canon_msg_release(&m);
            return -1;
        }
    }
    o = pb_xmalloc(sigs.len + m.len + 1);
    memcpy(o, sigs.p, sigs.len);
    memcpy(o + sigs.len, m.p, m.len);
    o[sigs.len + m.len] = '\0';
    *out = o;
    *outlen = sigs.len + m.len;
    pb_buf_release(&sigs);
    pb_dkim_canon_msg_release(&m);
    return 0;
}
