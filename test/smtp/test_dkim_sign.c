/* SPDX-License-Identifier: MIT */
/*
 * DKIM signing: the RFC 6376 §3.4.6 canonicalization examples, the message
 * splitter (line endings, limits, hostile bytes), the RFC 8463 Appendix A
 * vector and dkimpy's signatures over all four canonicalizations reproduced
 * byte for byte, the default signed-header list, keys (PEM forms, seeds,
 * refusals, file permissions) and the parameters' syntax.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pb_buf.h"
#include "pb_dkim_canon.h"
#include "pb_limits.h"
#include "smtp.h"
#include "smtp_int.h"
#include "testdata.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void
buf_sink(void *arg, const void *p, size_t len)
{
    cr_assert_eq(pb_buf_add(arg, p, len), 0);
}

/* A key from test/data/dkim-sign (parsed from memory: no mode check). */
static struct dkim_sign_key *
key_from(const char *rel)
{
    struct dkim_sign_key *k;
    struct pb_err err;
    size_t len;
    char *p = testdata_load(rel, &len);

    pb_err_clear(&err);
    cr_assert_eq(dkim_sign_key_parse(p, len, rel, &k, &err), 0, "%s: %s", rel,
                 err.msg);
    free(p);
    return k;
}

/* Expect key parsing to fail with PB_E_SYNTAX and a message holding why. */
static void
key_refused(const char *rel, const char *why)
{
    struct dkim_sign_key *k = (struct dkim_sign_key *)1;
    struct pb_err err;
    size_t len;
    char *p = testdata_load(rel, &len);

    pb_err_clear(&err);
    cr_assert_eq(dkim_sign_key_parse(p, len, rel, &k, &err), -1, "%s", rel);
    cr_assert_null(k);
    cr_assert_not_null(strstr(err.msg, why), "%s: '%s' lacks '%s'", rel,
                       err.msg, why);
    free(p);
}

/* Sign s with one key and fixed parameters; returns the signed message. */
static char *
sign_s(const struct dkim_sign_key *k, const char *s, size_t len,
       enum dkim_canon hc, enum dkim_canon bc, const char *headers,
       struct pb_err *err, size_t *outlen)
{
    struct dkim_sign_params sp;
    char *out = NULL;
    size_t n;

    memset(&sp, 0, sizeof(sp));
    sp.key = k;
    sp.domain = "example.com";
    sp.selector = "sel";
    sp.header_canon = hc;
    sp.body_canon = bc;
    sp.headers = headers;
    sp.timestamp = 1700000000;
    pb_err_clear(err);
    if (dkim_sign_message(&sp, 1, s, len, &out, &n, err) == -1)
        return NULL;
    if (outlen != NULL)
        *outlen = n;
    return out;
}

/* The value of tag t= in the first DKIM-Signature of msg, FWS removed. */
static char *
tag_value(const char *msg, const char *tag)
{
    char pat[16];
    const char *p, *end;
    struct pb_buf b;
    size_t n;

    snprintf(pat, sizeof(pat), " %s=", tag);
    p = strstr(msg, pat);
    if (p == NULL) {
        snprintf(pat, sizeof(pat), ";%s=", tag);
        p = strstr(msg, pat);
    }
    if (p == NULL)
        return NULL;
    p += strlen(pat);
    end = p;
    /* to the ';' or the end of the field (a line not starting with WSP) */
    while (
        *end != '\0' && *end != ';' &&
        !(end[0] == '\r' && end[1] == '\n' && end[2] != ' ' && end[2] != '\t'))
        end++;
    pb_buf_init(&b, 65536);
    for (; p < end; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            cr_assert_eq(pb_buf_addc(&b, *p), 0);
    }
    return pb_buf_take(&b, &n);
}

static const char basic_msg[] = "From: Joe <joe@example.com>\r\n"
                                "To: Suzie <suzie@example.net>\r\n"
                                "Subject: Is dinner ready?\r\n"
                                "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
                                "Message-ID: <1@example.com>\r\n"
                                "\r\n"
                                "Hi.\r\n"
                                "\r\n"
                                "We lost the game.\r\n";

/* ------------------------------------------------------------------ */
/* Canonicalization: RFC 6376 §3.4.6                                   */

struct canon_case {
    char *header, *body, *relaxed_header, *simple_header, *relaxed_body,
        *simple_body;
};

static struct canon_case
canon_json(void)
{
    struct canon_case c;
    size_t len;
    char *p = testdata_load("dkim-sign/rfc6376/canonicalization.json", &len);
    cJSON *j = cJSON_ParseWithLength(p, len);

    cr_assert_not_null(j);
#define FIELD(dst, name)                                      \
    do {                                                      \
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name); \
        cr_assert(cJSON_IsString(v), name);                   \
        dst = strdup(v->valuestring);                         \
    } while (0)
    FIELD(c.header, "message_header");
    FIELD(c.body, "message_body");
    FIELD(c.relaxed_header, "relaxed_header");
    FIELD(c.simple_header, "simple_header");
    FIELD(c.relaxed_body, "relaxed_body");
    FIELD(c.simple_body, "simple_body");
#undef FIELD
    cJSON_Delete(j);
    free(p);
    return c;
}

static void
canon_case_release(struct canon_case *c)
{
    free(c->header);
    free(c->body);
    free(c->relaxed_header);
    free(c->simple_header);
    free(c->relaxed_body);
    free(c->simple_body);
}

/* The header of the example split into fields and canonicalized. */
static char *
canon_header_all(const char *header, const char *body, enum pb_dkim_canon c)
{
    struct pb_dkim_canon_msg m;
    struct pb_err err;
    struct pb_buf msg, out;
    size_t i, n;

    pb_buf_init(&msg, 65536);
    pb_buf_init(&out, 65536);
    cr_assert_eq(pb_buf_addf(&msg, "%s\r\n%s", header, body), 0);
    cr_assert_eq(pb_dkim_canon_split(msg.p, msg.len, &m, &err), 0, "%s",
                 err.msg);
    for (i = 0; i < m.nfields; i++)
        pb_dkim_canon_header(c, m.p + m.fields[i].off, m.fields[i].len,
                             buf_sink, &out);
    pb_dkim_canon_msg_release(&m);
    pb_buf_release(&msg);
    return pb_buf_take(&out, &n);
}

