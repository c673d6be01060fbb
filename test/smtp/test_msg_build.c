/* SPDX-License-Identifier: MIT */
/*
 * The probe message builder: the header fields and their folding, RFC 2047
 * subjects and names, MIME and quoted-printable bodies (decoded back),
 * List-Unsubscribe and RFC 8058, the token, refused values, limits, and a
 * built message signed by dkim_sign that dkimpy verifies.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pb_buf.h"
#include "pb_limits.h"
#include "smtp.h"
#include "smtp_int.h"
#include "testdata.h"

static const char *const one_to[] = {"seed1@example.net"};

static void
base_params(struct msg_build_params *p)
{
    memset(p, 0, sizeof(*p));
    p->from = "news@shop.example";
    p->to = one_to;
    p->nto = 1;
    p->token = "0123456789abcdef0123456789abcdef";
    p->date = 1795000000; /* Wed, 18 Nov 2026 11:06:40 UTC */
}

static char *
build(const struct msg_build_params *p, size_t *len)
{
    struct pb_err err;
    char *out = NULL;
    size_t n;

    pb_err_clear(&err);
    cr_assert_eq(msg_build(p, &out, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(strlen(out), n);
    if (len != NULL)
        *len = n;
    return out;
}

static void
build_refused(const struct msg_build_params *p, enum pb_code code,
              const char *why)
{
    struct pb_err err;
    char *out = (char *)1;
    size_t n;

    pb_err_clear(&err);
    cr_assert_eq(msg_build(p, &out, &n, &err), -1, "expected: %s", why);
    cr_assert_null(out);
    cr_assert_eq(err.code, code, "code %d: %s", err.code, err.msg);
    cr_assert_not_null(strstr(err.msg, why), "'%s' lacks '%s'", err.msg, why);
    cr_assert(pb_is_printable(err.msg, strlen(err.msg)), "%s", err.msg);
}

/* Every line ends in CRLF, header lines within 78 columns unless a
 * single word is longer (then within 998), body lines within 76. */
static void
assert_lines(const char *m, size_t n)
{
    size_t i, col = 0;
    bool header = true;

    for (i = 0; i < n; i++) {
        if (m[i] == '\r') {
            cr_assert(i + 1 < n && m[i + 1] == '\n', "bare CR at %zu", i);
            if (col == 0)
                header = false;
            if (header && col > PB_LIMIT_MSG_FOLD) {
                const char *line = m + i - col;

                /* no space to fold at after the field name */
                cr_assert_null(memchr(line + 10, ' ', col - 10),
                               "header line at %zu", i - col);
                cr_assert_leq(col, PB_LIMIT_MSG_LINE);
            } else if (!header)
                cr_assert_leq(col, 76, "body line at %zu", i - col);
            col = 0;
            i++;
            continue;
        }
        cr_assert_neq(m[i], '\n', "bare LF at %zu", i);
        cr_assert_neq(m[i], '\0');
        col++;
    }
    cr_assert_eq(col, 0, "no CRLF at the end");
}

/* The unfolded value of the first field named name (with its leading
 * space), or NULL. */
static char *
field(const char *m, const char *name)
{
    struct pb_dkim_canon_msg msg;
    struct pb_err err;
    struct pb_buf b;
    size_t i, j, n;

    cr_assert_eq(pb_dkim_canon_split(m, strlen(m), &msg, &err), 0, "%s",
                 err.msg);
    for (i = 0; i < msg.nfields; i++) {
        const struct pb_dkim_canon_field *f = &msg.fields[i];

        if (!pb_dkim_canon_field_is(&msg, f, name, strlen(name)))
            continue;
        pb_buf_init(&b, 65536);
        for (j = f->off + f->name_len + 1; j < f->off + f->len - 2; j++) {
            if (msg.p[j] == '\r' && msg.p[j + 1] == '\n') {
                j++;
                continue;
            }
            cr_assert_eq(pb_buf_addc(&b, msg.p[j]), 0);
        }
        pb_dkim_canon_msg_release(&msg);
        return b.p ? pb_buf_take(&b, &n) : strdup("");
    }
    pb_dkim_canon_msg_release(&msg);
    return NULL;
}

/* RFC 2045 §6.7 decoding, for checking the bodies. */
static char *
qp_decode(const char *s, size_t n)
{
    struct pb_buf b;
    size_t i, len;

    pb_buf_init(&b, 1 << 26);
    for (i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
            continue;
        }
        if (s[i] == '=') {
            char hex[3] = {s[i + 1], s[i + 2], 0};

            cr_assert_eq(pb_buf_addc(&b, (char)strtol(hex, NULL, 16)), 0);
            i += 2;
            continue;
        }
        cr_assert_eq(pb_buf_addc(&b, s[i]), 0);
    }
    return b.p ? pb_buf_take(&b, &len) : strdup("");
}

/* Decode a value made of RFC 2047 "B" encoded-words (and FWS). */
static char *
rfc2047_decode(const char *v)
{
    struct pb_buf b;
    size_t n;

    pb_buf_init(&b, 65536);
    while (*v != '\0') {
        const char *start, *end;
        unsigned char raw[128];
        int k, pad = 0;

        if (*v == ' ' || *v == '\t') {
            v++;
            continue;
        }
        cr_assert_eq(strncmp(v, "=?UTF-8?B?", 10), 0, "%s", v);
        start = v + 10;
        end = strstr(start, "?=");
        cr_assert_not_null(end);
        cr_assert_leq(end + 2 - v, 75, "encoded-word over 75 characters");
        k = EVP_DecodeBlock(raw, (const unsigned char *)start,
                            (int)(end - start));
        cr_assert_geq(k, 0);
        if (end - start >= 1 && end[-1] == '=')
            pad++;
        if (end - start >= 2 && end[-2] == '=')
            pad++;
        /* each word holds whole UTF-8 characters (RFC 2047 §5 (3)) */
        cr_assert(raw[0] < 0x80 || raw[0] >= 0xc0, "word starts mid-char");
        cr_assert_eq(pb_buf_add(&b, raw, (size_t)(k - pad)), 0);
        v = end + 2;
    }
    return b.p ? pb_buf_take(&b, &n) : strdup("");
}

/* The decoded content of the MIME part whose Content-Type has type. */
static char *
part(const char *m, const char *type)
{
    char want[64];
    const char *p, *body, *end;

    snprintf(want, sizeof(want), "Content-Type: %s", type);
    p = strstr(m, want);
    cr_assert_not_null(p, "no %s part", type);
    cr_assert_not_null(strstr(p, "Content-Transfer-Encoding: "
                                 "quoted-printable\r\n"));
    body = strstr(p, "\r\n\r\n") + 4;
    end = strstr(body, "\r\n--=_probe_");
    if (end == NULL)
        end = body + strlen(body);
    return qp_decode(body, (size_t)(end - body));
}

/* ------------------------------------------------------------------ */

Test(msg_build, default_message)
{
    struct msg_build_params p;
    size_t n;
    char *m, *v, *text, *html;
    const char *want;

    base_params(&p);
    m = build(&p, &n);
    assert_lines(m, n);
    want = "From: news@shop.example\r\n"
           "To: seed1@example.net\r\n"
           "Subject: Your update from shop.example\r\n"
           "Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n"
           "Message-ID: <0123456789abcdef0123456789abcdef@"
           "shop.example>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/alternative;\r\n"
           " boundary=\"=_probe_0123456789abcdef0123456789"
           "abcdef\"\r\n";
    cr_assert_eq(strncmp(m, want, strlen(want)), 0, "%.400s", m);
    v = field(m, "X-Probe-Id");
    cr_assert_str_eq(v, " 0123456789abcdef0123456789abcdef");
    free(v);
    cr_assert_null(field(m, "List-Unsubscribe"));
    text = part(m, "text/plain; charset=utf-8");
    html = part(m, "text/html; charset=utf-8");
    cr_assert_not_null(strstr(text, "Read the full update: "
                                    "https://shop.example/\r\n"));
    cr_assert_not_null(strstr(text, "Unsubscribe: "
                                    "https://shop.example/unsubscribe\r\n"));
    cr_assert_not_null(
        strstr(text, "Reference: 0123456789abcdef0123456789abcdef\r\n"));
    cr_assert_not_null(strstr(html, "<a href=\"https://shop.example/\""));
    cr_assert_not_null(strstr(html, ">Unsubscribe</a>"));
    cr_assert_not_null(
        strstr(html, "Reference: 0123456789abcdef0123456789abcdef</p>"));
    cr_assert_not_null(strstr(m, "\r\n--=_probe_0123456789abcdef0123456789"
                                 "abcdef--\r\n"));
    free(text);
    free(html);
    free(m);
}

Test(msg_build, token_is_new_each_time)
{
    struct msg_build_params p;
    struct pb_err err;
    char a[MSG_BUILD_TOKEN_LEN + 1], b[MSG_BUILD_TOKEN_LEN + 1];
    char *m, *v, *id;
    size_t i;

    cr_assert_eq(msg_build_token(a, &err), 0);
    cr_assert_eq(msg_build_token(b, &err), 0);
    cr_assert_eq(strlen(a), MSG_BUILD_TOKEN_LEN);
    cr_assert_str_neq(a, b);
    for (i = 0; i < MSG_BUILD_TOKEN_LEN; i++)
        cr_assert(strchr("0123456789abcdef", a[i]) != NULL);
    base_params(&p);
    p.token = NULL;
    m = build(&p, NULL);
    v = field(m, "X-Probe-Id");
    id = field(m, "Message-ID");
    cr_assert_eq(strlen(v), MSG_BUILD_TOKEN_LEN + 1);
    cr_assert_eq(strncmp(id + 2, v + 1, MSG_BUILD_TOKEN_LEN), 0, "%s", id);
    free(v);
    free(id);
    free(m);
}

Test(msg_build, non_ascii_subject_is_encoded_words)
{
    struct msg_build_params p;
    const char *subject =
        "Gr\xc3\xbc\xc3\x9f"
        "e aus K\xc3\xb6ln \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac \xe2\x9c\x93 "
        "und noch viel mehr Text, damit es mehrere W\xc3\xb6rter braucht: "
        "\xf0\x9f\x93\xa8\xf0\x9f\x93\xa8\xf0\x9f\x93\xa8\xf0\x9f\x93\xa8";
    size_t n;
    char *m, *v, *d;

    base_params(&p);
    p.subject = subject;
    m = build(&p, &n);
    assert_lines(m, n);
    v = field(m, "Subject");
    cr_assert_not_null(strstr(v, "?= =?UTF-8?B?"), "one word only: %s", v);
    d = rfc2047_decode(v);
    cr_assert_str_eq(d, subject);
    free(d);
    free(v);
    free(m);
}

Test(msg_build, long_ascii_subject_folds_and_unfolds_back)
{
    struct msg_build_params p;
    char subject[600];
    size_t n, i;
    char *m, *v;

    for (i = 0; i + 6 < sizeof(subject); i += 6)
        memcpy(subject + i, "word  ", 6);
    subject[i] = '\0';
    base_params(&p);
    p.subject = subject;
    m = build(&p, &n);
    assert_lines(m, n);
    v = field(m, "Subject");
    cr_assert_eq(v[0], ' ');
    cr_assert_str_eq(v + 1, subject);
    free(v);
    free(m);
}

Test(msg_build, odd_ascii_subjects_are_encoded)
{
    struct msg_build_params p;
    char word[991];
    size_t n;
    char *m, *v, *d;

    base_params(&p);
    p.subject = "looks like =?an?encoded?= word";
    m = build(&p, NULL);
    v = field(m, "Subject");
    d = rfc2047_decode(v);
    cr_assert_str_eq(d, p.subject);
    free(d);
    free(v);
    free(m);
    /* one word too long for a line: encoded-words fold it */
    memset(word, 'x', sizeof(word) - 1);
    word[sizeof(word) - 1] = '\0';
    p.subject = word;
    m = build(&p, &n);
    assert_lines(m, n);
    v = field(m, "Subject");
    d = rfc2047_decode(v);
    cr_assert_str_eq(d, word);
    free(d);
    free(v);
    free(m);
    /* a long word that fits in 998 stays as it is */
    word[900] = '\0';
    m = build(&p, &n);
    assert_lines(m, n);
    v = field(m, "Subject");
    cr_assert_str_eq(v + 1, word);
    free(v);
    free(m);
}

Test(msg_build, display_names)
{
    struct {
        const char *name, *want;
    } cases[] = {
        {"Shop News", " Shop News <news@shop.example>"},
        {"Shop, Inc. \"News\"",
         " \"Shop, Inc. \\\"News\\\"\" <news@shop.example>"},
        {"back\\slash", " \"back\\\\slash\" <news@shop.example>"},
    };
    struct msg_build_params p;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *m, *v;

        base_params(&p);
        p.from_name = cases[i].name;
        m = build(&p, NULL);
        v = field(m, "From");
        cr_assert_str_eq(v, cases[i].want);
        free(v);
        free(m);
    }
    base_params(&p);
    p.from_name = "Caf\xc3\xa9 M\xc3\xbcller";
    {
        char *m = build(&p, NULL), *v = field(m, "From"), *lt = strrchr(v, '<');
        char *d;

        cr_assert_str_eq(lt, "<news@shop.example>");
        *lt = '\0';
        d = rfc2047_decode(v);
        cr_assert_str_eq(d, p.from_name);
        free(d);
        free(v);
        free(m);
    }
}

