/* SPDX-License-Identifier: MIT */
/*
 * DKIM key records and the DKIM audit: the RFC 6376 §3.2 tag-list parser
 * (valid, at and over each limit, hostile bytes), keys through OpenSSL
 * (RFC 8463 and dkimpy vectors, generated RSA keys of 512..5120 bits,
 * PKCS#1), and one DNS-fixture case for every finding id.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "testdata.h"

/* A record file of test/data/dkim/, without the final newline. */
static char *
load(const char *rel, size_t *len)
{
    char *p = testdata_load(rel, len);

    while (*len > 0 && (p[*len - 1] == '\n' || p[*len - 1] == '\r'))
        p[--*len] = '\0';
    return p;
}

/* The record of an RFC 8463 A.2 zone line: the text between the quotes. */
static char *
rfc8463(int line, size_t *len)
{
    size_t n;
    char *all = load("dkim/rfc8463/dns.txt", &n), *p = all, *q, *r;
    int i;

    for (i = 0; i < line; i++)
        p = strchr(p, '\n') + 1;
    p = strchr(p, '"') + 1;
    q = strchr(p, '"');
    *len = (size_t)(q - p);
    r = strndup(p, *len);
    free(all);
    return r;
}

static int
parse_s(const char *s, struct dkim_record *rec, char *why)
{
    return dkim_record_parse(s, strlen(s), rec, why, 256);
}

/* ------------------------------------------------------------------ */
/* Valid records                                                       */

Test(dkim_record_parse, rfc8463_ed25519_key)
{
    struct dkim_record rec;
    char why[256];
    size_t len;
    char *p = rfc8463(0, &len);

    cr_assert_eq(dkim_record_parse(p, len, &rec, why, sizeof(why)), 0, "%s",
                 why);
    cr_assert_eq(rec.key_type, DKIM_KEY_ED25519);
    cr_assert_eq(rec.key_form, DKIM_FORM_RAW);
    cr_assert_eq(rec.key_bits, 256);
    cr_assert_eq(rec.key_len, 32);
    cr_assert_str_empty(rec.key_error);
    cr_assert(rec.is_version_first);
    cr_assert_eq(rec.version, DKIM_MATCH_EXACT);
    cr_assert_eq(rec.ntags, 3);
    dkim_record_release(&rec);
    free(p);
}

Test(dkim_record_parse, rfc8463_rsa_key)
{
    struct dkim_record rec;
    char why[256];
    size_t len;
    char *p = rfc8463(1, &len);

    cr_assert_eq(dkim_record_parse(p, len, &rec, why, sizeof(why)), 0, "%s",
                 why);
    cr_assert_eq(rec.key_type, DKIM_KEY_RSA);
    cr_assert_eq(rec.key_form, DKIM_FORM_SPKI);
    cr_assert_eq(rec.key_bits, 1024);
    cr_assert_eq(rec.hashes, DKIM_HASH_SHA1 | DKIM_HASH_SHA256);
    cr_assert_eq(rec.services, DKIM_SERVICE_ANY);
    cr_assert_eq(rec.flags, 0);
    dkim_record_release(&rec);
    free(p);
}

struct keycase {
    const char *file;
    enum dkim_key_type type;
    enum dkim_key_form form;
    unsigned bits;
};