static char *
canon_body_s(const char *body, size_t len, enum pb_dkim_canon c)
{
    struct pb_buf out;
    size_t n;

    pb_buf_init(&out, 1 << 20);
    pb_dkim_canon_body(c, body, len, buf_sink, &out);
    if (out.p == NULL)
        return strdup("");
    return pb_buf_take(&out, &n);
}

Test(dkim_canon, rfc6376_example_relaxed_header)
{
    struct canon_case c = canon_json();
    char *got = canon_header_all(c.header, c.body, PB_DKIM_CANON_RELAXED);

    cr_assert_str_eq(got, c.relaxed_header);
    cr_assert_str_eq(got, "a:X\r\nb:Y Z\r\n");
    free(got);
    canon_case_release(&c);
}

Test(dkim_canon, rfc6376_example_simple_header)
{
    struct canon_case c = canon_json();
    char *got = canon_header_all(c.header, c.body, PB_DKIM_CANON_SIMPLE);

    cr_assert_str_eq(got, c.simple_header);
    free(got);
    canon_case_release(&c);
}

Test(dkim_canon, rfc6376_example_relaxed_body)
{
    struct canon_case c = canon_json();
    char *got = canon_body_s(c.body, strlen(c.body), PB_DKIM_CANON_RELAXED);

    cr_assert_str_eq(got, c.relaxed_body);
    cr_assert_str_eq(got, " C\r\nD E\r\n");
    free(got);
    canon_case_release(&c);
}

Test(dkim_canon, rfc6376_example_simple_body)
{
    struct canon_case c = canon_json();
    char *got = canon_body_s(c.body, strlen(c.body), PB_DKIM_CANON_SIMPLE);

    cr_assert_str_eq(got, c.simple_body);
    free(got);
    canon_case_release(&c);
}

Test(dkim_canon, empty_body_is_crlf_simple_and_nothing_relaxed)
{
    char *s = canon_body_s("", 0, PB_DKIM_CANON_SIMPLE);
    char *r = canon_body_s("", 0, PB_DKIM_CANON_RELAXED);

    cr_assert_str_eq(s, "\r\n");
    cr_assert_str_eq(r, "");
    free(s);
    free(r);
    s = canon_body_s("\r\n\r\n", 4, PB_DKIM_CANON_SIMPLE);
    r = canon_body_s(" \r\n\t\r\n", 6, PB_DKIM_CANON_RELAXED);
    cr_assert_str_eq(s, "\r\n");
    cr_assert_str_eq(r, "");
    free(s);
    free(r);
}

/* RFC 6376 §3.4.3/§3.4.4: the empty-body hashes of the corpus README,
 * through the whole signer (the bh= it writes) */
Test(dkim_sign, empty_body_hashes)
{
    struct dkim_sign_key *k = key_from("dkim-sign/keys/ed25519.pem");
    struct pb_err err;
    const char *m = "From: a@example.com\r\n\r\n";
    char *s = sign_s(k, m, strlen(m), DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE,
                     NULL, &err, NULL);
    char *r = sign_s(k, m, strlen(m), DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
                     NULL, &err, NULL);
    char *bs = tag_value(s, "bh"), *br = tag_value(r, "bh");

    cr_assert_str_eq(bs, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    cr_assert_str_eq(br, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    free(bs);
    free(br);
    free(s);
    free(r);
    dkim_sign_key_free(k);
}

Test(dkim_canon, relaxed_body_keeps_lone_cr_and_adds_final_crlf)
{
    char *r = canon_body_s("a\rb  c\t", 7, PB_DKIM_CANON_RELAXED);
    char *s = canon_body_s("x", 1, PB_DKIM_CANON_SIMPLE);

    cr_assert_str_eq(r, "a\rb c\r\n");
    cr_assert_str_eq(s, "x\r\n");
    free(r);
    free(s);
}

Test(dkim_canon, relaxed_header_unfolds_and_lowercases)
{
    const char f[] = "SuBjeCt \t:\t hello \r\n\t  world\t \r\n";
    struct pb_buf out;

    pb_buf_init(&out, 4096);
    pb_dkim_canon_header(PB_DKIM_CANON_RELAXED, f, sizeof(f) - 1, buf_sink,
                         &out);
    cr_assert_str_eq(out.p, "subject:hello world\r\n");
    pb_buf_reset(&out);
    /* the signature being made has no final CRLF, nor does its form */
    pb_dkim_canon_header(PB_DKIM_CANON_RELAXED, "X:  a ", 6, buf_sink, &out);
    cr_assert_str_eq(out.p, "x:a");
    pb_buf_release(&out);
}

/*
 * The relaxed forms against a plain reading of RFC 6376 §3.4.2 and
 * §3.4.4, over random input: the canonicalizer skips over text that needs
 * no change many bytes at a time, and this keeps those shortcuts honest.
 * The reading: lines end at CRLF only (a lone CR or LF is an ordinary
 * byte); WSP is SP and HTAB.
 */
static unsigned long rnd_state = 12345;

static unsigned
rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005ul + 1442695040888963407ul;
    return (unsigned)((rnd_state >> 33) % n);
}

/* Random bytes (p, n): mostly WSP and line ends, or (text) mostly words
 * and single spaces in CRLF lines, the rest now and then */
static void
rnd_fill(char *p, size_t n, bool text)
{
    static const char odd[] = " \t\r\n:Aa";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned r = rnd(100);

        if (!text)
            p[i] = r < 40 ? odd[rnd(sizeof(odd) - 1)] : (char)('a' + rnd(3));
        else if (r < 80)
            p[i] = (char)('a' + rnd(26));
        else if (r < 92)
            p[i] = ' ';
        else if (r < 97 && i + 1 < n) {
            p[i++] = '\r';
            p[i] = '\n';
        } else
            p[i] = odd[rnd(sizeof(odd) - 1)];
    }
}

static bool
is_wsp_c(char c)
{
    return c == ' ' || c == '\t';
}

/* (p, n) with WSP runs as one SP, to dst; returns the length */
static size_t
ref_squeeze(const char *p, size_t n, char *dst)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        if (!is_wsp_c(p[i]))
            dst[k++] = p[i];
        else if (k == 0 || dst[k - 1] != ' ' || !is_wsp_c(p[i - 1]))
            dst[k++] = ' ';
    }
    return k;
}