Test(msg_build, list_unsubscribe_and_one_click)
{
    static const char *const tos[] = {"a@example.net", "b@example.org",
                                      "c@example.com"};
    struct msg_build_params p;
    size_t n;
    char *m, *v, *text;

    base_params(&p);
    p.to = tos;
    p.nto = 3;
    p.unsubscribe_url = "https://shop.example/u?t=1&list=news";
    p.unsubscribe_mailto = "unsubscribe@shop.example";
    p.one_click = true;
    m = build(&p, &n);
    assert_lines(m, n);
    v = field(m, "List-Unsubscribe");
    cr_assert_str_eq(v, " <https://shop.example/u?t=1&list=news>, "
                        "<mailto:unsubscribe@shop.example>");
    free(v);
    v = field(m, "List-Unsubscribe-Post");
    cr_assert_str_eq(v, " List-Unsubscribe=One-Click");
    free(v);
    v = field(m, "To");
    cr_assert_str_eq(v, " a@example.net, b@example.org, c@example.com");
    free(v);
    text = part(m, "text/html");
    cr_assert_not_null(
        strstr(text, "href=\"https://shop.example/u?t=1&amp;list=news\""));
    free(text);
    free(m);
    /* a mailto only: the footer links there */
    base_params(&p);
    p.unsubscribe_mailto = "unsubscribe@shop.example";
    m = build(&p, NULL);
    text = part(m, "text/plain");
    cr_assert_not_null(
        strstr(text, "Unsubscribe: mailto:unsubscribe@shop.example"));
    cr_assert_null(field(m, "List-Unsubscribe-Post"));
    free(text);
    free(m);
}