static const struct keycase key_cases[] = {
    {"dkim/dkimpy/test.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI, 1024},
    {"dkim/dkimpy/test2.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI, 1024},
    {"dkim/dkimpy/ed25519test.dns", DKIM_KEY_ED25519, DKIM_FORM_RAW, 256},
    {"dkim/dkimpy/eximtest.dns", DKIM_KEY_ED25519, DKIM_FORM_RAW, 256},
    {"dkim/dkimpy/1024_testkey_wo_markers.pub.txt", DKIM_KEY_RSA,
     DKIM_FORM_SPKI, 1024},
    {"dkim/dkimpy/1024_testkey_wo_markers.pub.rsa.txt", DKIM_KEY_RSA,
     DKIM_FORM_PKCS1, 1024},
    {"dkim/dkimpy/2048_testkey_wo_markers.pub.txt", DKIM_KEY_RSA,
     DKIM_FORM_SPKI, 2048},
    {"dkim/dkimpy/2048_testkey_wo_markers.pub.rsa.txt", DKIM_KEY_RSA,
     DKIM_FORM_PKCS1, 2048},
    {"dkim/dkimpy/2048_testkey_PKCS8.key.pub.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI,
     2048},
    {"dkim/keys/rsa-512.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI, 512},
    {"dkim/keys/rsa-1024.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI, 1024},
    {"dkim/keys/rsa-1536.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI, 1536},
    {"dkim/keys/rsa-2048.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI, 2048},
    {"dkim/keys/rsa-2048-pkcs1.txt", DKIM_KEY_RSA, DKIM_FORM_PKCS1, 2048},
    {"dkim/keys/rsa-4096.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI, 4096},
    {"dkim/keys/rsa-5120.txt", DKIM_KEY_RSA, DKIM_FORM_SPKI, 5120},
};

ParameterizedTestParameters(dkim_record_parse, key_files)
{
    return testdata_index_params(sizeof(key_cases) / sizeof(key_cases[0]));
}

ParameterizedTest(size_t *ix, dkim_record_parse, key_files)
{
    const struct keycase *c = &key_cases[*ix];
    struct dkim_record rec;
    char why[256];
    size_t len;
    char *p = load(c->file, &len);

    cr_assert_eq(dkim_record_parse(p, len, &rec, why, sizeof(why)), 0, "%s: %s",
                 c->file, why);
    cr_assert_str_empty(rec.key_error, "%s: %s", c->file, rec.key_error);
    cr_assert_eq(rec.key_type, c->type, "%s", c->file);
    cr_assert_eq(rec.key_form, c->form, "%s", c->file);
    cr_assert_eq(rec.key_bits, c->bits, "%s: %u bits", c->file, rec.key_bits);
    dkim_record_release(&rec);
    free(p);
}

Test(dkim_record_parse, fws_inside_p_and_around_tags)
{
    struct dkim_record a, b;
    char why[256];
    size_t len;
    char *p = rfc8463(1, &len), *key = strstr(p, "p=") + 2;
    char folded[1024];

    /* the same key with CRLF+WSP folds and blanks between its characters */
    snprintf(folded, sizeof(folded),
             " v = DKIM1 ;\r\n\tk=rsa;  p= %.40s\r\n %.40s \t %s ;  ", key,
             key + 40, key + 80);
    cr_assert_eq(parse_s(folded, &a, why), 0, "%s", why);
    cr_assert_eq(dkim_record_parse(p, len, &b, why, sizeof(why)), 0);
    cr_assert_eq(a.key_len, b.key_len);
    cr_assert_eq(memcmp(a.key, b.key, a.key_len), 0);
    cr_assert_eq(a.key_bits, 1024);
    cr_assert_str_eq(a.tag_v->value, "DKIM1");
    cr_assert_str_eq(a.tag_k->value, "rsa");
    dkim_record_release(&a);
    dkim_record_release(&b);
    free(p);
}

Test(dkim_record_parse, tag_lists_hashes_services_flags)
{
    struct dkim_record rec;
    char why[256];

    cr_assert_eq(parse_s("v=DKIM1; h=sha1 : sha256; s=email:tlsrpt; "
                         "t=y:s:x; n=hello world; p=",
                         &rec, why),
                 0, "%s", why);
    cr_assert_eq(rec.hashes, DKIM_HASH_SHA1 | DKIM_HASH_SHA256);
    cr_assert_eq(rec.services, DKIM_SERVICE_EMAIL | DKIM_SERVICE_OTHER);
    cr_assert_eq(rec.flags,
                 DKIM_FLAG_TESTING | DKIM_FLAG_STRICT | DKIM_FLAG_OTHER);
    cr_assert_str_eq(rec.tag_n->value, "hello world");
    cr_assert(rec.is_revoked);
    cr_assert_null(rec.key);
    dkim_record_release(&rec);

    cr_assert_eq(parse_s("h=sha512; s=tlsrpt; p=", &rec, why), 0);
    cr_assert_eq(rec.hashes, DKIM_HASH_OTHER);
    cr_assert_eq(rec.services, DKIM_SERVICE_OTHER);
    dkim_record_release(&rec);
}

Test(dkim_record_parse, version_and_key_type_spellings)
{
    struct dkim_record rec;
    char why[256];

    cr_assert_eq(parse_s("v=dkim1; k=RSA; p=", &rec, why), 0);
    cr_assert_eq(rec.version, DKIM_MATCH_CASE);
    cr_assert_eq(rec.key_case, DKIM_MATCH_CASE);
    cr_assert_eq(rec.key_type, DKIM_KEY_RSA);
    dkim_record_release(&rec);

    cr_assert_eq(parse_s("k=rsa; v=DKIM1; p=", &rec, why), 0);
    cr_assert_not(rec.is_version_first);
    dkim_record_release(&rec);

    /* dkimpy badversion.txt: "v=DKIM1: g=*" is one value, "DKIM1: g=*" */
    cr_assert_eq(parse_s("v=DKIM1: g=*; k=rsa; p=", &rec, why), 0);
    cr_assert_eq(rec.version, DKIM_MATCH_NONE);
    cr_assert_str_eq(rec.tag_v->value, "DKIM1: g=*");
    dkim_record_release(&rec);

    cr_assert_eq(parse_s("v=DKIM1; k=ed25519-sha256; p=AAAA", &rec, why), 0);
    cr_assert_eq(rec.key_type, DKIM_KEY_UNKNOWN);
    cr_assert_str_empty(rec.key_error, "unknown types are not inspected");
    dkim_record_release(&rec);
}

Test(dkim_record_parse, unpadded_base64_still_decodes)
{
    struct dkim_record rec;
    char why[256];

    cr_assert_eq(parse_s("k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPc"
                         "HURo",
                         &rec, why),
                 0);
    cr_assert(rec.is_unpadded);
    cr_assert_eq(rec.key_form, DKIM_FORM_RAW);
    cr_assert_str_empty(rec.key_error);
    dkim_record_release(&rec);
}

/* ------------------------------------------------------------------ */
/* Limits: exactly at each, and one over                               */

Test(dkim_record_parse, record_at_limit_and_one_over)
{
    struct dkim_record rec;
    char why[256];
    size_t len;
    char *key = load("dkim/keys/rsa-2048.txt", &len);
    char *buf = malloc(DKIM_LIMIT_RECORD + 1);
    size_t head, klen = len;

    /* "n=xxxx...; " then the 2048-bit key record: DKIM_LIMIT_RECORD long */
    head = DKIM_LIMIT_RECORD - klen;
    memcpy(buf, "n=", 2);
    memset(buf + 2, 'x', head - 4);
    memcpy(buf + head - 2, "; ", 2);
    memcpy(buf + head, key, klen);
    cr_assert_eq(
        dkim_record_parse(buf, DKIM_LIMIT_RECORD, &rec, why, sizeof(why)), 0,
        "%s", why);
    cr_assert_eq(rec.key_bits, 2048);
    cr_assert_eq(rec.tag_n->len, head - 4);
    dkim_record_release(&rec);
    /* a 64 KiB TXT: one octet over */
    memmove(buf + 1, buf, DKIM_LIMIT_RECORD);
    buf[0] = ' ';
    cr_assert_eq(
        dkim_record_parse(buf, DKIM_LIMIT_RECORD + 1, &rec, why, sizeof(why)),
        -1);
    cr_assert(strstr(why, "over the limit") != NULL, "%s", why);
    cr_assert_eq(rec.ntags, 0);
    cr_assert_null(rec.tags);
    free(buf);
    free(key);
}

Test(dkim_record_parse, tags_at_limit_and_one_over)
{
    struct dkim_record rec;
    char why[256], buf[2048];
    size_t n = 0;
    int i;

    for (i = 0; i < DKIM_LIMIT_TAGS - 1; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "x%d=1;", i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "p=");
    cr_assert_eq(dkim_record_parse(buf, n, &rec, why, sizeof(why)), 0, "%s",
                 why);
    cr_assert_eq(rec.ntags, DKIM_LIMIT_TAGS);
    dkim_record_release(&rec);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, ";y=1");
    cr_assert_eq(dkim_record_parse(buf, n, &rec, why, sizeof(why)), -1);
    cr_assert(strstr(why, "more than 64 tags") != NULL, "%s", why);
}

Test(dkim_record_parse, tag_name_at_limit_and_one_over)
{
    struct dkim_record rec;
    char why[256], buf[128];

    memset(buf, 'a', DKIM_LIMIT_TAG_NAME);
    strcpy(buf + DKIM_LIMIT_TAG_NAME, "=1; p=");
    cr_assert_eq(parse_s(buf, &rec, why), 0, "%s", why);
    cr_assert_eq(strlen(rec.tags[0].name), DKIM_LIMIT_TAG_NAME);
    dkim_record_release(&rec);
    memset(buf, 'a', DKIM_LIMIT_TAG_NAME + 1);
    strcpy(buf + DKIM_LIMIT_TAG_NAME + 1, "=1; p=");
    cr_assert_eq(parse_s(buf, &rec, why), -1);
    cr_assert(strstr(why, "over the limit") != NULL, "%s", why);
}

Test(dkim_key_inspect, key_at_limit_and_one_over)
{
    unsigned char *key = calloc(1, DKIM_LIMIT_KEY + 1);
    enum dkim_key_form form;
    unsigned bits;
    char why[256];

    key[0] = 0x30; /* a SEQUENCE that goes nowhere */
    cr_assert_eq(dkim_key_inspect(DKIM_KEY_RSA, key, DKIM_LIMIT_KEY, &form,
                                  &bits, why, sizeof(why)),
                 -1);
    cr_assert(strstr(why, "limit") == NULL, "%s", why);
    cr_assert(strstr(why, "not a DER") != NULL, "%s", why);
    cr_assert_eq(dkim_key_inspect(DKIM_KEY_RSA, key, DKIM_LIMIT_KEY + 1, &form,
                                  &bits, why, sizeof(why)),
                 -1);
    cr_assert(strstr(why, "over the limit") != NULL, "%s", why);
    cr_assert_eq(form, DKIM_FORM_NONE);
    cr_assert_eq(bits, 0);
    free(key);
}

/* ------------------------------------------------------------------ */
/* Hostile and broken input                                            */

struct badcase {
    const char *name;
    const char *rec;
    size_t len; /* 0: strlen */
    const char *why;
};

static const struct badcase bad_cases[] = {
    {"empty", "", 0, "empty record"},
    {"blanks", " \t ", 0, "empty record"},
    {"nul", "v=DKIM1; n=a\0b; p=", 19, "NUL"},
    {"bare-cr", "v=DKIM1; n=a\rb; p=", 0, "bare CR"},
    {"bare-lf", "v=DKIM1;\nk=rsa; p=", 0, "bare LF"},
    {"crlf-no-wsp", "v=DKIM1;\r\nk=rsa; p=", 0, "line break not followed"},
    {"trailing-newline", "v=DKIM1; p=\n", 0, "bare LF"},
    {"lf-then-wsp", "v=DKIM1;\n k=rsa; p=", 0, "bare LF"},
    {"8bit", "v=DKIM1; n=caf\xc3\xa9; p=", 0, "8-bit byte 0xc3"},
    {"control", "v=DKIM1; n=a\x01; p=", 0, "control byte 0x01"},
    {"duplicate", "v=DKIM1; p=; k=rsa; p=", 0, "duplicate tag p="},
    {"empty-spec", "v=DKIM1;; p=", 0, "empty tag-spec"},
    {"no-equals", "v=DKIM1; k rsa; p=", 0, "expected \"=\""},
    {"name-only", "v=DKIM1; p", 0, "found the end"},
    {"digit-name", "1v=DKIM1; p=", 0, "must start with a letter"},
    {"quoted", "\"v=DKIM1; p=\"", 0, "must start with a letter"},
    {"colon-sep", "v:DKIM1; p:", 0, "expected \"=\""},
    {"dash-name", "v-x=1; p=", 0, "expected \"=\""},
};

ParameterizedTestParameters(dkim_record_parse, rejects)
{
    return testdata_index_params(sizeof(bad_cases) / sizeof(bad_cases[0]));
}

ParameterizedTest(size_t *ix, dkim_record_parse, rejects)
{
    const struct badcase *c = &bad_cases[*ix];
    struct dkim_record rec;
    char why[256];
    size_t len = c->len ? c->len : strlen(c->rec);

    cr_assert_eq(dkim_record_parse(c->rec, len, &rec, why, sizeof(why)), -1,
                 "%s parsed", c->name);
    cr_assert(strstr(why, c->why) != NULL, "%s: %s", c->name, why);
    cr_assert_null(rec.tags);
}

struct keybad {
    const char *name;
    const char *rec;
    const char *why;
};

static const struct keybad badkey_cases[] = {
    {"garbage", "p=!!notbase64!!", "not valid base64: \"!\""},
    {"base64url", "p=MIGf-_", "base64url"},
    {"after-pad", "p=AA==AA", "after the \"=\" padding"},
    {"three-pads", "p=A===", "more than two"},
    {"one-char", "p=A", "whole groups of 4"},
    {"bad-pad", "p=AAA==", "whole groups of 4"},
    {"only-pad", "p===", "whole groups of 4"},
    {"der-garbage", "p=AAAAAAAA", "not a DER"},
    {"ed25519-short", "k=ed25519; p=AAAA", "32 octets, p= holds 3"},
    {"ed-as-rsa",
     "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "k=ed25519"},
};

ParameterizedTestParameters(dkim_record_parse, bad_keys)
{
    return testdata_index_params(sizeof(badkey_cases) /
                                 sizeof(badkey_cases[0]));
}

ParameterizedTest(size_t *ix, dkim_record_parse, bad_keys)
{
    const struct keybad *c = &badkey_cases[*ix];
    struct dkim_record rec;
    char why[256];

    cr_assert_eq(parse_s(c->rec, &rec, why), 0, "%s: %s", c->name, why);
    cr_assert(strstr(rec.key_error, c->why) != NULL, "%s: %s", c->name,
              rec.key_error);
    cr_assert_eq(rec.key_form, DKIM_FORM_NONE);
    cr_assert_eq(rec.key_bits, 0);
    dkim_record_release(&rec);
}

/* Re-encode a DER key without its last cut octets. */
static char *
truncated_record(const char *file, size_t cut)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct dkim_record rec;
    char why[256], *out, *o;
    size_t len, i, n;
    char *p = load(file, &len);

    cr_assert_eq(dkim_record_parse(p, len, &rec, why, sizeof(why)), 0);
    n = rec.key_len - cut;
    out = o = malloc(n * 2 + 32);
    o += sprintf(o, "k=rsa; p=");
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)rec.key[i] << 16 |
                     (unsigned)rec.key[i + 1] << 8 | rec.key[i + 2];

        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = b64[v >> 6 & 63];
        *o++ = b64[v & 63];
    }
    if (n - i == 1) {
        *o++ = b64[rec.key[i] >> 2];
        *o++ = b64[(rec.key[i] & 3) << 4];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)rec.key[i] << 8 | rec.key[i + 1];

        *o++ = b64[v >> 10 & 63];
        *o++ = b64[v >> 4 & 63];
        *o++ = b64[(v & 15) << 2];
        *o++ = '=';
    }
    *o = '\0';
    dkim_record_release(&rec);
    free(p);
    return out;
}

Test(dkim_record_parse, truncated_der_is_a_bad_key)
{
    size_t cut;

    for (cut = 1; cut < 294; cut += 7) {
        struct dkim_record rec;
        char why[256], *r = truncated_record("dkim/keys/rsa-2048.txt", cut);

        cr_assert_eq(parse_s(r, &rec, why), 0, "%s", why);
        cr_assert_neq(rec.key_error[0], '\0', "cut %zu parsed", cut);
        cr_assert_eq(rec.key_bits, 0);
        dkim_record_release(&rec);
        free(r);
    }
}

Test(dkim_record_parse, dkimpy_corrupted_key_is_a_bad_key)
{
    struct dkim_record rec;
    char why[256];
    size_t len;
    char *p = load("dkim/dkimpy/test_bad.txt", &len);

    cr_assert_eq(dkim_record_parse(p, len, &rec, why, sizeof(why)), 0);
    cr_assert_neq(rec.key_error[0], '\0');
    dkim_record_release(&rec);
    free(p);
}

Test(dkim_record_parse, wrong_algorithms_in_spki)
{
    struct dkim_record rec;
    char why[256];
    size_t len;
    char *p = load("dkim/keys/ec-p256-spki.txt", &len);

    cr_assert_eq(dkim_record_parse(p, len, &rec, why, sizeof(why)), 0);
    cr_assert(strstr(rec.key_error, "an EC key, not an RSA key") != NULL, "%s",
              rec.key_error);
    dkim_record_release(&rec);
    free(p);
    p = load("dkim/keys/ed25519-spki.txt", &len);
    cr_assert_eq(dkim_record_parse(p, len, &rec, why, sizeof(why)), 0);
    cr_assert(strstr(rec.key_error, "SubjectPublicKeyInfo") != NULL, "%s",
              rec.key_error);
    dkim_record_release(&rec);
    free(p);
}

Test(dkim_record_parse, trailing_garbage_after_der)
{
    struct dkim_record rec;
    char why[256], buf[600];
    size_t len;
    char *p = load("dkim/keys/rsa-2048.txt", &len);

    /* 294 octets of DER + "AAAA" = 3 more octets */
    snprintf(buf, sizeof(buf), "%sAAAA", p);
    cr_assert_eq(parse_s(buf, &rec, why), 0);
    cr_assert(strstr(rec.key_error, "3 octets of garbage") != NULL, "%s",
              rec.key_error);
    dkim_record_release(&rec);
    free(p);
}

/* Deterministic noise: no input may crash the parser or leak. */
Test(dkim_record_parse, random_bytes_never_crash)
{
    static const char alphabet[] = "vkhstnpg=;: \t\r\nDKIM1rsaed25519AQAB+/";
    unsigned long x = 12345;
    char buf[512];
    int round;

    for (round = 0; round < 3000; round++) {
        struct dkim_record rec;
        char why[256];
        size_t n, i;

        x = x * 6364136223846793005UL + 1442695040888963407UL;
        n = (x >> 33) % sizeof(buf);
        for (i = 0; i < n; i++) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            buf[i] = round % 2 ? (char)(x >> 56)
                               : alphabet[(x >> 40) % (sizeof(alphabet) - 1)];
        }
        if (dkim_record_parse(buf, n, &rec, why, sizeof(why)) == 0)
            dkim_record_release(&rec);
        (void)dkim_record_looks_like(buf, n);
    }
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

Test(dkim_record, looks_like)
{
    static const struct {
        const char *rec;
        bool yes;
    } cases[] = {
        {"v=DKIM1; p=", true},
        {" v = dkim1; p=", true},
        {"v=DKIM1: g=*; p=", true},
        {"k=ed25519; p=abc", true},
        {"x=1; p=abc", true},
        {"t=y;k=rsa", true},
        {"v=spf1 -all", false},
        {"v=DMARC1; p=none", false},
        {"google-site-verification=abc", false},
        {"hello p=x", false},
        {"", false},
        {"v", false},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(dkim_record_looks_like(cases[i].rec, strlen(cases[i].rec)),
                     cases[i].yes, "%s", cases[i].rec);
}

Test(dkim_record, selector_check)
{
    const char *why;
    char long_label[80];

    cr_assert_eq(dkim_selector_check("google", &why), 0);
    cr_assert_eq(dkim_selector_check("s1.eu-west_2", &why), 0);
    cr_assert_eq(dkim_selector_check("20230601pm", &why), 0);
    cr_assert_eq(dkim_selector_check("", &why), -1);
    cr_assert_eq(dkim_selector_check("a..b", &why), -1);
    cr_assert_eq(dkim_selector_check("a.", &why), -1);
    cr_assert_eq(dkim_selector_check("bad selector", &why), -1);
    cr_assert_eq(dkim_selector_check("x\xc3\xa9", &why), -1);
    memset(long_label, 'a', 63);
    long_label[63] = '\0';
    cr_assert_eq(dkim_selector_check(long_label, &why), 0);
    strcpy(long_label + 63, "a");
    cr_assert_eq(dkim_selector_check(long_label, &why), -1);
}

Test(dkim_record, discovery_list_is_sane)
{
    size_t i, j;
    const char *why;

    cr_assert_geq(dkim_discovery_count, 25);
    cr_assert_leq(dkim_discovery_count, 40);
    for (i = 0; i < dkim_discovery_count; i++) {
        cr_assert_eq(dkim_selector_check(dkim_discovery_selectors[i], &why), 0);
        for (j = 0; j < i; j++)
            cr_assert_str_neq(dkim_discovery_selectors[i],
                              dkim_discovery_selectors[j]);
    }
}

/* ------------------------------------------------------------------ */
/* The audit, on the DNS fixture                                       */

static struct dns_resolver *resolver;

static void
setup(void)
{
    resolver = testdata_resolver("dkim/findings.json");
    cr_assert_not_null(resolver);
}

static void
teardown(void)
{
    dns_resolver_free(resolver);
}

TestSuite(dkim_audit, .init = setup, .fini = teardown);

static const struct pb_finding *
find(const struct dkim_audit *a, const char *id)
{
    size_t i;

    for (i = 0; i < a->findings.n; i++)
        if (strcmp(a->findings.v[i].id, id) == 0)
            return &a->findings.v[i];
    return NULL;
}

static void
run(const char *domain, const char *sel, struct dkim_audit *a)
{
    const char *sels[1] = {sel};

    dkim_audit_run(resolver, domain, sel != NULL ? sels : NULL,
                   sel != NULL ? 1 : 0, a);
}

struct idcase {
    const char *id;
    const char *domain;
    const char *selector; /* NULL: discovery */
    enum pb_severity sev;
    bool has_evidence;
};

static const struct idcase id_cases[] = {
    {"dkim-not-found", "not-found.example", "sel", PB_SEV_FAIL, false},
    {"dkim-cname-dangling", "cname-dangling.example", "sel", PB_SEV_FAIL,
     false},
    {"dkim-no-dkim-record", "no-dkim-record.example", "sel", PB_SEV_FAIL, true},
    {"dkim-no-selector-found", "discover-none.example", NULL, PB_SEV_WARN,
     false},
    {"dkim-multiple-records", "multiple-records.example", "sel", PB_SEV_FAIL,
     true},
    {"dkim-dns-error", "dns-error.example", "sel", PB_SEV_ERROR, false},
    {"dkim-dns-error", "servfail.example", "sel", PB_SEV_ERROR, false},
    {"dkim-dns-error", "discover-down.example", NULL, PB_SEV_ERROR, false},
    {"dkim-discovery-incomplete", "discover.example", NULL, PB_SEV_INFO, false},
    {"dkim-other-txt", "discover-other.example", NULL, PB_SEV_INFO, true},
    {"dkim-invalid-selector", "ok.example", "bad selector!", PB_SEV_ERROR,
     false},
    {"dkim-syntax", "syntax.example", "sel", PB_SEV_FAIL, true},
    {"dkim-syntax", "syntax-quoted.example", "sel", PB_SEV_FAIL, true},
    {"dkim-syntax", "hostile.example", "sel", PB_SEV_FAIL, true},
    {"dkim-bad-version", "bad-version.example", "sel", PB_SEV_FAIL, true},
    {"dkim-version-not-first", "version-not-first.example", "sel", PB_SEV_WARN,
     true},
    {"dkim-value-case", "value-case.example", "sel", PB_SEV_WARN, true},
    {"dkim-unknown-key-type", "unknown-key-type.example", "sel", PB_SEV_FAIL,
     true},
    {"dkim-missing-key", "missing-key.example", "sel", PB_SEV_FAIL, true},
    {"dkim-key-revoked", "key-revoked.example", "sel", PB_SEV_FAIL, true},
    {"dkim-bad-key", "bad-key.example", "sel", PB_SEV_FAIL, true},
    {"dkim-bad-key", "bad-key-garbage.example", "sel", PB_SEV_FAIL, true},
    {"dkim-bad-key", "bad-key-ec.example", "sel", PB_SEV_FAIL, true},
    {"dkim-bad-key", "bad-key-ed25519-spki.example", "sel", PB_SEV_FAIL, true},
    {"dkim-base64-unpadded", "base64-unpadded.example", "sel", PB_SEV_WARN,
     true},
    {"dkim-rsa-pkcs1", "rsa-pkcs1.example", "sel", PB_SEV_WARN, true},
    {"dkim-rsa-too-short", "rsa-too-short.example", "sel", PB_SEV_FAIL, true},
    {"dkim-rsa-1024", "rsa-1024.example", "sel", PB_SEV_WARN, true},
    {"dkim-rsa-under-2048", "rsa-under-2048.example", "sel", PB_SEV_WARN, true},
    {"dkim-rsa-over-4096", "rsa-over-4096.example", "sel", PB_SEV_WARN, true},
    {"dkim-testing-mode", "testing-mode.example", "sel", PB_SEV_WARN, true},
    {"dkim-strict-identity", "strict-identity.example", "sel", PB_SEV_INFO,
     true},
    {"dkim-sha1-only", "sha1-only.example", "sel", PB_SEV_FAIL, true},
    {"dkim-sha1-allowed", "sha1-allowed.example", "sel", PB_SEV_INFO, true},
    {"dkim-no-usable-hash", "no-usable-hash.example", "sel", PB_SEV_FAIL, true},
    {"dkim-not-for-email", "not-for-email.example", "sel", PB_SEV_FAIL, true},
    {"dkim-empty-tag", "empty-tag.example", "sel", PB_SEV_WARN, true},
    {"dkim-notes", "notes.example", "sel", PB_SEV_INFO, true},
    {"dkim-unknown-tag", "unknown-tag.example", "sel", PB_SEV_INFO, true},
    {"dkim-ed25519-only", "discover-ed.example", NULL, PB_SEV_WARN, false},
};

ParameterizedTestParameters(dkim_audit, every_finding_id)
{
    return testdata_index_params(sizeof(id_cases) / sizeof(id_cases[0]));
}

ParameterizedTest(size_t *ix, dkim_audit, every_finding_id)
{
    const struct idcase *c = &id_cases[*ix];
    struct dkim_audit a;
    const struct pb_finding *fd;
    enum pb_status want = c->sev == PB_SEV_FAIL    ? PB_STATUS_FAIL
                          : c->sev == PB_SEV_WARN  ? PB_STATUS_WARN
                          : c->sev == PB_SEV_ERROR ? PB_STATUS_ERROR
                                                   : PB_STATUS_OK;

    run(c->domain, c->selector, &a);
    fd = find(&a, c->id);
    cr_assert_not_null(fd, "%s: no %s among %zu findings", c->domain, c->id,
                       a.findings.n);
    cr_assert_eq(fd->sev, c->sev, "%s: severity %s", c->id,
                 pb_severity_name(fd->sev));
    cr_assert_str_eq(fd->check, "dkim");
    cr_assert_eq(fd->evidence != NULL, c->has_evidence, "%s evidence", c->id);
    if (c->selector != NULL)
        cr_assert(strstr(fd->message, c->selector) != NULL, "%s: %s", c->id,
                  fd->message);
    if (c->sev != PB_SEV_INFO)
        cr_assert_not_null(fd->remedy, "%s has no remedy", c->id);
    /* the check's status is at least as bad as this finding */
    cr_assert_eq(pb_status_worst(a.status, want), a.status, "%s: status %s",
                 c->id, pb_status_name(a.status));
    cr_assert_eq(a.discovery, c->selector == NULL);
    if (c->selector != NULL) {
        cr_assert_eq(a.nselectors, 1);
        cr_assert_str_eq(a.selectors[0].selector, c->selector);
    }
    dkim_audit_release(&a);
}

Test(dkim_audit, good_keys_have_no_findings)
{
    static const char *const sels[] = {"google", "s4096"};
    struct dkim_audit a;

    dkim_audit_run(resolver, "ok.example", sels, 2, &a);
    cr_assert_eq(a.findings.n, 0, "%s", a.findings.n ? a.findings.v[0].id : "");
    cr_assert_eq(a.status, PB_STATUS_OK);
    cr_assert_eq(a.nselectors, 2);
    cr_assert(a.selectors[0].is_found);
    cr_assert_str_eq(a.selectors[0].name, "google._domainkey.ok.example");
    cr_assert_eq(a.selectors[0].key_type, DKIM_KEY_RSA);
    cr_assert_eq(a.selectors[0].key_bits, 2048);
    cr_assert_eq(a.selectors[0].record_len, 410, "the strings joined");
    cr_assert_null(a.selectors[0].cname);
    cr_assert_eq(a.selectors[1].key_bits, 4096);
    cr_assert_eq(a.selectors[1].status, PB_STATUS_OK);
    dkim_audit_release(&a);
}

Test(dkim_audit, rfc8463_keys)
{
    static const char *const sels[] = {"brisbane", "test"};
    struct dkim_audit a;

    dkim_audit_run(resolver, "football.example.com", sels, 2, &a);
    cr_assert_eq(a.selectors[0].key_type, DKIM_KEY_ED25519);
    cr_assert_eq(a.selectors[0].key_bits, 256);
    cr_assert_eq(a.selectors[0].status, PB_STATUS_OK);
    cr_assert_eq(a.selectors[1].key_bits, 1024);
    cr_assert_eq(a.selectors[1].status, PB_STATUS_WARN);
    cr_assert_eq(a.findings.n, 1);
    cr_assert_str_eq(a.findings.v[0].id, "dkim-rsa-1024");
    cr_assert(strstr(a.findings.v[0].remedy,
                     "publish a 2048-bit RSA key at "
                     "test._domainkey.football.example.com and rotate the "
                     "signer to it") != NULL,
              "%s", a.findings.v[0].remedy);
    cr_assert_null(find(&a, "dkim-ed25519-only"), "an RSA key is there too");
    cr_assert_eq(a.status, PB_STATUS_WARN);
    dkim_audit_release(&a);
}

Test(dkim_audit, microsoft365_cname_is_reported)
{
    static const char *const sels[] = {"selector1", "selector2"};
    struct dkim_audit a;

    dkim_audit_run(resolver, "contoso.example.", sels, 2, &a);
    cr_assert_eq(a.status, PB_STATUS_OK);
    cr_assert_str_eq(a.selectors[0].name,
                     "selector1._domainkey.contoso.example");
    cr_assert_str_eq(a.selectors[0].cname,
                     "selector1-contoso-example._domainkey.contoso."
                     "onmicrosoft.com");
    cr_assert(a.selectors[0].is_found);
    cr_assert_eq(a.selectors[0].key_bits, 2048);
    cr_assert_eq(a.selectors[1].key_bits, 2048);
    dkim_audit_release(&a);
}

/* Regression: the suffix test was one octet off and never matched. */
Test(dkim_audit, microsoft365_dkim_off_is_a_dangling_cname)
{
    struct dkim_audit a;
    const struct pb_finding *fd;

    run("m365-off.example", "selector1", &a);
    fd = find(&a, "dkim-cname-dangling");
    cr_assert_not_null(fd);
    cr_assert(strstr(fd->remedy, "Microsoft 365") != NULL, "%s", fd->remedy);
    cr_assert_eq(a.selectors[0].outcome, DKIM_DANGLING);
    cr_assert_not_null(a.selectors[0].cname);
    cr_assert_not(a.selectors[0].is_found);
    dkim_audit_release(&a);
}

Test(dkim_audit, discovery_asks_every_selector_at_once)
{
    struct dkim_audit a;
    size_t before = dns_resolver_sent(resolver);

    run("discover.example", NULL, &a);
    cr_assert_eq(dns_resolver_sent(resolver) - before, dkim_discovery_count);
    cr_assert_eq(a.ntried, dkim_discovery_count);
    cr_assert(a.discovery);
    /* google and s1 (a SendGrid-style CNAME) found; k1 timed out */
    cr_assert_eq(a.nselectors, 2);
    cr_assert_str_eq(a.selectors[0].selector, "google");
    cr_assert_str_eq(a.selectors[1].selector, "s1");
    cr_assert_str_eq(a.selectors[1].cname,
                     "s1.domainkey.u1.wl.sendgrid.example");
    cr_assert_eq(a.selectors[1].key_bits, 1024);
    cr_assert_not_null(find(&a, "dkim-rsa-1024"));
    cr_assert_not_null(find(&a, "dkim-discovery-incomplete"));
    cr_assert(strstr(find(&a, "dkim-discovery-incomplete")->message,
                     "k1 (TIMEOUT") != NULL);
    cr_assert_null(find(&a, "dkim-not-found"), "silence in discovery");
    cr_assert_eq(a.status, PB_STATUS_WARN);
    dkim_audit_release(&a);
}

Test(dkim_audit, discovery_finding_nothing)
{
    struct dkim_audit a;
    const struct pb_finding *fd;

    run("discover-none.example", NULL, &a);
    cr_assert_eq(a.nselectors, 0);
    cr_assert_eq(a.findings.n, 1);
    fd = &a.findings.v[0];
    cr_assert_str_eq(fd->id, "dkim-no-selector-found");
    cr_assert(strstr(fd->remedy, "--selector") != NULL);
    cr_assert(strstr(fd->remedy, "DKIM-Signature") != NULL);
    cr_assert_eq(a.status, PB_STATUS_WARN);
    dkim_audit_release(&a);
}

Test(dkim_audit, discovery_with_only_dns_errors_is_error)
{
    struct dkim_audit a;

    run("discover-down.example", NULL, &a);
    cr_assert_eq(a.status, PB_STATUS_ERROR);
    cr_assert_null(find(&a, "dkim-no-selector-found"), "cannot conclude");
    cr_assert(strstr(find(&a, "dkim-dns-error")->message, "2 of") != NULL);
    dkim_audit_release(&a);
}

Test(dkim_audit, named_selectors_kept_in_order_and_deduplicated)
{
    static const char *const sels[] = {"s4096", "google", "GOOGLE", "nope"};
    struct dkim_audit a;

    dkim_audit_run(resolver, "ok.example", sels, 4, &a);
    cr_assert_eq(a.nselectors, 3);
    cr_assert_str_eq(a.selectors[0].selector, "s4096");
    cr_assert_str_eq(a.selectors[1].selector, "google");
    cr_assert_str_eq(a.selectors[2].selector, "nope");
    cr_assert_eq(a.selectors[2].outcome, DKIM_MISSING);
    cr_assert_eq(a.selectors[2].status, PB_STATUS_FAIL);
    cr_assert_eq(a.selectors[0].status, PB_STATUS_OK);
    cr_assert_eq(a.status, PB_STATUS_FAIL);
    dkim_audit_release(&a);
}

Test(dkim_audit, nodata_and_nxdomain_are_both_not_found)
{
    struct dkim_audit a;

    run("not-found.example", "nodata", &a);
    cr_assert_eq(a.selectors[0].outcome, DKIM_MISSING);
    cr_assert(strstr(find(&a, "dkim-not-found")->message, "no TXT record"));
    dkim_audit_release(&a);
    run("not-found.example", "sel", &a);
    cr_assert(strstr(find(&a, "dkim-not-found")->message, "NXDOMAIN"));
    dkim_audit_release(&a);
}

Test(dkim_audit, multiple_records_evidence_holds_each)
{
    struct dkim_audit a;
    const struct pb_finding *fd;

    run("multiple-records.example", "sel", &a);
    fd = find(&a, "dkim-multiple-records");
    cr_assert(strstr(fd->message, "2 DKIM records") != NULL, "%s", fd->message);
    cr_assert(memchr(fd->evidence, '\n', fd->evidence_len) != NULL);
    cr_assert_null(strstr(fd->evidence, "spf1"), "non-DKIM TXT ignored");
    cr_assert_eq(a.selectors[0].nrecords, 2);
    dkim_audit_release(&a);
}

Test(dkim_audit, hostile_bytes_stay_in_the_evidence)
{
    struct dkim_audit a;
    const struct pb_finding *fd;

    run("hostile.example", "sel", &a);
    fd = find(&a, "dkim-syntax");
    cr_assert(strstr(fd->message, "NUL") != NULL, "%s", fd->message);
    cr_assert_eq(fd->evidence_len, a.selectors[0].record_len);
    cr_assert_eq(memcmp(fd->evidence, "v=DKIM1; k=rsa; n=\0\xff\r; p=", 25), 0);
    cr_assert_not(a.selectors[0].is_parsed);
    dkim_audit_release(&a);
}

Test(dkim_audit, syntax_remedy_mentions_literal_quotes)
{
    struct dkim_audit a;

    run("syntax-quoted.example", "sel", &a);
    cr_assert(strstr(find(&a, "dkim-syntax")->remedy, "quote") != NULL);
    dkim_audit_release(&a);
}

Test(dkim_audit, revoked_key_says_so)
{
    struct dkim_audit a;

    run("key-revoked.example", "sel", &a);
    cr_assert(strstr(find(&a, "dkim-key-revoked")->message, "revoked"));
    cr_assert(a.selectors[0].is_revoked);
    cr_assert_eq(a.selectors[0].key_bits, 0);
    dkim_audit_release(&a);
}

Test(dkim_audit, testing_and_hash_fields)
{
    struct dkim_audit a;

    run("testing-mode.example", "sel", &a);
    cr_assert(a.selectors[0].is_testing);
    dkim_audit_release(&a);
    run("sha1-only.example", "sel", &a);
    cr_assert_str_eq(a.selectors[0].hash, "sha1");
    cr_assert_eq(a.selectors[0].hashes, DKIM_HASH_SHA1);
    dkim_audit_release(&a);
    run("unknown-key-type.example", "sel", &a);
    cr_assert_eq(a.selectors[0].key_type, DKIM_KEY_UNKNOWN);
    cr_assert_str_eq(a.selectors[0].key_type_text, "ed25519-sha256");
    cr_assert_null(find(&a, "dkim-bad-key"), "unknown types: one finding");
    dkim_audit_release(&a);
}

/* A TXT record of 65214 octets (near the 65535-octet RDATA bound). */
Test(dkim_audit, huge_txt_record_is_judged_and_evidence_capped)
{
    char path[] = "/tmp/dkim-huge-XXXXXX";
    struct dns_resolver *r;
    struct dns_options opt = {.fixture = path};
    struct pb_err err;
    struct dkim_audit a;
    size_t len, nlen = 64800;
    char *key = load("dkim/keys/rsa-2048.txt", &len);
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    const struct pb_finding *n;

    cr_assert_not_null(f);
    fprintf(f, "{\"sel._domainkey.huge.example\": {\"TXT\": [\"n=");
    while (nlen-- > 0)
        fputc('x', f);
    fprintf(f, "; %s\"]}}", key);
    fclose(f);
    cr_assert_eq(dns_resolver_new(&opt, &r, &err), 0, "%s", err.msg);
    unlink(path);
    dkim_audit_run(r, "huge.example", (const char *const[]){"sel"}, 1, &a);
    cr_assert_eq(a.selectors[0].record_len, 64800 + 4 + len);
    cr_assert_eq(a.selectors[0].key_bits, 2048);
    n = find(&a, "dkim-notes");
    cr_assert_not_null(n);
    cr_assert_leq(n->evidence_len, PB_FINDING_EVIDENCE_MAX);
    cr_assert_leq(strlen(n->message), 200, "message holds a clip only");
    dkim_audit_release(&a);
    dns_resolver_free(r);
    free(key);
}