static char *
ref_body_relaxed(const char *p, size_t n)
{
    char *out = malloc(2 * n + 3), *line = malloc(n + 1);
    size_t i = 0, len = 0, keep = 0; /* keep: out up to its last text line */

    while (i < n) {
        size_t e = i, k;

        while (e < n && !(p[e] == '\r' && e + 1 < n && p[e + 1] == '\n'))
            e++;
        k = ref_squeeze(p + i, e - i, line);
        while (k > 0 && line[k - 1] == ' ')
            k--;
        memcpy(out + len, line, k);
        len += k;
        memcpy(out + len, "\r\n", 2);
        len += 2;
        if (k > 0)
            keep = len;
        i = e < n ? e + 2 : n;
    }
    out[keep] = '\0';
    free(line);
    return out;
}

static char *
ref_header_relaxed(const char *f, size_t n)
{
    char *out = malloc(n + 3), *u = malloc(n + 1), *v = malloc(n + 1);
    bool crlf = n >= 2 && f[n - 2] == '\r' && f[n - 1] == '\n';
    const char *colon;
    size_t name, k, vl = 0, i, len = 0, a;

    if (crlf)
        n -= 2;
    colon = memchr(f, ':', n);
    name = colon != NULL ? (size_t)(colon - f) : n;
    for (k = name; k > 0 && is_wsp_c(f[k - 1]); k--)
        ;
    for (i = 0; i < k; i++)
        out[len++] = (char)(f[i] >= 'A' && f[i] <= 'Z' ? f[i] + 32 : f[i]);
    out[len++] = ':';
    /* unfold: every CRLF goes */
    for (i = name + 1; i < n; i++) {
        if (f[i] == '\r' && i + 1 < n && f[i + 1] == '\n')
            i++;
        else
            u[vl++] = f[i];
    }
    vl = ref_squeeze(u, vl, v);
    for (a = 0; a < vl && v[a] == ' '; a++)
        ;
    while (vl > a && v[vl - 1] == ' ')
        vl--;
    memcpy(out + len, v + a, vl - a);
    len += vl - a;
    if (crlf) {
        memcpy(out + len, "\r\n", 2);
        len += 2;
    }
    out[len] = '\0';
    free(u);
    free(v);
    return out;
}

Test(dkim_canon, relaxed_matches_a_plain_reading_of_the_rfc)
{
    char in[1200];
    int t;

    for (t = 0; t < 20000; t++) {
        size_t n = t % 10 == 0 ? rnd(sizeof(in)) : rnd(120);
        struct pb_buf got;
        char *want;

        rnd_fill(in, n, t % 2 == 0);
        pb_buf_init(&got, 65536);
        pb_dkim_canon_body(PB_DKIM_CANON_RELAXED, in, n, buf_sink, &got);
        want = ref_body_relaxed(in, n);
        cr_assert_eq(got.len, strlen(want), "body case %d", t);
        cr_assert_eq(memcmp(got.len ? got.p : "", want, got.len), 0,
                     "body case %d", t);
        free(want);
        pb_buf_reset(&got);
        pb_dkim_canon_header(PB_DKIM_CANON_RELAXED, in, n, buf_sink, &got);
        want = ref_header_relaxed(in, n);
        cr_assert_eq(got.len, strlen(want), "header case %d", t);
        cr_assert_eq(memcmp(got.p, want, got.len), 0, "header case %d", t);
        free(want);
        pb_buf_release(&got);
    }
}

/* ------------------------------------------------------------------ */
/* The splitter                                                        */

static void
split_ok(const char *s, size_t len, struct pb_dkim_canon_msg *m)
{
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(pb_dkim_canon_split(s, len, m, &err), 0, "%s", err.msg);
}

static void
split_refused(const char *s, size_t len, enum pb_code code, const char *why)
{
    struct pb_dkim_canon_msg m;
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(pb_dkim_canon_split(s, len, &m, &err), -1);
    cr_assert_eq(err.code, code, "code %d: %s", err.code, err.msg);
    cr_assert_not_null(strstr(err.msg, why), "'%s' lacks '%s'", err.msg, why);
    cr_assert_null(m.p);
}

Test(dkim_canon, split_reads_lf_cr_and_crlf_alike)
{
    const char *forms[] = {
        "From: a@x.example\nSubject: s\n folded\n\nbody\n\n",
        "From: a@x.example\rSubject: s\r folded\r\rbody\r\r",
        "From: a@x.example\r\nSubject: s\r\n folded\r\n\r\nbody\r\n\r\n",
        "From: a@x.example\nSubject: s\r folded\r\n\nbody\r\r\n",
    };
    const char want[] =
        "From: a@x.example\r\nSubject: s\r\n folded\r\n\r\nbody\r\n\r\n";
    size_t i;

    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct pb_dkim_canon_msg m;

        split_ok(forms[i], strlen(forms[i]), &m);
        cr_assert_str_eq(m.p, want, "form %zu", i);
        cr_assert_eq(m.nfields, 2);
        cr_assert_eq(m.fields[1].len, strlen("Subject: s\r\n folded\r\n"));
        cr_assert_eq(m.body_off, strlen(want) - strlen("body\r\n\r\n"));
        pb_dkim_canon_msg_release(&m);
    }
}

Test(dkim_canon, split_headers_only_and_no_final_newline)
{
    struct pb_dkim_canon_msg m;

    split_ok("From: a@x.example\nTo: b@y.example", 33, &m);
    cr_assert_str_eq(m.p, "From: a@x.example\r\nTo: b@y.example\r\n");
    cr_assert_eq(m.nfields, 2);
    cr_assert_eq(m.body_off, m.len);
    pb_dkim_canon_msg_release(&m);
}