Test(msg_build, given_bodies_carry_the_token)
{
    struct msg_build_params p;
    const char text[] = "line one\nline two with trailing space \n"
                        "From the start\n.dot\n=equals\n"
                        "caf\xc3\xa9 \xe2\x9c\x93";
    const char html[] = "<html><body><p>Hi</p></BODY></html>";
    size_t n;
    char *m, *t, *h;

    base_params(&p);
    p.text = text;
    p.text_len = sizeof(text) - 1;
    m = build(&p, &n);
    assert_lines(m, n);
    cr_assert_not_null(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Transfer-Encoding: "
                                 "quoted-printable\r\n"));
    cr_assert_null(strstr(m, "multipart"));
    cr_assert_not_null(strstr(m, "\r\n=46rom the start\r\n=2Edot\r\n"
                                 "=3Dequals\r\n"));
    cr_assert_not_null(strstr(m, "trailing space=20\r\n"));
    t = qp_decode(strstr(m, "\r\n\r\n") + 4, strlen(strstr(m, "\r\n\r\n") + 4));
    cr_assert_str_eq(t, "line one\r\nline two with trailing space \r\n"
                        "From the start\r\n.dot\r\n=equals\r\n"
                        "caf\xc3\xa9 \xe2\x9c\x93\r\n\r\n"
                        "Reference: 0123456789abcdef0123456789abcdef\r\n");
    free(t);
    free(m);

    base_params(&p);
    p.html = html;
    p.html_len = sizeof(html) - 1;
    p.text = "plain";
    p.text_len = 5;
    m = build(&p, NULL);
    h = part(m, "text/html");
    cr_assert_str_eq(h, "<html><body><p>Hi</p>\r\n<p style=\"font-size:11px;"
                        "color:#999999;\">Reference: 0123456789abcdef0123456789"
                        "abcdef</p>\r\n</BODY></html>\r\n");
    t = part(m, "text/plain");
    cr_assert_str_eq(t, "plain\r\n\r\nReference: 0123456789abcdef0123456789"
                        "abcdef\r\n");
    free(h);
    free(t);
    free(m);
}

Test(msg_build, long_body_lines_are_soft_broken)
{
    struct msg_build_params p;
    char *text = malloc(5001), *m, *t;
    size_t n, i;

    for (i = 0; i < 5000; i++)
        text[i] = (char)('a' + i % 26);
    text[5000] = '\0';
    text[2000] = '=';
    text[3000] = ' ';
    base_params(&p);
    p.text = text;
    p.text_len = 5000;
    m = build(&p, &n);
    assert_lines(m, n);
    t = qp_decode(strstr(m, "\r\n\r\n") + 4, strlen(strstr(m, "\r\n\r\n") + 4));
    cr_assert_eq(strncmp(t, text, 5000), 0);
    free(t);
    free(m);
    free(text);
}

Test(msg_build, refuses_bad_values)
{
    static const char *const bad_to[] = {"a@example.net", "b\n@example.net"};
    static const char *const many_to[PB_LIMIT_MSG_TO + 1] = {NULL};
    struct msg_build_params p;
    char long_name[PB_LIMIT_MSG_TEXT + 2];

    base_params(&p);
    p.subject = "hi\r\nBcc: victim@example.org";
    build_refused(&p, PB_E_SYNTAX, "subject has a line break");
    base_params(&p);
    p.subject = "bell\a";
    build_refused(&p, PB_E_SYNTAX, "control character");
    base_params(&p);
    p.subject = "bad \xc3\x28 utf-8";
    build_refused(&p, PB_E_SYNTAX, "not UTF-8");
    base_params(&p);
    p.from_name = "Name\n";
    build_refused(&p, PB_E_SYNTAX, "From display name has a line break");
    base_params(&p);
    p.from = "news@shop.example\r";
    build_refused(&p, PB_E_SYNTAX, "From address has a line break");
    base_params(&p);
    p.to = bad_to;
    p.nto = 2;
    build_refused(&p, PB_E_SYNTAX, "To address has a line break");
    base_params(&p);
    p.from = "no-at-sign";
    build_refused(&p, PB_E_SYNTAX, "not an address");
    base_params(&p);
    p.from = "a..b@shop.example";
    build_refused(&p, PB_E_SYNTAX, "local part");
    base_params(&p);
    p.from = "\"quoted\"@shop.example";
    build_refused(&p, PB_E_SYNTAX, "dot-atom");
    base_params(&p);
    p.from = "news@shop_example";
    build_refused(&p, PB_E_SYNTAX, "no valid domain");
    base_params(&p);
    p.from = "j\xc3\xb6rg@shop.example";
    build_refused(&p, PB_E_SYNTAX, "SMTPUTF8");
    base_params(&p);
    p.to = many_to;
    p.nto = PB_LIMIT_MSG_TO + 1;
    build_refused(&p, PB_E_LIMIT, "over the limit of 100");
    base_params(&p);
    p.nto = 0;
    build_refused(&p, PB_E_SYNTAX, "no To");
    base_params(&p);
    p.unsubscribe_url = "https://shop.example/u\r\nX: y";
    build_refused(&p, PB_E_SYNTAX, "line break");
    base_params(&p);
    p.unsubscribe_url = "https://shop.example/a b";
    build_refused(&p, PB_E_SYNTAX, "percent-encode");
    base_params(&p);
    p.unsubscribe_url = "http://shop.example/u";
    p.one_click = true;
    build_refused(&p, PB_E_SYNTAX, "must start with https://");
    base_params(&p);
    p.one_click = true;
    build_refused(&p, PB_E_SYNTAX, "needs an https unsubscribe URL");
    base_params(&p);
    p.link_url = "javascript:alert(1)";
    build_refused(&p, PB_E_SYNTAX, "must start with https://");
    base_params(&p);
    p.token = "short";
    build_refused(&p, PB_E_SYNTAX, "8 to 64");
    base_params(&p);
    p.token = "has space in it";
    build_refused(&p, PB_E_SYNTAX, "only letters");
    base_params(&p);
    p.text = "a\0b";
    p.text_len = 3;
    build_refused(&p, PB_E_SYNTAX, "text body has a NUL byte");
    base_params(&p);
    p.html = "\xff";
    p.html_len = 1;
    build_refused(&p, PB_E_SYNTAX, "HTML body is not UTF-8 text (byte 1)");
    base_params(&p);
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    p.from_name = long_name;
    build_refused(&p, PB_E_LIMIT, "over the limit of 998");
}