Test(dkim_canon, split_refuses_hostile_input)
{
    char nul[] = "From: a@x.example\r\nSubject: a\0b\r\n\r\nbody\r\n";

    split_refused("", 0, PB_E_SYNTAX, "empty");
    split_refused(nul, sizeof(nul) - 1, PB_E_SYNTAX, "NUL byte on line 2");
#define REFUSED(s, code, why) split_refused(s, strlen(s), code, why)
    REFUSED("From: a@x.example\r\nnot a field\r\n", PB_E_SYNTAX,
            "line 2 is not a header field");
    REFUSED(" folded first\r\nFrom: a@x.example\r\n", PB_E_SYNTAX,
            "continuation");
    REFUSED("From a@x.example Mon Nov  2 10:00:00 2026\nFrom: a\n\n",
            PB_E_SYNTAX, "mbox");
    REFUSED("Fr\x01om: a\r\n", PB_E_SYNTAX, "not a header field");
    REFUSED(": no name\r\n", PB_E_SYNTAX, "not a header field");
#undef REFUSED
}

Test(dkim_canon, split_field_at_the_limit_and_one_over)
{
    struct pb_buf b;
    struct pb_dkim_canon_msg m;
    size_t fill = PB_LIMIT_MSG_FIELD - strlen("X-Big: ") - 2;

    pb_buf_init(&b, 2 * PB_LIMIT_MSG_FIELD);
    cr_assert_eq(pb_buf_adds(&b, "From: a@x.example\r\nX-Big: "), 0);
    while (fill-- > 0)
        cr_assert_eq(pb_buf_addc(&b, 'a'), 0);
    cr_assert_eq(pb_buf_adds(&b, "\r\n\r\nbody\r\n"), 0);
    split_ok(b.p, b.len, &m);
    cr_assert_eq(m.fields[1].len, PB_LIMIT_MSG_FIELD);
    pb_dkim_canon_msg_release(&m);
    /* one more byte, as a continuation line: the field counts whole */
    pb_buf_reset(&b);
    cr_assert_eq(pb_buf_adds(&b, "From: a@x.example\r\nX-Big: a\r\n "), 0);
    fill = PB_LIMIT_MSG_FIELD - strlen("X-Big: a\r\n ") - 2 + 1;
    while (fill-- > 0)
        cr_assert_eq(pb_buf_addc(&b, 'a'), 0);
    cr_assert_eq(pb_buf_adds(&b, "\r\n\r\n"), 0);
    split_refused(b.p, b.len, PB_E_LIMIT, "over 102400 bytes");
    pb_buf_release(&b);
}

Test(dkim_canon, split_field_count_at_the_limit_and_one_over)
{
    struct pb_buf b;
    struct pb_dkim_canon_msg m;
    int i;

    pb_buf_init(&b, 1 << 20);
    for (i = 0; i < PB_LIMIT_MSG_FIELDS; i++)
        cr_assert_eq(pb_buf_addf(&b, "X-%d: v\r\n", i), 0);
    split_ok(b.p, b.len, &m);
    cr_assert_eq(m.nfields, PB_LIMIT_MSG_FIELDS);
    pb_dkim_canon_msg_release(&m);
    cr_assert_eq(pb_buf_adds(&b, "X-last: v\r\n"), 0);
    split_refused(b.p, b.len, PB_E_LIMIT, "over 1000 header fields");
    pb_buf_release(&b);
}

Test(dkim_canon, split_message_over_the_size_limit)
{
    size_t len = (size_t)PB_LIMIT_MSG_BYTES + 1;
    char *p = malloc(len);

    cr_assert_not_null(p);
    memset(p, 'a', len);
    memcpy(p, "From: a@x.example\r\n\r\n", 21);
    split_refused(p, len, PB_E_LIMIT, "over the limit");
    free(p);
}

/* ------------------------------------------------------------------ */
/* Reproducing published signatures                                    */

/*
 * Sign the message that follows the first DKIM-Signature of a signed
 * file with the same tags, written exactly as there (so the hashed form
 * of the signature matches), and compare bh= and b=.
 */
static void
reproduce(const char *rel, const char *keyrel, int sig_index)
{
    struct dkim_sign_key *k = key_from(keyrel);
    struct pb_dkim_canon_msg m;
    struct pb_err err;
    struct pb_buf out;
    size_t len, flen;
    char *file = testdata_load(rel, &len), *field = file, *end, *rest, *bh_at,
         *h, *hend, *want_b, *want_bh, *got_b, *got_bh, *c;
    enum dkim_canon hc, bc;
    char canon[32];
    int i;

    /* the sig_index-th field: a line, then lines starting with WSP */
    for (i = 0;; i++) {
        end = field;
        do {
            end = strstr(end, "\r\n") + 2;
        } while (*end == ' ' || *end == '\t');
        if (i == sig_index)
            break;
        field = end;
    }
    flen = (size_t)(end - field);
    /* the message: the file without its DKIM-Signature fields */
    rest = end;
    while (strncmp(rest, "DKIM-Signature:", 15) == 0) {
        do {
            rest = strstr(rest, "\r\n") + 2;
        } while (*rest == ' ' || *rest == '\t');
    }
    {
        char *f = strndup(field, flen);

        want_b = tag_value(f, "b");
        want_bh = tag_value(f, "bh");
        c = tag_value(f, "c");
        snprintf(canon, sizeof(canon), "%s", c);
        free(c);
        free(f);
    }
    cr_assert_eq(dkim_sign_canon_parse(canon, &hc, &bc), 0, "%s", canon);
    bh_at = strstr(field, "bh=");
    h = strstr(field, " h=") + 3;
    hend = strchr(h, ';');
    cr_assert(bh_at != NULL && bh_at < end && hend < bh_at);

    split_ok(rest, len - (size_t)(rest - file), &m);
    pb_buf_init(&out, 65536);
    pb_err_clear(&err);
    cr_assert_eq(dkim_sign_field(k, &m, hc, bc, field, (size_t)(bh_at - field),
                                 h, (size_t)(hend - h), &out, &err),
                 0, "%s", err.msg);
    got_b = tag_value(out.p, "b");
    got_bh = tag_value(out.p, "bh");
    cr_assert_str_eq(got_bh, want_bh, "%s: bh=", rel);
    cr_assert_str_eq(got_b, want_b, "%s: b=", rel);
    free(got_b);
    free(got_bh);
    free(want_b);
    free(want_bh);
    pb_buf_release(&out);
    pb_dkim_canon_msg_release(&m);
    free(file);
    dkim_sign_key_free(k);
}

/* RFC 8463 A.3: Ed25519 is deterministic, so b= must come out the same */
Test(dkim_sign, rfc8463_ed25519_signature_reproduced)
{
    reproduce("dkim-sign/rfc8463/signed.eml",
              "dkim-sign/rfc8463/brisbane.ed25519.key", 0);
}

/* RSASSA-PKCS1-v1_5 is deterministic too */
Test(dkim_sign, rfc8463_rsa_signature_reproduced)
{
    reproduce("dkim-sign/rfc8463/signed.eml", "dkim-sign/rfc8463/test.rsa.pem",
              1);
}

/* dkimpy 1.1.4's signatures over the four canonicalizations, both
 * algorithms: an independent implementation agrees to the byte */
static const char *const dkimpy_vectors[] = {
    "rsa-relaxed-relaxed",     "rsa-relaxed-simple",
    "rsa-simple-relaxed",      "rsa-simple-simple",
    "ed25519-relaxed-relaxed", "ed25519-relaxed-simple",
    "ed25519-simple-relaxed",  "ed25519-simple-simple",
};

ParameterizedTestParameters(dkim_sign, dkimpy_signature_reproduced)
{
    return testdata_index_params(sizeof(dkimpy_vectors) /
                                 sizeof(dkimpy_vectors[0]));
}

ParameterizedTest(size_t *ix, dkim_sign, dkimpy_signature_reproduced)
{
    char rel[128];
    const char *name = dkimpy_vectors[*ix];

    snprintf(rel, sizeof(rel), "dkim-sign/dkimpy-generated/%s.eml", name);
    reproduce(rel,
              strncmp(name, "rsa", 3) == 0 ? "dkim-sign/rfc8463/test.rsa.pem"
                                           : "dkim-sign/dkimpy/ed25519test.key",
              0);
}

/* The public API over the RFC 8463 message: the published bh=, and one
 * signature per key in the order given */