Test(msg_build, text_at_the_limit_builds)
{
    struct msg_build_params p;
    char subject[PB_LIMIT_MSG_TEXT + 1], *m, *v, *d;
    size_t n, i;

    /* 998 bytes of two-byte characters and spaces */
    for (i = 0; i + 3 <= PB_LIMIT_MSG_TEXT; i += 3)
        memcpy(subject + i, "\xc3\xa9 ", 3);
    while (i < PB_LIMIT_MSG_TEXT)
        subject[i++] = 'x';
    subject[i] = '\0';
    base_params(&p);
    p.subject = subject;
    p.from_name = subject;
    m = build(&p, &n);
    assert_lines(m, n);
    v = field(m, "Subject");
    d = rfc2047_decode(v);
    cr_assert_str_eq(d, subject);
    free(d);
    free(v);
    free(m);
}

Test(msg_build, refuses_a_message_over_the_limit)
{
    struct msg_build_params p;
    size_t n = PB_LIMIT_MSG_BYTES / 4 + 1;
    char *big = malloc(n);

    memset(big, 'a', n);
    base_params(&p);
    p.text = big;
    p.text_len = n;
    build_refused(&p, PB_E_LIMIT, "over the limit");
    free(big);
}

/*
 * The exact message for fixed values: a golden file that the interop test
 * (test/integration/dkim_interop.sh) also signs with `probe sign` and
 * verifies with dkimpy and OpenDKIM.
 */