Test(dkim_sign, rfc8463_message_both_algorithms)
{
    struct dkim_sign_key *ed =
        key_from("dkim-sign/rfc8463/brisbane.ed25519.key");
    struct dkim_sign_key *rsa = key_from("dkim-sign/rfc8463/test.rsa.pem");
    struct dkim_sign_params sp[2];
    struct pb_err err;
    size_t len, outlen;
    char *msg = testdata_load("dkim-sign/rfc8463/unsigned.eml", &len), *out,
         *second;
    char *bh;

    memset(sp, 0, sizeof(sp));
    sp[0].key = ed;
    sp[0].selector = "brisbane";
    sp[1].key = rsa;
    sp[1].selector = "test";
    sp[0].domain = sp[1].domain = "football.example.com";
    sp[0].identity = sp[1].identity = "@football.example.com";
    sp[0].header_canon = sp[1].header_canon = DKIM_CANON_RELAXED;
    sp[0].body_canon = sp[1].body_canon = DKIM_CANON_RELAXED;
    sp[0].timestamp = sp[1].timestamp = 1528637909;
    sp[0].headers = sp[1].headers =
        "from:to:subject:date:message-id:from:subject:date";
    pb_err_clear(&err);
    cr_assert_eq(dkim_sign_message(sp, 2, msg, len, &out, &outlen, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(strncmp(out, "DKIM-Signature: v=1; a=ed25519-sha256; ", 39),
                 0);
    second = strstr(out + 1, "\r\nDKIM-Signature: v=1; a=rsa-sha256; ");
    cr_assert_not_null(second);
    bh = tag_value(out, "bh");
    cr_assert_str_eq(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
    free(bh);
    bh = tag_value(second + 2, "bh");
    cr_assert_str_eq(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
    free(bh);
    cr_assert_not_null(strstr(out, " i=@football.example.com;"));
    cr_assert_not_null(strstr(out, " t=1528637909;"));
    /* the message follows the signatures unchanged (it is CRLF already) */
    cr_assert_eq(memcmp(out + outlen - len, msg, len), 0);
    free(out);
    free(msg);
    dkim_sign_key_free(ed);
    dkim_sign_key_free(rsa);
}

/* ------------------------------------------------------------------ */
/* What the signer writes                                              */

Test(dkim_sign, default_list_oversigns_present_fields)
{
    struct dkim_sign_key *k = key_from("dkim-sign/keys/ed25519.pem");
    struct pb_err err;
    const char m[] = "Received: from x\r\n"
                     "From: a@example.com\r\n"
                     "To: b@example.net\r\n"
                     "Cc: c@example.net\r\n"
                     "Subject: s\r\n"
                     "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
                     "Message-ID: <1@example.com>\r\n"
                     "MIME-Version: 1.0\r\n"
                     "Content-Type: text/plain\r\n"
                     "List-Unsubscribe: <https://example.com/u>\r\n"
                     "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                     "References: <0@example.com>\r\n"
                     "X-Mailer: probe\r\n"
                     "\r\nbody\r\n";
    char *out = sign_s(k, m, sizeof(m) - 1, DKIM_CANON_RELAXED,
                       DKIM_CANON_RELAXED, NULL, &err, NULL);
    char *h = tag_value(out, "h");

    cr_assert_str_eq(h, "from:from:to:to:cc:cc:subject:subject:date:date:"
                        "message-id:message-id:mime-version:mime-version:"
                        "content-type:content-type:list-unsubscribe:"
                        "list-unsubscribe-post:references");
    free(h);
    free(out);
    /* only From: nothing absent is listed (relays add Date, Message-ID) */
    out = sign_s(k, "From: a@example.com\n\nx\n",
                 strlen("From: a@example.com\n\nx\n"), DKIM_CANON_RELAXED,
                 DKIM_CANON_RELAXED, NULL, &err, NULL);
    h = tag_value(out, "h");
    cr_assert_str_eq(h, "from:from");
    free(h);
    free(out);
    dkim_sign_key_free(k);
}

Test(dkim_sign, custom_list_is_written_as_given)
{
    struct dkim_sign_key *k = key_from("dkim-sign/keys/ed25519.pem");
    struct pb_err err;
    char *out =
        sign_s(k, basic_msg, sizeof(basic_msg) - 1, DKIM_CANON_SIMPLE,
               DKIM_CANON_SIMPLE, "From:Subject:X-Absent:from", &err, NULL);
    char *h = tag_value(out, "h");

    cr_assert_not_null(out, "%s", err.msg);
    cr_assert_str_eq(h, "From:Subject:X-Absent:from");
    cr_assert_not_null(strstr(out, "c=simple/simple;"));
    free(h);
    free(out);
    dkim_sign_key_free(k);
}

/* Tags: v a c d s t h bh b, b= last; never l=; lines within 78 columns */
Test(dkim_sign, field_shape)
{
    struct dkim_sign_key *k = key_from("dkim-sign/keys/rsa-2048-pkcs1.pem");
    struct pb_err err;
    size_t n;
    char *out = sign_s(k, basic_msg, sizeof(basic_msg) - 1, DKIM_CANON_RELAXED,
                       DKIM_CANON_RELAXED, NULL, &err, &n);
    char *line = out, *eol, *body;

    cr_assert_not_null(out, "%s", err.msg);
    cr_assert_eq(strncmp(out,
                         "DKIM-Signature: v=1; a=rsa-sha256; "
                         "c=relaxed/relaxed; d=example.com; s=sel;\r\n "
                         "t=1700000000; h=from:from:to:to:",
                         110),
                 0, "%.120s", out);
    body = strstr(out, "\r\nFrom: ");
    cr_assert_not_null(body);
    cr_assert_null(strstr(out, " l="));
    cr_assert_null(strstr(out, ";l="));
    while (line < body) {
        eol = strstr(line, "\r\n");
        cr_assert_leq(eol - line, PB_LIMIT_MSG_FOLD, "%.*s", (int)(eol - line),
                      line);
        line = eol + 2;
    }
    /* b= is the last tag: nothing follows its value in the field */
    cr_assert_not_null(strstr(out, ";\r\n b="));
    cr_assert_eq(strcmp(body + 2, basic_msg), 0);
    free(out);
    dkim_sign_key_free(k);
}

Test(dkim_sign, same_input_same_output_for_both_algorithms)
{
    const char *keys[] = {"dkim-sign/keys/ed25519.pem",
                          "dkim-sign/dkimpy/2048_testkey_PKCS8.key"};
    size_t i;

    for (i = 0; i < 2; i++) {
        struct dkim_sign_key *k = key_from(keys[i]);
        struct pb_err err;
        char *a =
            sign_s(k, basic_msg, sizeof(basic_msg) - 1, DKIM_CANON_RELAXED,
                   DKIM_CANON_SIMPLE, NULL, &err, NULL);
        char *b =
            sign_s(k, basic_msg, sizeof(basic_msg) - 1, DKIM_CANON_RELAXED,
                   DKIM_CANON_SIMPLE, NULL, &err, NULL);

        cr_assert_str_eq(a, b);
        free(a);
        free(b);
        dkim_sign_key_free(k);
    }
}

/* LF, CR and CRLF input: one signed message, CRLF throughout */
Test(dkim_sign, line_endings_do_not_matter)
{
    struct dkim_sign_key *k = key_from("dkim-sign/keys/ed25519.pem");
    struct pb_err err;
    char lf[sizeof(basic_msg)], cr[sizeof(basic_msg)];
    char *want, *a, *b;
    size_t i, j = 0;

    for (i = 0; basic_msg[i] != '\0'; i++) {
        if (basic_msg[i] != '\r')
            lf[j++] = basic_msg[i];
    }
    lf[j] = '\0';
    for (i = 0; lf[i] != '\0'; i++)
        cr[i] = lf[i] == '\n' ? '\r' : lf[i];
    cr[i] = '\0';
    want = sign_s(k, basic_msg, strlen(basic_msg), DKIM_CANON_SIMPLE,
                  DKIM_CANON_SIMPLE, NULL, &err, NULL);
    a = sign_s(k, lf, strlen(lf), DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE, NULL,
               &err, NULL);
    b = sign_s(k, cr, strlen(cr), DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE, NULL,
               &err, NULL);
    cr_assert_str_eq(a, want);
    cr_assert_str_eq(b, want);
    free(want);
    free(a);
    free(b);
    dkim_sign_key_free(k);
}

/* One key, many messages: parsed once, contexts reused */
Test(dkim_sign, one_key_many_messages)
{
    struct dkim_sign_key *keys[2] = {
        key_from("dkim-sign/keys/ed25519.pem"),
        key_from("dkim-sign/keys/rsa-2048-pkcs1.pem")};
    struct pb_err err;
    int i, j;

    for (j = 0; j < 2; j++) {
        char *first = NULL;

        for (i = 0; i < 50; i++) {
            char *out = sign_s(keys[j], basic_msg, sizeof(basic_msg) - 1,
                               DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, NULL,
                               &err, NULL);

            cr_assert_not_null(out, "%s", err.msg);
            if (first == NULL)
                first = out;
            else {
                cr_assert_str_eq(out, first);
                free(out);
            }
        }
        free(first);
        dkim_sign_key_free(keys[j]);
    }
}

/* ------------------------------------------------------------------ */
/* Messages the signer refuses                                         */

static void
sign_refused(const char *m, size_t len, enum pb_code code, const char *why)
{
    struct dkim_sign_key *k = key_from("dkim-sign/keys/ed25519.pem");
    struct pb_err err;
    char *out = sign_s(k, m, len, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, NULL,
                       &err, NULL);

    cr_assert_null(out);
    cr_assert_eq(err.code, code, "code %d: %s", err.code, err.msg);
    cr_assert_not_null(strstr(err.msg, why), "'%s' lacks '%s'", err.msg, why);
    cr_assert(pb_is_printable(err.msg, strlen(err.msg)), "%s", err.msg);
    dkim_sign_key_free(k);
}

Test(dkim_sign, refuses_message_without_from)
{
    size_t len;
    char *m = testdata_load("dkim-sign/dkimpy/test_nofrom.message", &len);

    sign_refused(m, len, PB_E_SYNTAX, "no From header field");
    free(m);
    sign_refused("To: a@example.com\r\n\r\nx\r\n",
                 strlen("To: a@example.com\r\n\r\nx\r\n"), PB_E_SYNTAX,
                 "no From header field");
}

Test(dkim_sign, refuses_two_from_fields)
{
    const char m[] = "From: a@example.com\r\nSubject: x\r\nfrom: "
                     "b@example.com\r\n\r\nx\r\n";

    sign_refused(m, sizeof(m) - 1, PB_E_SYNTAX,
                 "2 From header fields (a second on line 3)");
}

Test(dkim_sign, refuses_space_before_colon)
{
    const char m[] = "From : a@example.com\r\n\r\nx\r\n";

    sign_refused(m, sizeof(m) - 1, PB_E_SYNTAX, "space before the colon");
}

Test(dkim_sign, refuses_megabyte_header_line)
{
    size_t n = 1 << 20;
    char *m = malloc(n + 64);
    int k = snprintf(m, 64, "From: a@example.com\r\nX-Big: ");

    memset(m + k, 'a', n);
    memcpy(m + k + n, "\r\n\r\nx\r\n", 7);
    sign_refused(m, (size_t)k + n + 7, PB_E_LIMIT, "over 102400 bytes");
    free(m);
}

Test(dkim_sign, refuses_nul_missing_separator_and_empty_input)
{
    const char nul[] = "From: a@example.com\r\n\r\nbo\0dy\r\n";

    sign_refused(nul, sizeof(nul) - 1, PB_E_SYNTAX, "NUL byte on line 3");
    sign_refused("From: a@example.com\r\nbody text\r\n",
                 strlen("From: a@example.com\r\nbody text\r\n"), PB_E_SYNTAX,
                 "no empty line separates");
    sign_refused("", 0, PB_E_SYNTAX, "empty");
}

Test(dkim_sign, bare_cr_is_a_line_ending)
{
    struct dkim_sign_key *k = key_from("dkim-sign/keys/ed25519.pem");
    struct pb_err err;
    const char m[] = "From: a@example.com\rSubject: x\r\rbody\rmore\r";
    char *out = sign_s(k, m, sizeof(m) - 1, DKIM_CANON_RELAXED,
                       DKIM_CANON_RELAXED, NULL, &err, NULL);

    cr_assert_not_null(out, "%s", err.msg);
    cr_assert_not_null(
        strstr(out, "\r\nFrom: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"
                    "more\r\n"));
    free(out);
    dkim_sign_key_free(k);
}

Test(dkim_sign, refuses_signature_counts_and_missing_key)
{
    struct dkim_sign_params sp[PB_LIMIT_DKIM_SIGNATURES + 1];
    struct pb_err err;
    char *out;
    size_t n;

    memset(sp, 0, sizeof(sp));
    sp[0].domain = "example.com";
    sp[0].selector = "s";
    cr_assert_eq(dkim_sign_message(sp, 0, basic_msg, 10, &out, &n, &err), -1);
    cr_assert_eq(dkim_sign_message(sp, PB_LIMIT_DKIM_SIGNATURES + 1, basic_msg,
                                   10, &out, &n, &err),
                 -1);
    cr_assert_eq(dkim_sign_message(sp, 1, basic_msg, 10, &out, &n, &err), -1);
    cr_assert_not_null(strstr(err.msg, "no key"));
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */

struct param_case {
    const char *domain, *selector, *identity, *headers, *why;
};

static const struct param_case bad_params[] = {
    {"example.com.", "s", NULL, NULL, "final dot"},
    {"localhost", "s", NULL, NULL, "one label"},
    {"a..example", "s", NULL, NULL, "empty label"},
    {"-a.example", "s", NULL, NULL, "starting with '-'"},
    {"a-.example", "s", NULL, NULL, "ending in '-'"},
    {"a_b.example", "s", NULL, NULL, "has '_'"},
    {"a.example;x=y", "s", NULL, NULL, "has ';'"},
    {"b\xc3\xbc.example", "s", NULL, NULL, "xn--"},
    {"", "s", NULL, NULL, "is empty"},
    {"example.com", "", NULL, NULL, "selector is empty"},
    {"example.com", "my_sel", NULL, NULL, "selector 'my_sel' has '_'"},
    {"example.com", "s\x01", NULL, NULL, "control character"},
    {"example.com",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
     NULL, "label over 63"},
    {"example.com", "s", "joe@example.org", NULL, "at the signing domain"},
    {"example.com", "s", "joe@badexample.com", NULL, "at the signing domain"},
    {"example.com", "s", "joe example.com", NULL, "a space"},
    {"example.com", "s", "nobody", NULL, "[local-part]@domain"},
    {"example.com", "s", NULL, "to:subject", "must name From"},
    {"example.com", "s", NULL, "from: to", "only field names and colons"},
    {"example.com", "s", NULL, "from::to", "empty name"},
    {"example.com", "s", NULL, "from\r\nx-injected: 1", "field names and "},
};

ParameterizedTestParameters(dkim_sign, refuses_bad_params)
{
    return testdata_index_params(sizeof(bad_params) / sizeof(bad_params[0]));
}

ParameterizedTest(size_t *ix, dkim_sign, refuses_bad_params)
{
    const struct param_case *c = &bad_params[*ix];
    struct dkim_sign_params sp;
    struct pb_err err;

    memset(&sp, 0, sizeof(sp));
    sp.domain = c->domain;
    sp.selector = c->selector;
    sp.identity = c->identity;
    sp.headers = c->headers;
    pb_err_clear(&err);
    cr_assert_eq(dkim_sign_params_check(&sp, &err), -1, "case %zu", *ix);
    cr_assert_not_null(strstr(err.msg, c->why), "case %zu: '%s' lacks '%s'",
                       *ix, err.msg, c->why);
}

Test(dkim_sign, accepts_good_params)
{
    struct dkim_sign_params sp;
    struct pb_err err;
    char many[PB_LIMIT_DKIM_SIGN_HEADERS * 5 + 8] = "from";
    int i;

    memset(&sp, 0, sizeof(sp));
    sp.domain = "Mail-1.Example.COM";
    sp.selector = "s2024.eu-west";
    sp.identity = "@news.mail-1.example.com";
    sp.headers = "From:TO:x-a";
    cr_assert_eq(dkim_sign_params_check(&sp, &err), 0, "%s", err.msg);
    sp.identity = "joe@mail-1.example.com";
    cr_assert_eq(dkim_sign_params_check(&sp, &err), 0, "%s", err.msg);
    /* exactly PB_LIMIT_DKIM_SIGN_HEADERS names, then one more */
    for (i = 1; i < PB_LIMIT_DKIM_SIGN_HEADERS; i++)
        strcat(many, ":to");
    sp.headers = many;
    cr_assert_eq(dkim_sign_params_check(&sp, &err), 0, "%s", err.msg);
    strcat(many, ":to");
    cr_assert_eq(dkim_sign_params_check(&sp, &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
}

Test(dkim_sign, canon_names)
{
    enum dkim_canon h, b;

    cr_assert_eq(dkim_sign_canon_parse("simple/relaxed", &h, &b), 0);
    cr_assert_eq(h, DKIM_CANON_SIMPLE);
    cr_assert_eq(b, DKIM_CANON_RELAXED);
    cr_assert_eq(dkim_sign_canon_parse("relaxed", &h, &b), -1);
    cr_assert_eq(dkim_sign_canon_parse("Relaxed/Relaxed", &h, &b), -1);
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */

Test(dkim_sign_key, pem_forms_and_seeds)
{
    struct {
        const char *rel;
        enum dkim_sign_alg alg;
        int bits;
    } ok[] = {
        {"dkim-sign/keys/rsa-2048-pkcs1.pem", DKIM_SIGN_RSA_SHA256, 2048},
        {"dkim-sign/dkimpy/2048_testkey_PKCS8.key", DKIM_SIGN_RSA_SHA256, 2048},
        {"dkim-sign/dkimpy/2048_testkey.key", DKIM_SIGN_RSA_SHA256, 2048},
        {"dkim-sign/rfc8463/test.rsa.pem", DKIM_SIGN_RSA_SHA256, 1024},
        {"dkim-sign/keys/ed25519.pem", DKIM_SIGN_ED25519_SHA256, 256},
        {"dkim-sign/rfc8463/brisbane.ed25519.key", DKIM_SIGN_ED25519_SHA256,
         256},
        {"dkim-sign/dkimpy/ed25519test.key", DKIM_SIGN_ED25519_SHA256, 256},
    };
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct dkim_sign_key *k = key_from(ok[i].rel);

        cr_assert_eq(dkim_sign_key_alg(k), ok[i].alg, "%s", ok[i].rel);
        cr_assert_eq(dkim_sign_key_bits(k), ok[i].bits, "%s", ok[i].rel);
        dkim_sign_key_free(k);
    }
    dkim_sign_key_free(NULL);
    cr_assert_str_eq(dkim_sign_alg_name(DKIM_SIGN_ED25519_SHA256),
                     "ed25519-sha256");
    cr_assert_str_eq(dkim_sign_alg_name(DKIM_SIGN_RSA_SHA256), "rsa-sha256");
}

Test(dkim_sign_key, refuses_unusable_keys)
{
    key_refused("dkim-sign/keys/rsa-2048-encrypted.pem", "is encrypted");
    key_refused("dkim-sign/keys/rsa-2048-public.pem", "holds a public key");
    key_refused("dkim-sign/keys/ec-p256.pem", "is an EC key");
    key_refused("dkim-sign/keys/rsa-512.pem", "512-bit RSA key");
    key_refused("dkim-sign/keys/rsa-4160.pem", "4160-bit RSA key");
    key_refused("dkim-sign/keys/ed25519.txt", "neither a PEM private key");
    key_refused("dkim-sign/rfc8463/dns.txt", "neither a PEM private key");
}

Test(dkim_sign_key, refuses_broken_pem_and_oversized_input)
{
    struct dkim_sign_key *k;
    struct pb_err err;
    const char broken[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                          "-----END PRIVATE KEY-----\n";
    char *big = calloc(1, PB_LIMIT_KEY_FILE + 1);

    cr_assert_eq(
        dkim_sign_key_parse(broken, sizeof(broken) - 1, "b.pem", &k, &err), -1);
    cr_assert_not_null(strstr(err.msg, "no private key that OpenSSL can read"));
    cr_assert_eq(
        dkim_sign_key_parse(big, PB_LIMIT_KEY_FILE + 1, "big", &k, &err), -1);
    cr_assert_eq(err.code, PB_E_LIMIT);
    /* a seed that is not 32 bytes */
    cr_assert_eq(dkim_sign_key_parse("AAAA", 4, "short", &k, &err), -1);
    free(big);
}

/* A copy of a test key at a temporary path with the given mode. */
static char *
key_file(const char *rel, mode_t mode)
{
    char tmpl[] = "/tmp/pb-key-XXXXXX";
    size_t len;
    char *p = testdata_load(rel, &len);
    int fd = mkstemp(tmpl);

    cr_assert_neq(fd, -1);
    cr_assert_eq(write(fd, p, len), (ssize_t)len);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
    free(p);
    return strdup(tmpl);
}

Test(dkim_sign_key, load_checks_the_file)
{
    struct {
        mode_t mode;
        const char *why; /* NULL: loads */
    } cases[] = {
        {0600, NULL},
        {0400, NULL},
        {0640, "readable by its group (mode 0640)"},
        {0604, "readable by everyone (mode 0604)"},
        {0620, "writable by its group (mode 0620)"},
        {0644, "chmod 600"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = key_file("dkim-sign/keys/ed25519.pem", cases[i].mode);
        struct dkim_sign_key *k;
        struct pb_err err;
        int rc;

        pb_err_clear(&err);
        rc = dkim_sign_key_load(path, &k, &err);
        if (cases[i].why == NULL) {
            cr_assert_eq(rc, 0, "mode %o: %s", cases[i].mode, err.msg);
            dkim_sign_key_free(k);
        } else {
            cr_assert_eq(rc, -1, "mode %o", cases[i].mode);
            cr_assert_eq(err.code, PB_E_IO);
            cr_assert_not_null(strstr(err.msg, cases[i].why), "'%s' lacks '%s'",
                               err.msg, cases[i].why);
        }
        unlink(path);
        free(path);
    }
}

Test(dkim_sign_key, load_refuses_missing_and_directory)
{
    struct dkim_sign_key *k;
    struct pb_err err;

    cr_assert_eq(dkim_sign_key_load("/nonexistent/key.pem", &k, &err), -1);
    cr_assert_eq(err.code, PB_E_IO);
    cr_assert_not_null(strstr(err.msg, "No such file"));
    cr_assert_eq(dkim_sign_key_load("/tmp", &k, &err), -1);
    cr_assert_not_null(strstr(err.msg, "not a regular file"));
}