Test(msg_build, golden_message)
{
    static const char *const tos[] = {"seed1@example.net", "seed2@example.org"};
    struct msg_build_params p;
    size_t n, want_len;
    char *m, *want;

    memset(&p, 0, sizeof(p));
    p.from = "news@example.com";
    p.from_name = "Caf\xc3\xa9 News";
    p.to = tos;
    p.nto = 2;
    p.subject = "Gr\xc3\xbc\xc3\x9f"
                "e \xe2\x80\x94 our November update, with a subject long "
                "enough to fold";
    p.unsubscribe_url = "https://example.com/u?t=1";
    p.unsubscribe_mailto = "unsub@example.com";
    p.one_click = true;
    p.token = "5f0c1e2d3a4b59687766554433221100";
    p.date = 1795000000;
    m = build(&p, &n);
    assert_lines(m, n);
    want = testdata_read(testdata_path("dkim-sign/messages/built-probe.eml"),
                         &want_len);
    cr_assert_not_null(want);
    cr_assert_eq(n, want_len);
    cr_assert_eq(memcmp(m, want, n), 0);
    free(want);
    free(m);
}

/* ------------------------------------------------------------------ */
/* A built message, signed, verified by dkimpy                         */

static const char *
python_with_dkim(void)
{
    static const char *const cands[] = {"python3", "/usr/bin/python3"};
    size_t i;

    for (i = 0; i < 2; i++) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "%s -c 'import dkim' >/dev/null 2>&1",
                 cands[i]);
        if (system(cmd) == 0)
            return cands[i];
    }
    return NULL;
}

static char *
record(const char *rel)
{
    size_t len;
    char *p = testdata_read(testdata_path(rel), &len);

    cr_assert_not_null(p);
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        p[--len] = '\0';
    return p;
}

Test(msg_build, signed_message_verifies_with_dkimpy)
{
    const char *py = python_with_dkim();
    struct msg_build_params p;
    struct dkim_sign_key *ed, *rsa;
    struct dkim_sign_params sp[2];
    struct pb_err err;
    char *m, *signed_msg, *ed_rec, *rsa_rec, cmd[4096];
    char path[] = "/tmp/pb-built-XXXXXX";
    size_t n, sn;
    int fd, c;
    static const char *const tos[] = {"seed1@example.net", "seed2@example.org"};
    enum dkim_canon canons[2] = {DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE};

    if (py == NULL)
        cr_skip_test("python3-dkim is not installed");
    base_params(&p);
    p.to = tos;
    p.nto = 2;
    p.from_name = "Caf\xc3\xa9 News";
    p.subject = "Gr\xc3\xbc\xc3\x9f"
                "e \xe2\x80\x94 a subject long enough to be folded across two "
                "or more lines of the header";
    p.unsubscribe_url = "https://shop.example/u?t=1";
    p.unsubscribe_mailto = "unsub@shop.example";
    p.one_click = true;
    m = build(&p, &n);
    {
        size_t klen;
        char *k =
            testdata_read(testdata_path("dkim-sign/keys/ed25519.pem"), &klen);

        cr_assert_eq(dkim_sign_key_parse(k, klen, "ed", &ed, &err), 0);
        free(k);
        k = testdata_read(testdata_path("dkim-sign/keys/rsa-2048-pkcs1.pem"),
                          &klen);
        cr_assert_eq(dkim_sign_key_parse(k, klen, "rsa", &rsa, &err), 0);
        free(k);
    }
    ed_rec = record("dkim-sign/keys/ed25519.txt");
    rsa_rec = record("dkim-sign/keys/rsa-2048-pkcs1.txt");
    for (c = 0; c < 4; c++) {
        memset(sp, 0, sizeof(sp));
        sp[0].key = ed;
        sp[0].selector = "ed";
        sp[1].key = rsa;
        sp[1].selector = "rsa";
        sp[0].domain = sp[1].domain = "shop.example";
        sp[0].header_canon = sp[1].header_canon = canons[c / 2];
        sp[0].body_canon = sp[1].body_canon = canons[c % 2];
        cr_assert_eq(dkim_sign_message(sp, 2, m, n, &signed_msg, &sn, &err), 0,
                     "%s", err.msg);
        fd = mkstemp(path);
        cr_assert_neq(fd, -1);
        cr_assert_eq(write(fd, signed_msg, sn), (ssize_t)sn);
        close(fd);
        snprintf(cmd, sizeof(cmd),
                 "%s %s/../smtp/dkim_verify.py --expect 2 "
                 "--dns 'ed._domainkey.shop.example=%s' "
                 "--dns 'rsa._domainkey.shop.example=%s' %s >&2",
                 py, PB_TEST_DATA, ed_rec, rsa_rec, path);
        cr_assert_eq(system(cmd), 0,
                     "dkimpy rejected the built message "
                     "(canonicalization %d)",
                     c);
        unlink(path);
        strcpy(path, "/tmp/pb-built-XXXXXX");
        free(signed_msg);
    }
    free(ed_rec);
    free(rsa_rec);
    dkim_sign_key_free(ed);
    dkim_sign_key_free(rsa);
    free(m);
}

Test(msg_build, extra_header_fields)
{
    static const char *const ok[] = {
        "Authentication-Results: mx.example; dmarc=pass",
        "X-Campaign: spring 2026",
    };
    static const struct {
        const char *h;
        enum pb_code code;
        const char *why;
    } bad[] = {
        {"Subject: again", PB_E_USAGE, "writes that field itself"},
        {"content-type: text/plain", PB_E_USAGE, "MIME fields"},
        {"X-Probe-Id: forged", PB_E_USAGE, "writes that field itself"},
        {"No colon here", PB_E_SYNTAX, "Name: value"},
        {": no name", PB_E_SYNTAX, "Name: value"},
        {"Bad Name: x", PB_E_SYNTAX, "printable ASCII"},
        {"X-Inject: a\r\nBcc: victim@example.org", PB_E_SYNTAX, "line break"},
        {"X-Ctl: a\x01b", PB_E_SYNTAX, "control character"},
    };
    struct msg_build_params p;
    size_t n;
    char *m;
    const char *x;

    base_params(&p);
    p.headers = ok;
    p.nheaders = 2;
    m = build(&p, &n);
    assert_lines(m, n);
    x = strstr(m, "X-Probe-Id: ");
    cr_assert_not_null(x);
    cr_assert_not_null(strstr(x, "\r\nAuthentication-Results: mx.example; "
                                 "dmarc=pass\r\nX-Campaign: spring 2026\r\n"),
                       "%.600s", m);
    free(m);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *one[1] = {bad[i].h};

        p.headers = one;
        p.nheaders = 1;
        build_refused(&p, bad[i].code, bad[i].why);
    }
}
